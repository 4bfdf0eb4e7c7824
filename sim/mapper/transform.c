/* transform.c: the stage-per-layer mapping of a model's transform ops (butterfly, block
 * butterfly, sequence butterfly, Fourier mixing, fft-compress): groups, passes, tags,
 * transfers, kernels and weights (layouts in transform_layout.c, searches in
 * transform_search.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transform.h"

uint32_t map_stage_bit(map_stage_kind kind, uint32_t stages, uint32_t s)
{
    return kind == MAP_ST_FFT ? stages - 1 - s : s;
}

static uint32_t stage_bit(const tgroup *gr, uint32_t s)
{
    return map_stage_bit(gr->kind, gr->stages, s);
}

/* Tag bit of vector bit b in a pass: its rank in the window of a split group. */
static uint32_t tag_bit(const tgroup *gr, const tpass *ps, uint32_t b)
{
    if (!gr->split)
        return b;
    uint32_t r = 0;
    for (uint32_t i = 0; i < b; i++)
        r += (uint32_t)(ps->W >> i) & 1u;
    return r;
}

/* Storage unit held at buffer unit lu by PE row r at a stage on tag bit b. */
static uint64_t unit_at(const map_geom *g, uint32_t r, uint32_t b, uint64_t lu)
{
    uint32_t beta = map_geom_pair_bit(g, b);
    uint64_t q = (uint64_t)r * g->m + util_remove_bit(lu, beta);
    return util_insert_bit(q, b, (uint32_t)(lu >> beta) & 1u);
}

/* Natural index of storage unit j of a vector. */
static uint64_t natural(const tport *p, uint64_t N, uint64_t j)
{
    return p->reversed ? util_bit_reverse(j, util_log2(N)) : j;
}

/* Line (within its tag) and line index of unit e of a tag of chunk ch. */
static void tag_unit(const tgroup *gr, const tpass *ps, uint64_t ch, uint64_t e, uint64_t *l,
                     uint64_t *i)
{
    uint64_t Nl = gr->Vl * gr->N;
    if (!gr->split) {
        *l = e / Nl;
        *i = e % Nl;
        return;
    }
    *l = 0;
    *i = util_deposit_bits(e, ps->W) | util_deposit_bits(ch, (Nl - 1) & ~ps->W);
}

/* DRAM offset from its tag's first line of element k of unit i of tag line l, or -1 when
 * it is padding (input) or dropped (output). */
static int64_t elem_offset(const tport *p, const tgroup *gr, uint64_t l, uint64_t i, uint64_t k)
{
    uint64_t line = l * p->A, N = gr->N, kd = k;
    if (p->map == PM_IDENT)
        return (int64_t)(line + i * gr->u + k);
    if (p->re_only) {
        if (k & 1)
            return -1;
        kd = k / 2;
    }
    uint64_t ud = p->re_only ? gr->u / 2 : gr->u, q = natural(p, N, i % N);
    if (p->map == PM_ROWS) {
        uint64_t f = q * ud + kd;
        return f < p->lim ? (int64_t)(line + f) : -1;
    }
    uint64_t t = (i / N) * N + q;
    return t < p->lim ? (int64_t)(line + t * p->stride + kd) : -1;
}

/* Output elements of unit i that the last column zeroes (dropped coefficients). */
static bool zeroed(const tport *p, const tgroup *gr, uint64_t i)
{
    return p->map != PM_IDENT && natural(p, gr->N, i % gr->N) >= p->keep;
}

/* DMA pattern of the tag of chunk ch whose first line is L (from line0 on the op's
 * ports, from 0 in an intermediate at base). */
static void side_dma(const tside *sd, uint64_t base, uint64_t line0, uint64_t L, uint64_t ch,
                     eng_pattern *out)
{
    const tport *p = &sd->port;
    if (p->map != PM_IDENT)
        L += line0;
    uint64_t first = base + (L / p->G) * p->A + (L % p->G) * p->Bc + sd->first[ch];
    *out = (eng_pattern){first, sd->pat.run, sd->pat.stride, sd->pat.count};
}

/* Tags run chunk by chunk (one phase repeat each), all line tags in each; or, with the
 * weights resident, line tag by line tag, each one's chunks in turn. */
static void tag_dma(const void *ctx, uint64_t tag, eng_tag_io *io)
{
    const tphase *f = ctx;
    const tpass *ps = f->ps;
    uint64_t ch = tag / f->n_ltags, L = (tag % f->n_ltags) * ps->Lt;
    if (ps->resident)
        ch = tag % ps->chunks, L = tag / ps->chunks * ps->Lt;
    io->n_in = io->n_out = 1;
    side_dma(&ps->in, f->in_base, f->line0, L, ch, &io->in[0]);
    side_dma(&ps->out, f->out_base, f->line0, L, ch, &io->out[0]);
}

/* The padded layout of intermediates: line after line (base set once DRAM is laid out). */
static tport ident_port(const tgroup *gr)
{
    return (tport){0, 1, gr->Vl * gr->N * gr->u, 0, 0, PM_IDENT, 0, false, false, 0};
}

/* ---------------------------------------------------------------- kernel */

void map_pair_apply(map_stage_kind kind, uint32_t u, float *x0, float *x1, const float *w,
                    util_dtype t)
{
    /* Products and sums in double, one rounding per result (a wide accumulator). */
    if (kind == MAP_ST_RBFLY) {
        for (uint32_t e = 0; e < u; e++) {
            double a = x0[e], b = x1[e];
            x0[e] = util_round_dtype(t, (float)((double)w[0] * a + (double)w[1] * b));
            x1[e] = util_round_dtype(t, (float)((double)w[2] * a + (double)w[3] * b));
        }
    } else if (kind == MAP_ST_FFT) {
        double wr = w[0], wi = w[1];
        for (uint32_t e = 0; e < u; e += 2) {
            double ar = x0[e], ai = x0[e + 1], br = x1[e], bi = x1[e + 1];
            double dr = ar - br, di = ai - bi;
            x0[e] = util_round_dtype(t, (float)(ar + br));
            x0[e + 1] = util_round_dtype(t, (float)(ai + bi));
            x1[e] = util_round_dtype(t, (float)(dr * wr - di * wi));
            x1[e + 1] = util_round_dtype(t, (float)(dr * wi + di * wr));
        }
    } else {
        /* y0 = D1 x0 + D2 x1, y1 = D3 x0 + D4 x1 (ref_block_butterfly) */
        double xs[2 * MAP_MAX_TILE];
        size_t bb = (size_t)u * u;
        for (uint32_t e = 0; e < u; e++) {
            xs[e] = x0[e];
            xs[u + e] = x1[e];
        }
        for (uint32_t i = 0; i < u; i++) {
            double y0 = 0.0, y1 = 0.0;
            for (uint32_t j = 0; j < u; j++) {
                y0 += (double)w[i * u + j] * xs[j] + (double)w[bb + i * u + j] * xs[u + j];
                y1 += (double)w[2 * bb + i * u + j] * xs[j] +
                      (double)w[3 * bb + i * u + j] * xs[u + j];
            }
            x0[i] = util_round_dtype(t, (float)y0);
            x1[i] = util_round_dtype(t, (float)y1);
        }
    }
}

