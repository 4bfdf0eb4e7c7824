/* check_peer.c: the systolic peer against SCALE-Sim v2, topology CSV files, DRAM stalls. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/config/config.h"
#include "../sim/peer/peer.h"
#include "testutil.h"

/* A 32x32 systolic preset with its dataflow, SRAMs and bandwidth set here. */
static peer_desc preset(peer_dataflow df, uint32_t rows, uint32_t cols)
{
    peer_desc p;
    char path[1024], err[512];
    ck_assert_msg(!cfg_load_peer(tu_src(path, sizeof path, "arch/peers/systolic-32x32-os.cfg"),
                                 NULL, 0, &p, err, sizeof err),
                  "%s", err);
    p.array.dataflow = df, p.array.rows = rows, p.array.cols = cols;
    return p;
}

static wl_desc *gemms(const uint64_t (*mnk)[3], uint32_t n)
{
    wl_desc *w = calloc(1, sizeof *w);
    w->kind = WL_KIND_GEMM, w->dtype = UTIL_FP16, w->n_gemms = n;
    for (uint32_t i = 0; i < n; i++) {
        w->gemms[i] = (wl_gemm){.m = mnk[i][0], .n = mnk[i][1], .k = mnk[i][2], .count = 1};
        snprintf(w->gemms[i].name, sizeof w->gemms[i].name, "g%u", i + 1);
    }
    return w;
}

/* One GEMM m x n x k on p with realistic memory, priced with e (NULL: not): its row. */
static peer_op one_gemm(const peer_desc *p, uint64_t m, uint64_t n, uint64_t k,
                        const arch_energy *e)
{
    const uint64_t mnk[][3] = {{m, n, k}};
    wl_desc *w = gemms(mnk, 1);
    peer_result res;
    char err[512];
    ck_assert_msg(!peer_run(p, w, false, e, &res, err, sizeof err), "%s", err);
    peer_op o = res.ops[0];
    peer_free(&res);
    free(w);
    return o;
}

