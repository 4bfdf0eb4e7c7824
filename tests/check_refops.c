/* check_refops.c: the Transformer reference operations against FFTW and long-double definitions. */
#include <check.h>
#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/ref/ref.h"
#include "../sim/util/util.h"
#include "testutil.h"

#define PI_L 3.141592653589793238462643383279502884L

static util_rng seeded(uint64_t seed)
{
    util_rng rng;
    util_rng_seed(&rng, seed);
    return rng;
}

/* Uniform in [lo, hi). */
static void fill(util_rng *rng, size_t n, double lo, double hi, double *v)
{
    for (size_t i = 0; i < n; i++)
        v[i] = lo + (hi - lo) * util_rng_uniform(rng);
}

static double *alloc_d(size_t n)
{
    double *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Naive DFT of n points in long double: X[f] = sum_t x[t] exp(sign 2 pi i f t / n). The
 * angle uses (f t) mod n, so it stays in [0, 2 pi) and loses nothing to range reduction. */
static void naive_dft(size_t n, const double *re, const double *im, int sign, long double *xr,
                      long double *xi)
{
    for (size_t f = 0; f < n; f++) {
        long double sr = 0, si = 0;
        for (size_t t = 0; t < n; t++) {
            long double a = sign * 2 * PI_L * (long double)((f * t) % n) / (long double)n;
            long double c = cosl(a), s = sinl(a);
            sr += re[t] * c - im[t] * s;
            si += re[t] * s + im[t] * c;
        }
        xr[f] = sr;
        xi[f] = si;
    }
}

/* An FFT's error against the exact transform grows like u log2(n) times the size of the
 * result (u = 2^-53, log2 n <= 12 here, i.e. about 3e-15 in the worst case, the rms far
 * less). 1e-12 of max |X| leaves a wide margin for that while a wrong twiddle, sign,
 * permutation or scaling gives an error of order max |X|. */
#define FFT_TOL 1e-12

START_TEST(test_fft_vs_fftw)
{
    static const size_t sizes[] = {1, 2, 8, 64, 1024, 4096};
    util_rng rng = seeded(42);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        for (int inverse = 0; inverse <= 1; inverse++) {
            double *re = alloc_d(n), *im = alloc_d(n);
            fftw_complex *in = fftw_malloc(n * sizeof *in), *out = fftw_malloc(n * sizeof *out);
            ck_assert_ptr_nonnull(in);
            ck_assert_ptr_nonnull(out);
            fftw_plan plan = fftw_plan_dft_1d(
                (int)n, in, out, inverse ? FFTW_BACKWARD : FFTW_FORWARD, FFTW_ESTIMATE);
            fill(&rng, n, -1, 1, re);
            fill(&rng, n, -1, 1, im);
            for (size_t i = 0; i < n; i++) {
                in[i][0] = re[i];
                in[i][1] = im[i];
            }
            fftw_execute(plan);
            ref_fft(n, re, im, inverse);
            double big = 0, err = 0;
            for (size_t i = 0; i < n; i++) {
                big = fmax(big, hypot(out[i][0], out[i][1]));
                err = fmax(err, hypot(re[i] - out[i][0], im[i] - out[i][1]));
            }
            ck_assert(big > 0);
            ck_assert_msg(err <= FFT_TOL * big, "n=%zu inverse=%d: error %g of max |X| %g", n,
                          inverse, err, big);
            fftw_destroy_plan(plan);
            fftw_free(in);
            fftw_free(out);
            free(re);
            free(im);
        }
    }
}
END_TEST

START_TEST(test_fft_vs_naive_dft)
{
    static const size_t sizes[] = {1, 2, 4, 8, 64, 256};
    util_rng rng = seeded(7);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        for (int inverse = 0; inverse <= 1; inverse++) {
            double *re = alloc_d(n), *im = alloc_d(n);
            long double *xr = malloc(n * sizeof *xr), *xi = malloc(n * sizeof *xi);
            fill(&rng, n, -1, 1, re);
            fill(&rng, n, -1, 1, im);
            naive_dft(n, re, im, inverse ? 1 : -1, xr, xi);
            ref_fft(n, re, im, inverse);
            long double big = 0, err = 0;
            for (size_t i = 0; i < n; i++) {
                big = fmaxl(big, hypotl(xr[i], xi[i]));
                err = fmaxl(err, hypotl(re[i] - xr[i], im[i] - xi[i]));
            }
            ck_assert_msg(err <= FFT_TOL * big, "n=%zu inverse=%d: error %Lg of max |X| %Lg", n,
                          inverse, err, big);
            free(re);
            free(im);
            free(xr);
            free(xi);
        }
    }
}
END_TEST

/* A unit impulse at t0 transforms to exp(-2 pi i f t0 / n) exactly in magnitude 1: pins
 * the sign convention independently of any library. */