static void stage_kernel(const void *c, const eng_instr *in, uint64_t repeat, uint64_t tag,
                         float *buf, const float *w, util_dtype t)
{
    (void)repeat;
    (void)tag;
    const kctx *k = c;
    uint32_t u = k->u, pairs = in->local_elems / (2 * u), bit = in->param;
    size_t wpp = k->kind == MAP_ST_RBFLY ? 4 : k->kind == MAP_ST_FFT ? 2 : (size_t)4 * u * u;
    for (uint32_t i = 0; i < k->n_pre; i++)
        buf[k->pre[i]] = 0.0f;
    for (uint32_t p = 0; p < pairs; p++) {
        uint32_t l0 = (uint32_t)util_insert_bit(p, bit, 0), l1 = l0 | (1u << bit);
        map_pair_apply(k->kind, u, buf + (size_t)l0 * u, buf + (size_t)l1 * u, w + p * wpp, t);
    }
    if (k->gelu)
        map_gelu(buf, in->local_elems, t);
    for (uint32_t i = 0; i < k->n_post; i++)
        buf[k->post[i]] = 0.0f;
}

/* A real pair is mul, mac, mul, mac per element; a complex DIF pair is a + b and a - b on
 * the adder (4 lanes) and (a - b) w as mul, mac, mul, mac (4 lanes); a tile pair is four
 * B x B matrix-vector products, B MACs of ceil(B / lanes) vectors each. */
void map_stage_cost(map_stage_kind kind, uint64_t u, uint64_t m, uint32_t lanes, eng_instr *in)
{
    if (kind == MAP_ST_RBFLY) {
        in->vec_ops[ARCH_FU_MAC] += (uint32_t)(4 * util_ceil_div(m * u, lanes));
        in->lane_ops += 4 * m * u;
    } else if (kind == MAP_ST_FFT) {
        uint64_t cp = m * u / 2;
        in->vec_ops[ARCH_FU_MAC] += (uint32_t)(4 * util_ceil_div(cp, lanes));
        in->vec_ops[ARCH_FU_ADD] += (uint32_t)(4 * util_ceil_div(cp, lanes));
        in->lane_ops += 8 * cp;
    } else {
        in->vec_ops[ARCH_FU_MAC] += (uint32_t)(m * 4 * u * util_ceil_div(u, lanes));
        in->lane_ops += 4 * u * u * m;
    }
}

/* ---------------------------------------------------------------- sizes */

/* PE rows and pairs per PE for a tag of `units` units; false when it does not fit. */
static bool fits(const arch_desc *a, util_dtype dt, uint64_t u, uint64_t units, uint64_t wpp,
                 map_geom *g)
{
    uint64_t w = util_dtype_bytes(dt);
    uint64_t R = UINT64_C(1) << util_log2(a->array.rows);
    if (units < 2 || units * u > MAP_MAX_TAG_ELEMS)
        return false;
    if (R > units / 2)
        R = units / 2;
    uint64_t m = units / (2 * R);
    /* operand slots and weights in the PE; 2 input + 2 output slots and 2 weight
     * staging buffers in the SPM */
    uint64_t pe_bytes = ((uint64_t)a->pe.tags * 2 * m * u + wpp * m) * w;
    uint64_t spm_bytes = (4 * units * u + 2 * wpp * m) * w;
    if (pe_bytes > a->pe.buffer_bytes || spm_bytes > arch_spm_bytes(a) || 2 * m * u > UINT32_MAX ||
        wpp * m > UINT32_MAX)
        return false;
    *g = (map_geom){units, m, util_log2(m), (uint32_t)R};
    return true;
}

/* Whether a split pass's PEs can hold the weights of every chunk at once beside their
 * operand slots (and the SPM can stage one instruction's): its tags fit with chunks
 * times the weights per pair. */
static bool chunks_resident(const arch_desc *a, util_dtype dt, const tgroup *gr, const tpass *ps)
{
    map_geom g;
    return ps->chunks > 1 && fits(a, dt, gr->u, gr->T, gr->wpp * ps->chunks, &g);
}

static uint64_t pow2_factor(uint64_t x)
{
    return x & (~x + 1);
}

/* ---------------------------------------------------------------- tag sides */

enum { SIDE_OK = 0, SIDE_BAD, SIDE_OOM };

typedef struct ukey {
    uint64_t off, e;
} ukey;

static int cmp_ukey(const void *x, const void *y)
{
    uint64_t a = ((const ukey *)x)->off, b = ((const ukey *)y)->off;
    return a < b ? -1 : a > b;
}

/* The one strided pattern that lists ascending offsets o[0..n), relative to o[0]. */
static bool find_pattern(const uint64_t *o, uint64_t n, eng_pattern *p)
{
    if (n == 0)
        return false;
    uint64_t run = 1;
    while (run < n && o[run] == o[0] + run)
        run++;
    if (n % run)
        return false;
    uint64_t count = n / run, stride = count > 1 ? o[run] - o[0] : run;
    if (stride < run)
        return false;
    for (uint64_t s = 0; s < n; s++)
        if (o[s] != o[0] + (s / run) * stride + s % run)
            return false;
    *p = (eng_pattern){0, run, stride, count};
    return true;
}

