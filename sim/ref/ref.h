/* ref.h: plain reference math, the golden model for functional verification. */
#ifndef BFLY_REF_H
#define BFLY_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/util.h"

/* Applies butterfly stage s of an n-point butterfly in place to one vector v:
 * for every j with bit s clear, (v_j, v_{j+2^s}) <- (a v_j + b v_{j+2^s},
 * c v_j + d v_{j+2^s}), with (a, b, c, d) = tw_stage[4 * remove_bit(j, s) ...]. */
void ref_butterfly_stage(uint64_t n, uint32_t s, const float *tw_stage, double *v);

/* y = B x for `rows` vectors of n elements; tw holds log2(n) stages of n/2 quadruples. */
void ref_butterfly(uint64_t n, uint64_t rows, const float *tw, const float *x, double *y);

/* A priori bound on the error of a butterfly evaluated stage by stage with each result
 * rounded to a type of unit roundoff u (absolute error at most eta near zero, for
 * subnormals). With env_0 = |x| and env_s = |B_s| env_{s-1},
 *   bnd_0 = 0,  bnd_s = (1 + u) |B_s| bnd_{s-1} + u env_s + eta,
 * so |computed - exact| <= bnd_S element by element. */
void ref_butterfly_bound(uint64_t n, uint64_t rows, const float *tw, const float *x, double u,
                         double eta, double *bound);

typedef struct ref_compare {
    uint64_t count;      /* elements compared */
    uint64_t violations; /* elements whose error exceeds the bound */
    uint64_t worst;      /* index of the largest error-to-bound ratio */
    double worst_ratio;  /* that ratio (<= 1 passes) */
    double max_abs_err;
    double rel_l2_err; /* ||got - want||_2 / ||want||_2 */
} ref_compare;

/* Compares got with want element by element against bound. */
void ref_check(uint64_t count, const float *got, const double *want, const double *bound,
               ref_compare *out);

/* ---- Transformer operations (ops.c). Matrices are row-major. ---- */

/* C[m x n] = A[m x k] * B[k x n]. */
void ref_gemm(size_t m, size_t k, size_t n, const double *a, const double *b, double *c);

/* S[nq x nk] = scale * Q[nq x d] * K[nk x d]^T; with causal, S[i][j] = -INFINITY where
 * j > i + offset (offset = position of query 0 minus position of key 0, usually 0). */
void ref_scores(size_t nq, size_t nk, size_t d, const double *q, const double *k, double scale,
                bool causal, long offset, double *s);

/* Numerically stable softmax of each row in place: m = max, e = exp(x - m), x = e / sum e.
 * A row whose entries are all -INFINITY becomes all zeros. */
void ref_softmax_rows(size_t rows, size_t cols, double *x);

/* Per row: y = (x - mean) / sqrt(var + eps) * gamma + beta, var the biased variance
 * (divided by cols); gamma, beta may be NULL (1 and 0). In place allowed (y == x). */
void ref_layernorm_rows(size_t rows, size_t cols, const double *x, double eps, const double *gamma,
                        const double *beta, double *y);

/* GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
double ref_gelu(double x);
/* y[i] = ref_gelu(x[i]) for n elements (y may equal x). */
void ref_gelu_vec(size_t n, const double *x, double *y);

/* y = a + b elementwise (y may equal a or b). */
void ref_add(size_t n, const double *a, const double *b, double *y);

/* In-place radix-2 decimation-in-time complex FFT of n = 2^k points (n >= 1):
 * X[f] = sum_t x[t] exp(-2 pi i f t / n) (sign -1; with inverse, sign +1 and NO 1/n
 * scaling). Bit-reversal permutation first, then log2 n stages; stage s combines
 * butterflies of span 2^s with twiddles w = exp(sign 2 pi i j / 2^(s+1)), t = w * b,
 * outputs a + t, a - t. */
void ref_fft(size_t n, double *re, double *im, bool inverse);
/* The same FFT with every stage's results rounded to type t, as an array rounds them:
 * the functional check's measure of the rounding a model cannot avoid. */
void ref_fft_rounded(size_t n, double *re, double *im, bool inverse, util_dtype t);

/* Bit reversal of the low `bits` bits of x (0 <= bits <= 64; higher bits of x are ignored). */
uint64_t ref_bit_reverse(uint64_t x, uint32_t bits);

/* FNet-style 2-D Fourier mixing of a real [rows x cols] matrix (rows, cols powers of two):
 * y = Re(FFT over each row (length cols), then FFT over each column (length rows)).
 * y may equal x. Without memory for the complex intermediate, y is all NaN. */
void ref_fourier_mix(size_t rows, size_t cols, const double *x, double *y);

/* Chunked FFT compression along the columns of a real [rows x cols] matrix: each column is
 * cut into rows/chunk chunks of `chunk` consecutive rows (chunk a power of two dividing
 * rows); each chunk is transformed by an FFT of size chunk; y keeps the real part of the
 * first `keep` coefficients of each chunk (0 < keep <= chunk) in the chunk's first `keep`
 * rows and zeros in the rest. y may equal x. Without memory, y is all NaN. */
void ref_fft_compress(size_t rows, size_t cols, size_t chunk, size_t keep, const double *x,
                      double *y);

/* Block butterfly of size n with block size bs (powers of two, 1 <= bs < n): the vector is
 * nb = n/bs blocks of bs elements; stage s (0 <= s < log2 nb, stage 0 first) pairs block i
 * (bit s of i clear) with block i' = i + 2^s and mixes them with four dense bs x bs
 * matrices: y_i = D1 x_i + D2 x_i', y_i' = D3 x_i + D4 x_i'. w holds, per stage, per pair
 * p (ascending lower block i), D1, D2, D3, D4 each row-major bs*bs: stage s pair p starts
 * at w[((s * nb/2) + p) * 4 * bs * bs]. Applied to `rows` vectors x[rows x n] ->
 * y[rows x n] (y may equal x). With bs = 1 this is exactly ref_butterfly (same weight
 * order: a, b, c, d). Without memory for its 2 bs scratch elements, y is all NaN. */
void ref_block_butterfly(uint64_t n, uint64_t bs, uint64_t rows, const float *w, const double *x,
                         double *y);

#endif