START_TEST(test_fft_impulse_sign)
{
    size_t n = 16, t0 = 1;
    double re[16] = {0}, im[16] = {0};
    re[t0] = 1;
    ref_fft(n, re, im, false);
    /* f = 4: exp(-i pi/2) = -i */
    ck_assert(fabs(re[4]) < 1e-15 && fabs(im[4] + 1) < 1e-15);
    memset(re, 0, sizeof re);
    memset(im, 0, sizeof im);
    re[t0] = 1;
    ref_fft(n, re, im, true);
    /* inverse, unscaled: +i at f = 4 */
    ck_assert(fabs(re[4]) < 1e-15 && fabs(im[4] - 1) < 1e-15);
}
END_TEST

/* The FFT that rounds each stage (the functional check's rounded reference): every output
 * is a value of the type, the rounding is really there in FP16, and its distance from
 * the exact FFT stays within a bound derived by hand. With |x| <= M the values after
 * stage s have modulus at most 2^(s+1) M; rounding each component of each value adds at
 * most u times that (per component); a later stage at most doubles an error (|a + w b|
 * with |w| = 1), so stage s's rounding reaches the output at most u 2^(s+1) M
 * 2^(S-1-s) = u n M per component, and the S = log2 n stages together at most
 * S n u M. */
START_TEST(test_fft_rounded)
{
    static const size_t sizes[] = {2, 16, 256, 1024};
    util_rng rng = seeded(11);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int t = 0; t < UTIL_DTYPE_COUNT; t++) {
            size_t n = sizes[k];
            double *re = alloc_d(n), *im = alloc_d(n), *er = alloc_d(n), *ei = alloc_d(n);
            fill(&rng, n, -1, 1, re);
            fill(&rng, n, -1, 1, im);
            for (size_t i = 0; i < n; i++) /* inputs already of the type, as on the array */
                re[i] = util_round_dtype((util_dtype)t, (float)re[i]),
                im[i] = util_round_dtype((util_dtype)t, (float)im[i]);
            memcpy(er, re, n * sizeof *er);
            memcpy(ei, im, n * sizeof *ei);
            ref_fft(n, er, ei, false);
            ref_fft_rounded(n, re, im, false, (util_dtype)t);
            double u = util_dtype_unit_roundoff((util_dtype)t), err = 0;
            for (size_t i = 0; i < n; i++) {
                ck_assert(re[i] == util_round_dtype((util_dtype)t, (float)re[i]));
                ck_assert(im[i] == util_round_dtype((util_dtype)t, (float)im[i]));
                err = fmax(err, fmax(fabs(re[i] - er[i]), fabs(im[i] - ei[i])));
            }
            double bound = (double)util_log2(n) * (double)n * u * 1.0;
            ck_assert_msg(err <= bound, "n=%zu %s: error %g above %g", n,
                          util_dtype_name((util_dtype)t), err, bound);
            if (t == UTIL_FP16 && n >= 16)
                ck_assert_msg(err > u, "n=%zu: FP16 stages left no rounding (%g)", n, err);
            free(re), free(im), free(er), free(ei);
        }
}
END_TEST

START_TEST(test_bit_reverse)
{
    ck_assert_uint_eq(ref_bit_reverse(0x1, 4), 0x8);
    ck_assert_uint_eq(ref_bit_reverse(0xB, 4), 0xD); /* 1011 -> 1101 */
    ck_assert_uint_eq(ref_bit_reverse(6, 3), 3);     /* 110 -> 011 */
    ck_assert_uint_eq(ref_bit_reverse(1, 1), 1);
    ck_assert_uint_eq(ref_bit_reverse(0, 10), 0);
    ck_assert_uint_eq(ref_bit_reverse(12345, 0), 0);
    ck_assert_uint_eq(ref_bit_reverse(0xF1, 4), 0x8); /* bits above the low 4 are ignored */
    ck_assert_uint_eq(ref_bit_reverse(1, 10), 512);
    ck_assert_uint_eq(ref_bit_reverse(1, 64), UINT64_C(1) << 63);
    ck_assert_uint_eq(ref_bit_reverse(UINT64_C(0x0123456789abcdef), 64),
                      UINT64_C(0xf7b3d591e6a2c480));
}
END_TEST

/* Largest |got - want| over a real [count] array, and the largest |want|. */
static void max_err_c(size_t count, const double *got, const fftw_complex *want, double *err,
                      double *big)
{
    *err = 0;
    *big = 0;
    for (size_t i = 0; i < count; i++) {
        *err = fmax(*err, fabs(got[i] - want[i][0]));
        *big = fmax(*big, fabs(want[i][0]));
    }
}

START_TEST(test_fourier_mix_vs_fftw)
{
    static const size_t shapes[][2] = {{16, 32}, {64, 8}, {1, 8}, {4, 1}};
    util_rng rng = seeded(3);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t rows = shapes[k][0], cols = shapes[k][1], count = rows * cols;
        double *x = alloc_d(count), *y = alloc_d(count);
        fftw_complex *in = fftw_malloc(count * sizeof *in), *out = fftw_malloc(count * sizeof *out);
        fftw_plan plan =
            fftw_plan_dft_2d((int)rows, (int)cols, in, out, FFTW_FORWARD, FFTW_ESTIMATE);
        fill(&rng, count, -1, 1, x);
        for (size_t i = 0; i < count; i++) {
            in[i][0] = x[i];
            in[i][1] = 0;
        }
        fftw_execute(plan);
        ref_fourier_mix(rows, cols, x, y);
        double err, big;
        max_err_c(count, y, out, &err, &big);
        ck_assert_msg(err <= FFT_TOL * big, "%zux%zu: error %g of %g", rows, cols, err, big);
        /* y may equal x */
        ref_fourier_mix(rows, cols, x, x);
        max_err_c(count, x, out, &err, &big);
        ck_assert_msg(err <= FFT_TOL * big, "%zux%zu in place: error %g", rows, cols, err);
        fftw_destroy_plan(plan);
        fftw_free(in);
        fftw_free(out);
        free(x);
        free(y);
    }
}
END_TEST

