/* transform.c: the simple stage-per-layer mapping of a model's transform ops (butterfly,
 * block butterfly, sequence butterfly, Fourier mixing, fft-compress). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* pi to double precision (M_PI is not part of ISO C). */
#define TR_PI 3.14159265358979323846
/* Block-butterfly tiles up to this size: the kernel keeps a pair's inputs on its stack. */
#define TR_MAX_TILE 256
/* SPM transfers of one PE: more means a layout the patterns cannot follow. */
#define TR_MAX_PE_XFERS 64

/* ---------------------------------------------------------------- description
 *
 * An op is one or two groups. A group applies the same transform (log2 N stages, each
 * pairing the units whose index within a vector differs in one bit) to every vector of
 * N units; a unit is u elements that move and pair together (one element; a tile of a
 * block butterfly; a complex number as re, im; a token's columns for sequence
 * transforms). A tag holds V vectors. A group is split into passes of at most `cols`
 * stages (one PE column per stage, as in map_butterfly_simple); passes exchange
 * intermediates through DRAM in the padded layout, one contiguous tag after another.
 *
 * Padding, cropping, real/complex conversion and the FFT's bit reversal happen at the
 * edges of a group: the first column receives only the real elements of its units and
 * zeroes the rest, the last column sends the kept elements to their packed places in
 * the SPM output slot (whose first part DMA writes back) and the others behind them. */

typedef enum { PM_IDENT, PM_ROWS, PM_SEQ } pmap_kind;

/* A tag's place in DRAM and its element mapping. Tag t is the elements
 * base + (t / G) A + (t % G) Bc + i stride + j, i < count, j < run, packed in that order
 * into the SPM slot. */
typedef struct tport {
    uint64_t base, G, A, Bc, run, stride, count;
    pmap_kind map; /* IDENT: the padded layout; ROWS: vector = row, unit = features;
                    * SEQ: vector = tokens, unit = a token's columns */
    uint64_t lim;  /* ROWS: real (kept) elements per row; SEQ: real (kept) tokens */
    bool re_only;  /* complex units, real values in DRAM (im dropped or zero) */
    bool reversed; /* output: unit j holds natural index bit_reverse(j) */
    uint64_t keep; /* output: natural indices >= keep become zeros */
} tport;

typedef enum { ST_RBFLY, ST_BLOCK, ST_FFT } stage_kind;

typedef struct tgroup {
    stage_kind kind;
    uint32_t stages;
    uint64_t u, N, V, n_tags, wpp; /* wpp: weights per unit pair */
    tport in, out;
} tgroup;

typedef struct tpass {
    uint32_t grp, s0, k; /* stages s0 .. s0+k-1 of the group */
    map_geom g;
    tport in, out;
} tpass;

/* Kernel context of one instruction. */
typedef struct kctx {
    stage_kind kind;
    uint32_t u;
    uint32_t n_pre, n_post;
    uint32_t *pre, *post; /* buffer positions zeroed before (padding) and after (dropped
                           * coefficients) the stage; functional mode only */
} kctx;

typedef struct tmap {
    uint32_t n_groups, n_pass, n_instr;
    tgroup grp[2];
    tpass *pass;
    eng_phase *phases;
    eng_instr *instr;
    kctx *ctx;
    eng_xfer **xf;
    void **blocks; /* position arrays */
    size_t n_blocks;
    uint64_t weight_addr;
} tmap;

/* Tag bit of stage s: butterflies go up from bit 0 (ref_butterfly's order); FFTs are
 * decimation in frequency, from the top bit down (natural input, bit-reversed output). */
static uint32_t stage_bit(const tgroup *gr, uint32_t s)
{
    return gr->kind == ST_FFT ? gr->stages - 1 - s : s;
}

/* Storage unit held at buffer unit lu by PE row r at a stage on tag bit b. */
static uint64_t unit_at(const map_geom *g, uint32_t r, uint32_t b, uint64_t lu)
{
    uint32_t beta = map_geom_pair_bit(g, b);
    uint64_t q = (uint64_t)r * g->m + util_remove_bit(lu, beta);
    return util_insert_bit(q, b, (uint32_t)(lu >> beta) & 1u);
}

static uint64_t bit_reverse(uint64_t x, uint32_t bits)
{
    uint64_t y = 0;
    for (uint32_t i = 0; i < bits; i++, x >>= 1)
        y = (y << 1) | (x & 1);
    return y;
}

/* Natural index of storage unit j of a vector. */
static uint64_t natural(const tport *p, uint64_t N, uint64_t j)
{
    return p->reversed ? bit_reverse(j, util_log2(N)) : j;
}

