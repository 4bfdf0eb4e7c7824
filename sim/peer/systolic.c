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
 * 8 lanes: ASSUMPTION), the SRAMs per KiB and the DRAM over the cycles. Not modelled:
 * DRAM latency, SRAM banks, the order of requests inside a fold, the registers that pass
 * operands from PE to PE (not priced: in the peer's favour). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"

const char *peer_kind_name(peer_kind k)
{
    return k == PEER_SYSTOLIC ? "systolic" : "?";
}

const char *peer_dataflow_name(peer_dataflow d)
{
    return d == PEER_OS ? "os" : d == PEER_WS ? "ws" : "?";
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

double peer_leakage_mw(const peer_desc *p, const arch_energy *e)
{
    double pes = (double)p->array.rows * p->array.cols;
    double kib = (double)(p->sram.ifmap_bytes + p->sram.filter_bytes + p->sram.ofmap_bytes) / 1024;
    return pes * e->pe_leak_mw / 8 + kib * e->spm_leak_mw_per_kb + e->dram_leak_mw;
}

/* DRAM bytes and the leakage over `cycles`, priced (mW x ns = pJ). */
static double dram_pj(const arch_energy *e, double bytes)
{
    return bytes * 8 * e->dram_pj_per_bit;
}

static double leakage_pj(const peer_desc *p, const arch_energy *e, uint64_t cycles)
{
    return peer_leakage_mw(p, e) * (double)cycles / p->clock_ghz;
}

/* A price per 64 bits of a 32 KiB SRAM, for `bytes` of one of `size` bytes (the table's
 * square-root rule, docs/ENERGY.md). */
static double sram_pj(double price, double bytes, double size)
{
    return price * bytes / 8 * sqrt(size / 32768);
}

/* Prices o (its counts set) with e: rd and wr are the bytes read from and written to the
 * ifmap, filter and ofmap SRAMs (the ofmap's drains to DRAM are read from it too). */
static void price(const peer_desc *p, const arch_energy *e, util_dtype t, const uint64_t rd[3],
                  const uint64_t wr[3], peer_op *o)
{
    double size[3] = {(double)p->sram.ifmap_bytes, (double)p->sram.filter_bytes,
                      (double)p->sram.ofmap_bytes};
    o->compute_pj = (double)o->macs * e->lane_pj[ARCH_FU_MAC][t == UTIL_FP32];
    o->sram_pj = sram_pj(e->sram_read_pj, (double)o->dram_write_bytes, size[2]);
    for (int i = 0; i < 3; i++)
        o->sram_pj += sram_pj(e->sram_read_pj, (double)rd[i], size[i]) +
                      sram_pj(e->sram_write_pj, (double)wr[i], size[i]);
    o->dram_pj = dram_pj(e, (double)(o->dram_read_bytes + o->dram_write_bytes));
    o->leakage_pj = leakage_pj(p, e, o->cycles);
    o->energy_pj = o->compute_pj + o->sram_pj + o->dram_pj + o->leakage_pj;
}

/* One instance of GEMM g. */
static void systolic_gemm(const peer_desc *p, const wl_gemm *g, util_dtype dt, bool ideal,
                          const arch_energy *e, peer_op *o)
{
    uint64_t elem_bytes = util_dtype_bytes(dt);
    uint64_t R = p->array.rows, C = p->array.cols;
    bool os = p->array.dataflow == PEER_OS;
    uint64_t sr = os ? g->m : g->k, sc = g->n, t = os ? g->k : g->m;
    uint64_t fr = ceil_div(sr, R), fc = ceil_div(sc, C);
    memset(o, 0, sizeof *o);
    o->folds = fr * fc;
    o->compute_cycles = o->folds * (t + (os ? R : 2 * R) + C - 2) - 1;
    o->macs = g->m * g->n * g->k;
    o->mapping_efficiency = (double)sr / (double)(fr * R) * (double)sc / (double)(fc * C);
    uint64_t a = g->m * g->k * elem_bytes, b = g->k * g->n * elem_bytes,
             c = g->m * g->n * elem_bytes;
    uint64_t col_folds = ceil_div(g->n, C), kf = ceil_div(g->k, R), mf = ceil_div(g->m, R);
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
    double per_cycle = p->dram.bandwidth_gbs / p->clock_ghz;
    uint64_t dram =
        (uint64_t)((double)(o->dram_read_bytes + o->dram_write_bytes) / per_cycle + 1 - 1e-9);
    o->cycles = !ideal && dram > o->compute_cycles ? dram : o->compute_cycles;
    o->stall_cycles = o->cycles - o->compute_cycles;
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

/* Adds `times` instances of x to sum. */
static void add(peer_op *sum, const peer_op *x, uint64_t times)
{
    sum->compute_cycles += x->compute_cycles * times;
    sum->stall_cycles += x->stall_cycles * times;
    sum->cycles += x->cycles * times;
    sum->macs += x->macs * times;
    sum->dram_read_bytes += x->dram_read_bytes * times;
    sum->dram_write_bytes += x->dram_write_bytes * times;
    /* (the efficiency of all folds: weighted by them, as SCALE-Sim averages per fold) */
    sum->mapping_efficiency += x->mapping_efficiency * (double)(x->folds * times);
    sum->folds += x->folds * times;
    sum->sram_read_bytes += x->sram_read_bytes * times;
    sum->sram_write_bytes += x->sram_write_bytes * times;
    sum->compute_pj += x->compute_pj * (double)times;
    sum->sram_pj += x->sram_pj * (double)times;
    sum->dram_pj += x->dram_pj * (double)times;
    sum->leakage_pj += x->leakage_pj * (double)times;
    sum->energy_pj += x->energy_pj * (double)times;
}

/* Vector work: flops on the vector unit, its DRAM traffic overlapping (energy: an add per
 * flop, ASSUMPTION; and the DRAM). */
static void vector_work(const peer_desc *p, const peer_work *w, bool ideal, const arch_energy *e,
                        util_dtype dt, peer_op *o)
{
    uint64_t lanes = p->array.vector_lanes ? p->array.vector_lanes : p->array.cols;
    uint64_t compute = (uint64_t)(w->vector_flops / (double)lanes + 1 - 1e-9);
    double per_cycle = p->dram.bandwidth_gbs / p->clock_ghz;
    uint64_t dram = (uint64_t)(w->vector_bytes / per_cycle + 1 - 1e-9);
    memset(o, 0, sizeof *o);
    o->compute_cycles = compute;
    o->cycles = !ideal && dram > compute ? dram : compute;
    o->stall_cycles = o->cycles - compute;
    o->dram_read_bytes = (uint64_t)(w->vector_bytes * 2 / 3);
    o->dram_write_bytes = (uint64_t)w->vector_bytes - o->dram_read_bytes;
    if (e && e->present) {
        o->compute_pj = w->vector_flops * e->lane_pj[ARCH_FU_ADD][dt == UTIL_FP32];
        o->dram_pj = dram_pj(e, w->vector_bytes);
        o->leakage_pj = leakage_pj(p, e, o->cycles);
        o->energy_pj = o->compute_pj + o->dram_pj + o->leakage_pj;
    }
}

/* The averages of every row and the total, over their folds. */
static void finish(peer_result *out)
{
    for (uint32_t i = 0; i <= out->n_ops; i++) {
        peer_op *o = i < out->n_ops ? &out->ops[i] : &out->total;
        o->mapping_efficiency = o->folds ? o->mapping_efficiency / (double)o->folds : 0;
    }
}

/* A model: each op of each block entry, its instance's figures times the entry's repeat. */
static int run_model(const peer_desc *p, const wl_desc *w, bool ideal, const arch_energy *e,
                     peer_result *out, char *err, size_t errlen)
{
    wl_op ops[WL_MAX_BLOCK_OPS];
    uint32_t n = 0;
    for (uint32_t b = 0; b < w->n_blocks; b++)
        n += wl_block_ops(w, b, ops);
    out->ops = calloc(n ? n : 1, sizeof *out->ops);
    if (!out->ops)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    for (uint32_t b = 0; b < w->n_blocks; b++) {
        uint32_t m = wl_block_ops(w, b, ops);
        uint64_t rep = w->blocks[b].repeat;
        for (uint32_t i = 0; i < m; i++) {
            peer_op *row = &out->ops[out->n_ops++], one;
            peer_work work;
            peer_op_work(&ops[i], w->dtype, &work);
            for (uint32_t g = 0; g < work.n_gemms; g++) {
                systolic_gemm(p, &work.gemm[g], w->dtype, ideal, e, &one);
                add(row, &one, work.gemm[g].count * rep);
                add(&out->total, &one, work.gemm[g].count * rep);
            }
            if (work.vector_flops > 0) {
                vector_work(p, &work, ideal, e, w->dtype, &one);
                add(row, &one, rep);
                add(&out->total, &one, rep);
            }
            snprintf(row->name, sizeof row->name, "%s", ops[i].name);
            row->kind = wl_op_kind_name(ops[i].kind);
            row->block = b, row->repeat = rep;
        }
    }
    finish(out);
    return UTIL_OK;
}

int peer_run(const peer_desc *p, const wl_desc *w, bool ideal, const arch_energy *e,
             peer_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (w->kind == WL_KIND_MODEL)
        return run_model(p, w, ideal, e, out, err, errlen);
    /* a butterfly-linear layer: its dense equivalent, rows x n x n (as in model.c) */
    wl_gemm layer = {.name = "butterfly-linear", .m = w->rows, .n = w->n, .k = w->n, .count = 1};
    bool bfly = w->kind == WL_KIND_BUTTERFLY_LINEAR;
    uint32_t n = bfly ? 1 : w->n_gemms;
    const wl_gemm *gs = bfly ? &layer : w->gemms;
    out->ops = calloc(n ? n : 1, sizeof *out->ops);
    if (!out->ops)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    out->n_ops = n;
    for (uint32_t i = 0; i < n; i++) {
        peer_op one;
        systolic_gemm(p, &gs[i], w->dtype, ideal, e, &one);
        add(&out->ops[i], &one, gs[i].count);
        add(&out->total, &one, gs[i].count);
        memcpy(out->ops[i].name, gs[i].name, sizeof out->ops[i].name); /* (same size) */
        out->ops[i].kind = bfly ? "butterfly" : "gemm", out->ops[i].repeat = gs[i].count;
    }
    finish(out);
    return UTIL_OK;
}

void peer_free(peer_result *r)
{
    free(r->ops);
    r->ops = NULL;
}
