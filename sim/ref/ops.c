/* ops.c: reference math (double precision) for the operations of whole Transformer models. */
#include "ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

/* pi to double precision (M_PI is not part of ISO C). */
#define REF_PI 3.14159265358979323846

static void fill_nan(size_t count, double *y)
{
    for (size_t i = 0; i < count; i++)
        y[i] = NAN;
}

void ref_gemm(size_t m, size_t k, size_t n, const double *a, const double *b, double *c)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (size_t p = 0; p < k; p++)
                acc += a[i * k + p] * b[p * n + j];
            c[i * n + j] = acc;
        }
}

void ref_scores(size_t nq, size_t nk, size_t d, const double *q, const double *k, double scale,
                bool causal, long offset, double *s)
{
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < nk; j++) {
            /* j > i + offset, in signed arithmetic (offset may be negative). */
            if (causal && (long long)j - (long long)i > (long long)offset) {
                s[i * nk + j] = -INFINITY;
                continue;
            }
            double acc = 0.0;
            for (size_t p = 0; p < d; p++)
                acc += q[i * d + p] * k[j * d + p];
            s[i * nk + j] = scale * acc;
        }
}

void ref_softmax_rows(size_t rows, size_t cols, double *x)
{
    for (size_t r = 0; r < rows; r++) {
        double *v = x + r * cols;
        double m = -INFINITY;
        for (size_t j = 0; j < cols; j++)
            if (v[j] > m)
                m = v[j];
        if (m == -INFINITY) { /* fully masked row (or empty) */
            for (size_t j = 0; j < cols; j++)
                v[j] = 0.0;
            continue;
        }
        double sum = 0.0;
        for (size_t j = 0; j < cols; j++) {
            v[j] = exp(v[j] - m);
            sum += v[j];
        }
        for (size_t j = 0; j < cols; j++)
            v[j] /= sum;
    }
}

void ref_layernorm_rows(size_t rows, size_t cols, const double *x, double eps, const double *gamma,
                        const double *beta, double *y)
{
    if (cols == 0)
        return;
    for (size_t r = 0; r < rows; r++) {
        const double *in = x + r * cols;
        double *out = y + r * cols;
        double mean = 0.0;
        for (size_t j = 0; j < cols; j++)
            mean += in[j];
        mean /= (double)cols;
        double var = 0.0;
        for (size_t j = 0; j < cols; j++)
            var += (in[j] - mean) * (in[j] - mean);
        var /= (double)cols;
        double inv = 1.0 / sqrt(var + eps);
        /* out may alias in: each element is read before it is written. */
        for (size_t j = 0; j < cols; j++) {
            double v = (in[j] - mean) * inv;
            out[j] = v * (gamma ? gamma[j] : 1.0) + (beta ? beta[j] : 0.0);
        }
    }
}

double ref_gelu(double x)
{
    const double c = 0.79788456080286535588; /* sqrt(2 / pi) */
    return 0.5 * x * (1.0 + tanh(c * (x + 0.044715 * x * x * x)));
}

void ref_gelu_vec(size_t n, const double *x, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = ref_gelu(x[i]);
}

