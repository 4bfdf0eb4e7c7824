/* reference.c: the model's forward pass in double precision, op by op with sim/ref math. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ref/ref.h"
#include "run.h"

/* Block tensors as dense double matrices ([rows x cols], no padding). */
typedef struct tensors {
    double *t[WL_T_COUNT];
} tensors;

/* Rounding to the model's element type where the array rounds (round set): after every
 * op and every butterfly or FFT stage. */
typedef struct rounding {
    bool round;
    util_dtype t;
} rounding;

/* Rounds v[0 .. n) where r says. */
static void round_all(const rounding *r, uint64_t n, double *v)
{
    for (uint64_t i = 0; r->round && i < n; i++)
        v[i] = util_round_dtype(r->t, (float)v[i]);
}

static uint64_t cols_of(const wl_desc *d, wl_tensor t)
{
    return t == WL_T_S || t == WL_T_P      ? wl_keys(d)
           : (t == WL_T_F1 || t == WL_T_G) ? d->ffn
                                           : d->hidden;
}

/* y[rows x out] = the first `out` outputs of butterfly stages applied to x padded to n. */
static void bfly_rows(uint64_t n, uint64_t rows, uint64_t in, uint64_t out, const float *tw,
                      const double *x, uint64_t xs, double *y, uint64_t ys, double *v,
                      const rounding *rd)
{
    uint32_t S = util_log2(n);
    for (uint64_t r = 0; r < rows; r++) {
        memset(v, 0, n * sizeof *v);
        for (uint64_t j = 0; j < in; j++)
            v[j] = x[r * xs + j];
        for (uint32_t s = 0; s < S; s++) {
            ref_butterfly_stage(n, s, tw + (uint64_t)s * (n / 2) * 4, v);
            round_all(rd, n, v);
        }
        for (uint64_t j = 0; j < out; j++)
            y[r * ys + j] = v[j];
    }
}

/* A forward FFT of n points, its stages rounded where rd says. */
static void fft_rows(size_t n, double *re, double *im, const rounding *rd)
{
    if (rd->round)
        ref_fft_rounded(n, re, im, false, rd->t);
    else
        ref_fft(n, re, im, false);
}

/* Complex FFT along the features of each padded row, then per column chunks of `chunk`
 * tokens (chunk = ns: the whole sequence); keeps Re of the first `keep` coefficients of
 * each chunk (keep = chunk: all). One batch item: x [N x H] -> y [N x H]. */
static int fourier(uint64_t N, uint64_t H, uint64_t ns, uint64_t nh, uint64_t chunk, uint64_t keep,
                   const double *x, double *y, const rounding *rd)
{
    double *re = calloc(ns * nh, sizeof *re), *im = calloc(ns * nh, sizeof *im);
    double *cr = calloc(ns, sizeof *cr), *ci = calloc(ns, sizeof *ci);
    if (!re || !im || !cr || !ci) {
        free(re), free(im), free(cr), free(ci);
        return UTIL_ERUN;
    }
    for (uint64_t r = 0; r < N; r++) {
        for (uint64_t c = 0; c < H; c++)
            re[r * nh + c] = x[r * H + c];
        fft_rows(nh, re + r * nh, im + r * nh, rd);
    }
    for (uint64_t c = 0; c < H; c++) {
        for (uint64_t r = 0; r < ns; r++)
            cr[r] = re[r * nh + c], ci[r] = im[r * nh + c];
        for (uint64_t c0 = 0; c0 < ns; c0 += chunk)
            fft_rows(chunk, cr + c0, ci + c0, rd);
        for (uint64_t r = 0; r < N; r++)
            y[r * H + c] = r % chunk < keep ? cr[r] : 0.0;
    }
    free(re), free(im), free(cr), free(ci);
    return UTIL_OK;
}

