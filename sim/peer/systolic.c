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
 * takes the longer of the two; the excess is its stall. Not modelled: DRAM latency,
 * SRAM banks, the order of requests inside a fold. */
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

/* One instance of GEMM g. */
static void systolic_gemm(const peer_desc *p, const wl_gemm *g, uint64_t elem_bytes, bool ideal,
                          peer_op *o)
{
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
    uint64_t col_folds = ceil_div(g->n, C);
    o->dram_read_bytes = 2 * a <= p->sram.ifmap_bytes ? a : a * col_folds;
    if (os) {
        bool b_stays = 2 * g->k * C * elem_bytes <= p->sram.filter_bytes;
        o->dram_read_bytes += b_stays ? b : b * ceil_div(g->m, R);
        o->dram_write_bytes = c;
    } else {
        uint64_t kf = ceil_div(g->k, R);
        bool sums_stay = kf == 1 || 2 * g->m * C * elem_bytes <= p->sram.ofmap_bytes;
        o->dram_read_bytes += b + (sums_stay ? 0 : c * (kf - 1));
        o->dram_write_bytes = sums_stay ? c : c * kf;
    }
    double per_cycle = p->dram.bandwidth_gbs / p->clock_ghz;
    uint64_t dram =
        (uint64_t)((double)(o->dram_read_bytes + o->dram_write_bytes) / per_cycle + 1 - 1e-9);
    o->cycles = !ideal && dram > o->compute_cycles ? dram : o->compute_cycles;
    o->stall_cycles = o->cycles - o->compute_cycles;
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
}

int peer_run(const peer_desc *p, const wl_desc *w, bool ideal, peer_result *out, char *err,
             size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (w->kind != WL_KIND_GEMM)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s is a %s workload: peer %s runs gemm workloads (a SCALE-Sim topology "
                         "or kind = \"gemm\") so far",
                         w->name, wl_kind_name(w->kind), p->name);
    out->ops = calloc(w->n_gemms ? w->n_gemms : 1, sizeof *out->ops);
    if (!out->ops)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    out->n_ops = w->n_gemms;
    for (uint32_t i = 0; i < w->n_gemms; i++) {
        peer_op one;
        systolic_gemm(p, &w->gemms[i], util_dtype_bytes(w->dtype), ideal, &one);
        add(&out->ops[i], &one, w->gemms[i].count);
        add(&out->total, &one, w->gemms[i].count);
    }
    for (uint32_t i = 0; i <= out->n_ops; i++) {
        peer_op *o = i < out->n_ops ? &out->ops[i] : &out->total;
        o->mapping_efficiency = o->folds ? o->mapping_efficiency / (double)o->folds : 0;
    }
    return UTIL_OK;
}

void peer_free(peer_result *r)
{
    free(r->ops);
    r->ops = NULL;
}
