/* check_energy.c: the energy model: terms by hand, the breakdown, clock and price laws, errors. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/config/config.h"
#include "../sim/energy/energy.h"
#include "../sim/engine/engine.h"
#include "../sim/mapper/mapper.h"
#include "testutil.h"

/* A table whose prices are easy to multiply by hand (pJ; leakage in mW). */
#define TABLE                                                                                      \
    "energy = {\n"                                                                                 \
    "  mac_fp16_pj = 0.5; add_fp16_pj = 0.25; mul_fp16_pj = 0.75; max_fp16_pj = 0.125;\n"          \
    "  exp_fp16_pj = 3.0; rcp_fp16_pj = 2.0;\n"                                                    \
    "  mac_fp32_pj = 1.5; add_fp32_pj = 0.5; mul_fp32_pj = 1.25; max_fp32_pj = 0.25;\n"            \
    "  exp_fp32_pj = 6.0; rcp_fp32_pj = 4.0;\n"                                                    \
    "  sram_read_pj = 8.0; sram_write_pj = 16.0;\n"                                                \
    "  router_pj_per_bit = 0.5; link_pj_per_bit = 0.25; dma_pj_per_byte = 2.0;\n"                  \
    "  dram_pj_per_bit = 4.0;\n"                                                                   \
    "  pe_leakage_mw = 1.5; spm_leakage_mw_per_kb = 0.5; router_leakage_mw = 0.25;\n"              \
    "  dram_leakage_mw = 10.0;\n"                                                                  \
    "  decode_pj = 1.0; pipeline_pj_per_bit = 0.125; clock_pj_per_pe_cycle = 0.5;\n"               \
    "};\n"                                                                                         \
    "area = {\n"                                                                                   \
    "  mac_fp16_um2 = 100.0; add_fp16_um2 = 50.0; mul_fp16_um2 = 60.0; max_fp16_um2 = 5.0;\n"      \
    "  exp_fp16_um2 = 300.0; rcp_fp16_um2 = 200.0; sram_um2_per_kb = 1000.0;\n"                    \
    "  router_um2_per_port_bit = 2.0; pe_control_um2 = 40.0; dma_um2 = 500.0;\n"                   \
    "  controller_um2 = 700.0;\n"                                                                  \
    "};\n"

/* tests/data/tiny-1x2.cfg with the table above, written beside it in the temp dir. */
static void tiny_arch(arch_desc *a, char *arch_path, size_t len)
{
    char src[512], tab[512], err[512];
    size_t n;
    char *text = tu_read(tu_src(src, sizeof src, "tests/data/tiny-1x2.cfg"), &n);
    tu_write(tu_tmp(tab, sizeof tab, "table.cfg"), TABLE);
    char *doc = malloc(n + 128);
    ck_assert_ptr_nonnull(doc);
    ck_assert_ptr_nonnull(strrchr(tab, '/'));
    snprintf(doc, n + 128, "%s\nenergy = { table = \"%s\"; };\n", text, strrchr(tab, '/') + 1);
    tu_write(tu_tmp(arch_path, len, "tiny-energy.cfg"), doc);
    free(doc);
    free(text);
    ck_assert_msg(cfg_load_arch(arch_path, NULL, 0, a, err, sizeof err) == 0, "%s", err);
    ck_assert(a->energy.present);
}

/* The run of tests/check_timing.c's hand derivation: one 4-point FP16 butterfly on the
 * 1x2 array, 68 cycles. */