static void side_free(tside *sd)
{
    free(sd->first);
    free(sd->slot);
    sd->first = NULL;
    sd->slot = NULL;
}

/* Slot positions of a pass side: DMA packs a tag's real elements in DRAM order, so a
 * position is an element's rank by offset in chunk 0; every other chunk must have the
 * same real (and, on the output, zeroed) elements at the same pattern offsets. */
static int build_side(const tgroup *gr, const tpass *ps, const tport *port, bool output, tside *sd)
{
    uint64_t T = gr->T, u = gr->u, n = 0, real = 0;
    sd->port = *port;
    sd->slot = malloc(T * u * sizeof *sd->slot);
    sd->first = malloc(ps->chunks * sizeof *sd->first);
    ukey *keys = malloc(T * sizeof *keys);
    uint64_t *offs = malloc(T * u * sizeof *offs);
    int rc = sd->slot && sd->first && keys && offs ? SIDE_OK : SIDE_OOM;
    for (uint64_t e = 0; e < T && !rc; e++) {
        uint64_t l, i;
        tag_unit(gr, ps, 0, e, &l, &i);
        for (uint64_t k = 0; k < u; k++)
            sd->slot[e * u + k] = -1;
        int64_t o = elem_offset(port, gr, l, i, 0);
        if (o >= 0)
            keys[n++] = (ukey){(uint64_t)o, e};
    }
    if (!rc)
        qsort(keys, n, sizeof *keys, cmp_ukey);
    for (uint64_t x = 0; x < n && !rc; x++) {
        uint64_t l, i, e = keys[x].e;
        tag_unit(gr, ps, 0, e, &l, &i);
        for (uint64_t k = 0; k < u; k++) {
            int64_t o = elem_offset(port, gr, l, i, k);
            if (o >= 0) {
                offs[real] = (uint64_t)o;
                sd->slot[e * u + k] = (int64_t)real++;
            }
        }
    }
    if (!rc && !find_pattern(offs, real, &sd->pat))
        rc = SIDE_BAD;
    if (!rc) {
        sd->elems = real;
        sd->first[0] = offs[0];
    }
    /* the element at slot position 0 locates every chunk */
    uint64_t at0 = n ? keys[0].e * u : 0;
    while (!rc && sd->slot[at0] != 0)
        at0++;
    for (uint64_t ch = 1; ch < ps->chunks && !rc; ch++) {
        uint64_t l, i;
        tag_unit(gr, ps, ch, at0 / u, &l, &i);
        int64_t f = elem_offset(port, gr, l, i, at0 % u);
        if (f < 0) {
            rc = SIDE_BAD;
            break;
        }
        sd->first[ch] = (uint64_t)f;
        for (uint64_t e = 0; e < T && !rc; e++) {
            uint64_t l0, i0;
            tag_unit(gr, ps, ch, e, &l, &i);
            if (output) {
                tag_unit(gr, ps, 0, e, &l0, &i0);
                if (zeroed(port, gr, i) != zeroed(port, gr, i0))
                    rc = SIDE_BAD;
            }
            /* (a unit of the padded or sequence layout is one run of offsets, its real
             * elements every one or every other: its first two and last two elements
             * stand for all; rows may crop inside a unit) */
            bool ends = port->map != PM_ROWS && u >= 4;
            for (uint64_t k = 0; k < u && !rc; k += ends && k == 1 ? u - 3 : 1) {
                int64_t o = elem_offset(port, gr, l, i, k), s = sd->slot[e * u + k];
                uint64_t want = s < 0 ? 0
                                      : (uint64_t)f + ((uint64_t)s / sd->pat.run) * sd->pat.stride +
                                            (uint64_t)s % sd->pat.run;
                if ((o < 0) != (s < 0) || (s >= 0 && (uint64_t)o != want))
                    rc = SIDE_BAD;
            }
        }
    }
    free(keys);
    free(offs);
    if (rc)
        side_free(sd);
    return rc;
}

/* Both sides of a pass; the intermediates' bases are set later. */
static int build_sides(const tgroup *gr, tpass *ps)
{
    tport mid = ident_port(gr);
    int rc = build_side(gr, ps, ps->s0 == 0 ? &gr->in : &mid, false, &ps->in);
    if (rc)
        return rc;
    rc = build_side(gr, ps, ps->s0 + ps->k == gr->stages ? &gr->out : &mid, true, &ps->out);
    if (rc)
        side_free(&ps->in);
    return rc;
}

/* A window for stages s0 .. s0+k-1 of a split group: log2 T line bits that hold the
 * stages' bits, as one run of low bits and one run higher up (one DMA pattern), low
 * runs first (longer DRAM runs). */
static int find_window(const tgroup *gr, tpass *ps)
{
    uint32_t t = util_log2(gr->T), Lb = util_log2(gr->Vl * gr->N), k = ps->k;
    uint32_t sb = gr->kind == MAP_ST_FFT ? gr->stages - ps->s0 - k : ps->s0;
    uint64_t M = util_low_mask(k) << sb;
    for (uint32_t lo = t + 1; lo-- > 0;) {
        uint32_t hi = t - lo;
        for (uint32_t b = hi ? lo + 1 : 0; b + hi <= Lb; b++) {
            uint64_t W = util_low_mask(lo) | (util_low_mask(hi) << b);
            if ((W & M) != M)
                continue;
            ps->W = W;
            int rc = build_sides(gr, ps);
            if (rc != SIDE_BAD)
                return rc;
            if (!hi)
                break;
        }
    }
    return SIDE_BAD;
}

/* Passes of a group from stage s0 on, into ps[np..]: the most stages per pass that leave
 * a plan for the rest (dead[s] marks stages from which none exists). */
