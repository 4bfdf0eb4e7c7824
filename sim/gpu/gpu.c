/* gpu.c: the analytical GPU baseline: ops as kernels, roofline times, power, co-execution. */
#include "gpu.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const class_names[] = {"gemm", "elementwise", "softmax", "fft", "butterfly"};

const char *gpu_class_name(gpu_class c)
{
    return c < GPU_CLASS_COUNT ? class_names[c] : "?";
}

const char *gpu_bfly_kernel_name(gpu_bfly_kernel k)
{
    static const char *const names[] = {"per-stage", "fused", "monarch"};
    return k < GPU_BFLY_COUNT ? names[k] : "?";
}

const char *gpu_attn_kernel_name(gpu_attn_kernel k)
{
    return k == GPU_ATTN_UNFUSED ? "unfused" : k == GPU_ATTN_FUSED ? "fused" : "?";
}

const char *gpu_bound_name(gpu_bound b)
{
    static const char *const names[] = {"compute", "memory", "launch"};
    return b <= GPU_BOUND_LAUNCH ? names[b] : "?";
}

gpu_unit gpu_unit_for(gpu_class c, util_dtype t)
{
    if (t == UTIL_FP32)
        return GPU_UNIT_FP32;
    return c == GPU_GEMM ? GPU_UNIT_TENSOR : GPU_UNIT_CUDA_FP16;
}

double gpu_peak_gflops(const gpu_desc *g, gpu_unit u)
{
    return u == GPU_UNIT_TENSOR      ? g->tensor_fp16_gflops
           : u == GPU_UNIT_CUDA_FP16 ? g->cuda_fp16_gflops
                                     : g->fp32_gflops;
}

double gpu_stride_factor(const gpu_desc *g, double stride_bytes)
{
    if (stride_bytes <= 0)
        return 1.0;
    double f = stride_bytes / (double)g->sector_bytes;
    return f >= 1.0 ? 1.0 : f > g->stride_floor ? f : g->stride_floor;
}

/* ---------------------------------------------------------------- checks */

static bool in_unit(double x)
{
    return x > 0 && x <= 1;
}

int gpu_check(const gpu_desc *g, char *err, size_t errlen)
{
    const char *n = g->name;
    if (!(g->tensor_fp16_gflops > 0 && g->cuda_fp16_gflops > 0 && g->fp32_gflops > 0))
        return util_fail(UTIL_ECONFIG, err, errlen, "gpu %s: every peak must be > 0", n);
    if (!(g->dram_gbs > 0) || g->sector_bytes == 0)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "gpu %s: DRAM bandwidth and sector size must be > 0", n);
    if (!(g->launch_us >= 0) || g->fft_stages_per_pass == 0 || !in_unit(g->stride_floor))
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "gpu %s: launch_us must be >= 0, fft stages per pass >= 1 and the "
                         "butterfly stride floor in (0, 1]",
                         n);
    for (int c = 0; c < GPU_CLASS_COUNT; c++)
        if (!in_unit(g->eff[c].compute) || !in_unit(g->eff[c].memory))
            return util_fail(UTIL_ECONFIG, err, errlen,
                             "gpu %s: efficiency.%s = (%g, %g): each must be in (0, 1]", n,
                             class_names[c], g->eff[c].compute, g->eff[c].memory);
    const gpu_power *p = &g->power;
    if (!(p->idle_w >= 0 && p->busy_w >= 0 && p->compute_w >= 0 && p->memory_w >= 0 &&
          p->budget_w > 0))
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "gpu %s: powers must be >= 0 and the budget > 0", n);
    const gpu_cpu *c = &g->cpu;
    if (c->cores && !(c->fp32_gflops_per_core > 0 && c->fp16_gflops_per_core > 0 &&
                      in_unit(c->gemm_eff) && in_unit(c->vector_eff) && in_unit(c->memory_eff) &&
                      in_unit(c->bandwidth_share) && c->launch_us >= 0 && c->active_w >= 0))
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "gpu %s: the CPU needs peaks > 0, efficiencies and bandwidth share in "
                         "(0, 1], launch and power >= 0",
                         n);
    return UTIL_OK;
}

/* ---------------------------------------------------------------- one kernel */