/* SPM slot position of element k of unit j of vector v, or -1 when it is padding (input)
 * or dropped (output). */
static int64_t port_pos(const tport *p, uint64_t N, uint64_t u, uint64_t v, uint64_t j, uint64_t k)
{
    if (p->map == PM_IDENT)
        return (int64_t)((v * N + j) * u + k);
    uint64_t ud = u, kd = k, q = natural(p, N, j);
    if (p->re_only) {
        if (k & 1)
            return -1;
        ud = u / 2;
        kd = k / 2;
    }
    if (p->map == PM_ROWS) {
        uint64_t f = q * ud + kd;
        return f < p->lim ? (int64_t)(v * p->lim + f) : -1;
    }
    uint64_t t = v * N + q;
    return t < p->lim ? (int64_t)(t * ud + kd) : -1;
}

static void port_dma(const tport *p, uint64_t tag, eng_pattern *out)
{
    uint64_t first = p->base + (tag / p->G) * p->A + (tag % p->G) * p->Bc;
    *out = (eng_pattern){first, p->run, p->stride, p->count};
}

static void tag_dma(const void *ctx, uint64_t tag, eng_pattern *in, eng_pattern *out)
{
    const tpass *ps = ctx;
    port_dma(&ps->in, tag, in);
    port_dma(&ps->out, tag, out);
}

/* A contiguous padded tag after another: intermediates between passes. */
static tport ident_port(uint64_t base, uint64_t tag_elems)
{
    return (tport){base, 1, tag_elems, 0, tag_elems, tag_elems, 1, PM_IDENT, 0, false, false, 0};
}

/* ---------------------------------------------------------------- kernel */

static void stage_kernel(const void *c, const eng_instr *in, uint64_t repeat, uint64_t tag,
                         float *buf, const float *w, util_dtype t)
{
    (void)repeat;
    (void)tag;
    const kctx *k = c;
    uint32_t u = k->u, pairs = in->local_elems / (2 * u), bit = in->param;
    for (uint32_t i = 0; i < k->n_pre; i++)
        buf[k->pre[i]] = 0.0f;
    for (uint32_t p = 0; p < pairs; p++) {
        uint32_t l0 = (uint32_t)util_insert_bit(p, bit, 0), l1 = l0 | (1u << bit);
        float *x0 = buf + (size_t)l0 * u, *x1 = buf + (size_t)l1 * u;
        /* Products and sums in double, one rounding per result (a wide accumulator). */
        if (k->kind == ST_RBFLY) {
            const float *q = w + 4 * (size_t)p;
            for (uint32_t e = 0; e < u; e++) {
                double a = x0[e], b = x1[e];
                x0[e] = util_round_dtype(t, (float)((double)q[0] * a + (double)q[1] * b));
                x1[e] = util_round_dtype(t, (float)((double)q[2] * a + (double)q[3] * b));
            }
        } else if (k->kind == ST_FFT) {
            double wr = w[2 * (size_t)p], wi = w[2 * (size_t)p + 1];
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
            double xs[2 * TR_MAX_TILE];
            const float *D = w + (size_t)p * 4 * u * u;
            size_t bb = (size_t)u * u;
            for (uint32_t e = 0; e < u; e++) {
                xs[e] = x0[e];
                xs[u + e] = x1[e];
            }
            for (uint32_t i = 0; i < u; i++) {
                double y0 = 0.0, y1 = 0.0;
                for (uint32_t j = 0; j < u; j++) {
                    y0 += (double)D[i * u + j] * xs[j] + (double)D[bb + i * u + j] * xs[u + j];
                    y1 += (double)D[2 * bb + i * u + j] * xs[j] +
                          (double)D[3 * bb + i * u + j] * xs[u + j];
                }
                x0[i] = util_round_dtype(t, (float)y0);
                x1[i] = util_round_dtype(t, (float)y1);
            }
        }
    }
    for (uint32_t i = 0; i < k->n_post; i++)
        buf[k->post[i]] = 0.0f;
}

/* Vector operations and useful lane operations of one stage instruction. A real pair
 * is mul, mac, mul, mac per element; a complex DIF pair is a + b and a - b on the adder
 * (4 lanes) and (a - b) w as mul, mac, mul, mac (4 lanes); a tile pair is four B x B
 * matrix-vector products, B MACs of ceil(B / lanes) vectors each. */
