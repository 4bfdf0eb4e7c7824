/* gpu.h: analytical Jetson-class GPU (and GPU+CPU) baseline: a workload's ops priced as kernels. */
#ifndef BFLY_GPU_H
#define BFLY_GPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../util/util.h"
#include "../workload/workload.h"

/* The model is described in docs/GPU.md: every kernel costs
 *   max(flops / (peak x eff_compute), bytes / (bandwidth x eff_memory)) + launch
 * and, while it works, draws idle + busy + compute_w x (share of the unit's peak) +
 * memory_w x (share of the bandwidth) watts, capped at the power mode's budget; during
 * the launch the module draws idle. */

#define GPU_NAME_MAX 64

/* Kernel classes: each has its own compute and memory efficiency. */
typedef enum {
    GPU_GEMM = 0,  /* matrix products: tensor cores in FP16, FP32 cores in FP32 */
    GPU_ELEMWISE,  /* add, GELU, the partial-softmax merge */
    GPU_SOFTMAX,   /* row reductions: softmax, layernorm */
    GPU_FFT,       /* cuFFT-like transforms, several stages per pass */
    GPU_BUTTERFLY, /* one butterfly pass (a stage, or a block-butterfly stage) */
    GPU_CLASS_COUNT
} gpu_class;
/* "gemm", "elementwise", "softmax", "fft", "butterfly" (the preset's and CSV's names). */
const char *gpu_class_name(gpu_class c);

/* Execution units, each with a peak. */
typedef enum { GPU_UNIT_TENSOR = 0, GPU_UNIT_CUDA_FP16, GPU_UNIT_FP32, GPU_UNIT_COUNT } gpu_unit;
/* The unit a kernel class runs on in data type t: GEMMs (and block-butterfly tiles) on
 * tensor cores in FP16, everything else on the CUDA cores; FP32 on the FP32 units. */
gpu_unit gpu_unit_for(gpu_class c, util_dtype t);

typedef struct gpu_eff {
    double compute, memory; /* achieved fractions of the unit's peak and of the bandwidth */
} gpu_eff;

/* Module power (W) while a kernel works: idle + busy + compute_w x u_compute + memory_w x
 * u_memory, at most budget_w (u: achieved shares of the unit's peak and the bandwidth). */
typedef struct gpu_power {
    double idle_w, busy_w, compute_w, memory_w, budget_w;
} gpu_power;

/* The SoC's CPU cluster, for GPU+CPU co-execution. cores = 0: no co-execution. */
typedef struct gpu_cpu {
    uint32_t cores;
    double clock_ghz;
    double fp32_gflops_per_core, fp16_gflops_per_core;
    double gemm_eff;        /* GEMM-class kernels: achieved fraction of the peak */
    double vector_eff;      /* everything else */
    double memory_eff;      /* achieved fraction of the bandwidth the cluster may draw */
    double bandwidth_share; /* the most of the DRAM bandwidth the cluster draws alone */
    double launch_us;       /* fork and join of a parallel kernel */
    double active_w;        /* added to the module power while the cores work */
} gpu_cpu;

/* How the GPU runs a butterfly (docs/GPU.md, "Butterfly kernels"): one DRAM pass per
 * stage; stages fused in shared memory, fused_stages per pass; or a Monarch pair of
 * batched block-diagonal GEMMs on the tensor cores. */
typedef enum {
    GPU_BFLY_PER_STAGE = 0,
    GPU_BFLY_FUSED,
    GPU_BFLY_MONARCH,
    GPU_BFLY_COUNT
} gpu_bfly_kernel;
/* How the GPU runs attention: three kernels with the scores through DRAM, or one fused
 * kernel (FlashAttention-style: the scores stay on chip). */
typedef enum { GPU_ATTN_UNFUSED = 0, GPU_ATTN_FUSED, GPU_ATTN_COUNT } gpu_attn_kernel;
const char *gpu_bfly_kernel_name(gpu_bfly_kernel k);
const char *gpu_attn_kernel_name(gpu_attn_kernel k);

typedef struct gpu_desc {
    char name[GPU_NAME_MAX];
    double clock_mhz; /* the clock the peaks are given at (informative) */
    double tensor_fp16_gflops, cuda_fp16_gflops, fp32_gflops;
    double dram_gbs;
    uint32_t l2_bytes;
    uint32_t sector_bytes; /* DRAM transaction granularity, for the butterfly stride model */
    double launch_us;      /* per kernel */
    gpu_eff eff[GPU_CLASS_COUNT];
    double stride_floor; /* butterfly: least share of eff_memory at small strides */
    gpu_bfly_kernel bfly_kernel;
    uint32_t bfly_fused_stages; /* GPU_BFLY_FUSED: stages one pass does in shared memory */
    gpu_attn_kernel attn_kernel;
    uint32_t fft_stages_per_pass; /* radix-2 stages one FFT kernel pass does on chip */
    gpu_power power;
    gpu_cpu cpu;
} gpu_desc;

/* Checks a description built in code (the loader checks files): positive peaks and
 * bandwidth, efficiencies in (0, 1], powers >= 0. */
int gpu_check(const gpu_desc *g, char *err, size_t errlen);

double gpu_peak_gflops(const gpu_desc *g, gpu_unit u);
/* Share of the butterfly memory efficiency left at a pass whose pairs lie stride_bytes
 * apart: max(stride_floor, min(1, stride_bytes / sector_bytes)); 1 for stride_bytes <= 0. */
