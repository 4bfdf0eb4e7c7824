/* ref.c: reference butterfly, its rounding-error bound, and the comparison used by --functional. */
#include "ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

void ref_butterfly_stage(uint64_t n, uint32_t s, const float *tw_stage, double *v)
{
    uint64_t stride = UINT64_C(1) << s;
    for (uint64_t p = 0; p < n / 2; p++) {
        uint64_t j = util_insert_bit(p, s, 0);
        const float *w = tw_stage + 4 * p;
        double x0 = v[j], x1 = v[j + stride];
        v[j] = (double)w[0] * x0 + (double)w[1] * x1;
        v[j + stride] = (double)w[2] * x0 + (double)w[3] * x1;
    }
}

void ref_butterfly(uint64_t n, uint64_t rows, const float *tw, const float *x, double *y)
{
    uint32_t stages = util_log2(n);
    for (uint64_t r = 0; r < rows; r++) {
        double *v = y + r * n;
        for (uint64_t j = 0; j < n; j++)
            v[j] = x[r * n + j];
        for (uint32_t s = 0; s < stages; s++)
            ref_butterfly_stage(n, s, tw + (uint64_t)s * (n / 2) * 4, v);
    }
}

/* v <- |B_s| v for one stage. */
static void abs_stage(uint64_t n, uint32_t s, const float *w4, double *v)
{
    uint64_t stride = UINT64_C(1) << s;
    for (uint64_t p = 0; p < n / 2; p++) {
        uint64_t j = util_insert_bit(p, s, 0);
        const float *w = w4 + 4 * p;
        double x0 = v[j], x1 = v[j + stride];
        v[j] = fabs((double)w[0]) * x0 + fabs((double)w[1]) * x1;
        v[j + stride] = fabs((double)w[2]) * x0 + fabs((double)w[3]) * x1;
    }
}

void ref_butterfly_bound(uint64_t n, uint64_t rows, const float *tw, const float *x, double u,
                         double eta, double *bound)
{
    uint32_t stages = util_log2(n);
    double *env = malloc(n * sizeof *env);
    if (!env) {
        for (uint64_t i = 0; i < rows * n; i++)
            bound[i] = INFINITY; /* no memory: no claim */
        return;
    }
    for (uint64_t r = 0; r < rows; r++) {
        double *b = bound + r * n;
        for (uint64_t j = 0; j < n; j++) {
            env[j] = fabs((double)x[r * n + j]);
            b[j] = 0.0;
        }
        for (uint32_t s = 0; s < stages; s++) {
            const float *w = tw + (uint64_t)s * (n / 2) * 4;
            abs_stage(n, s, w, env);
            abs_stage(n, s, w, b);
            for (uint64_t j = 0; j < n; j++)
                b[j] = (1.0 + u) * b[j] + u * env[j] + eta;
        }
    }
    free(env);
}

void ref_check(uint64_t count, const float *got, const double *want, const double *bound,
               ref_compare *out)
{
    memset(out, 0, sizeof *out);
    out->count = count;
    double err2 = 0.0, ref2 = 0.0;
    for (uint64_t i = 0; i < count; i++) {
        double e = fabs((double)got[i] - want[i]);
        /* A NaN result never passes. */
        double ratio = isnan(e) ? INFINITY : (bound[i] > 0 ? e / bound[i] : (e > 0 ? INFINITY : 0));
        if (ratio > 1.0)
            out->violations++;
        if (ratio > out->worst_ratio || (i == 0 && ratio >= out->worst_ratio)) {
            out->worst_ratio = ratio;
            out->worst = i;
        }
        if (e > out->max_abs_err || isnan(e))
            out->max_abs_err = e;
        err2 += e * e;
        ref2 += want[i] * want[i];
    }
    out->rel_l2_err = ref2 > 0 ? sqrt(err2 / ref2) : sqrt(err2);
}
