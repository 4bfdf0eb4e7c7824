/* fuse_layer.c: the layers of a fused group: their instructions, element places, kernels,
 * costs and weights (butterfly and FFT runs, norms, dense tiles). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

/* ---------------------------------------------------------------- runs */

/* The vector bits of a run's stages. */
static uint64_t run_window(const fz_layer *L, const fz_run *r)
{
    uint64_t w = 0;
    for (uint32_t s = r->s0; s < r->s0 + r->k; s++)
        w |= UINT64_C(1) << map_stage_bit(L->sk, L->stages, s);
    return w;
}

/* A run's PE bits: the highest bits outside its stages, those of the run before first (a
 * bit both keep is one the exchange between them never crosses: each PE then sends to
 * fewer). */
void fz_run_masks(fz_layer *L)
{
    uint64_t prev = 0;
    for (uint32_t r = 0; r < L->n_runs; r++) {
        fz_run *run = &L->run[r];
        uint64_t outside = util_low_mask(L->stages) & ~run_window(L, run), q = 0;
        uint32_t left = run->p;
        for (int pass = 0; pass < 2; pass++) {
            uint64_t pool = pass ? outside & ~q : outside & prev;
            for (uint32_t b = L->stages; b-- > 0 && left;)
                if (pool >> b & 1)
                    q |= UINT64_C(1) << b, left--;
        }
        run->qmask = prev = q;
    }
}

uint64_t fz_run_messages(const fz_layer *L)
{
    uint64_t m = 0;
    for (uint32_t r = 0; r + 1 < L->n_runs; r++) {
        uint32_t shared = util_popcount(L->run[r].qmask & L->run[r + 1].qmask);
        m += (UINT64_C(1) << L->run[r].p) * (UINT64_C(1) << L->run[r + 1].p) >> shared;
    }
    return m;
}

/* Units per row on one PE of a run. */
static uint64_t run_units(const fz_layer *L, const fz_run *r)
{
    return L->N >> r->p;
}

uint32_t fz_run_first(const fz_layer *L, uint32_t r)
{
    uint32_t i = 0;
    for (uint32_t k = 0; k < r; k++)
        i += 1u << L->run[k].p;
    return i;
}

/* Place of unit j, element e of row `row` in run r. */
static fz_loc run_loc(const fz_layer *L, uint32_t r, uint32_t row, uint64_t j, uint64_t e)
{
    const fz_run *run = &L->run[r];
    uint64_t keep = util_low_mask(L->stages) & ~run->qmask;
    uint64_t local = util_extract_bits(j, keep), q = util_extract_bits(j, run->qmask);
    return (fz_loc){L->i0 + fz_run_first(L, r) + (uint32_t)q,
                    (uint32_t)(((uint64_t)row * run_units(L, run) + local) * L->u + e)};
}

/* Output unit and element of column c, false when the layer does not make it. */
static bool out_unit(const fz_layer *L, uint64_t c, uint64_t *j, uint64_t *e)
{
    if (c >= L->out_cols)
        return false;
    if (L->rev_out) {
        *j = util_bit_reverse(c / 2, L->stages), *e = c % 2;
        return true;
    }
    *j = c / L->u, *e = c % L->u;
    return true;
}

/* Columns of the output a PE of the last run makes, per row. */
static uint64_t kept_on(const fz_layer *L, uint32_t q)
{
    const fz_run *run = &L->run[L->n_runs - 1];
    uint64_t n = 0;
    for (uint64_t c = 0; c < L->out_cols; c++) {
        uint64_t j, e;
        if (out_unit(L, c, &j, &e) && util_extract_bits(j, run->qmask) == q)
            n++;
    }
    return n;
}

/* Costs of one run instruction (PE q of run r; kept: output columns it makes per row). */
static void run_cost(const fz_group *g, const fz_layer *L, uint32_t r, uint64_t kept, eng_instr *in)
{
    const fz_run *run = &L->run[r];
    uint64_t units = run_units(L, run);
    for (uint32_t x = 0; x < g->R * run->k; x++)
        map_stage_cost(L->sk, L->u, units / 2, g->lanes, in);
    in->local_elems = (uint32_t)(g->R * units * L->u);
    in->weight_elems = (uint32_t)(run->k * (units / 2) * L->wpp);
    if (L->gelu && r + 1 == L->n_runs) {
        /* every element is computed; only the kept outputs are useful work */
        uint64_t useful = in->lane_ops;
        map_gelu_cost(g->R, units * L->u, g->lanes, in);
        in->lane_ops = useful + 11 * g->R * kept;
    }
}

