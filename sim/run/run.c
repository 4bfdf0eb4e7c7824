/* run.c: model runs: DRAM layout of a block's tensors, one engine run per op, the reference model. */
#include "run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ref/ref.h"

/* ---------------------------------------------------------------- layout
 *
 * One block's tensors in the DRAM image. X and A share rows (X in the first `hidden`
 * columns, A in the next), and so do X1 and F2, so that each residual add reads both
 * operands as one run per row. The block output X2 overwrites X for the next block. */

typedef struct layout {
    map_tensor t[WL_T_COUNT];
    uint64_t end;
} layout;

static void plan_layout(const wl_desc *d, layout *L)
{
    uint64_t T = d->batch * d->seq_len, H = d->hidden, F = d->ffn, N = d->seq_len;
    uint64_t G = d->batch * d->heads, at = 0;
    memset(L, 0, sizeof *L);
    L->t[WL_T_X] = (map_tensor){at, T, H, 2 * H};
    L->t[WL_T_A] = (map_tensor){at + H, T, H, 2 * H};
    at += 2 * T * H;
    L->t[WL_T_X1] = (map_tensor){at, T, H, 2 * H};
    L->t[WL_T_F2] = (map_tensor){at + H, T, H, 2 * H};
    at += 2 * T * H;
    static const wl_tensor own_h[] = {WL_T_Q, WL_T_K, WL_T_V, WL_T_C, WL_T_M, WL_T_R1, WL_T_R2};
    for (size_t i = 0; i < sizeof own_h / sizeof own_h[0]; i++) {
        L->t[own_h[i]] = (map_tensor){at, T, H, H};
        at += T * H;
    }
    L->t[WL_T_F1] = (map_tensor){at, T, F, F};
    at += T * F;
    L->t[WL_T_G] = (map_tensor){at, T, F, F};
    at += T * F;
    L->t[WL_T_S] = (map_tensor){at, G * N, N, N};
    at += G * N * N;
    L->t[WL_T_P] = (map_tensor){at, G * N, N, N};
    at += G * N * N;
    L->t[WL_T_X2] = L->t[WL_T_X];
    L->end = at;
}

/* ---------------------------------------------------------------- statistics */

static void add_stats(eng_stats *tot, const eng_stats *s, uint64_t times)
{
    tot->cycles += s->cycles * times;
    tot->events += s->events; /* the engine's own work: simulated once */
    tot->lane_ops += s->lane_ops * times;
    tot->tags += s->tags * times;
    for (uint32_t p = 0; p <= tot->n_pes; p++) {
        eng_pe_stats *d = p < tot->n_pes ? &tot->pe[p] : &tot->pe_total;
        const eng_pe_stats *e = p < tot->n_pes ? &s->pe[p] : &s->pe_total;
        d->fires += e->fires * times;
        d->lane_ops += e->lane_ops * times;
        for (uint32_t k = 0; k < ARCH_FU_COUNT; k++) {
            d->fu_busy[k] += e->fu_busy[k] * times;
            d->fu_vec_ops[k] += e->fu_vec_ops[k] * times;
        }
        d->buf_writes += e->buf_writes * times;
        d->buf_reads += e->buf_reads * times;
        d->weight_elems += e->weight_elems * times;
        d->configs += e->configs * times;
        d->flits_out += e->flits_out * times;
    }
    tot->noc.messages += s->noc.messages * times;
    tot->noc.flits += s->noc.flits * times;
    tot->noc.flit_hops += s->noc.flit_hops * times;
    tot->noc.skip_flit_hops += s->noc.skip_flit_hops * times;
    tot->noc.router_traversals += s->noc.router_traversals * times;
    tot->noc.wait_cycles += s->noc.wait_cycles * times;
    tot->spm.reads += s->spm.reads * times;
    tot->spm.writes += s->spm.writes * times;
    tot->spm.read_bytes += s->spm.read_bytes * times;
    tot->spm.write_bytes += s->spm.write_bytes * times;
    tot->spm.conflicts += s->spm.conflicts * times;
    tot->spm.conflict_cycles += s->spm.conflict_cycles * times;
    tot->dma.descriptors += s->dma.descriptors * times;
    tot->dma.bytes += s->dma.bytes * times;
    tot->dram.read_bursts += s->dram.read_bursts * times;
    tot->dram.write_bursts += s->dram.write_bursts * times;
    tot->dram.read_bytes += s->dram.read_bytes * times;
    tot->dram.write_bytes += s->dram.write_bytes * times;
    tot->dram.busy_cycles += s->dram.busy_cycles * times;
}

