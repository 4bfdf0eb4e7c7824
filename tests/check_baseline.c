/* check_baseline.c: every run reports the GPU baseline (--baseline) and its ratios in text, JSON
 * and CSV. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* Field k (0-based) of a CSV line (no quoted fields in these rows). */
static double csv_num(const char *line, int k)
{
    const char *p = line;
    for (int i = 0; i < k; i++) {
        p = strchr(p, ',');
        ck_assert_ptr_nonnull(p);
        p++;
    }
    return strtod(p, NULL);
}

static int count_fields(const char *line, size_t len)
{
    int n = 1;
    for (size_t i = 0; i < len; i++)
        n += line[i] == ',';
    return n;
}

/* The default baseline is the Xavier NX at 15 W. The ratios are the definitions applied
 * to the run's own figures: speedup = GPU seconds / (time_us x 1e-6), energy efficiency =
 * GPU joules / (total_pj x 1e-12), for the GPU and for GPU+CPU; the per-op rows add up
 * to the GPU's total (seconds x repeat); co-execution is never slower than the GPU. The
 * like-for-like ratio puts the array on the module: GPU joules / (total + floor x time),
 * the floor xavier-nx-15w's idle_w 3.0 W less the 12 nm table's DRAM background of
 * 30 mW, so 2.97 W. The CSV row carries the same speedup and ratios in its columns. */