void gpu_kernel_time(const gpu_desc *g, const gpu_kernel *k, gpu_timing *out)
{
    const gpu_eff *e = &g->eff[k->cls];
    double peak = gpu_peak_gflops(g, k->unit) * 1e9, bw = g->dram_gbs * 1e9;
    double scale = k->compute_scale > 0 ? k->compute_scale : 1.0;
    double sf = k->cls == GPU_BUTTERFLY ? gpu_stride_factor(g, k->stride_bytes) : 1.0;
    memset(out, 0, sizeof *out);
    out->compute_s = k->flops / (peak * e->compute * scale);
    out->memory_s = k->bytes / (bw * e->memory * sf);
    out->launch_s = g->launch_us * 1e-6;
    double work = fmax(out->compute_s, out->memory_s);
    out->seconds = work + out->launch_s;
    out->bound = out->launch_s > work              ? GPU_BOUND_LAUNCH
                 : out->compute_s >= out->memory_s ? GPU_BOUND_COMPUTE
                                                   : GPU_BOUND_MEMORY;
    const gpu_power *p = &g->power;
    out->work_w = p->idle_w;
    if (work > 0)
        out->work_w =
            fmin(p->budget_w, p->idle_w + p->busy_w + p->compute_w * (k->flops / work / peak) +
                                  p->memory_w * (k->bytes / work / bw));
    out->joules = out->work_w * work + p->idle_w * out->launch_s;
    out->watts = out->seconds > 0 ? out->joules / out->seconds : p->idle_w;
    out->dynamic_j = out->joules - p->idle_w * out->seconds;
}

/* ---------------------------------------------------------------- ops as kernels */

static uint32_t add(gpu_kernel *k, uint32_t n, gpu_class cls, gpu_unit unit, double flops,
                    double bytes, double shared)
{
    if (n >= GPU_MAX_OP_KERNELS)
        return n;
    k[n] = (gpu_kernel){.cls = cls,
                        .unit = unit,
                        .flops = flops,
                        .bytes = bytes,
                        .shared_bytes = shared,
                        .compute_scale = 1.0};
    return n + 1;
}

/* A transform of `stages` radix-2 stages done per_pass at a time, one kernel a pass. The
 * first pass reads in_b, the last writes out_b; between passes the intermediate (mid_b)
 * goes through DRAM unless it fits in L2 twice over (read and written). Each stage reads
 * its own weights (w_stage_b, which both devices of a split read whole). Pass p's pairs
 * lie stride_unit x 2^(first stage) bytes apart (0: no stride model). */
typedef struct xform {
    gpu_class cls;
    gpu_unit unit;
    double scale;
    uint32_t stages, per_pass;
    double flops_stage, in_b, mid_b, out_b, w_stage_b, stride_unit;
} xform;

static uint32_t add_passes(const gpu_desc *g, const xform *x, gpu_kernel *k, uint32_t n)
{
    uint32_t passes = (uint32_t)util_ceil_div(x->stages, x->per_pass);
    bool onchip = 2 * x->mid_b <= (double)g->l2_bytes;
    for (uint32_t p = 0; p < passes && n < GPU_MAX_OP_KERNELS; p++) {
        uint32_t first = p * x->per_pass;
        uint32_t st = x->stages - first < x->per_pass ? x->stages - first : x->per_pass;
        double rd = p == 0 ? x->in_b : onchip ? 0 : x->mid_b;
        double wr = p + 1 == passes ? x->out_b : onchip ? 0 : x->mid_b;
        double w = x->w_stage_b * st;
        n = add(k, n, x->cls, x->unit, x->flops_stage * st, rd + wr + w, w);
        k[n - 1].stride_bytes = ldexp(x->stride_unit, (int)first);
        k[n - 1].compute_scale = x->scale;
    }
    return n;
}

/* The unfused attention of G heads of nq queries and nk keys of d features:
 * S = Q K^T (scaled in the epilogue), P = softmax(S), C = P V. */
static uint32_t add_scores(gpu_kernel *k, uint32_t n, util_dtype t, double G, double nq, double nk,
                           double d)
{
    double e = util_dtype_bytes(t);
    return add(k, n, GPU_GEMM, gpu_unit_for(GPU_GEMM, t), 2 * G * nq * nk * d + G * nq * nk,
               (G * nq * d + G * nk * d + G * nq * nk) * e, 0);
}