static void tiny_run(const arch_desc *a, eng_stats *st)
{
    wl_desc d = {.kind = WL_KIND_BUTTERFLY_LINEAR,
                 .n = 4,
                 .rows = 1,
                 .dtype = UTIL_FP16,
                 .seed = 1,
                 .init = WL_INIT_RANDOM};
    wl_butterfly b;
    wl_butterfly_from_desc(&d, &b);
    map_result m;
    char err[512];
    ck_assert_int_eq(map_butterfly_simple(a, &b, false, &m, err, sizeof err), 0);
    ck_assert_msg(eng_run(a, &m.program, NULL, st, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(st->cycles, 68);
    map_free(&m);
}

/* The hand-derived run on the tiny arch, priced (24 flops). */
static void tiny_priced(arch_desc *a, eng_stats *st, en_result *e)
{
    char path[512];
    tiny_arch(a, path, sizeof path);
    tiny_run(a, st);
    en_compute(a, UTIL_FP16, st, 24, e);
}

static const en_action *action(const en_result *e, const char *name)
{
    for (uint32_t i = 0; i < e->n; i++)
        if (strcmp(e->act[i].name, name) == 0)
            return &e->act[i];
    ck_abort_msg("no action %s", name);
    return NULL;
}

static void expect(const en_result *e, const char *name, double count, double price)
{
    const en_action *x = action(e, name);
    ck_assert_msg(x->count == count, "%s: count %g, expected %g", name, x->count, count);
    ck_assert_msg(fabs(x->price - price) <= 1e-12 * price, "%s: price %g, expected %g", name,
                  x->price, price);
    ck_assert_msg(fabs(x->pj - count * price) <= 1e-9 * (count * price + 1), "%s: %g pJ", name,
                  x->pj);
}

/* Counts of the hand derivation (tests/check_timing.c), priced by hand:
 *   MAC: 2 fires x 4 vector operations x 2 lanes = 16 lane ops at 0.5 pJ; no other unit;
 *   PE buffer reads: each fire reads its 4 operands and 8 weights: 24 elements; writes:
 *     4 fed elements in each PE plus 8 weights each: 24; an FP16 element of a 1 KiB buffer
 *     costs sram x (2/8) x sqrt(1/32): 8 x 0.25 x 0.17678 = 0.35355 pJ to read, twice that
 *     to write (sram_write 16);
 *   SPM: 12 reads and 12 writes of 4-byte words in 1 KiB banks: 8 x 0.5 x sqrt(1/32) and
 *     16 x 0.5 x sqrt(1/32);
 *   routers: flits x routers passed (ejection included): weights 4 + 4, feed 2, PE0 -> PE1
 *     2 x 2, PE1 -> port 2: 16 flits x 32 bits at 0.5 pJ/bit; links: the PE0 -> PE1 hop,
 *     2 flits x 32 bits at 0.25;
 *   DMA: weights 16 + 16 bytes, input 8, output 8: 48 bytes at 2 pJ;
 *   DRAM: 10 read and 2 write bursts of 4 bytes: 384 bits at 4 pJ;
 *   leakage over 68 ns: 2 PEs x 1.5 mW, 2 KiB of SPM x 0.5, 2 routers x 0.25, DRAM 10;
 *   control: 2 fires, each a 64-bit read of the 1-entry (8-byte) instruction store,
 *     8 x sqrt(8/32768) = 0.125 pJ, plus 1.0 to issue;
 *   pipeline: 8 MAC vector operations x 2 lanes x 3 FP16 values (16 bits) x 2 stages =
 *     1,536 bits at 0.125 pJ;
 *   clock: 2 PEs x 68 cycles at 0.5 pJ. */
START_TEST(test_terms_by_hand)
{
    arch_desc a;
    eng_stats st;
    en_result e;
    tiny_priced(&a, &st, &e);
    double s32 = sqrt(1.0 / 32.0);
    expect(&e, "mac_fp16", 16, 0.5);
    expect(&e, "add_fp16", 0, 0.25);
    expect(&e, "exp_fp16", 0, 3.0);
    expect(&e, "buffer_read", 24, 8 * 0.25 * s32);
    expect(&e, "buffer_write", 24, 16 * 0.25 * s32);
    expect(&e, "spm_read", 12, 8 * 0.5 * s32);
    expect(&e, "spm_write", 12, 16 * 0.5 * s32);
    expect(&e, "router", 16 * 32, 0.5);
    expect(&e, "link", 2 * 32, 0.25);
    expect(&e, "dma", 48, 2.0);
    expect(&e, "dram", 384, 4.0);
    expect(&e, "pe_leakage", 68, 2 * 1.5);
    expect(&e, "spm_leakage", 68, 2 * 0.5);
    expect(&e, "router_leakage", 68, 2 * 0.25);
    expect(&e, "dram_leakage", 68, 10.0);
    expect(&e, "instruction", 2, 0.125 + 1.0);
    expect(&e, "pipeline", 1536, 0.125);
    expect(&e, "clock", 2 * 68, 0.5);
    /* the total is the sum of the breakdown, and each part the sum of its actions */
    double parts = 0, acts = 0, by_part[EN_PART_COUNT] = {0};
    for (int p = 0; p < EN_PART_COUNT; p++)
        parts += e.part_pj[p];
    for (uint32_t i = 0; i < e.n; i++)
        acts += e.act[i].pj, by_part[e.act[i].part] += e.act[i].pj;
    ck_assert(fabs(e.total_pj - parts) <= 1e-9 * e.total_pj);
    ck_assert(fabs(e.total_pj - acts) <= 1e-9 * e.total_pj);
    for (int p = 0; p < EN_PART_COUNT; p++)
        ck_assert(fabs(e.part_pj[p] - by_part[p]) <= 1e-9 * (by_part[p] + 1));
    ck_assert(fabs(e.part_pj[EN_LEAKAGE] - 68 * (3.0 + 1.0 + 0.5 + 10.0)) < 1e-9);
    /* power, efficiency and EDP follow from the total and the 68 ns */
    double joules = e.total_pj * 1e-12;
    ck_assert(fabs(e.seconds - 68e-9) < 1e-18);
    ck_assert(fabs(e.watts - joules / 68e-9) <= 1e-9 * e.watts);
    ck_assert(fabs(e.gops_per_w - 24 / joules * 1e-9) <= 1e-9 * e.gops_per_w);
    ck_assert(fabs(e.edp_js - joules * 68e-9) <= 1e-9 * e.edp_js);
    eng_stats_free(&st);
}
END_TEST

/* The tiny arch's area by hand (docs/AREA.md), in um2: 2 PEs of function units (2 lanes
 * each of MAC 100, add 50, mul 60, max 5; 1 lane each of exp 300 and rcp 200: 930 a PE),
 * 1 KiB buffers at 1000 a KiB, a 1-entry (8-byte) instruction store and 40 of issue logic
 * each, 2 KiB of SPM, 2 routers of 5 ports x 32 bits at 2 per port-bit, and the DMA (500)
 * and controller (700); an override of the arch changes its part only. */
START_TEST(test_area_by_hand)
{
    arch_desc a;
    char path[512];
    tiny_arch(&a, path, sizeof path);
    double parts[ARCH_AREA_PART_COUNT];
    double total = arch_area_mm2(&a, parts);
    const double want[ARCH_AREA_PART_COUNT] = {1860, 2000, 2 * (8.0 / 1024 * 1000 + 40),
                                               2000, 640,  1200};
    double sum = 0;
    for (int p = 0; p < ARCH_AREA_PART_COUNT; p++) {
        tu_assert_close(parts[p], want[p] * 1e-6, 1e-12, arch_area_part_name((arch_area_part)p));
        sum += want[p] * 1e-6;
    }
    tu_assert_close(total, sum, 1e-12, "total");
    cfg_override ov;
    char err[256];
    ck_assert(!cfg_parse_override("arch.area.router_um2_per_port_bit=4", &ov, err, sizeof err));
    ck_assert_msg(!cfg_load_arch(path, &ov, 1, &a, err, sizeof err), "%s", err);
    tu_assert_close(arch_area_mm2(&a, parts), sum + 640e-6, 1e-12, "a router override");
}
END_TEST

/* Doubling the clock with the cycles held halves the run time, so the leakage energy;
 * the dynamic energy stays. Zeroing one price removes exactly its term. */
START_TEST(test_clock_and_prices)
{
    arch_desc a;
    char path[512];
    tiny_arch(&a, path, sizeof path);
    eng_stats st;
    tiny_run(&a, &st);
    en_result base, fast, cheap;
    en_compute(&a, UTIL_FP16, &st, 24, &base);
    arch_desc b = a;
    b.clock_ghz *= 2;
    en_compute(&b, UTIL_FP16, &st, 24, &fast);
    ck_assert(fabs(fast.part_pj[EN_LEAKAGE] - base.part_pj[EN_LEAKAGE] / 2) < 1e-9);
    ck_assert(fabs(fast.dynamic_pj - base.dynamic_pj) < 1e-9);
    for (int p = 0; p < EN_LEAKAGE; p++)
        ck_assert(fabs(fast.part_pj[p] - base.part_pj[p]) < 1e-9);
    b = a;
    b.energy.dram_pj_per_bit = 0;
    en_compute(&b, UTIL_FP16, &st, 24, &cheap);
    ck_assert(fabs(cheap.total_pj - (base.total_pj - action(&base, "dram")->pj)) < 1e-9);
    ck_assert(action(&base, "dram")->pj > 0);
    for (uint32_t i = 0; i < base.n; i++)
        if (strcmp(base.act[i].name, "dram") != 0)
            ck_assert(fabs(cheap.act[i].pj - base.act[i].pj) < 1e-12);
    b = a;
    b.energy.pe_leak_mw = 0;
    en_compute(&b, UTIL_FP16, &st, 24, &cheap);
    ck_assert(fabs(cheap.total_pj - (base.total_pj - 68 * 3.0)) < 1e-9);
    eng_stats_free(&st);
}
END_TEST

/* An FP32 run prices FP32 lanes: the same vector operations, half the lanes each. */
START_TEST(test_fp32_lanes)
{
    arch_desc a;
    char path[512];
    tiny_arch(&a, path, sizeof path);
    eng_stats st;
    memset(&st, 0, sizeof st);
    st.cycles = 10;
    st.pe_total.fu_vec_ops[ARCH_FU_EXP] = 3;
    en_result e;
    en_compute(&a, UTIL_FP32, &st, 0, &e);
    expect(&e, "exp_fp32", 3 * 1, 6.0); /* 2 FP16 lanes = 1 FP32 lane */
    ck_assert(e.gops_per_w == 0);
}
END_TEST

/* Shipped presets carry a table; reports print and export the energy. */
START_TEST(test_reports)
{
    char arch[512], wl[512], json[512], csv[512];
    tu_src(arch, sizeof arch, "arch/mld-4x4.cfg");
    tu_src(wl, sizeof wl, "workloads/butterfly-linear-64.cfg");
    tu_tmp(json, sizeof json, "e.json");
    tu_tmp(csv, sizeof csv, "e.csv");
    remove(csv);
    tu_result r;
    tu_run(&r, "--json", json, "--csv", csv, arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\nenergy     "));
    ck_assert_ptr_nonnull(strstr(r.out, "GOPS/W, EDP"));
    ck_assert_ptr_nonnull(strstr(r.out, "(table energy/12nm.cfg)"));
    tu_free(&r);
    size_t n;
    char *j = tu_read(json, &n);
    ck_assert_ptr_nonnull(strstr(j, "\"energy\": {"));
    ck_assert_ptr_nonnull(strstr(j, "\"name\": \"mac_fp16\""));
    ck_assert_ptr_nonnull(strstr(j, "\"breakdown_pj\""));
    /* the area: the arch's by area.c, and the workload's flops per second per mm2 */
    arch_desc a;
    tu_load_arch("arch/mld-4x4.cfg", &a);
    double parts[ARCH_AREA_PART_COUNT], area = arch_area_mm2(&a, parts);
    ck_assert(area > 0);
    tu_assert_close(tu_json_num(j, "\"area_mm2\"", "total"), area, 1e-9, "area");
    double per = tu_json_num(j, "\"results\"", "flops") /
                 (tu_json_num(j, "\"results\"", "time_us") * 1e3) / area;
    tu_assert_close(tu_json_num(j, "\"energy\"", "gops_per_mm2"), per, 1e-9, "GOPS/mm2");
    free(j);
    char *c = tu_read(csv, &n);
    ck_assert_ptr_nonnull(
        strstr(c, ",energy_pj,average_power_w,gops_per_w,area_mm2,gops_per_mm2,baseline,"));
    free(c);
    /* the analytical mode prices its estimated counts (tests/check_estimate.c compares
     * them with the engine's) */
    tu_src(wl, sizeof wl, "workloads/bert-base-image-1k.cfg");
    tu_run(&r, "-m", "analytical", "--set=workload.seq_len=32", arch, wl, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "\nenergy     "));
    ck_assert_ptr_nonnull(strstr(r.out, "GOPS/W, EDP"));
    tu_free(&r);
    /* an arch without a table runs, and the summary says how to add one */
    tu_src(arch, sizeof arch, "tests/data/tiny-1x2.cfg");
    tu_src(wl, sizeof wl, "tests/data/tiny-n4.cfg");
    tu_run(&r, arch, wl, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "energy     no energy table (add energy = {"));
    tu_free(&r);
    remove(json);
    remove(csv);
}
END_TEST

/* Bad tables and overrides: exit 2 with the file and line of the fault. */
START_TEST(test_errors)
{
    char arch[512], wl[512], tab[512], prefix[600];
    tu_src(wl, sizeof wl, "workloads/butterfly-linear-64.cfg");
    tu_write(tu_tmp(tab, sizeof tab, "table.cfg"), "energy = {\n  mac_fp16_pj = -1.0;\n};\n");
    tu_write(tu_tmp(arch, sizeof arch, "bad.cfg"), "");
    /* a table with a negative price: the table's own line */
    {
        char src[512];
        size_t n;
        char *text = tu_read(tu_src(src, sizeof src, "tests/data/tiny-1x2.cfg"), &n);
        char *doc = malloc(n + 128);
        snprintf(doc, n + 128, "%s\nenergy = { table = \"%s\"; };\n", text, strrchr(tab, '/') + 1);
        tu_write(arch, doc);
        free(doc);
        free(text);
    }
    tu_result r;
    tu_run(&r, "-q", arch, wl, NULL);
    ck_assert_int_eq(r.status, 2);
    snprintf(prefix, sizeof prefix, "bflysim: %s:2: ", tab);
    ck_assert_msg(strncmp(r.err, prefix, strlen(prefix)) == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "mac_fp16_pj = -1 is out of range"));
    tu_free(&r);
    /* a table missing a price; a misspelt override; a table that is not there */
    tu_write(tab, "energy = {\n  mac_fp16_pj = 1.0;\n};\n");
    tu_expect(2, "missing required key 'energy.add_fp16_pj'", "-q", arch, wl, NULL);
    tu_src(arch, sizeof arch, "arch/mld-4x4.cfg");
    tu_expect(2, "did you mean 'arch.energy.dram_pj_per_bit'?", "-q",
              "--set=arch.energy.dram_pj_per_bt=1", arch, wl, NULL);
    tu_expect(2, "cannot read", "-q", "--set=arch.energy.table=\"energy/9nm.cfg\"", arch, wl, NULL);
    /* a table for another node than the arch's: the arch's tech_nm is named */
    tu_expect(2,
              "--set arch.tech_nm=45: tech_nm = 45, but energy.table = \"energy/12nm.cfg\" "
              "prices 12 nm",
              "-q", "--set=arch.tech_nm=45", arch, wl, NULL);
    tu_run(&r, "-q", "--set=arch.tech_nm=45", "--set=arch.energy.table=\"energy/45nm.cfg\"", arch,
           wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    /* an override in range takes effect: pricing DRAM at 0 removes exactly its term */
    char json[512];
    tu_tmp(json, sizeof json, "override.json");
    double dram[2], total[2];
    for (int k = 0; k < 2; k++) {
        const char *args[] = {"-q", "--json", json,
                              arch, wl,       "--set=arch.energy.dram_pj_per_bit=0"};
        tu_runv(&r, k ? 6 : 5, args);
        ck_assert_msg(r.status == 0, "%s", r.err);
        tu_free(&r);
        char *j = tu_read(json, NULL);
        dram[k] = tu_json_num(j, "\"breakdown_pj\"", "DRAM");
        total[k] = tu_json_num(j, "\"energy\"", "total_pj");
        free(j);
    }
    ck_assert(dram[0] > 0 && dram[1] == 0);
    /* JSON numbers carry 10 significant digits: 2e6 pJ terms are within 1e-4 pJ each */
    tu_assert_close(total[1], total[0] - dram[0], 1e-8, "total without DRAM");
    remove(json);
    remove(tab);
}
END_TEST

/* One row of en_accelergy: its component, action, count and energy per action. */
static void expect_row(const en_ac_row *rows, uint32_t n, const char *comp, const char *action,
                       uint64_t count, double pj)
{
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(rows[i].component, comp) != 0 || strcmp(rows[i].action, action) != 0)
            continue;
        ck_assert_msg(rows[i].count == count, "%s %s: count %llu, expected %llu", comp, action,
                      (unsigned long long)rows[i].count, (unsigned long long)count);
        ck_assert_msg(fabs(rows[i].pj - pj) <= 1e-12 * pj, "%s %s: %.17g pJ, expected %.17g", comp,
                      action, rows[i].pj, pj);
        return;
    }
    ck_abort_msg("no row %s %s", comp, action);
}

