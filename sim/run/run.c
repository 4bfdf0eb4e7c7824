/* run.c: model runs: DRAM layout of a block's tensors, one engine run per op, the reference model.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../energy/energy.h"
#include "../ref/ref.h"

/* ---------------------------------------------------------------- statistics */

static void add_stats(eng_stats *tot, const eng_stats *s, uint64_t times)
{
    tot->cycles += s->cycles * times;
    tot->events += s->events; /* the engine's own work: simulated once */
    tot->lane_ops += s->lane_ops * times;
    tot->tags += s->tags * times;
    for (uint32_t p = 0; p <= tot->n_pes; p++) {
        if (p < tot->n_pes && !s->pe)
            continue; /* estimated counts: no per-PE breakdown */
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
    tot->noc.bisection_flits += s->noc.bisection_flits * times;
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
    r->mac_busy = s->pe_total.fu_busy[ARCH_FU_MAC];
    r->events = s->events;
    r->tags = s->tags;
    r->dram_read_bytes = s->dram.read_bytes;
    r->dram_write_bytes = s->dram.write_bytes;
    r->spm_reads = s->spm.reads;
    r->spm_writes = s->spm.writes;
    r->spm_conflicts = s->spm.conflicts;
    r->flit_hops = s->noc.flit_hops;
    r->bisection_flits = s->noc.bisection_flits;
}

/* ---------------------------------------------------------------- the run */

/* The op and how it was mapped, into its report entry. */
static void describe_op(run_op *o, const wl_op *op, const map_op_result *m)
{
    o->op = *op;
    snprintf(o->desc, sizeof o->desc, "%s", m->desc);
    o->chain_pes = m->chain_pes, o->rows_per_tag = m->rows_per_tag;
    o->columns_per_chain = m->columns_per_chain, o->segments = m->segments;
    o->rows_per_chain = m->rows_per_chain;
    o->intermediates = m->intermediates, o->block_rows = m->block_rows;
    o->weights = m->weights, o->unit_columns = m->unit_columns, o->part_units = m->part_units;
    o->shortlist = m->shortlist;
}

/* Report entries of ops i .. i + n - 1 of block b (one op, or a chain run as one
 * program, whose first op carries the figures). */
static void describe_unit(run_op *ro, const plan *p, uint32_t b, uint32_t i)
{
    uint32_t n = p->ops[b][i].chain_len;
    const plan_op *head = &p->ops[b][i];
    for (uint32_t k = i; head->fused && k < i + n; k++) {
        run_op *o = &ro[k - i];
        memset(o, 0, sizeof *o);
        o->op = p->ops[b][k].wl;
        o->fused_ops = k == i ? n : 0;
        o->chained_ops = k == i ? 1 : 0;
        if (k == i) {
            o->fused = head->fuse;
            o->fused.priv = NULL, o->fused.program = (eng_program){0};
            o->shortlist = head->fuse.shortlist;
            snprintf(o->desc, sizeof o->desc, "%s", head->fuse.desc);
        } else {
            snprintf(o->desc, sizeof o->desc, "in the fused group of %s", head->wl.name);
        }
    }
    for (uint32_t k = i; !head->fused && k < i + n; k++) {
        run_op *o = &ro[k - i];
        describe_op(o, &p->ops[b][k].wl, &p->ops[b][k].map);
        o->fused_ops = k == i ? 1 : 0;
        o->chained_ops = k == i ? n : 0;
        o->fifo_tags = p->ops[b][k].fifo_tags;
        size_t dl = strlen(o->desc);
        if (k == i && n > 1)
            snprintf(o->desc + dl, sizeof o->desc - dl,
                     "; chained with the next %u ops (figures for all)", n - 1);
        else if (k > i && o->fifo_tags)
            snprintf(o->desc + dl, sizeof o->desc - dl,
                     "; chained after %s through an SPM ring of %u tags", p->ops[b][k - 1].wl.name,
                     o->fifo_tags);
        else if (k > i)
            snprintf(o->desc + dl, sizeof o->desc - dl, "; chained after %s through DRAM",
                     p->ops[b][k - 1].wl.name);
    }
}

/* The program that runs op i of block b and the ops chained after it. */
static eng_program unit_program(const plan *p, uint32_t b, uint32_t i, uint64_t dram_elems)
{
    eng_program prog = *run_unit_prog(p, b, i);
    prog.dram_elems = dram_elems;
    return prog;
}

/* Runs op i of block b with the ops chained after it: once (timing; counted repeat
 * times) or for one instance (functional, with that instance's weights, the first weight
 * of op `fault` corrupted: "" every op, NULL none). ro (NULL: not recorded) gets their
 * report entries. */
static int run_unit(const arch_desc *a, const wl_desc *d, const plan *p, uint32_t b, uint32_t i,
                    float *image, uint64_t dram_elems, uint64_t inst, uint64_t times,
                    const char *fault, float *wbuf, const eng_runner *engine,
                    const eng_observer *obs, run_op *ro, eng_stats *total, char *err, size_t errlen)
{
    eng_program prog = unit_program(p, b, i, dram_elems);
    const plan_op *head = &p->ops[b][i];
    for (uint32_t k = i; image && k < i + head->chain_len; k++) {
        const map_op_result *m = &p->ops[b][k].map;
        if (!head->fused && !m->weight_elems)
            continue;
        uint64_t count = wl_op_weights(d, &p->ops[b][k].wl, inst, wbuf);
        if (fault && count && (!fault[0] || !strcmp(fault, p->ops[b][k].wl.name)))
            wbuf[0] = util_round_dtype(d->dtype, wbuf[0] + 4.0f);
        if (head->fused)
            map_fuse_write_weights(&head->fuse, k - i, count ? wbuf : NULL, image);
        else
            map_op_write_weights(m, &p->ops[b][k].wl, wbuf, image);
    }
    eng_stats st;
    int rc = eng_run_with(engine, a, &prog, image, obs, &st, err, errlen);
    if (rc)
        return rc;
    if (ro) {
        describe_unit(ro, p, b, i);
        op_summary(ro, &st);
        ro->energy_pj = a->energy.present ? run_energy_pj(a, d->dtype, &st) : 0;
        eng_estimate_total est;
        rc = eng_estimate(a, &prog, NULL, &est, err, errlen);
        ro->est_cycles = est.cycles;
    }
    add_stats(total, &st, times);
    eng_stats_free(&st);
    return rc;
}

/* Copies the model's activations X out of the image into x, or (in set) x into the image. */
static void copy_x(const wl_desc *d, const layout *L, float *image, float *x, bool in)
{
    for (uint64_t r = 0; r < d->batch * d->seq_len; r++) {
        float *at = image + L->t[WL_T_X].addr + r * L->t[WL_T_X].stride;
        memcpy(in ? at : x + r * d->hidden, in ? x + r * d->hidden : at, d->hidden * sizeof *x);
    }
}

/* A decode step: block instance inst's K/V cache into the first kv_len rows of K and V in
 * the image (kv: scratch for 2 kv_len x hidden values). */
static void put_cache(const wl_desc *d, const layout *L, uint64_t inst, float *image, float *kv)
{
    uint64_t n = d->kv_len * d->hidden;
    wl_kv_cache(d, inst, kv, kv + n);
    for (uint64_t r = 0; r < d->kv_len; r++) {
        memcpy(image + L->t[WL_T_K].addr + r * L->t[WL_T_K].stride, kv + r * d->hidden,
               d->hidden * sizeof *kv);
        memcpy(image + L->t[WL_T_V].addr + r * L->t[WL_T_V].stride, kv + n + r * d->hidden,
               d->hidden * sizeof *kv);
    }
}

/* The tolerance in rounded-reference errors (see check_block). */
#define RUN_TOL_ROUNDED 4.0

/* Compares the output of block instance inst in the image with the reference applied to
 * its input xin (want and rounded: scratch for the exact and the rounded reference), and
 * keeps in c the instance furthest over its tolerance. */
static int check_block(const wl_desc *d, const layout *L, uint64_t inst, const float *image,
                       const float *xin, double *want, double *rounded, run_check *c, char *err,
                       size_t errlen)
{
    uint64_t n = d->batch * d->seq_len * d->hidden, worst = 0;
    int rc = run_reference(d, inst, 1, xin, want, rounded, err, errlen);
    if (rc)
        return rc;
    double ss = 0, max_err = 0, floor_err = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = i / d->hidden, col = i % d->hidden;
        double got = image[L->t[WL_T_X2].addr + r * L->t[WL_T_X2].stride + col];
        double e = fabs(got - want[i]);
        ss += want[i] * want[i];
        floor_err = fmax(floor_err, fabs(rounded[i] - want[i]));
        if (!(e <= max_err)) { /* NaN counts as the worst */
            max_err = isnan(e) ? INFINITY : e;
            worst = i;
        }
    }
    double rms = sqrt(ss / (double)n);
    /* The rounding a block cannot avoid is measured, not guessed: the reference once more
     * with every op's and every butterfly and FFT stage's results rounded to the element
     * type, as the array rounds them. The array rounds in other places too (partial sums
     * along GEMM chains, inside softmax and layernorm) and in another order, so its error
     * differs from that one's: over every block instance of FABNet, BERT-base,
     * hybrid-butterfly and hybrid-compress at 64 to 1024 tokens, hidden 64 and 768, FP16
     * and FP32 on mld-8x8 it was 0.59 to 2.63 times as large. We allow 4 times, plus one
     * unit roundoff at the output's scale. A wrong value (a twiddle, a tag, an address)
     * is off by about the values themselves, hundreds of unit roundoffs. Each instance
     * starts from the input the array gave it, so the rounding of earlier blocks, which a
     * deep model amplifies, does not count against later ones. */
    double tol =
        RUN_TOL_ROUNDED * floor_err + util_dtype_unit_roundoff(d->dtype) * (rms > 1 ? rms : 1);
    /* keep the instance with the largest error relative to its tolerance */
    bool first = c->count == 0;
    c->count += n;
    if (first || !(max_err / tol <= c->max_abs_err / c->tolerance)) {
        c->max_abs_err = max_err, c->tolerance = tol, c->rms_want = rms;
        c->worst = worst, c->instance = inst;
    }
    c->pass = c->max_abs_err <= c->tolerance;
    return UTIL_OK;
}

