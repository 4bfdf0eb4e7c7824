/* chain.c: two mapped ops as one program whose boundary phases overlap (producer -> consumer). */
#include <stdlib.h>
#include <string.h>

#include "mapper.h"

/* The row of tensor t that element e belongs to, counting the columns beside a row (up to
 * the next one) as its own; -1 before row 0. */
static int64_t row_of(const map_tensor *t, uint64_t e)
{
    int64_t d = (int64_t)e - (int64_t)t->addr + (int64_t)(t->stride - t->cols);
    return d < 0 ? -1 : d / (int64_t)t->stride;
}

static uint64_t last_elem(const eng_pattern *p)
{
    return eng_pattern_end(p) - 1;
}

uint64_t map_tensor_end(const map_tensor *t)
{
    return eng_pattern_end(&(eng_pattern){t->addr, t->cols, t->stride, t->rows});
}

/* The last element of tensor t. */
static uint64_t tensor_last(const map_tensor *t)
{
    return map_tensor_end(t) - 1;
}

/* Inclusive element ranges. */
typedef struct span {
    uint64_t lo, hi;
} span;

static void span_add(span *s, const eng_pattern *p)
{
    if (!eng_pattern_elems(p))
        return;
    if (p->first < s->lo)
        s->lo = p->first;
    if (last_elem(p) > s->hi)
        s->hi = last_elem(p);
}

static bool span_meets(const span *s, uint64_t lo, uint64_t hi)
{
    return s->lo <= s->hi && s->lo <= hi && lo <= s->hi;
}

/* What the producer's last phase and the consumer's first do to the linking tensor. */
typedef struct chain_check {
    bool safe; /* the consumer never reads a row before the producer has stored it, and
                * neither writes what the other reads */
    bool ring; /* every consumer read of the tensor lies in it, and rows are read in
                * the order the ring frees them */
} chain_check;

/* The DRAM span of an instruction's weights over the phase's repeats. */
static void weight_span(const eng_phase *f, const eng_instr *in, span *s)
{
    if (!in->weight_elems)
        return;
    eng_pattern w = eng_instr_weights(in, in->weight_addr);
    span_add(s, &w);
    w.first += (f->repeats - 1) * f->weight_stride;
    span_add(s, &w);
}

/* Tag k's one input and one output pattern; false when a side has several parts (such
 * phases are not chained here). */
static bool tag_sides(const eng_phase *f, uint64_t k, eng_pattern *in, eng_pattern *out)
{
    eng_tag_io io;
    f->tag_dma(f->tag_ctx, k, &io);
    *in = io.in[0];
    *out = io.out[0];
    return io.n_in == 1 && io.n_out == 1;
}

/* Whether any tag or weight of phase f touches elements lo .. hi (or a tag's side has
 * several parts). */
static bool phase_touches(const eng_phase *f, uint64_t lo, uint64_t hi)
{
    span all = {UINT64_MAX, 0};
    for (uint64_t k = 0; k < f->n_tags * f->repeats; k++) {
        eng_pattern in, o;
        if (!tag_sides(f, k, &in, &o))
            return true;
        span_add(&all, &in);
        span_add(&all, &o);
    }
    for (uint32_t i = 0; i < f->n_instr; i++)
        weight_span(f, &f->instr[i], &all);
    return span_meets(&all, lo, hi);
}