/* Accelergy's view of the hand-derived run: each count one action of its class (a lane
 * operation, an element of the buffer, a bank access, a flit through a router or over a
 * hop, a DMA element, a 4-byte DRAM burst, an instance's cycle of leakage), each energy
 * the table's price of that action, and the rows re-price to the total. */
START_TEST(test_accelergy_rows)
{
    arch_desc a;
    eng_stats st;
    en_result e;
    tiny_priced(&a, &st, &e);
    en_ac_row rows[EN_MAX_AC_ROWS];
    uint32_t n = en_accelergy(&a, UTIL_FP16, &st, &e, rows);
    ck_assert_uint_eq(n, 22);
    double s32 = sqrt(1.0 / 32.0);
    const char *pe = "system.chip.pe_array.pe[0..1]";
    char c[96];
    snprintf(c, sizeof c, "%s.mac[0..1]", pe);
    expect_row(rows, n, c, "mac", 16, 0.5);
    snprintf(c, sizeof c, "%s.exp[0..1]", pe);
    expect_row(rows, n, c, "exp", 0, 3.0);
    snprintf(c, sizeof c, "%s.buffer", pe);
    expect_row(rows, n, c, "read", 24, 8 * 0.25 * s32);
    expect_row(rows, n, c, "write", 24, 16 * 0.25 * s32);
    snprintf(c, sizeof c, "%s.core", pe);
    expect_row(rows, n, c, "leak", 2 * 68, 1.5);
    snprintf(c, sizeof c, "%s.control", pe);
    expect_row(rows, n, c, "issue", 2, 1.125);
    snprintf(c, sizeof c, "%s.pipeline", pe);
    expect_row(rows, n, c, "latch", 1536, 0.125);
    snprintf(c, sizeof c, "%s.clock", pe);
    expect_row(rows, n, c, "cycle", 2 * 68, 0.5);
    expect_row(rows, n, "system.chip.spm.bank[0..1]", "read", 12, 8 * 0.5 * s32);
    expect_row(rows, n, "system.chip.spm.bank[0..1]", "write", 12, 16 * 0.5 * s32);
    expect_row(rows, n, "system.chip.spm.bank[0..1]", "leak", 2 * 68, 0.5);
    expect_row(rows, n, "system.chip.noc.router[0..1]", "transfer", 16, 32 * 0.5);
    expect_row(rows, n, "system.chip.noc.router[0..1]", "leak", 2 * 68, 0.25);
    expect_row(rows, n, "system.chip.noc.link", "transfer", 2, 32 * 0.25);
    expect_row(rows, n, "system.chip.dma", "transfer", 24, 2 * 2.0);
    expect_row(rows, n, "system.dram", "read", 10, 32 * 4.0);
    expect_row(rows, n, "system.dram", "write", 2, 32 * 4.0);
    expect_row(rows, n, "system.dram", "leak", 68, 10.0);
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += (double)rows[i].count * rows[i].pj;
    tu_assert_close(sum, e.total_pj, 1e-12, "re-priced total");
    eng_stats_free(&st);
}
END_TEST

