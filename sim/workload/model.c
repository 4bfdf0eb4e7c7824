/* model.c: encoder-block models expanded into ops, with closed-form op counts and seeded weights.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "workload.h"

static const char *const mixer_names[] = {"attention", "butterfly", "fft", "fft-compress"};
static const char *const linear_names[] = {"dense", "butterfly", "block-butterfly", "none"};
static const char *const op_names[] = {
    "dense",        "butterfly", "block-butterfly", "seq-butterfly", "fft-mix",
    "fft-compress", "scores",    "softmax",         "context",       "layernorm",
    "gelu",         "add",       "attention",       "fft-hidden",    "fft-seq"};

const char *wl_mixer_name(wl_mixer m)
{
    return m < WL_MIX_COUNT ? mixer_names[m] : "?";
}

const char *wl_linear_name(wl_linear l)
{
    return l < WL_LIN_COUNT ? linear_names[l] : "?";
}

const char *wl_op_kind_name(wl_op_kind k)
{
    return k < WL_OP_COUNT ? op_names[k] : "?";
}

uint64_t wl_pow2_ceil(uint64_t x)
{
    uint64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

bool wl_has_attention(const wl_desc *d)
{
    for (uint32_t b = 0; b < d->n_blocks; b++)
        if (d->blocks[b].mixer == WL_MIX_ATTENTION)
            return true;
    return false;
}

uint64_t wl_keys(const wl_desc *d)
{
    return d->kv_len + d->seq_len;
}

uint64_t wl_tensor_elems(const wl_desc *d, wl_tensor t)
{
    uint64_t tokens = d->batch * d->seq_len;
    switch (t) {
    case WL_T_S:
    case WL_T_P:
        return d->batch * d->heads * d->seq_len * wl_keys(d);
    case WL_T_K:
    case WL_T_V: /* the cache's rows, then the step's */
        return d->batch * wl_keys(d) * d->hidden;
    case WL_T_F1:
    case WL_T_G:
        return tokens * d->ffn;
    case WL_T_H:
        return tokens * 2 * d->hidden;
    default:
        return tokens * d->hidden;
    }
}

/* A linear layer of the given structure, with its closed-form counts. */
static void linear(const wl_desc *d, wl_linear kind, uint64_t block_size, const char *name,
                   uint64_t in, uint64_t out, wl_tensor src, wl_tensor dst, wl_op *op)
{
    uint64_t rows = d->batch * d->seq_len;
    memset(op, 0, sizeof *op);
    snprintf(op->name, sizeof op->name, "%s", name);
    op->rows = rows;
    op->in = in;
    op->out = out;
    op->src0 = op->src1 = src;
    op->dst = dst;
    uint64_t n = wl_pow2_ceil(in > out ? in : out);
    uint32_t lg = util_log2(n);
    if (kind == WL_LIN_DENSE) {
        op->kind = WL_OP_DENSE;
        op->macs = rows * in * out;
        op->flops = 2 * op->macs;
        op->weights = in * out;
    } else if (kind == WL_LIN_BUTTERFLY || block_size <= 1) {
        /* n/2 pairs x 4 multiplies (6 flops) per stage, log2 n stages, per vector */
        op->kind = WL_OP_BUTTERFLY;
        op->n = n;
        op->macs = rows * 2 * n * lg;
        op->flops = rows * 3 * n * lg;
        op->weights = 2 * n * lg;
    } else {
        /* n/B blocks; per stage n/(2B) block pairs x 4 dense B x B products */
        uint64_t B = block_size, stages = util_log2(n / B);
        op->kind = WL_OP_BLOCK_BFLY;
        op->n = n;
        op->param = B;
        op->macs = rows * 2 * n * B * stages;
        op->flops = 2 * op->macs;
        op->weights = 2 * n * B * stages;
    }
}