static uint64_t cdiv(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

/* SCALE-Sim v2's published compute model (Samajdar et al., ISPASS 2020, and its code,
 * scalesim/compute/systolic_compute_{os,ws}.py): an R x C array maps S_R rows and S_C
 * columns of the GEMM and streams T through it; a fold takes T + R + C - 2 cycles
 * output-stationary (S_R = M, S_C = N, T = K) and T + 2R + C - 2 weight-stationary
 * (S_R = K, S_C = N, T = M: the weights load first); the layer ceil(S_R/R) ceil(S_C/C)
 * folds of that, counted from cycle 0 (less one). The last two lists are what SCALE-Sim
 * v2 itself printed (COMPUTE_REPORT.csv, "Total Cycles", commit 22f88b1, configs/scale.cfg
 * with Dataflow os and ws, GEMM mode, InterfaceBandwidth CALC) for the first five GEMMs. */
START_TEST(test_scalesim_cycles)
{
    static const uint64_t mnk[][3] = {{64, 64, 64},     {100, 70, 50},   {128, 256, 96},
                                      {33, 65, 17},     {1024, 64, 256}, {1, 1, 1},
                                      {4096, 4096, 64}, {197, 768, 3072}};
    static const uint64_t scalesim_os[] = {503, 1343, 5055, 473, 20351};
    static const uint64_t scalesim_ws[] = {631, 1163, 5327, 380, 17887};
    uint32_t n = sizeof mnk / sizeof mnk[0];
    wl_desc *w = gemms(mnk, n);
    static const uint32_t dims[][2] = {{32, 32}, {8, 16}, {128, 4}};
    for (int d = 0; d < 3; d++)
        for (int df = 0; df < 2; df++) {
            uint64_t R = dims[d][0], C = dims[d][1];
            peer_desc p = preset((peer_dataflow)df, (uint32_t)R, (uint32_t)C);
            peer_result res;
            char err[512];
            ck_assert_msg(!peer_run(&p, w, true, NULL, &res, err, sizeof err), "%s", err);
            for (uint32_t i = 0; i < n; i++) {
                uint64_t M = mnk[i][0], N = mnk[i][1], K = mnk[i][2];
                uint64_t want = df == PEER_OS ? cdiv(M, R) * cdiv(N, C) * (K + R + C - 2) - 1
                                              : cdiv(K, R) * cdiv(N, C) * (M + 2 * R + C - 2) - 1;
                ck_assert_uint_eq(res.ops[i].compute_cycles, want);
                ck_assert_uint_eq(res.ops[i].cycles, want); /* ideal memory: no stall */
                ck_assert_uint_eq(res.ops[i].macs, M * N * K);
                if (d == 0 && i < 5)
                    ck_assert_uint_eq(want, df == PEER_OS ? scalesim_os[i] : scalesim_ws[i]);
            }
            peer_free(&res);
        }
    free(w);
}
END_TEST

/* Realistic memory: a GEMM whose DRAM traffic outlasts its compute stalls by the
 * difference. M = N = K = 32 on 32x32, output stationary: one fold, 32 + 62 - 1 = 93
 * cycles; A, B and C (2 KiB each in FP16) fit their SRAMs, so DRAM moves 6144 bytes,
 * 120 cycles at 51.2 bytes per cycle (51.2 GB/s at 1 GHz): 27 cycles of stall. */
START_TEST(test_dram_stalls)
{
    peer_desc p = preset(PEER_OS, 32, 32);
    peer_op o = one_gemm(&p, 32, 32, 32, NULL);
    ck_assert_uint_eq(o.compute_cycles, 93);
    ck_assert_uint_eq(o.dram_read_bytes + o.dram_write_bytes, 6144);
    ck_assert_uint_eq(o.cycles, 120);
    ck_assert_uint_eq(o.stall_cycles, 27);
    /* A no longer fits half its 64 KiB SRAM (1024 x 64 x 2 = 128 KiB): it streams once per
     * column fold (N = 64: twice); B (64 x 64) and C stay: 2 x 128 + 8 + 128 KiB */
    o = one_gemm(&p, 1024, 64, 64, NULL);
    ck_assert_uint_eq(o.dram_read_bytes, 2 * 131072 + 8192);
    ck_assert_uint_eq(o.dram_write_bytes, 131072);
    /* N narrower than the array: all of B (1024 x 16 x 2 = 32 KiB, half its SRAM) stays,
     * read once; A (2 MiB) streams once (one column fold) */
    o = one_gemm(&p, 1024, 16, 1024, NULL);
    ck_assert_uint_eq(o.dram_read_bytes, 2097152 + 32768);
}
END_TEST

/* Energy by hand, 32 x 32 x 32 output stationary on 32x32 with the 12 nm table of
 * mld-8x8 (arch/energy/12nm.cfg), realistic memory (120 cycles, as above):
 *   compute: 32768 MACs x 0.195 pJ = 6389.76
 *   SRAM: A, B and C 2048 B each, every buffer 64 KiB (the table's 2.6 pJ per 64 bits of
 *     32 KiB x sqrt(2)): A and B read into the array and written by their fills, C written
 *     by the array and read by its drain: 6 x 256 x 2.6 x sqrt(2) = 5647.81
 *   DRAM: 6144 B x 8 x 8.0 pJ/bit = 393216
 *   leakage: 1024 PEs x 0.26 / 8 mW + 192 KiB x 0.0065 mW + 30 mW = 64.528 mW for 120 ns
 *     = 7743.36
 *   overheads: each MAC latches 3 FP16 values, 32768 x 48 bits x 0.00065 pJ = 1022.3616;
 *     the clock tree of 1024 / 8 mld PEs' worth for 120 cycles at 0.91 pJ = 13977.6 */
START_TEST(test_energy_by_hand)
{
    peer_desc p = preset(PEER_OS, 32, 32);
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    peer_op o = one_gemm(&p, 32, 32, 32, &a.energy);
    ck_assert_uint_eq(o.cycles, 120);
    tu_assert_close(o.compute_pj, 6389.76, 1e-9, "compute");
    tu_assert_close(o.sram_pj, 6 * 256 * 2.6 * 1.4142135623730951, 1e-9, "SRAM");
    tu_assert_close(o.dram_pj, 393216, 1e-9, "DRAM");
    tu_assert_close(o.leakage_pj, 7743.36, 1e-9, "leakage");
    tu_assert_close(o.overhead_pj, 1022.3616 + 13977.6, 1e-9, "overheads");
    /* area with the 12 nm figures (um2): 1024 MAC PEs x 405, 32 vector lanes x 183.6 (an
     * add each), 192 KiB x 459, DMA 6750 and controller 13500 = 528,973.2; a sparse peer
     * adds its predictor, the MACs' 414,720 again */
    tu_assert_close(peer_area_mm2(&p, &a.area), 0.5289732, 1e-9, "area");
    p.model = PEER_SPARSE;
    tu_assert_close(peer_area_mm2(&p, &a.area), 0.5289732 + 0.41472, 1e-9, "sparse area");
    tu_assert_close(o.energy_pj, 6389.76 + 5647.8107 + 393216 + 7743.36 + 1022.3616 + 13977.6, 1e-6,
                    "total");
}
END_TEST

/* The equal-peak presets follow their rule (docs/PEERS.md, "Equal peak"): as many MAC PEs
 * as the mld array has PEs x lanes, its clock and DRAM bandwidth, its SPM plus PE buffers
 * split into the three SRAMs (to the KiB), its dataflow in the name, its energy table. */
START_TEST(test_equal_peak_presets)
{
    static const char *const mld[] = {"mld-4x4", "mld-8x8", "mld-16x16"};
    for (int i = 0; i < 3; i++)
        for (int df = 0; df < 2; df++) {
            char rel[128], path[1024], err[512];
            snprintf(rel, sizeof rel, "arch/%s.cfg", mld[i]);
            arch_desc a;
            tu_load_arch(rel, &a);
            snprintf(rel, sizeof rel, "arch/peers/systolic-eq-%s-%s.cfg", mld[i], df ? "ws" : "os");
            peer_desc p;
            ck_assert_msg(
                !cfg_load_peer(tu_src(path, sizeof path, rel), NULL, 0, &p, err, sizeof err), "%s",
                err);
            ck_assert_uint_eq((uint64_t)p.array.rows * p.array.cols,
                              (uint64_t)arch_pe_count(&a) * arch_lanes(&a, UTIL_FP16));
            ck_assert(p.clock_ghz == a.clock_ghz && p.dram.bandwidth_gbs == a.dram.bandwidth_gbs);
            uint64_t onchip = arch_spm_bytes(&a) + (uint64_t)arch_pe_count(&a) * a.pe.buffer_bytes;
            uint64_t sram = p.sram.ifmap_bytes + p.sram.filter_bytes + p.sram.ofmap_bytes;
            ck_assert_uint_eq(sram, onchip);
            ck_assert(p.sram.ifmap_bytes - p.sram.ofmap_bytes <= 1024);
            ck_assert_int_eq(p.array.dataflow, df ? PEER_WS : PEER_OS);
            ck_assert_str_eq(p.energy_arch, mld[i]);
            /* the FABNet-style (df 0) and Sanger-style (df 1) presets: the same rule */
            snprintf(rel, sizeof rel, "arch/peers/%s-eq-%s.cfg", df ? "sanger" : "fabnet", mld[i]);
            ck_assert_msg(
                !cfg_load_peer(tu_src(path, sizeof path, rel), NULL, 0, &p, err, sizeof err), "%s",
                err);
            ck_assert_int_eq(p.model, df ? PEER_SPARSE : PEER_BUTTERFLY);
            ck_assert_uint_eq(peer_macs_per_cycle(&p),
                              (uint64_t)arch_pe_count(&a) * arch_lanes(&a, UTIL_FP16));
            if (!df)
                ck_assert_uint_eq((uint64_t)p.butterfly.engines * p.butterfly.units * 4,
                                  peer_macs_per_cycle(&p));
            ck_assert(p.clock_ghz == a.clock_ghz && p.dram.bandwidth_gbs == a.dram.bandwidth_gbs);
            ck_assert_uint_eq(p.sram.ifmap_bytes + p.sram.filter_bytes + p.sram.ofmap_bytes,
                              onchip);
            ck_assert_str_eq(p.energy_arch, mld[i]);
        }
}
END_TEST

static peer_desc load_peer(const char *rel)
{
    peer_desc p;
    char path[1024], err[512];
    ck_assert_msg(!cfg_load_peer(tu_src(path, sizeof path, rel), NULL, 0, &p, err, sizeof err),
                  "%s", err);
    return p;
}

/* A butterfly-linear layer (n points, `rows` vectors) on the butterfly peer. */
static peer_op layer_on(const peer_desc *p, uint64_t n, uint64_t rows, bool ideal)
{
    wl_desc *w = calloc(1, sizeof *w);
    w->kind = WL_KIND_BUTTERFLY_LINEAR, w->dtype = UTIL_FP16, w->n = n, w->rows = rows;
    peer_result res;
    char err[512];
    ck_assert_msg(!peer_run(p, w, ideal, NULL, &res, err, sizeof err), "%s", err);
    peer_op o = res.ops[0];
    peer_free(&res);
    free(w);
    return o;
}

/* FABNet-style engines, derived by hand (the artifact's bfly_engine.py: an engine runs a
 * vector's log2 n stages at n/(2 units) cycles each; engines take different vectors).
 * fabnet-eq-mld-8x8: 32 engines x 4 units, 683 KiB of ifmap SRAM (21.3 KiB an engine),
 * 51.2 bytes a cycle of DRAM. */
START_TEST(test_butterfly_engines)
{
    peer_desc p = load_peer("arch/peers/fabnet-eq-mld-8x8.cfg");
    /* n = 1024 on 64 rows: 2 rounds x 10 stages x 128 cycles = 2,560, every unit busy;
     * DRAM: in and out 64 x 1024 x 2 B each, weights 2 n log2 n x 2 B = 40,960 B, so
     * 303,104 B take ceil(303104 / 51.2) = 5,920 cycles: 3,360 of stall */
    peer_op o = layer_on(&p, 1024, 64, false);
    ck_assert_uint_eq(o.compute_cycles, 2560);
    ck_assert_uint_eq(o.macs, 64 * 512 * 10 * 4);
    ck_assert_double_eq_tol(o.mapping_efficiency, 1.0, 1e-12);
    ck_assert_uint_eq(o.dram_read_bytes, 131072 + 40960);
    ck_assert_uint_eq(o.dram_write_bytes, 131072);
    ck_assert_uint_eq(o.cycles, 5920);
    ck_assert_uint_eq(layer_on(&p, 1024, 64, true).cycles, 2560);
    /* 33 rows: 2 rounds still (the second with one engine): efficiency 33/64 */
    o = layer_on(&p, 1024, 33, true);
    ck_assert_uint_eq(o.compute_cycles, 2560);
    ck_assert_double_eq_tol(o.mapping_efficiency, 33.0 / 64, 1e-12);
    /* n = 65536 does not fit an engine (2 x n x 2 B = 256 KiB > 21.3 KiB): passes of 12
     * stages (2 x 4096 x 2 B = 16 KiB fits, 8192 does not), so 16 stages take 2 passes
     * and the data (32 x 65536 x 2 B = 4 MiB) goes out and back once more */
    o = layer_on(&p, 65536, 32, true);
    uint64_t data = 32 * 65536 * 2, weights = 2 * 65536 * 16 * 2;
    ck_assert_uint_eq(o.compute_cycles, 1 * 16 * (32768 / 4));
    ck_assert_uint_eq(o.dram_read_bytes, data + data + weights);
    ck_assert_uint_eq(o.dram_write_bytes, data + data);
    /* 2^24 points, 24 stages: 2 passes of 12 (11 a pass would need 3) */
    o = layer_on(&p, (uint64_t)1 << 24, 1, true);
    data = (uint64_t)2 << 24, weights = (uint64_t)2 * ((uint64_t)1 << 24) * 24 * 2;
    ck_assert_uint_eq(o.dram_read_bytes, data + data + weights);
    /* energy of the 1024-point layer with mld-8x8's 12 nm table:
     *   compute: 1,310,720 MACs x 0.195 = 255,590.4
     *   SRAM, all in 21,856-byte engine buffers (2.6 pJ per 64 bits x sqrt(21856/32768)):
     *     each of 10 stages reads and writes 64 x 1024 x 2 B (1,310,720 B each way), each
     *     of the 327,680 butterflies reads 4 weights (2,621,440 B), the DRAM's 172,032 B
     *     written in and 131,072 B read out: 1,472,049.27
     *   DRAM: 303,104 B x 64 pJ = 19,398,656
     *   leakage: (512 x 0.26 / 8 + 2048 x 0.0065 + 30) mW x 5920 ns = 354,915.84
     *   overheads: 1,310,720 MACs x 48 bits x 0.00065 + 5920 x 512 / 8 x 0.91 =
     *     385,675.264 */
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    wl_desc *w = calloc(1, sizeof *w);
    w->kind = WL_KIND_BUTTERFLY_LINEAR, w->dtype = UTIL_FP16, w->n = 1024, w->rows = 64;
    peer_result res;
    char err[512];
    ck_assert_msg(!peer_run(&p, w, false, &a.energy, &res, err, sizeof err), "%s", err);
    o = res.ops[0];
    tu_assert_close(o.compute_pj, 255590.4, 1e-9, "compute");
    tu_assert_close(o.sram_pj, 1472049.2719823, 1e-9, "SRAM");
    tu_assert_close(o.dram_pj, 19398656, 1e-9, "DRAM");
    tu_assert_close(o.leakage_pj, 354915.84, 1e-9, "leakage");
    tu_assert_close(o.overhead_pj, 385675.264, 1e-9, "overheads");
    peer_free(&res);
    free(w);
}
END_TEST

/* A model on the butterfly peer does exactly its butterflies' and FFTs' work (4 MACs a
 * pair, as the workload counts them), not a dense equivalent; attention and dense layers
 * stay GEMMs; and the sparse peer computes only the kept scores. */
START_TEST(test_butterfly_and_sparse_models)
{
    static const char *const sets[] = {"workload.seq_len=256", "workload.hidden=128",
                                       "workload.heads=2", "workload.ffn=256", "workload.batch=2"};
    arch_desc a;
    wl_desc *w = malloc(sizeof *w);
    peer_result res;
    char err[512];
    wl_op ops[WL_MAX_BLOCK_OPS];
    peer_desc p = load_peer("arch/peers/fabnet-eq-mld-8x8.cfg");
    static const char *const models[] = {"workloads/fabnet-image-1k.cfg",
                                         "workloads/hybrid-fourier-image-1k.cfg"};
    for (int m = 0; m < 2; m++) {
        tu_load("arch/mld-8x8.cfg", models[m], sets, 5, &a, w);
        ck_assert_msg(!peer_run(&p, w, true, NULL, &res, err, sizeof err), "%s", err);
        uint32_t row = 0;
        for (uint32_t b = 0; b < w->n_blocks; b++) {
            uint32_t n = wl_block_ops(w, b, ops);
            for (uint32_t i = 0; i < n; i++, row++)
                if (ops[i].kind == WL_OP_BUTTERFLY || ops[i].kind == WL_OP_FFT_MIX ||
                    ops[i].kind == WL_OP_DENSE)
                    ck_assert_msg(res.ops[row].macs == ops[i].macs * w->blocks[b].repeat,
                                  "%s %s: %llu MACs, the workload's %llu", models[m], ops[i].name,
                                  (unsigned long long)res.ops[row].macs,
                                  (unsigned long long)(ops[i].macs * w->blocks[b].repeat));
        }
        peer_free(&res);
    }
    /* sparse: bert at 256 tokens, 2 heads of d = 64, on sanger-eq-mld-8x8 (32 x 16 PEs,
     * density 0.1, pack efficiency 0.9, 4-bit prediction): the scores keep 25.6 a row,
     * 2 x 256 x 25.6 x 64 = 838,860.8 MACs at 512 x 0.9 a cycle: ceil(1820.45) = 1,821
     * cycles; the prediction, 2 x 256 x 256 x 64 4-bit products at 512 x 16 a cycle, 1,024,
     * overlaps it */
    p = load_peer("arch/peers/sanger-eq-mld-8x8.cfg");
    tu_load("arch/mld-8x8.cfg", "workloads/bert-base-image-1k.cfg", sets, 4, &a, w);
    ck_assert_msg(!peer_run(&p, w, true, NULL, &res, err, sizeof err), "%s", err);
    uint64_t rep = w->blocks[0].repeat;
    ck_assert_str_eq(res.ops[3].name, "scores");
    ck_assert_uint_eq(res.ops[3].compute_cycles, 1821 * rep);
    ck_assert_uint_eq(res.ops[3].macs, 838860 * rep);
    ck_assert_str_eq(res.ops[5].name, "context");
    ck_assert_uint_eq(res.ops[5].compute_cycles, 1821 * rep);
    /* DRAM per instance: scores read Q and K (2 heads x 256 x 64 x 2 B each, 131,072 B)
     * and write the kept scores with their 16-bit indices (2 x 256 x 25.6 x 4 B =
     * 52,428.8); softmax reads and writes those; context reads them and V (65,536 B) and
     * writes C (65,536 B). Softmax runs on the vector unit: no folds of the array. */
    ck_assert_uint_eq(res.ops[3].dram_read_bytes, 131072 * rep);
    ck_assert_uint_eq(res.ops[3].dram_write_bytes, 52428 * rep);
    ck_assert_str_eq(res.ops[4].name, "softmax");
    ck_assert_uint_eq(res.ops[4].dram_read_bytes, 52428 * rep);
    ck_assert_uint_eq(res.ops[4].dram_write_bytes, 52428 * rep);
    ck_assert_uint_eq(res.ops[4].folds, 0);
    ck_assert_uint_eq(res.ops[5].dram_read_bytes, (65536 + 52428) * rep);
    ck_assert_uint_eq(res.ops[5].dram_write_bytes, 65536 * rep);
    peer_free(&res);
    /* at 8K tokens the threshold caps a row at 1 / 0.002 = 500 kept, not 819.2 */
    static const char *const long_sets[] = {"workload.seq_len=8192", "workload.hidden=128",
                                            "workload.heads=2", "workload.ffn=256"};
    tu_load("arch/mld-8x8.cfg", "workloads/bert-base-image-1k.cfg", long_sets, 4, &a, w);
    ck_assert_msg(!peer_run(&p, w, true, NULL, &res, err, sizeof err), "%s", err);
    ck_assert_uint_eq(res.ops[3].macs, (uint64_t)2 * 8192 * 500 * 64 * w->blocks[0].repeat);
    peer_free(&res);
    free(w);
}
END_TEST

/* The Fourier mixer on the butterfly peer: its hidden FFT's complex output (2 x the
 * input) stays on chip when it fits half of the SRAMs (2 MiB on fabnet-eq-mld-8x8), else
 * it goes to DRAM and back; a sequence FFT longer than an engine's buffer holds runs in
 * passes. hidden 128, batch 1:
 *   256 tokens: in = out = 256 x 128 x 2 B = 65,536; the intermediate (131,072 B) stays;
 *     both FFTs fit an engine (128 and 256 complex points): DRAM 65,536 in, 65,536 out;
 *   8192 tokens: in = out = 2 MiB, the intermediate 4 MiB goes out and back; the
 *     8192-point sequence FFTs need 2 x 8192 x 2 B = 32 KiB, more than an engine's
 *     21,856 B, so 13 stages run as 2 passes of at most 12, and their 128 columns x 8192
 *     complex points (4 MiB) go out and back once more: 10 MiB each way. */
START_TEST(test_fourier_mixer_spills)
{
    peer_desc p = load_peer("arch/peers/fabnet-eq-mld-8x8.cfg");
    arch_desc a;
    wl_desc *w = malloc(sizeof *w);
    peer_result res;
    char err[512];
    static const uint64_t seq[] = {256, 8192}, bytes[] = {65536, 10485760};
    for (int i = 0; i < 2; i++) {
        char len[64];
        snprintf(len, sizeof len, "workload.seq_len=%llu", (unsigned long long)seq[i]);
        const char *sets[] = {len, "workload.hidden=128", "workload.heads=2", "workload.ffn=256"};
        tu_load("arch/mld-8x8.cfg", "workloads/hybrid-fourier-image-1k.cfg", sets, 4, &a, w);
        ck_assert_msg(!peer_run(&p, w, true, NULL, &res, err, sizeof err), "%s", err);
        ck_assert_str_eq(res.ops[0].kind, "fft-mix");
        uint64_t rep = w->blocks[0].repeat;
        ck_assert_uint_eq(res.ops[0].dram_read_bytes, bytes[i] * rep);
        ck_assert_uint_eq(res.ops[0].dram_write_bytes, bytes[i] * rep);
        peer_free(&res);
    }
    free(w);
}
END_TEST

/* A model group given to the wrong model, or missing, or engines that are not the
 * array's multipliers: errors naming the file and line. */
START_TEST(test_peer_errors)
{
    char path[512], err[512];
    peer_desc p;
#define PEER_BODY                                                                                  \
    "kind = \"peer\";\nmodel = \"%s\";\nclock_ghz = 1.0;\n"                                        \
    "array = { rows = 16; cols = 32; dataflow = \"os\"; };\n%s\n"                                  \
    "sram = { ifmap_kb = 64; filter_kb = 64; ofmap_kb = 64; };\n"                                  \
    "dram = { bandwidth_gbs = 51.2; };\n"
    static const char *const cases[][3] = {
        {"systolic", "butterfly = { engines = 32; units = 4; };",
         ":5: butterfly: a group of model \"butterfly\" only (this is \"systolic\")"},
        {"butterfly", "", ":2: model \"butterfly\" needs its butterfly group"},
        {"butterfly", "butterfly = { engines = 16; units = 4; };",
         "butterfly.engines x butterfly.units x 4 = 256 multipliers, but the array has 16 x 32"},
        {"sparse",
         "sparse = { density = 0.1; predict_bits = 4; pack_efficiency = 0.9; "
         "index_bits = 16; };",
         "missing required key 'sparse.threshold'"},
        {"sparse",
         "sparse = { density = 0; threshold = 0.002; predict_bits = 4; "
         "pack_efficiency = 0.9; index_bits = 16; };",
         "sparse.density"}};
    tu_tmp(path, sizeof path, "peer.cfg");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, PEER_BODY, cases[i][0], cases[i][1]);
        tu_write(path, text);
        ck_assert_int_eq(cfg_load_peer(path, NULL, 0, &p, err, sizeof err), UTIL_ECONFIG);
        ck_assert_msg(strstr(err, cases[i][2]) && strstr(err, "peer.cfg:"), "case %zu: %s", i, err);
    }
}
END_TEST

