/* systolic.c: a dense systolic array timed as SCALE-Sim v2 times it, with its DRAM stalls.
 *
 * Notes. Compute follows SCALE-Sim v2 (ISPASS 2020; the code at scalesim-project/
 * scale-sim-v2): a GEMM C[MxN] = A[MxK] B[KxN] maps two dimensions onto the R x C array
 * and streams the third (T) through it, fold by fold. Output stationary: rows M,
 * columns N, T = K, each fold T + R + C - 2 cycles (fill, stream, drain). Weight
 * stationary: rows K, columns N, T = M, each fold T + 2R + C - 2 (the weights load
 * first). A layer takes folds x that, less one (SCALE-Sim counts from cycle 0). Memory:
 * the SRAMs are double-buffered; an operand comes from DRAM once when it fits half its
 * SRAM, else once per fold that needs it (A per column fold; B per row fold where a
 * column of tiles does not fit; weight-stationary partial sums go out and back per K
 * fold where a column of outputs does not fit). DRAM time overlaps compute, so a GEMM
 * takes the longer of the two; the excess is its stall. Energy, with the energy table of
 * the mld arch a preset names: each MAC at the table's multiply-add; each SRAM byte read
 * into the array or written from it (and each DRAM fill and drain) at the table's SRAM
 * price for that buffer's size; DRAM per bit; leakage of the PEs (an mld PE's over its
 * 8 lanes: ASSUMPTION), the SRAMs per KiB and the DRAM over the cycles; the registers
 * that pass operands from PE to PE and the clock tree (peer.c). Not modelled: DRAM
 * latency, SRAM banks, the order of requests inside a fold. */
#include <string.h>

#include "internal.h"

/* Prices o (its counts set) with e: rd and wr are the bytes read from and written to the
 * ifmap, filter and ofmap SRAMs (the ofmap's drains to DRAM are read from it too). */
static void price(const peer_desc *p, const arch_energy *e, util_dtype t, const uint64_t rd[3],
                  const uint64_t wr[3], peer_op *o)
{
    double size[3] = {(double)p->sram.ifmap_bytes, (double)p->sram.filter_bytes,
                      (double)p->sram.ofmap_bytes};
    o->compute_pj = peer_compute_pj(e, t, (double)o->macs, 0);
    o->sram_pj = peer_sram_pj(e->sram_read_pj, (double)o->dram_write_bytes, size[2]);
    for (int i = 0; i < 3; i++)
        o->sram_pj += peer_sram_pj(e->sram_read_pj, (double)rd[i], size[i]) +
                      peer_sram_pj(e->sram_write_pj, (double)wr[i], size[i]);
    peer_total_energy(p, e, t, (double)o->macs, o);
}

void peer_systolic_gemm(const peer_desc *p, const wl_gemm *g, util_dtype dt, bool ideal,
                        const arch_energy *e, peer_op *o)
{
    uint64_t elem_bytes = util_dtype_bytes(dt);
    uint64_t R = p->array.rows, C = p->array.cols;
    bool os = p->array.dataflow == PEER_OS;
    uint64_t sr = os ? g->m : g->k, sc = g->n, t = os ? g->k : g->m;
    uint64_t fr = peer_ceil_div(sr, R), fc = peer_ceil_div(sc, C);
    memset(o, 0, sizeof *o);
    o->folds = fr * fc;
    o->compute_cycles = o->folds * (t + (os ? R : 2 * R) + C - 2) - 1;
    o->macs = g->m * g->n * g->k;
    o->mapping_efficiency = (double)sr / (double)(fr * R) * (double)sc / (double)(fc * C);
    uint64_t a = g->m * g->k * elem_bytes, b = g->k * g->n * elem_bytes,
             c = g->m * g->n * elem_bytes;
    uint64_t col_folds = peer_ceil_div(g->n, C), kf = peer_ceil_div(g->k, R),
             mf = peer_ceil_div(g->m, R);
    /* DRAM: A's fills, B's fills, partial sums read back, C's drains */
    uint64_t fill_a = 2 * a <= p->sram.ifmap_bytes ? a : a * col_folds, fill_b = b, back = 0;
    if (os) {
        /* (all of B, or one column of its tiles: K x min(C, N)) */
        bool b_stays = 2 * b <= p->sram.filter_bytes ||
                       2 * g->k * (g->n < C ? g->n : C) * elem_bytes <= p->sram.filter_bytes;
        fill_b = b_stays ? b : b * mf;
        o->dram_write_bytes = c;
    } else {
        bool sums_stay =
            kf == 1 || 2 * g->m * (g->n < C ? g->n : C) * elem_bytes <= p->sram.ofmap_bytes;
        back = sums_stay ? 0 : c * (kf - 1);
        o->dram_write_bytes = sums_stay ? c : c * kf;
    }
    o->dram_read_bytes = fill_a + fill_b + back;
    peer_overlap(p, ideal, o);
    /* what the array reads and writes in its SRAMs: output stationary streams A once per
     * column fold and B once per row fold and writes C once; weight stationary loads B
     * once, streams A once per column fold and moves partial sums per K fold */
    uint64_t rd[3] = {a * col_folds, os ? b * mf : b, os ? 0 : c * (kf - 1)};
    uint64_t wr[3] = {fill_a, fill_b, (os ? c : c * kf) + back};
    o->sram_read_bytes = rd[0] + rd[1] + rd[2] + o->dram_write_bytes;
    o->sram_write_bytes = wr[0] + wr[1] + wr[2];
    if (e && e->present)
        price(p, e, dt, rd, wr, o);
}
