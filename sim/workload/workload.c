/* workload.c: butterfly layer parameters, seeded twiddles and inputs, closed-form counts. */
#include "workload.h"

#include <math.h>

const char *wl_kind_name(wl_kind k)
{
    return k == WL_KIND_BUTTERFLY_LINEAR ? "butterfly-linear"
           : k == WL_KIND_MODEL          ? "model"
           : k == WL_KIND_GEMM           ? "gemm"
                                         : "?";
}

const char *wl_init_name(wl_init i)
{
    return i == WL_INIT_IDENTITY ? "identity" : "random";
}

void wl_butterfly_from_desc(const wl_desc *d, wl_butterfly *b)
{
    b->n = d->n;
    b->rows = d->rows;
    b->stages = util_log2(d->n);
    b->dtype = d->dtype;
    b->seed = d->seed;
    b->init = d->init;
}

uint64_t wl_twiddle_index(const wl_butterfly *b, uint32_t s, uint64_t j0)
{
    return ((uint64_t)s * (b->n / 2) + util_remove_bit(j0, s)) * 4;
}

uint64_t wl_twiddle_count(const wl_butterfly *b)
{
    return (uint64_t)b->stages * (b->n / 2) * 4;
}

void wl_butterfly_twiddles(const wl_butterfly *b, float *tw)
{
    uint64_t count = wl_twiddle_count(b);
    if (b->init == WL_INIT_IDENTITY) {
        for (uint64_t i = 0; i < count; i += 4) {
            tw[i] = 1.0f;
            tw[i + 1] = 0.0f;
            tw[i + 2] = 0.0f;
            tw[i + 3] = 1.0f;
        }
        return;
    }
    util_rng rng;
    util_rng_seed(&rng, b->seed);
    const double a = sqrt(1.5);
    for (uint64_t i = 0; i < count; i++)
        tw[i] = util_round_dtype(b->dtype, (float)(a * (2.0 * util_rng_uniform(&rng) - 1.0)));
}

void wl_butterfly_inputs(const wl_butterfly *b, float *x)
{
    util_rng rng;
    /* A stream distinct from the twiddles' for the same seed. */
    util_rng_seed(&rng, b->seed ^ 0x5851f42d4c957f2dull);
    uint64_t count = b->rows * b->n;
    for (uint64_t i = 0; i < count; i++)
        x[i] = util_round_dtype(b->dtype, (float)(2.0 * util_rng_uniform(&rng) - 1.0));
}

uint64_t wl_butterfly_macs(const wl_butterfly *b)
{
    return b->rows * b->stages * (b->n / 2) * 4;
}

uint64_t wl_butterfly_flops(const wl_butterfly *b)
{
    return b->rows * b->stages * (b->n / 2) * 6;
}