/* A model on the peer: its dense and attention ops run as GEMMs of exactly their MACs
 * (q/k/v/o, FFN: rows x in x out; scores and context: heads x queries x keys x d), each
 * GEMM timed as alone (checked against the formula for q-proj), the row-wise ops on the
 * vector unit with no MACs; a butterfly runs as its dense in x out equivalent. */
START_TEST(test_models)
{
    static const char *const sets[] = {"workload.seq_len=64", "workload.hidden=128",
                                       "workload.heads=2", "workload.ffn=256"};
    arch_desc a;
    wl_desc *w = malloc(sizeof *w);
    tu_load("arch/mld-4x4.cfg", "workloads/bert-base-image-1k.cfg", sets, 4, &a, w);
    peer_desc p = preset(PEER_OS, 32, 32);
    peer_result res;
    char err[512];
    ck_assert_msg(!peer_run(&p, w, true, NULL, &res, err, sizeof err), "%s", err);
    wl_op ops[WL_MAX_BLOCK_OPS];
    uint32_t n = wl_block_ops(w, 0, ops);
    ck_assert_uint_eq(res.n_ops, n);
    uint64_t macs = 0, rep = w->blocks[0].repeat;
    for (uint32_t i = 0; i < n; i++) {
        bool gemm = ops[i].kind == WL_OP_DENSE || ops[i].kind == WL_OP_SCORES ||
                    ops[i].kind == WL_OP_CONTEXT;
        ck_assert_str_eq(res.ops[i].name, ops[i].name);
        ck_assert_uint_eq(res.ops[i].macs, gemm ? ops[i].macs * rep : 0);
        ck_assert(res.ops[i].cycles > 0);
        macs += gemm ? ops[i].macs * rep : 0;
    }
    ck_assert_uint_eq(res.total.macs, macs);
    /* q-proj: 64 tokens x 128 -> 128, output stationary on 32x32: 2 x 4 folds of
     * 128 + 62 cycles, less one, per instance */
    ck_assert_str_eq(res.ops[0].name, "q-proj");
    ck_assert_uint_eq(res.ops[0].cycles, (2 * 4 * (128 + 62) - 1) * rep);
    peer_free(&res);
    tu_load("arch/mld-4x4.cfg", "workloads/fabnet-image-1k.cfg", sets, 4, &a, w);
    ck_assert(!peer_run(&p, w, true, NULL, &res, err, sizeof err));
    n = wl_block_ops(w, 0, ops);
    for (uint32_t i = 0; i < n; i++)
        if (ops[i].kind == WL_OP_BUTTERFLY)
            ck_assert_uint_eq(res.ops[i].macs,
                              ops[i].rows * ops[i].in * ops[i].out * w->blocks[0].repeat);
    peer_free(&res);
    free(w);
}
END_TEST