double gpu_stride_factor(const gpu_desc *g, double stride_bytes);

/* One kernel launch. */
typedef struct gpu_kernel {
    gpu_class cls;
    gpu_unit unit;
    double flops;
    double bytes;         /* DRAM bytes read and written */
    double shared_bytes;  /* of bytes: what each device of a co-execution split reads whole */
    double stride_bytes;  /* butterfly passes: bytes between a pair's two elements */
    double compute_scale; /* (0, 1]: share of the unit the kernel's shape can use (0 means 1) */
} gpu_kernel;

typedef enum { GPU_BOUND_COMPUTE = 0, GPU_BOUND_MEMORY, GPU_BOUND_LAUNCH } gpu_bound;
const char *gpu_bound_name(gpu_bound b); /* "compute", "memory", "launch" */

typedef struct gpu_timing {
    double compute_s, memory_s, launch_s;
    double seconds; /* max(compute_s, memory_s) + launch_s */
    gpu_bound bound;
    double work_w;    /* module power while the kernel works (capped at the budget) */
    double joules;    /* work_w x work time + idle x launch_s */
    double watts;     /* joules / seconds */
    double dynamic_j; /* joules above idle power */
} gpu_timing;

void gpu_kernel_time(const gpu_desc *g, const gpu_kernel *k, gpu_timing *out);

/* The kernels an op runs as on the GPU, in order (docs/GPU.md lists them per op kind).
 * Returns their number (0 for an unknown kind). */
#define GPU_MAX_OP_KERNELS 48
uint32_t gpu_op_kernels(const gpu_desc *g, const wl_op *op, util_dtype t,
                        gpu_kernel k[GPU_MAX_OP_KERNELS]);

/* One op split between the GPU and the CPU cluster. */
typedef struct gpu_split {
    double share;   /* fraction of the op's work on the CPU (0: the GPU alone) */
    bool by_heads;  /* attention: split by heads (else linear layers: by column or row) */
    double gpu_s;   /* the GPU's kernels on its share */
    double cpu_s;   /* the CPU's on its share */
    double bus_s;   /* both devices' DRAM bytes at the best efficiency any class reaches */
    double merge_s; /* the partial-softmax merge of a head both devices share */
    double seconds; /* max(gpu_s, cpu_s, bus_s) + merge_s */
    double joules;
} gpu_split;

/* Whether co-execution splits this op kind: linear layers (dense, butterfly, block
 * butterfly) and fused attention (gpu_model_run splits a block's scores, softmax and
 * context together as one fused attention). */
bool gpu_op_splits(wl_op_kind k);
/* The best split of one op (never slower than the GPU alone, share 0). Linear layers
 * split so that both devices finish together; attention by heads, whole heads or a
 * share of one more head's keys plus the merge. */
int gpu_coexec_op(const gpu_desc *g, const wl_op *op, util_dtype t, gpu_split *out, char *err,
                  size_t errlen);

/* Seconds of op on the CPU cluster alone (cores as the preset gives them; 0 cores: 0),
 * its kernels as the GPU would launch them. */
double gpu_cpu_op_seconds(const gpu_desc *g, const wl_op *op, util_dtype t);

/* One op of one block entry, per instance (multiply by repeat for the entry). */
typedef struct gpu_op_row {
    char name[WL_OP_NAME_MAX];
    wl_op_kind kind;
    uint32_t block;  /* block entry (0 for a butterfly-linear workload) */
    uint64_t repeat; /* instances */
    gpu_class cls;   /* class of its longest kernel */
    gpu_bound bound; /* what bounds its longest kernel */
    uint32_t kernels;
    double flops, bytes; /* as the kernels execute them */
    double seconds, joules;
    double co_seconds, co_joules; /* GPU+CPU co-execution */
    double co_share;              /* fraction of the op's work on the CPU */
} gpu_op_row;

typedef struct gpu_totals {
    double seconds, joules, watts, gops_per_w;
} gpu_totals;

#define GPU_MAX_ROWS (WL_MAX_BLOCKS * WL_MAX_BLOCK_OPS)
typedef struct gpu_result {
    uint32_t n_rows;
    gpu_op_row row[GPU_MAX_ROWS];
    double ops;         /* the workload's closed-form flops (the GOPS/W numerator) */
    double kernels;     /* launches over all instances */
    gpu_totals gpu;     /* the GPU alone */
    gpu_totals coexec;  /* GPU+CPU co-execution (DESIGN.md section 8, heads with affinity) */
    double cpu_seconds; /* the CPU's busy time in the co-execution */
} gpu_result;

/* Prices every op of every block entry x repeat (or the butterfly-linear layer). */
int gpu_model_run(const gpu_desc *g, const wl_desc *d, gpu_result *out, char *err, size_t errlen);

/* Fits the efficiency factors, the butterfly stride floor and the launch overhead to a
 * microbenchmark CSV (scripts/gpu-microbench.py; format in docs/GPU.md) starting from
 * base, whose peaks and bandwidth are kept. out may be base. Errors name CSV:LINE. */
int gpu_calibrate(const gpu_desc *base, const char *csv_file, gpu_desc *out, char *err,
                  size_t errlen);

/* Writes g as a preset the config loader reads back equal (cfg_load_gpu); note, if not
 * NULL, becomes a comment line at the top. */
int gpu_write_preset(const gpu_desc *g, FILE *f, const char *note, char *err, size_t errlen);

#endif