static int plan_from(const tgroup *gr, uint32_t C, uint32_t gi, uint32_t s0, tpass *ps, uint32_t np,
                     uint32_t *n_out, bool *dead)
{
    if (s0 == gr->stages) {
        *n_out = np;
        return SIDE_OK;
    }
    if (dead[s0])
        return SIDE_BAD;
    uint32_t t = util_log2(gr->T), kmax = gr->stages - s0 < C ? gr->stages - s0 : C;
    if (gr->split && kmax > t)
        kmax = t;
    for (uint32_t k = kmax; k >= 1; k--) {
        tpass *p = &ps[np];
        memset(p, 0, sizeof *p);
        p->grp = gi;
        p->s0 = s0;
        p->k = k;
        p->Lt = gr->Lt;
        p->chunks = gr->split ? gr->Vl * gr->N / gr->T : 1;
        p->n_ltags = gr->n_lines / gr->Lt;
        p->W = util_low_mask(util_log2(gr->Vl * gr->N));
        int rc = gr->split ? find_window(gr, p) : build_sides(gr, p);
        if (rc == SIDE_OOM)
            return rc;
        if (rc == SIDE_OK) {
            rc = plan_from(gr, C, gi, s0 + k, ps, np + 1, n_out, dead);
            if (rc == SIDE_OK || rc == SIDE_OOM)
                return rc;
            side_free(&p->in);
            side_free(&p->out);
        }
        if (!gr->split)
            break; /* whole lines: passes of `cols` stages */
    }
    dead[s0] = true;
    return SIDE_BAD;
}

/* A way to cut a group into tags: c columns per unit (sequence groups), Lt lines or
 * (split) T units of a line per tag. */
typedef struct tcand {
    uint64_t c, Lt, T, elems;
    uint32_t passes;
    bool split;
} tcand;

/* Fewest passes, then the largest tags, then the widest units. */
static int cmp_cand(const void *x, const void *y)
{
    const tcand *a = x, *b = y;
    if (a->passes != b->passes)
        return a->passes < b->passes ? -1 : 1;
    if (a->elems != b->elems)
        return a->elems > b->elems ? -1 : 1;
    return a->c > b->c ? -1 : a->c < b->c;
}

static int push_cand(const arch_desc *a, util_dtype dt, const tgroup *gr, uint64_t c, uint64_t u,
                     uint64_t Lt, uint64_t T, bool split, tcand **v, size_t *n, size_t *cap)
{
    map_geom g;
    if (!fits(a, dt, u, T, gr->wpp, &g))
        return UTIL_OK;
    uint32_t per = a->array.cols, t = util_log2(T);
    if (split && t < per)
        per = t;
    if (util_reserve((void **)v, cap, *n + 1, sizeof **v))
        return UTIL_ERUN;
    (*v)[(*n)++] = (tcand){c, Lt, T, T * u, (gr->stages + per - 1) / per, split};
    return UTIL_OK;
}

/* Tags for a group: every way that fits, best first, until one has a plan of passes
 * (written to ps, *np of them). Sequence groups (H set) choose their columns per unit. */
static int plan_group(const arch_desc *a, util_dtype dt, tgroup *gr, uint32_t gi, tpass *ps,
                      uint32_t *np, const char *what, char *err, size_t errlen)
{
    tcand *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t Nl = gr->Vl * gr->N;
    int rc = UTIL_OK;
    for (uint64_t c = gr->H ? gr->H : 1; c >= 1 && !rc; c--) {
        if (gr->H && (gr->H % c || (gr->want_cols && c != gr->want_cols)))
            continue;
        uint64_t u = gr->H ? c * gr->cpl : gr->u;
        /* whole lines: several rows per tag when they divide the rows (not when the tags
         * are held to parts of lines) */
        uint64_t lmax = gr->H ? 1 : pow2_factor(gr->n_lines);
        for (uint64_t Lt = lmax; Lt >= 1 && !rc && !gr->max_units; Lt /= 2)
            rc = push_cand(a, dt, gr, c, u, Lt, Lt * Nl, false, &v, &n, &cap);
        for (uint64_t T = Nl / 2; T >= 2 && !rc; T /= 2)
            if (!gr->max_units || T <= gr->max_units)
                rc = push_cand(a, dt, gr, c, u, 1, T, true, &v, &n, &cap);
    }
    if (v)
        qsort(v, n, sizeof *v, cmp_cand);
    bool dead[TR_MAX_BITS + 1];
    uint64_t H = gr->H;
    int prc = SIDE_BAD;
    for (size_t i = 0; i < n && !rc && prc == SIDE_BAD; i++) {
        tcand *cd = &v[i];
        gr->Lt = cd->Lt;
        gr->T = cd->T;
        gr->split = cd->split;
        if (H) {
            gr->cols = cd->c;
            gr->u = cd->c * gr->cpl;
            gr->n_lines = gr->n_lines / gr->in.G * (H / cd->c);
            gr->in.G = gr->out.G = H / cd->c;
            gr->in.Bc = gr->in.re_only ? gr->u / 2 : gr->u;
            gr->out.Bc = gr->out.re_only ? gr->u / 2 : gr->u;
        }
        memset(dead, 0, sizeof dead);
        prc = plan_from(gr, a->array.cols, gi, 0, ps, 0, np, dead);
        if (prc == SIDE_OOM)
            rc = UTIL_ERUN;
    }
    free(v);
    if (rc)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping");
    if (prc == SIDE_OK)
        return UTIL_OK;
    if (H)
        return util_fail(UTIL_ERUN, err, errlen,
                         "cannot map %s: no tag of %llu tokens x %llu elements per column (or of "
                         "a part of them) fits the PE buffer (%u bytes) and the SPM (%llu "
                         "bytes) with a layout DMA can follow",
                         what, (unsigned long long)Nl, (unsigned long long)gr->cpl,
                         a->pe.buffer_bytes, (unsigned long long)arch_spm_bytes(a));
    return util_fail(UTIL_ERUN, err, errlen,
                     "cannot map %s: no part of a vector of %llu x %llu elements with %llu "
                     "weights per pair fits the PE buffer (%u bytes) and the SPM (%llu "
                     "bytes) with a layout DMA can follow",
                     what, (unsigned long long)gr->N, (unsigned long long)gr->u,
                     (unsigned long long)gr->wpp, a->pe.buffer_bytes,
                     (unsigned long long)arch_spm_bytes(a));
}

/* ---------------------------------------------------------------- transfers */

/* Grows a list of buffer positions (zero lists). */
static int push_u32(uint32_t **v, uint32_t *n, size_t *cap, uint32_t x)
{
    if (util_reserve((void **)v, cap, (size_t)*n + 1, sizeof **v))
        return UTIL_ERUN;
    (*v)[(*n)++] = x;
    return UTIL_OK;
}

