/* check_gpu.c: GPU baseline: roofline laws, hand-derived times, co-execution, calibration. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/config/config.h"
#include "../sim/gpu/gpu.h"
#include "testutil.h"

#define NX15 "arch/gpu/xavier-nx-15w.cfg"

static const char *const presets[] = {"xavier-nx-10w", "xavier-nx-15w", "xavier-nx-20w", "agx-orin",
                                      "orin-nano",     "nano",          "template"};
#define N_PRESETS (sizeof presets / sizeof presets[0])

static const char *const workloads[] = {
    "workloads/fabnet-text-4k.cfg",           "workloads/bert-base-text-4k.cfg",
    "workloads/hybrid-butterfly-text-4k.cfg", "workloads/hybrid-compress-16k.cfg",
    "workloads/hybrid-fourier-image-1k.cfg",  "workloads/vit-b16.cfg",
    "workloads/bert-base-retrieval-4k.cfg",   "workloads/butterfly-linear-4k.cfg"};
#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])

static void load_gpu(const char *rel, gpu_desc *g)
{
    char path[512], err[512];
    ck_assert_msg(cfg_load_gpu(tu_src(path, sizeof path, rel), NULL, 0, g, err, sizeof err) == 0,
                  "%s", err);
}

static void load_preset(const char *name, gpu_desc *g)
{
    char rel[128];
    snprintf(rel, sizeof rel, "arch/gpu/%s.cfg", name);
    load_gpu(rel, g);
}

static void load_wl(const char *rel, wl_desc *d)
{
    char path[512], err[512];
    ck_assert_msg(cfg_load_workload(tu_src(path, sizeof path, rel), NULL, 0, d, err, sizeof err) ==
                      0,
                  "%s", err);
}

/* A GPU with round numbers for derivations by hand: peaks 1000 (tensor), 500 (FP16
 * CUDA) and 250 (FP32) GFLOP/s, 100 GB/s, every efficiency 0.5, 5 us per launch, no L2,
 * 32-byte sectors with a stride floor of 1/4; power idle 1 W, busy 1 W, 2 W at full
 * compute, 2 W at full bandwidth; no CPU. */
static gpu_desc hand_gpu(void)
{
    gpu_desc g = {
        .clock_mhz = 1000,
        .tensor_fp16_gflops = 1000,
        .cuda_fp16_gflops = 500,
        .fp32_gflops = 250,
        .dram_gbs = 100,
        .l2_bytes = 0,
        .sector_bytes = 32,
        .launch_us = 5,
        .stride_floor = 0.25,
        .fft_stages_per_pass = 12,
        .power = {.idle_w = 1, .busy_w = 1, .compute_w = 2, .memory_w = 2, .budget_w = 100}};
    snprintf(g.name, sizeof g.name, "hand");
    for (int c = 0; c < GPU_CLASS_COUNT; c++)
        g.eff[c] = (gpu_eff){0.5, 0.5};
    return g;
}

/* ---------------------------------------------------------------- roofline laws */

/* Every kernel of every op of the shipped workloads, on every preset: never below the
 * bare compute or memory roofline (peak and bandwidth at efficiency 1), never below the
 * launch overhead, never above the power budget; the kernels do the op's closed-form
 * flops. */
START_TEST(test_roofline_bounds)
{
    for (size_t p = 0; p < N_PRESETS; p++) {
        gpu_desc g;
        load_preset(presets[p], &g);
        for (size_t w = 0; w < N_WORKLOADS; w++) {
            wl_desc d;
            load_wl(workloads[w], &d);
            for (uint32_t b = 0; b < (d.kind == WL_KIND_MODEL ? d.n_blocks : 0); b++) {
                wl_op ops[WL_MAX_BLOCK_OPS + 1];
                uint32_t n = wl_block_ops(&d, b, ops);
                ops[n] = ops[0]; /* and the fused attention, where there is one */
                for (uint32_t i = 0; i + 2 < n; i++)
                    if (ops[i].kind == WL_OP_SCORES)
                        wl_fused_attention(&ops[i], &ops[n]);
                for (uint32_t i = 0; i <= n; i++) {
                    gpu_kernel k[GPU_MAX_OP_KERNELS];
                    uint32_t nk = gpu_op_kernels(&g, &ops[i], d.dtype, k);
                    ck_assert_uint_gt(nk, 0);
                    double flops = 0;
                    for (uint32_t j = 0; j < nk; j++) {
                        gpu_timing t;
                        gpu_kernel_time(&g, &k[j], &t);
                        double peak = gpu_peak_gflops(&g, k[j].unit) * 1e9;
                        ck_assert(t.seconds >= k[j].flops / peak);
                        ck_assert(t.seconds >= k[j].bytes / (g.dram_gbs * 1e9));
                        ck_assert(t.seconds >= fmax(t.compute_s, t.memory_s));
                        ck_assert(t.seconds >= g.launch_us * 1e-6);
                        ck_assert(t.watts <= g.power.budget_w + 1e-9);
                        ck_assert(t.watts >= g.power.idle_w - 1e-9);
                        flops += k[j].flops;
                    }
                    tu_assert_close(flops, (double)ops[i].flops, 1e-12, ops[i].name);
                }
            }
        }
    }
}
END_TEST

/* A large GEMM approaches peak x efficiency. An 8192^3 FP16 GEMM does 2 x 8192^3 =
 * 1.0995e12 flops: on Xavier NX at 15 W its compute time is 1.0995e12 / (6813.7e9 x 0.60)
 * = 0.269 s against 3 x 8192^2 x 2 B = 403 MB / (51.2 GB/s x 0.75) = 10.5 ms of memory
 * time and 10 us of launch, so it runs at peak x eff x 0.269 / (0.269 + 1e-5): within
 * 0.004% of it. On every preset the launch is below 0.1% of the compute time, so the
 * achieved rate is within 2% of (and never above) peak x efficiency. */