/* Lays out and maps model d, and sets up an empty result; p is NULL on failure. */
static int start_run(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                     bool functional, run_result *out, layout *L, plan **p, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->functional = functional;
    out->unchained = forced && forced->chaining == MAP_CHAIN_OFF;
    out->unfused = forced && forced->fusing == MAP_FUSE_OFF;
    run_plan_layout(d, L);
    *p = NULL;
    /* the activations alone past the limit: refused before a long mapping */
    if (functional && L->end > RUN_MAX_FUNCTIONAL_ELEMS)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "--functional keeps the whole DRAM image in memory: this model needs "
                         "at least %llu elements, the limit is %llu (use a smaller seq_len, "
                         "hidden or batch)",
                         (unsigned long long)L->end, (unsigned long long)RUN_MAX_FUNCTIONAL_ELEMS);
    int rc = run_plan_model(a, d, forced, L, functional, p, err, errlen);
    if (rc)
        return rc;
    out->total.n_pes = arch_pe_count(a);
    out->total.pe = calloc(out->total.n_pes, sizeof *out->total.pe);
    if (!out->total.pe) {
        run_plan_free(*p);
        *p = NULL;
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    }
    return UTIL_OK;
}

/* Units (ops run alone, chains, fused groups) a run goes through: each block's, per
 * instance run. */