/* ---------------------------------------------------------------- norms and dense tiles */

/* NORM: segment i's first column and length. */
static void norm_seg(const fz_layer *L, uint32_t i, uint64_t *c0, uint32_t *len)
{
    uint64_t Ls = util_ceil_div(L->H, L->S);
    *c0 = i * Ls;
    *len = (uint32_t)(L->H - *c0 < Ls ? L->H - *c0 : Ls);
}

/* NORM instructions: one per segment (an add alone, or a layernorm on one segment), else
 * S statistics, S apply steps and the reducer. */
static bool norm_split(const fz_layer *L)
{
    return L->norm && L->S > 1;
}

/* DENSE: tile (c, k)'s columns and rows of W. */
static void dense_tile(const fz_layer *L, uint32_t c, uint32_t k, uint64_t *c0, uint32_t *lc,
                       uint64_t *k0, uint32_t *lk)
{
    uint64_t Lc = util_ceil_div(L->nout, L->C), Lk = util_ceil_div(L->nin, L->K);
    *c0 = c * Lc, *k0 = k * Lk;
    *lc = (uint32_t)(L->nout - *c0 < Lc ? L->nout - *c0 : Lc);
    *lk = (uint32_t)(L->nin - *k0 < Lk ? L->nin - *k0 : Lk);
}

uint32_t fz_layer_n_instr(const fz_layer *L)
{
    if (L->kind == FZ_RUNS)
        return fz_run_first(L, L->n_runs);
    if (L->kind == FZ_NORM)
        return norm_split(L) ? 2 * L->S + 1 : L->S;
    return L->C * L->K;
}

uint32_t fz_layer_pes(const fz_layer *L)
{
    return L->kind == FZ_NORM ? L->S : fz_layer_n_instr(L);
}

/* PE slot of the layer's instruction i (relative). */
static uint32_t instr_slot(const fz_layer *L, uint32_t i)
{
    if (L->kind != FZ_NORM || !norm_split(L))
        return i;
    return i < 2 * L->S ? i % L->S : L->S / 2;
}

/* Costs and sizes of a norm instruction (role by index i). */
static void norm_cost(const fz_group *g, const fz_layer *L, uint32_t i, eng_instr *in,
                      fz_kkind *kind)
{
    uint32_t R = g->R, vr = (uint32_t)util_ceil_div(R, g->lanes);
    uint64_t c0;
    uint32_t len;
    norm_seg(L, i % L->S, &c0, &len);
    uint32_t v = R * (uint32_t)util_ceil_div(len, g->lanes);
    uint64_t e = (uint64_t)R * len;
    uint32_t ins = L->add ? 2 : 1;
    if (!norm_split(L)) { /* add, moments, statistics, apply: all on one segment */
        *kind = FZ_K_NORM_FULL;
        in->vec_ops[ARCH_FU_ADD] = (L->add ? v : 0) + (L->norm ? 3 * v + vr : 0);
        in->vec_ops[ARCH_FU_MAC] = L->norm ? v : 0;
        in->vec_ops[ARCH_FU_MUL] = L->norm ? 2 * v + 2 * vr : 0;
        in->vec_ops[ARCH_FU_RCP] = L->norm ? vr : 0;
        in->lane_ops = (L->add ? e : 0) + (L->norm ? 6 * e + 4 * R : 0);
        in->local_elems = ins * R * len + (L->norm ? 2 * R : 0);
        in->weight_elems = L->norm ? 2 * len : 0;
    } else if (i < L->S) { /* (add and) the segment's sum and sum of squares per row */
        *kind = FZ_K_NORM_STATS;
        in->vec_ops[ARCH_FU_ADD] = (L->add ? v : 0) + v;
        in->vec_ops[ARCH_FU_MAC] = v;
        in->lane_ops = (L->add ? e : 0) + 2 * e;
        in->local_elems = ins * R * len + 2 * R;
    } else if (i < 2 * L->S) { /* (x - mean) rstd gamma + beta */
        *kind = FZ_K_NORM_APPLY;
        in->vec_ops[ARCH_FU_ADD] = 2 * v, in->vec_ops[ARCH_FU_MUL] = 2 * v;
        in->lane_ops = 4 * e;
        in->local_elems = R * len + 2 * R;
        in->weight_elems = 2 * len;
    } else { /* the row statistics from every segment's partials */
        *kind = FZ_K_NORM_REDUCE;
        in->vec_ops[ARCH_FU_ADD] = 2 * (L->S - 1) * vr + vr;
        in->vec_ops[ARCH_FU_MUL] = 2 * vr;
        in->vec_ops[ARCH_FU_RCP] = vr; /* ASSUMPTION (as ops.c): the rcp unit does 1/sqrt */
        in->lane_ops = (uint64_t)(2 * (L->S - 1) + 4) * R;
        in->local_elems = (L->S + 1) * 2 * R;
    }
}

