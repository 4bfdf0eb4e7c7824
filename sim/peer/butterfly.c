/* butterfly.c: radix-2 transforms on FABNet-style butterfly engines.
 *
 * Notes. After FABNet's adaptable butterfly accelerator (Fan et al., MICRO 2022, and its
 * authors' artifact, github.com/SamsungLabs/Butterfly_Acc at 1bb951f): `engines` engines
 * of `units` butterfly units, each unit 4 multipliers. A unit computes one real butterfly
 * (2 inputs, 4 weights, 2 outputs: 4 MACs) or one complex radix-2 FFT butterfly (the 4
 * multipliers form the twiddle's complex multiply; 2 more complex adds) a cycle. An
 * engine holds one transform of n points in its buffer and runs its log2 n stages there,
 * n/(2 units) cycles each (the artifact's bfly_engine.py), reordering between stages on
 * chip; engines take different transforms (rows or columns), ceil(transforms/engines)
 * rounds. The buffer is the ifmap SRAM split over the engines: two banks (ping-pong for
 * real data, the real and imaginary halves for complex data), so a transform fits when
 * n x 2 elements do; a longer one runs as passes of as many stages as fit, its data out
 * to DRAM and back between them. Weights come once per op when half the filter SRAM holds
 * them, else once per round; twiddles are on chip. Each stage reads and writes each point
 * in the engine's buffer, and each butterfly reads its weights (or its twiddle) from a
 * coefficient buffer of the same size (ASSUMPTION: the artifact's coefficient BRAM is
 * small and beside the engines).
 * Not modelled: the artifact's 0.85 FPGA implementation efficiency (an ASIC is modelled
 * here), pipelining across stages or ops, DRAM latency. */
#include <string.h>

#include "internal.h"

void peer_butterfly_pass(const peer_desc *p, const peer_pass *x, util_dtype t, bool ideal,
                         const arch_energy *e, peer_op *o)
{
    double el = (double)util_dtype_bytes(t), per_point = el * (x->complex ? 2 : 1);
    uint64_t E = p->butterfly.engines, U = p->butterfly.units;
    uint64_t stages = (uint64_t)util_log2(x->points), pairs = x->points / 2;
    uint64_t rounds = peer_ceil_div(x->transforms, E), per_stage = peer_ceil_div(pairs, U);
    memset(o, 0, sizeof *o);
    o->folds = rounds * stages;
    o->compute_cycles = rounds * stages * per_stage;
    o->macs = x->transforms * pairs * stages * 4;
    o->mapping_efficiency =
        (double)x->transforms / (double)(rounds * E) * (double)pairs / (double)(per_stage * U);
    /* stages per pass: as many as the engine's buffer (2 x the points) holds */
    double buffer = (double)p->sram.ifmap_bytes / (double)E;
    uint64_t fit = 1;
    while (fit < x->points && 2.0 * (double)(fit * 2) * el <= buffer)
        fit *= 2;
    uint64_t per_pass = (uint64_t)util_log2(fit) ? (uint64_t)util_log2(fit) : 1;
    uint64_t passes = stages ? peer_ceil_div(stages, per_pass) : 1;
    double data = (double)x->transforms * (double)x->points * per_point;
    double weights = (double)x->weights * el;
    double wfills = 2 * weights <= (double)p->sram.filter_bytes ? 1 : (double)rounds;
    o->dram_read_bytes = (uint64_t)(x->read_bytes + (double)(passes - 1) * data + weights * wfills);
    o->dram_write_bytes = (uint64_t)(x->write_bytes + (double)(passes - 1) * data);
    peer_overlap(p, ideal, o);
    /* each stage reads and writes every point; each butterfly reads 4 weights, or one
     * complex twiddle */
    double moved = data * (double)stages;
    double coeff = (double)x->transforms * (double)(pairs * stages) * el * (x->complex ? 2 : 4);
    o->sram_read_bytes = (uint64_t)(moved + coeff + (double)o->dram_write_bytes);
    o->sram_write_bytes = (uint64_t)(moved + (double)o->dram_read_bytes);
    if (!e || !e->present)
        return;
    /* (a complex butterfly: 4 MACs of the twiddle, then 2 complex adds less the 2 the
     * MACs hold) */
    o->compute_pj = peer_compute_pj(e, t, (double)o->macs, x->complex ? (double)o->macs / 2 : 0);
    o->sram_pj =
        peer_sram_pj(e->sram_read_pj, moved + coeff + (double)o->dram_write_bytes, buffer) +
        peer_sram_pj(e->sram_write_pj, moved + (double)o->dram_read_bytes, buffer);
    peer_total_energy(p, e, t, (double)o->macs, o);
}