/* Re of the 2-D DFT from its definition, sum over all (r, c), in long double. */
START_TEST(test_fourier_mix_vs_naive_2d)
{
    enum { R = 8, C = 4 };
    double x[R * C], y[R * C];
    util_rng rng = seeded(5);
    fill(&rng, R * C, -1, 1, x);
    ref_fourier_mix(R, C, x, y);
    long double want[R * C], big = 0;
    for (size_t u = 0; u < R; u++)
        for (size_t v = 0; v < C; v++) {
            long double acc = 0;
            for (size_t r = 0; r < R; r++)
                for (size_t c = 0; c < C; c++)
                    acc += x[r * C + c] *
                           cosl(-2 * PI_L *
                                ((long double)((u * r) % R) / R + (long double)((v * c) % C) / C));
            want[u * C + v] = acc;
            big = fmaxl(big, fabsl(acc));
        }
    for (size_t i = 0; i < R * C; i++)
        ck_assert_msg(fabsl(y[i] - want[i]) <= FFT_TOL * big, "element %zu: %g vs %Lg", i, y[i],
                      want[i]);
}
END_TEST

/* Checks y = ref_fft_compress(x) chunk by chunk against FFTW: Re of the first keep
 * coefficients, exact zeros in the rest. */
static void check_compress(size_t rows, size_t cols, size_t chunk, size_t keep, const double *x,
                           const double *y, const char *what)
{
    fftw_complex *in = fftw_malloc(chunk * sizeof *in), *out = fftw_malloc(chunk * sizeof *out);
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    fftw_plan plan = fftw_plan_dft_1d((int)chunk, in, out, FFTW_FORWARD, FFTW_ESTIMATE);
    for (size_t c = 0; c < cols; c++)
        for (size_t base = 0; base < rows; base += chunk) {
            for (size_t t = 0; t < chunk; t++) {
                in[t][0] = x[(base + t) * cols + c];
                in[t][1] = 0;
            }
            fftw_execute(plan);
            double big = 0;
            for (size_t f = 0; f < chunk; f++)
                big = fmax(big, hypot(out[f][0], out[f][1]));
            for (size_t f = 0; f < chunk; f++) {
                double got = y[(base + f) * cols + c];
                if (f < keep)
                    ck_assert_msg(fabs(got - out[f][0]) <= FFT_TOL * big,
                                  "%s %zux%zu chunk %zu keep %zu, col %zu row %zu: %g vs %g", what,
                                  rows, cols, chunk, keep, c, base + f, got, out[f][0]);
                else
                    ck_assert_msg(got == 0.0, "%s %zux%zu chunk %zu keep %zu, col %zu row %zu: %g",
                                  what, rows, cols, chunk, keep, c, base + f, got);
            }
        }
    fftw_destroy_plan(plan);
    fftw_free(in);
    fftw_free(out);
}

START_TEST(test_fft_compress_vs_fftw)
{
    /* rows, cols, chunk, keep */
    static const size_t cases[][4] = {{64, 8, 16, 5}, {32, 3, 32, 32}, {16, 4, 4, 1},
                                      {16, 2, 1, 1},  {8, 5, 8, 7},    {128, 2, 64, 16}};
    util_rng rng = seeded(9);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t rows = cases[k][0], cols = cases[k][1], chunk = cases[k][2], keep = cases[k][3];
        double *x = alloc_d(rows * cols), *y = alloc_d(rows * cols), *z = alloc_d(rows * cols);
        fill(&rng, rows * cols, -1, 1, x);
        for (size_t i = 0; i < rows * cols; i++)
            y[i] = 12345.0; /* every element must be written */
        ref_fft_compress(rows, cols, chunk, keep, x, y);
        check_compress(rows, cols, chunk, keep, x, y, "out of place");
        memcpy(z, x, rows * cols * sizeof *z);
        ref_fft_compress(rows, cols, chunk, keep, z, z);
        check_compress(rows, cols, chunk, keep, x, z, "in place");
        free(x);
        free(y);
        free(z);
    }
}
END_TEST