static uint32_t add_softmax(gpu_kernel *k, uint32_t n, util_dtype t, double rows, double len)
{
    double e = util_dtype_bytes(t);
    return add(k, n, GPU_SOFTMAX, gpu_unit_for(GPU_SOFTMAX, t), WL_FLOPS_SOFTMAX * rows * len,
               2 * rows * len * e, 0);
}

static uint32_t add_context(gpu_kernel *k, uint32_t n, util_dtype t, double G, double nq, double nk,
                            double d)
{
    double e = util_dtype_bytes(t);
    return add(k, n, GPU_GEMM, gpu_unit_for(GPU_GEMM, t), 2 * G * nq * nk * d,
               (G * nq * nk + G * nk * d + G * nq * d) * e, 0);
}

/* A Monarch factorisation (Dao et al., ICML 2022) of a butterfly of n points on T rows:
 * two batched block-diagonal GEMMs of n/b blocks of b x b (b = 2^ceil(log2 n / 2)) on the
 * tensor cores, the intermediate through DRAM unless it fits in L2 twice; MMA tiles are
 * 16 wide, so smaller blocks use b/16 of the units. */
static uint32_t add_monarch(const gpu_desc *g, gpu_kernel *k, uint32_t n, util_dtype t, double T,
                            uint64_t points)
{
    double e = util_dtype_bytes(t), pts = (double)points;
    double b = ldexp(1.0, (int)((util_log2(points) + 1) / 2));
    double D = T * pts * e, w = pts * b * e, mid = 2 * D <= (double)g->l2_bytes ? 0 : D;
    gpu_unit mma = gpu_unit_for(GPU_GEMM, t);
    for (int half = 0; half < 2 && n < GPU_MAX_OP_KERNELS; half++) {
        n = add(k, n, GPU_GEMM, mma, 2 * T * pts * b, (half ? mid : D) + w + (half ? D : mid), w);
        k[n - 1].compute_scale = t == UTIL_FP16 && b < 16 ? b / 16 : 1.0;
    }
    return n;
}

/* A butterfly of `stages` passes, one stage each, over D bytes of activations that every
 * pass reads and writes (L2 permitting); w_stage bytes of weights per stage. */
static uint32_t add_bfly(const gpu_desc *g, gpu_kernel *k, gpu_unit unit, double scale,
                         uint32_t stages, double flops_stage, double D, double w_stage,
                         double stride_unit)
{
    /* fused: a pass loads whole rows into shared memory, coalesced (no stride penalty) */
    bool fused = g->bfly_kernel == GPU_BFLY_FUSED;
    xform x = {.cls = GPU_BUTTERFLY,
               .unit = unit,
               .scale = scale,
               .stages = stages,
               .per_pass = fused ? g->bfly_fused_stages : 1,
               .flops_stage = flops_stage,
               .in_b = D,
               .mid_b = D,
               .out_b = D,
               .w_stage_b = w_stage,
               .stride_unit = fused ? 0 : stride_unit};
    return add_passes(g, &x, k, 0);
}

/* `count` FFTs of 2^stages points (5 n log2 n flops each), in passes of
 * fft_stages_per_pass stages, intermediates complex. */
static uint32_t add_fft(const gpu_desc *g, gpu_kernel *k, uint32_t n, util_dtype t, double count,
                        uint32_t stages, double in_b, double out_b)
{
    double points = ldexp(1.0, (int)stages), e = util_dtype_bytes(t);
    xform x = {.cls = GPU_FFT,
               .unit = gpu_unit_for(GPU_FFT, t),
               .scale = 1.0,
               .stages = stages,
               .per_pass = g->fft_stages_per_pass,
               .flops_stage = 5.0 * points * count,
               .in_b = in_b,
               .mid_b = count * points * 2 * e,
               .out_b = out_b};
    return add_passes(g, &x, k, n);
}