START_TEST(test_large_gemm)
{
    for (size_t p = 0; p < N_PRESETS; p++) {
        gpu_desc g;
        load_preset(presets[p], &g);
        for (util_dtype t = UTIL_FP16; t <= UTIL_FP32; t++) {
            wl_op op = {.kind = WL_OP_DENSE, .rows = 8192, .in = 8192, .out = 8192};
            gpu_kernel k[GPU_MAX_OP_KERNELS];
            ck_assert_uint_eq(gpu_op_kernels(&g, &op, t, k), 1);
            gpu_timing tm;
            gpu_kernel_time(&g, &k[0], &tm);
            double rate = k[0].flops / tm.seconds;
            double ideal =
                gpu_peak_gflops(&g, gpu_unit_for(GPU_GEMM, t)) * 1e9 * g.eff[GPU_GEMM].compute;
            ck_assert_int_eq(tm.bound, GPU_BOUND_COMPUTE);
            ck_assert_msg(rate <= ideal && rate >= 0.98 * ideal, "%s: %g of %g", presets[p], rate,
                          ideal);
        }
    }
    /* the hand GPU: 8192^3 x 2 flops at 1000 x 0.5 GFLOP/s = 2.19902 s (+ 5 us) */
    gpu_desc h = hand_gpu();
    wl_op op = {.kind = WL_OP_DENSE, .rows = 8192, .in = 8192, .out = 8192};
    gpu_kernel k[GPU_MAX_OP_KERNELS];
    gpu_op_kernels(&h, &op, UTIL_FP16, k);
    gpu_timing tm;
    gpu_kernel_time(&h, &k[0], &tm);
    tu_assert_close(tm.seconds, 2.0 * 8192.0 * 8192.0 * 8192.0 / 5e11 + 5e-6, 1e-12, "hand GEMM");
}
END_TEST

/* A tiny kernel costs at least the launch overhead, and an empty one exactly that. */
START_TEST(test_tiny_kernel)
{
    for (size_t p = 0; p < N_PRESETS; p++) {
        gpu_desc g;
        load_preset(presets[p], &g);
        wl_op op = {.kind = WL_OP_ADD, .rows = 1, .in = 1, .out = 1, .flops = 1};
        gpu_kernel k[GPU_MAX_OP_KERNELS];
        ck_assert_uint_eq(gpu_op_kernels(&g, &op, UTIL_FP16, k), 1);
        gpu_timing tm;
        gpu_kernel_time(&g, &k[0], &tm);
        ck_assert(tm.seconds >= g.launch_us * 1e-6);
        ck_assert_int_eq(tm.bound, GPU_BOUND_LAUNCH);
        gpu_kernel empty = {.cls = GPU_ELEMWISE, .unit = GPU_UNIT_CUDA_FP16};
        gpu_kernel_time(&g, &empty, &tm);
        ck_assert(tm.seconds == g.launch_us * 1e-6);
        /* during a launch the module draws its idle power */
        tu_assert_close(tm.joules, g.power.idle_w * tm.seconds, 1e-12, "launch energy");
    }
}
END_TEST

/* ---------------------------------------------------------------- by hand */

/* hand_gpu on a small FP16 model: 256 tokens, hidden 128, 2 heads (d = 64), FFN 512.
 * Times in us; compute at 1000 x 0.5 (tensor) or 500 x 0.5 (CUDA FP16) GFLOP/s, memory
 * at 100 x 0.5 GB/s, + 5 us launch per kernel; e = 2 bytes.
 * Block entry 0 (x2): attention, dense projections and FFN.
 *   q/k/v/o-proj: 2 x 256 x 128 x 128 = 8388608 flops / 5e11 = 16.777216; bytes
 *     (256x128 + 128x128 + 256x128) x 2 = 163840 -> 3.2768: 21.777216
 *   scores: 2 G N^2 d + G N^2 = 16777216 + 131072 = 16908288 flops -> 33.816576; bytes
 *     (2 x 256 x 64 x 2 + 2 x 256^2) x 2 = 393216 -> 7.86432: 38.816576
 *   softmax: 5 x 512 x 256 = 655360 flops / 2.5e11 = 2.62144; 2 x 512 x 256 x 2 = 524288
 *     bytes -> 10.48576: 15.48576
 *   context: 16777216 flops -> 33.554432; 393216 bytes: 38.554432
 *   add: 32768 flops -> 0.131072; 3 x 32768 x 2 = 196608 bytes -> 3.93216: 8.93216
 *   ln: 7 x 32768 = 229376 flops -> 0.917504; (2 x 32768 + 2 x 128) x 2 = 131584 bytes
 *     -> 2.63168: 7.63168
 *   ffn1, ffn2: 2 x 256 x 128 x 512 = 33554432 flops -> 67.108864; (32768 + 65536 +
 *     131072) x 2 = 458752 bytes -> 9.17504: 72.108864
 *   gelu: 14 x 131072 = 1835008 flops -> 7.340032; 524288 bytes -> 10.48576: 15.48576
 * Block entry 1 (x1): butterfly mixing (no projection), butterfly FFN.
 *   mix: 8 passes (256 tokens); each 3 x 256 x 128 = 98304 flops -> 0.393216 and
 *     2 x 65536 + 2 x 256 x 2 = 132096 bytes; its pairs are 2^s x 128 x 2 >= 256 bytes
 *     apart (factor 1) -> 2.64192: 7.64192 x 8 = 61.13536
 *   ffn1, ffn2: n = 512, 9 passes; each 3 x 512 x 256 = 393216 flops -> 1.572864 and
 *     2 x 256 x 512 x 2 + 2 x 512 x 2 = 526336 bytes -> 10.52672 at factor 1. Pass s
 *     pairs elements 2^s x 2 bytes apart: s = 0, 1, 2 (2, 4, 8 B) at the floor 1/4:
 *     42.10688 + 5; s = 3 (16 B) at 1/2: 21.05344 + 5; s = 4..8 at 1: 15.52672.
 *     3 x 47.10688 + 26.05344 + 5 x 15.52672 = 245.00768 */
