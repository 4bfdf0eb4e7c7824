/* check_functional.c: values flowing through the simulated array match the reference math. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/config/config.h"
#include "../sim/engine/engine.h"
#include "../sim/mapper/mapper.h"
#include "../sim/util/util.h"
#include "../sim/workload/workload.h"
#include "testutil.h"

/* Runs bflysim --functional on a preset with overrides and checks the result:
 * exit 0, no element outside the a priori rounding bound (ref_butterfly_bound), and a
 * relative L2 error below S*u, the size of one rounding per stage (u = 2^-11 for FP16,
 * 2^-24 for FP32). */
static void functional_ok(const char *arch, uint64_t n, uint64_t rows, uint64_t seed,
                          const char *dtype, const char *extra1, const char *extra2)
{
    char a[512], w[512], json[512], sn[64], sr[64], ss[64], sd[64];
    tu_src(a, sizeof a, arch);
    tu_src(w, sizeof w, "workloads/butterfly-linear-64.cfg");
    tu_tmp(json, sizeof json, "f.json");
    snprintf(sn, sizeof sn, "workload.n=%llu", (unsigned long long)n);
    snprintf(sr, sizeof sr, "workload.rows=%llu", (unsigned long long)rows);
    snprintf(ss, sizeof ss, "workload.seed=%llu", (unsigned long long)seed);
    snprintf(sd, sizeof sd, "workload.dtype=%s", dtype);
    const char *argv[20] = {"-q", "-f", "-j", json, "-s", sn, "-s", sr, "-s", ss, "-s", sd};
    int argc = 12;
    if (extra1) {
        argv[argc++] = "-s";
        argv[argc++] = extra1;
    }
    if (extra2) {
        argv[argc++] = "-s";
        argv[argc++] = extra2;
    }
    argv[argc++] = a;
    argv[argc++] = w;
    tu_result r;
    tu_runv(&r, argc, argv);
    ck_assert_msg(r.status == 0, "%s n=%llu rows=%llu seed=%llu %s %s %s: status %d: %s", arch,
                  (unsigned long long)n, (unsigned long long)rows, (unsigned long long)seed, dtype,
                  extra1 ? extra1 : "", extra2 ? extra2 : "", r.status, r.err);
    char *text = tu_read(json, NULL);
    double u = strcmp(dtype, "fp32") == 0 ? 0x1p-24 : 0x1p-11;
    double stages = log2((double)n);
    ck_assert(strstr(text, "\"checked\": true") != NULL);
    ck_assert(tu_json_num(text, NULL, "violations") == 0);
    ck_assert(tu_json_num(text, NULL, "elements") == (double)(n * rows));
    ck_assert_msg(tu_json_num(text, NULL, "relative_l2_error") <= stages * u,
                  "relative L2 error %g above %g", tu_json_num(text, NULL, "relative_l2_error"),
                  stages * u);
    free(text);
    tu_free(&r);
    remove(json);
}

START_TEST(test_presets_sizes_seeds)
{
    static const char *const arches[] = {"arch/mld-4x4.cfg", "arch/mld-8x8.cfg",
                                         "arch/mld-16x16.cfg", "tests/data/tiny-1x2.cfg"};
    static const uint64_t sizes[][2] = {{2, 3}, {8, 5}, {256, 4}, {4096, 2}};
    for (size_t a = 0; a < 4; a++)
        for (size_t k = 0; k < 4; k++)
            for (uint64_t seed = 1; seed <= 2; seed++)
                functional_ok(arches[a], sizes[k][0], sizes[k][1], seed * 97, "fp16", NULL, NULL);
}
END_TEST

START_TEST(test_large_and_fp32)
{
    functional_ok("arch/mld-8x8.cfg", 65536, 1, 3, "fp16", NULL, NULL);
    functional_ok("arch/mld-4x4.cfg", 1024, 8, 4, "fp32", NULL, NULL);
    functional_ok("arch/mld-16x16.cfg", 4096, 2, 5, "fp32", NULL, NULL);
}
END_TEST

/* Shapes and limits that exercise other code paths: rows that are not a power of two,
 * skip links, one tag slot, tags that are chunks of a vector (small PE buffers). */
START_TEST(test_odd_shapes)
{
    functional_ok("arch/mld-4x4.cfg", 1024, 3, 6, "fp16", "arch.array.rows=3", "arch.array.cols=5");
    functional_ok("arch/mld-8x8.cfg", 4096, 2, 7, "fp16", "arch.noc.skip=[2,4]", NULL);
    functional_ok("arch/mld-8x8.cfg", 512, 8, 8, "fp16", "arch.pe.tags=1", "arch.pe.out_slots=1");
    functional_ok("arch/mld-4x4.cfg", 4096, 3, 9, "fp16", "arch.pe.buffer_kb=1", NULL);
    functional_ok("arch/mld-8x8.cfg", 65536, 1, 10, "fp16", "arch.pe.buffer_kb=2", NULL);
    functional_ok("arch/mld-4x4.cfg", 256, 16, 11, "fp16", "arch.array.cols=1", NULL);
}
END_TEST