/* keep == chunk == rows: every column is the real part of its whole DFT (long double). */
START_TEST(test_fft_compress_whole_column)
{
    enum { ROWS = 32, COLS = 3 };
    double x[ROWS * COLS], y[ROWS * COLS], col[ROWS], zero[ROWS] = {0};
    long double xr[ROWS], xi[ROWS];
    util_rng rng = seeded(11);
    fill(&rng, ROWS * COLS, -1, 1, x);
    ref_fft_compress(ROWS, COLS, ROWS, ROWS, x, y);
    for (size_t c = 0; c < COLS; c++) {
        for (size_t r = 0; r < ROWS; r++)
            col[r] = x[r * COLS + c];
        naive_dft(ROWS, col, zero, -1, xr, xi);
        long double big = 0;
        for (size_t f = 0; f < ROWS; f++)
            big = fmaxl(big, hypotl(xr[f], xi[f]));
        for (size_t f = 0; f < ROWS; f++)
            ck_assert_msg(fabsl(y[f * COLS + c] - xr[f]) <= FFT_TOL * big, "col %zu coef %zu", c,
                          f);
    }
    /* coefficient 0 of a real column is its sum: check it against a plain sum as well */
    long double sum = 0;
    for (size_t r = 0; r < ROWS; r++)
        sum += x[r * COLS];
    ck_assert(fabsl(y[0] - sum) <= 1e-13L);
}
END_TEST

/* ---- softmax ---- */

/* Softmax of one row in long double from the definition exp(x_j) / sum exp(x_k), shifted
 * by the row maximum only to keep expl in range (the shift cancels exactly in the ratio). */
static void softmax_ld(size_t cols, const double *x, long double *out)
{
    long double m = -INFINITY, sum = 0;
    for (size_t j = 0; j < cols; j++)
        m = fmaxl(m, x[j]);
    for (size_t j = 0; j < cols; j++)
        sum += (out[j] = expl((long double)x[j] - m));
    for (size_t j = 0; j < cols; j++)
        out[j] /= sum;
}

START_TEST(test_softmax_vs_long_double)
{
    static const size_t shapes[][2] = {{1, 1}, {3, 5}, {4, 33}, {2, 8}};
    util_rng rng = seeded(13);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t rows = shapes[k][0], cols = shapes[k][1];
        double *x = alloc_d(rows * cols), *orig = alloc_d(rows * cols);
        long double *want = malloc(cols * sizeof *want);
        fill(&rng, rows * cols, -5, 5, x);
        memcpy(orig, x, rows * cols * sizeof *x);
        ref_softmax_rows(rows, cols, x);
        for (size_t r = 0; r < rows; r++) {
            softmax_ld(cols, orig + r * cols, want);
            long double sum = 0;
            for (size_t j = 0; j < cols; j++) {
                double got = x[r * cols + j];
                sum += got;
                /* Inputs in [-5, 5]: x - max in [-10, 0] is exact to u, exp amplifies that to
                 * <= 10 u relative, the sum of <= 33 terms adds <= 32 u, the division u:
                 * < 45 u = 5e-15 in the worst case; 1e-14 is that with margin. */
                ck_assert_msg(fabsl(got - want[j]) <= 1e-14L * want[j],
                              "%zux%zu row %zu col %zu: %.17g vs %.17Lg", rows, cols, r, j, got,
                              want[j]);
            }
            /* Each of cols entries carries a relative error of a few u, 1e-15 per entry. */
            ck_assert_msg(fabsl(sum - 1) <= 1e-15L * cols, "row sum %.17Lg", sum);
        }
        free(x);
        free(orig);
        free(want);
    }
}
END_TEST

START_TEST(test_softmax_shift_invariant)
{
    enum { COLS = 17 };
    double x[COLS], shifted[COLS];
    util_rng rng = seeded(17);
    /* Multiples of 2^-10 in [-8, 8): adding 1000 is exact, so x + c - max(x + c) equals
     * x - max(x) exactly and the outputs must be identical. */
    for (size_t j = 0; j < COLS; j++) {
        x[j] = (double)((long)(util_rng_next(&rng) % 16384) - 8192) / 1024.0;
        shifted[j] = x[j] + 1000.0;
    }
    ref_softmax_rows(1, COLS, x);
    ref_softmax_rows(1, COLS, shifted);
    for (size_t j = 0; j < COLS; j++)
        ck_assert_msg(x[j] == shifted[j], "col %zu: %.17g vs %.17g", j, x[j], shifted[j]);
}
END_TEST