static void stage_cost(stage_kind kind, uint64_t u, uint64_t m, uint32_t lanes, eng_instr *in)
{
    if (kind == ST_RBFLY) {
        in->vec_ops[ARCH_FU_MAC] = (uint32_t)(4 * util_ceil_div(m * u, lanes));
        in->lane_ops = 4 * m * u;
    } else if (kind == ST_FFT) {
        uint64_t cp = m * u / 2;
        in->vec_ops[ARCH_FU_MAC] = (uint32_t)(4 * util_ceil_div(cp, lanes));
        in->vec_ops[ARCH_FU_ADD] = (uint32_t)(4 * util_ceil_div(cp, lanes));
        in->lane_ops = 8 * cp;
    } else {
        in->vec_ops[ARCH_FU_MAC] = (uint32_t)(m * 4 * u * util_ceil_div(u, lanes));
        in->lane_ops = 4 * u * u * m;
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
    if (pe_bytes > a->pe.buffer_bytes || spm_bytes > arch_spm_bytes(a) ||
        2 * m * u > UINT32_MAX || wpp * m > UINT32_MAX)
        return false;
    *g = (map_geom){units, m, util_log2(m), (uint32_t)R};
    return true;
}

static uint64_t pow2_factor(uint64_t x)
{
    return x & (~x + 1);
}

/* Rows group (vectors = rows of a matrix): the most vectors per tag that fit. */
static int plan_rows(const arch_desc *a, util_dtype dt, tgroup *gr, uint64_t rows, const char *what,
                     char *err, size_t errlen)
{
    map_geom g;
    for (uint64_t V = pow2_factor(rows); V >= 1; V /= 2) {
        if (fits(a, dt, gr->u, V * gr->N, gr->wpp, &g)) {
            gr->V = V;
            gr->n_tags = rows / V;
            return UTIL_OK;
        }
    }
    return util_fail(UTIL_ERUN, err, errlen,
                     "cannot map %s: one vector of %llu x %llu elements with %llu weights per "
                     "pair does not fit pe.buffer_kb = %u and the SPM (%llu bytes)",
                     what, (unsigned long long)gr->N, (unsigned long long)gr->u,
                     (unsigned long long)gr->wpp, a->pe.buffer_bytes / 1024,
                     (unsigned long long)arch_spm_bytes(a));
}

/* Sequence group: tags are one batch item's tokens x `cols` columns (cpl elements per
 * column); the widest column group that divides hidden and fits. */
static int plan_seq(const arch_desc *a, util_dtype dt, tgroup *gr, uint64_t hidden, uint64_t cpl,
                    uint64_t *cols, const char *what, char *err, size_t errlen)
{
    map_geom g;
    for (uint64_t c = hidden; c >= 1; c--) {
        if (hidden % c == 0 && fits(a, dt, c * cpl, gr->V * gr->N, gr->wpp, &g)) {
            *cols = c;
            gr->u = c * cpl;
            return UTIL_OK;
        }
    }
    return util_fail(UTIL_ERUN, err, errlen,
                     "cannot map %s: the %llu tokens of one column (%llu elements each) do not "
                     "fit pe.buffer_kb = %u and the SPM (%llu bytes)",
                     what, (unsigned long long)(gr->V * gr->N), (unsigned long long)cpl,
                     a->pe.buffer_bytes / 1024, (unsigned long long)arch_spm_bytes(a));
}

/* ---------------------------------------------------------------- transfers */

typedef struct pospair {
    uint64_t pos;  /* SPM slot position */
    uint32_t local; /* PE buffer position */
} pospair;

static int cmp_pos(const void *x, const void *y)
{
    uint64_t a = ((const pospair *)x)->pos, b = ((const pospair *)y)->pos;
    return a < b ? -1 : a > b;
}

typedef struct xlist {
    eng_xfer *x;
    size_t n, cap;
} xlist;

static uint32_t *new_block(tmap *tm, size_t n)
{
    uint32_t *p = malloc((n ? n : 1) * sizeof *p);
    void **grow = p ? realloc(tm->blocks, (tm->n_blocks + 1) * sizeof *grow) : NULL;
    if (!grow) {
        free(p);
        return NULL;
    }
    tm->blocks = grow;
    tm->blocks[tm->n_blocks++] = p;
    return p;
}

static eng_xfer *push_xfer(xlist *xl)
{
    if (util_reserve((void **)&xl->x, &xl->cap, xl->n + 1, sizeof *xl->x))
        return NULL;
    eng_xfer *t = &xl->x[xl->n++];
    memset(t, 0, sizeof *t);
    return t;
}

/* Transfers between one PE instruction and the SPM slot for pairs sorted by slot
 * position: as few strided patterns as the positions allow. */
static int spm_xfers(tmap *tm, xlist *xl, const pospair *pp, size_t n, int32_t instr, bool to_spm,
                     uint32_t port, bool functional)
{
    size_t made = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && pp[j].pos == pp[j - 1].pos + 1)
            j++;
        uint64_t run = j - i, first = pp[i].pos, stride = run, count = 1;
        /* more runs of the same length at a constant stride */
        while (j + run <= n) {
            uint64_t p0 = pp[j].pos, st = count == 1 ? p0 - first : stride;
            bool ok = p0 == first + count * st;
            for (uint64_t q = 1; q < run && ok; q++)
                ok = pp[j + q].pos == p0 + q;
            if (!ok)
                break;
            stride = st;
            count++;
            j += run;
        }
        eng_xfer *t = push_xfer(xl);
        if (!t || ++made > TR_MAX_PE_XFERS)
            return UTIL_ERUN;
        *t = (eng_xfer){to_spm ? instr : -1, to_spm ? -1 : instr, port, (uint32_t)(j - i),
                        {first, run, stride, count}, NULL, NULL};
        if (functional) {
            uint32_t *loc = new_block(tm, j - i);
            if (!loc)
                return UTIL_ERUN;
            for (size_t q = i; q < j; q++)
                loc[q - i] = pp[q].local;
            if (to_spm)
                t->src_pos = loc;
            else
                t->dst_pos = loc;
        }
        i = j;
    }
    return UTIL_OK;
}