/* A twiddle corrupted in the mapped program (not in the reference) must be caught. */
START_TEST(test_planted_twiddle_exits_3)
{
    static const char *const arches[] = {"arch/mld-4x4.cfg", "arch/mld-8x8.cfg",
                                         "tests/data/tiny-1x2.cfg"};
    for (size_t i = 0; i < 3; i++) {
        char a[512], w[512];
        tu_src(a, sizeof a, arches[i]);
        tu_src(w, sizeof w, "workloads/butterfly-linear-64.cfg");
        tu_result r;
        tu_run(&r, "-q", "--functional", "--inject-fault=twiddle", a, w, NULL);
        ck_assert_int_eq(r.status, 3);
        ck_assert_msg(strstr(r.err, "functional mismatch"), "got: %s", r.err);
        tu_free(&r);
        /* the same run without the fault passes */
        tu_run(&r, "-q", "--functional", a, w, NULL);
        ck_assert_int_eq(r.status, 0);
        tu_free(&r);
    }
}
END_TEST

/* Through the mapped array, stage s alone (all other stages identity, stage s a swap
 * [0 1; 1 0]) must exchange exactly the elements j and j + 2^s of every vector; with plan
 * NULL under the simple mapping. */
static void check_stage_swaps(const char *arch, uint64_t n, uint64_t rows,
                              const map_bfly_plan *plan)
{
    char err[512];
    arch_desc a;
    tu_load_arch(arch, &a);
    wl_desc d = {.kind = WL_KIND_BUTTERFLY_LINEAR,
                 .n = n,
                 .rows = rows,
                 .dtype = UTIL_FP16,
                 .seed = 1,
                 .init = WL_INIT_IDENTITY};
    wl_butterfly b;
    wl_butterfly_from_desc(&d, &b);
    for (uint32_t s = 0; s < b.stages; s++) {
        map_result m;
        int rc = plan ? map_butterfly_with(&a, &b, true, plan, &m, err, sizeof err)
                      : map_butterfly_simple(&a, &b, true, &m, err, sizeof err);
        ck_assert_msg(rc == 0, "%s", err);
        float *tw = malloc(wl_twiddle_count(&b) * sizeof *tw);
        float *image = calloc(m.dram_elems, sizeof *image);
        wl_butterfly_twiddles(&b, tw);
        for (uint64_t p = 0; p < b.n / 2; p++) {
            float *q = tw + ((uint64_t)s * (b.n / 2) + p) * 4;
            q[0] = 0, q[1] = 1, q[2] = 1, q[3] = 0;
        }
        map_write_weights(&m, &b, tw, image);
        for (uint64_t i = 0; i < b.rows * b.n; i++)
            image[m.x_addr + i] = (float)(i % 2048 + 1); /* distinct per vector, exact in FP16 */
        eng_stats st;
        ck_assert_int_eq(eng_run(&a, &m.program, image, &st, err, sizeof err), 0);
        for (uint64_t r = 0; r < b.rows; r++)
            for (uint64_t j = 0; j < b.n; j++) {
                uint64_t from = r * b.n + (j ^ (UINT64_C(1) << s));
                ck_assert_msg(image[m.y_addr + r * b.n + j] == (float)(from % 2048 + 1),
                              "%s stage %u row %llu element %llu", arch, s, (unsigned long long)r,
                              (unsigned long long)j);
            }
        eng_stats_free(&st);
        free(tw);
        free(image);
        map_free(&m);
    }
}

START_TEST(test_mapped_stage_swaps_pairs)
{
    check_stage_swaps("arch/mld-4x4.cfg", 256, 3, NULL);
}
END_TEST

/* The same through multilayer plans: six pipelines of one-PE layers whose 13 rows end
 * with a tag for one pipeline (two phases per pass); three pipelines of 4-PE layers in
 * two passes with the intermediates on chip, blocks of 32 rows (tags of 3 x 4 vectors,
 * then one for 2 pipelines); two pipelines of 2-PE layers snaking over the bands of
 * mld-4x4; and a 16K vector in chunk tags on 1-PE layers. */