/* SCALE-Sim's topology files: the GEMM format and the convolution format (SCALE-Sim's
 * output size ceil((in - filter + stride) / stride); a depth-wise layer per channel). */
START_TEST(test_topology_files)
{
    char path[512], err[512];
    wl_desc *w = malloc(sizeof *w);
    tu_tmp(path, sizeof path, "gemm.csv");
    tu_write(path, "Layer,M,N,K,\nQKT,1024,1024,64,\n\n  Linear1 , 1024, 4800 , 1600,\n");
    ck_assert_msg(!cfg_load_workload(path, NULL, 0, w, err, sizeof err), "%s", err);
    ck_assert_int_eq(w->kind, WL_KIND_GEMM);
    ck_assert_uint_eq(w->n_gemms, 2);
    ck_assert_str_eq(w->gemms[1].name, "Linear1");
    ck_assert(w->gemms[1].m == 1024 && w->gemms[1].n == 4800 && w->gemms[1].k == 1600);
    tu_write(path, "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                   "Channels, Num Filter, Strides,\nInc5b_3x3, 7, 7, 3, 3, 192, 384, 1,\n"
                   "s2, 8, 8, 3, 3, 4, 16, 2,\nConvDP1, 10, 10, 3, 3, 32, 1, 1,\n");
    ck_assert_msg(!cfg_load_workload(path, NULL, 0, w, err, sizeof err), "%s", err);
    ck_assert_uint_eq(w->n_gemms, 3);
    ck_assert(w->gemms[0].m == 25 && w->gemms[0].n == 384 && w->gemms[0].k == 1728);
    ck_assert(w->gemms[1].m == 16 && w->gemms[1].k == 36); /* ceil((8 - 3 + 2) / 2) = 4 */
    ck_assert(w->gemms[2].m == 64 && w->gemms[2].k == 9 && w->gemms[2].count == 32);
    tu_write(path, "Layer,M,N,K,\nQKT,1024,x,64,\n");
    ck_assert_int_eq(cfg_load_workload(path, NULL, 0, w, err, sizeof err), UTIL_ECONFIG);
    ck_assert_msg(strstr(err, ":2: N = 'x': expected a whole number"), "%s", err);
    tu_write(path, "Layer,M,N,K,\nbig,10000000,10000000,10000000,\n");
    ck_assert_int_eq(cfg_load_workload(path, NULL, 0, w, err, sizeof err), UTIL_ECONFIG);
    ck_assert_msg(strstr(err, ":2: big: M x N x K (x count) exceeds 2^58"), "%s", err);
    tu_write(path, "a,b,c\n");
    ck_assert_int_eq(cfg_load_workload(path, NULL, 0, w, err, sizeof err), UTIL_ECONFIG);
    ck_assert_msg(strstr(err, ":1: not a SCALE-Sim topology header"), "%s", err);
    free(w);
}
END_TEST