START_TEST(test_hand_model)
{
    gpu_desc g = hand_gpu();
    wl_desc d = {.kind = WL_KIND_MODEL,
                 .seq_len = 256,
                 .hidden = 128,
                 .heads = 2,
                 .ffn = 512,
                 .batch = 1,
                 .dtype = UTIL_FP16,
                 .seed = 1,
                 .n_blocks = 2};
    d.blocks[0] = (wl_block){.repeat = 2,
                             .mixer = WL_MIX_ATTENTION,
                             .proj = WL_LIN_DENSE,
                             .ffn = WL_LIN_DENSE,
                             .block_size = 8,
                             .chunk = 64,
                             .keep = 0.5};
    d.blocks[1] = (wl_block){.repeat = 1,
                             .mixer = WL_MIX_BUTTERFLY,
                             .proj = WL_LIN_NONE,
                             .ffn = WL_LIN_BUTTERFLY,
                             .block_size = 8,
                             .chunk = 64,
                             .keep = 0.5};
    static const struct {
        const char *name;
        double us;
        uint32_t kernels;
    } want[] = {{"q-proj", 21.777216, 1}, {"k-proj", 21.777216, 1}, {"v-proj", 21.777216, 1},
                {"scores", 38.816576, 1}, {"softmax", 15.48576, 1}, {"context", 38.554432, 1},
                {"o-proj", 21.777216, 1}, {"add1", 8.93216, 1},     {"ln1", 7.63168, 1},
                {"ffn1", 72.108864, 1},   {"gelu", 15.48576, 1},    {"ffn2", 72.108864, 1},
                {"add2", 8.93216, 1},     {"ln2", 7.63168, 1},      {"mix", 61.13536, 8},
                {"add1", 8.93216, 1},     {"ln1", 7.63168, 1},      {"ffn1", 245.00768, 9},
                {"gelu", 15.48576, 1},    {"ffn2", 245.00768, 9},   {"add2", 8.93216, 1},
                {"ln2", 7.63168, 1}};
    static gpu_result r;
    char err[512];
    ck_assert_msg(gpu_model_run(&g, &d, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(r.n_rows, sizeof want / sizeof want[0]);
    for (uint32_t i = 0; i < r.n_rows; i++) {
        ck_assert_str_eq(r.row[i].name, want[i].name);
        ck_assert_uint_eq(r.row[i].kernels, want[i].kernels);
        tu_assert_close(r.row[i].seconds * 1e6, want[i].us, 1e-9, want[i].name);
        /* no CPU: co-execution is the GPU alone */
        ck_assert(r.row[i].co_seconds == r.row[i].seconds);
    }
    /* 2 x 372.7968 + 599.76416 us; 2 x 14 + 31 kernels */
    tu_assert_close(r.gpu.seconds * 1e6, 1345.35776, 1e-9, "total");
    ck_assert(r.kernels == 59);
    ck_assert(r.coexec.seconds == r.gpu.seconds);
    /* Energy of q-proj: working 16.777216 us at u_compute = 0.5 and u_memory = 163840 B /
     * 16.777216 us / 100 GB/s = 0.09765625: 1 + 1 + 2 x 0.5 + 2 x 0.09765625 = 3.1953125 W
     * -> 53.608448 uJ, + 5 us of launch at the idle 1 W: 58.608448 uJ. */
    tu_assert_close(r.row[0].joules * 1e6, 58.608448, 1e-9, "q-proj energy");
    tu_assert_close(r.gpu.watts, r.gpu.joules / r.gpu.seconds, 1e-12, "watts");
    tu_assert_close(r.gpu.gops_per_w, r.ops / r.gpu.joules * 1e-9, 1e-12, "GOPS/W");
}
END_TEST

/* L2: a butterfly whose activations fit in L2 twice over reads them from DRAM in its first
 * pass and writes them in its last only. hand_gpu with 4 MiB of L2, the FFN butterfly
 * above (D = 256 x 512 x 2 = 262144 B): pass 0 reads D + 2048 B of twiddles at the floor
 * 1/4 -> 21.13536 + 5; passes 1..7 move 2048 B, their compute (1.572864) below the launch:
 * 1.572864 + 5 each;
 * pass 8 writes D + 2048 at factor 1 -> 5.28384 + 5. 26.13536 + 7 x 6.572864 + 10.28384
 * = 82.429248 us. */
START_TEST(test_l2_butterfly)
{
    gpu_desc g = hand_gpu();
    g.l2_bytes = 4u << 20;
    wl_op op = {.kind = WL_OP_BUTTERFLY, .rows = 256, .in = 128, .out = 512, .n = 512};
    gpu_kernel k[GPU_MAX_OP_KERNELS];
    uint32_t n = gpu_op_kernels(&g, &op, UTIL_FP16, k);
    ck_assert_uint_eq(n, 9);
    double s = 0;
    for (uint32_t i = 0; i < n; i++) {
        gpu_timing t;
        gpu_kernel_time(&g, &k[i], &t);
        s += t.seconds;
        ck_assert_int_eq(t.bound, i == 0 || i == 8 ? GPU_BOUND_MEMORY : GPU_BOUND_LAUNCH);
    }
    tu_assert_close(s * 1e6, 82.429248, 1e-9, "on-chip butterfly");
}
END_TEST

/* The butterfly and attention kernel choices by hand, FP16, 64 rows of a 4096-point
 * butterfly (12 stages, D = 64 x 4096 x 2 = 524288 B of activations, 2 n e = 16384 B of
 * twiddles a stage), hand_gpu's L2 too small to hold them:
 *   per-stage: 12 passes, each reads and writes D plus its twiddles;
 *   fused, 12 stages a pass: one pass, D in, D out, the 12 stages' twiddles (196608 B),
 *     the flops of all 12 stages (3 n T each), no stride;
 *   fused, 5 a pass: ceil(12 / 5) = 3 passes;
 *   monarch: b = 2^ceil(12 / 2) = 64, two GEMMs of 2 T n b = 33554432 flops, each moving
 *     D in, D out and n b e = 524288 B of weights.
 * Attention, 4 heads of 256 queries and keys of 64 features: fused is one kernel reading
 * Q, K, V and writing C: (2 x 4 x 256 x 64 + 2 x 4 x 256 x 64) elements x 2 = 524288 B. */
START_TEST(test_kernel_choices)
{
    gpu_desc g = hand_gpu();
    wl_op op = {.kind = WL_OP_BUTTERFLY, .rows = 64, .in = 4096, .out = 4096, .n = 4096};
    gpu_kernel k[GPU_MAX_OP_KERNELS];
    double D = 524288, tw = 16384, flops = 3.0 * 4096 * 64;
    g.bfly_kernel = GPU_BFLY_PER_STAGE;
    ck_assert_uint_eq(gpu_op_kernels(&g, &op, UTIL_FP16, k), 12);
    tu_assert_close(k[5].bytes, 2 * D + tw, 1e-12, "a per-stage pass");
    g.bfly_kernel = GPU_BFLY_FUSED, g.bfly_fused_stages = 12;
    ck_assert_uint_eq(gpu_op_kernels(&g, &op, UTIL_FP16, k), 1);
    tu_assert_close(k[0].bytes, 2 * D + 12 * tw, 1e-12, "the fused pass's bytes");
    tu_assert_close(k[0].flops, 12 * flops, 1e-12, "the fused pass's flops");
    ck_assert(k[0].stride_bytes == 0);
    g.bfly_fused_stages = 5;
    ck_assert_uint_eq(gpu_op_kernels(&g, &op, UTIL_FP16, k), 3);
    g.bfly_kernel = GPU_BFLY_MONARCH;
    ck_assert_uint_eq(gpu_op_kernels(&g, &op, UTIL_FP16, k), 2);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(k[i].cls, GPU_GEMM);
        tu_assert_close(k[i].flops, 2.0 * 64 * 4096 * 64, 1e-12, "a Monarch GEMM's flops");
        tu_assert_close(k[i].bytes, 2 * D + 524288, 1e-12, "a Monarch GEMM's bytes");
    }
    wl_op at = {.kind = WL_OP_ATTENTION, .groups = 4, .nq = 256, .n = 256, .d = 64};
    g.attn_kernel = GPU_ATTN_UNFUSED;
    ck_assert_uint_eq(gpu_op_kernels(&g, &at, UTIL_FP16, k), 3);
    g.attn_kernel = GPU_ATTN_FUSED;
    ck_assert_uint_eq(gpu_op_kernels(&g, &at, UTIL_FP16, k), 1);
    tu_assert_close(k[0].bytes, 524288, 1e-12, "the fused attention's bytes");
}
END_TEST

/* An FFT mixer by hand: hand_gpu, FP16 (CUDA cores: 500 x 0.5 GFLOP/s; 100 x 0.5 GB/s;
 * 5 us launch), 256 tokens of 128 features, rows padded to 128 points, the sequence to
 * 256. Two FFTs of 5 n log2 n flops each, intermediates complex (4 bytes an element):
 *   along each token: 256 FFTs of 128 points, 7 stages: 5 x 128 x 7 x 256 = 1146880 flops
 *     -> 4.58752; reads 256 x 128 x 2 = 65536 B, writes the spectrum 256 x 128 x 4 =
 *     131072 B -> 3.93216: 9.58752
 *   along the sequence: 128 columns of 256 points, 8 stages: 1310720 flops -> 5.24288;
 *     reads 131072 B, writes the real part 65536 B -> 3.93216: 10.24288
 * With 4 stages a pass, each splits in two and the 131072 B of complex intermediates go
 * through DRAM between them:
 *   tokens: 4 stages (655360 flops -> 2.62144) moving 65536 + 131072 B -> 3.93216: 8.93216;
 *     3 stages (491520 -> 1.96608) moving 131072 + 131072 B -> 5.24288: 10.24288
 *   sequence: 4 stages moving 131072 + 131072 B: 10.24288; 4 stages moving 131072 + 65536
 *     B: 8.93216 */
START_TEST(test_fft_by_hand)
{
    gpu_desc g = hand_gpu();
    wl_op op = {.kind = WL_OP_FFT_MIX,
                .rows = 256,
                .in = 128,
                .out = 128,
                .n = 256,
                .param = 128,
                .groups = 1};
    static const double one_pass[] = {9.58752, 10.24288},
                        two_passes[] = {8.93216, 10.24288, 10.24288, 8.93216};
    for (int split = 0; split < 2; split++) {
        g.fft_stages_per_pass = split ? 4 : 12;
        gpu_kernel k[GPU_MAX_OP_KERNELS];
        uint32_t n = gpu_op_kernels(&g, &op, UTIL_FP16, k);
        const double *want = split ? two_passes : one_pass;
        ck_assert_uint_eq(n, split ? 4 : 2);
        for (uint32_t i = 0; i < n; i++) {
            gpu_timing t;
            gpu_kernel_time(&g, &k[i], &t);
            ck_assert_int_eq(k[i].cls, GPU_FFT);
            tu_assert_close(t.seconds * 1e6, want[i], 1e-9, "FFT pass");
        }
    }
}
END_TEST

/* The butterfly-linear workload is one butterfly of log2 n passes over rows vectors. */
START_TEST(test_butterfly_linear)
{
    gpu_desc g;
    load_gpu(NX15, &g);
    wl_desc d;
    load_wl("workloads/butterfly-linear-4k.cfg", &d);
    static gpu_result r;
    char err[512];
    ck_assert_msg(gpu_model_run(&g, &d, &r, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(r.n_rows, 1);
    ck_assert_str_eq(r.row[0].name, "butterfly-linear");
    ck_assert_uint_eq(r.row[0].kernels, 12);
    wl_butterfly b;
    wl_butterfly_from_desc(&d, &b);
    ck_assert(r.ops == (double)wl_butterfly_flops(&b));
    ck_assert(r.row[0].flops == (double)wl_butterfly_flops(&b));
    ck_assert_int_eq(r.row[0].bound, GPU_BOUND_MEMORY);
}
END_TEST

/* ---------------------------------------------------------------- co-execution */

/* A linear layer splits so that both devices finish together, and co-execution is never
 * slower than the GPU alone, per op and in total, on every preset and workload. */
/* The CPU cluster alone, by hand: hand_gpu's memory with a cluster of 4 cores at 10
 * GFLOP/s FP16 each, GEMMs at half that, half the 100 GB/s at half efficiency, 50 us a
 * fork and join. A 256 x 512 x 512 dense layer: 2 x 256 x 512 x 512 = 134.2 MFLOP at
 * 20 GFLOP/s = 6.711 ms; its (256 x 512 + 512 x 512 + 256 x 512) x 2 = 1 MiB at 25 GB/s
 * = 41.9 us; 6.711 + 0.05 ms. Without cores it takes no time (the cluster is absent). */
START_TEST(test_cpu_alone)
{
    gpu_desc g = hand_gpu();
    g.cpu = (gpu_cpu){.cores = 4,
                      .fp32_gflops_per_core = 5,
                      .fp16_gflops_per_core = 10,
                      .gemm_eff = 0.5,
                      .vector_eff = 0.5,
                      .memory_eff = 0.5,
                      .bandwidth_share = 0.5,
                      .launch_us = 50};
    wl_op op = {.kind = WL_OP_DENSE, .rows = 256, .in = 512, .out = 512};
    tu_assert_close(gpu_cpu_op_seconds(&g, &op, UTIL_FP16), 2.0 * 256 * 512 * 512 / 20e9 + 50e-6,
                    1e-12, "compute-bound GEMM");
    g.cpu.cores = 0;
    ck_assert(gpu_cpu_op_seconds(&g, &op, UTIL_FP16) == 0);
}
END_TEST

START_TEST(test_coexec)
{
    char err[512];
    gpu_desc g;
    load_gpu(NX15, &g);
    /* FFN1 of BERT-base at 4K tokens: compute-bound, the CPU takes a small share */
    wl_op ffn = {.kind = WL_OP_DENSE, .rows = 4096, .in = 768, .out = 3072};
    gpu_split sp, alone;
    ck_assert_msg(gpu_coexec_op(&g, &ffn, UTIL_FP16, &sp, err, sizeof err) == 0, "%s", err);
    ck_assert(sp.share > 0 && sp.share < 1);
    tu_assert_close(sp.gpu_s, sp.cpu_s, 1e-6, "both finish together");
    ck_assert(sp.seconds == fmax(sp.gpu_s, sp.cpu_s) && sp.bus_s < sp.seconds);
    gpu_desc solo = g;
    solo.cpu.cores = 0;
    ck_assert_int_eq(gpu_coexec_op(&solo, &ffn, UTIL_FP16, &alone, err, sizeof err), 0);
    ck_assert(alone.share == 0 && sp.seconds < alone.seconds);
    for (size_t p = 0; p < N_PRESETS; p++) {
        load_preset(presets[p], &g);
        for (size_t w = 0; w < N_WORKLOADS; w++) {
            wl_desc d;
            load_wl(workloads[w], &d);
            static gpu_result r;
            ck_assert_msg(gpu_model_run(&g, &d, &r, err, sizeof err) == 0, "%s", err);
            for (uint32_t i = 0; i < r.n_rows; i++)
                ck_assert_msg(r.row[i].co_seconds <= r.row[i].seconds * (1 + 1e-12), "%s %s",
                              presets[p], r.row[i].name);
            ck_assert(r.coexec.seconds <= r.gpu.seconds * (1 + 1e-12));
            ck_assert(r.gpu.watts <= g.power.budget_w && r.coexec.watts <= g.power.budget_w);
            /* every split op: the two finish together unless the shared DRAM binds or the
             * split is by whole heads; a share of a head pays the merge */
            for (uint32_t b = 0; b < (d.kind == WL_KIND_MODEL ? d.n_blocks : 0); b++) {
                wl_op ops[WL_MAX_BLOCK_OPS];
                uint32_t n = wl_block_ops(&d, b, ops);
                for (uint32_t i = 0; i < n; i++) {
                    wl_op op = ops[i];
                    if (op.kind == WL_OP_SCORES)
                        wl_fused_attention(&ops[i], &op);
                    ck_assert_int_eq(gpu_coexec_op(&g, &op, d.dtype, &sp, err, sizeof err), 0);
                    bool between = sp.share > 0 && sp.share < 1;
                    if (between && !sp.by_heads && sp.bus_s < sp.seconds)
                        tu_assert_close(sp.gpu_s, sp.cpu_s, 1e-6, op.name);
                    if (between && sp.by_heads) {
                        double heads = sp.share * (double)op.groups;
                        ck_assert(sp.merge_s > 0 || fabs(heads - round(heads)) < 1e-9);
                    }
                }
            }
        }
    }
}
END_TEST

/* ---------------------------------------------------------------- calibration */

static double noise(int i)
{
    return 0.01 * sin(1.3 * i + 0.5); /* deterministic, within +-1% */
}

/* One synthetic measurement of the truth GPU: the model's time with +-1% noise. */
static void row(FILE *f, const gpu_desc *truth, int *i, gpu_class c, util_dtype t, double flops,
                double bytes, double stride, int launches)
{
    gpu_kernel k = {.cls = c,
                    .unit = gpu_unit_for(c, t),
                    .flops = flops,
                    .bytes = bytes,
                    .stride_bytes = stride,
                    .compute_scale = 1};
    gpu_timing tm;
    gpu_kernel_time(truth, &k, &tm);
    double s = (tm.seconds + (launches - 1) * tm.launch_s) * (1 + noise((*i)++));
    fprintf(f, "k%d, %s,%s,%.9g,%.9g,%g,%.9g,%d\n", *i, gpu_class_name(c), util_dtype_name(t),
            flops, bytes, stride, s, launches);
}

/* Writes a microbenchmark CSV of the truth GPU: per class and dtype four compute-bound
 * and four memory-bound kernels of 1-4 ms (the other bound at a tenth), butterfly passes
 * at strides of 2 B to 8 KiB, some of four launches, and empty kernels. */
static void synthetic_csv(const char *path, const gpu_desc *truth)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "# synthetic microbenchmark\nname,class,dtype,flops,bytes,stride_bytes,seconds,"
               "launches\n\n");
    int i = 0;
    for (int c = 0; c < GPU_CLASS_COUNT; c++)
        for (util_dtype t = UTIL_FP16; t <= UTIL_FP32; t++) {
            double peak = gpu_peak_gflops(truth, gpu_unit_for((gpu_class)c, t)) * 1e9;
            double ec = truth->eff[c].compute * peak,
                   em = truth->eff[c].memory * truth->dram_gbs * 1e9;
            for (int j = 1; j <= 4; j++) {
                double s = j * 1e-3;
                row(f, truth, &i, (gpu_class)c, t, s * ec, 0.1 * s * em, 4096, 1);
                row(f, truth, &i, (gpu_class)c, t, 0.1 * s * ec, s * em, 4096, j % 2 ? 1 : 4);
            }
        }
    for (double stride = 2; stride <= 8192; stride *= 2)
        for (int j = 1; j <= 3; j++) {
            double em = truth->eff[GPU_BUTTERFLY].memory * truth->dram_gbs * 1e9;
            double bytes = j * 1e-3 * em * gpu_stride_factor(truth, stride);
            row(f, truth, &i, GPU_BUTTERFLY, UTIL_FP16, 0.01 * bytes, bytes, stride, 1);
        }
    for (int j = 0; j < 20; j++)
        fprintf(f, "empty,launch,fp16,0,0,0,%.9g,1\n", truth->launch_us * 1e-6 * (1 + noise(i++)));
    fclose(f);
}

START_TEST(test_calibrate_recovers)
{
    gpu_desc base, truth, fit;
    load_gpu(NX15, &base);
    truth = base;
    static const gpu_eff effs[GPU_CLASS_COUNT] = {
        {0.71, 0.83}, {0.55, 0.87}, {0.33, 0.62}, {0.45, 0.58}, {0.37, 0.66}};
    memcpy(truth.eff, effs, sizeof effs);
    truth.stride_floor = 0.3;
    truth.launch_us = 7.5;
    char csv[512], err[512];
    synthetic_csv(tu_tmp(csv, sizeof csv, "bench.csv"), &truth);
    ck_assert_msg(gpu_calibrate(&base, csv, &fit, err, sizeof err) == 0, "%s", err);
    for (int c = 0; c < GPU_CLASS_COUNT; c++) {
        tu_assert_close(fit.eff[c].compute, truth.eff[c].compute, 0.02,
                        gpu_class_name((gpu_class)c));
        tu_assert_close(fit.eff[c].memory, truth.eff[c].memory, 0.02, gpu_class_name((gpu_class)c));
    }
    tu_assert_close(fit.stride_floor, truth.stride_floor, 0.02, "stride floor");
    tu_assert_close(fit.launch_us, truth.launch_us, 0.02, "launch");
    /* the peaks, bandwidth and power stay the base's */
    ck_assert(fit.tensor_fp16_gflops == base.tensor_fp16_gflops && fit.dram_gbs == base.dram_gbs);
    ck_assert(fit.power.budget_w == base.power.budget_w);
    /* calibrating in place gives the same */
    gpu_desc again = base;
    ck_assert_int_eq(gpu_calibrate(&again, csv, &again, err, sizeof err), 0);
    ck_assert_mem_eq(&again, &fit, sizeof fit);
    remove(csv);
}
END_TEST

static void expect_csv_error(const char *text, int line, const char *phrase)
{
    gpu_desc base, fit;
    load_gpu(NX15, &base);
    char csv[512], err[512], prefix[600];
    tu_write(tu_tmp(csv, sizeof csv, "bad.csv"), text);
    ck_assert_int_eq(gpu_calibrate(&base, csv, &fit, err, sizeof err), UTIL_ECONFIG);
    if (line)
        snprintf(prefix, sizeof prefix, "%s:%d: ", csv, line);
    else
        snprintf(prefix, sizeof prefix, "%s: ", csv);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "expected '%s' in: %s", prefix, err);
    ck_assert_msg(strstr(err, phrase), "'%s' missing from: %s", phrase, err);
    remove(csv);
}