static void dense_cost(const fz_group *g, const fz_layer *L, uint32_t i, eng_instr *in)
{
    uint64_t c0, k0;
    uint32_t lc, lk, R = g->R;
    dense_tile(L, i / L->K, i % L->K, &c0, &lc, &k0, &lk);
    in->vec_ops[ARCH_FU_MAC] = R * lk * (uint32_t)util_ceil_div(lc, g->lanes);
    in->lane_ops = (uint64_t)R * lk * lc;
    in->local_elems = R * (lk + lc);
    in->weight_elems = lk * lc;
    if (L->gelu && i % L->K + 1 == L->K)
        map_gelu_cost(R, lc, g->lanes, in);
}

/* Costs and sizes of the layer's instruction i; *kind its kernel. */
static void instr_cost(const fz_group *g, const fz_layer *L, uint32_t i, eng_instr *in,
                       fz_kkind *kind)
{
    memset(in, 0, sizeof *in);
    if (L->kind == FZ_NORM) {
        norm_cost(g, L, i, in, kind);
        return;
    }
    if (L->kind == FZ_DENSE) {
        *kind = FZ_K_DENSE;
        dense_cost(g, L, i, in);
        return;
    }
    uint32_t r = 0;
    while (r + 1 < L->n_runs && i >= fz_run_first(L, r + 1))
        r++;
    *kind = FZ_K_RUN;
    uint32_t q = i - fz_run_first(L, r);
    run_cost(g, L, r, L->gelu && r + 1 == L->n_runs ? kept_on(L, q) : 0, in);
}

uint32_t fz_weight_parts(const fz_group *g, const fz_layer *L, const eng_instr *in)
{
    uint64_t cap = g->a->pe.buffer_bytes / g->F / g->wb;
    uint64_t slots = (uint64_t)g->a->pe.tags * in->local_elems, W = in->weight_elems;
    if (slots + W <= cap)
        return 0;
    if (!L->stream || L->kind == FZ_NORM || slots >= cap)
        return UINT32_MAX;
    for (uint32_t P = 3; P <= FZ_MAX_PARTS && P <= W; P++)
        if (W % P == 0 && slots + 2 * (W / P) <= cap)
            return P;
    return UINT32_MAX;
}

bool fz_layer_plan_cost(const fz_group *g, const fz_layer *L, double *busy, uint32_t *pes)
{
    uint32_t n = fz_layer_n_instr(L), slots = fz_layer_pes(L);
    double per_slot[FZ_MAX_NORM_SEGS + 1] = {0};
    uint64_t buf[FZ_MAX_NORM_SEGS + 1] = {0};
    uint64_t cap = g->a->pe.buffer_bytes / g->F / g->wb;
    *busy = 0, *pes = slots;
    for (uint32_t i = 0; i < n; i++) {
        eng_instr in;
        fz_kkind kind;
        /* a run's PEs cost the same (GELU aside, charged as if every output were kept) */
        if (L->kind == FZ_RUNS) {
            uint32_t r = 0;
            while (r + 1 < L->n_runs && i >= fz_run_first(L, r + 1))
                r++;
            if (i != fz_run_first(L, r))
                continue;
            memset(&in, 0, sizeof in);
            run_cost(g, L, r, 0, &in);
        } else {
            instr_cost(g, L, i, &in, &kind);
        }
        uint32_t parts = fz_weight_parts(g, L, &in);
        if (parts == UINT32_MAX)
            return false;
        in.weight_parts = parts;
        uint64_t need = (uint64_t)g->a->pe.tags * in.local_elems + eng_instr_buffer_weights(&in);
        double b = (double)eng_instr_busy(g->a, g->dt, &in);
        if (L->kind == FZ_NORM) {
            uint32_t s = instr_slot(L, i);
            per_slot[s] += b, buf[s] += need;
            b = per_slot[s], need = buf[s];
        }
        if (need > cap)
            return false;
        *busy = b > *busy ? b : *busy;
    }
    return true;
}