START_TEST(test_default_baseline_ratios)
{
    char arch[512], wl[512], json[512], csv[512];
    tu_src(arch, sizeof arch, "arch/mld-8x8.cfg");
    tu_src(wl, sizeof wl, "workloads/fabnet-image-1k.cfg");
    tu_tmp(json, sizeof json, "b.json");
    tu_tmp(csv, sizeof csv, "b.csv");
    remove(csv);
    tu_result r;
    tu_run(&r, "-m", "analytical", "--json", json, "--csv", csv, arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\nbaseline   xavier-nx-15w (analytical GPU model): GPU "));
    ck_assert_ptr_nonnull(strstr(r.out, "\nspeedup    "));
    ck_assert_ptr_nonnull(strstr(r.out, "x over GPU+CPU; energy efficiency "));
    tu_free(&r);
    size_t n;
    char *j = tu_read(json, &n);
    double t = tu_json_num(j, "\"results\"", "time_us") * 1e-6;
    double e = tu_json_num(j, "\"energy\"", "total_pj") * 1e-12;
    ck_assert_ptr_nonnull(strstr(j, "\"preset\": \"xavier-nx-15w\""));
    double gs = tu_json_num(j, "\"gpu\": {", "seconds"),
           gj = tu_json_num(j, "\"gpu\": {", "joules");
    double cs = tu_json_num(j, "\"gpu_cpu\": {", "seconds");
    double cj = tu_json_num(j, "\"gpu_cpu\": {", "joules");
    ck_assert(t > 0 && e > 0 && gs > 0 && gj > 0);
    tu_assert_close(tu_json_num(j, "\"gpu\": {", "speedup"), gs / t, 1e-9, "speedup");
    tu_assert_close(tu_json_num(j, "\"gpu\": {", "energy_efficiency"), gj / e, 1e-9,
                    "energy efficiency");
    tu_assert_close(tu_json_num(j, "\"gpu_cpu\": {", "speedup"), cs / t, 1e-9, "GPU+CPU speedup");
    tu_assert_close(tu_json_num(j, "\"gpu_cpu\": {", "energy_efficiency"), cj / e, 1e-9,
                    "GPU+CPU energy efficiency");
    double module = gj / (e + 2.97 * t);
    tu_assert_close(tu_json_num(j, "\"gpu\": {", "energy_efficiency_module"), module, 1e-9,
                    "like-for-like energy efficiency");
    tu_assert_close(tu_json_num(j, "\"gpu_cpu\": {", "energy_efficiency_module"),
                    cj / (e + 2.97 * t), 1e-9, "GPU+CPU like for like");
    ck_assert(cs <= gs * (1 + 1e-12));
    double sum = 0;
    uint32_t rows = 0;
    for (const char *p = strstr(j, "\"ops\": ["); (p = strstr(p, "\"block\": ")); p++, rows++)
        sum += tu_json_num(p, "\"seconds\"", "seconds") * tu_json_num(p, "\"repeat\"", "repeat");
    ck_assert_uint_gt(rows, 0);
    ck_assert_msg(fabs(sum - gs) <= 1e-9 * gs, "ops add to %.12g s, total %.12g s", sum, gs);
    char *c = tu_read(csv, &n);
    const char *row = strchr(c, '\n') + 1;
    ck_assert_ptr_nonnull(
        strstr(c, ",gops_per_w,area_mm2,gops_per_mm2,baseline,baseline_s,baseline_j,speedup,"
                  "energy_efficiency,gpu_cpu_s,gpu_cpu_j,gpu_cpu_speedup,"
                  "gpu_cpu_energy_efficiency,module_energy_efficiency,"
                  "gpu_cpu_module_energy_efficiency,overrides\n"));
    ck_assert_int_eq(count_fields(c, (size_t)(row - c - 1)), count_fields(row, strlen(row) - 1));
    int k = count_fields(c, (size_t)(row - c - 1)) - 12; /* the baseline's name */
    ck_assert_ptr_nonnull(strstr(row, ",xavier-nx-15w,"));
    tu_assert_close(csv_num(row, k + 1), gs, 1e-9, "CSV baseline_s");
    ck_assert_msg(fabs(csv_num(row, k + 3) - gs / t) <= 1e-8 * gs / t, "CSV speedup");
    ck_assert_msg(fabs(csv_num(row, k + 9) - module) <= 1e-8 * module, "CSV module ratio");
    free(c);
    free(j);
    remove(json);
    remove(csv);
}
END_TEST

/* --baseline picks another preset (by name or file) and --set gpu.KEY changes it;
 * "none" leaves the baseline out of every output. */
START_TEST(test_baseline_choice)
{
    char arch[512], wl[512], json[512], preset[512];
    tu_src(arch, sizeof arch, "arch/mld-4x4.cfg");
    tu_src(wl, sizeof wl, "workloads/butterfly-linear-64.cfg");
    tu_src(preset, sizeof preset, "arch/gpu/agx-orin.cfg");
    tu_tmp(json, sizeof json, "c.json");
    tu_result r;
    tu_run(&r, "--json", json, "--baseline", "agx-orin", arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\nbaseline   agx-orin (analytical GPU model)"));
    tu_free(&r);
    size_t n;
    char *j = tu_read(json, &n);
    double orin = tu_json_num(j, "\"gpu\": {", "seconds");
    free(j);
    tu_run(&r, "--json", json, "-b", preset, arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "(from "));
    tu_free(&r);
    j = tu_read(json, &n);
    ck_assert(tu_json_num(j, "\"gpu\": {", "seconds") == orin);
    free(j);
    /* a far larger launch overhead makes the many-kernel baseline slower */
    tu_run(&r, "--json", json, "--set", "gpu.launch_us=1000", arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    j = tu_read(json, &n);
    double slow = tu_json_num(j, "\"gpu\": {", "seconds");
    ck_assert(slow >= 1000e-6 * tu_json_num(j, "\"baseline\"", "kernels"));
    free(j);
    tu_run(&r, "--json", json, "--baseline", "none", arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_null(strstr(r.out, "baseline"));
    ck_assert_ptr_null(strstr(r.out, "speedup"));
    tu_free(&r);
    j = tu_read(json, &n);
    ck_assert_ptr_null(strstr(j, "\"baseline\""));
    free(j);
    remove(json);
}
END_TEST

/* A preset that does not exist or does not load is a usage error before anything runs or
 * is written. */
START_TEST(test_baseline_errors)
{
    char arch[512], wl[512], json[512];
    tu_src(arch, sizeof arch, "arch/mld-4x4.cfg");
    tu_src(wl, sizeof wl, "workloads/butterfly-linear-64.cfg");
    tu_tmp(json, sizeof json, "d.json");
    remove(json);
    tu_expect(2, "no-such-gpu: no such file, and no GPU preset of that name", "--json", json,
              "--baseline", "no-such-gpu", arch, wl, NULL);
    tu_expect(2, "gpu.dram_gbs", "--json", json, "--set", "gpu.dram_gbs=0", arch, wl, NULL);
    FILE *f = fopen(json, "r");
    ck_assert_msg(f == NULL, "a JSON was written beside the error");
    tu_expect(2, "--gpu-calibrate takes no ARCH.cfg or WORKLOAD.cfg", "--gpu-calibrate", "x.csv",
              arch, wl, NULL);
    tu_expect(2, "needs a --baseline preset", "--gpu-calibrate", "x.csv", "--baseline", "none",
              NULL);
    /* an override of a file the run does not read is an error, not silently lost */
    tu_expect(2, "--set gpu.launch_us=5: --baseline none loads no GPU preset to override", "--json",
              json, "--baseline", "none", "--set", "gpu.launch_us=5", arch, wl, NULL);
    tu_expect(2, "--set arch.clock_mhz=500: --gpu-calibrate reads no arch file", "--gpu-calibrate",
              "x.csv", "--set", "arch.clock_mhz=500", NULL);
    f = fopen(json, "r");
    ck_assert_msg(f == NULL, "a JSON was written beside the error");
}
END_TEST

/* --gpu-calibrate fits the default preset to a microbenchmark CSV and prints a preset that
 * --baseline loads; the fitted launch overhead replaces the preset's 10 us; the output
 * names no resolved host path and is the same on every run. */
START_TEST(test_calibrate_cli)
{
    char csv[512], preset[512], arch[512], wl[512];
    tu_src(csv, sizeof csv, "tests/data/gpu-microbench-dryrun.csv");
    tu_src(arch, sizeof arch, "arch/mld-4x4.cfg");
    tu_src(wl, sizeof wl, "workloads/butterfly-linear-64.cfg");
    tu_tmp(preset, sizeof preset, "cal.cfg");
    tu_result r, again;
    tu_run(&r, "--gpu-calibrate", csv, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_run(&again, "--gpu-calibrate", csv, NULL);
    ck_assert_str_eq(r.out, again.out);
    tu_free(&again);
    ck_assert_ptr_nonnull(strstr(r.out, "calibrated by bflysim --gpu-calibrate from "));
    ck_assert_ptr_nonnull(strstr(r.out, "from the preset xavier-nx-15w)"));
    ck_assert_ptr_nonnull(strstr(r.out, "\nname = \"xavier-nx-15w-calibrated\";\n"));
    ck_assert_ptr_null(strstr(r.out, "/arch/gpu/"));
    const char *l = strstr(r.out, "\nlaunch_us = ");
    ck_assert_ptr_nonnull(l);
    ck_assert(strtod(l + strlen("\nlaunch_us = "), NULL) != 10.0);
    tu_write(preset, r.out);
    tu_free(&r);
    tu_run(&r, "-b", preset, arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\nspeedup    "));
    ck_assert_ptr_nonnull(strstr(r.out, "\nbaseline   xavier-nx-15w-calibrated (from "));
    tu_free(&r);
    remove(preset);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("baseline");
    TCase *tc = tcase_create("baseline");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_default_baseline_ratios);
    tcase_add_test(tc, test_baseline_choice);
    tcase_add_test(tc, test_baseline_errors);
    tcase_add_test(tc, test_calibrate_cli);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
