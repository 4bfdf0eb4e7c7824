/* ops.c: maps model ops onto the array: GEMM chains (dense, scores, context), fused attention and
 * segmented row ops.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Positions off, off+1, ... (functional transfers into or out of part of a buffer). */
static const uint32_t *run_pos(map_store *st, uint32_t off, uint32_t n)
{
    uint32_t *p = map_keep(st, n, sizeof *p);
    if (p)
        for (uint32_t j = 0; j < n; j++)
            p[j] = off + j;
    return p;
}

/* PE of chain position i: a snake over the mesh, so neighbours in the chain are
 * neighbours on the mesh. */
static uint32_t snake_pe(const arch_desc *a, uint32_t i)
{
    uint32_t C = a->array.cols, r = i / C, c = i % C;
    return r * C + (r % 2 ? C - 1 - c : c);
}

static uint32_t vecs(uint64_t elems, uint32_t lanes)
{
    return (uint32_t)util_ceil_div(elems, lanes);
}

/* ---------------------------------------------------------------- phases
 *
 * Every phase of these mappings streams tags of `rows` rows: a tag reads `in_run`
 * elements of each of its rows (in_pitch apart) and writes `out_run` elements of each
 * (out_pitch apart). Repeat r moves the output `out_step` elements on (GEMM column
 * blocks) and the input `in_step` on. */

typedef struct tag_map {
    uint64_t n_tags, rows;
    uint64_t in_addr, in_run, in_pitch, in_step;
    uint64_t out_addr, out_run, out_pitch, out_step;
} tag_map;

static void tag_dma(const void *ctx, uint64_t tag, eng_tag_io *io)
{
    const tag_map *t = ctx;
    uint64_t r = tag / t->n_tags, k = tag % t->n_tags;
    eng_tag_single(io,
                   (eng_pattern){t->in_addr + r * t->in_step + k * t->rows * t->in_pitch, t->in_run,
                                 t->in_pitch, t->rows},
                   (eng_pattern){t->out_addr + r * t->out_step + k * t->rows * t->out_pitch,
                                 t->out_run, t->out_pitch, t->rows});
}

typedef struct ops_priv {
    map_store st;
    eng_phase *phases;
    uint32_t n_phases;
    size_t cap_phases;
} ops_priv;

/* Growing lists of one phase's instructions and transfers. */
typedef struct phase_build {
    eng_instr *ins;
    eng_xfer *x;
    uint32_t n_ins, n_x, cap_ins, cap_x;
} phase_build;

static int pb_init(phase_build *b, map_store *st, uint32_t cap_ins, uint32_t cap_x)
{
    memset(b, 0, sizeof *b);
    b->ins = map_keep(st, cap_ins, sizeof *b->ins);
    b->x = map_keep(st, cap_x, sizeof *b->x);
    b->cap_ins = cap_ins;
    b->cap_x = cap_x;
    return b->ins && b->x ? UTIL_OK : UTIL_ERUN;
}

static eng_xfer *pb_xfer(phase_build *b, int32_t src, int32_t dst, uint32_t elems)
{
    if (b->n_x >= b->cap_x)
        return NULL;
    eng_xfer *t = &b->x[b->n_x++];
    *t = (eng_xfer){.src_instr = src, .dst_instr = dst, .elems = elems};
    return t;
}

static int add_phase(ops_priv *p, const phase_build *b, const tag_map *tm, uint64_t repeats,
                     uint64_t weight_stride)
{
    uint64_t in = tm->rows * tm->in_run, out = tm->rows * tm->out_run;
    if (util_reserve((void **)&p->phases, &p->cap_phases, (size_t)p->n_phases + 1,
                     sizeof *p->phases))
        return UTIL_ERUN;
    eng_phase *f = &p->phases[p->n_phases++];
    *f = (eng_phase){.n_instr = b->n_ins,
                     .instr = b->ins,
                     .n_xfer = b->n_x,
                     .xfer = b->x,
                     .n_tags = tm->n_tags,
                     .repeats = repeats,
                     .weight_stride = weight_stride,
                     .tag_elems = (uint32_t)(in > out ? in : out),
                     .out_tag_elems = (uint32_t)out,
                     .in_slots = 2,
                     .out_slots = 2,
                     .tag_dma = tag_dma,
                     .tag_ctx = tm};
    return UTIL_OK;
}

/* ---------------------------------------------------------------- GEMM chains
 *
 * Y[M x N] = X[M x K] W[K x N] on chains of PEs: position i of a chain holds rows
 * k0_i .. of a W tile (its K chunk) for the chain's output columns, takes the matching
 * columns of each X row from the SPM, adds its product to the partial sums arriving from
 * position i-1, and passes them on; the last position writes them to the SPM. Chains
 * work on different output columns; a phase repeat moves to the next block of columns. */

typedef enum { GW_OWN, GW_ROWS, GW_KEYS } gemm_w;

typedef struct gemm_prob {
    uint64_t M, K, N;
    map_tensor x, y; /* x: M x K, y: M x N (views) */
    gemm_w wkind;    /* GW_OWN: the op's weights in our tile layout; GW_ROWS: W rows in
                      * DRAM (context: V); GW_KEYS: W^T rows in DRAM (scores: K) */
    map_tensor w;    /* GW_ROWS / GW_KEYS: the matrix in DRAM */
    double scale;    /* applied by the last chain position */
    bool causal;
    uint64_t q_off;  /* causal: the position of query row 0 (a decode step's cache first) */
    bool gelu;       /* the last chain position applies GELU to its outputs */
    uint64_t w_base; /* GW_OWN: DRAM address of the tiles */
} gemm_prob;

/* What one chain instruction needs to compute (kernel context) and to place its tile. */
typedef struct gemm_ictx {
    uint32_t mt, kc, nr;
    uint64_t k0, col; /* K chunk start; first output column (of repeat 0) */
    uint64_t blk;     /* output columns per repeat */
    uint64_t row0;    /* first row of the phase */
    bool first, last, keys;
    double scale;
    bool causal;
    util_dtype t;
    bool gelu;
    uint64_t q_off;
} gemm_ictx;

static void gemm_kernel(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag,
                        float *buf, const float *w, util_dtype t)
{
    const gemm_ictx *g = ctx;
    (void)in;
    float *x = buf, *p = buf + (size_t)g->mt * g->kc;
    for (uint32_t r = 0; r < g->mt; r++) {
        uint64_t q = g->q_off + g->row0 + tag * g->mt + r;
        for (uint32_t n = 0; n < g->nr; n++) {
            double acc = g->first ? 0.0 : p[(size_t)r * g->nr + n];
            for (uint32_t k = 0; k < g->kc; k++) {
                double wv = g->keys ? w[(size_t)n * g->kc + k] : w[(size_t)k * g->nr + n];
                acc += (double)x[(size_t)r * g->kc + k] * wv;
            }
            float v = util_round_dtype(t, (float)acc);
            if (g->last) {
                uint64_t key = g->col + repeat * g->blk + n;
                v = g->causal && key > q ? -INFINITY : util_round_dtype(t, (float)(acc * g->scale));
            }
            p[(size_t)r * g->nr + n] = v;
        }
        if (g->last && g->gelu)
            map_gelu(p + (size_t)r * g->nr, g->nr, t);
    }
}

typedef struct gemm_plan {
    uint32_t Lc, Gc, mt, nr;
} gemm_plan;

/* PE buffer elements a chain instruction needs. */
static uint64_t gemm_need(const arch_desc *a, uint64_t kc, uint64_t nr, uint64_t mt)
{
    return (uint64_t)a->pe.tags * mt * (kc + nr) + kc * nr;
}

/* Every feasible plan: for each chain length (a power of two) and rows per tag, the
 * widest chains that fit the PE buffer and the SPM. Returns how many were written. */
#define GEMM_MAX_PLANS 64
static uint32_t gemm_plans(const arch_desc *a, const gemm_prob *g, util_dtype t,
                           gemm_plan plans[GEMM_MAX_PLANS])
{
    uint32_t P = arch_pe_count(a), wb = util_dtype_bytes(t), n = 0;
    uint64_t cap = a->pe.buffer_bytes / wb, spm = arch_spm_bytes(a) / wb;
    for (uint32_t Lc = 1; Lc <= P && n < GEMM_MAX_PLANS; Lc *= 2) {
        if (Lc > 1 && Lc / 2 >= g->K)
            break;
        uint64_t kc = util_ceil_div(g->K, Lc);
        uint32_t Gc = P / Lc;
        for (uint32_t mt = 1; mt <= 64 && n < GEMM_MAX_PLANS; mt *= 2) {
            if (mt > 1 && mt / 2 >= g->M)
                break;
            if (gemm_need(a, kc, 1, mt) > cap)
                break;
            uint64_t nr = (cap - (uint64_t)a->pe.tags * mt * kc) / (kc + (uint64_t)a->pe.tags * mt);
            uint64_t per_chain = util_ceil_div(g->N, Gc);
            if (nr > per_chain)
                nr = per_chain;
            if (nr > 4096)
                nr = 4096;
            uint64_t blk = nr * Gc < g->N ? nr * Gc : g->N;
            /* SPM: two input and two output slots, two weight staging buffers */
            if ((2 * mt * g->K + 2 * mt * blk + 2 * kc * nr) > spm)
                continue;
            plans[n++] = (gemm_plan){Lc, Gc, mt, (uint32_t)nr};
        }
    }
    return n;
}

/* One phase: rows row0 .. row0 + mt*n_tags of the problem, output columns col0 ..
 * col0 + blk*reps, chains of width nr (the last chains narrower or absent). */