static void elementwise(const wl_desc *d, wl_op_kind kind, const char *name, uint64_t feats,
                        wl_tensor a, wl_tensor b, wl_tensor dst, wl_op *op)
{
    static const uint64_t per_elem[WL_OP_COUNT] = {[WL_OP_LAYERNORM] = WL_FLOPS_LAYERNORM,
                                                   [WL_OP_GELU] = WL_FLOPS_GELU,
                                                   [WL_OP_ADD] = WL_FLOPS_ADD};
    memset(op, 0, sizeof *op);
    op->kind = kind;
    snprintf(op->name, sizeof op->name, "%s", name);
    op->rows = d->batch * d->seq_len;
    op->in = op->out = feats;
    op->src0 = a;
    op->src1 = b;
    op->dst = dst;
    op->flops = op->rows * feats * per_elem[kind];
    op->weights = kind == WL_OP_LAYERNORM ? 2 * feats : 0;
}

/* The token mixer of a non-attention block. */
static void mixer(const wl_desc *d, const wl_block *bl, wl_op *op)
{
    uint64_t ns = wl_pow2_ceil(d->seq_len), nh = wl_pow2_ceil(d->hidden);
    uint64_t H = d->hidden, N = d->seq_len, Bt = d->batch;
    memset(op, 0, sizeof *op);
    op->rows = Bt * N;
    op->in = op->out = H;
    op->n = ns;
    op->groups = Bt;
    op->src0 = op->src1 = WL_T_X;
    op->dst = WL_T_M;
    if (bl->mixer == WL_MIX_BUTTERFLY) {
        op->kind = WL_OP_SEQ_BFLY;
        snprintf(op->name, sizeof op->name, "mix");
        op->macs = Bt * H * 2 * ns * util_log2(ns);
        op->flops = Bt * H * 3 * ns * util_log2(ns);
        op->weights = 2 * ns * util_log2(ns);
        return;
    }
    /* Fourier: an nh-point FFT per token (5 nh log2 nh flops, real input computed as
     * complex), then a sequence FFT per kept feature column. */
    op->param = nh;
    uint64_t hidden_flops = Bt * N * 5 * nh * util_log2(nh);
    if (bl->mixer == WL_MIX_FFT) {
        op->kind = WL_OP_FFT_MIX;
        snprintf(op->name, sizeof op->name, "mix");
        op->flops = hidden_flops + Bt * H * 5 * ns * util_log2(ns);
    } else {
        op->kind = WL_OP_FFT_COMPRESS;
        snprintf(op->name, sizeof op->name, "mix");
        op->param = bl->chunk;
        op->d = (uint64_t)ceil(bl->keep * (double)bl->chunk);
        op->flops = hidden_flops + Bt * H * 5 * ns * util_log2(bl->chunk);
    }
    /* an FFT butterfly's complex multiply: 4 real multiplies, per n/2 pairs per stage */
    op->macs = op->flops / 5 * 4 / 2;
}