/* Grows a list of buffer positions (zero lists). */
static int push_u32(uint32_t **v, uint32_t *n, size_t *cap, uint32_t x)
{
    if (util_reserve((void **)v, cap, (size_t)*n + 1, sizeof **v))
        return UTIL_ERUN;
    (*v)[(*n)++] = x;
    return UTIL_OK;
}

/* Feeds of the first column: each PE gets the real elements of its units; the rest of
 * its buffer is zeroed by its kernel (a PE with none gets one element, to fire). */
static int feed_xfers(const arch_desc *a, tmap *tm, const tgroup *gr, const tpass *ps,
                      const uint32_t *bits, kctx *ctx, xlist *xl, bool functional)
{
    const map_geom *g = &ps->g;
    uint64_t u = gr->u, local = 2 * g->m * u;
    pospair *pp = malloc(local * sizeof *pp);
    if (!pp)
        return UTIL_ERUN;
    int rc = UTIL_OK;
    for (uint32_t r = 0; r < g->rows && !rc; r++) {
        kctx *kc = &ctx[r];
        size_t n = 0, cap = 0;
        for (uint64_t lu = 0; lu < 2 * g->m && !rc; lu++) {
            uint64_t e = unit_at(g, r, bits[0], lu);
            for (uint64_t k = 0; k < u && !rc; k++) {
                int64_t pos = port_pos(&ps->in, gr->N, u, e / gr->N, e % gr->N, k);
                uint32_t l = (uint32_t)(lu * u + k);
                if (pos >= 0)
                    pp[n++] = (pospair){(uint64_t)pos, l};
                else if (functional)
                    rc = push_u32(&kc->pre, &kc->n_pre, &cap, l);
            }
        }
        if (rc)
            break;
        if (n == 0)
            pp[n++] = (pospair){0, kc->n_pre ? kc->pre[0] : 0};
        qsort(pp, n, sizeof *pp, cmp_pos);
        rc = spm_xfers(tm, xl, pp, n, (int32_t)r, false, eng_spm_port(a, r, false), functional);
    }
    free(pp);
    return rc;
}