static int gemm_phase(const arch_desc *a, const gemm_prob *g, util_dtype t, const gemm_plan *pl,
                      uint32_t mt, uint64_t n_tags, uint64_t row0, uint64_t col0, uint64_t blk,
                      uint64_t reps, uint64_t *w_next, bool functional, ops_priv *p)
{
    uint32_t L = arch_lanes(a, t);
    uint64_t kc = util_ceil_div(g->K, pl->Lc);
    uint32_t Lc = (uint32_t)util_ceil_div(g->K, kc);
    uint32_t chains = (uint32_t)util_ceil_div(blk, pl->nr);
    phase_build b;
    if (pb_init(&b, &p->st, chains * Lc, chains * (2 * Lc)))
        return UTIL_ERUN;
    tag_map *tm = map_keep(&p->st, 1, sizeof *tm);
    if (!tm)
        return UTIL_ERUN;
    *tm = (tag_map){.n_tags = n_tags,
                    .rows = mt,
                    .in_addr = g->x.addr + row0 * g->x.stride,
                    .in_run = g->K,
                    .in_pitch = g->x.stride,
                    .in_step = 0,
                    .out_addr = g->y.addr + row0 * g->y.stride + col0,
                    .out_run = blk,
                    .out_pitch = g->y.stride,
                    .out_step = blk};
    uint64_t wstride = 0;
    for (uint32_t c = 0; c < chains; c++) {
        uint64_t coff = (uint64_t)c * pl->nr;
        uint32_t nr = (uint32_t)(blk - coff < pl->nr ? blk - coff : pl->nr);
        for (uint32_t i = 0; i < Lc; i++) {
            uint64_t k0 = i * kc;
            uint32_t kci = (uint32_t)(g->K - k0 < kc ? g->K - k0 : kc);
            int32_t me = (int32_t)b.n_ins;
            eng_instr *in = &b.ins[b.n_ins++];
            gemm_ictx *ic = map_keep(&p->st, 1, sizeof *ic);
            if (!ic)
                return UTIL_ERUN;
            *ic = (gemm_ictx){mt,          kci,
                              nr,          k0,
                              col0 + coff, blk,
                              row0,        i == 0,
                              i + 1 == Lc, g->wkind == GW_KEYS,
                              g->scale,    g->causal,
                              t,           g->gelu && i + 1 == Lc,
                              g->q_off};
            in->pe = snake_pe(a, c * pl->Lc + i);
            in->op = ENG_OP_KERNEL;
            in->kernel = gemm_kernel;
            in->kernel_ctx = ic;
            in->vec_ops[ARCH_FU_MAC] = mt * kci * vecs(nr, L);
            in->lane_ops = (uint64_t)mt * kci * nr;
            if (ic->last && (g->scale != 1.0 || g->causal))
                in->vec_ops[ARCH_FU_MUL] = mt * vecs(nr, L);
            if (ic->gelu)
                map_gelu_cost(mt, nr, L, in);
            in->local_elems = mt * (kci + nr);
            in->weight_elems = kci * nr;
            if (g->wkind == GW_OWN) {
                in->weight_addr = *w_next;
                *w_next += in->weight_elems;
            } else if (g->wkind == GW_ROWS) {
                /* rows k0.. of W, columns col0+coff..: runs of nr, one per K row */
                in->weight_addr = g->w.addr + k0 * g->w.stride + col0 + coff;
                in->weight_run = nr;
                in->weight_pitch = g->w.stride;
            } else {
                /* keys col0+coff.. (rows of K), features k0..: runs of kci per key */
                in->weight_addr = g->w.addr + (col0 + coff) * g->w.stride + k0;
                in->weight_run = kci;
                in->weight_pitch = g->w.stride;
            }
            eng_xfer *xs = pb_xfer(&b, -1, me, mt * kci);
            if (!xs)
                return UTIL_ERUN;
            xs->spm_port = eng_spm_port_near(a, in->pe);
            xs->spm = (eng_pattern){k0, kci, g->K, mt};
            if (i > 0) {
                eng_xfer *xp = pb_xfer(&b, me - 1, me, mt * nr);
                if (!xp)
                    return UTIL_ERUN;
                if (functional && (!(xp->src_pos = run_pos(&p->st, mt * (uint32_t)kc, mt * nr)) ||
                                   !(xp->dst_pos = run_pos(&p->st, mt * kci, mt * nr))))
                    return UTIL_ERUN;
            }
            if (i + 1 == Lc) {
                eng_xfer *xo = pb_xfer(&b, me, -1, mt * nr);
                if (!xo)
                    return UTIL_ERUN;
                xo->spm_port = eng_spm_port_near(a, in->pe);
                xo->spm = (eng_pattern){coff, nr, blk, mt};
                if (functional && !(xo->src_pos = run_pos(&p->st, mt * kci, mt * nr)))
                    return UTIL_ERUN;
            }
        }
    }
    if (g->wkind == GW_OWN)
        wstride = *w_next - (b.ins[0].weight_addr);
    else if (g->wkind == GW_ROWS)
        wstride = blk;
    else
        wstride = blk * g->w.stride;
    if (g->wkind == GW_OWN)
        *w_next += (reps - 1) * wstride;
    return add_phase(p, &b, tm, reps, wstride);
}

/* All phases of one GEMM problem: full row tags, then the leftover rows; full column
 * blocks as repeats, then the leftover columns. */
static int gemm_map(const arch_desc *a, const gemm_prob *g, util_dtype t, const gemm_plan *pl,
                    uint64_t *w_next, bool functional, ops_priv *p)
{
    uint64_t blk = (uint64_t)pl->nr * pl->Gc;
    if (blk > g->N)
        blk = g->N;
    uint64_t full_reps = g->N / blk, rest_cols = g->N % blk;
    uint64_t full_tags = g->M / pl->mt, rest_rows = g->M % pl->mt;
    struct {
        uint32_t mt;
        uint64_t tags, row0;
    } rs[2] = {{pl->mt, full_tags, 0}, {(uint32_t)rest_rows, 1, full_tags * pl->mt}};
    for (int r = 0; r < 2; r++) {
        if (!rs[r].mt || !rs[r].tags)
            continue;
        int rc = gemm_phase(a, g, t, pl, rs[r].mt, rs[r].tags, rs[r].row0, 0, blk, full_reps,
                            w_next, functional, p);
        if (!rc && rest_cols)
            rc = gemm_phase(a, g, t, pl, rs[r].mt, rs[r].tags, rs[r].row0, full_reps * blk,
                            rest_cols, 1, w_next, functional, p);
        if (rc)
            return rc;
    }
    return UTIL_OK;
}

/* Weights of a dense op into the tiles of every GEMM instruction (GW_OWN). */
static void gemm_write_weights(const ops_priv *p, uint64_t N, const float *w, float *image)
{
    for (uint32_t f = 0; f < p->n_phases; f++) {
        const eng_phase *ph = &p->phases[f];
        for (uint64_t r = 0; r < ph->repeats; r++)
            for (uint32_t i = 0; i < ph->n_instr; i++) {
                const eng_instr *in = &ph->instr[i];
                const gemm_ictx *g = in->kernel_ctx;
                float *dst = image + in->weight_addr + r * ph->weight_stride;
                for (uint32_t k = 0; k < g->kc; k++)
                    for (uint32_t n = 0; n < g->nr; n++)
                        dst[(size_t)k * g->nr + n] = w[(g->k0 + k) * N + g->col + r * g->blk + n];
            }
    }
}

/* ---------------------------------------------------------------- row ops
 *
 * Softmax, layernorm, GELU and the residual add work on whole rows. A row is cut into
 * S segments on S PEs (a snake chain); a tag holds mt rows. Reductions over a row
 * (softmax max and sum, layernorm moments) send one partial per row and segment to a
 * reducer instruction, which returns the row's result to every segment. Reductions
 * accumulate in FP32 (ASSUMPTION: the PE keeps reduction partials at full width);
 * every element result is rounded to the data type. */

#define ROW_KERNEL_BEGIN(fn)                                                                       \
    static void fn(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag,            \
                   float *buf, const float *w, util_dtype t)                                       \
    {                                                                                              \
        const map_row_ictx *c = ctx;                                                               \
        uint32_t mt = c->mt, L = c->len;                                                           \
        float *aux = buf + (size_t)mt * L;                                                         \
        (void)in, (void)repeat, (void)tag, (void)w, (void)t, (void)aux;                            \
        for (uint32_t r = 0; r < mt; r++) {                                                        \
            float *v = buf + (size_t)r * L;                                                        \
            (void)v;
#define ROW_KERNEL_END                                                                             \
    }                                                                                              \
    }

/* [segment | max]: the segment's maximum of each row */
ROW_KERNEL_BEGIN(softmax_max)
float m = -INFINITY;
for (uint32_t j = 0; j < L; j++)
    m = v[j] > m ? v[j] : m;
aux[r] = m;
ROW_KERNEL_END

/* [segment | max | sum]: exp(x - max) in place, and the segment's sum */
ROW_KERNEL_BEGIN(softmax_exp)
double sum = 0;
for (uint32_t j = 0; j < L; j++) {
    v[j] = aux[r] == -INFINITY ? 0.0f : util_round_dtype(t, expf(v[j] - aux[r]));
    sum += v[j];
}
aux[mt + r] = (float)sum;
ROW_KERNEL_END

/* [segment | 1/sum] */
ROW_KERNEL_BEGIN(softmax_scale)
for (uint32_t j = 0; j < L; j++)
    v[j] = util_round_dtype(t, v[j] * aux[r]);
ROW_KERNEL_END

/* [segment | (sum, sum of squares) per row] */
ROW_KERNEL_BEGIN(ln_moments)
double s1 = 0, s2 = 0;
for (uint32_t j = 0; j < L; j++) {
    s1 += v[j];
    s2 += (double)v[j] * v[j];
}
aux[2 * r] = (float)s1;
aux[2 * r + 1] = (float)s2;
ROW_KERNEL_END

/* [segment | (mean, 1/sqrt(var + eps)) per row], weights gamma then beta */
ROW_KERNEL_BEGIN(ln_apply)
for (uint32_t j = 0; j < L; j++)
    v[j] = util_round_dtype(
        t, (float)(((double)v[j] - aux[2 * r]) * aux[2 * r + 1] * w[j] + w[L + j]));
ROW_KERNEL_END

void map_gelu(float *v, uint64_t n, util_dtype t)
{
    for (uint64_t j = 0; j < n; j++) {
        double z = v[j], u = 0.7978845608028654 * (z + 0.044715 * z * z * z);
        v[j] = util_round_dtype(t, (float)(0.5 * z * (1.0 + tanh(u))));
    }
}