/* Transfers between the SPM slot of one side and the PEs of its column (the first column
 * reads the input slot, the last writes the output slot): each PE moves the real
 * elements of its units; on the input its kernel zeroes the padding (a PE with none gets
 * one element, to fire), on the output it zeroes dropped coefficients and sends
 * nothing of elements DMA does not write back, except one element behind the written-back
 * ones from a PE with none (so that the tag completes after every PE fired); *extra counts
 * those. */
static int edge_xfers(const arch_desc *a, tmap *tm, const tgroup *gr, const tpass *ps, uint32_t bit,
                      kctx *ctx, map_xlist *xl, bool output, bool functional, uint64_t *extra)
{
    const map_geom *g = &ps->g;
    const tside *sd = output ? &ps->out : &ps->in;
    uint64_t u = gr->u, local = 2 * g->m * u;
    uint32_t col = output ? ps->k - 1 : 0;
    map_pospair *pp = malloc(local * sizeof *pp);
    int rc = pp ? UTIL_OK : UTIL_ERUN;
    for (uint32_t r = 0; r < g->rows && !rc; r++) {
        kctx *kc = &ctx[r];
        size_t n = 0, cap = 0;
        for (uint64_t lu = 0; lu < 2 * g->m && !rc; lu++) {
            uint64_t e = unit_at(g, r, bit, lu), l, i;
            tag_unit(gr, ps, 0, e, &l, &i);
            bool zero = output && functional && zeroed(&sd->port, gr, i);
            for (uint64_t k = 0; k < u && !rc; k++) {
                int64_t pos = sd->slot[e * u + k];
                uint32_t lp = (uint32_t)(lu * u + k);
                if (pos >= 0)
                    pp[n++] = (map_pospair){(uint64_t)pos, lp};
                else if (!output && functional)
                    rc = push_u32(&kc->pre, &kc->n_pre, &cap, lp);
                if (zero && !rc)
                    rc = push_u32(&kc->post, &kc->n_post, &cap, lp);
            }
        }
        if (rc)
            break;
        if (n == 0)
            pp[n++] = output ? (map_pospair){sd->elems + (*extra)++, 0}
                             : (map_pospair){0, kc->n_pre ? kc->pre[0] : 0};
        qsort(pp, n, sizeof *pp, map_cmp_pospair);
        rc = map_slot_xfers(xl, &tm->blocks, pp, n, (int32_t)(col * g->rows + r), output,
                            eng_spm_port_near(a, r * a->array.cols + col), functional,
                            TR_MAX_PE_XFERS);
    }
    free(pp);
    return rc;
}

/* Column l to column l+1: the existing mapping's exchange, a unit at a time. */
static int column_xfers(tmap *tm, const tgroup *gr, const tpass *ps, const uint32_t *bits,
                        uint32_t l, map_xlist *xl, bool functional)
{
    const map_geom *g = &ps->g;
    uint32_t R = g->rows;
    uint64_t u = gr->u;
    uint64_t *count = calloc((size_t)R * R, sizeof *count), *fill = NULL;
    size_t *index = calloc((size_t)R * R, sizeof *index);
    int rc = count && index ? UTIL_OK : UTIL_ERUN;
    for (uint64_t e = 0; e < g->T && !rc; e++)
        count[map_geom_owner(g, e, bits[l]) * R + map_geom_owner(g, e, bits[l + 1])] += u;
    for (uint32_t c = 0; c < R * R && !rc; c++) {
        if (!count[c])
            continue;
        index[c] = xl->n;
        eng_xfer *t = map_push_xfer(xl);
        if (!t) {
            rc = UTIL_ERUN;
            break;
        }
        t->src_instr = (int32_t)(l * R + c / R);
        t->dst_instr = (int32_t)((l + 1) * R + c % R);
        t->elems = (uint32_t)count[c];
        if (functional) {
            uint32_t *sp = map_keep(&tm->blocks, count[c], sizeof *sp),
                     *dp = sp ? map_keep(&tm->blocks, count[c], sizeof *dp) : NULL;
            if (!dp)
                rc = UTIL_ERUN;
            t->src_pos = sp;
            t->dst_pos = dp;
        }
    }
    if (functional && !rc) {
        fill = calloc((size_t)R * R, sizeof *fill);
        rc = fill ? UTIL_OK : UTIL_ERUN;
        for (uint64_t e = 0; e < g->T && !rc; e++) {
            uint32_t c = map_geom_owner(g, e, bits[l]) * R + map_geom_owner(g, e, bits[l + 1]);
            eng_xfer *t = &xl->x[index[c]];
            uint32_t s0 = map_geom_local_pos(g, e, bits[l]) * (uint32_t)u;
            uint32_t d0 = map_geom_local_pos(g, e, bits[l + 1]) * (uint32_t)u;
            for (uint64_t k = 0; k < u; k++, fill[c]++) {
                ((uint32_t *)t->src_pos)[fill[c]] = s0 + (uint32_t)k;
                ((uint32_t *)t->dst_pos)[fill[c]] = d0 + (uint32_t)k;
            }
        }
    }
    free(count);
    free(index);
    free(fill);
    return rc;
}

/* ---------------------------------------------------------------- building */

