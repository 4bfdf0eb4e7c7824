/* peer.c: a workload on a peer accelerator, op by op, and the prices its models share.
 *
 * Notes. Each op's instance is timed once by the peer's dataflow model and counted its
 * block's repeat times; ops run one after another, never overlapping. DRAM time overlaps
 * each unit's compute (double-buffered SRAMs), so a unit takes the longer of the two.
 * Leakage (the PEs at an mld PE's leakage over its 8 lanes each, ASSUMPTION; the SRAMs
 * per KiB; the DRAM's background) runs over the cycles. The vector unit at the array's
 * edge runs softmax, layernorm, GELU and add at `vector_lanes` flops a cycle, an add's
 * energy per flop (ASSUMPTION). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *peer_kind_name(peer_kind k)
{
    static const char *const names[PEER_KIND_COUNT] = {"systolic", "butterfly", "sparse"};
    return (unsigned)k < PEER_KIND_COUNT ? names[k] : "?";
}

const char *peer_dataflow_name(peer_dataflow d)
{
    return d == PEER_OS ? "os" : d == PEER_WS ? "ws" : "?";
}

uint64_t peer_macs_per_cycle(const peer_desc *p)
{
    return (uint64_t)p->array.rows * p->array.cols;
}

double peer_leakage_mw(const peer_desc *p, const arch_energy *e)
{
    double pes = (double)peer_macs_per_cycle(p);
    double kib = (double)(p->sram.ifmap_bytes + p->sram.filter_bytes + p->sram.ofmap_bytes) / 1024;
    return pes * e->pe_leak_mw / 8 + kib * e->spm_leak_mw_per_kb + e->dram_leak_mw;
}

double peer_area_mm2(const peer_desc *p, const arch_area *t)
{
    if (!t || !t->present)
        return 0;
    double macs = (double)peer_macs_per_cycle(p) * t->fu_um2[ARCH_FU_MAC];
    double lanes = p->array.vector_lanes ? p->array.vector_lanes : p->array.cols;
    double kib = (double)(p->sram.ifmap_bytes + p->sram.filter_bytes + p->sram.ofmap_bytes) / 1024;
    return ((p->model == PEER_SPARSE ? 2 : 1) * macs + lanes * t->fu_um2[ARCH_FU_ADD] +
            kib * t->sram_um2_per_kb + t->dma_um2 + t->controller_um2) *
           1e-6;
}

uint64_t peer_dram_cycles(const peer_desc *p, double bytes)
{
    return (uint64_t)(bytes / (p->dram.bandwidth_gbs / p->clock_ghz) + 1 - 1e-9);
}

double peer_dram_pj(const arch_energy *e, double bytes)
{
    return bytes * 8 * e->dram_pj_per_bit;
}

/* (mW x ns = pJ) */
double peer_leakage_pj(const peer_desc *p, const arch_energy *e, uint64_t cycles)
{
    return peer_leakage_mw(p, e) * (double)cycles / p->clock_ghz;
}

double peer_sram_pj(double price, double bytes, double size)
{
    return price * bytes / 8 * sqrt(size / 32768);
}

double peer_compute_pj(const arch_energy *e, util_dtype t, double macs, double adds)
{
    bool fp32 = t == UTIL_FP32;
    return macs * e->lane_pj[ARCH_FU_MAC][fp32] + adds * e->lane_pj[ARCH_FU_ADD][fp32];
}

void peer_overlap(const peer_desc *p, bool ideal, peer_op *o)
{
    uint64_t dram = peer_dram_cycles(p, (double)(o->dram_read_bytes + o->dram_write_bytes));
    o->cycles = !ideal && dram > o->compute_cycles ? dram : o->compute_cycles;
    o->stall_cycles = o->cycles - o->compute_cycles;
}

void peer_total_energy(const peer_desc *p, const arch_energy *e, util_dtype t, double ops,
                       peer_op *o)
{
    o->dram_pj = peer_dram_pj(e, (double)(o->dram_read_bytes + o->dram_write_bytes));
    o->leakage_pj = peer_leakage_pj(p, e, o->cycles);
    double bits = 3.0 * 8 * util_dtype_bytes(t);
    o->overhead_pj = ops * bits * e->pipeline_pj_per_bit + (double)o->cycles *
                                                               (double)peer_macs_per_cycle(p) / 8 *
                                                               e->clock_pj_per_pe_cycle;
    o->energy_pj = o->compute_pj + o->sram_pj + o->dram_pj + o->leakage_pj + o->overhead_pj;
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
    sum->overhead_pj += x->overhead_pj * (double)times;
    sum->energy_pj += x->energy_pj * (double)times;
}