void map_gelu_cost(uint64_t rows, uint64_t len, uint32_t lanes, eng_instr *in)
{
    /* z^2, z^3, x sqrt(2/pi), x 2, x 0.5 on the multiplier; 0.044715 z^3 + z, 1 - 2 r,
     * z t + z on the MAC; exp; 1 + e; 1 / (1 + e) */
    uint32_t v = (uint32_t)rows * vecs(len, lanes);
    uint64_t n = rows * len;
    in->vec_ops[ARCH_FU_MUL] += 5 * v, in->vec_ops[ARCH_FU_MAC] += 3 * v;
    in->vec_ops[ARCH_FU_EXP] += v, in->vec_ops[ARCH_FU_ADD] += v;
    in->vec_ops[ARCH_FU_RCP] += v, in->lane_ops += 11 * n;
}

/* GELU, tanh form: tanh through exp and a reciprocal on the PE */
ROW_KERNEL_BEGIN(gelu)
map_gelu(v, L, t);
ROW_KERNEL_END

/* [segment | (max, sum of exp(x - max)) per row]: one row's part of the statistics */
ROW_KERNEL_BEGIN(softmax_stats)
float m = -INFINITY;
for (uint32_t j = 0; j < L; j++)
    m = v[j] > m ? v[j] : m;
double sum = 0;
for (uint32_t j = 0; j < L && m != -INFINITY; j++)
    sum += util_round_dtype(t, expf(v[j] - m));
aux[2 * r] = m;
aux[2 * r + 1] = (float)sum;
ROW_KERNEL_END

/* [segment | (M, 1/L) per row]: exp(x - M) / L */
ROW_KERNEL_BEGIN(softmax_apply)
for (uint32_t j = 0; j < L; j++) {
    float e = aux[2 * r] == -INFINITY ? 0.0f : util_round_dtype(t, expf(v[j] - aux[2 * r]));
    v[j] = util_round_dtype(t, e * aux[2 * r + 1]);
}
ROW_KERNEL_END

/* [x segment (mt rows) | a segment (mt rows)] */
ROW_KERNEL_BEGIN(add)
for (uint32_t j = 0; j < L; j++)
    v[j] = util_round_dtype(t, v[j] + aux[(size_t)r * L + j]);
ROW_KERNEL_END

/* Reducers: [L segments' partials, segment-major, `width` per row each | result]. */
typedef enum { RED_MAX, RED_RCP_SUM, RED_MOMENTS } red_kind;

/* Merges the segments' (max, sum) pairs of a two-pass softmax: M = max m_i,
 * L = sum l_i exp(m_i - M); writes M and 1/L (both go to DRAM: rounded). */
static void reduce_online_stats(const map_row_ictx *c, float *buf, util_dtype t)
{
    uint32_t mt = c->mt, S = c->len;
    float *out = buf + (size_t)S * mt * 2;
    for (uint32_t r = 0; r < mt; r++) {
        float M = -INFINITY;
        for (uint32_t i = 0; i < S; i++)
            M = buf[((size_t)i * mt + r) * 2] > M ? buf[((size_t)i * mt + r) * 2] : M;
        double sum = 0;
        for (uint32_t i = 0; i < S && M != -INFINITY; i++) {
            const float *q = buf + ((size_t)i * mt + r) * 2;
            if (q[0] != -INFINITY)
                sum += q[1] * exp((double)q[0] - M);
        }
        out[2 * r] = M;
        out[2 * r + 1] = sum > 0 ? util_round_dtype(t, (float)(1.0 / sum)) : 0.0f;
    }
}

static void reduce(const map_row_ictx *c, red_kind k, float *buf)
{
    uint32_t mt = c->mt, S = c->len, width = k == RED_MOMENTS ? 2 : 1;
    float *out = buf + (size_t)S * mt * width;
    for (uint32_t r = 0; r < mt; r++) {
        double a = k == RED_MAX ? -INFINITY : 0, b = 0;
        for (uint32_t i = 0; i < S; i++) {
            const float *q = buf + ((size_t)i * mt + r) * width;
            if (k == RED_MAX)
                a = q[0] > a ? q[0] : a;
            else
                a += q[0];
            if (k == RED_MOMENTS)
                b += q[1];
        }
        if (k == RED_MAX) {
            out[r] = (float)a;
        } else if (k == RED_RCP_SUM) {
            out[r] = a > 0 ? (float)(1.0 / a) : 0.0f;
        } else {
            double n = (double)c->row_len, mean = a / n, var = b / n - mean * mean;
            out[2 * r] = (float)mean;
            out[2 * r + 1] = (float)(1.0 / sqrt((var > 0 ? var : 0) + WL_LN_EPS));
        }
    }
}

#define REDUCER(fn, k)                                                                             \
    static void fn(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag,            \
                   float *buf, const float *w, util_dtype t)                                       \
    {                                                                                              \
        (void)in, (void)repeat, (void)tag, (void)w, (void)t;                                       \
        reduce(ctx, k, buf);                                                                       \
    }
REDUCER(reduce_max, RED_MAX)
REDUCER(reduce_rcp_sum, RED_RCP_SUM)
REDUCER(reduce_moments, RED_MOMENTS)

void map_ln_apply(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag, float *buf,
                  const float *w, util_dtype t)
{
    ln_apply(ctx, in, repeat, tag, buf, w, t);
}

void map_ln_reduce(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag, float *buf,
                   const float *w, util_dtype t)
{
    reduce_moments(ctx, in, repeat, tag, buf, w, t);
}

static void reduce_online(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag,
                          float *buf, const float *w, util_dtype t)
{
    (void)in, (void)repeat, (void)tag, (void)w;
    reduce_online_stats(ctx, buf, t);
}

/* Adds an instruction; NULL when the phase is full. */
static eng_instr *row_instr(phase_build *b, map_store *st, uint32_t pe, eng_kernel_fn fn,
                            uint32_t mt, uint32_t len, uint64_t row_len, uint32_t local)
{
    map_row_ictx *c = map_keep(st, 1, sizeof *c);
    if (!c || b->n_ins >= b->cap_ins)
        return NULL;
    *c = (map_row_ictx){mt, len, row_len};
    eng_instr *in = &b->ins[b->n_ins++];
    *in = (eng_instr){
        .pe = pe, .op = ENG_OP_KERNEL, .local_elems = local, .kernel = fn, .kernel_ctx = c};
    return in;
}

/* A transfer between instructions with its functional positions. */
static int row_link(phase_build *b, map_store *st, bool functional, int32_t src, uint32_t src_off,
                    int32_t dst, uint32_t dst_off, uint32_t elems)
{
    eng_xfer *x = pb_xfer(b, src, dst, elems);
    if (!x)
        return UTIL_ERUN;
    if (functional && (!(x->src_pos = run_pos(st, src_off, elems)) ||
                       !(x->dst_pos = run_pos(st, dst_off, elems))))
        return UTIL_ERUN;
    return UTIL_OK;
}

/* The row ops as the PEs run them. A softmax whose rows are too long for one pass (three
 * copies of a segment per tag) runs in two: STATS writes each row's maximum M and 1/L,
 * L = sum exp(x - M), beside the row (the scores keep two spare columns per row), and
 * APPLY computes exp(x - M) / L. Each pass holds one copy; exp is computed twice. */
typedef enum { ROW_SOFTMAX, ROW_LAYERNORM, ROW_GELU, ROW_ADD, ROW_SM_STATS, ROW_SM_APPLY } row_kind;

static row_kind row_kind_of(wl_op_kind k)
{
    return k == WL_OP_SOFTMAX     ? ROW_SOFTMAX
           : k == WL_OP_LAYERNORM ? ROW_LAYERNORM
           : k == WL_OP_GELU      ? ROW_GELU
                                  : ROW_ADD;
}

/* Instructions per segment (and reducers per chain). */
static uint32_t row_steps(row_kind k)
{
    return k == ROW_SOFTMAX ? 3 : k == ROW_LAYERNORM ? 2 : 1;
}

static uint32_t row_reducers(row_kind k)
{
    return k == ROW_SOFTMAX ? 2 : (k == ROW_LAYERNORM || k == ROW_SM_STATS) ? 1 : 0;
}

/* Elements of a row's input run (ADD: both operands; APPLY: the row and its M, 1/L). */
static uint64_t row_in_run(row_kind k, uint64_t len)
{
    return k == ROW_ADD ? 2 * len : k == ROW_SM_APPLY ? len + 2 : len;
}

/* PE buffer elements one segment PE needs (the reducers sit on the chain's middle PE). */
static uint64_t row_need(const arch_desc *a, row_kind k, uint64_t L, uint64_t mt, uint64_t S)
{
    uint64_t per_tag = 0, weights = 0;
    /* the segment's instructions plus the reducers (on the middle PE: the worst case) */
    if (k == ROW_SOFTMAX)
        per_tag = 3 * L * mt + 4 * mt + 2 * (S + 1) * mt;
    else if (k == ROW_LAYERNORM)
        per_tag = 2 * L * mt + 4 * mt + 2 * (S + 1) * mt, weights = 2 * L;
    else if (k == ROW_SM_STATS)
        per_tag = L * mt + 2 * mt + 2 * (S + 1) * mt;
    else if (k == ROW_SM_APPLY)
        per_tag = L * mt + 2 * mt;
    else
        per_tag = (k == ROW_ADD ? 2 : 1) * L * mt;
    return a->pe.tags * per_tag + weights;
}

typedef struct row_plan {
    uint32_t S, mt, chains; /* segments per row, rows per chain, chains */
    uint64_t L;             /* segment length (the last may be shorter) */
} row_plan;

/* The fewest segments per row that fit, then the most rows per chain. */
static bool row_choose(const arch_desc *a, row_kind k, uint64_t len, uint64_t rows, util_dtype t,
                       row_plan *pl)
{
    uint32_t P = arch_pe_count(a), wb = util_dtype_bytes(t);
    uint64_t cap = a->pe.buffer_bytes / wb, spm = arch_spm_bytes(a) / wb;
    if (row_steps(k) + row_reducers(k) > a->pe.istore)
        return false;
    for (uint32_t S = 1; S <= P && S <= len; S *= 2) {
        uint64_t L = util_ceil_div(len, S);
        uint32_t chains = P / S;
        if (chains > rows)
            chains = (uint32_t)rows;
        for (uint32_t mt = 8; mt >= 1; mt /= 2) {
            if (mt > 1 && (uint64_t)mt * chains > rows)
                continue;
            uint64_t tag_rows = (uint64_t)mt * chains;
            uint64_t spm_need = 2 * tag_rows * row_in_run(k, len) + 2 * tag_rows * len + 4 * L;
            if (row_need(a, k, L, mt, S) <= cap && spm_need <= spm) {
                *pl = (row_plan){S, mt, chains, L};
                return true;
            }
        }
    }
    return false;
}