static int build_pass(const arch_desc *a, util_dtype dt, tmap *tm, uint32_t p, eng_instr *ins,
                      kctx *ctx, uint64_t *waddr, bool functional)
{
    tpass *ps = &tm->pass[p];
    const tgroup *gr = &tm->grp[ps->grp];
    const map_geom *g = &ps->g;
    uint32_t bits[TR_MAX_BITS], lanes = arch_lanes(a, dt), n_instr = ps->k * g->rows;
    for (uint32_t l = 0; l < ps->k; l++)
        bits[l] = tag_bit(gr, ps, stage_bit(gr, ps->s0 + l));
    /* resident: an instruction's weights for every chunk in a row; else each chunk's
     * weights of all instructions follow the previous chunk's */
    uint64_t set = gr->wpp * g->m, sets = ps->resident ? ps->chunks : 1;
    ps->wstep = ps->resident ? set : (uint64_t)n_instr * set;
    for (uint32_t l = 0; l < ps->k; l++) {
        for (uint32_t r = 0; r < g->rows; r++) {
            eng_instr *in = &ins[l * g->rows + r];
            kctx *kc = &ctx[l * g->rows + r];
            kc->kind = gr->kind;
            kc->u = (uint32_t)gr->u;
            in->pe = r * a->array.cols + l;
            in->op = ENG_OP_KERNEL;
            map_stage_cost(gr->kind, gr->u, g->m, lanes, in);
            in->local_elems = (uint32_t)(2 * g->m * gr->u);
            in->param = map_geom_pair_bit(g, bits[l]);
            in->weight_elems = (uint32_t)(set * sets);
            in->weight_addr = *waddr;
            in->weight_sets = (uint32_t)sets;
            in->kernel = stage_kernel;
            in->kernel_ctx = kc;
            kc->gelu = tm->gelu_out && p + 1 == tm->n_pass && l + 1 == ps->k;
            if (kc->gelu) {
                /* every element is computed; only the kept outputs are useful work */
                uint64_t useful = in->lane_ops;
                map_gelu_cost(1, in->local_elems, lanes, in);
                in->lane_ops = useful + (in->lane_ops - useful) * tm->kept / tm->size;
            }
            *waddr += in->weight_elems;
        }
    }
    if (!ps->resident)
        *waddr += (ps->chunks - 1) * ps->wstep;
    map_xlist xl = {NULL, 0, 0};
    uint64_t extra = 0, none = 0;
    int rc = edge_xfers(a, tm, gr, ps, bits[0], ctx, &xl, false, functional, &none);
    for (uint32_t l = 0; l + 1 < ps->k && !rc; l++)
        rc = column_xfers(tm, gr, ps, bits, l, &xl, functional);
    if (!rc)
        rc = edge_xfers(a, tm, gr, ps, bits[ps->k - 1], ctx + (size_t)(ps->k - 1) * g->rows, &xl,
                        true, functional, &extra);
    tm->xf[p] = xl.x;
    if (rc)
        return rc;
    uint64_t outs = ps->out.elems + extra, slot = ps->in.elems > outs ? ps->in.elems : outs;
    tm->phases[p] = (eng_phase){.n_instr = n_instr,
                                .instr = ins,
                                .n_xfer = (uint32_t)xl.n,
                                .xfer = xl.x,
                                .n_tags = ps->n_ltags * sets,
                                .repeats = ps->chunks / sets,
                                .weight_stride = ps->resident ? 0 : ps->wstep,
                                .tag_elems = (uint32_t)slot,
                                .in_slots = 2,
                                .out_slots = 2,
                                .tag_dma = tag_dma,
                                .tag_ctx = ps,
                                .out_tag_elems = (uint32_t)outs};
    return UTIL_OK;
}

/* The groups of an op and their DRAM ports (sequence ports per column: plan_group sets
 * the columns per unit); Z (FFT ops) lies at z_addr. */
static int plan_groups(const wl_desc *d, const wl_op *op, const map_op_io *io, tmap *tm,
                       uint64_t z_addr, char *err, size_t errlen)
{
    const map_tensor *x = &io->src0, *y = &io->dst;
    const char *what = wl_op_kind_name(op->kind);
    switch (op->kind) {
    case WL_OP_BUTTERFLY:
    case WL_OP_BLOCK_BFLY: {
        tgroup *gr = &tm->grp[0];
        bool blk = op->kind == WL_OP_BLOCK_BFLY;
        uint64_t B = blk ? op->param : 1;
        if (B > MAP_MAX_TILE || !util_is_pow2(op->n) || B >= op->n)
            return util_fail(UTIL_ERUN, err, errlen,
                             "cannot map %s n=%llu tile %llu: tiles above %d are not supported",
                             what, (unsigned long long)op->n, (unsigned long long)B, MAP_MAX_TILE);
        *gr = (tgroup){blk ? MAP_ST_BLOCK : MAP_ST_RBFLY,
                       util_log2(op->n / B),
                       B,
                       op->n / B,
                       1,
                       4 * B * B,
                       op->rows,
                       0,
                       0,
                       0,
                       0,
                       0,
                       false,
                       {0},
                       {0},
                       0,
                       0};
        gr->in = (tport){x->addr, 1, x->stride, 0, 0, PM_ROWS, op->in, false, false, 0};
        gr->out = (tport){y->addr, 1, y->stride, 0, 0, PM_ROWS, op->out, false, false, op->n};
        tm->n_groups = 1;
        return UTIL_OK;
    }
    case WL_OP_SEQ_BFLY: {
        tgroup *gr = &tm->grp[0];
        uint64_t H = op->in, N = d->seq_len;
        *gr = (tgroup){MAP_ST_RBFLY,
                       util_log2(op->n),
                       1,
                       op->n,
                       1,
                       4,
                       op->groups * H,
                       H,
                       1,
                       0,
                       0,
                       0,
                       false,
                       {0},
                       {0},
                       0,
                       0};
        gr->in = (tport){x->addr, H, N * x->stride, 1, x->stride, PM_SEQ, N, false, false, 0};
        gr->out = (tport){y->addr, H, N * y->stride, 1, y->stride, PM_SEQ, N, false, false, op->n};
        tm->n_groups = 1;
        return UTIL_OK;
    }
    case WL_OP_FFT_MIX:
    case WL_OP_FFT_COMPRESS:
    case WL_OP_FFT_HIDDEN:
    case WL_OP_FFT_SEQ: {
        uint64_t H = op->in, N = d->seq_len, nh = wl_pow2_ceil(H), ns = op->n;
        bool cmp = op->kind == WL_OP_FFT_COMPRESS, seq = op->kind == WL_OP_FFT_SEQ;
        uint64_t chunk = cmp || seq ? op->param : ns, keep = cmp || seq ? op->d : ns;
        /* the halves of a split mixer: Z is the op's output (hidden) or input (seq) */
        if (op->kind == WL_OP_FFT_HIDDEN)
            z_addr = y->addr;
        else if (seq)
            z_addr = x->addr;
        if (nh < 2 || ns < 2 || chunk < 2 || ns % chunk || !util_is_pow2(chunk))
            return util_fail(UTIL_ERUN, err, errlen,
                             "cannot map %s: transform sizes %llu x %llu (chunk %llu) need at "
                             "least 2 points each",
                             what, (unsigned long long)ns, (unsigned long long)nh,
                             (unsigned long long)chunk);
        /* hidden FFT per token: real input, the first H complex outputs go to Z */
        tgroup *g0 = &tm->grp[0], *g1 = &tm->grp[1];
        *g0 = (tgroup){MAP_ST_FFT, util_log2(nh), 2,   nh,  1, 2, op->rows, 0, 0, 0, 0,
                       0,          false,         {0}, {0}, 0, 0};
        g0->in = (tport){x->addr, 1, x->stride, 0, 0, PM_ROWS, H, true, false, 0};
        g0->out = (tport){z_addr, 1, 2 * H, 0, 0, PM_ROWS, 2 * H, false, true, nh};
        /* sequence FFTs per column of Z (lines of ns tokens, vectors of `chunk`), real
         * part out */
        *g1 = (tgroup){MAP_ST_FFT,
                       util_log2(chunk),
                       2,
                       chunk,
                       ns / chunk,
                       2,
                       op->groups * H,
                       H,
                       2,
                       0,
                       0,
                       0,
                       false,
                       {0},
                       {0},
                       0,
                       0};
        g1->in = (tport){z_addr, H, N * 2 * H, 2, 2 * H, PM_SEQ, N, false, false, 0};
        g1->out = (tport){y->addr, H, N * y->stride, 1, y->stride, PM_SEQ, N, true, true, keep};
        tm->n_groups = op->kind == WL_OP_FFT_MIX || cmp ? 2 : 1;
        if (seq)
            *g0 = *g1;
        return UTIL_OK;
    }
    default:
        return util_fail(UTIL_ERUN, err, errlen, "op %s is not a transform", what);
    }
}