uint32_t wl_block_ops(const wl_desc *d, uint32_t b, wl_op ops[WL_MAX_BLOCK_OPS])
{
    const wl_block *bl = &d->blocks[b];
    uint64_t H = d->hidden, F = d->ffn, N = d->seq_len, Nk = wl_keys(d);
    uint32_t n = 0;
    if (bl->mixer == WL_MIX_ATTENTION) {
        uint64_t dh = H / d->heads, groups = d->batch * d->heads;
        linear(d, bl->proj, bl->block_size, "q-proj", H, H, WL_T_X, WL_T_Q, &ops[n++]);
        linear(d, bl->proj, bl->block_size, "k-proj", H, H, WL_T_X, WL_T_K, &ops[n++]);
        linear(d, bl->proj, bl->block_size, "v-proj", H, H, WL_T_X, WL_T_V, &ops[n++]);
        /* QK^T and PV: N Nk d multiply-adds per head each (N queries, Nk keys) */
        wl_op *s = &ops[n++];
        memset(s, 0, sizeof *s);
        s->kind = WL_OP_SCORES;
        snprintf(s->name, sizeof s->name, "scores");
        s->rows = d->batch * N;
        s->n = Nk;
        s->nq = N;
        s->groups = groups;
        s->d = dh;
        s->src0 = WL_T_Q;
        s->src1 = WL_T_K;
        s->dst = WL_T_S;
        s->macs = groups * N * Nk * dh;
        s->flops = 2 * s->macs + groups * N * Nk; /* + the scaling */
        wl_op *sm = &ops[n++];
        memset(sm, 0, sizeof *sm);
        sm->kind = WL_OP_SOFTMAX;
        snprintf(sm->name, sizeof sm->name, "softmax");
        sm->rows = groups * N;
        sm->n = Nk;
        sm->nq = N;
        sm->groups = groups;
        sm->src0 = sm->src1 = WL_T_S;
        sm->dst = WL_T_P;
        sm->flops = groups * N * Nk * WL_FLOPS_SOFTMAX;
        wl_op *c = &ops[n++];
        *c = *s;
        c->kind = WL_OP_CONTEXT;
        snprintf(c->name, sizeof c->name, "context");
        c->src0 = WL_T_P;
        c->src1 = WL_T_V;
        c->dst = WL_T_C;
        c->flops = 2 * c->macs;
        linear(d, bl->proj, bl->block_size, "o-proj", H, H, WL_T_C, WL_T_A, &ops[n++]);
    } else {
        mixer(d, bl, &ops[n++]);
        if (bl->proj != WL_LIN_NONE)
            linear(d, bl->proj, bl->block_size, "o-proj", H, H, WL_T_M, WL_T_A, &ops[n++]);
        else
            ops[n - 1].dst = WL_T_A;
    }
    elementwise(d, WL_OP_ADD, "add1", H, WL_T_X, WL_T_A, WL_T_R1, &ops[n++]);
    elementwise(d, WL_OP_LAYERNORM, "ln1", H, WL_T_R1, WL_T_R1, WL_T_X1, &ops[n++]);
    linear(d, bl->ffn, bl->block_size, "ffn1", H, F, WL_T_X1, WL_T_F1, &ops[n++]);
    elementwise(d, WL_OP_GELU, "gelu", F, WL_T_F1, WL_T_F1, WL_T_G, &ops[n++]);
    linear(d, bl->ffn, bl->block_size, "ffn2", F, H, WL_T_G, WL_T_F2, &ops[n++]);
    elementwise(d, WL_OP_ADD, "add2", H, WL_T_X1, WL_T_F2, WL_T_R2, &ops[n++]);
    elementwise(d, WL_OP_LAYERNORM, "ln2", H, WL_T_R2, WL_T_R2, WL_T_X2, &ops[n++]);
    return n;
}

void wl_fused_attention(const wl_op ops[3], wl_op *out)
{
    *out = ops[0];
    out->kind = WL_OP_ATTENTION;
    snprintf(out->name, sizeof out->name, "attention");
    out->dst = ops[2].dst;
    out->macs = ops[0].macs + ops[2].macs;
    out->flops = ops[0].flops + ops[1].flops + ops[2].flops;
}

void wl_split_fft(const wl_op *mix, wl_op *hidden, wl_op *seq)
{
    bool cmp = mix->kind == WL_OP_FFT_COMPRESS;
    uint64_t nh = cmp ? wl_pow2_ceil(mix->in) : mix->param;
    *hidden = *mix;
    hidden->kind = WL_OP_FFT_HIDDEN;
    snprintf(hidden->name, sizeof hidden->name, "%.16s-hidden", mix->name);
    hidden->n = nh;
    hidden->param = nh;
    hidden->out = 2 * mix->in;
    hidden->dst = WL_T_H;
    hidden->flops = mix->rows * 5 * nh * util_log2(nh);
    hidden->macs = hidden->flops / 5 * 4 / 2;
    *seq = *mix;
    seq->kind = WL_OP_FFT_SEQ;
    snprintf(seq->name, sizeof seq->name, "%.16s-seq", mix->name);
    seq->src0 = seq->src1 = WL_T_H;
    seq->param = cmp ? mix->param : mix->n;
    seq->d = cmp ? mix->d : mix->n;
    seq->flops = mix->flops - hidden->flops;
    seq->macs = mix->macs - hidden->macs;
}