bool fz_layer_streams(const fz_group *g, const fz_layer *L)
{
    if (!L->stream)
        return false;
    for (uint32_t i = 0, n = fz_layer_n_instr(L); i < n; i++) {
        eng_instr in;
        fz_kkind kind;
        instr_cost(g, L, i, &in, &kind);
        uint32_t parts = fz_weight_parts(g, L, &in);
        if (parts && parts != UINT32_MAX)
            return true;
    }
    return false;
}

double fz_layer_work(const fz_group *g, const fz_layer *L)
{
    fz_layer one = *L;
    eng_instr in;
    fz_kkind kind;
    if (L->kind == FZ_RUNS)
        one.n_runs = 1, one.run[0] = (fz_run){0, L->stages, 0, 0};
    else if (L->kind == FZ_NORM)
        one.S = 1;
    else
        one.C = one.K = 1;
    instr_cost(g, &one, 0, &in, &kind);
    return (double)eng_instr_busy(g->a, g->dt, &in);
}

/* ---------------------------------------------------------------- places */

uint32_t fz_in_locs(const fz_group *g, const fz_layer *L, uint32_t k, uint32_t r, uint64_t c,
                    fz_loc *out, uint32_t max)
{
    if (L->kind == FZ_RUNS) {
        if (c >= L->in_cols || !max)
            return 0;
        uint64_t j = L->re_in ? c : c / L->u, e = L->re_in ? 0 : c % L->u;
        out[0] = run_loc(L, 0, r, j, e);
        return 1;
    }
    if (L->kind == FZ_NORM) {
        uint64_t Ls = util_ceil_div(L->H, L->S), c0;
        uint32_t i = (uint32_t)(c / Ls), len;
        norm_seg(L, i, &c0, &len);
        out[0] = (fz_loc){L->i0 + i, k * g->R * len + r * len + (uint32_t)(c - c0)};
        return max ? 1 : 0;
    }
    uint64_t Lk = util_ceil_div(L->nin, L->K), c0, k0;
    uint32_t kk = (uint32_t)(c / Lk), lc, lk, n = 0;
    for (uint32_t t = 0; t < L->C && n < max; t++) {
        dense_tile(L, t, kk, &c0, &lc, &k0, &lk);
        out[n++] = (fz_loc){L->i0 + t * L->K + kk, r * lk + (uint32_t)(c - k0)};
    }
    (void)k;
    return n;
}

fz_loc fz_out_loc(const fz_group *g, const fz_layer *L, uint32_t r, uint64_t c)
{
    if (L->kind == FZ_RUNS) {
        uint64_t j, e;
        if (!out_unit(L, c, &j, &e))
            return (fz_loc){FZ_NONE, 0};
        return run_loc(L, L->n_runs - 1, r, j, e);
    }
    if (L->kind == FZ_NORM) {
        uint64_t Ls = util_ceil_div(L->H, L->S), c0;
        uint32_t i = (uint32_t)(c / Ls), len;
        norm_seg(L, i, &c0, &len);
        uint32_t at = norm_split(L) ? L->S + i : i;
        return (fz_loc){L->i0 + at, r * len + (uint32_t)(c - c0)};
    }
    uint64_t Lc = util_ceil_div(L->nout, L->C), c0, k0;
    uint32_t t = (uint32_t)(c / Lc), lc, lk;
    dense_tile(L, t, L->K - 1, &c0, &lc, &k0, &lk);
    return (fz_loc){L->i0 + t * L->K + L->K - 1, g->R * lk + r * lc + (uint32_t)(c - c0)};
}