#define HEADER "class,dtype,flops,bytes,stride_bytes,seconds\n"

START_TEST(test_calibrate_errors)
{
    expect_csv_error("# x\n" HEADER "gemmm,fp16,1e9,1e6,0,0.01\n", 3,
                     "class 'gemmm' is not one of gemm, elementwise, softmax, fft, butterfly, "
                     "launch; did you mean 'gemm'?");
    expect_csv_error(HEADER "gemm,fp8,1e9,1e6,0,0.01\n", 2, "dtype 'fp8' is not fp16 or fp32");
    expect_csv_error(HEADER "gemm,fp16,1e9,1e6,0,abc\n", 2, "seconds = 'abc' is not a number");
    expect_csv_error(HEADER "gemm,fp16,-1,1e6,0,0.01\n", 2, "flops = '-1' is not a number >= 0");
    expect_csv_error(HEADER "gemm,fp16,1e9,1e6,0,0\n", 2, "seconds = 0 must be > 0");
    expect_csv_error(HEADER "gemm,fp16,1e9,1e6\n", 2, "4 fields, the header has 6");
    expect_csv_error("class,dtype,flops,bytes,time\n", 1, "the header lacks the column 'seconds'");
    expect_csv_error(HEADER, 0, "no measurements");
    expect_csv_error("class,dtype,flops,bytes,seconds,launches\ngemm,fp16,1e9,1e6,0.01,0\n", 2,
                     "launches = 0 must be >= 1");
    expect_csv_error(HEADER "softmax,fp32,0,0,0,1e-5\n", 2,
                     "a softmax kernel with flops = 0 and bytes = 0 measures only its launch");
    /* 1,025 characters before the newline are one too many */
    char long_line[1100];
    snprintf(long_line, sizeof long_line, HEADER "gemm,fp16,1e9,1e6,0,0.01,%0*d\n",
             1025 - (int)strlen("gemm,fp16,1e9,1e6,0,0.01,"), 0);
    expect_csv_error(long_line, 2, "line longer than 1024 characters");
    /* 1e13 flops in 1 ms is 10 PFLOP/s: faster than Xavier NX's peak */
    expect_csv_error(HEADER "launch,fp16,0,0,0,1e-5\ngemm,fp16,1e13,1e6,0,1e-3\n", 3,
                     "this gemm fp16 kernel ran faster than the preset's peak for it");
    gpu_desc base, fit;
    char err[512];
    load_gpu(NX15, &base);
    ck_assert_int_eq(gpu_calibrate(&base, "/nonexistent/x.csv", &fit, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "/nonexistent/x.csv: cannot read"), "%s", err);
}
END_TEST