/* The instruction of step st of segment i (L elements of mt rows), with its units. */
static eng_instr *row_step_instr(phase_build *b, map_store *st, row_kind k, uint32_t step,
                                 uint32_t pe, uint32_t mt, uint32_t L, uint64_t len, uint32_t lanes)
{
    uint32_t v = mt * vecs(L, lanes);
    uint64_t e = (uint64_t)mt * L;
    eng_instr *in = NULL;
    if (k == ROW_SOFTMAX && step == 0) {
        if ((in = row_instr(b, st, pe, softmax_max, mt, L, len, mt * L + mt)))
            in->vec_ops[ARCH_FU_MAX] = v, in->lane_ops = e;
    } else if (k == ROW_SOFTMAX && step == 1) {
        if ((in = row_instr(b, st, pe, softmax_exp, mt, L, len, mt * L + 2 * mt)))
            in->vec_ops[ARCH_FU_ADD] = 2 * v, in->vec_ops[ARCH_FU_EXP] = v, in->lane_ops = 3 * e;
    } else if (k == ROW_SOFTMAX) {
        if ((in = row_instr(b, st, pe, softmax_scale, mt, L, len, mt * L + mt)))
            in->vec_ops[ARCH_FU_MUL] = v, in->lane_ops = e;
    } else if (k == ROW_SM_STATS) {
        if ((in = row_instr(b, st, pe, softmax_stats, mt, L, len, mt * L + 2 * mt))) {
            in->vec_ops[ARCH_FU_MAX] = v, in->vec_ops[ARCH_FU_ADD] = 2 * v;
            in->vec_ops[ARCH_FU_EXP] = v, in->lane_ops = 4 * e;
        }
    } else if (k == ROW_SM_APPLY) {
        if ((in = row_instr(b, st, pe, softmax_apply, mt, L, len, mt * L + 2 * mt))) {
            in->vec_ops[ARCH_FU_ADD] = v, in->vec_ops[ARCH_FU_EXP] = v;
            in->vec_ops[ARCH_FU_MUL] = v, in->lane_ops = 3 * e;
        }
    } else if (k == ROW_LAYERNORM && step == 0) {
        if ((in = row_instr(b, st, pe, ln_moments, mt, L, len, mt * L + 2 * mt)))
            in->vec_ops[ARCH_FU_ADD] = v, in->vec_ops[ARCH_FU_MAC] = v, in->lane_ops = 2 * e;
    } else if (k == ROW_LAYERNORM) {
        if ((in = row_instr(b, st, pe, ln_apply, mt, L, len, mt * L + 2 * mt)))
            in->vec_ops[ARCH_FU_ADD] = 2 * v, in->vec_ops[ARCH_FU_MUL] = 2 * v,
            in->lane_ops = 4 * e;
    } else if (k == ROW_GELU) {
        if ((in = row_instr(b, st, pe, gelu, mt, L, len, mt * L)))
            map_gelu_cost(mt, L, lanes, in);
    } else if ((in = row_instr(b, st, pe, add, mt, L, len, 2 * mt * L))) {
        in->vec_ops[ARCH_FU_ADD] = v, in->lane_ops = e;
    }
    return in;
}

/* Reducer rd of a chain of S segments on PE pe, with its units. */
static eng_instr *row_reducer_instr(phase_build *b, map_store *st, row_kind k, uint32_t rd,
                                    uint32_t pe, uint32_t mt, uint32_t S, uint64_t len,
                                    uint32_t lanes)
{
    uint32_t vr = vecs(mt, lanes), combine = S > 1 ? S - 1 : 1;
    eng_instr *in = NULL;
    if (k == ROW_LAYERNORM) {
        if ((in = row_instr(b, st, pe, reduce_moments, mt, S, len, (S + 1) * 2 * mt))) {
            in->vec_ops[ARCH_FU_ADD] = 2 * (S - 1) * vr + vr;
            in->vec_ops[ARCH_FU_MUL] = 2 * vr;
            in->vec_ops[ARCH_FU_RCP] = vr; /* ASSUMPTION: the rcp unit also does 1/sqrt */
            in->lane_ops = (uint64_t)(2 * (S - 1) + 4) * mt;
        }
    } else if (k == ROW_SM_STATS) {
        /* M = max m_i; L = sum l_i exp(m_i - M); 1/L */
        if ((in = row_instr(b, st, pe, reduce_online, mt, S, len, (S + 1) * 2 * mt))) {
            in->vec_ops[ARCH_FU_MAX] = combine * vr;
            in->vec_ops[ARCH_FU_ADD] = 2 * S * vr;
            in->vec_ops[ARCH_FU_EXP] = S * vr;
            in->vec_ops[ARCH_FU_RCP] = vr;
            in->lane_ops = (uint64_t)(combine + 3 * S + 1) * mt;
        }
    } else if (rd == 0) {
        if ((in = row_instr(b, st, pe, reduce_max, mt, S, len, (S + 1) * mt)))
            in->vec_ops[ARCH_FU_MAX] = combine * vr, in->lane_ops = (uint64_t)combine * mt;
    } else if ((in = row_instr(b, st, pe, reduce_rcp_sum, mt, S, len, (S + 1) * mt))) {
        in->vec_ops[ARCH_FU_ADD] = combine * vr;
        in->vec_ops[ARCH_FU_RCP] = vr;
        in->lane_ops = (uint64_t)S * mt;
    }
    return in;
}

/* One phase of a row op: n_tags tags of tag_rows rows from row0, chains of mt rows. */
static int row_phase(const arch_desc *a, row_kind k, const map_op_io *io, util_dtype t,
                     const row_plan *pl, uint64_t len, uint64_t tag_rows, uint64_t n_tags,
                     uint64_t row0, uint64_t w_addr, bool functional, ops_priv *p)
{
    uint32_t lanes = arch_lanes(a, t), S = (uint32_t)util_ceil_div(len, pl->L);
    uint32_t chains = (uint32_t)util_ceil_div(tag_rows, pl->mt);
    uint32_t steps = row_steps(k), reds = row_reducers(k);
    uint64_t in_run = row_in_run(k, len);
    /* the statistics pass writes M and 1/L into the two spare columns of each row */
    bool stats = k == ROW_SM_STATS;
    uint64_t out_run = stats ? 2 : len;
    uint32_t parts = (k == ROW_ADD || k == ROW_SM_APPLY) ? 2 : 1;
    phase_build b;
    if (pb_init(&b, &p->st, chains * (S * steps + reds), chains * S * (2 * steps + 4 * reds + 2)))
        return UTIL_ERUN;
    tag_map *tm = map_keep(&p->st, 1, sizeof *tm);
    if (!tm)
        return UTIL_ERUN;
    const map_tensor *out = stats ? &io->src0 : &io->dst;
    *tm = (tag_map){.n_tags = n_tags,
                    .rows = tag_rows,
                    .in_addr = io->src0.addr + row0 * io->src0.stride,
                    .in_run = in_run,
                    .in_pitch = io->src0.stride,
                    .out_addr = out->addr + row0 * out->stride + (stats ? len : 0),
                    .out_run = out_run,
                    .out_pitch = out->stride};
    for (uint32_t c = 0; c < chains; c++) {
        uint32_t r0 = c * pl->mt;
        uint32_t mt = (uint32_t)(tag_rows - r0 < pl->mt ? tag_rows - r0 : pl->mt);
        uint32_t base = b.n_ins;
        /* segment instructions: step-major, then the reducers */
        for (uint32_t st = 0; st < steps; st++) {
            for (uint32_t i = 0; i < S; i++) {
                uint64_t j0 = i * pl->L;
                uint32_t L = (uint32_t)(len - j0 < pl->L ? len - j0 : pl->L);
                uint32_t pe = snake_pe(a, c * pl->S + i);
                eng_instr *in = row_step_instr(&b, &p->st, k, st, pe, mt, L, len, lanes);
                if (!in)
                    return UTIL_ERUN;
                if (k == ROW_LAYERNORM && st == 1) {
                    /* gamma then beta of this segment: 2 runs of L, len apart */
                    in->weight_elems = 2 * L;
                    in->weight_addr = w_addr + j0;
                    in->weight_run = L;
                    in->weight_pitch = len;
                }
                int32_t me = (int32_t)(b.n_ins - 1);
                if (st == 0) {
                    /* the row segment from the SPM, and for ADD the added segment, for
                     * APPLY the row's M and 1/L */
                    for (uint32_t part = 0; part < parts; part++) {
                        bool mstat = k == ROW_SM_APPLY && part == 1;
                        uint32_t elems = mstat ? 2 * mt : mt * L;
                        eng_xfer *x = pb_xfer(&b, -1, me, elems);
                        if (!x)
                            return UTIL_ERUN;
                        x->spm_port = eng_spm_port_near(a, pe);
                        x->spm = mstat
                                     ? (eng_pattern){r0 * in_run + len, 2, in_run, mt}
                                     : (eng_pattern){r0 * in_run + part * len + j0, L, in_run, mt};
                        if (functional && part && !(x->dst_pos = run_pos(&p->st, mt * L, elems)))
                            return UTIL_ERUN;
                    }
                } else if (row_link(&b, &p->st, functional, me - (int32_t)S, 0, me, 0, mt * L)) {
                    return UTIL_ERUN; /* the segment from the previous step */
                }
                if (st + 1 == steps && !stats) {
                    eng_xfer *x = pb_xfer(&b, me, -1, mt * L);
                    if (!x)
                        return UTIL_ERUN;
                    x->spm_port = eng_spm_port_near(a, pe);
                    x->spm = (eng_pattern){r0 * len + j0, L, len, mt};
                }
            }
        }
        /* reducers on the chain's middle PE: partials in, results back to the next step
         * (or, for the statistics, out to the SPM) */
        uint32_t mid = snake_pe(a, c * pl->S + S / 2);
        for (uint32_t rd = 0; rd < reds; rd++) {
            uint32_t w = (k == ROW_LAYERNORM || stats) ? 2 : 1;
            eng_instr *in = row_reducer_instr(&b, &p->st, k, rd, mid, mt, S, len, lanes);
            if (!in)
                return UTIL_ERUN;
            int32_t me = (int32_t)(b.n_ins - 1);
            for (uint32_t i = 0; i < S; i++) {
                uint32_t L = (uint32_t)(len - i * pl->L < pl->L ? len - i * pl->L : pl->L);
                int32_t from = (int32_t)(base + rd * S + i),
                        to = (int32_t)(base + (rd + 1) * S + i);
                /* partials sit after the segment, the sum after the max */
                uint32_t part_off = mt * L + (k == ROW_SOFTMAX && rd == 1 ? mt : 0);
                if (row_link(&b, &p->st, functional, from, part_off, me, i * w * mt, w * mt))
                    return UTIL_ERUN;
                if (!stats && row_link(&b, &p->st, functional, me, S * w * mt, to, mt * L, w * mt))
                    return UTIL_ERUN;
            }
            if (stats) {
                eng_xfer *x = pb_xfer(&b, me, -1, 2 * mt);
                if (!x)
                    return UTIL_ERUN;
                x->spm_port = eng_spm_port_near(a, mid);
                x->spm = (eng_pattern){r0 * 2, 2 * mt, 2 * mt, 1};
                if (functional && !(x->src_pos = run_pos(&p->st, S * w * mt, 2 * mt)))
                    return UTIL_ERUN;
            }
        }
    }
    return add_phase(p, &b, tm, 1, 0);
}