static int ref_op(const wl_desc *d, const wl_op *op, const float *w, tensors *T, double *scratch,
                  const rounding *rd)
{
    uint64_t N = d->seq_len, H = d->hidden, Nk = wl_keys(d);
    const double *x = T->t[op->src0], *x1 = T->t[op->src1];
    double *y = T->t[op->dst];
    /* a projection writes the step's rows of K or V, after the cache's (batch 1) */
    if (op->dst == WL_T_K || op->dst == WL_T_V)
        y += d->kv_len * H;
    uint64_t in_cols = cols_of(d, op->src0), out_cols = cols_of(d, op->dst);
    switch (op->kind) {
    case WL_OP_DENSE: {
        double *wd = scratch;
        for (uint64_t i = 0; i < op->in * op->out; i++)
            wd[i] = w[i];
        ref_gemm(op->rows, op->in, op->out, x, wd, y);
        return UTIL_OK;
    }
    case WL_OP_BUTTERFLY:
        bfly_rows(op->n, op->rows, op->in, op->out, w, x, in_cols, y, out_cols, scratch, rd);
        return UTIL_OK;
    case WL_OP_BLOCK_BFLY: {
        double *v = scratch;
        for (uint64_t r = 0; r < op->rows; r++) {
            memset(v, 0, op->n * sizeof *v);
            for (uint64_t j = 0; j < op->in; j++)
                v[j] = x[r * in_cols + j];
            ref_block_butterfly(op->n, op->param, 1, w, v, v);
            for (uint64_t j = 0; j < op->out; j++)
                y[r * out_cols + j] = v[j];
        }
        return UTIL_OK;
    }
    case WL_OP_SEQ_BFLY: {
        double *col = scratch, *v = scratch + N;
        for (uint64_t b = 0; b < d->batch; b++)
            for (uint64_t c = 0; c < H; c++) {
                for (uint64_t r = 0; r < N; r++)
                    col[r] = x[(b * N + r) * H + c];
                bfly_rows(op->n, 1, N, N, w, col, N, col, N, v, rd);
                for (uint64_t r = 0; r < N; r++)
                    y[(b * N + r) * H + c] = col[r];
            }
        return UTIL_OK;
    }
    case WL_OP_FFT_MIX:
    case WL_OP_FFT_COMPRESS: {
        bool comp = op->kind == WL_OP_FFT_COMPRESS;
        for (uint64_t b = 0; b < d->batch; b++)
            if (fourier(N, H, op->n, comp ? wl_pow2_ceil(H) : op->param, comp ? op->param : op->n,
                        comp ? op->d : op->n, x + b * N * H, y + b * N * H, rd))
                return UTIL_ERUN;
        return UTIL_OK;
    }
    case WL_OP_SCORES:
    case WL_OP_CONTEXT: {
        /* Q (or P's rows) [N x dh], K or V [Nk x dh], C [N x dh]: each part holds Nk x dh;
         * query r is at position kv_len + r (the cache's keys come first) */
        uint64_t dh = op->d, span = Nk * (Nk > dh ? Nk : dh);
        double *a = scratch, *bm = scratch + span, *c = bm + span;
        for (uint64_t g = 0; g < op->groups; g++) {
            uint64_t b = g / d->heads, h = g % d->heads;
            for (uint64_t r = 0; r < Nk; r++)
                for (uint64_t j = 0; j < dh; j++)
                    bm[r * dh + j] = x1[(b * Nk + r) * H + h * dh + j];
            if (op->kind == WL_OP_SCORES) {
                for (uint64_t r = 0; r < N; r++)
                    for (uint64_t j = 0; j < dh; j++)
                        a[r * dh + j] = x[(b * N + r) * H + h * dh + j];
                ref_scores(N, Nk, dh, a, bm, 1.0 / sqrt((double)dh), d->mask == WL_MASK_CAUSAL,
                           (long)d->kv_len, y + g * N * Nk);
            } else {
                ref_gemm(N, Nk, dh, x + g * N * Nk, bm, c);
                for (uint64_t r = 0; r < N; r++)
                    for (uint64_t j = 0; j < dh; j++)
                        y[(b * N + r) * H + h * dh + j] = c[r * dh + j];
            }
        }
        return UTIL_OK;
    }
    case WL_OP_SOFTMAX:
        memcpy(y, x, op->rows * Nk * sizeof *y);
        ref_softmax_rows(op->rows, Nk, y);
        return UTIL_OK;
    case WL_OP_LAYERNORM: {
        double *g = scratch, *be = scratch + H;
        for (uint64_t i = 0; i < H; i++)
            g[i] = w[i], be[i] = w[H + i];
        ref_layernorm_rows(op->rows, H, x, WL_LN_EPS, g, be, y);
        return UTIL_OK;
    }
    case WL_OP_GELU:
        ref_gelu_vec(op->rows * op->out, x, y);
        return UTIL_OK;
    case WL_OP_ADD:
        ref_add(op->rows * op->out, x, x1, y);
        return UTIL_OK;
    default:
        return UTIL_ERUN;
    }
}