START_TEST(test_softmax_extremes)
{
    double x[2 * 4] = {1000, -1000, 999, 0, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
    double orig[4];
    memcpy(orig, x, sizeof orig);
    long double want[4];
    softmax_ld(4, orig, want);
    ref_softmax_rows(2, 4, x);
    for (size_t j = 0; j < 4; j++) {
        ck_assert(isfinite(x[j]));
        ck_assert(fabsl(x[j] - want[j]) <= 1e-15L);
    }
    /* e^-1 / (1 + e^-1) and 1 / (1 + e^-1); the others underflow to 0 */
    ck_assert(fabs(x[0] - 1 / (1 + exp(-1.0))) < 1e-15);
    ck_assert(fabs(x[2] - exp(-1.0) / (1 + exp(-1.0))) < 1e-15);
    ck_assert(x[1] == 0.0 && x[3] == 0.0);
    for (size_t j = 4; j < 8; j++)
        ck_assert_msg(x[j] == 0.0, "masked row col %zu: %g", j - 4, x[j]);
}
END_TEST

/* ---- attention scores ---- */

/* Checks ref_scores against naive long-double loops and the mask rule j > i + offset. */
static void check_scores(size_t nq, size_t nk, size_t d, bool causal, long offset, uint64_t seed)
{
    util_rng rng = seeded(seed);
    double *q = alloc_d(nq * d), *kk = alloc_d(nk * d), *s = alloc_d(nq * nk);
    fill(&rng, nq * d, -1, 1, q);
    fill(&rng, nk * d, -1, 1, kk);
    double scale = 1 / sqrt((double)d);
    ref_scores(nq, nk, d, q, kk, scale, causal, offset, s);
    for (size_t i = 0; i < nq; i++)
        for (size_t j = 0; j < nk; j++) {
            double got = s[i * nk + j];
            if (causal && (long)j > (long)i + offset) {
                ck_assert_msg(got == -INFINITY, "%zu,%zu offset %ld: %g, want -inf", i, j, offset,
                              got);
                continue;
            }
            long double acc = 0, mag = 0;
            for (size_t p = 0; p < d; p++) {
                acc += (long double)q[i * d + p] * kk[j * d + p];
                mag += fabsl((long double)q[i * d + p] * kk[j * d + p]);
            }
            /* d terms summed in double: error <= d u sum |q k|, plus the scaling. */
            ck_assert_msg(fabsl(got - scale * acc) <= (d + 2) * DBL_EPSILON * scale * mag,
                          "%zu,%zu: %.17g vs %.17Lg", i, j, got, scale * acc);
        }
    free(q);
    free(kk);
    free(s);
}

START_TEST(test_scores_vs_naive)
{
    check_scores(5, 7, 16, false, 0, 1);
    check_scores(1, 1, 1, false, 0, 2);
    check_scores(8, 8, 64, false, 0, 3);
}
END_TEST

START_TEST(test_scores_causal_mask)
{
    check_scores(8, 8, 4, true, 0, 4);  /* square: lower triangle kept */
    check_scores(5, 9, 4, true, 4, 5);  /* last 5 of 9 positions (a KV cache) */
    check_scores(4, 6, 3, true, -2, 6); /* first two query rows fully masked */
    /* Spot values: offset 0, row 0 keeps only key 0; offset 4, row 0 keeps keys 0..4. */
    double q[2 * 2] = {1, 0, 0, 1}, k[6 * 2] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6}, s[2 * 6];
    ref_scores(2, 6, 2, q, k, 1.0, true, 0, s);
    ck_assert(s[0] == 1 && s[1] == -INFINITY && s[5] == -INFINITY);
    ck_assert(s[6] == 1 && s[7] == 2 && s[8] == -INFINITY);
    ref_scores(2, 6, 2, q, k, 0.5, true, 4, s);
    ck_assert(s[4] == 2.5 && s[5] == -INFINITY);
    ck_assert(s[6 + 5] == 3.0);
}
END_TEST

/* Causal scores through softmax: masked entries exactly 0, kept entries positive and
 * summing to 1; a row masked entirely is all zeros. */
START_TEST(test_softmax_of_causal_scores)
{
    enum { NQ = 6, NK = 6, D = 8 };
    double q[NQ * D], k[NK * D], s[NQ * NK];
    util_rng rng = seeded(21);
    fill(&rng, NQ * D, -2, 2, q);
    fill(&rng, NK * D, -2, 2, k);
    long offset = -1; /* row 0 is fully masked */
    ref_scores(NQ, NK, D, q, k, 0.35, true, offset, s);
    ref_softmax_rows(NQ, NK, s);
    for (long i = 0; i < NQ; i++) {
        long double sum = 0;
        for (long j = 0; j < NK; j++) {
            double v = s[i * NK + j];
            if (j > i + offset)
                ck_assert_msg(v == 0.0, "masked %ld,%ld: %g", i, j, v);
            else
                ck_assert_msg(v > 0.0, "kept %ld,%ld: %g", i, j, v);
            sum += v;
        }
        if (i + offset < 0)
            ck_assert(sum == 0);
        else
            ck_assert(fabsl(sum - 1) <= 1e-15L * NK);
    }
}
END_TEST

/* ---- GEMM ---- */

START_TEST(test_gemm_vs_naive)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {1, 17, 1},  {3, 5, 7},
                                       {7, 1, 4}, {16, 33, 9}, {2, 64, 31}};
    util_rng rng = seeded(23);
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        size_t m = shapes[t][0], k = shapes[t][1], n = shapes[t][2];
        double *a = alloc_d(m * k), *b = alloc_d(k * n), *c = alloc_d(m * n);
        fill(&rng, m * k, -1, 1, a);
        fill(&rng, k * n, -1, 1, b);
        ref_gemm(m, k, n, a, b, c);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                long double acc = 0, mag = 0;
                for (size_t p = 0; p < k; p++) {
                    acc += (long double)a[i * k + p] * b[p * n + j];
                    mag += fabsl((long double)a[i * k + p] * b[p * n + j]);
                }
                /* The classic bound for a k-term dot product: |error| <= k u sum |a b|. */
                ck_assert_msg(fabsl(c[i * n + j] - acc) <= k * DBL_EPSILON * mag,
                              "%zux%zux%zu at %zu,%zu: %.17g vs %.17Lg", m, k, n, i, j,
                              c[i * n + j], acc);
            }
        free(a);
        free(b);
        free(c);
    }
    /* Exact small integers: [[1,2,3],[4,5,6]] * [[7,8],[9,10],[11,12]] */
    double a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12}, c[4];
    ref_gemm(2, 3, 2, a, b, c);
    ck_assert(c[0] == 58 && c[1] == 64 && c[2] == 139 && c[3] == 154);
}
END_TEST