static void op_summary(run_op *r, const eng_stats *s)
{
    r->cycles = s->cycles;
    r->lane_ops = s->lane_ops;
    r->events = s->events;
    r->tags = s->tags;
    r->dram_read_bytes = s->dram.read_bytes;
    r->dram_write_bytes = s->dram.write_bytes;
    r->spm_reads = s->spm.reads;
    r->spm_writes = s->spm.writes;
    r->spm_conflicts = s->spm.conflicts;
    r->flit_hops = s->noc.flit_hops;
}

/* ---------------------------------------------------------------- the run */

static map_op_io op_io(const layout *L, const wl_op *op)
{
    return (map_op_io){L->t[op->src0], L->t[op->src1], L->t[op->dst], L->end};
}

/* Maps op and runs it once per instance (functional) or once (timing). */
static int run_op_all(const arch_desc *a, const wl_desc *d, const wl_op *op, const layout *L,
                      float *image, uint64_t image_elems, uint64_t first_inst, uint64_t repeat,
                      bool fault, float *wbuf, run_op *ro, eng_stats *total, char *err,
                      size_t errlen)
{
    map_op_io io = op_io(L, op);
    map_op_result m;
    int rc = map_op(a, d, op, &io, image != NULL, &m, err, errlen);
    if (rc)
        return rc;
    snprintf(ro->desc, sizeof ro->desc, "%s", m.desc);
    ro->op = *op;
    uint64_t runs = image ? repeat : 1;
    for (uint64_t i = 0; i < runs && !rc; i++) {
        eng_program prog = m.program;
        prog.dram_elems = image ? image_elems : m.dram_end;
        if (image && m.weight_elems) {
            wl_op_weights(d, op, first_inst + i, wbuf);
            if (fault && i == 0)
                wbuf[0] = util_round_dtype(d->dtype, wbuf[0] + 4.0f);
            map_op_write_weights(&m, op, wbuf, image);
        }
        eng_stats st;
        rc = eng_run(a, &prog, image, &st, err, errlen);
        if (rc)
            break;
        if (i == 0) {
            op_summary(ro, &st);
            add_stats(total, &st, image ? 1 : repeat);
        } else {
            add_stats(total, &st, 1);
        }
        eng_stats_free(&st);
    }
    map_op_free(&m);
    return rc;
}

static uint64_t max_weights(const wl_desc *d)
{
    uint64_t w = 0;
    for (uint32_t b = 0; b < d->n_blocks; b++) {
        wl_op ops[WL_MAX_BLOCK_OPS];
        uint32_t n = wl_block_ops(d, b, ops);
        for (uint32_t i = 0; i < n; i++)
            w = ops[i].weights > w ? ops[i].weights : w;
    }
    return w;
}