uint32_t gpu_op_kernels(const gpu_desc *g, const wl_op *op, util_dtype t,
                        gpu_kernel k[GPU_MAX_OP_KERNELS])
{
    double e = util_dtype_bytes(t), T = (double)op->rows, n = (double)op->n;
    double in = (double)op->in, out = (double)op->out, B = (double)op->param;
    gpu_unit vec = gpu_unit_for(GPU_ELEMWISE, t), mma = gpu_unit_for(GPU_GEMM, t);
    switch (op->kind) {
    case WL_OP_DENSE: /* X [T x in] W [in x out]: a column split reads X whole */
        return add(k, 0, GPU_GEMM, mma, 2 * T * in * out, (T * in + in * out + T * out) * e,
                   T * in * e);
    case WL_OP_BUTTERFLY: /* over the padded rows; 4 twiddles per pair */
        if (g->bfly_kernel == GPU_BFLY_MONARCH)
            return add_monarch(g, k, 0, t, T, op->n);
        return add_bfly(g, k, vec, 1.0, util_log2(op->n), 3 * n * T, T * n * e, 2 * n * e, e);
    case WL_OP_BLOCK_BFLY: /* per stage, n/(2B) tile pairs x 4 dense B x B products on the
                            * tensor cores, whose MMA tiles are 16 wide */
        return add_bfly(g, k, mma, t == UTIL_FP16 && B < 16 ? B / 16 : 1.0,
                        util_log2(op->n / op->param), 4 * n * B * T, T * n * e, 2 * n * B * e,
                        B * e);
    case WL_OP_SEQ_BFLY: /* along the sequence: pairs of tokens, a row of features apart */
        if (g->bfly_kernel == GPU_BFLY_MONARCH)
            return add_monarch(g, k, 0, t, in * (double)op->groups, op->n);
        return add_bfly(g, k, vec, 1.0, util_log2(op->n), 3 * n * in * (double)op->groups,
                        (double)op->groups * n * in * e, 2 * n * e, in * e);
    case WL_OP_FFT_MIX:
    case WL_OP_FFT_COMPRESS:
    case WL_OP_FFT_HIDDEN:
    case WL_OP_FFT_SEQ: { /* a real row in, its complex spectrum out, per token; then along
                           * the sequence per feature column, the real part out (the split
                           * halves are one of the two) */
        bool mix = op->kind == WL_OP_FFT_MIX, hidden = op->kind == WL_OP_FFT_HIDDEN;
        uint64_t nh = hidden ? op->n : mix ? op->param : wl_pow2_ceil(op->in);
        uint64_t pts = mix ? op->n : op->param;
        double cols = (double)op->groups * in;
        uint32_t m = op->kind == WL_OP_FFT_SEQ ? 0
                                               : add_fft(g, k, 0, t, T, util_log2(nh), T * in * e,
                                                         T * (double)nh * 2 * e);
        return hidden ? m
                      : add_fft(g, k, m, t, cols * n / (double)pts, util_log2(pts),
                                cols * n * 2 * e, T * in * e);
    }
    case WL_OP_SCORES: /* nq queries against n keys (a decode step's cache first) */
        return add_scores(k, 0, t, (double)op->groups, (double)op->nq, n, (double)op->d);
    case WL_OP_SOFTMAX:
        return add_softmax(k, 0, t, T, n);
    case WL_OP_CONTEXT:
        return add_context(k, 0, t, (double)op->groups, (double)op->nq, n, (double)op->d);
    case WL_OP_ATTENTION: { /* unfused: S and P go through DRAM; fused: one kernel reads
                             * Q, K, V and writes the context, the scores on chip */
        double G = (double)op->groups, d = (double)op->d, nq = (double)op->nq;
        if (g->attn_kernel == GPU_ATTN_FUSED)
            return add(k, 0, GPU_GEMM, mma,
                       4 * G * nq * n * d + G * nq * n * (1 + WL_FLOPS_SOFTMAX),
                       (2 * G * nq * d + 2 * G * n * d) * e, 2 * G * n * d * e);
        uint32_t m = add_scores(k, 0, t, G, nq, n, d);
        m = add_softmax(k, m, t, G * nq, n);
        return add_context(k, m, t, G, nq, n, d);
    }
    case WL_OP_LAYERNORM: /* a row reduction, with gamma and beta */
        return add(k, 0, GPU_SOFTMAX, vec, (double)op->flops, (2 * T * out + 2 * out) * e, 0);
    case WL_OP_GELU:
        return add(k, 0, GPU_ELEMWISE, vec, (double)op->flops, 2 * T * out * e, 0);
    case WL_OP_ADD:
        return add(k, 0, GPU_ELEMWISE, vec, (double)op->flops, 3 * T * out * e, 0);
    case WL_OP_COUNT:
        break;
    }
    return 0;
}