void wl_model_totals(const wl_desc *d, wl_totals *t)
{
    memset(t, 0, sizeof *t);
    for (uint32_t b = 0; b < d->n_blocks; b++) {
        wl_op ops[WL_MAX_BLOCK_OPS];
        uint32_t n = wl_block_ops(d, b, ops);
        for (uint32_t i = 0; i < n; i++) {
            t->macs += d->blocks[b].repeat * ops[i].macs;
            t->flops += d->blocks[b].repeat * ops[i].flops;
            t->weights += d->blocks[b].repeat * ops[i].weights;
        }
    }
}

void wl_dense_counterpart(const wl_desc *d, wl_desc *dense)
{
    *dense = *d;
    for (uint32_t b = 0; b < dense->n_blocks; b++) {
        dense->blocks[b].mixer = WL_MIX_ATTENTION;
        dense->blocks[b].proj = WL_LIN_DENSE;
        dense->blocks[b].ffn = WL_LIN_DENSE;
    }
}

/* ---------------------------------------------------------------- seeded values */

static uint64_t op_stream(const wl_desc *d, const wl_op *op, uint64_t inst)
{
    uint64_t h = d->seed * 0x9e3779b97f4a7c15ull ^ (inst + 1) * 0xbf58476d1ce4e5b9ull;
    for (const char *c = op->name; *c; c++)
        h = (h ^ (uint64_t)(unsigned char)*c) * 0x100000001b3ull;
    return h;
}

uint64_t wl_op_weights(const wl_desc *d, const wl_op *op, uint64_t inst, float *w)
{
    uint64_t count = op->weights;
    if (!w || !count)
        return count;
    util_rng rng;
    util_rng_seed(&rng, op_stream(d, op, inst));
    /* Dense and block-butterfly entries are uniform with variance 1/fan-in (the tiles of
     * a block-butterfly stage see 2B inputs), butterfly twiddles keep the norm as in the
     * butterfly layer, LN gamma is near 1 and beta near 0. */
    double a;
    if (op->kind == WL_OP_DENSE)
        a = sqrt(3.0 / (double)op->in);
    else if (op->kind == WL_OP_BLOCK_BFLY)
        a = sqrt(3.0 / (2.0 * (double)op->param));
    else
        a = sqrt(1.5);
    for (uint64_t i = 0; i < count; i++) {
        double u = 2.0 * util_rng_uniform(&rng) - 1.0;
        double v =
            op->kind == WL_OP_LAYERNORM ? (i < count / 2 ? 1.0 + 0.25 * u : 0.25 * u) : a * u;
        w[i] = util_round_dtype(d->dtype, (float)v);
    }
    return count;
}

void wl_kv_cache(const wl_desc *d, uint64_t inst, float *k, float *v)
{
    util_rng rng;
    util_rng_seed(&rng, (d->seed ^ 0x2545f4914f6cdd1dull) * 0x9e3779b97f4a7c15ull + inst);
    uint64_t count = d->kv_len * d->hidden;
    for (uint64_t i = 0; i < 2 * count; i++) {
        float u = util_round_dtype(d->dtype, (float)(2.0 * util_rng_uniform(&rng) - 1.0));
        (i < count ? k : v)[i % count] = u;
    }
}

void wl_model_inputs(const wl_desc *d, float *x)
{
    util_rng rng;
    util_rng_seed(&rng, d->seed ^ 0x5851f42d4c957f2dull);
    uint64_t count = d->batch * d->seq_len * d->hidden;
    for (uint64_t i = 0; i < count; i++)
        x[i] = util_round_dtype(d->dtype, (float)(2.0 * util_rng_uniform(&rng) - 1.0));
}
