/* check_util.c: FP16 rounding against an independent decoder, the RNG, bit and string helpers. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/util/util.h"
#include "testutil.h"

/* Independent IEEE binary16 decoder: sign, 5-bit exponent (bias 15), 10-bit fraction. */
static double half_value(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 31, f = h & 1023;
    double v;
    if (e == 31)
        v = f ? NAN : INFINITY;
    else if (e == 0)
        v = ldexp(f, -24);
    else
        v = ldexp(1024 + f, e - 25);
    return sign ? -v : v;
}

START_TEST(test_fp16_known_values)
{
    ck_assert(util_round_fp16(1.0f) == 1.0f);
    ck_assert(util_round_fp16(0.1f) == 0.0999755859375f);       /* 0x2E66 */
    ck_assert(util_round_fp16(1.0f / 3.0f) == 0.333251953125f); /* 0x3555 */
    ck_assert(util_round_fp16(65504.0f) == 65504.0f);
    ck_assert(util_round_fp16(65519.0f) == 65504.0f);
    ck_assert(isinf(util_round_fp16(65520.0f)) && util_round_fp16(65520.0f) > 0);
    ck_assert(isinf(util_round_fp16(-70000.0f)) && util_round_fp16(-70000.0f) < 0);
    /* ties go to the even significand */
    ck_assert(util_round_fp16(1.0f + 0x1p-11f) == 1.0f);
    ck_assert(util_round_fp16(1.0f + 3 * 0x1p-11f) == 1.0f + 0x1p-9f);
    /* subnormals: spacing 2^-24 */
    ck_assert(util_round_fp16(0x1p-24f) == 0x1p-24f);
    ck_assert(util_round_fp16(0x1p-25f) == 0.0f);
    ck_assert(util_round_fp16(3 * 0x1p-25f) == 0x1p-23f);
    ck_assert(util_round_fp16(0x1p-14f) == 0x1p-14f);
    ck_assert(isnan(util_round_fp16(NAN)));
    ck_assert(signbit(util_round_fp16(-0.0f)));
    ck_assert(util_round_dtype(UTIL_FP32, 0.1f) == 0.1f); /* FP32 values are kept */
}
END_TEST

/* Every finite binary16 value is kept; every midpoint between neighbours goes to the
 * one with an even significand; points just off the midpoint go to the nearer one. */
START_TEST(test_fp16_exhaustive)
{
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double v = half_value((uint16_t)h);
        ck_assert(util_round_fp16((float)v) == (float)v);
        ck_assert(util_round_fp16((float)-v) == (float)-v);
        if (h + 1 >= 0x7c00)
            continue;
        double next = half_value((uint16_t)(h + 1)), mid = (v + next) / 2;
        double even = (h & 1) ? next : v;
        ck_assert_msg(util_round_fp16((float)mid) == (float)even, "midpoint above 0x%04x", h);
        double q = (next - v) / 8;
        ck_assert(util_round_fp16((float)(mid - q)) == (float)v);
        ck_assert(util_round_fp16((float)(mid + q)) == (float)next);
    }
}
END_TEST

START_TEST(test_rng)
{
    /* splitmix64 reference outputs for seed 0 (Vigna's published generator). */
    util_rng r;
    util_rng_seed(&r, 0);
    ck_assert_uint_eq(util_rng_next(&r), 0xe220a8397b1dcdafull);
    ck_assert_uint_eq(util_rng_next(&r), 0x6e789e6aa1b965f4ull);
    ck_assert_uint_eq(util_rng_next(&r), 0x06c45d188009454full);
    util_rng a, b;
    util_rng_seed(&a, 42);
    util_rng_seed(&b, 42);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = util_rng_uniform(&a);
        ck_assert(u >= 0.0 && u < 1.0);
        ck_assert(u == util_rng_uniform(&b));
        sum += u;
    }
    /* mean of 1e5 uniforms: standard deviation sqrt(1/12/1e5) = 0.0009; allow 5 sigma */
    ck_assert(fabs(sum / 100000 - 0.5) < 0.0046);
}
END_TEST

START_TEST(test_bits_and_math)
{
    ck_assert_uint_eq(util_insert_bit(0x5, 1, 1), 0xb); /* 101 -> 1011 */
    ck_assert_uint_eq(util_insert_bit(0x5, 0, 0), 0xa); /* 101 -> 1010 */
    ck_assert_uint_eq(util_remove_bit(0xb, 1), 0x5);
    for (uint64_t x = 0; x < 256; x++)
        for (uint32_t p = 0; p < 8; p++)
            for (uint32_t v = 0; v < 2; v++)
                ck_assert_uint_eq(util_remove_bit(util_insert_bit(x, p, v), p), x);
    ck_assert(util_is_pow2(1) && util_is_pow2(1024) && !util_is_pow2(0) && !util_is_pow2(768));
    ck_assert_uint_eq(util_log2(1), 0);
    ck_assert_uint_eq(util_log2(65536), 16);
    ck_assert_uint_eq(util_log2(65537), 16);
    ck_assert_uint_eq(util_ceil_div(7, 2), 4);
    ck_assert_uint_eq(util_ceil_div(8, 2), 4);
    uint64_t out;
    ck_assert(util_mul_u64(1ull << 31, 1ull << 32, &out) && out == 1ull << 63);
    ck_assert(!util_mul_u64(1ull << 32, 1ull << 32, &out));
    ck_assert_uint_eq(util_edit_distance("rows", "rowz"), 1);
    ck_assert_uint_eq(util_edit_distance("cols", "rows"), 2);
    ck_assert_uint_eq(util_edit_distance("", "abc"), 3);
    ck_assert_uint_eq(util_edit_distance("kitten", "sitting"), 3);
}
END_TEST

START_TEST(test_reserve)
{
    int *v = NULL;
    size_t cap = 0;
    ck_assert_int_eq(util_reserve((void **)&v, &cap, 1000, sizeof *v), UTIL_OK);
    ck_assert_uint_ge(cap, 1000);
    v[999] = 7;
    ck_assert_int_ne(util_reserve((void **)&v, &cap, SIZE_MAX / 2, sizeof *v), UTIL_OK);
    ck_assert_int_eq(v[999], 7); /* a failed growth keeps the buffer */
    free(v);
    ck_assert_ptr_null(util_calloc(SIZE_MAX / 2, 4));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");
    tcase_set_timeout(tc, 60); /* a hang guard for loaded machines, not a speed target */
    tcase_add_test(tc, test_fp16_known_values);
    tcase_add_test(tc, test_fp16_exhaustive);
    tcase_add_test(tc, test_rng);
    tcase_add_test(tc, test_bits_and_math);
    tcase_add_test(tc, test_reserve);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