static int check_rows(const eng_phase *fp, const eng_phase *fc, const map_tensor *t,
                      chain_check *out)
{
    uint64_t P = fp->n_tags, C = fc->n_tags, t_lo = t->addr, t_hi = tensor_last(t);
    memset(out, 0, sizeof *out);
    if (!P || !C || fp->repeats != 1 || fc->repeats != 1)
        return UTIL_OK;
    uint64_t *cov = malloc(P * sizeof *cov); /* rows stored once tags 0..k are */
    if (!cov)
        return UTIL_ERUN;
    span p_in = {UINT64_MAX, 0}, c_out = {UINT64_MAX, 0};
    uint64_t covered = 0;
    bool ok = true;
    for (uint64_t k = 0; k < P && ok; k++) {
        eng_pattern in, o;
        ok = tag_sides(fp, k, &in, &o);
        span_add(&p_in, &in);
        uint64_t n = eng_pattern_elems(&o);
        /* each tag stores whole rows, the next ones in order */
        ok =
            ok && n && o.first >= t_lo && last_elem(&o) <= t_hi && row_of(t, o.first) == (int64_t)covered;
        if (ok) {
            int64_t r1 = row_of(t, last_elem(&o));
            ok = n == ((uint64_t)r1 + 1 - covered) * t->cols;
            covered = (uint64_t)r1 + 1;
        }
        cov[k] = covered;
    }
    ok = ok && covered == t->rows;
    /* a ring holds a dense tensor only (rows of a wider stride leave other data between) */
    bool ring = ok && t->stride == t->cols;
    /* weights load when the group starts: the consumer's must not be the tensor, and the
     * producer's must not be what the consumer stores */
    for (uint32_t i = 0; i < fp->n_instr; i++)
        weight_span(fp, &fp->instr[i], &p_in);
    span c_w = {UINT64_MAX, 0};
    for (uint32_t i = 0; i < fc->n_instr; i++)
        weight_span(fc, &fc->instr[i], &c_w);
    ok = ok && !span_meets(&c_w, t_lo, t_hi);
    int64_t prev_lo = 0;
    for (uint64_t c = 0; c < C && ok; c++) {
        eng_pattern in, o;
        if (!(ok = tag_sides(fc, c, &in, &o)))
            break;
        span_add(&c_out, &o);
        if (!eng_pattern_elems(&in) || last_elem(&in) < t_lo || in.first > t_hi)
            continue;
        int64_t r_hi = row_of(t, last_elem(&in)), r_lo = row_of(t, in.first);
        if (r_hi >= (int64_t)t->rows)
            r_hi = (int64_t)t->rows - 1;
        if (r_lo < 0)
            r_lo = 0;
        ok = cov[eng_chain_need(P, C, c) - 1] > (uint64_t)r_hi;
        /* the ring frees floor(c * P / C) producer tags once tags 0..c-1 are fetched:
         * no later tag may read them */
        uint64_t freed = eng_chain_freed(P, C, c);
        ring = ring && in.first >= t_lo && last_elem(&in) <= t_hi && r_lo >= prev_lo &&
               (!freed || cov[freed - 1] <= (uint64_t)r_lo);
        prev_lo = r_lo;
    }
    /* neither phase writes what the other reads: the consumer's stores stay clear of the
     * producer's loads and of the tensor */
    ok = ok && !span_meets(&c_out, p_in.lo, p_in.hi) && !span_meets(&c_out, t_lo, t_hi);
    free(cov);
    out->safe = ok;
    out->ring = ok && ring;
    return UTIL_OK;
}

void map_chain_free(map_chain *c)
{
    free(c->phases);
    memset(c, 0, sizeof *c);
}

int map_chain_programs(const arch_desc *a, const eng_program *prod, const eng_program *cons,
                       const map_tensor *link, bool fifo, map_chain *out, bool *ok, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    *ok = false;
    if (!prod->n_phases || !cons->n_phases || prod->dtype != cons->dtype ||
        (prod->onchip_elems && cons->onchip_elems) || (prod->kept_elems && cons->kept_elems) ||
        cons->phases[0].chained)
        return UTIL_OK;
    chain_check ck;
    const eng_phase *fp = &prod->phases[prod->n_phases - 1], *fc = &cons->phases[0];
    if (check_rows(fp, fc, link, &ck))
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    if (!ck.safe)
        return UTIL_OK;
    /* the ring lasts only while the two run: the consumer's later phases must not read
     * the tensor (it never reaches DRAM) */
    uint64_t t_hi = tensor_last(link);
    for (uint32_t k = 1; k < cons->n_phases && ck.ring; k++)
        ck.ring = !phase_touches(&cons->phases[k], link->addr, t_hi);
    uint32_t n = prod->n_phases + cons->n_phases;
    out->phases = malloc(n * sizeof *out->phases);
    if (!out->phases)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    memcpy(out->phases, prod->phases, prod->n_phases * sizeof *out->phases);
    memcpy(out->phases + prod->n_phases, cons->phases, cons->n_phases * sizeof *out->phases);
    const eng_program *oc = prod->onchip_elems ? prod : cons, *kp = prod->kept_elems ? prod : cons;
    out->program = (eng_program){
        prod->dtype,      n,
        out->phases,      prod->dram_elems > cons->dram_elems ? prod->dram_elems : cons->dram_elems,
        oc->onchip_first, oc->onchip_elems,
        kp->kept_first,   kp->kept_elems};
    eng_phase *f = &out->phases[prod->n_phases];
    f->chained = true;
    /* the deepest ring the SPM holds beside the group's slots: 8, 4 or 2 times the
     * producer tags one consumer tag reads (at least that plus one, as the engine needs),
     * so that no tag wraps around its end; else through DRAM */
    uint32_t per = (uint32_t)eng_chain_need(f[-1].n_tags, f->n_tags, 0);
    uint32_t tries[] = {8 * per, 4 * per, 2 * per, 0};
    char why[256];
    for (size_t i = fifo && ck.ring ? 0 : 3; i < sizeof tries / sizeof tries[0]; i++) {
        f->fifo_tags = tries[i];
        f->fifo_first = tries[i] ? link->addr : 0;
        f->fifo_elems = tries[i] ? map_tensor_end(link) - link->addr : 0;
        if (eng_validate(a, &out->program, why, sizeof why) == UTIL_OK) {
            out->fifo_tags = tries[i];
            *ok = true;
            return UTIL_OK;
        }
    }
    map_chain_free(out);
    return UTIL_OK;
}