/* `times` instances of x, into an op's row and the run's total. */
static void add_to(peer_op *row, peer_op *total, const peer_op *x, uint64_t times)
{
    add(row, x, times);
    add(total, x, times);
}

/* Vector work: flops on the vector unit, its DRAM traffic overlapping. */
static void vector_work(const peer_desc *p, const peer_work *w, bool ideal, const arch_energy *e,
                        util_dtype dt, peer_op *o)
{
    uint64_t lanes = p->array.vector_lanes ? p->array.vector_lanes : p->array.cols;
    memset(o, 0, sizeof *o);
    o->compute_cycles = (uint64_t)(w->vector_flops / (double)lanes + 1 - 1e-9);
    o->dram_read_bytes = (uint64_t)w->vector_read_bytes;
    o->dram_write_bytes = (uint64_t)w->vector_write_bytes;
    peer_overlap(p, ideal, o);
    if (e && e->present) {
        o->compute_pj = peer_compute_pj(e, dt, 0, w->vector_flops);
        peer_total_energy(p, e, dt, w->vector_flops, o);
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

/* One op's work, `times` instances, into its row and the total. */
static void run_work(const peer_desc *p, const peer_work *w, util_dtype dt, bool ideal,
                     const arch_energy *e, uint64_t times, peer_op *row, peer_op *total)
{
    peer_op one;
    for (uint32_t g = 0; g < w->n_gemms; g++) {
        peer_systolic_gemm(p, &w->gemm[g], dt, ideal, e, &one);
        add_to(row, total, &one, w->gemm[g].count * times);
    }
    for (uint32_t i = 0; i < w->n_passes; i++) {
        peer_butterfly_pass(p, &w->pass[i], dt, ideal, e, &one);
        add_to(row, total, &one, times);
    }
    if (w->attention) {
        peer_sparse_attention(p, &w->attn, dt, ideal, e, &one);
        add_to(row, total, &one, times);
    }
    if (w->vector_flops > 0) {
        vector_work(p, w, ideal, e, dt, &one);
        add_to(row, total, &one, times);
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
            peer_op *row = &out->ops[out->n_ops++];
            peer_work work;
            peer_op_work(p, &ops[i], w->dtype, &work);
            run_work(p, &work, w->dtype, ideal, e, rep, row, &out->total);
            snprintf(row->name, sizeof row->name, "%s", ops[i].name);
            row->kind = wl_op_kind_name(ops[i].kind);
            row->block = b, row->repeat = rep;
        }
    }
    finish(out);
    return UTIL_OK;
}

/* A butterfly-linear workload as the model op it is (rows x n, n in and out). */
static void layer_op(const wl_desc *w, wl_op *op)
{
    memset(op, 0, sizeof *op);
    op->kind = WL_OP_BUTTERFLY;
    snprintf(op->name, sizeof op->name, "butterfly-linear");
    op->rows = w->rows;
    op->in = op->out = op->n = w->n;
    op->macs = w->rows * 2 * w->n * util_log2(w->n);
    op->flops = w->rows * 3 * w->n * util_log2(w->n);
    op->weights = 2 * w->n * util_log2(w->n);
}

int peer_run(const peer_desc *p, const wl_desc *w, bool ideal, const arch_energy *e,
             peer_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (w->kind == WL_KIND_MODEL)
        return run_model(p, w, ideal, e, out, err, errlen);
    bool bfly = w->kind == WL_KIND_BUTTERFLY_LINEAR;
    uint32_t n = bfly ? 1 : w->n_gemms;
    out->ops = calloc(n ? n : 1, sizeof *out->ops);
    if (!out->ops)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    out->n_ops = n;
    for (uint32_t i = 0; i < n; i++) {
        peer_work work = {.n_gemms = 1};
        wl_op op;
        if (bfly) {
            layer_op(w, &op);
            peer_op_work(p, &op, w->dtype, &work);
        } else {
            work.gemm[0] = w->gemms[i];
        }
        run_work(p, &work, w->dtype, ideal, e, 1, &out->ops[i], &out->total);
        snprintf(out->ops[i].name, sizeof out->ops[i].name, "%s",
                 bfly ? op.name : w->gemms[i].name);
        out->ops[i].kind = bfly ? "butterfly" : "gemm";
        out->ops[i].repeat = bfly ? 1 : w->gemms[i].count;
    }
    finish(out);
    return UTIL_OK;
}

void peer_free(peer_result *r)
{
    free(r->ops);
    r->ops = NULL;
}
