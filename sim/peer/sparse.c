/* sparse.c: attention on a Sanger-style sparse-attention array.
 *
 * Notes. After Sanger (Lu et al., MICRO 2021, and its authors' code, github.com/hatsu3/
 * Sanger at 2c2ed6b). A mask is predicted from Q and K quantized to `predict_bits`, on a
 * separate dense low-bit array of the main array's area: (16/bits)^2 low-bit products per
 * PE a cycle, multipliers growing with the square of their width. It is not counted in
 * the peak (in the peer's favour; Sanger's code leaves prediction out of its latency) and
 * overlaps the sparse compute. Only the kept share (`density`) of the scores is computed,
 * at most 1/`threshold` a row (a row's probabilities sum to 1): the sampled Q K^T (SDDMM)
 * and P V (SpMM) on the reconfigurable array, its rows x cols PEs used at
 * `pack_efficiency` after pack-and-split, as the code's latency model (bench_sanger.py)
 * takes them. Softmax runs over the kept scores on the vector unit. A kept score carries
 * its key index (`index_bits`) between ops; K and V are read from the SRAM once per row
 * block of `rows` queries. Dense ops run on the same array as output-stationary GEMMs
 * (systolic.c). Energy: a low-bit product at a MAC's price x (bits/16)^2 (ASSUMPTION
 * after Horowitz, ISSCC 2014: 8-bit integer multiply 0.2 pJ, 32-bit 3.1 pJ). Not
 * modelled: the mask's accuracy (the peer computes less than the mld array does), load
 * imbalance beyond the one efficiency. */
#include <string.h>

#include "internal.h"

void peer_sparse_attention(const peer_desc *p, const peer_attention *a, util_dtype t, bool ideal,
                           const arch_energy *e, peer_op *o)
{
    double el = (double)util_dtype_bytes(t);
    double pes = (double)peer_macs_per_cycle(p), heads = (double)a->groups;
    double scores = heads * (double)a->nq * (double)a->n; /* dense */
    /* kept a row: the density's share, at most 1/threshold (a row's probabilities sum to 1) */
    double row = (double)a->n * p->sparse.density, cap = 1 / p->sparse.threshold;
    double kept = heads * (double)a->nq * (row < cap ? row : cap);
    double packed = el + p->sparse.index_bits / 8.0;
    double sparse_macs = (a->scores ? kept : 0) + (a->context ? kept : 0);
    double predict = a->scores ? scores * (double)a->d : 0;
    double flops = a->softmax ? kept * WL_FLOPS_SOFTMAX : 0;
    uint64_t lanes = p->array.vector_lanes ? p->array.vector_lanes : p->array.cols;
    uint64_t sparse_cycles =
        (uint64_t)(sparse_macs * (double)a->d / (pes * p->sparse.pack_efficiency) + 1 - 1e-9);
    double wide = 16.0 / p->sparse.predict_bits; /* low-bit products per PE area */
    uint64_t predict_cycles = (uint64_t)(predict / (pes * wide * wide) + 1 - 1e-9);
    memset(o, 0, sizeof *o);
    o->compute_cycles = (predict_cycles > sparse_cycles ? predict_cycles : sparse_cycles) +
                        (uint64_t)(flops / (double)lanes + 1 - 1e-9);
    o->macs = (uint64_t)(sparse_macs * (double)a->d);
    /* (the array's share: none for the softmax alone, which runs on the vector unit) */
    o->folds = a->scores || a->context ? 1 : 0;
    o->mapping_efficiency = o->folds ? p->sparse.pack_efficiency : 0;
    /* DRAM: Q and K in, packed scores out; packed scores in and out; P and V in, C out */
    double q = heads * (double)a->nq * (double)a->d * el,
           kv = heads * (double)a->n * (double)a->d * el;
    double rd = (a->scores ? q + kv : 0) + (a->context ? kv : 0);
    double wr = a->context ? q : 0;
    if (!(a->scores && a->softmax))
        rd += a->scores ? 0 : kept * packed; /* (S or P from the op before) */
    if (!(a->softmax && a->context))
        wr += a->context ? 0 : kept * packed;
    o->dram_read_bytes = (uint64_t)rd;
    o->dram_write_bytes = (uint64_t)wr;
    peer_overlap(p, ideal, o);
    /* the array's SRAM reads: Q once, K and V once per row block of queries, the packed
     * scores once; its writes: the DRAM's fills and its outputs */
    double blocks = (double)peer_ceil_div(a->nq, p->array.rows);
    double streamed = (a->scores ? q + kv * blocks : 0) + (a->context ? kv * blocks : 0) +
                      (a->softmax || a->context ? kept * packed : 0);
    o->sram_read_bytes = (uint64_t)(streamed + wr);
    o->sram_write_bytes = (uint64_t)(rd + wr);
    if (!e || !e->present)
        return;
    o->compute_pj = peer_compute_pj(e, t, (double)o->macs + predict / (wide * wide), flops);
    double size = (double)p->sram.ifmap_bytes; /* (priced as one SRAM of the ifmap's size) */
    o->sram_pj = peer_sram_pj(e->sram_read_pj, (double)o->sram_read_bytes, size) +
                 peer_sram_pj(e->sram_write_pj, (double)o->sram_write_bytes, size);
    peer_total_energy(p, e, t, (double)o->macs + flops, o);
}