/* ---------------------------------------------------------------- co-execution */

bool gpu_op_splits(wl_op_kind k)
{
    return k == WL_OP_DENSE || k == WL_OP_BUTTERFLY || k == WL_OP_BLOCK_BFLY ||
           k == WL_OP_ATTENTION;
}

/* The share s of a kernel's work: its flops and unshared bytes scale, shared bytes stay. */
static gpu_kernel share_of(const gpu_kernel *k, double s)
{
    gpu_kernel x = *k;
    x.flops = k->flops * s;
    x.bytes = k->shared_bytes + (k->bytes - k->shared_bytes) * s;
    return x;
}

/* A kernel on the CPU cluster: the same roofline with the cluster's peak, its share of
 * the bandwidth and a fork/join instead of a launch (no stride penalty: caches). */
static double cpu_kernel_s(const gpu_desc *g, const gpu_kernel *k)
{
    const gpu_cpu *c = &g->cpu;
    double per_core = k->unit == GPU_UNIT_FP32 ? c->fp32_gflops_per_core : c->fp16_gflops_per_core;
    double peak = c->cores * per_core * 1e9 * (k->cls == GPU_GEMM ? c->gemm_eff : c->vector_eff);
    double bw = g->dram_gbs * 1e9 * c->bandwidth_share * c->memory_eff;
    return fmax(k->flops / peak, k->bytes / bw) + c->launch_us * 1e-6;
}

double gpu_cpu_op_seconds(const gpu_desc *g, const wl_op *op, util_dtype t)
{
    gpu_kernel k[GPU_MAX_OP_KERNELS];
    uint32_t n = g->cpu.cores ? gpu_op_kernels(g, op, t, k) : 0;
    double s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += cpu_kernel_s(g, &k[i]);
    return s;
}

/* The op's kernels with a share s in [0, 1] on the CPU. */
static void eval_split(const gpu_desc *g, const gpu_kernel *k, uint32_t n, double s, gpu_split *r)
{
    double dyn_j = 0, best_eff = 0;
    for (int c = 0; c < GPU_CLASS_COUNT; c++)
        best_eff = fmax(best_eff, g->eff[c].memory);
    memset(r, 0, sizeof *r);
    r->share = s;
    for (uint32_t i = 0; i < n; i++) {
        gpu_kernel gk = share_of(&k[i], 1 - s), ck = share_of(&k[i], s);
        double bytes = 0;
        if (s < 1) {
            gpu_timing tm;
            gpu_kernel_time(g, &gk, &tm);
            r->gpu_s += tm.seconds;
            dyn_j += tm.dynamic_j;
            bytes += gk.bytes;
        }
        if (s > 0) {
            r->cpu_s += cpu_kernel_s(g, &ck);
            bytes += ck.bytes;
        }
        /* the DRAM serves both devices together at most as fast as it serves the GPU's
         * best streaming kernel; access-pattern losses stay with each device */
        r->bus_s += bytes / (g->dram_gbs * 1e9 * best_eff);
    }
    r->seconds = fmax(fmax(r->gpu_s, r->cpu_s), r->bus_s);
    r->joules = fmin(g->power.budget_w * r->seconds,
                     g->power.idle_w * r->seconds + dyn_j + g->cpu.active_w * r->cpu_s);
}

/* The share at which the GPU's and the CPU's times cross (GPU time falls and CPU time
 * rises with the share, both continuously on (0, 1)); 0 when the CPU cannot help, 1 when
 * it is faster alone. */