/* All phases of one pass: full tags, then the leftover rows. */
static int row_pass(const arch_desc *a, row_kind k, const map_op_io *io, util_dtype t,
                    const row_plan *pl, uint64_t w_addr, bool functional, ops_priv *p)
{
    uint64_t len = io->dst.cols, rows = io->dst.rows;
    uint64_t tag_rows = (uint64_t)pl->mt * pl->chains, full = rows / tag_rows;
    int rc = UTIL_OK;
    if (full)
        rc = row_phase(a, k, io, t, pl, len, tag_rows, full, 0, w_addr, functional, p);
    if (!rc && rows % tag_rows)
        rc = row_phase(a, k, io, t, pl, len, rows % tag_rows, 1, full * tag_rows, w_addr,
                       functional, p);
    return rc;
}

/* A row-op plan the user fixed: segments (at most the PEs and the row) and rows per
 * chain; it must fit the PE buffer, the SPM and the instruction store. */
static int row_forced(const arch_desc *a, row_kind k, uint64_t len, uint64_t rows, util_dtype t,
                      const map_force *f, row_plan *pl, char *err, size_t errlen)
{
    uint32_t P = arch_pe_count(a), wb = util_dtype_bytes(t);
    uint32_t S = f->segments ? f->segments : 1, mt = f->rows_per_chain ? f->rows_per_chain : 1;
    if (S > P || S > len)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: segments = %u is not allowed (1..%llu: at most the %u PEs and "
                         "the row of %llu)",
                         f->where, f->op, S, (unsigned long long)(len < P ? len : P), P,
                         (unsigned long long)len);
    uint64_t L = util_ceil_div(len, S);
    uint32_t chains = P / S < rows ? P / S : (uint32_t)rows;
    uint64_t tag_rows = (uint64_t)mt * chains;
    uint64_t need = row_need(a, k, L, mt, S);
    uint64_t spm_need = 2 * tag_rows * row_in_run(k, len) + 2 * tag_rows * len + 4 * L;
    if (mt > rows || need * wb > a->pe.buffer_bytes || spm_need * wb > arch_spm_bytes(a) ||
        row_steps(k) + row_reducers(k) > a->pe.istore)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: segments = %u, rows_per_chain = %u needs %llu bytes of PE "
                         "buffer (the PE has %u), %llu bytes of SPM (the SPM has %llu) and at "
                         "most %llu rows (the op has %llu)",
                         f->where, f->op, S, mt, (unsigned long long)(need * wb),
                         a->pe.buffer_bytes, (unsigned long long)(spm_need * wb),
                         (unsigned long long)arch_spm_bytes(a), (unsigned long long)rows,
                         (unsigned long long)rows);
    *pl = (row_plan){S, mt, chains, L};
    return UTIL_OK;
}

static int row_map(const arch_desc *a, const wl_op *op, const map_op_io *io, util_dtype t,
                   uint64_t w_addr, bool functional, ops_priv *p, char *desc, row_plan *plan,
                   char *err, size_t errlen)
{
    uint64_t len = io->dst.cols, rows = io->dst.rows;
    row_kind k = row_kind_of(op->kind);
    if (k == ROW_ADD &&
        (io->src1.addr != io->src0.addr + len || io->src1.stride != io->src0.stride))
        return util_fail(UTIL_ERUN, err, errlen,
                         "%s: the operands of an add must be interleaved row by row", op->name);
    row_plan pl = {0, 0, 0, 0}, pl2 = {0, 0, 0, 0};
    const map_force *f = io->force;
    if (f && (f->segments || f->rows_per_chain)) {
        int rc = row_forced(a, k, len, rows, t, f, &pl, err, errlen);
        if (!rc)
            rc = row_pass(a, k, io, t, &pl, w_addr, functional, p);
        if (rc)
            return rc == UTIL_ECONFIG
                       ? rc
                       : util_fail(rc, err, errlen, "out of memory while mapping %s", op->name);
        snprintf(desc, MAP_DESC_MAX,
                 "%s: rows of %llu in %u segments of %llu on PE chains, %u chains x %u rows "
                 "per tag (from the mapping file)",
                 wl_op_kind_name(op->kind), (unsigned long long)len, pl.S, (unsigned long long)pl.L,
                 pl.chains, pl.mt);
        *plan = pl;
        return UTIL_OK;
    }
    bool one = row_choose(a, k, len, rows, t, &pl);
    /* the two-pass softmax needs two spare columns beside each row of scores */
    bool two = !one && k == ROW_SOFTMAX && io->src0.stride >= len + 2 &&
               row_choose(a, ROW_SM_STATS, len, rows, t, &pl) &&
               row_choose(a, ROW_SM_APPLY, len, rows, t, &pl2);
    if (!one && !two)
        return util_fail(UTIL_ERUN, err, errlen,
                         "cannot map %s (%s, rows of %llu elements): a row segment does not fit "
                         "the %u-byte PE buffer, the %llu-byte SPM or the %u-entry instruction "
                         "store (needs %u)",
                         op->name, wl_op_kind_name(op->kind), (unsigned long long)len,
                         a->pe.buffer_bytes, (unsigned long long)arch_spm_bytes(a), a->pe.istore,
                         row_steps(k) + row_reducers(k));
    int rc = row_pass(a, one ? k : ROW_SM_STATS, io, t, &pl, w_addr, functional, p);
    if (!rc && two)
        rc = row_pass(a, ROW_SM_APPLY, io, t, &pl2, w_addr, functional, p);
    if (rc)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping %s", op->name);
    int used =
        snprintf(desc, MAP_DESC_MAX,
                 "%s: rows of %llu in %u segments of %llu on PE chains, %u chains x %u rows "
                 "per tag",
                 one ? wl_op_kind_name(op->kind) : "softmax in two passes (statistics, scaling)",
                 (unsigned long long)len, pl.S, (unsigned long long)pl.L, pl.chains, pl.mt);
    if (two && used > 0 && used < MAP_DESC_MAX)
        snprintf(desc + used, MAP_DESC_MAX - (size_t)used, "; scaling in %u segments", pl2.S);
    *plan = pl;
    return UTIL_OK;
}

/* ---------------------------------------------------------------- fused attention
 *
 * softmax(Q K^T / sqrt(d)) V per head with neither S nor P in memory: the online
 * softmax on chains of PEs. Position i of a chain holds kb keys and their values (one
 * strided run, since K and V share rows). For a tag of mt query rows it scores them
 * against its keys and keeps, per row, the maximum m, the sum l of exp(s - m) and the
 * unnormalised output o = sum exp(s - m) v; it merges that state with the one arriving
 * from position i - 1 (m the larger, each side scaled by exp(its m - m)) and passes it
 * on with the query rows; the last position writes o / l. Chains take different heads. When the
 * keys do not fit one chain, passes over key ranges carry the state through DRAM: a scratch row per
 * query holds [q m l o] for every head, and the next pass reads it back. */

typedef struct attn_plan {
    uint32_t Lc, Gc, mt, kb, passes;
} attn_plan;

/* One batch item of the op: its rows of Q, of the [K | V] pair and of C, the scratch. Nq
 * queries meet N keys; query r is at position q_off + r (a decode step's cache comes
 * first), which the causal mask compares with the key's. */
typedef struct attn_prob {
    uint64_t N, Nq, q_off, d, heads;
    uint64_t k_first, k_step; /* key j's position: k_first + j k_step (a shard's keys) */
    bool states;              /* write every query's partial state, not its output */
    map_tensor q, kv, c, scratch;
    double scale;
    bool causal;
} attn_prob;

typedef struct attn_ictx {
    uint32_t mt, kb, d;
    uint64_t key0, row0;      /* first key of the instruction, first query position of the phase */
    uint64_t k_first, k_step; /* key j's position: k_first + (key0 + j) k_step */
    bool merge_in;            /* a state arrives (from position i - 1 or from the scratch) */
    bool finish;              /* last position of the last pass: write o / l */
    bool causal;
    double scale;
} attn_ictx;

/* A row of the local buffer: q, m, l, o; the tag's scores follow the mt rows. */
static uint32_t attn_row(uint32_t d)
{
    return 2 * d + 2;
}

