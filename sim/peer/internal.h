/* internal.h: what the peer models share: the unit each times, and the prices. */
#ifndef BFLY_PEER_INTERNAL_H
#define BFLY_PEER_INTERNAL_H

#include "peer.h"

static inline uint64_t peer_ceil_div(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

/* Cycles to move `bytes` at the preset's DRAM bandwidth, rounded up. */
uint64_t peer_dram_cycles(const peer_desc *p, double bytes);
/* Energy (pJ) of DRAM bytes; of the peer's leakage over `cycles`; of `bytes` of an SRAM
 * of `size` bytes at `price` per 64 bits of a 32 KiB one (the square-root rule,
 * docs/ENERGY.md); of `macs` multiply-adds and `adds` further additions. */
double peer_dram_pj(const arch_energy *e, double bytes);
double peer_leakage_pj(const peer_desc *p, const arch_energy *e, uint64_t cycles);
double peer_sram_pj(double price, double bytes, double size);
double peer_compute_pj(const arch_energy *e, util_dtype t, double macs, double adds);
/* Sets o's cycles (compute, or the DRAM's time where longer and memory is not ideal). */
void peer_overlap(const peer_desc *p, bool ideal, peer_op *o);
/* Sums o's energy parts into o->energy_pj: leakage over its cycles, and the overheads of
 * docs/ENERGY.md: `ops` lane operations each latching two operands and a result once
 * (a MAC PE's register, or the vector unit's), and the clock tree of the PEs (an mld PE's
 * over its 8 lanes each, as for leakage: ASSUMPTION) over the cycles. */
void peer_total_energy(const peer_desc *p, const arch_energy *e, util_dtype t, double ops,
                       peer_op *o);

/* One instance of each unit of work, priced with e where e is present. */
void peer_systolic_gemm(const peer_desc *p, const wl_gemm *g, util_dtype t, bool ideal,
                        const arch_energy *e, peer_op *o);
void peer_butterfly_pass(const peer_desc *p, const peer_pass *x, util_dtype t, bool ideal,
                         const arch_energy *e, peer_op *o);
void peer_sparse_attention(const peer_desc *p, const peer_attention *a, util_dtype t, bool ideal,
                           const arch_energy *e, peer_op *o);

#endif