/* --gpu-calibrate prints only a preset --baseline loads: a fit out of the keys' ranges (a
 * launch row in the wrong unit: 1e300 s, a launch overhead of 1e306 us) is an error, and
 * an input that never ends (/dev/zero) or blocks is refused before it is read. */
START_TEST(test_calibrate_cli_refuses)
{
    char csv[512];
    tu_write(tu_tmp(csv, sizeof csv, "units.csv"),
             HEADER "launch,fp16,0,0,0,1e300\ngemm,fp16,1e9,1e6,0,0.5\n");
    tu_result r;
    tu_run(&r, "--gpu-calibrate", csv, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "");
    ck_assert_msg(strstr(r.err, "the fitted preset would not load (launch_us = 1e+306 is out of "
                                "range"),
                  "got: %s", r.err);
    tu_free(&r);
    tu_run(&r, "--gpu-calibrate", "/dev/zero", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "/dev/zero: cannot read: a character device"), "got: %s", r.err);
    tu_free(&r);
    remove(csv);
}
END_TEST

/* Edge cases the fit must survive: a class measured only by kernels without DRAM bytes
 * (its memory factor has no row to bind, so it keeps the base's, and the compute factor is
 * still recovered), and lines of exactly 1,024 characters (the limit, the line ending
 * excluded, LF or CR LF). */