/* The command line: a peer preset by name on a topology, --json, and what it refuses. */
START_TEST(test_cli)
{
    char topo[512], json[512];
    tu_tmp(topo, sizeof topo, "t.csv");
    tu_tmp(json, sizeof json, "p.json");
    tu_write(topo, "Layer,M,N,K,\ng1,64,64,64,\ng2,100,70,50,\n");
    tu_result r;
    tu_run(&r, "-q", "--ideal-memory", "--json", json, "systolic-32x32-ws", topo, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    char *js = tu_read(json, NULL);
    ck_assert_uint_eq((uint64_t)tu_json_num(js, "\"results\"", "cycles"), 631 + 1163);
    ck_assert_uint_eq((uint64_t)tu_json_num(js, "\"results\"", "stall_cycles"), 0);
    free(js);
    /* --csv: a header, then a row a run, the cycles column the JSON's */
    char csv[512];
    tu_tmp(csv, sizeof csv, "p.csv");
    for (int i = 0; i < 2; i++) {
        tu_run(&r, "-q", "--ideal-memory", "--csv", csv, "systolic-32x32-ws", topo, NULL);
        ck_assert_msg(r.status == 0, "%s", r.err);
        tu_free(&r);
    }
    char *rows = tu_read(csv, NULL);
    const char *head = "peer,workload,kind,model,dataflow,rows,cols,clock_ghz,ideal_memory,cycles,";
    ck_assert_msg(strncmp(rows, head, strlen(head)) == 0, "%s", rows);
    /* (the workload is named after the topology file) */
    const char *want = ",gemm,systolic,ws,32,32,1,yes,1794,1794,0,";
    const char *second = strchr(rows, '\n') + 1, *third = strchr(second, '\n') + 1;
    ck_assert_msg(strncmp(second, "systolic-32x32-ws,", 18) == 0 && strstr(second, want) &&
                      strstr(second, want) < third && strstr(third, want),
                  "%s", rows);
    /* an mld run's CSV is another layout: refused (as any header mismatch, exit 1), the
     * file as it was */
    tu_expect(1, "existing file has a different header", "-q", "--csv", csv, "mld-8x8",
              "butterfly-linear-64", NULL);
    char *after = tu_read(csv, NULL);
    ck_assert_str_eq(after, rows);
    free(after);
    free(rows);
    /* --peer beside an mld run: efficiency = (peer seconds x peer peak) / (array seconds x
     * array peak), from the JSON's own figures; energy the peer's over the array's */
    tu_run(&r, "-q", "--json", json, "--peer", "systolic-eq-mld-8x8-ws", "mld-8x8",
           "butterfly-linear-64", NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    js = tu_read(json, NULL);
    double ps = tu_json_num(js, "\"peer\"", "seconds"),
           pk = tu_json_num(js, "\"peer\"", "peak_macs_per_s");
    double ak = tu_json_num(js, "\"peer\"", "array_peak_macs_per_s");
    double as = tu_json_num(js, "\"results\"", "time_us") * 1e-6;
    ck_assert(pk == 512e9 && ak == 512e9);
    tu_assert_close(tu_json_num(js, "\"peer\"", "efficiency"), ps * pk / (as * ak), 1e-6,
                    "efficiency");
    tu_assert_close(tu_json_num(js, "\"peer\"", "energy_ratio"),
                    tu_json_num(js, "\"peer\"", "energy_pj") /
                        tu_json_num(js, "\"energy\"", "total_pj"),
                    1e-6, "energy ratio");
    free(js);
    tu_expect(2, "--peer=mld-8x8", "-q", "--peer", "mld-8x8", "mld-8x8", "butterfly-linear-64",
              NULL);
    tu_expect(2, "--ideal-memory is for peer accelerators", "-q", "--ideal-memory", "mld-8x8",
              "butterfly-linear-64", NULL);
    tu_expect(2, "is a gemm workload: it runs on the peer accelerators", "-q", "mld-8x8", topo,
              NULL);
    tu_expect(2, "--functional is not supported for peer accelerators", "-q", "-f",
              "systolic-32x32-os", topo, NULL);
    /* a butterfly layer as its dense equivalent: 64 x 4096 x 4096, os on 32x32: 2 x 128
     * folds of 4096 + 62 cycles, less one */
    tu_run(&r, "-q", "--ideal-memory", "--json", json, "-s", "workload.rows=64",
           "systolic-32x32-os", "butterfly-linear-4k", NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    js = tu_read(json, NULL);
    ck_assert_uint_eq((uint64_t)tu_json_num(js, "\"results\"", "cycles"),
                      2 * 128 * (4096 + 62) - 1);
    free(js);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("peer");
    TCase *tc = tcase_create("systolic");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_scalesim_cycles);
    tcase_add_test(tc, test_dram_stalls);
    tcase_add_test(tc, test_energy_by_hand);
    tcase_add_test(tc, test_equal_peak_presets);
    tcase_add_test(tc, test_models);
    tcase_add_test(tc, test_butterfly_engines);
    tcase_add_test(tc, test_butterfly_and_sparse_models);
    tcase_add_test(tc, test_fourier_mixer_spills);
    tcase_add_test(tc, test_peer_errors);
    tcase_add_test(tc, test_topology_files);
    tcase_add_test(tc, test_cli);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