/* ---- layer norm ---- */

/* One row from the definition in long double. */
static void layernorm_ld(size_t cols, const double *x, double eps, const double *gamma,
                         const double *beta, long double *y)
{
    long double mean = 0, var = 0;
    for (size_t j = 0; j < cols; j++)
        mean += x[j];
    mean /= cols;
    for (size_t j = 0; j < cols; j++)
        var += (x[j] - mean) * (x[j] - mean);
    var /= cols; /* biased */
    for (size_t j = 0; j < cols; j++)
        y[j] = (x[j] - mean) / sqrtl(var + eps) * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0);
}

/* x uniform in [-1, 1) (standard deviation about 0.58), cols <= 64: the double mean and
 * variance carry errors of about cols u, which move the standardized values by less than
 * 1e-13; 1e-12 absolute leaves margin. The unbiased variance would be off by
 * sqrt(64/63) - 1 = 0.8 %, a misplaced eps by 1e-6 relative: both far above. */
#define LN_TOL 1e-12

START_TEST(test_layernorm_vs_definition)
{
    static const size_t shapes[][2] = {{1, 2}, {3, 7}, {4, 64}};
    util_rng rng = seeded(29);
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        size_t rows = shapes[t][0], cols = shapes[t][1];
        double *x = alloc_d(rows * cols), *y = alloc_d(rows * cols);
        double *gamma = alloc_d(cols), *beta = alloc_d(cols);
        long double *want = malloc(cols * sizeof *want);
        fill(&rng, rows * cols, -1, 1, x);
        fill(&rng, cols, 0.5, 2, gamma);
        fill(&rng, cols, -1, 1, beta);
        for (int variant = 0; variant < 3; variant++) {
            const double *g = variant ? gamma : NULL, *bt = variant ? beta : NULL;
            double eps = 1e-5;
            if (variant == 2) { /* in place */
                memcpy(y, x, rows * cols * sizeof *y);
                ref_layernorm_rows(rows, cols, y, eps, g, bt, y);
            } else {
                ref_layernorm_rows(rows, cols, x, eps, g, bt, y);
            }
            for (size_t r = 0; r < rows; r++) {
                layernorm_ld(cols, x + r * cols, eps, g, bt, want);
                for (size_t j = 0; j < cols; j++)
                    ck_assert_msg(fabsl(y[r * cols + j] - want[j]) <= LN_TOL,
                                  "%zux%zu variant %d at %zu,%zu: %.17g vs %.17Lg", rows, cols,
                                  variant, r, j, y[r * cols + j], want[j]);
            }
        }
        free(x);
        free(y);
        free(gamma);
        free(beta);
        free(want);
    }
}
END_TEST

START_TEST(test_layernorm_moments)
{
    enum { ROWS = 4, COLS = 48 };
    double x[ROWS * COLS], y[ROWS * COLS];
    util_rng rng = seeded(31);
    fill(&rng, ROWS * COLS, -3, 7, x); /* mean 2, not 0: the centering must happen */
    for (int with_eps = 0; with_eps <= 1; with_eps++) {
        double eps = with_eps ? 1e-5 : 0;
        ref_layernorm_rows(ROWS, COLS, x, eps, NULL, NULL, y);
        for (size_t r = 0; r < ROWS; r++) {
            long double mean = 0, var = 0, xmean = 0, xvar = 0;
            for (size_t j = 0; j < COLS; j++) {
                mean += y[r * COLS + j];
                xmean += x[r * COLS + j];
            }
            mean /= COLS;
            xmean /= COLS;
            for (size_t j = 0; j < COLS; j++) {
                var += (y[r * COLS + j] - mean) * (y[r * COLS + j] - mean);
                xvar += (x[r * COLS + j] - xmean) * (x[r * COLS + j] - xmean);
            }
            var /= COLS;
            xvar /= COLS;
            /* Outputs of size ~1 with errors ~cols u: mean within 1e-13 of 0. */
            ck_assert_msg(fabsl(mean) <= 1e-13L, "row %zu mean %Lg", r, mean);
            /* The variance is exactly var / (var + eps) mathematically (1 with eps = 0);
             * rounding moves it by ~cols u, 1e-12 allows for that. */
            long double want = xvar / (xvar + eps);
            ck_assert_msg(fabsl(var - want) <= 1e-12L, "row %zu var %.17Lg want %.17Lg", r, var,
                          want);
            if (!with_eps)
                ck_assert(fabsl(var - 1) <= 1e-12L);
        }
    }
}
END_TEST

/* ---- GELU ---- */

static long double gelu_tanh_ld(long double x)
{
    return 0.5L * x * (1 + tanhl(sqrtl(2 / PI_L) * (x + 0.044715L * x * x * x)));
}