static uint64_t count_units(const wl_desc *d, const plan *p, bool per_instance)
{
    uint64_t n = 0;
    for (uint32_t b = 0; b < d->n_blocks; b++)
        for (uint32_t i = 0; i < p->n_ops[b]; i++)
            n += p->ops[b][i].chain_len ? (per_instance ? d->blocks[b].repeat : 1) : 0;
    return n;
}

static void report_progress(const run_progress *pr, uint64_t done, uint64_t total,
                            const run_result *out)
{
    if (pr && pr->fn)
        pr->fn(pr->ctx, done, total, out->total.cycles);
}

int run_model(const arch_desc *a, const wl_desc *d, const map_forced *forced, bool functional,
              const char *fault, const run_progress *progress, run_result *out, char *err,
              size_t errlen)
{
    layout L;
    plan *p;
    int rc = start_run(a, d, forced, functional, out, &L, &p, err, errlen);
    if (rc)
        return rc;
    float *image = NULL, *wbuf = NULL, *xin = NULL, *kv = NULL;
    double *want = NULL, *rounded = NULL;
    uint64_t dram_elems = p->dram_end;
    run_unit_desc ud = {0};
    if (progress && progress->unit &&
        !(ud.pe_what = malloc(arch_pe_count(a) * sizeof *ud.pe_what))) {
        rc = util_fail(UTIL_ERUN, err, errlen, "out of memory");
        goto done;
    }
    if (functional) {
        if (dram_elems > RUN_MAX_FUNCTIONAL_ELEMS) {
            rc = util_fail(UTIL_ECONFIG, err, errlen,
                           "--functional keeps the whole DRAM image in memory: this model needs "
                           "%llu elements, the limit is %llu (use a smaller seq_len, hidden or "
                           "batch)",
                           (unsigned long long)dram_elems,
                           (unsigned long long)RUN_MAX_FUNCTIONAL_ELEMS);
            goto done;
        }
        uint64_t in_elems = d->batch * d->seq_len * d->hidden;
        image = calloc(dram_elems, sizeof *image);
        wbuf = calloc(p->max_weights + 1, sizeof *wbuf);
        xin = calloc(in_elems, sizeof *xin);
        want = calloc(in_elems, sizeof *want);
        rounded = calloc(in_elems, sizeof *rounded);
        kv = calloc(2 * d->kv_len * d->hidden + 1, sizeof *kv);
        if (!image || !wbuf || !xin || !want || !rounded || !kv) {
            rc = util_fail(UTIL_ERUN, err, errlen, "out of memory");
            goto done;
        }
        wl_model_inputs(d, xin);
        copy_x(d, &L, image, xin, true);
    }
    uint64_t inst = 0, done = 0, units = count_units(d, p, functional);
    /* the instances no observer sees still stop when the observer's run would */
    const eng_observer *obs = progress ? progress->obs : NULL;
    eng_observer halt = {.stop = obs ? obs->stop : NULL};
    for (uint32_t b = 0; b < d->n_blocks && !rc; b++) {
        run_block *rb = &out->blocks[b];
        rb->n_ops = p->n_ops[b];
        rb->repeat = d->blocks[b].repeat;
        /* timing: one instance, counted repeat times; functional: every instance */
        uint64_t runs = functional ? rb->repeat : 1, times = functional ? 1 : rb->repeat;
        for (uint64_t k = 0; k < runs && !rc; k++) {
            if (functional)
                copy_x(d, &L, image, xin, false);
            if (functional && d->kv_len)
                put_cache(d, &L, inst + k, image, kv);
            for (uint32_t i = 0; i < rb->n_ops && !rc; i++) {
                if (!p->ops[b][i].chain_len)
                    continue;
                /* (an observer sees the first instance of each block entry) */
                if (progress && progress->unit && !k) {
                    run_describe_unit(a, p, b, i, &ud);
                    progress->unit(progress->unit_ctx, &ud);
                }
                rc = run_unit(
                    a, d, p, b, i, image, dram_elems, inst + k, times, inst + k == 0 ? fault : NULL,
                    wbuf, progress ? progress->engine : NULL, k ? (halt.stop ? &halt : NULL) : obs,
                    k ? NULL : &rb->ops[i], &out->total, err, errlen);
                report_progress(progress, ++done, units, out);
            }
            if (!rc && functional)
                rc = check_block(d, &L, inst + k, image, xin, want, rounded, &out->check, err,
                                 errlen);
        }
        for (uint32_t i = 0; i < rb->n_ops; i++) {
            const run_op *o = &rb->ops[i];
            rb->cycles += o->cycles;
            rb->lane_ops += o->lane_ops;
            rb->mac_busy += o->mac_busy;
            rb->dram_bytes += o->dram_read_bytes + o->dram_write_bytes;
        }
        inst += rb->repeat;
    }
    out->n_blocks = d->n_blocks;
done:
    run_plan_free(p);
    free(image);
    free(wbuf);
    free(xin);
    free(want);
    free(rounded);
    free(kv);
    free(ud.pe_what);
    if (rc)
        run_free(out);
    return rc;
}