/* --accelergy writes those rows as Accelergy 0.4's action_counts and ERT in one file; an
 * arch without a table is an error found before the run, so no other output is written. */
START_TEST(test_accelergy)
{
    arch_desc a;
    char arch[512], wl[512], yaml[512];
    tiny_arch(&a, arch, sizeof arch);
    tu_src(wl, sizeof wl, "tests/data/tiny-n4.cfg");
    tu_tmp(yaml, sizeof yaml, "counts.yaml");
    tu_result r;
    tu_run(&r, "-q", "--accelergy", yaml, arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    char *doc = tu_read(yaml, NULL);
    const char *counts = strstr(doc, "\naction_counts:\n  version: 0.4\n  local:\n");
    const char *ert = strstr(doc, "\nERT:\n  version: 0.4\n  tables:\n");
    ck_assert(counts && ert && counts < ert);
    ck_assert_ptr_nonnull(strstr(counts, "  - name: system.chip.pe_array.pe[0..1].mac[0..1]\n"
                                         "    action_counts:\n"
                                         "    - name: mac\n      counts: 16\n"));
    ck_assert_ptr_nonnull(strstr(counts, "  - name: system.dram\n    action_counts:\n"
                                         "    - name: read\n      counts: 10\n"
                                         "    - name: write\n      counts: 2\n"
                                         "    - name: leak\n      counts: 68\n"));
    ck_assert_ptr_nonnull(strstr(ert, "  - name: system.dram\n    actions:\n"
                                      "    - name: read\n      arguments: null\n"
                                      "      energy: 128.0\n"));
    /* 8 x 0.5 x sqrt(1/32) pJ a bank read, to 12 digits */
    ck_assert_ptr_nonnull(strstr(ert, "  - name: system.chip.spm.bank[0..1]\n    actions:\n"
                                      "    - name: read\n      arguments: null\n"
                                      "      energy: 0.707106781187\n"));
    ck_assert_ptr_null(strstr(doc, "idle"));
    free(doc);
    remove(yaml);
    tu_src(arch, sizeof arch, "tests/data/tiny-1x2.cfg");
    char json[512];
    tu_tmp(json, sizeof json, "no-table.json");
    remove(json);
    tu_expect(2, "the arch has no energy table", "-q", "--json", json, "--accelergy", yaml, arch,
              wl, NULL);
    FILE *f = fopen(json, "r");
    ck_assert_msg(f == NULL, "the JSON was written before the error");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("energy");
    TCase *tc = tcase_create("energy");
    tcase_set_timeout(tc, 60); /* a hang guard for loaded machines, not a speed target */
    tcase_add_test(tc, test_terms_by_hand);
    tcase_add_test(tc, test_area_by_hand);
    tcase_add_test(tc, test_clock_and_prices);
    tcase_add_test(tc, test_fp32_lanes);
    tcase_add_test(tc, test_reports);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_accelergy_rows);
    tcase_add_test(tc, test_accelergy);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
