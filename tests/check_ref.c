/* check_ref.c: the reference butterfly against its definition, its pairs, and its error bound. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/ref/ref.h"
#include "../sim/util/util.h"
#include "testutil.h"
#include "../sim/workload/workload.h"

static wl_butterfly make(uint64_t n, uint64_t rows, uint64_t seed, wl_init init, util_dtype t)
{
    wl_desc d = {.kind = WL_KIND_BUTTERFLY_LINEAR,
                 .n = n,
                 .rows = rows,
                 .dtype = t,
                 .seed = seed,
                 .init = init};
    wl_butterfly b;
    wl_butterfly_from_desc(&d, &b);
    return b;
}

START_TEST(test_identity_twiddles_give_x)
{
    static const uint64_t sizes[] = {2, 4, 64, 1024, 65536};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        wl_butterfly b = make(sizes[k], 2, 5, WL_INIT_IDENTITY, UTIL_FP16);
        float *tw = malloc(wl_twiddle_count(&b) * sizeof *tw);
        float *x = malloc(b.rows * b.n * sizeof *x);
        double *y = malloc(b.rows * b.n * sizeof *y);
        wl_butterfly_twiddles(&b, tw);
        wl_butterfly_inputs(&b, x);
        ref_butterfly(b.n, b.rows, tw, x, y);
        for (uint64_t i = 0; i < b.rows * b.n; i++)
            ck_assert(y[i] == (double)x[i]);
        free(tw);
        free(x);
        free(y);
    }
}
END_TEST

/* Builds the dense factor B_k^(n), k = 2^(s+1), from DESIGN.md section 4: n/k diagonal
 * blocks [[D1, D2], [D3, D4]], each Di diagonal of size k/2. Stage s's pairs are stored
 * in ascending order of their lower element: block blk, offset i is pair blk*k/2 + i. */
static void dense_factor(uint64_t n, uint32_t s, const float *tw, long double *F)
{
    uint64_t k = UINT64_C(2) << s, half = k / 2;
    memset(F, 0, n * n * sizeof *F);
    const float *stage = tw + (uint64_t)s * (n / 2) * 4;
    for (uint64_t blk = 0; blk < n / k; blk++) {
        for (uint64_t i = 0; i < half; i++) {
            uint64_t top = blk * k + i, bot = top + half;
            const float *w = stage + 4 * (blk * half + i);
            F[top * n + top] = w[0];
            F[top * n + bot] = w[1];
            F[bot * n + top] = w[2];
            F[bot * n + bot] = w[3];
        }
    }
}

START_TEST(test_matches_dense_factor_product)
{
    for (uint64_t n = 2; n <= 64; n *= 2) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            wl_butterfly b = make(n, 3, seed, WL_INIT_RANDOM, UTIL_FP16);
            float *tw = malloc(wl_twiddle_count(&b) * sizeof *tw);
            float *x = malloc(b.rows * n * sizeof *x);
            double *y = malloc(b.rows * n * sizeof *y);
            long double *F = malloc(n * n * sizeof *F), *M = malloc(n * n * sizeof *M),
                        *T = malloc(n * n * sizeof *T);
            wl_butterfly_twiddles(&b, tw);
            wl_butterfly_inputs(&b, x);
            ref_butterfly(n, b.rows, tw, x, y);
            /* M = B_n ... B_4 B_2 (stage 0 applied first) */
            for (uint64_t i = 0; i < n * n; i++)
                M[i] = (i / n == i % n);
            for (uint32_t s = 0; s < b.stages; s++) {
                dense_factor(n, s, tw, F);
                for (uint64_t r = 0; r < n; r++)
                    for (uint64_t c = 0; c < n; c++) {
                        long double acc = 0;
                        for (uint64_t k = 0; k < n; k++)
                            acc += F[r * n + k] * M[k * n + c];
                        T[r * n + c] = acc;
                    }
                memcpy(M, T, n * n * sizeof *M);
            }
            for (uint64_t row = 0; row < b.rows; row++) {
                for (uint64_t r = 0; r < n; r++) {
                    long double want = 0, scale = 0;
                    for (uint64_t c = 0; c < n; c++) {
                        want += M[r * n + c] * x[row * n + c];
                        scale += fabsl(M[r * n + c] * x[row * n + c]);
                    }
                    /* double evaluation of <= 6 stages: far below 1e-12 of the scale */
                    ck_assert_msg(fabsl(y[row * n + r] - want) <= 1e-12L * scale + 1e-300L,
                                  "n=%llu seed=%llu row=%llu element %llu", (unsigned long long)n,
                                  (unsigned long long)seed, (unsigned long long)row,
                                  (unsigned long long)r);
                }
            }
            free(tw);
            free(x);
            free(y);
            free(F);
            free(M);
            free(T);
        }
    }
}
END_TEST