void ref_add(size_t n, const double *a, const double *b, double *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

uint64_t ref_bit_reverse(uint64_t x, uint32_t bits)
{
    uint64_t r = 0;
    for (uint32_t i = 0; i < bits && i < 64; i++) {
        r = (r << 1) | (x & 1);
        x >>= 1;
    }
    return r;
}

/* The radix-2 FFT; with round set, every stage's results are rounded to type t. */
static void fft(size_t n, double *re, double *im, bool inverse, bool round, util_dtype t)
{
    if (n < 2)
        return;
    uint32_t bits = util_log2(n);
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)ref_bit_reverse(i, bits);
        if (j > i) {
            double tr = re[i], ti = im[i];
            re[i] = re[j];
            im[i] = im[j];
            re[j] = tr;
            im[j] = ti;
        }
    }
    double sign = inverse ? 1.0 : -1.0;
    for (uint32_t s = 0; s < bits; s++) {
        size_t half = (size_t)1 << s, span = half * 2;
        for (size_t j = 0; j < half; j++) {
            /* Each twiddle straight from cos/sin: no error builds up along a recurrence. */
            double angle = sign * 2.0 * REF_PI * (double)j / (double)span;
            double wr = cos(angle), wi = sin(angle);
            for (size_t base = 0; base < n; base += span) {
                size_t a = base + j, b = a + half;
                double tr = wr * re[b] - wi * im[b];
                double ti = wr * im[b] + wi * re[b];
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        for (size_t i = 0; round && i < n; i++) {
            re[i] = util_round_dtype(t, (float)re[i]);
            im[i] = util_round_dtype(t, (float)im[i]);
        }
    }
}

void ref_fft(size_t n, double *re, double *im, bool inverse)
{
    fft(n, re, im, inverse, false, UTIL_FP32);
}

void ref_fft_rounded(size_t n, double *re, double *im, bool inverse, util_dtype t)
{
    fft(n, re, im, inverse, true, t);
}

void ref_fourier_mix(size_t rows, size_t cols, const double *x, double *y)
{
    size_t count = rows * cols;
    double *re = malloc(count * sizeof *re), *im = calloc(count, sizeof *im);
    double *cre = malloc(rows * sizeof *cre), *cim = malloc(rows * sizeof *cim);
    if (!re || !im || !cre || !cim) {
        fill_nan(count, y);
        goto done;
    }
    memcpy(re, x, count * sizeof *re);
    for (size_t r = 0; r < rows; r++)
        ref_fft(cols, re + r * cols, im + r * cols, false);
    for (size_t c = 0; c < cols; c++) {
        for (size_t r = 0; r < rows; r++) {
            cre[r] = re[r * cols + c];
            cim[r] = im[r * cols + c];
        }
        ref_fft(rows, cre, cim, false);
        for (size_t r = 0; r < rows; r++)
            y[r * cols + c] = cre[r];
    }
done:
    free(re);
    free(im);
    free(cre);
    free(cim);
}

void ref_fft_compress(size_t rows, size_t cols, size_t chunk, size_t keep, const double *x,
                      double *y)
{
    double *re = malloc(chunk * sizeof *re), *im = malloc(chunk * sizeof *im);
    if (!re || !im) {
        fill_nan(rows * cols, y);
        goto done;
    }
    for (size_t c = 0; c < cols; c++)
        for (size_t base = 0; base + chunk <= rows; base += chunk) {
            for (size_t t = 0; t < chunk; t++) {
                re[t] = x[(base + t) * cols + c];
                im[t] = 0.0;
            }
            ref_fft(chunk, re, im, false);
            for (size_t f = 0; f < chunk; f++)
                y[(base + f) * cols + c] = f < keep ? re[f] : 0.0;
        }
done:
    free(re);
    free(im);
}

void ref_block_butterfly(uint64_t n, uint64_t bs, uint64_t rows, const float *w, const double *x,
                         double *y)
{
    uint64_t nb = n / bs, bb = bs * bs;
    uint32_t stages = util_log2(nb);
    double *tmp = malloc(2 * bs * sizeof *tmp);
    if (!tmp) {
        fill_nan(rows * n, y);
        return;
    }
    for (uint64_t r = 0; r < rows; r++) {
        double *v = y + r * n;
        if (v != x + r * n)
            memcpy(v, x + r * n, n * sizeof *v);
        for (uint32_t s = 0; s < stages; s++) {
            for (uint64_t p = 0; p < nb / 2; p++) {
                uint64_t lo = util_insert_bit(p, s, 0), hi = lo + (UINT64_C(1) << s);
                const float *d = w + ((uint64_t)s * (nb / 2) + p) * 4 * bb;
                double *v0 = v + lo * bs, *v1 = v + hi * bs;
                memcpy(tmp, v0, bs * sizeof *tmp);
                memcpy(tmp + bs, v1, bs * sizeof *tmp);
                for (uint64_t i = 0; i < bs; i++) {
                    double acc0 = 0.0, acc1 = 0.0;
                    for (uint64_t j = 0; j < bs; j++) {
                        acc0 += (double)d[i * bs + j] * tmp[j] +
                                (double)d[bb + i * bs + j] * tmp[bs + j];
                        acc1 += (double)d[2 * bb + i * bs + j] * tmp[j] +
                                (double)d[3 * bb + i * bs + j] * tmp[bs + j];
                    }
                    v0[i] = acc0;
                    v1[i] = acc1;
                }
            }
        }
    }
    free(tmp);
}