START_TEST(test_multilayer_plans_swap_pairs)
{
    static const struct {
        const char *arch;
        uint64_t n, rows;
        map_bfly_plan plan;
        uint32_t phases_per_pass;
    } cases[] = {{"arch/mld-8x8.cfg", 1024, 13, {1, 6, 10, 0}, 2},
                 {"arch/mld-8x8.cfg", 1024, 64, {4, 3, 5, 32}, 2},
                 {"arch/mld-4x4.cfg", 256, 8, {2, 2, 4, 0}, 1},
                 {"arch/mld-8x8.cfg", 16384, 2, {1, 1, 7, 0}, 1}};
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        arch_desc a;
        tu_load_arch(cases[i].arch, &a);
        wl_desc d = {.kind = WL_KIND_BUTTERFLY_LINEAR,
                     .n = cases[i].n,
                     .rows = cases[i].rows,
                     .dtype = UTIL_FP16,
                     .init = WL_INIT_IDENTITY};
        wl_butterfly b;
        wl_butterfly_from_desc(&d, &b);
        map_result m;
        ck_assert_msg(map_butterfly_with(&a, &b, false, &cases[i].plan, &m, err, sizeof err) == 0,
                      "%s", err);
        ck_assert_uint_eq(m.pipelines, cases[i].plan.pipelines);
        ck_assert_uint_eq(m.rows_used, cases[i].plan.layer_pes);
        ck_assert_uint_eq(m.phases_per_pass, cases[i].phases_per_pass);
        ck_assert_uint_eq(m.block_rows, cases[i].plan.block_rows);
        map_free(&m);
        check_stage_swaps(cases[i].arch, cases[i].n, cases[i].rows, &cases[i].plan);
    }
}
END_TEST

/* Plans that do not fit are errors that say why. */
START_TEST(test_infeasible_plans)
{
    static const struct {
        map_bfly_plan plan;
        const char *says;
    } cases[] = {{{3, 1, 8, 0}, "power of two"},
                 {{1, 7, 10, 0}, "the array holds 64 layers"},
                 {{8, 1, 5, 100}, "blocks of 100 rows"},
                 {{8, 1, 5, 64}, "blocks of 64 rows"},
                 {{8, 1, 10, 0}, "the array holds 8 layers of 8 PEs"},
                 {{1, 40, 1, 0}, "40 pipelines need 40 vectors"}};
    char err[512];
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    wl_desc d = {.kind = WL_KIND_BUTTERFLY_LINEAR, .n = 1024, .rows = 32, .dtype = UTIL_FP16};
    wl_butterfly b;
    wl_butterfly_from_desc(&d, &b);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        map_result m;
        ck_assert_int_eq(map_butterfly_with(&a, &b, false, &cases[i].plan, &m, err, sizeof err),
                         UTIL_ERUN);
        ck_assert_msg(strstr(err, cases[i].says), "case %zu: %s", i, err);
    }
}
END_TEST

/* Values flow through the multilayer mapping (intermediates kept in the SPM between
 * passes, rows block by block), for whole-vector tags and for vectors split into chunk
 * tags (16K). For 64K vectors, reloading their twiddles for every block of rows costs more
 * than the passes save, and the estimate keeps the simple mapping. */
START_TEST(test_multilayer_functional)
{
    static const struct {
        const char *arch;
        uint64_t n, rows;
    } cases[] = {{"arch/mld-8x8.cfg", 4096, 64},
                 {"arch/mld-4x4.cfg", 1024, 48},
                 {"arch/mld-8x8.cfg", 16384, 16}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char a[512], w[512], json[512], sn[64], sr[64];
        tu_src(a, sizeof a, cases[i].arch);
        tu_src(w, sizeof w, "workloads/butterfly-linear-64.cfg");
        tu_tmp(json, sizeof json, "m.json");
        snprintf(sn, sizeof sn, "workload.n=%llu", (unsigned long long)cases[i].n);
        snprintf(sr, sizeof sr, "workload.rows=%llu", (unsigned long long)cases[i].rows);
        tu_result r;
        tu_run(&r, "-q", "-f", "-j", json, "-s", sn, "-s", sr, a, w, NULL);
        ck_assert_msg(r.status == 0, "%s n=%llu: %s", cases[i].arch, (unsigned long long)cases[i].n,
                      r.err);
        char *text = tu_read(json, NULL);
        ck_assert_msg(strstr(text, "multilayer"), "n=%llu: not multilayer",
                      (unsigned long long)cases[i].n);
        ck_assert(tu_json_num(text, NULL, "violations") == 0);
        free(text);
        tu_free(&r);
        remove(json);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("functional");
    TCase *tc = tcase_create("functional");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_presets_sizes_seeds);
    tcase_add_test(tc, test_large_and_fp32);
    tcase_add_test(tc, test_odd_shapes);
    tcase_add_test(tc, test_planted_twiddle_exits_3);
    tcase_add_test(tc, test_multilayer_functional);
    tcase_add_test(tc, test_mapped_stage_swaps_pairs);
    tcase_add_test(tc, test_multilayer_plans_swap_pairs);
    tcase_add_test(tc, test_infeasible_plans);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