int fz_layer_edges(const fz_group *g, const fz_layer *L, fz_edge_fn each, void *ctx)
{
    int rc = UTIL_OK;
    if (L->kind == FZ_RUNS) {
        /* run r to run r + 1: every unit of every row to its next owner */
        for (uint32_t r = 0; r + 1 < L->n_runs && !rc; r++)
            for (uint32_t row = 0; row < g->R && !rc; row++)
                for (uint64_t j = 0; j < L->N && !rc; j++)
                    for (uint64_t e = 0; e < L->u && !rc; e++)
                        rc = each(ctx, run_loc(L, r, row, j, e), run_loc(L, r + 1, row, j, e));
        return rc;
    }
    if (L->kind == FZ_NORM) {
        if (!norm_split(L))
            return UTIL_OK;
        uint32_t R = g->R, red = L->i0 + 2 * L->S, ins = L->add ? 2 : 1;
        for (uint32_t i = 0; i < L->S && !rc; i++) {
            uint64_t c0;
            uint32_t len;
            norm_seg(L, i, &c0, &len);
            uint32_t st = L->i0 + i, ap = L->i0 + L->S + i;
            /* the row segment (the sum when adding) to the apply step */
            for (uint32_t x = 0; x < R * len && !rc; x++)
                rc = each(ctx, (fz_loc){st, x}, (fz_loc){ap, x});
            /* partials to the reducer, the statistics back */
            for (uint32_t x = 0; x < 2 * R && !rc; x++) {
                rc = each(ctx, (fz_loc){st, ins * R * len + x}, (fz_loc){red, i * 2 * R + x});
                if (!rc)
                    rc = each(ctx, (fz_loc){red, L->S * 2 * R + x}, (fz_loc){ap, R * len + x});
            }
        }
        return rc;
    }
    /* dense: partial sums along each column tile's K chunks */
    for (uint32_t t = 0; t < L->C && !rc; t++)
        for (uint32_t k = 0; k + 1 < L->K && !rc; k++) {
            uint64_t c0, k0, k1;
            uint32_t lc, lk, lk1;
            dense_tile(L, t, k, &c0, &lc, &k0, &lk);
            dense_tile(L, t, k + 1, &c0, &lc, &k1, &lk1);
            uint32_t from = L->i0 + t * L->K + k;
            for (uint32_t x = 0; x < g->R * lc && !rc; x++)
                rc = each(ctx, (fz_loc){from, g->R * lk + x}, (fz_loc){from + 1, g->R * lk1 + x});
        }
    return rc;
}

/* ---------------------------------------------------------------- kernels */

static void run_kernel(const fz_kctx *c, float *buf, const float *w, util_dtype t)
{
    const fz_layer *L = c->L;
    const fz_run *run = &L->run[c->run];
    uint64_t units = run_units(L, run), u = L->u, wpp = L->wpp;
    for (uint32_t i = 0; i < c->n_pre; i++)
        buf[c->pre[i]] = 0.0f;
    for (uint32_t row = 0; row < c->R; row++) {
        float *v = buf + (size_t)row * units * u;
        for (uint32_t i = 0; i < run->k; i++) {
            uint32_t b = map_stage_bit(L->sk, L->stages, run->s0 + i);
            uint32_t lb = b - util_popcount(run->qmask & util_low_mask(b));
            const float *ws = w + (size_t)i * (units / 2) * wpp;
            for (uint64_t p = 0; p < units / 2; p++) {
                uint64_t l0 = util_insert_bit(p, lb, 0), l1 = l0 | (UINT64_C(1) << lb);
                map_pair_apply(L->sk, (uint32_t)u, v + l0 * u, v + l1 * u, ws + p * wpp, t);
            }
        }
    }
    if (L->gelu && c->run + 1 == L->n_runs)
        map_gelu(buf, (uint64_t)c->R * units * u, t);
}

/* (a + b, rounded, into a, when adding, and) each row's sum and sum of squares of the
 * segment, as the partials of ops.c's layernorm keep them (FP32). */
static void norm_stats(const fz_kctx *c, float *buf, util_dtype t, float *aux)
{
    const fz_layer *L = c->L;
    uint32_t R = c->R, len = c->len;
    for (uint32_t r = 0; r < R; r++) {
        float *v = buf + (size_t)r * len;
        const float *b = buf + (size_t)(R + r) * len;
        double s1 = 0, s2 = 0;
        for (uint32_t j = 0; j < len; j++) {
            if (L->add)
                v[j] = util_round_dtype(t, v[j] + b[j]);
            s1 += v[j];
            s2 += (double)v[j] * v[j];
        }
        if (aux)
            aux[2 * r] = (float)s1, aux[2 * r + 1] = (float)s2;
    }
}