static void attn_kernel(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag,
                        float *buf, const float *w, util_dtype t)
{
    const attn_ictx *g = ctx;
    (void)in, (void)repeat;
    uint32_t d = g->d, e = attn_row(d);
    float *p = buf + (size_t)g->mt * e;
    for (uint32_t r = 0; r < g->mt; r++) {
        float *q = buf + (size_t)r * e, *st = q + d;
        uint64_t query = g->row0 + tag * g->mt + r;
        double m = -INFINITY, sum = 0;
        for (uint32_t j = 0; j < g->kb; j++) {
            double acc = 0;
            for (uint32_t c = 0; c < d; c++)
                acc += (double)q[c] * w[(size_t)j * 2 * d + c];
            p[j] = g->causal && g->k_first + (g->key0 + j) * g->k_step > query
                       ? -INFINITY
                       : util_round_dtype(t, (float)(acc * g->scale));
            m = fmax(m, p[j]);
        }
        for (uint32_t j = 0; j < g->kb; j++) {
            p[j] = m == -INFINITY ? 0.0f : util_round_dtype(t, (float)exp(p[j] - m));
            sum += p[j];
        }
        /* merge with the arriving state; both sides empty (fully masked) stays empty */
        double M = g->merge_in ? fmax(m, st[0]) : m;
        double a_loc = M == -INFINITY ? 0 : exp(m - M);
        double a_in = g->merge_in && M != -INFINITY ? exp(st[0] - M) : 0;
        double l = a_loc * sum + a_in * (g->merge_in ? st[1] : 0);
        for (uint32_t c = 0; c < d; c++) {
            double acc = 0;
            for (uint32_t j = 0; j < g->kb; j++)
                acc += (double)p[j] * w[(size_t)j * 2 * d + d + c];
            double o = a_loc * acc + a_in * (g->merge_in ? st[2 + c] : 0);
            st[2 + c] = util_round_dtype(t, (float)(g->finish ? (l > 0 ? o / l : 0) : o));
        }
        st[0] = (float)M;
        st[1] = util_round_dtype(t, (float)l);
    }
}

/* Vector operations of one instruction per tag, unit by unit, and its lane operations:
 * q.k over the keys, scale, max, s - m, exp, row sums and p.v; the merge rescales both
 * states; the last position divides by l. */
static void attn_costs(const attn_ictx *g, uint32_t L, eng_instr *in)
{
    uint64_t mt = g->mt, kb = g->kb, d = g->d;
    uint32_t V = vecs(kb, L), D = vecs(d, L), R = vecs(mt, L);
    bool mg = g->merge_in;
    in->vec_ops[ARCH_FU_MAC] = (uint32_t)(mt * d * V + mt * kb * D + (mg ? mt * D : 0));
    in->vec_ops[ARCH_FU_MUL] = (uint32_t)(mt * V + (mg ? mt * D : 0) + (g->finish ? mt * D : 0));
    in->vec_ops[ARCH_FU_MAX] = (uint32_t)(mt * V) + (mg ? R : 0);
    in->vec_ops[ARCH_FU_ADD] = (uint32_t)(2 * mt * V) + (mg ? R : 0);
    in->vec_ops[ARCH_FU_EXP] = (uint32_t)(mt * V) + (mg ? 2 * R : 0);
    in->vec_ops[ARCH_FU_RCP] = g->finish ? R : 0;
    in->lane_ops = mt * kb * (2 * d + 5) + (mg ? mt * (2 * d + 4) : 0) + (g->finish ? mt * d : 0);
}

/* Every feasible plan: chains of Lc PEs (a power of two) taking Gc heads at a time (Gc
 * divides the heads), mt query rows per tag, the most keys per position the PE buffer
 * holds beside pe.tags tags, and as many passes as the keys then need. */
static uint32_t attn_plans(const arch_desc *a, const attn_prob *g, util_dtype t,
                           attn_plan plans[GEMM_MAX_PLANS])
{
    uint32_t P = arch_pe_count(a), wb = util_dtype_bytes(t), n = 0;
    uint64_t cap = a->pe.buffer_bytes / wb, spm = arch_spm_bytes(a) / wb, tags = a->pe.tags;
    uint64_t e = attn_row((uint32_t)g->d);
    for (uint32_t Lc = 1; Lc <= P && Lc <= g->N && n < GEMM_MAX_PLANS; Lc *= 2) {
        uint64_t Gc = P / Lc < g->heads ? P / Lc : g->heads;
        if (g->heads % Gc)
            continue;
        for (uint32_t mt = 1; mt <= 64 && mt <= g->Nq && n < GEMM_MAX_PLANS; mt *= 2) {
            if (tags * mt * e >= cap)
                break;
            /* per position: pe.tags x (mt rows + kb scores) + kb keys and values */
            uint64_t kb_max = (cap - tags * mt * e) / (2 * g->d + tags);
            if (!kb_max)
                break;
            uint64_t passes = util_ceil_div(g->N, Lc * kb_max);
            uint64_t kb = util_ceil_div(g->N, passes * Lc);
            /* SPM: two input and two output slots, two weight staging buffers */
            if (passes > 64 || 4 * mt * Gc * e + 4 * kb * g->d > spm)
                continue;
            plans[n++] = (attn_plan){Lc, (uint32_t)Gc, mt, (uint32_t)kb, (uint32_t)passes};
        }
    }
    return n;
}

/* Positions o, o + e, ... of each row's run of n (functional transfers). */
static const uint32_t *rows_pos(map_store *st, uint32_t mt, uint32_t e, uint32_t off, uint32_t n)
{
    uint32_t *p = map_keep(st, (size_t)mt * n, sizeof *p);
    if (p)
        for (uint32_t r = 0; r < mt; r++)
            for (uint32_t j = 0; j < n; j++)
                p[(size_t)r * n + j] = r * e + off + j;
    return p;
}

/* One phase: pass `pass` over its keys for query rows row0 .. row0 + mt * n_tags, all
 * heads (a repeat per group of Gc heads). */
static int attn_phase(const arch_desc *a, const attn_prob *g, util_dtype t, const attn_plan *pl,
                      uint32_t pass, uint32_t mt, uint64_t n_tags, uint64_t row0, bool functional,
                      ops_priv *p)
{
    uint32_t L = arch_lanes(a, t), d = (uint32_t)g->d, e = attn_row(d), Gc = pl->Gc;
    uint64_t k_begin = (uint64_t)pass * pl->Lc * pl->kb;
    uint64_t k_end = k_begin + (uint64_t)pl->Lc * pl->kb < g->N ? k_begin + pl->Lc * pl->kb : g->N;
    uint32_t Lp = (uint32_t)util_ceil_div(k_end - k_begin, pl->kb);
    /* (states: even the last pass writes the carried state [q m l o] and does not divide) */
    bool first = pass == 0, last = pass + 1 == pl->passes && !g->states;
    phase_build b;
    tag_map *tm = map_keep(&p->st, 1, sizeof *tm);
    if (!tm || pb_init(&b, &p->st, Gc * Lp, Gc * (Lp + 1)))
        return UTIL_ERUN;
    uint64_t sw = g->scratch.stride, in_w = first ? d : e, out_w = last ? d : e;
    *tm = (tag_map){.n_tags = n_tags,
                    .rows = mt,
                    .in_addr = first ? g->q.addr + row0 * g->q.stride : g->scratch.addr + row0 * sw,
                    .in_run = Gc * in_w,
                    .in_pitch = first ? g->q.stride : sw,
                    .in_step = Gc * in_w,
                    .out_addr = last ? g->c.addr + row0 * g->c.stride : g->scratch.addr + row0 * sw,
                    .out_run = Gc * out_w,
                    .out_pitch = last ? g->c.stride : sw,
                    .out_step = Gc * out_w};
    uint64_t H = g->kv.cols / 2;
    for (uint32_t c = 0; c < Gc; c++) {
        for (uint32_t i = 0; i < Lp; i++) {
            uint64_t key0 = k_begin + (uint64_t)i * pl->kb;
            uint32_t kb = (uint32_t)(k_end - key0 < pl->kb ? k_end - key0 : pl->kb);
            int32_t me = (int32_t)b.n_ins;
            eng_instr *in = &b.ins[b.n_ins++];
            attn_ictx *ic = map_keep(&p->st, 1, sizeof *ic);
            if (!ic)
                return UTIL_ERUN;
            *ic = (attn_ictx){.mt = mt,
                              .kb = kb,
                              .d = d,
                              .key0 = key0,
                              .row0 = g->q_off + row0,
                              .k_first = g->k_first,
                              .k_step = g->k_step,
                              .merge_in = i > 0 || !first,
                              .finish = last && i + 1 == Lp,
                              .causal = g->causal,
                              .scale = g->scale};
            in->pe = snake_pe(a, c * pl->Lc + i);
            in->op = ENG_OP_KERNEL;
            in->kernel = attn_kernel;
            in->kernel_ctx = ic;
            attn_costs(ic, L, in);
            in->local_elems = mt * e + kb;
            /* keys key0.. of head c (of the repeat's group): K then V of each, H apart */
            in->weight_elems = 2 * kb * d;
            in->weight_addr = g->kv.addr + key0 * g->kv.stride + (uint64_t)c * d;
            in->weight_run = d;
            in->weight_pitch = H;
            /* the first position takes q (and the carried state, in a later pass) from the
             * SPM; each passes q and the merged state on, so that only the chain's head is
             * fed and deep positions never wait for the controller */
            if (i == 0) {
                eng_xfer *xs = pb_xfer(&b, -1, me, mt * (first ? d : e));
                if (!xs)
                    return UTIL_ERUN;
                xs->spm_port = eng_spm_port_near(a, in->pe);
                xs->spm = (eng_pattern){(uint64_t)c * in_w, in_w, Gc * in_w, mt};
                if (functional && first && !(xs->dst_pos = rows_pos(&p->st, mt, e, 0, d)))
                    return UTIL_ERUN;
            } else if (!pb_xfer(&b, me - 1, me, mt * e)) {
                return UTIL_ERUN;
            }
            if (i + 1 == Lp) {
                eng_xfer *xo = pb_xfer(&b, me, -1, mt * out_w);
                if (!xo)
                    return UTIL_ERUN;
                xo->spm_port = eng_spm_port_near(a, in->pe);
                xo->spm = (eng_pattern){(uint64_t)c * out_w, out_w, Gc * out_w, mt};
                if (functional && last && !(xo->src_pos = rows_pos(&p->st, mt, e, d + 2, d)))
                    return UTIL_ERUN;
            }
        }
    }
    return add_phase(p, &b, tm, g->heads / Gc, (uint64_t)Gc * d);
}

/* All phases of one batch item: pass by pass, full tags then the leftover rows. */
static int attn_map(const arch_desc *a, const attn_prob *g, util_dtype t, const attn_plan *pl,
                    bool functional, ops_priv *p)
{
    uint64_t full = g->Nq / pl->mt, rest = g->Nq % pl->mt;
    for (uint32_t pass = 0; pass < pl->passes; pass++) {
        int rc = full ? attn_phase(a, g, t, pl, pass, pl->mt, full, 0, functional, p) : UTIL_OK;
        if (!rc && rest)
            rc = attn_phase(a, g, t, pl, pass, (uint32_t)rest, 1, full * pl->mt, functional, p);
        if (rc)
            return rc;
    }
    return UTIL_OK;
}