int run_model_analytical(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                         const run_progress *progress, run_result *out, char *err, size_t errlen)
{
    layout L;
    plan *p;
    int rc = start_run(a, d, forced, false, out, &L, &p, err, errlen);
    if (rc)
        return rc;
    out->analytical = true;
    uint64_t done = 0, units = count_units(d, p, false);
    for (uint32_t b = 0; b < d->n_blocks && !rc; b++) {
        run_block *rb = &out->blocks[b];
        rb->n_ops = p->n_ops[b];
        rb->repeat = d->blocks[b].repeat;
        for (uint32_t i = 0; i < rb->n_ops && !rc; i++) {
            if (!p->ops[b][i].chain_len)
                continue;
            run_op *o = &rb->ops[i];
            eng_program prog = unit_program(p, b, i, p->dram_end);
            eng_estimate_total est;
            if ((rc = eng_estimate(a, &prog, NULL, &est, err, errlen)))
                break;
            describe_unit(o, p, b, i);
            o->cycles = o->est_cycles = est.cycles;
            o->lane_ops = est.lane_ops;
            o->mac_busy = est.counts.pe_total.fu_busy[ARCH_FU_MAC];
            o->energy_pj = a->energy.present ? run_energy_pj(a, d->dtype, &est.counts) : 0;
            o->dram_read_bytes = est.dram_read_bytes;
            o->dram_write_bytes = est.dram_write_bytes;
            rb->cycles += o->cycles;
            rb->lane_ops += o->lane_ops;
            rb->mac_busy += o->mac_busy;
            rb->dram_bytes += est.dram_read_bytes + est.dram_write_bytes;
            add_stats(&out->total, &est.counts, rb->repeat);
            report_progress(progress, ++done, units, out);
        }
    }
    out->n_blocks = d->n_blocks;
    run_plan_free(p);
    if (rc)
        run_free(out);
    return rc;
}

int run_map_all(const arch_desc *a, const wl_desc *d, char *err, size_t errlen)
{
    layout L;
    run_plan_layout(d, &L);
    plan *p = NULL;
    int rc = run_plan_model(a, d, NULL, &L, false, &p, err, errlen);
    if (!rc)
        run_plan_free(p);
    return rc;
}

void run_free(run_result *r)
{
    eng_stats_free(&r->total);
}

double run_energy_pj(const arch_desc *a, util_dtype t, const eng_stats *counts)
{
    en_result e;
    en_compute(a, t, counts, 0, &e);
    return e.total_pj;
}