START_TEST(test_gelu_vs_formula)
{
    enum { N = 1025 };
    double x[N], y[N];
    for (size_t i = 0; i < N; i++)
        x[i] = -8 + 16.0 * (double)i / (N - 1);
    ref_gelu_vec(N, x, y);
    for (size_t i = 0; i < N; i++) {
        long double want = gelu_tanh_ld(x[i]);
        /* tanh carries an error of a few u in absolute terms; for x < 0, 1 + tanh cancels,
         * so the error of 0.5 x (1 + tanh) is a few u |x| absolute, not relative. */
        long double tol = 4 * DBL_EPSILON * (1 + fabs(x[i]));
        ck_assert_msg(fabsl(y[i] - want) <= tol, "x=%g: %.17g vs %.17Lg", x[i], y[i], want);
        ck_assert_msg(fabsl(ref_gelu(x[i]) - want) <= tol, "scalar x=%g", x[i]);
    }
    ck_assert(ref_gelu(0) == 0);
    /* At +-10 the tanh argument is 43.7: 1 - tanh is 1e-38, so GELU(10) = 10 and
     * GELU(-10) = 0 to far below double precision; 1e-12 allows rounding only. */
    ck_assert(fabs(ref_gelu(10) - 10) <= 1e-12);
    ck_assert(fabs(ref_gelu(-10)) <= 1e-12);
    /* A known mid value: GELU_tanh(1) = 0.841191990607... */
    ck_assert(fabsl(ref_gelu(1) - gelu_tanh_ld(1)) <= 4 * DBL_EPSILON);
    ck_assert(fabs(ref_gelu(1) - 0.8411919906082768) <= 1e-12);
}
END_TEST

/* The tanh form approximates the exact GELU 0.5 x (1 + erf(x / sqrt 2)) with a maximum
 * absolute error of 4.73e-4 (near |x| = 2.7) on the real line; the test allows 2e-3 on
 * [-5, 5], and requires the difference to be visible (> 1e-4) so that an implementation
 * of the erf form would fail here. */
START_TEST(test_gelu_vs_erf)
{
    double worst = 0;
    for (int i = 0; i <= 10000; i++) {
        double x = -5 + 10.0 * i / 10000;
        long double exact = 0.5L * x * (1 + erfl(x / sqrtl(2)));
        double d = (double)fabsl(ref_gelu(x) - exact);
        ck_assert_msg(d <= 2e-3, "x=%g: |tanh GELU - erf GELU| = %g", x, d);
        worst = fmax(worst, d);
    }
    ck_assert_msg(worst > 1e-4 && worst < 1e-3, "largest difference %g", worst);
}
END_TEST

START_TEST(test_add)
{
    double a[4] = {1, -2.5, 0.125, 1e300}, b[4] = {2, 2.5, 0.25, -1e300}, y[4];
    ref_add(4, a, b, y);
    ck_assert(y[0] == 3 && y[1] == 0 && y[2] == 0.375 && y[3] == 0);
    ref_add(4, a, b, a); /* in place */
    ck_assert(a[0] == 3 && a[1] == 0 && a[2] == 0.375 && a[3] == 0);
}
END_TEST

/* ---- block butterfly ---- */

static float *random_weights(util_rng *rng, size_t count)
{
    float *w = malloc(count * sizeof *w);
    ck_assert_ptr_nonnull(w);
    for (size_t i = 0; i < count; i++)
        w[i] = (float)(2 * util_rng_uniform(rng) - 1);
    return w;
}

START_TEST(test_block_butterfly_bs1_is_butterfly)
{
    uint64_t n = 64, rows = 3, stages = 6;
    util_rng rng = seeded(37);
    float *w = random_weights(&rng, stages * (n / 2) * 4);
    float *xf = malloc(rows * n * sizeof *xf);
    double *xd = alloc_d(rows * n), *want = alloc_d(rows * n), *got = alloc_d(rows * n);
    for (uint64_t i = 0; i < rows * n; i++) {
        xf[i] = (float)(2 * util_rng_uniform(&rng) - 1);
        xd[i] = xf[i];
    }
    ref_butterfly(n, rows, w, xf, want);
    ref_block_butterfly(n, 1, rows, w, xd, got);
    /* Same products summed in the same order, so equal; only a compiler that contracts
     * a * b + c into a fused multiply-add differently in the two files could part them, by
     * a few roundings of values below 2^6 (|weights|, |x| <= 1, six stages): < 1e-13. A
     * wrong pairing or weight order gives errors of order 1. */
    for (uint64_t i = 0; i < rows * n; i++)
        ck_assert_msg(fabs(got[i] - want[i]) <= 1e-13, "element %llu: %.17g vs %.17g",
                      (unsigned long long)i, got[i], want[i]);
    free(w);
    free(xf);
    free(xd);
    free(want);
    free(got);
}
END_TEST

/* The dense n x n matrix of stage s, built from the definition: blocks i (bit s clear) and
 * i + 2^s, pairs numbered by counting in ascending order of i. */