/* Batch item b of the op. */
static void attn_item(const wl_desc *d, const wl_op *op, const map_op_io *io, uint64_t b,
                      attn_prob *g)
{
    uint64_t N = op->n, Nq = op->nq, e = attn_row((uint32_t)op->d);
    *g = (attn_prob){.N = N,
                     .Nq = Nq,
                     .q_off = N - Nq,
                     .k_step = 1,
                     .d = op->d,
                     .heads = d->heads,
                     .scale = 1.0 / sqrt((double)op->d),
                     .causal = d->mask == WL_MASK_CAUSAL};
    g->q =
        (map_tensor){io->src0.addr + b * Nq * io->src0.stride, Nq, io->src0.cols, io->src0.stride};
    g->kv =
        (map_tensor){io->src1.addr + b * N * io->src1.stride, N, io->src1.cols, io->src1.stride};
    g->c = (map_tensor){io->dst.addr + b * Nq * io->dst.stride, Nq, io->dst.cols, io->dst.stride};
    g->scratch =
        (map_tensor){io->free_addr + b * Nq * d->heads * e, Nq, d->heads * e, d->heads * e};
}

/* ---------------------------------------------------------------- the search */

/* Attention group gi = batch b, head h of a QK^T or PV op: its rows of Q (or P), its
 * columns of K or V, and its part of the output. */
static void gemm_group(const wl_desc *d, const wl_op *op, const map_op_io *io, uint64_t gi,
                       gemm_prob *g)
{
    uint64_t Nq = op->nq, Nk = op->n, dh = op->d, b = gi / d->heads, h = gi % d->heads;
    bool scores = op->kind == WL_OP_SCORES;
    const map_tensor *qp = &io->src0, *kv = &io->src1, *y = &io->dst;
    uint64_t qrow = scores ? b * Nq : gi * Nq, yrow = scores ? gi * Nq : b * Nq;
    g->x = (map_tensor){qp->addr + qrow * qp->stride + (scores ? h * dh : 0), Nq, g->K, qp->stride};
    g->w = (map_tensor){kv->addr + b * Nk * kv->stride + h * dh, Nk, dh, kv->stride};
    g->y = (map_tensor){y->addr + yrow * y->stride + (scores ? 0 : h * dh), Nq, g->N, y->stride};
}

/* Prices a trial mapping (built with status map_rc) with eng_estimate: its cycles, its
 * cost under the objective and the term that bounds its first phase. Frees the trial. */
static int price(const arch_desc *a, util_dtype t, const map_forced *how, int map_rc,
                 ops_priv *trial, uint64_t *cycles, double *cost, const char **why, char *err,
                 size_t errlen)
{
    eng_phase_estimate *pe = map_rc ? NULL : calloc(trial->n_phases + 1, sizeof *pe);
    eng_estimate_total est;
    memset(&est, 0, sizeof est);
    map_deepen_slots(a, t, trial->phases, trial->n_phases, 0);
    eng_program prog = {t, trial->n_phases, trial->phases, UINT64_MAX, 0, 0, 0, 0};
    int rc = !pe || eng_estimate(a, &prog, pe, &est, err, errlen) ? UTIL_ERUN : UTIL_OK;
    *cycles = est.cycles;
    *cost = map_cost(how, a, t, &est);
    *why = rc ? "" : map_bottleneck(&pe[0]);
    free(pe);
    map_store_free(&trial->st);
    free(trial->phases);
    return rc;
}

/* Builds every feasible plan for one group and prices it with eng_estimate (times the
 * groups, which are identical); keeps the cheapest and the best few for --explain. */
static int gemm_search(const arch_desc *a, const gemm_prob *g, util_dtype t, uint64_t groups,
                       const map_op_io *io, gemm_plan *best, map_op_result *out, char *err,
                       size_t errlen, const char *opname)
{
    gemm_plan plans[GEMM_MAX_PLANS];
    uint32_t n = gemm_plans(a, g, t, plans);
    if (!n)
        return util_fail(UTIL_ERUN, err, errlen,
                         "cannot map %s (%llu x %llu x %llu): even one row and one column per "
                         "PE needs more than the %u-byte PE buffer or the %llu-byte SPM",
                         opname, (unsigned long long)g->M, (unsigned long long)g->K,
                         (unsigned long long)g->N, a->pe.buffer_bytes,
                         (unsigned long long)arch_spm_bytes(a));
    double best_cost = INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        ops_priv trial;
        memset(&trial, 0, sizeof trial);
        uint64_t w_next = io->free_addr, cycles;
        double cost;
        const char *why;
        int rc = gemm_map(a, g, t, &plans[i], &w_next, false, &trial);
        if (price(a, t, io->how, rc, &trial, &cycles, &cost, &why, err, errlen))
            return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping %s", opname);
        char desc[MAP_CAND_DESC_MAX];
        snprintf(desc, sizeof desc, "%u chains of %u PEs, %u rows x %u columns per chain",
                 plans[i].Gc, plans[i].Lc, plans[i].mt, plans[i].nr);
        if (map_shortlist_add(&out->shortlist, cycles * groups, cost * (double)groups, why, desc,
                              &best_cost))
            *best = plans[i];
    }
    return UTIL_OK;
}

/* The same search for fused attention (batch items are identical). A mapping-file entry
 * f narrows it to the plans with its chain_pes and rows_per_tag (0: any). */
static int attn_search(const arch_desc *a, const attn_prob *g, util_dtype t, uint64_t batch,
                       const map_op_io *io, attn_plan *best, map_op_result *out, char *err,
                       size_t errlen)
{
    attn_plan plans[GEMM_MAX_PLANS];
    uint32_t n = attn_plans(a, g, t, plans), kept = 0;
    const map_force *f = io->force;
    uint32_t lc_lo = UINT32_MAX, lc_hi = 0, mt_hi = 0;
    for (uint32_t i = 0; f && i < n; i++) {
        lc_lo = plans[i].Lc < lc_lo ? plans[i].Lc : lc_lo;
        lc_hi = plans[i].Lc > lc_hi ? plans[i].Lc : lc_hi;
        mt_hi = plans[i].mt > mt_hi ? plans[i].mt : mt_hi;
        if ((!f->chain_pes || plans[i].Lc == f->chain_pes) &&
            (!f->rows_per_tag || plans[i].mt == f->rows_per_tag))
            plans[kept++] = plans[i];
    }
    if (f && !kept && n)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: attention: chain_pes = %u, rows_per_tag = %u is not a feasible "
                         "plan on this array (allowed: chain_pes a power of two from %u to %u "
                         "whose chains split the %llu heads evenly, rows_per_tag a power of two "
                         "from 1 to %u whose %u tags fit the %u-byte PE buffer)",
                         f->where, f->chain_pes, f->rows_per_tag, lc_lo, lc_hi,
                         (unsigned long long)g->heads, mt_hi, a->pe.tags, a->pe.buffer_bytes);
    n = f ? kept : n;
    if (!n)
        return util_fail(UTIL_ERUN, err, errlen,
                         "cannot map fused attention (%llu tokens, %llu features per head): one "
                         "query row and one key per PE need more than the %u-byte PE buffer or "
                         "the %llu-byte SPM",
                         (unsigned long long)g->N, (unsigned long long)g->d, a->pe.buffer_bytes,
                         (unsigned long long)arch_spm_bytes(a));
    double best_cost = INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        ops_priv trial;
        memset(&trial, 0, sizeof trial);
        uint64_t cycles;
        double cost;
        const char *why;
        int rc = attn_map(a, g, t, &plans[i], false, &trial);
        if (price(a, t, io->how, rc, &trial, &cycles, &cost, &why, err, errlen))
            return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping attention");
        char desc[MAP_CAND_DESC_MAX];
        snprintf(desc, sizeof desc,
                 "%u chains of %u PEs, %u rows per tag, %u keys per PE, %u "
                 "passes",
                 plans[i].Gc, plans[i].Lc, plans[i].mt, plans[i].kb, plans[i].passes);
        if (map_shortlist_add(&out->shortlist, cycles * batch, cost * (double)batch, why, desc,
                              &best_cost))
            *best = plans[i];
    }
    return UTIL_OK;
}

/* A plan the user fixed: chain_pes (a divisor of the PE count, at most K), rows_per_tag
 * and columns_per_chain; zero takes the search's value for the others. It must fit. */
static int gemm_forced(const arch_desc *a, const gemm_prob *g, util_dtype t, const map_force *f,
                       gemm_plan *pl, char *err, size_t errlen)
{
    uint32_t P = arch_pe_count(a), wb = util_dtype_bytes(t);
    uint64_t cap = a->pe.buffer_bytes / wb, spm = arch_spm_bytes(a) / wb;
    uint32_t Lc = f->chain_pes ? f->chain_pes : 1, mt = f->rows_per_tag ? f->rows_per_tag : 1;
    if (Lc > P || P % Lc || Lc > g->K)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: chain_pes = %u is not allowed (a divisor of the %u PEs, at "
                         "most K = %llu)",
                         f->where, f->op, Lc, P, (unsigned long long)g->K);
    if (mt > g->M)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: rows_per_tag = %u exceeds the %llu rows (allowed 1..%llu)",
                         f->where, f->op, mt, (unsigned long long)g->M, (unsigned long long)g->M);
    uint64_t kc = util_ceil_div(g->K, Lc), Gc = P / Lc;
    uint64_t nr = f->columns_per_chain, widest = util_ceil_div(g->N, Gc);
    if (nr > widest)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: columns_per_chain = %llu exceeds the %llu output columns over "
                         "%llu chains (allowed 1..%llu)",
                         f->where, f->op, (unsigned long long)nr, (unsigned long long)g->N,
                         (unsigned long long)Gc, (unsigned long long)widest);
    if (!nr && cap > (uint64_t)a->pe.tags * mt * kc)
        nr = (cap - (uint64_t)a->pe.tags * mt * kc) / (kc + (uint64_t)a->pe.tags * mt);
    if (nr > widest)
        nr = widest;
    uint64_t blk = nr * Gc < g->N ? nr * Gc : g->N;
    uint64_t need = gemm_need(a, kc, nr, mt), spm_need = 2 * mt * g->K + 2 * mt * blk + 2 * kc * nr;
    if (!nr || need > cap || spm_need > spm)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: chain_pes = %u, rows_per_tag = %u, columns_per_chain = %llu "
                         "needs %llu bytes of PE buffer (the PE has %u) and %llu bytes of SPM "
                         "(the SPM has %llu)",
                         f->where, f->op, Lc, mt, (unsigned long long)nr,
                         (unsigned long long)(need * wb), a->pe.buffer_bytes,
                         (unsigned long long)(spm_need * wb),
                         (unsigned long long)arch_spm_bytes(a));
    *pl = (gemm_plan){Lc, (uint32_t)Gc, mt, (uint32_t)nr};
    return UTIL_OK;
}