static void fz_kernel(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag,
                      float *buf, const float *w, util_dtype t)
{
    const fz_kctx *c = ctx;
    const fz_layer *L = c->L;
    uint32_t R = c->R, len = c->len, ins = L->add ? 2 : 1;
    switch (c->kind) {
    case FZ_K_RUN:
        run_kernel(c, buf, w, t);
        return;
    case FZ_K_NORM_STATS:
        norm_stats(c, buf, t, buf + (size_t)ins * R * len);
        return;
    case FZ_K_NORM_FULL: {
        float *aux = buf + (size_t)ins * R * len;
        norm_stats(c, buf, t, L->norm ? aux : NULL);
        if (!L->norm)
            return;
        /* the reducer's and the apply step's work on the one segment: move the
         * statistics after the rows, as those kernels expect them */
        map_row_ictx one = {R, 1, L->H}, all = {R, len, L->H};
        float *stats = buf + (size_t)R * len;
        float part[4 * FZ_MAX_ROWS];
        memcpy(part, aux, 2 * R * sizeof *part);
        map_ln_reduce(&one, in, repeat, tag, part, w, t);
        memcpy(stats, part + 2 * R, 2 * R * sizeof *stats);
        map_ln_apply(&all, in, repeat, tag, buf, w, t);
        return;
    }
    case FZ_K_NORM_REDUCE: {
        map_row_ictx rc = {R, c->S, L->H};
        map_ln_reduce(&rc, in, repeat, tag, buf, w, t);
        return;
    }
    case FZ_K_NORM_APPLY: {
        map_row_ictx ac = {R, len, L->H};
        map_ln_apply(&ac, in, repeat, tag, buf, w, t);
        return;
    }
    case FZ_K_DENSE: {
        /* partial sums of a K chunk, each rounded to t (as along ops.c's GEMM chains) */
        uint32_t lk = len, lc = c->cols;
        const float *x = buf;
        float *acc = buf + (size_t)R * lk;
        for (uint32_t r = 0; r < R; r++)
            for (uint32_t j = 0; j < lc; j++) {
                double s = c->first ? 0.0 : acc[(size_t)r * lc + j];
                for (uint32_t i = 0; i < lk; i++)
                    s += (double)x[(size_t)r * lk + i] * w[(size_t)i * lc + j];
                acc[(size_t)r * lc + j] = util_round_dtype(t, (float)s);
            }
        if (L->gelu && c->last)
            map_gelu(acc, (uint64_t)R * lc, t);
        return;
    }
    }
}

/* ---------------------------------------------------------------- instructions */

int fz_layer_instrs(const fz_group *g, const fz_layer *L, eng_instr *ins, fz_kctx *ctx,
                    uint64_t *waddr, map_store *st)
{
    (void)st;
    uint32_t n = fz_layer_n_instr(L);
    for (uint32_t i = 0; i < n; i++) {
        eng_instr *in = &ins[i];
        fz_kctx *c = &ctx[i];
        fz_kkind kind;
        instr_cost(g, L, i, in, &kind);
        in->pe = fz_pe_of(g, L->slot0 + instr_slot(L, i));
        in->op = ENG_OP_KERNEL;
        in->weight_addr = *waddr;
        in->weight_parts = fz_weight_parts(g, L, in);
        in->kernel = fz_kernel;
        in->kernel_ctx = c;
        *waddr += in->weight_elems;
        *c = (fz_kctx){.kind = kind, .L = L, .R = g->R};
        if (L->kind == FZ_RUNS) {
            uint32_t r = 0;
            while (r + 1 < L->n_runs && i >= fz_run_first(L, r + 1))
                r++;
            c->run = r, c->q = i - fz_run_first(L, r);
        } else if (L->kind == FZ_NORM) {
            uint64_t c0;
            norm_seg(L, i % L->S, &c0, &c->len);
            c->S = L->S;
        } else {
            uint64_t c0, k0;
            dense_tile(L, i / L->K, i % L->K, &c0, &c->cols, &k0, &c->len);
            c->first = i % L->K == 0, c->last = i % L->K + 1 == L->K;
        }
    }
    return UTIL_OK;
}