static double balance(const gpu_desc *g, const gpu_kernel *k, uint32_t n)
{
    gpu_split r;
    double lo = 1e-9, hi = 1 - 1e-9;
    eval_split(g, k, n, lo, &r);
    if (r.gpu_s <= r.cpu_s)
        return 0;
    eval_split(g, k, n, hi, &r);
    if (r.gpu_s >= r.cpu_s)
        return 1;
    for (int it = 0; it < 100; it++) {
        double mid = 0.5 * (lo + hi);
        eval_split(g, k, n, mid, &r);
        if (r.gpu_s > r.cpu_s)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

static void keep_best(gpu_split *best, const gpu_split *c)
{
    if (c->seconds < best->seconds)
        *best = *c;
}

int gpu_coexec_op(const gpu_desc *g, const wl_op *op, util_dtype t, gpu_split *out, char *err,
                  size_t errlen)
{
    int rc = gpu_check(g, err, errlen);
    if (rc)
        return rc;
    gpu_kernel k[GPU_MAX_OP_KERNELS];
    uint32_t n = gpu_op_kernels(g, op, t, k);
    /* share 0 is the GPU alone, with its per-kernel energy */
    eval_split(g, k, n, 0, out);
    out->joules = 0;
    for (uint32_t i = 0; i < n; i++) {
        gpu_timing tm;
        gpu_kernel_time(g, &k[i], &tm);
        out->joules += tm.joules;
    }
    if (!g->cpu.cores || !gpu_op_splits(op->kind))
        return UTIL_OK;
    double s = balance(g, k, n);
    gpu_split c;
    eval_split(g, k, n, 1, &c);
    keep_best(out, &c);
    if (op->kind != WL_OP_ATTENTION) {
        eval_split(g, k, n, s, &c);
        keep_best(out, &c);
        return UTIL_OK;
    }
    /* Heads with affinity: the CPU takes whole heads (no merge), or whole heads plus a
     * share of one more head's keys, whose two partial (o, lse) states the GPU merges
     * after both finish: it reads both and writes o for that head's queries. */
    double G = (double)op->groups, whole = floor(s * G);
    for (int i = 0; i < 2; i++) {
        eval_split(g, k, n, fmin(1.0, (whole + i) / G), &c);
        c.by_heads = true;
        keep_best(out, &c);
    }
    if (s * G > whole) {
        double e = util_dtype_bytes(t), q = (double)op->nq, d = (double)op->d;
        gpu_kernel merge = {.cls = GPU_ELEMWISE,
                            .unit = gpu_unit_for(GPU_ELEMWISE, t),
                            .flops = q * (4 * d + 8),
                            .bytes = q * (3 * d * e + 8),
                            .compute_scale = 1.0};
        gpu_timing tm;
        gpu_kernel_time(g, &merge, &tm);
        eval_split(g, k, n, s, &c);
        c.by_heads = true;
        c.merge_s = tm.seconds;
        c.seconds += tm.seconds;
        c.joules += tm.joules;
        keep_best(out, &c);
    }
    return UTIL_OK;
}

/* ---------------------------------------------------------------- a workload */

/* Prices one op alone on the GPU into a row. */
static void price_row(const gpu_desc *g, const wl_op *op, util_dtype t, uint32_t block,
                      uint64_t repeat, gpu_op_row *r)
{
    gpu_kernel k[GPU_MAX_OP_KERNELS];
    uint32_t n = gpu_op_kernels(g, op, t, k);
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", op->name);
    r->kind = op->kind;
    r->block = block;
    r->repeat = repeat;
    r->kernels = n;
    double longest = -1;
    for (uint32_t i = 0; i < n; i++) {
        gpu_timing tm;
        gpu_kernel_time(g, &k[i], &tm);
        r->flops += k[i].flops;
        r->bytes += k[i].bytes;
        r->seconds += tm.seconds;
        r->joules += tm.joules;
        if (tm.seconds > longest) {
            longest = tm.seconds;
            r->cls = k[i].cls;
            r->bound = tm.bound;
        }
    }
    r->co_seconds = r->seconds;
    r->co_joules = r->joules;
}

static void totals(gpu_totals *t, double ops)
{
    t->watts = t->seconds > 0 ? t->joules / t->seconds : 0;
    t->gops_per_w = t->joules > 0 ? ops / t->joules * 1e-9 : 0;
}

/* Prices the ops of one block entry; co-execution splits linear layers alone and each
 * attention's scores, softmax and context together (one split, by heads), sharing its
 * time and energy out in proportion to their GPU times. */
/* Whether ops[i..i+2] are one block's scores, softmax and context (one attention). */
static bool attention_at(const wl_op *ops, uint32_t i, uint32_t n)
{
    return ops[i].kind == WL_OP_SCORES && i + 2 < n && ops[i + 1].kind == WL_OP_SOFTMAX &&
           ops[i + 2].kind == WL_OP_CONTEXT;
}

static int price_block(const gpu_desc *g, const wl_op *ops, uint32_t n, util_dtype t,
                       uint32_t block, uint64_t repeat, gpu_result *out, char *err, size_t errlen)
{
    uint32_t fused_left = 0; /* rows of a fused attention kernel still to fill */
    for (uint32_t i = 0; i < n; i++) {
        if (out->n_rows >= GPU_MAX_ROWS)
            return util_fail(UTIL_ERUN, err, errlen, "gpu: more than %d ops", GPU_MAX_ROWS);
        gpu_op_row *r = &out->row[out->n_rows++];
        out->ops += (double)ops[i].flops * (double)repeat;
        if (fused_left) { /* (softmax and context: inside the scores row's kernel) */
            fused_left--;
            *r = (gpu_op_row){.kind = ops[i].kind, .block = block, .repeat = repeat};
            snprintf(r->name, sizeof r->name, "%s", ops[i].name);
            continue;
        }
        wl_op fused;
        if (g->attn_kernel == GPU_ATTN_FUSED && attention_at(ops, i, n)) {
            wl_fused_attention(&ops[i], &fused);
            price_row(g, &fused, t, block, repeat, r);
            snprintf(r->name, sizeof r->name, "%s", ops[i].name);
            fused_left = 2;
            continue;
        }
        price_row(g, &ops[i], t, block, repeat, r);
    }
    gpu_op_row *rows = &out->row[out->n_rows - n];
    for (uint32_t i = 0; i < n; i++) {
        wl_op fused;
        uint32_t span = 1;
        const wl_op *op = &ops[i];
        if (attention_at(ops, i, n)) {
            wl_fused_attention(&ops[i], &fused);
            op = &fused;
            span = 3;
        }
        if (!gpu_op_splits(op->kind))
            continue;
        gpu_split sp;
        int rc = gpu_coexec_op(g, op, t, &sp, err, errlen);
        if (rc)
            return rc;
        double gpu_s = 0;
        for (uint32_t j = i; j < i + span; j++)
            gpu_s += rows[j].seconds;
        for (uint32_t j = i; j < i + span; j++) {
            double part = gpu_s > 0 ? rows[j].seconds / gpu_s : 1.0 / span;
            rows[j].co_seconds = sp.seconds * part;
            rows[j].co_joules = sp.joules * part;
            rows[j].co_share = sp.share;
        }
        out->cpu_seconds += sp.cpu_s * (double)repeat;
        i += span - 1;
    }
    return UTIL_OK;
}

int gpu_model_run(const gpu_desc *g, const wl_desc *d, gpu_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = gpu_check(g, err, errlen);
    if (rc)
        return rc;
    if (d->kind == WL_KIND_BUTTERFLY_LINEAR) {
        wl_butterfly b;
        wl_butterfly_from_desc(d, &b);
        wl_op op = {.kind = WL_OP_BUTTERFLY, .rows = d->rows, .in = d->n, .out = d->n, .n = d->n};
        snprintf(op.name, sizeof op.name, "butterfly-linear");
        op.macs = wl_butterfly_macs(&b);
        op.flops = wl_butterfly_flops(&b);
        op.weights = wl_twiddle_count(&b);
        rc = price_block(g, &op, 1, d->dtype, 0, 1, out, err, errlen);
    } else {
        for (uint32_t b = 0; !rc && b < d->n_blocks; b++) {
            wl_op ops[WL_MAX_BLOCK_OPS];
            uint32_t n = wl_block_ops(d, b, ops);
            rc = price_block(g, ops, n, d->dtype, b, d->blocks[b].repeat, out, err, errlen);
        }
    }
    if (rc)
        return rc;
    for (uint32_t i = 0; i < out->n_rows; i++) {
        const gpu_op_row *r = &out->row[i];
        double rep = (double)r->repeat;
        out->kernels += r->kernels * rep;
        out->gpu.seconds += r->seconds * rep;
        out->gpu.joules += r->joules * rep;
        out->coexec.seconds += r->co_seconds * rep;
        out->coexec.joules += r->co_joules * rep;
    }
    totals(&out->gpu, out->ops);
    totals(&out->coexec, out->ops);
    return UTIL_OK;
}