/* ---------------------------------------------------------------- ops */

/* A mapping-file entry may set only the keys of its op's kind. */
static int op_keys(const map_force *f, const wl_op *op, char *err, size_t errlen)
{
    const unsigned gemm = MAP_KEY_CHAIN_PES | MAP_KEY_ROWS_PER_TAG | MAP_KEY_COLUMNS_PER_CHAIN;
    switch (op->kind) {
    case WL_OP_DENSE:
    case WL_OP_SCORES:
    case WL_OP_CONTEXT:
        return map_force_keys(f, gemm, "a GEMM", err, errlen);
    case WL_OP_ATTENTION:
        return map_force_keys(f, MAP_KEY_CHAIN_PES | MAP_KEY_ROWS_PER_TAG, "fused attention", err,
                              errlen);
    default:
        return map_force_keys(f, MAP_KEY_SEGMENTS | MAP_KEY_ROWS_PER_CHAIN, "a row op", err,
                              errlen);
    }
}

int map_op(const arch_desc *a, const wl_desc *d, const wl_op *op, const map_op_io *io,
           bool functional, map_op_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->kind = op->kind;
    switch (op->kind) {
    case WL_OP_BUTTERFLY:
    case WL_OP_BLOCK_BFLY:
    case WL_OP_SEQ_BFLY:
    case WL_OP_FFT_MIX:
    case WL_OP_FFT_COMPRESS:
    case WL_OP_FFT_HIDDEN:
    case WL_OP_FFT_SEQ:
        return map_transform(a, d, op, io, functional, out, err, errlen);
    default:
        break;
    }
    int rc = op_keys(io->force, op, err, errlen);
    if (rc)
        return rc;
    ops_priv *p = calloc(1, sizeof *p);
    if (!p)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping %s", op->name);
    out->priv = p;
    util_dtype t = d->dtype;
    uint64_t w_next = io->free_addr;
    if (op->kind == WL_OP_DENSE || op->kind == WL_OP_SCORES || op->kind == WL_OP_CONTEXT) {
        uint64_t Nq = op->nq, Nk = op->n, dh = op->d;
        gemm_prob g = {.scale = 1.0};
        uint64_t groups = 1;
        if (op->kind == WL_OP_DENSE) {
            g.M = io->src0.rows, g.K = op->in, g.N = op->out;
            g.x = io->src0, g.y = io->dst;
            g.wkind = GW_OWN;
            g.gelu = io->gelu_out;
        } else {
            groups = op->groups;
            g.M = Nq, g.K = op->kind == WL_OP_SCORES ? dh : Nk;
            g.N = op->kind == WL_OP_SCORES ? Nk : dh;
            g.wkind = op->kind == WL_OP_SCORES ? GW_KEYS : GW_ROWS;
            g.scale = op->kind == WL_OP_SCORES ? 1.0 / sqrt((double)dh) : 1.0;
            g.causal = op->kind == WL_OP_SCORES && d->mask == WL_MASK_CAUSAL;
            g.q_off = Nk - Nq;
        }
        gemm_plan pl = {0, 0, 0, 0};
        if (op->kind != WL_OP_DENSE)
            gemm_group(d, op, io, 0, &g);
        if (io->force &&
            (io->force->chain_pes || io->force->rows_per_tag || io->force->columns_per_chain))
            rc = gemm_forced(a, &g, t, io->force, &pl, err, errlen);
        else
            rc = gemm_search(a, &g, t, groups, io, &pl, out, err, errlen, op->name);
        out->chain_pes = pl.Lc, out->rows_per_tag = pl.mt, out->columns_per_chain = pl.nr;
        out->weight_addr = io->free_addr;
        for (uint64_t gi = 0; gi < groups && !rc; gi++) {
            if (op->kind != WL_OP_DENSE)
                gemm_group(d, op, io, gi, &g);
            if ((rc = gemm_map(a, &g, t, &pl, &w_next, functional, p)))
                util_fail(rc, err, errlen, "out of memory while mapping %s", op->name);
        }
        if (!rc) {
            out->weight_elems = w_next - io->free_addr;
            snprintf(out->desc, sizeof out->desc,
                     "GEMM %llux%llux%llu%s: %u chains of %u PEs, %u rows x %u columns per "
                     "chain, %u phases",
                     (unsigned long long)g.M, (unsigned long long)g.K, (unsigned long long)g.N,
                     groups > 1 ? " per head" : "", pl.Gc, pl.Lc, pl.mt, pl.nr, p->n_phases);
        }
    } else if (op->kind == WL_OP_ATTENTION) {
        attn_prob g;
        attn_plan pl = {0, 0, 0, 0, 0};
        attn_item(d, op, io, 0, &g);
        rc = attn_search(a, &g, t, d->batch, io, &pl, out, err, errlen);
        out->chain_pes = pl.Lc, out->rows_per_tag = pl.mt;
        for (uint64_t bi = 0; bi < d->batch && !rc; bi++) {
            attn_item(d, op, io, bi, &g);
            if ((rc = attn_map(a, &g, t, &pl, functional, p)))
                util_fail(rc, err, errlen, "out of memory while mapping %s", op->name);
        }
        /* the scratch of the carried state, when there are several passes */
        if (!rc && pl.passes > 1)
            w_next += d->batch * d->seq_len * g.scratch.stride;
        if (!rc)
            snprintf(out->desc, sizeof out->desc,
                     "fused attention per head (online softmax, no S or P in memory): %u chains "
                     "of %u PEs, %u rows per tag, %u keys per PE, %u pass%s, %u phases",
                     pl.Gc, pl.Lc, pl.mt, pl.kb, pl.passes, pl.passes == 1 ? "" : "es",
                     p->n_phases);
    } else {
        out->weight_addr = io->free_addr;
        out->weight_elems = op->kind == WL_OP_LAYERNORM ? 2 * io->dst.cols : 0;
        w_next += out->weight_elems;
        row_plan rp = {0, 0, 0, 0};
        rc = row_map(a, op, io, t, out->weight_addr, functional, p, out->desc, &rp, err, errlen);
        out->segments = rp.S, out->rows_per_chain = rp.mt;
    }
    if (rc) {
        map_op_free(out);
        return rc;
    }
    out->dram_end = w_next;
    map_deepen_slots(a, t, p->phases, p->n_phases, 0);
    out->program = (eng_program){t, p->n_phases, p->phases, w_next, 0, 0, 0, 0};
    return UTIL_OK;
}

int map_attention_states(const arch_desc *a, util_dtype t, const map_attn_shard *s, bool functional,
                         map_op_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->kind = WL_OP_ATTENTION;
    attn_prob g = {.N = s->nk,
                   .Nq = s->nq,
                   .q_off = s->q_first,
                   .k_first = s->k_first,
                   .k_step = s->k_step,
                   .d = s->d,
                   .heads = s->heads,
                   .states = true,
                   .q = s->q,
                   .kv = s->kv,
                   .c = s->states,
                   .scratch = s->states,
                   .scale = 1.0 / sqrt((double)s->d),
                   .causal = s->causal};
    ops_priv *p = calloc(1, sizeof *p);
    if (!p)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping attention");
    out->priv = p;
    map_op_io io = {.src0 = s->q, .src1 = s->kv, .dst = s->states};
    attn_plan pl = {0, 0, 0, 0, 0};
    int rc = attn_search(a, &g, t, 1, &io, &pl, out, err, errlen);
    if (!rc && (rc = attn_map(a, &g, t, &pl, functional, p)))
        util_fail(rc, err, errlen, "out of memory while mapping attention");
    if (rc) {
        map_op_free(out);
        return rc;
    }
    uint64_t end = map_tensor_end(&s->states);
    end = map_tensor_end(&s->q) > end ? map_tensor_end(&s->q) : end;
    end = map_tensor_end(&s->kv) > end ? map_tensor_end(&s->kv) : end;
    out->dram_end = end;
    map_deepen_slots(a, t, p->phases, p->n_phases, 0);
    out->program = (eng_program){t, p->n_phases, p->phases, end, 0, 0, 0, 0};
    return UTIL_OK;
}

void map_op_write_weights(const map_op_result *m, const wl_op *op, const float *w, float *image)
{
    switch (m->kind) {
    case WL_OP_DENSE:
        gemm_write_weights(m->priv, op->out, w, image);
        return;
    case WL_OP_LAYERNORM:
        memcpy(image + m->weight_addr, w, m->weight_elems * sizeof *w);
        return;
    case WL_OP_BUTTERFLY:
    case WL_OP_BLOCK_BFLY:
    case WL_OP_SEQ_BFLY:
    case WL_OP_FFT_MIX:
    case WL_OP_FFT_COMPRESS:
    case WL_OP_FFT_HIDDEN:
    case WL_OP_FFT_SEQ:
        map_transform_write_weights(m, op, w, image);
        return;
    default:
        return;
    }
}

void map_op_free(map_op_result *m)
{
    switch (m->kind) {
    case WL_OP_BUTTERFLY:
    case WL_OP_BLOCK_BFLY:
    case WL_OP_SEQ_BFLY:
    case WL_OP_FFT_MIX:
    case WL_OP_FFT_COMPRESS:
    case WL_OP_FFT_HIDDEN:
    case WL_OP_FFT_SEQ:
        map_transform_free(m);
        break;
    default:
        if (m->priv) {
            ops_priv *p = m->priv;
            map_store_free(&p->st);
            free(p->phases);
            free(p);
        }
        break;
    }
    memset(m, 0, sizeof *m);
}