int run_model(const arch_desc *a, const wl_desc *d, bool functional, bool fault, run_result *out,
              char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->functional = functional;
    layout L;
    plan_layout(d, &L);
    out->total.n_pes = arch_pe_count(a);
    out->total.pe = calloc(out->total.n_pes, sizeof *out->total.pe);
    if (!out->total.pe)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    float *image = NULL, *wbuf = NULL, *x0 = NULL;
    uint64_t image_elems = 0;
    int rc = UTIL_OK;
    if (functional) {
        /* the largest op's weights and intermediates lie above the tensors */
        image_elems = L.end + 4 * max_weights(d) + 4 * L.t[WL_T_P].rows * L.t[WL_T_P].cols +
                      (UINT64_C(1) << 16);
        if (image_elems > RUN_MAX_FUNCTIONAL_ELEMS)
            return util_fail(UTIL_ECONFIG, err, errlen,
                             "--functional keeps the whole DRAM image in memory: this model needs "
                             "%llu elements, the limit is %llu (use a smaller seq_len, hidden or "
                             "batch)",
                             (unsigned long long)image_elems,
                             (unsigned long long)RUN_MAX_FUNCTIONAL_ELEMS);
        uint64_t in_elems = d->batch * d->seq_len * d->hidden;
        image = calloc(image_elems, sizeof *image);
        wbuf = calloc(max_weights(d) + 1, sizeof *wbuf);
        x0 = calloc(in_elems, sizeof *x0);
        if (!image || !wbuf || !x0) {
            rc = util_fail(UTIL_ERUN, err, errlen, "out of memory");
            goto done;
        }
        wl_model_inputs(d, x0);
        for (uint64_t r = 0; r < d->batch * d->seq_len; r++)
            memcpy(image + L.t[WL_T_X].addr + r * L.t[WL_T_X].stride, x0 + r * d->hidden,
                   d->hidden * sizeof *image);
    }
    uint64_t inst = 0;
    for (uint32_t b = 0; b < d->n_blocks && !rc; b++) {
        run_block *rb = &out->blocks[b];
        wl_op ops[WL_MAX_BLOCK_OPS];
        rb->n_ops = wl_block_ops(d, b, ops);
        rb->repeat = d->blocks[b].repeat;
        if (!functional) {
            for (uint32_t i = 0; i < rb->n_ops && !rc; i++)
                rc = run_op_all(a, d, &ops[i], &L, NULL, 0, inst, rb->repeat, false, NULL,
                                &rb->ops[i], &out->total, err, errlen);
        } else {
            /* every instance runs all its ops in order */
            for (uint64_t k = 0; k < rb->repeat && !rc; k++)
                for (uint32_t i = 0; i < rb->n_ops && !rc; i++) {
                    run_op tmp;
                    rc = run_op_all(a, d, &ops[i], &L, image, image_elems, inst + k, 1,
                                    fault && inst + k == 0, wbuf, k ? &tmp : &rb->ops[i],
                                    &out->total, err, errlen);
                }
        }
        for (uint32_t i = 0; i < rb->n_ops; i++)
            rb->cycles += rb->ops[i].cycles;
        inst += rb->repeat;
    }
    out->n_blocks = d->n_blocks;
    if (!rc && functional) {
        uint64_t n = d->batch * d->seq_len * d->hidden;
        double *want = calloc(n, sizeof *want);
        if (!want) {
            rc = util_fail(UTIL_ERUN, err, errlen, "out of memory");
            goto done;
        }
        rc = run_reference(d, x0, want, err, errlen);
        run_check *c = &out->check;
        double ss = 0;
        for (uint64_t i = 0; !rc && i < n; i++) {
            uint64_t r = i / d->hidden, col = i % d->hidden;
            double got = image[L.t[WL_T_X2].addr + r * L.t[WL_T_X2].stride + col];
            double e = fabs(got - want[i]);
            ss += want[i] * want[i];
            if (!(e <= c->max_abs_err)) { /* NaN counts as the worst */
                c->max_abs_err = isnan(e) ? INFINITY : e;
                c->worst = i;
            }
        }
        c->count = n;
        c->rms_want = sqrt(ss / (double)n);
        /* Outputs are layer-normalised (unit variance). Each block chains about ten ops
         * whose results are rounded to the element type (unit roundoff u), and the
         * GEMMs accumulate rounded partial sums along their chains. Measured errors are
         * about 4 u per block; we allow 32 u per block on unit-scale values: 0.0156 per
         * block in FP16, 1.9e-6 in FP32. */
        uint64_t blocks = 0;
        for (uint32_t b = 0; b < d->n_blocks; b++)
            blocks += d->blocks[b].repeat;
        c->tolerance = 32.0 * util_dtype_unit_roundoff(d->dtype) * (double)blocks *
                       (c->rms_want > 1 ? c->rms_want : 1);
        c->pass = c->max_abs_err <= c->tolerance;
        free(want);
    }
done:
    free(image);
    free(wbuf);
    free(x0);
    if (rc)
        run_free(out);
    return rc;
}

void run_free(run_result *r)
{
    eng_stats_free(&r->total);
}