static void block_stage_dense(uint64_t n, uint64_t bs, uint32_t s, const float *w, long double *F)
{
    uint64_t nb = n / bs, bb = bs * bs, span = UINT64_C(1) << s;
    memset(F, 0, n * n * sizeof *F);
    const float *stage = w + (uint64_t)s * (nb / 2) * 4 * bb;
    uint64_t p = 0;
    for (uint64_t i = 0; i < nb; i++) {
        if (i & span)
            continue;
        uint64_t blk[2] = {i, i + span};
        const float *d = stage + p * 4 * bb;
        for (int which = 0; which < 4; which++) /* D1 (lo,lo) D2 (lo,hi) D3 (hi,lo) D4 */
            for (uint64_t r = 0; r < bs; r++)
                for (uint64_t c = 0; c < bs; c++)
                    F[(blk[which / 2] * bs + r) * n + blk[which % 2] * bs + c] =
                        d[which * bb + r * bs + c];
        p++;
    }
    ck_assert_uint_eq(p, nb / 2);
}

/* The whole block butterfly as one dense matrix: M = F_{S-1} ... F_1 F_0 (stage 0 is
 * applied first), each F_s from block_stage_dense, multiplied in long double. */
static long double *block_butterfly_dense(uint64_t n, uint64_t bs, const float *w)
{
    uint32_t stages = util_log2(n / bs);
    long double *M = calloc(n * n, sizeof *M), *F = malloc(n * n * sizeof *F),
                *P = malloc(n * n * sizeof *P);
    ck_assert(M && F && P);
    for (uint64_t i = 0; i < n; i++)
        M[i * n + i] = 1;
    for (uint32_t s = 0; s < stages; s++) {
        block_stage_dense(n, bs, s, w, F);
        for (uint64_t i = 0; i < n * n; i++) { /* P = F M, element i = (row, col) */
            P[i] = 0;
            for (uint64_t k = 0; k < n; k++)
                P[i] += F[i / n * n + k] * M[k * n + i % n];
        }
        long double *old = M;
        M = P;
        P = old;
    }
    free(F);
    free(P);
    return M;
}

START_TEST(test_block_butterfly_vs_dense)
{
    static const uint64_t block_sizes[] = {1, 2, 4, 8};
    uint64_t n = 16, rows = 3;
    util_rng rng = seeded(41);
    for (size_t t = 0; t < sizeof block_sizes / sizeof block_sizes[0]; t++) {
        uint64_t bs = block_sizes[t], nb = n / bs;
        float *w = random_weights(&rng, util_log2(nb) * (nb / 2) * 4 * bs * bs);
        long double *M = block_butterfly_dense(n, bs, w);
        double *x = alloc_d(rows * n), *y = alloc_d(rows * n);
        fill(&rng, rows * n, -1, 1, x);
        for (int in_place = 0; in_place <= 1; in_place++) {
            if (in_place)
                memcpy(y, x, rows * n * sizeof *y);
            ref_block_butterfly(n, bs, rows, w, in_place ? y : x, y);
            for (uint64_t i = 0; i < rows * n; i++) { /* vector i / n, element i % n */
                const double *xv = x + i / n * n;
                const long double *mr = M + i % n * n;
                long double want = 0, scale = 0;
                for (uint64_t c = 0; c < n; c++) {
                    want += mr[c] * xv[c];
                    scale += fabsl(mr[c] * xv[c]);
                }
                /* <= 4 stages of <= 16-term sums in double: far below 1e-12 of the scale;
                 * a wrong pairing or weight order is of order the scale. */
                ck_assert_msg(fabsl(y[i] - want) <= 1e-12L * scale + 1e-300L,
                              "bs=%llu in_place=%d element %llu: %.17g vs %.17Lg",
                              (unsigned long long)bs, in_place, (unsigned long long)i, y[i], want);
            }
        }
        free(w);
        free(M);
        free(x);
        free(y);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("refops");
    TCase *tc = tcase_create("refops");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fft_vs_fftw);
    tcase_add_test(tc, test_fft_vs_naive_dft);
    tcase_add_test(tc, test_fft_impulse_sign);
    tcase_add_test(tc, test_fft_rounded);
    tcase_add_test(tc, test_bit_reverse);
    tcase_add_test(tc, test_fourier_mix_vs_fftw);
    tcase_add_test(tc, test_fourier_mix_vs_naive_2d);
    tcase_add_test(tc, test_fft_compress_vs_fftw);
    tcase_add_test(tc, test_fft_compress_whole_column);
    tcase_add_test(tc, test_softmax_vs_long_double);
    tcase_add_test(tc, test_softmax_shift_invariant);
    tcase_add_test(tc, test_softmax_extremes);
    tcase_add_test(tc, test_scores_vs_naive);
    tcase_add_test(tc, test_scores_causal_mask);
    tcase_add_test(tc, test_softmax_of_causal_scores);
    tcase_add_test(tc, test_gemm_vs_naive);
    tcase_add_test(tc, test_layernorm_vs_definition);
    tcase_add_test(tc, test_layernorm_moments);
    tcase_add_test(tc, test_gelu_vs_formula);
    tcase_add_test(tc, test_gelu_vs_erf);
    tcase_add_test(tc, test_add);
    tcase_add_test(tc, test_block_butterfly_bs1_is_butterfly);
    tcase_add_test(tc, test_block_butterfly_vs_dense);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