/* The block tensors of model d (S and P only with attention), X2 aliasing X. */
static int alloc_tensors(const wl_desc *d, tensors *T)
{
    memset(T, 0, sizeof *T);
    bool attention = wl_has_attention(d);
    for (int t = 0; t < WL_T_COUNT; t++) {
        if (t == WL_T_X2)
            continue; /* the block output replaces X */
        bool scores = t == WL_T_S || t == WL_T_P;
        T->t[t] =
            calloc(scores && !attention ? 1 : wl_tensor_elems(d, (wl_tensor)t), sizeof *T->t[t]);
        if (!T->t[t])
            return UTIL_ERUN;
    }
    T->t[WL_T_X2] = T->t[WL_T_X];
    return UTIL_OK;
}

static void free_tensors(tensors *T)
{
    for (int t = 0; t < WL_T_COUNT; t++)
        if (t != WL_T_X2)
            free(T->t[t]);
}

/* A decode step: block instance inst's K/V cache into the first kv_len rows of K and V. */
static int load_cache(const wl_desc *d, uint64_t inst, tensors *T, uint32_t sets)
{
    uint64_t n = d->kv_len * d->hidden;
    float *k = malloc(2 * n * sizeof *k);
    if (!k)
        return UTIL_ERUN;
    wl_kv_cache(d, inst, k, k + n);
    for (uint32_t m = 0; m < sets; m++)
        for (uint64_t i = 0; i < n; i++)
            T[m].t[WL_T_K][i] = k[i], T[m].t[WL_T_V][i] = k[n + i];
    free(k);
    return UTIL_OK;
}

int run_reference(const wl_desc *d, uint64_t first, uint64_t count, const float *x, double *y,
                  double *y_rounded, char *err, size_t errlen)
{
    /* exact, and (y_rounded set) rounded where the array rounds, from the same weights */
    const rounding rd[2] = {{false, d->dtype}, {true, d->dtype}};
    tensors T[2];
    uint32_t sets = y_rounded ? 2 : 1;
    int rc = alloc_tensors(d, &T[0]);
    if (sets == 2 && !rc)
        rc = alloc_tensors(d, &T[1]);
    else
        memset(&T[1], 0, sizeof T[1]);
    uint64_t N = d->seq_len, wmax = 0, big = 0;
    for (uint32_t b = 0; b < d->n_blocks; b++) {
        wl_op ops[WL_MAX_BLOCK_OPS];
        uint32_t n = wl_block_ops(d, b, ops);
        for (uint32_t i = 0; i < n; i++) {
            wmax = ops[i].weights > wmax ? ops[i].weights : wmax;
            big = ops[i].n > big ? ops[i].n : big;
        }
    }
    uint64_t Nk = wl_keys(d);
    uint64_t sc = wmax + 3 * Nk * (Nk + d->hidden) + 4 * (big + d->hidden + d->ffn) + 16;
    float *w = calloc(wmax + 1, sizeof *w);
    double *scratch = calloc(sc, sizeof *scratch);
    if (!w || !scratch)
        rc = UTIL_ERUN;
    uint64_t T_h = d->batch * N * d->hidden;
    for (uint32_t k = 0; k < sets; k++)
        for (uint64_t i = 0; !rc && i < T_h; i++)
            T[k].t[WL_T_X][i] = x[i];
    uint64_t inst = 0;
    for (uint32_t b = 0; b < d->n_blocks && !rc; b++) {
        wl_op ops[WL_MAX_BLOCK_OPS];
        uint32_t n = wl_block_ops(d, b, ops);
        for (uint64_t k = 0; k < d->blocks[b].repeat && !rc; k++, inst++) {
            if (d->kv_len && inst >= first && inst - first < count)
                rc = load_cache(d, inst, T, sets);
            for (uint32_t i = 0; i < n && !rc && inst >= first && inst - first < count; i++) {
                wl_op_weights(d, &ops[i], inst, w);
                for (uint32_t m = 0; m < sets && !rc; m++) {
                    rc = ref_op(d, &ops[i], w, &T[m], scratch, &rd[m]);
                    round_all(&rd[m], wl_tensor_elems(d, ops[i].dst), T[m].t[ops[i].dst]);
                }
            }
        }
    }
    double *outs[2] = {y, y_rounded};
    for (uint32_t k = 0; k < sets; k++)
        for (uint64_t i = 0; !rc && i < T_h; i++)
            outs[k][i] = T[k].t[WL_T_X][i];
    free_tensors(&T[0]);
    free_tensors(&T[1]);
    free(w);
    free(scratch);
    return rc ? util_fail(UTIL_ERUN, err, errlen, "reference model: out of memory") : UTIL_OK;
}