START_TEST(test_calibrate_edges)
{
    gpu_desc base, truth, fit;
    load_gpu(NX15, &base);
    truth = base;
    truth.eff[GPU_GEMM].compute = 0.61;
    char csv[512], err[512];
    FILE *f = fopen(tu_tmp(csv, sizeof csv, "edges.csv"), "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "name,class,dtype,flops,bytes,stride_bytes,seconds,launches\n");
    int i = 0;
    for (int j = 1; j <= 4; j++)
        row(f, &truth, &i, GPU_GEMM, UTIL_FP16, j * 1e9, 0, 0, 1);
    /* one more compute-bound GEMM, its name padded so the line is 1,024 characters */
    double flops = 5e9, s = flops / (truth.tensor_fp16_gflops * 1e9 * 0.61) + base.launch_us * 1e-6;
    char tail[128];
    int tail_len = snprintf(tail, sizeof tail, ",gemm,fp16,%.9g,0,0,%.9g,1", flops, s);
    fprintf(f, "%0*d%s\n", 1024 - tail_len, 0, tail);
    fprintf(f, "%0*d%s\r\n", 1024 - tail_len, 0, tail); /* the same, ending in CR LF */
    fclose(f);
    ck_assert_msg(gpu_calibrate(&base, csv, &fit, err, sizeof err) == 0, "%s", err);
    tu_assert_close(fit.eff[GPU_GEMM].compute, 0.61, 0.02, "gemm compute without bytes");
    ck_assert(fit.eff[GPU_GEMM].memory == base.eff[GPU_GEMM].memory);
    ck_assert_int_eq(gpu_check(&fit, err, sizeof err), 0);
    remove(csv);
}
END_TEST

/* The CSV scripts/gpu-microbench.py writes (a quick host dry run, kept in tests/data)
 * is what the calibrator reads: against a GPU fast enough for host timings, it fits. */
START_TEST(test_calibrate_microbench_csv)
{
    gpu_desc base, fit;
    char csv[512], err[512];
    load_gpu(NX15, &base);
    base.tensor_fp16_gflops *= 1e4, base.cuda_fp16_gflops *= 1e4, base.fp32_gflops *= 1e4;
    base.dram_gbs *= 1e4;
    tu_src(csv, sizeof csv, "tests/data/gpu-microbench-dryrun.csv");
    ck_assert_msg(gpu_calibrate(&base, csv, &fit, err, sizeof err) == 0, "%s", err);
    ck_assert(fit.launch_us > 0 && fit.launch_us != base.launch_us);
    ck_assert(fit.eff[GPU_GEMM].compute != base.eff[GPU_GEMM].compute);
}
END_TEST

/* ---------------------------------------------------------------- presets */

/* A written preset (shipped, or calibrated) loads back equal, field for field. */
START_TEST(test_preset_roundtrip)
{
    char path[512], err[512];
    for (size_t p = 0; p <= N_PRESETS + 1; p++) {
        gpu_desc g, back;
        load_preset(presets[p < N_PRESETS ? p : 1], &g);
        if (p == N_PRESETS) { /* awkward values: what calibration writes */
            g.eff[GPU_FFT].memory = 0.1 + 1.0 / 3.0;
            g.launch_us = 7.123456789012345;
            g.cpu.cores = 0;
            g.bfly_kernel = GPU_BFLY_MONARCH, g.bfly_fused_stages = 7;
            g.attn_kernel = GPU_ATTN_FUSED;
            memset(g.name, 0, sizeof g.name);
            snprintf(g.name, sizeof g.name, "calibrated");
        }
        if (p == N_PRESETS + 1) { /* a name a preset may give: the file broke before (names
                                   * are printable UTF-8: control characters are refused) */
            memset(g.name, 0, sizeof g.name);
            snprintf(g.name, sizeof g.name, "my \"gpu\" \\ 15 W");
        }
        FILE *f = fopen(tu_tmp(path, sizeof path, "preset.cfg"), "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gpu_write_preset(&g, f, "a note", err, sizeof err), 0);
        fclose(f);
        ck_assert_msg(cfg_load_gpu(path, NULL, 0, &back, err, sizeof err) == 0, "%s", err);
        ck_assert_mem_eq(&g, &back, sizeof g);
        remove(path);
    }
}
END_TEST

/* Edits one line of the Xavier NX preset (or applies --set arguments) and checks the
 * error names FILE:LINE (or the --set argument) and phrase. */
static void expect_preset_error(const char *old, const char *new_text, const char *set,
                                const char *phrase)
{
    char src[512], tmp[512], err[512], prefix[600];
    char *text = tu_read(tu_src(src, sizeof src, NX15), NULL);
    char *edited = tu_replace(text, old, new_text);
    tu_write(tu_tmp(tmp, sizeof tmp, "gpu.cfg"), edited);
    cfg_override ov = {0};
    if (set)
        ck_assert_int_eq(cfg_parse_override(set, &ov, err, sizeof err), 0);
    gpu_desc g;
    ck_assert_int_eq(cfg_load_gpu(tmp, &ov, set ? 1 : 0, &g, err, sizeof err), UTIL_ECONFIG);
    if (set)
        snprintf(prefix, sizeof prefix, "--set %s: ", set);
    else
        snprintf(prefix, sizeof prefix, "%s:%d: ", tmp, tu_line_of(edited, new_text));
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "expected '%s' in: %s", prefix, err);
    ck_assert_msg(strstr(err, phrase), "'%s' missing from: %s", phrase, err);
    remove(tmp);
    free(edited);
    free(text);
}

START_TEST(test_bad_presets)
{
    expect_preset_error("idle_w = 3.0;", "idle_w = -1.0;", NULL,
                        "power.idle_w = -1 is out of range (allowed >= 0 and <= 1e+06)");
    expect_preset_error("bandwidth_gbs = 51.2;", "bandwidth_gbs = 0;", NULL,
                        "memory.bandwidth_gbs = 0 is out of range (allowed >= 0.01 and <= 100000)");
    expect_preset_error(
        "gemm = { compute = 0.60;", "gemm = { compute = 1.2;", NULL,
        "efficiency.gemm.compute = 1.2 is out of range (allowed >= 0.001 and <= 1)");
    expect_preset_error("launch_us = 10.0;", "launch_uz = 10.0;", NULL,
                        "unknown key 'launch_uz'; did you mean 'launch_us'?");
    expect_preset_error("idle_w = 3.0;", "idel_w = 3.0;", NULL,
                        "unknown key 'power.idel_w'; did you mean 'power.idle_w'?");
    expect_preset_error("budget_w = 15.0;", "budget_w = 2.0;", NULL,
                        "power.budget_w = 2 is below power.idle_w = 3");
    expect_preset_error("sector_bytes = 32;", "sector_bytes = 24;", NULL,
                        "memory.sector_bytes = 24 must be a power of two");
    expect_preset_error("idle_w = 3.0;", "idle_w = 3.0;", "gpu.memory.bandwidth_gbs=0",
                        "memory.bandwidth_gbs = 0 is out of range");
    expect_preset_error("idle_w = 3.0;", "idle_w = 3.0;", "gpu.power.memory_w=-2",
                        "power.memory_w = -2 is out of range");
    expect_preset_error("idle_w = 3.0;", "idle_w = 3.0;", "gpu.power.idlew=1",
                        "unknown key 'gpu.power.idlew'; did you mean 'gpu.power.idle_w'?");
}
END_TEST

/* Every shipped preset in arch/gpu loads, is listed here, and is found by name. */
START_TEST(test_presets_load)
{
    char dir[512], path[512 + 256 + 2], err[512]; /* dir, /, a d_name */
    DIR *d = opendir(tu_src(dir, sizeof dir, "arch/gpu"));
    ck_assert_ptr_nonnull(d);
    size_t found = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".cfg"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        gpu_desc g;
        ck_assert_msg(cfg_load_gpu(path, NULL, 0, &g, err, sizeof err) == 0, "%s", err);
        bool listed = false;
        for (size_t p = 0; p < N_PRESETS; p++)
            listed |= strncmp(e->d_name, presets[p], len - 4) == 0 && !presets[p][len - 4];
        ck_assert_msg(listed, "%s is not in this test's list", e->d_name);
        found++;
    }
    closedir(d);
    ck_assert_uint_eq(found, N_PRESETS);
    /* DESIGN.md section 7: the Xavier NX peaks at 1109 MHz */
    gpu_desc g;
    load_gpu(NX15, &g);
    tu_assert_close(g.fp32_gflops, 384 * 2 * 1.109, 1e-3, "FP32 peak");
    tu_assert_close(g.cuda_fp16_gflops, 384 * 4 * 1.109, 1e-3, "FP16 peak");
    tu_assert_close(g.tensor_fp16_gflops, 48 * 64 * 2 * 1.109, 1e-3, "tensor peak");
    ck_assert_uint_eq(g.l2_bytes, 512 * 1024);
    ck_assert_int_eq(
        cfg_preset_path(CFG_PRESET_GPU, "xavier-nx-15w", path, sizeof path, err, sizeof err), 0);
    ck_assert_msg(strstr(path, "/gpu/xavier-nx-15w.cfg"), "%s", path);
    ck_assert_int_eq(cfg_preset_path(CFG_PRESET_GPU, "x/y.cfg", path, sizeof path, err, sizeof err),
                     0);
    ck_assert_str_eq(path, "x/y.cfg");
    ck_assert_int_eq(
        cfg_preset_path(CFG_PRESET_GPU, "xavier-nx-99w", path, sizeof path, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "xavier-nx-99w: no such file, and no GPU preset of that name") &&
                      strstr(err, "xavier-nx-15w"),
                  "%s", err);
    /* --list-keys lists the GPU keys */
    tu_result r;
    tu_run(&r, "--list-keys", NULL);
    ck_assert_int_eq(r.status, 0);
    const char *keys = r.out;
    ck_assert(strstr(keys, "gpu.efficiency.gemm.compute") && strstr(keys, "gpu.power.idle_w"));
    ck_assert(strstr(keys, "gpu.memory.bandwidth_gbs") && strstr(keys, "gpu.cpu.cores"));
    tu_free(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gpu");
    TCase *tc = tcase_create("gpu");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_roofline_bounds);
    tcase_add_test(tc, test_large_gemm);
    tcase_add_test(tc, test_tiny_kernel);
    tcase_add_test(tc, test_hand_model);
    tcase_add_test(tc, test_l2_butterfly);
    tcase_add_test(tc, test_fft_by_hand);
    tcase_add_test(tc, test_kernel_choices);
    tcase_add_test(tc, test_butterfly_linear);
    tcase_add_test(tc, test_cpu_alone);
    tcase_add_test(tc, test_coexec);
    tcase_add_test(tc, test_calibrate_recovers);
    tcase_add_test(tc, test_calibrate_errors);
    tcase_add_test(tc, test_calibrate_cli_refuses);
    tcase_add_test(tc, test_calibrate_edges);
    tcase_add_test(tc, test_calibrate_microbench_csv);
    tcase_add_test(tc, test_preset_roundtrip);
    tcase_add_test(tc, test_bad_presets);
    tcase_add_test(tc, test_presets_load);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