static void tmap_free(tmap *tm)
{
    if (!tm)
        return;
    map_store_free(&tm->blocks);
    for (uint32_t i = 0; tm->ctx && i < tm->n_instr; i++) {
        free(tm->ctx[i].pre);
        free(tm->ctx[i].post);
    }
    for (uint32_t p = 0; tm->xf && p < tm->n_pass; p++)
        free(tm->xf[p]);
    for (uint32_t p = 0; tm->pass && p < 2 * TR_MAX_BITS; p++) {
        side_free(&tm->pass[p].in);
        side_free(&tm->pass[p].out);
    }
    tr_layout_free(&tm->lay);
    free(tm->xf);
    free(tm->ctx);
    free(tm->instr);
    free(tm->phases);
    free(tm->pass);
    free(tm);
}

static int oom(tmap *tm, char *err, size_t errlen)
{
    tmap_free(tm);
    return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping");
}

int tr_transform_with(const arch_desc *a, const wl_desc *d, const wl_op *op, const map_op_io *io,
                      bool functional, map_scratch scratch, uint64_t max_block_lines, tshape sh,
                      map_op_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->kind = op->kind;
    tmap *tm = calloc(1, sizeof *tm);
    if (!tm)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping");
    uint32_t C = a->array.cols;
    /* Z (the hidden FFT's kept outputs, complex) lies first above the free address;
     * weights and intermediates follow once the passes are known. */
    bool fft = op->kind == WL_OP_FFT_MIX || op->kind == WL_OP_FFT_COMPRESS; /* Z inside */
    uint64_t z_addr = io->free_addr;
    uint64_t addr = io->free_addr + (fft ? op->rows * 2 * op->in : 0);
    int rc = plan_groups(d, op, io, tm, z_addr, err, errlen);
    if (rc) {
        tmap_free(tm);
        return rc;
    }
    tm->gelu_out = io->gelu_out;
    tm->kept = op->out, tm->size = op->n;
    /* at most one pass per stage in every group */
    tm->pass = calloc(2 * TR_MAX_BITS, sizeof *tm->pass);
    if (!tm->pass)
        return oom(tm, err, errlen);
    for (uint32_t gi = 0; gi < tm->n_groups && !rc; gi++) {
        tgroup *gr = &tm->grp[gi];
        uint32_t np = 0;
        gr->want_cols = sh.cols;
        gr->max_units = gr->H ? sh.max_units : 0;
        if (gr->stages > TR_MAX_BITS || util_log2(gr->Vl * gr->N) > TR_MAX_BITS)
            rc = util_fail(UTIL_ERUN, err, errlen, "cannot map %s: %u stages are too many",
                           wl_op_kind_name(op->kind), gr->stages);
        else
            rc = plan_group(a, d->dtype, gr, gi, tm->pass + tm->n_pass, &np,
                            wl_op_kind_name(op->kind), err, errlen);
        tm->n_pass += np;
    }
    if (rc) {
        tmap_free(tm);
        return rc;
    }
    tm->phases = calloc(tm->n_pass, sizeof *tm->phases);
    tm->xf = calloc(tm->n_pass, sizeof *tm->xf);
    if (!tm->phases || !tm->xf)
        return oom(tm, err, errlen);
    /* weights, then the intermediates the passes of a group alternate between */
    uint64_t wtotal = 0;
    for (uint32_t p = 0; p < tm->n_pass; p++) {
        tpass *ps = &tm->pass[p];
        const tgroup *gr = &tm->grp[ps->grp];
        fits(a, d->dtype, gr->u, gr->T, gr->wpp, &ps->g);
        ps->resident = chunks_resident(a, d->dtype, gr, ps);
        tm->n_instr += ps->k * ps->g.rows;
        wtotal += (uint64_t)ps->k * ps->g.rows * gr->wpp * ps->g.m * ps->chunks;
    }
    tm->weight_addr = addr;
    tm->weight_elems = wtotal;
    tm->instr = calloc(tm->n_instr, sizeof *tm->instr);
    tm->ctx = calloc(tm->n_instr, sizeof *tm->ctx);
    if (!tm->instr || !tm->ctx)
        return oom(tm, err, errlen);
    uint64_t waddr = addr, at = 0;
    for (uint32_t p = 0; p < tm->n_pass && !rc; p++) {
        rc = build_pass(a, d->dtype, tm, p, tm->instr + at, tm->ctx + at, &waddr, functional);
        at += tm->pass[p].k * tm->pass[p].g.rows;
    }
    if (rc) {
        tmap_free(tm);
        return util_fail(UTIL_ERUN, err, errlen,
                         "cannot map %s: out of memory, or its layout needs more than %d SPM "
                         "transfers per PE",
                         wl_op_kind_name(op->kind), TR_MAX_PE_XFERS);
    }
    uint64_t none[2] = {0, 0};
    if (tr_lay_out(a, d->dtype, tm, addr + wtotal, none, false, &tm->lay) ||
        tr_choose_layout(a, tm, d->dtype, addr + wtotal, scratch, max_block_lines, sh.weights,
                         io->how))
        return oom(tm, err, errlen);
    out->priv = tm;
    out->weight_addr = addr;
    out->weight_elems = wtotal;
    out->dram_end = tm->lay.dram_end;
    out->program = tr_layout_program(&tm->lay, d->dtype);
    bool agree = true; /* one block size for the mapping file, when the groups agree */
    for (uint32_t gi = 0; gi < tm->n_groups; gi++) {
        uint32_t first, np;
        tr_group_passes(tm, gi, &first, &np);
        uint64_t B = tm->lay.block_lines[gi];
        if (np > 1 && out->intermediates != MAP_INTER_SPM)
            out->intermediates = B ? MAP_INTER_SPM : MAP_INTER_DRAM;
        if (B) {
            agree = agree && (!out->block_rows || out->block_rows == B);
            out->block_rows = B;
        }
    }
    out->block_rows = agree ? out->block_rows : 0;
    /* the layouts weighed, for --explain (a sequence FFT's search lists its plans instead) */
    if (tm->layouts.n > 1 && tm->layouts.chosen < tm->layouts.n)
        out->shortlist = tm->layouts;
    if (out->intermediates == MAP_INTER_SPM)
        out->weights = tm->lay.kept_elems ? MAP_WEIGHTS_KEPT : MAP_WEIGHTS_RELOADED;
    if (tr_seq_ffts(op)) {
        const tgroup *gr = tr_seq_group(out);
        out->unit_columns = (uint32_t)gr->cols;
        out->part_units = gr->split ? (uint32_t)gr->T : 0;
    }
    int len = 0;
    for (uint32_t gi = 0; gi < tm->n_groups; gi++) {
        const tgroup *gr = &tm->grp[gi];
        uint32_t first, np;
        tr_group_passes(tm, gi, &first, &np);
        uint32_t rows = np ? tm->pass[first + np - 1].g.rows : 0;
        char part[120];
        if (gr->split)
            snprintf(part, sizeof part, "parts of %llu of %llu-unit lines",
                     (unsigned long long)gr->T, (unsigned long long)(gr->Vl * gr->N));
        else
            snprintf(part, sizeof part, "%llu lines", (unsigned long long)gr->Lt);
        char multi[80] = "";
        if (tm->lay.block_lines[gi])
            snprintf(multi, sizeof multi, ", multilayer: blocks of %llu lines on chip%s",
                     (unsigned long long)tm->lay.block_lines[gi],
                     tm->lay.kept_elems ? ", weights kept" : "");
        int w = snprintf(out->desc + len, sizeof out->desc - (size_t)len,
                         "%s%s %llu (%u stages, %u passes, %ux%u PEs): tags of %s x %llu%s",
                         gi ? "; " : "", gr->H ? "sequence" : "vector", (unsigned long long)gr->N,
                         gr->stages, np, C, rows, part, (unsigned long long)gr->u, multi);
        if (w < 0 || (size_t)w >= sizeof out->desc - (size_t)len)
            break;
        len += w;
    }
    return UTIL_OK;
}