int fz_layer_padding(const fz_group *g, const fz_layer *L, fz_kctx *ctx, map_store *st)
{
    if (L->kind != FZ_RUNS)
        return UTIL_OK;
    const fz_run *run = &L->run[0];
    uint64_t units = run_units(L, run), keep = util_low_mask(L->stages) & ~run->qmask;
    for (uint32_t q = 0; q < (1u << run->p); q++) {
        fz_kctx *c = &ctx[q];
        uint32_t n = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (uint32_t row = 0; row < g->R; row++)
                for (uint64_t l = 0; l < units; l++) {
                    uint64_t j = util_deposit_bits(l, keep) | util_deposit_bits(q, run->qmask);
                    for (uint64_t e = 0; e < L->u; e++) {
                        uint64_t col = L->re_in ? j : j * L->u + e;
                        bool real = L->re_in ? e == 0 && j < L->in_cols : col < L->in_cols;
                        if (real)
                            continue;
                        if (pass)
                            c->pre[n] = (uint32_t)((row * units + l) * L->u + e);
                        n++;
                    }
                }
            if (!pass) {
                c->pre = map_keep(st, n, sizeof *c->pre);
                if (!c->pre)
                    return UTIL_ERUN;
                c->n_pre = n, n = 0;
            }
        }
    }
    return UTIL_OK;
}

/* ---------------------------------------------------------------- weights */

void fz_write_weights(const fz_group *g, const fz_prog *p, uint32_t k, const float *w, float *image)
{
    for (uint32_t l = 0; l < g->n_l; l++) {
        const fz_layer *L = &g->l[l];
        /* the op whose weights the layer holds: a norm's layernorm */
        uint32_t owner = L->kind != FZ_NORM  ? L->op
                         : L->op2 != FZ_NONE ? L->op2
                         : L->norm           ? L->op
                                             : FZ_NONE;
        if (owner != k || (!w && !(L->kind == FZ_RUNS && L->sk == MAP_ST_FFT)))
            continue;
        const eng_instr *ins = p->instr[L->seg] + L->i0;
        for (uint32_t i = 0; i < fz_layer_n_instr(L); i++) {
            float *dst = image + ins[i].weight_addr;
            if (L->kind == FZ_RUNS) {
                uint32_t r = 0;
                while (r + 1 < L->n_runs && i >= fz_run_first(L, r + 1))
                    r++;
                const fz_run *run = &L->run[r];
                uint64_t units = run_units(L, run), q = i - fz_run_first(L, r);
                uint64_t keep = util_low_mask(L->stages) & ~run->qmask;
                for (uint32_t s = 0; s < run->k; s++) {
                    uint32_t b = map_stage_bit(L->sk, L->stages, run->s0 + s);
                    uint32_t lb = b - util_popcount(run->qmask & util_low_mask(b));
                    for (uint64_t pr = 0; pr < units / 2; pr++) {
                        uint64_t l0 = util_insert_bit(pr, lb, 0);
                        uint64_t j0 =
                            util_deposit_bits(l0, keep) | util_deposit_bits(q, run->qmask);
                        map_pair_weights(L->sk, L->N, L->stages, L->wpp, run->s0 + s, j0, w, g->dt,
                                         dst + ((uint64_t)s * (units / 2) + pr) * L->wpp);
                    }
                }
            } else if (L->kind == FZ_NORM) {
                if (!ins[i].weight_elems)
                    continue;
                uint64_t c0;
                uint32_t len;
                norm_seg(L, i % L->S, &c0, &len);
                /* gamma then beta of the segment (wl_op_weights: gamma, then beta) */
                memcpy(dst, w + c0, len * sizeof *dst);
                memcpy(dst + len, w + L->H + c0, len * sizeof *dst);
            } else {
                uint64_t c0, k0;
                uint32_t lc, lk;
                dense_tile(L, i / L->K, i % L->K, &c0, &lc, &k0, &lk);
                for (uint32_t x = 0; x < lk; x++)
                    memcpy(dst + (size_t)x * lc, w + (k0 + x) * L->nout + c0, lc * sizeof *dst);
            }
        }
    }
}