/* Column l to column l+1: the existing mapping's exchange, a unit at a time. */
static int column_xfers(tmap *tm, const tgroup *gr, const tpass *ps, const uint32_t *bits,
                        uint32_t l, xlist *xl, bool functional)
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
        eng_xfer *t = push_xfer(xl);
        if (!t) {
            rc = UTIL_ERUN;
            break;
        }
        t->src_instr = (int32_t)(l * R + c / R);
        t->dst_instr = (int32_t)((l + 1) * R + c % R);
        t->elems = (uint32_t)count[c];
        if (functional) {
            uint32_t *sp = new_block(tm, count[c]), *dp = sp ? new_block(tm, count[c]) : NULL;
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

/* Drains of the last column: kept elements to their packed places at the start of the
 * output slot (DMA writes those back), the others behind them. */
static int drain_xfers(const arch_desc *a, tmap *tm, const tgroup *gr, const tpass *ps,
                       const uint32_t *bits, kctx *ctx, xlist *xl, bool functional)
{
    const map_geom *g = &ps->g;
    uint64_t u = gr->u, local = 2 * g->m * u, kept = 0;
    uint32_t k = ps->k;
    bool east = a->array.cols - k < k - 1;
    /* kept elements in all: the rest of the slot starts behind them */
    for (uint64_t e = 0; e < g->T; e++)
        for (uint64_t q = 0; q < u; q++)
            kept += port_pos(&ps->out, gr->N, u, e / gr->N, e % gr->N, q) >= 0;
    pospair *pp = malloc(local * sizeof *pp);
    uint32_t *junk = malloc(local * sizeof *junk);
    int rc = pp && junk ? UTIL_OK : UTIL_ERUN;
    uint64_t junk_at = kept;
    for (uint32_t r = 0; r < g->rows && !rc; r++) {
        int32_t instr = (int32_t)((k - 1) * g->rows + r);
        kctx *kc = &ctx[r];
        size_t n = 0, nj = 0, cap = 0;
        for (uint64_t lu = 0; lu < 2 * g->m && !rc; lu++) {
            uint64_t e = unit_at(g, r, bits[k - 1], lu), v = e / gr->N, j = e % gr->N;
            bool zero = ps->out.map != PM_IDENT && natural(&ps->out, gr->N, j) >= ps->out.keep;
            for (uint64_t q = 0; q < u && !rc; q++) {
                int64_t pos = port_pos(&ps->out, gr->N, u, v, j, q);
                uint32_t l = (uint32_t)(lu * u + q);
                if (pos >= 0)
                    pp[n++] = (pospair){(uint64_t)pos, l};
                else
                    junk[nj++] = l;
                if (zero && functional)
                    rc = push_u32(&kc->post, &kc->n_post, &cap, l);
            }
        }
        uint32_t port = eng_spm_port(a, r, east);
        qsort(pp, n, sizeof *pp, cmp_pos);
        if (!rc)
            rc = spm_xfers(tm, xl, pp, n, instr, true, port, functional);
        if (!rc && nj) {
            eng_xfer *t = push_xfer(xl);
            if (!t) {
                rc = UTIL_ERUN;
                break;
            }
            *t = (eng_xfer){instr, -1, port, (uint32_t)nj, {junk_at, nj, nj, 1}, NULL, NULL};
            junk_at += nj;
            if (functional) {
                uint32_t *loc = new_block(tm, nj);
                if (!loc)
                    rc = UTIL_ERUN;
                else
                    memcpy(loc, junk, nj * sizeof *loc);
                t->src_pos = loc;
            }
        }
    }
    free(pp);
    free(junk);
    return rc;
}

/* ---------------------------------------------------------------- building */

static int build_pass(const arch_desc *a, util_dtype dt, tmap *tm, uint32_t p, eng_instr *ins,
                      kctx *ctx, uint64_t *waddr, bool functional)
{
    tpass *ps = &tm->pass[p];
    const tgroup *gr = &tm->grp[ps->grp];
    const map_geom *g = &ps->g;
    uint32_t bits[64], lanes = arch_lanes(a, dt), n_instr = ps->k * g->rows;
    for (uint32_t l = 0; l < ps->k; l++)
        bits[l] = stage_bit(gr, ps->s0 + l);
    for (uint32_t l = 0; l < ps->k; l++) {
        for (uint32_t r = 0; r < g->rows; r++) {
            eng_instr *in = &ins[l * g->rows + r];
            kctx *kc = &ctx[l * g->rows + r];
            kc->kind = gr->kind;
            kc->u = (uint32_t)gr->u;
            in->pe = r * a->array.cols + l;
            in->op = ENG_OP_KERNEL;
            stage_cost(gr->kind, gr->u, g->m, lanes, in);
            in->local_elems = (uint32_t)(2 * g->m * gr->u);
            in->param = map_geom_pair_bit(g, bits[l]);
            in->weight_elems = (uint32_t)(gr->wpp * g->m);
            in->weight_addr = *waddr;
            in->kernel = stage_kernel;
            in->kernel_ctx = kc;
            *waddr += in->weight_elems;
        }
    }
    xlist xl = {NULL, 0, 0};
    int rc = feed_xfers(a, tm, gr, ps, bits, ctx, &xl, functional);
    for (uint32_t l = 0; l + 1 < ps->k && !rc; l++)
        rc = column_xfers(tm, gr, ps, bits, l, &xl, functional);
    if (!rc)
        rc = drain_xfers(a, tm, gr, ps, bits, ctx + (size_t)(ps->k - 1) * g->rows, &xl,
                         functional);
    tm->xf[p] = xl.x;
    if (rc)
        return rc;
    tm->phases[p] = (eng_phase){n_instr, ins, (uint32_t)xl.n, xl.x, gr->n_tags, 1, 0,
                                (uint32_t)(g->T * gr->u), 2, 2, tag_dma, ps, 0};
    return UTIL_OK;
}

/* The groups of an op, their tag sizes and DRAM ports; Z (FFT ops) lies at z_addr. */
static int plan_groups(const arch_desc *a, const wl_desc *d, const wl_op *op, const map_op_io *io,
                       tmap *tm, uint64_t z_addr, uint64_t *hcols, char *err, size_t errlen)
{
    util_dtype dt = d->dtype;
    const map_tensor *x = &io->src0, *y = &io->dst;
    const char *what = wl_op_kind_name(op->kind);
    int rc;
    switch (op->kind) {
    case WL_OP_BUTTERFLY:
    case WL_OP_BLOCK_BFLY: {
        tgroup *gr = &tm->grp[0];
        bool blk = op->kind == WL_OP_BLOCK_BFLY;
        uint64_t B = blk ? op->param : 1;
        if (B > TR_MAX_TILE || !util_is_pow2(op->n) || B >= op->n)
            return util_fail(UTIL_ERUN, err, errlen,
                             "cannot map %s n=%llu tile %llu: tiles above %d are not supported",
                             what, (unsigned long long)op->n, (unsigned long long)B, TR_MAX_TILE);
        *gr = (tgroup){blk ? ST_BLOCK : ST_RBFLY, util_log2(op->n / B), B, op->n / B, 1, 0,
                       4 * B * B, {0}, {0}};
        if ((rc = plan_rows(a, dt, gr, op->rows, what, err, errlen)))
            return rc;
        gr->in = (tport){x->addr, 1, gr->V * x->stride, 0, op->in, x->stride, gr->V,
                         PM_ROWS, op->in, false, false, 0};
        gr->out = (tport){y->addr, 1, gr->V * y->stride, 0, op->out, y->stride, gr->V,
                          PM_ROWS, op->out, false, false, op->n};
        tm->n_groups = 1;
        return UTIL_OK;
    }
    case WL_OP_SEQ_BFLY: {
        tgroup *gr = &tm->grp[0];
        uint64_t H = op->in, N = d->seq_len;
        *gr = (tgroup){ST_RBFLY, util_log2(op->n), 1, op->n, 1, 0, 4, {0}, {0}};
        if ((rc = plan_seq(a, dt, gr, H, 1, hcols, what, err, errlen)))
            return rc;
        uint64_t c = *hcols;
        gr->n_tags = op->groups * (H / c);
        gr->in = (tport){x->addr, H / c, N * x->stride, c, c, x->stride, N,
                         PM_SEQ, N, false, false, 0};
        gr->out = (tport){y->addr, H / c, N * y->stride, c, c, y->stride, N,
                          PM_SEQ, N, false, false, op->n};
        tm->n_groups = 1;
        return UTIL_OK;
    }
    case WL_OP_FFT_MIX:
    case WL_OP_FFT_COMPRESS: {
        uint64_t H = op->in, N = d->seq_len, nh = wl_pow2_ceil(H), ns = op->n;
        bool cmp = op->kind == WL_OP_FFT_COMPRESS;
        uint64_t chunk = cmp ? op->param : ns, keep = cmp ? op->d : ns;
        if (nh < 2 || ns < 2 || chunk < 2 || ns % chunk)
            return util_fail(UTIL_ERUN, err, errlen,
                             "cannot map %s: transform sizes %llu x %llu (chunk %llu) need at "
                             "least 2 points each",
                             what, (unsigned long long)ns, (unsigned long long)nh,
                             (unsigned long long)chunk);
        /* hidden FFT per token: real input, the first H complex outputs go to Z */
        tgroup *g0 = &tm->grp[0], *g1 = &tm->grp[1];
        *g0 = (tgroup){ST_FFT, util_log2(nh), 2, nh, 1, 0, 2, {0}, {0}};
        if ((rc = plan_rows(a, dt, g0, op->rows, what, err, errlen)))
            return rc;
        g0->in = (tport){x->addr, 1, g0->V * x->stride, 0, H, x->stride, g0->V,
                         PM_ROWS, H, true, false, 0};
        g0->out = (tport){z_addr, 1, g0->V * 2 * H, 0, 2 * H, 2 * H, g0->V,
                          PM_ROWS, 2 * H, false, true, nh};
        /* sequence FFTs per column of Z (chunks of `chunk` tokens), real part out */
        *g1 = (tgroup){ST_FFT, util_log2(chunk), 2, chunk, ns / chunk, 0, 2, {0}, {0}};
        if ((rc = plan_seq(a, dt, g1, H, 2, hcols, what, err, errlen)))
            return rc;
        uint64_t c = *hcols;
        g1->n_tags = op->groups * (H / c);
        g1->in = (tport){z_addr, H / c, N * 2 * H, 2 * c, 2 * c, 2 * H, N,
                         PM_SEQ, N, false, false, 0};
        g1->out = (tport){y->addr, H / c, N * y->stride, c, c, y->stride, N,
                          PM_SEQ, N, true, true, keep};
        tm->n_groups = 2;
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
    for (size_t i = 0; i < tm->n_blocks; i++)
        free(tm->blocks[i]);
    free(tm->blocks);
    for (uint32_t i = 0; tm->ctx && i < tm->n_instr; i++) {
        free(tm->ctx[i].pre);
        free(tm->ctx[i].post);
    }
    for (uint32_t p = 0; tm->xf && p < tm->n_pass; p++)
        free(tm->xf[p]);
    free(tm->xf);
    free(tm->ctx);
    free(tm->instr);
    free(tm->phases);
    free(tm->pass);
    free(tm);
}

int map_transform(const arch_desc *a, const wl_desc *d, const wl_op *op, const map_op_io *io,
                  bool functional, map_op_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->kind = op->kind;
    tmap *tm = calloc(1, sizeof *tm);
    if (!tm)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping");
    uint32_t C = a->array.cols;
    /* Z (the hidden FFT's kept outputs, complex) lies first above the free address;
     * weights and intermediates follow once the passes are known. */
    bool fft = op->kind == WL_OP_FFT_MIX || op->kind == WL_OP_FFT_COMPRESS;
    uint64_t z_addr = io->free_addr, hcols = 0;
    uint64_t addr = io->free_addr + (fft ? op->rows * 2 * op->in : 0);
    int rc = plan_groups(a, d, op, io, tm, z_addr, &hcols, err, errlen);
    if (rc) {
        tmap_free(tm);
        return rc;
    }
    for (uint32_t gi = 0; gi < tm->n_groups; gi++)
        tm->n_pass += (tm->grp[gi].stages + C - 1) / C;
    tm->pass = calloc(tm->n_pass, sizeof *tm->pass);
    tm->phases = calloc(tm->n_pass, sizeof *tm->phases);
    tm->xf = calloc(tm->n_pass, sizeof *tm->xf);
    if (!tm->pass || !tm->phases || !tm->xf) {
        tmap_free(tm);
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping");
    }
    /* passes, and the two intermediates they alternate between */
    uint64_t tmp_elems = 0, p = 0, wtotal = 0;
    for (uint32_t gi = 0; gi < tm->n_groups; gi++) {
        tgroup *gr = &tm->grp[gi];
        map_geom g;
        fits(a, d->dtype, gr->u, gr->V * gr->N, gr->wpp, &g);
        uint64_t te = g.T * gr->u;
        if (gr->stages > C && gr->n_tags * te > tmp_elems)
            tmp_elems = gr->n_tags * te;
        for (uint32_t s0 = 0; s0 < gr->stages; s0 += C, p++) {
            tpass *ps = &tm->pass[p];
            ps->grp = gi;
            ps->s0 = s0;
            ps->k = gr->stages - s0 < C ? gr->stages - s0 : C;
            ps->g = g;
            tm->n_instr += ps->k * g.rows;
            wtotal += (uint64_t)ps->k * g.rows * gr->wpp * g.m;
        }
    }
    tm->weight_addr = addr;
    uint64_t tmp[2] = {addr + wtotal, addr + wtotal + tmp_elems};
    for (p = 0; p < tm->n_pass; p++) {
        tpass *ps = &tm->pass[p];
        const tgroup *gr = &tm->grp[ps->grp];
        uint64_t te = ps->g.T * gr->u, idx = ps->s0 / C;
        ps->in = ps->s0 == 0 ? gr->in : ident_port(tmp[(idx - 1) % 2], te);
        ps->out = ps->s0 + ps->k == gr->stages ? gr->out : ident_port(tmp[idx % 2], te);
    }
    tm->instr = calloc(tm->n_instr, sizeof *tm->instr);
    tm->ctx = calloc(tm->n_instr, sizeof *tm->ctx);
    if (!tm->instr || !tm->ctx) {
        tmap_free(tm);
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping");
    }
    uint64_t waddr = addr, at = 0;
    for (p = 0; p < tm->n_pass && !rc; p++) {
        rc = build_pass(a, d->dtype, tm, (uint32_t)p, tm->instr + at, tm->ctx + at, &waddr,
                        functional);
        at += tm->pass[p].k * tm->pass[p].g.rows;
    }
    if (rc) {
        tmap_free(tm);
        return util_fail(UTIL_ERUN, err, errlen,
                         "cannot map %s: out of memory, or its layout needs more than %d SPM "
                         "transfers per PE",
                         wl_op_kind_name(op->kind), TR_MAX_PE_XFERS);
    }
    out->priv = tm;
    out->weight_addr = addr;
    out->weight_elems = wtotal;
    out->dram_end = tmp[1] + tmp_elems;
    out->program = (eng_program){d->dtype, tm->n_pass, tm->phases, out->dram_end};
    const tgroup *g0 = &tm->grp[0];
    const map_geom *gm = &tm->pass[0].g;
    if (tm->n_groups == 1)
        snprintf(out->desc, sizeof out->desc,
                 "%s: %u stages in %u passes over %u cols x %u PE rows, tags of %llu x %llu x "
                 "%llu elements%s, via DRAM",
                 wl_op_kind_name(op->kind), g0->stages, tm->n_pass, C, gm->rows,
                 (unsigned long long)g0->V, (unsigned long long)g0->N,
                 (unsigned long long)g0->u,
                 op->kind == WL_OP_SEQ_BFLY ? " (tokens x columns)" : "");
    else
        snprintf(out->desc, sizeof out->desc,
                 "%s: hidden FFT %llu (%u stages, tags of %llu rows) -> Z, then sequence FFTs "
                 "%llu x %llu columns; %u passes on %u cols x %u PE rows, via DRAM",
                 wl_op_kind_name(op->kind), (unsigned long long)g0->N, g0->stages,
                 (unsigned long long)g0->V, (unsigned long long)tm->grp[1].N,
                 (unsigned long long)hcols, tm->n_pass, C, gm->rows);
    return UTIL_OK;
}

/* Weights of one unit pair of a stage: op weights, or the FFT's constant twiddles. */
static void pair_weights(const tgroup *gr, uint32_t s, uint64_t j0, const float *w, util_dtype dt,
                         float *dst)
{
    uint32_t b = stage_bit(gr, s);
    if (gr->kind == ST_FFT) {
        /* DIF: (a - b) w^(j mod 2^b), w = exp(-2 pi i / 2^(b+1)) */
        double ang = -2.0 * TR_PI * (double)(j0 & ((UINT64_C(1) << b) - 1)) /
                     (double)(UINT64_C(2) << b);
        dst[0] = util_round_dtype(dt, (float)cos(ang));
        dst[1] = util_round_dtype(dt, (float)sin(ang));
        return;
    }
    uint64_t at = ((uint64_t)s * (gr->N / 2) + util_remove_bit(j0, b)) * gr->wpp;
    memcpy(dst, w + at, gr->wpp * sizeof *dst);
}

/* Writes the op's weights (w, wl_op_weights order) and the FFT twiddles (constants:
 * written even when w is NULL) into every instruction's weight block. */
void map_transform_write_weights(const map_op_result *m, const wl_op *op, const float *w,
                                 float *image)
{
    (void)op; /* the mapping already knows the op's sizes */
    const tmap *tm = m->priv;
    for (uint32_t p = 0; p < tm->n_pass; p++) {
        const tpass *ps = &tm->pass[p];
        const tgroup *gr = &tm->grp[ps->grp];
        const eng_phase *f = &tm->phases[p];
        if (gr->kind != ST_FFT && !w)
            continue;
        for (uint32_t i = 0; i < f->n_instr; i++) {
            uint32_t l = i / ps->g.rows, r = i % ps->g.rows, s = ps->s0 + l;
            uint32_t b = stage_bit(gr, s), beta = map_geom_pair_bit(&ps->g, b);
            float *dst = image + f->instr[i].weight_addr;
            for (uint64_t q = 0; q < ps->g.m; q++) {
                uint64_t e0 = unit_at(&ps->g, r, b, util_insert_bit(q, beta, 0));
                pair_weights(gr, s, e0 % gr->N, w, m->program.dtype, dst + q * gr->wpp);
            }
        }
    }
}

void map_transform_free(map_op_result *m)
{
    tmap_free(m->priv);
    memset(m, 0, sizeof *m);
}