void map_pair_weights(map_stage_kind kind, uint64_t N, uint32_t stages, uint64_t wpp, uint32_t s,
                      uint64_t j0, const float *w, util_dtype dt, float *dst)
{
    uint32_t b = map_stage_bit(kind, stages, s);
    if (kind == MAP_ST_FFT) {
        /* DIF: (a - b) w^(j mod 2^b), w = exp(-2 pi i / 2^(b+1)) */
        double ang =
            -2.0 * TR_PI * (double)(j0 & ((UINT64_C(1) << b) - 1)) / (double)(UINT64_C(2) << b);
        dst[0] = util_round_dtype(dt, (float)cos(ang));
        dst[1] = util_round_dtype(dt, (float)sin(ang));
        return;
    }
    uint64_t at = ((uint64_t)s * (N / 2) + util_remove_bit(j0, b)) * wpp;
    memcpy(dst, w + at, wpp * sizeof *dst);
}

/* Writes the op's weights (w, wl_op_weights order) and the FFT twiddles (constants:
 * written even when w is NULL) into every instruction's weight block, chunk by chunk. */
void map_transform_write_weights(const map_op_result *m, const wl_op *op, const float *w,
                                 float *image)
{
    (void)op; /* the mapping already knows the op's sizes */
    const tmap *tm = m->priv;
    for (uint32_t p = 0; p < tm->n_pass; p++) {
        const tpass *ps = &tm->pass[p];
        const tgroup *gr = &tm->grp[ps->grp];
        const eng_phase *f = &tm->phases[p];
        if (gr->kind != MAP_ST_FFT && !w)
            continue;
        for (uint64_t ch = 0; ch < ps->chunks; ch++) {
            for (uint32_t x = 0; x < f->n_instr; x++) {
                uint32_t l = x / ps->g.rows, r = x % ps->g.rows, s = ps->s0 + l;
                uint32_t b = tag_bit(gr, ps, stage_bit(gr, s));
                uint32_t beta = map_geom_pair_bit(&ps->g, b);
                float *dst = image + f->instr[x].weight_addr + ch * ps->wstep;
                for (uint64_t q = 0; q < ps->g.m; q++) {
                    uint64_t ln, i, e0 = unit_at(&ps->g, r, b, util_insert_bit(q, beta, 0));
                    tag_unit(gr, ps, ch, e0, &ln, &i);
                    map_pair_weights(gr->kind, gr->N, gr->stages, gr->wpp, s, i % gr->N, w,
                                     m->program.dtype, dst + q * gr->wpp);
                }
            }
        }
    }
}

void map_transform_free(map_op_result *m)
{
    tmap_free(m->priv);
    memset(m, 0, sizeof *m);
}