/* Stage s maps a one-hot input e_j onto exactly e_j and e_{j xor 2^s}. */
START_TEST(test_stage_touches_pairs)
{
    uint64_t n = 64;
    wl_butterfly b = make(n, 1, 11, WL_INIT_RANDOM, UTIL_FP16);
    float *tw = malloc(wl_twiddle_count(&b) * sizeof *tw);
    wl_butterfly_twiddles(&b, tw);
    for (uint64_t i = 0; i < wl_twiddle_count(&b); i++)
        ck_assert(tw[i] != 0.0f); /* otherwise a pair could hide */
    double v[64];
    for (uint32_t s = 0; s < b.stages; s++) {
        for (uint64_t j = 0; j < n; j++) {
            memset(v, 0, sizeof v);
            v[j] = 1.0;
            ref_butterfly_stage(n, s, tw + (uint64_t)s * (n / 2) * 4, v);
            uint64_t partner = j ^ (UINT64_C(1) << s);
            for (uint64_t i = 0; i < n; i++)
                ck_assert_msg((v[i] != 0.0) == (i == j || i == partner),
                              "stage %u, input %llu, output %llu", s, (unsigned long long)j,
                              (unsigned long long)i);
        }
    }
    free(tw);
}
END_TEST

/* A stage-by-stage evaluation with every result rounded to FP16 (written here
 * independently of the engine) stays inside ref_butterfly_bound, and an error planted
 * at ten times the rounding size is caught. */
START_TEST(test_error_bound)
{
    static const uint64_t sizes[] = {2, 16, 256, 4096};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t n = sizes[k], rows = 4;
        wl_butterfly b = make(n, rows, 3 + k, WL_INIT_RANDOM, UTIL_FP16);
        float *tw = malloc(wl_twiddle_count(&b) * sizeof *tw);
        float *x = malloc(rows * n * sizeof *x), *got = malloc(rows * n * sizeof *got);
        double *want = malloc(rows * n * sizeof *want), *bound = malloc(rows * n * sizeof *bound);
        double *v = malloc(n * sizeof *v);
        wl_butterfly_twiddles(&b, tw);
        wl_butterfly_inputs(&b, x);
        ref_butterfly(n, rows, tw, x, want);
        double u = 0x1p-11 + 0x1p-52;
        ref_butterfly_bound(n, rows, tw, x, u, 0x1p-25, bound);
        for (uint64_t r = 0; r < rows; r++) {
            for (uint64_t j = 0; j < n; j++)
                v[j] = x[r * n + j];
            for (uint32_t s = 0; s < b.stages; s++) {
                const float *w = tw + (uint64_t)s * (n / 2) * 4;
                for (uint64_t blk = 0; blk < n; blk += UINT64_C(2) << s)
                    for (uint64_t i = 0; i < (UINT64_C(1) << s); i++) {
                        uint64_t lo = blk + i, hi = lo + (UINT64_C(1) << s);
                        const float *q = w + 4 * (blk / 2 + i);
                        double x0 = v[lo], x1 = v[hi];
                        v[lo] = util_round_fp16((float)(q[0] * x0 + q[1] * x1));
                        v[hi] = util_round_fp16((float)(q[2] * x0 + q[3] * x1));
                    }
            }
            for (uint64_t j = 0; j < n; j++)
                got[r * n + j] = (float)v[j];
        }
        ref_compare c;
        ref_check(rows * n, got, want, bound, &c);
        ck_assert_msg(c.violations == 0, "n=%llu: %llu violations, worst ratio %g",
                      (unsigned long long)n, (unsigned long long)c.violations, c.worst_ratio);
        /* The error is small in norm as well: below S roundings of unit size u. */
        ck_assert(c.rel_l2_err < b.stages * 0x1p-11);
        uint64_t at = rows * n / 2;
        got[at] += (float)(10 * bound[at]);
        ref_check(rows * n, got, want, bound, &c);
        ck_assert_uint_eq(c.violations, 1);
        ck_assert_uint_eq(c.worst, at);
        free(tw);
        free(x);
        free(got);
        free(want);
        free(bound);
        free(v);
    }
}
END_TEST

START_TEST(test_check_counts)
{
    float got[4] = {1.0f, 2.0f, NAN, 4.5f};
    double want[4] = {1.0, 2.1, 3.0, 4.0}, bound[4] = {0.0, 0.2, 1.0, 0.25};
    ref_compare c;
    ref_check(4, got, want, bound, &c);
    ck_assert_uint_eq(c.count, 4);
    ck_assert_uint_eq(c.violations, 2); /* the NaN and 4.5 vs 4.0 +- 0.25 */
    ck_assert(c.worst == 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ref");
    TCase *tc = tcase_create("ref");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_identity_twiddles_give_x);
    tcase_add_test(tc, test_matches_dense_factor_product);
    tcase_add_test(tc, test_stage_touches_pairs);
    tcase_add_test(tc, test_error_bound);
    tcase_add_test(tc, test_check_counts);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
