/* workload.h: workload descriptions and the operations they expand into. */
#ifndef BFLY_WORKLOAD_H
#define BFLY_WORKLOAD_H

#include <stdint.h>

#include "../util/util.h"

#define WL_NAME_MAX 64

typedef enum { WL_KIND_BUTTERFLY_LINEAR = 0, WL_KIND_MODEL, WL_KIND_GEMM, WL_KIND_COUNT } wl_kind;
const char *wl_kind_name(wl_kind k);

/* How the butterfly twiddles are drawn. */
typedef enum { WL_INIT_RANDOM = 0, WL_INIT_IDENTITY, WL_INIT_COUNT } wl_init;
const char *wl_init_name(wl_init i);

/* Token mixer of an encoder block (DESIGN.md section 4). */
typedef enum {
    WL_MIX_ATTENTION = 0, /* dense softmax attention */
    WL_MIX_BUTTERFLY,     /* butterfly along the sequence, per feature */
    WL_MIX_FFT,           /* 2-D Fourier mixing, real part (FNet) */
    WL_MIX_FFT_COMPRESS,  /* Fourier mixing with chunked, truncated sequence FFTs */
    WL_MIX_COUNT
} wl_mixer;
const char *wl_mixer_name(wl_mixer m);

/* Structure of a linear layer (projections, FFN). */
typedef enum {
    WL_LIN_DENSE = 0,
    WL_LIN_BUTTERFLY,
    WL_LIN_BLOCK_BUTTERFLY,
    WL_LIN_NONE, /* projections only: no projections around a non-attention mixer */
    WL_LIN_COUNT
} wl_linear;
const char *wl_linear_name(wl_linear l);

typedef enum { WL_MASK_NONE = 0, WL_MASK_CAUSAL, WL_MASK_COUNT } wl_mask;

/* One entry of a model's block list: `repeat` identical encoder blocks. */
typedef struct wl_block {
    uint64_t repeat;
    wl_mixer mixer;
    wl_linear proj;
    wl_linear ffn;
    uint64_t block_size; /* block-butterfly tile B */
    uint64_t chunk;      /* fft-compress: tokens per chunk */
    double keep;         /* fft-compress: fraction of each chunk's coefficients kept */
} wl_block;

#define WL_MAX_BLOCKS 16

/* One GEMM of a gemm workload: C[m x n] = A[m x k] B[k x n], `count` times (a SCALE-Sim
 * topology row: a convolution becomes m = output pixels, n = filters, k = window x
 * channels). */
#define WL_GEMM_NAME_MAX 48
typedef struct wl_gemm {
    char name[WL_GEMM_NAME_MAX];
    uint64_t m, n, k, count;
} wl_gemm;
#define WL_MAX_GEMMS 1024

/* A workload file, validated. Butterfly-linear workloads use n, rows and init; models
 * use the model fields and the block list. */
typedef struct wl_desc {
    char name[WL_NAME_MAX];
    wl_kind kind;
    uint64_t n;    /* butterfly size (power of two) */
    uint64_t rows; /* vectors the layer is applied to */
    util_dtype dtype;
    uint64_t seed;
    wl_init init;
    /* model: seq_len tokens run through the blocks; a decode step (new_tokens set) runs
     * its new_tokens (seq_len = new_tokens) against a K/V cache of kv_len tokens */
    uint64_t seq_len, hidden, heads, ffn, batch;
    uint64_t new_tokens, kv_len;
    wl_mask mask;
    uint32_t n_blocks;
    wl_block blocks[WL_MAX_BLOCKS];
    /* gemm: the GEMMs, in order */
    uint32_t n_gemms;
    wl_gemm gemms[WL_MAX_GEMMS];
} wl_desc;

/* Butterfly linear layer y = B x on `rows` vectors of n elements (DESIGN.md section 4).
 * Stage s (0 <= s < log2 n) pairs element j (bit s clear) with j + 2^s and mixes the
 * pair with its own 2x2 matrix [a b; c d]: y_j = a x_j + b x_{j+2^s},
 * y_{j+2^s} = c x_j + d x_{j+2^s}. Stage 0 is applied first (B = B_n ... B_2). */
typedef struct wl_butterfly {
    uint64_t n, rows;
    uint32_t stages; /* log2 n */
    util_dtype dtype;
    uint64_t seed;
    wl_init init;
} wl_butterfly;

void wl_butterfly_from_desc(const wl_desc *d, wl_butterfly *b);

/* Index of the twiddle quadruple (a, b, c, d) of stage s for the pair whose lower
 * element is j0 (bit s of j0 clear): ((s * n/2) + remove_bit(j0, s)) * 4. */
uint64_t wl_twiddle_index(const wl_butterfly *b, uint32_t s, uint64_t j0);
uint64_t wl_twiddle_count(const wl_butterfly *b); /* stages * n/2 * 4 */

/* Fills tw[wl_twiddle_count] with the seeded twiddles, rounded to the data type.
 * Random twiddles are uniform in [-sqrt(1.5), sqrt(1.5)]: variance 1/2 per entry,
 * so a stage keeps the expected squared norm of a vector. */
void wl_butterfly_twiddles(const wl_butterfly *b, float *tw);
/* Fills x[rows*n] with seeded inputs uniform in [-1, 1), rounded to the data type. */
void wl_butterfly_inputs(const wl_butterfly *b, float *x);

/* Closed-form operation counts. A stage does n/2 pairs x 4 multiplies; on a MAC unit
 * that is 4 lane operations per pair (mul, mac, mul, mac); as flops it is 6 per pair
 * (4 multiplies, 2 adds). */
uint64_t wl_butterfly_macs(const wl_butterfly *b);
uint64_t wl_butterfly_flops(const wl_butterfly *b);

/* ---------------------------------------------------------------- models
 *
 * A model is a stack of post-LN encoder blocks (BERT style) over batch sequences of
 * seq_len tokens of `hidden` features:
 *   attention mixer:  Q, K, V = proj(X); per head S = Q K^T / sqrt(d) (+ causal mask),
 *                     P = softmax(S), C = P V; A = proj_o(C)
 *   other mixers:     A = proj_o(mix(X)) (or mix(X) when proj = none)
 *   X1 = LN(X + A);   X2 = LN(X1 + ffn2(GELU(ffn1(X1))))
 * Butterfly sizes are padded: a linear layer of `in` -> `out` features is a butterfly of
 * size n = next power of two >= max(in, out) on the input padded with zeros, truncated to
 * `out`; sequence transforms pad the sequence to a power of two the same way. */

typedef enum {
    WL_OP_DENSE = 0,    /* y[rows x out] = x[rows x in] W[in x out] */
    WL_OP_BUTTERFLY,    /* butterfly of size n along the features */
    WL_OP_BLOCK_BFLY,   /* block butterfly of size n, tile `param` */
    WL_OP_SEQ_BFLY,     /* butterfly of size n along the sequence, per feature */
    WL_OP_FFT_MIX,      /* Re(FFT_seq(FFT_hidden(x))), sizes n_h = param, n_s = n */
    WL_OP_FFT_COMPRESS, /* FFT_hidden, then chunked sequence FFTs (chunk = param) */
    WL_OP_SCORES,       /* per head S = Q K^T / sqrt(d), optional causal mask */
    WL_OP_SOFTMAX,      /* rows of length n */
    WL_OP_CONTEXT,      /* per head C = P V */
    WL_OP_LAYERNORM,
    WL_OP_GELU,
    WL_OP_ADD,
    WL_OP_ATTENTION, /* scores, softmax and context fused: per head C = softmax(Q K^T) V */
    /* A Fourier mixer in two halves (wl_split_fft), so that the row-local half can join a
     * fused group: */
    WL_OP_FFT_HIDDEN, /* FFT_hidden per token (size n = param): H real in, H complex out */
    WL_OP_FFT_SEQ,    /* the sequence FFTs of the H complex columns (chunk = param, keep d) */
    WL_OP_COUNT
} wl_op_kind;
const char *wl_op_kind_name(wl_op_kind k);

/* Activations of one block, by role. */
typedef enum {
    WL_T_X = 0, /* block input */
    WL_T_Q,
    WL_T_K,
    WL_T_V,
    WL_T_S,
    WL_T_P,
    WL_T_C,
    WL_T_M, /* mixer output (non-attention mixers) */
    WL_T_A, /* mixer branch output */
    WL_T_R1,
    WL_T_X1,
    WL_T_F1,
    WL_T_G,
    WL_T_F2,
    WL_T_R2,
    WL_T_X2, /* block output */
    WL_T_H,  /* a Fourier mixer's hidden FFT: H complex values per token, (re, im) pairs */
    WL_T_COUNT
} wl_tensor;

#define WL_OP_NAME_MAX 24
#define WL_MAX_BLOCK_OPS 16

typedef struct wl_op {
    wl_op_kind kind;
    char name[WL_OP_NAME_MAX]; /* "q-proj", "scores", "ffn1" ... */
    uint64_t rows;             /* vectors: batch x seq_len tokens (x heads for softmax) */
    uint64_t in, out;          /* features per vector in and out (dense, butterfly) */
    uint64_t n;                /* transform size (padded), or keys per query (attention) */
    uint64_t nq;               /* attention: queries per group (n - nq of the keys are cached) */
    uint64_t groups;           /* attention: batch x heads; sequence transforms: batch */
    uint64_t d;                /* attention: features per head */
    uint64_t param;            /* block-butterfly tile; FFT: hidden transform size; chunk */
    wl_tensor src0, src1, dst;
    /* closed forms */
    uint64_t macs;    /* multiplies: a MAC counts one; a butterfly pair four */
    uint64_t flops;   /* a MAC counts two; butterfly pair 6; n-point FFT 5 n log2 n */
    uint64_t weights; /* weight elements */
} wl_op;

/* Elements of a block tensor ([rows x features], row-major; S and P are
 * [groups x seq_len x seq_len], Q/K/V/C are [batch x seq_len x hidden]). */
uint64_t wl_tensor_elems(const wl_desc *d, wl_tensor t);

/* The ops of one block of entry b, in execution order. Returns their number. */
uint32_t wl_block_ops(const wl_desc *d, uint32_t b, wl_op ops[WL_MAX_BLOCK_OPS]);

/* The fused attention op standing for ops[first..first+2] = scores, softmax, context of
 * one block: the same work (its counts are their sums), reading Q and the [K | V] pair
 * (src1 = WL_T_K, whose rows carry V right after K) and writing C. */
void wl_fused_attention(const wl_op ops[3], wl_op *out);

/* A Fourier mixer (WL_OP_FFT_MIX or WL_OP_FFT_COMPRESS) as its two halves: the hidden
 * FFT of every token (X -> H, row-local) and the sequence FFTs (H -> the mixer's output),
 * their counts adding up to the mixer's. */
void wl_split_fft(const wl_op *mix, wl_op *hidden, wl_op *seq);

/* Totals over the model (blocks x repeats). */
typedef struct wl_totals {
    uint64_t macs, flops, weights;
} wl_totals;
void wl_model_totals(const wl_desc *d, wl_totals *t);

/* The model's dense counterpart: every block attention with dense projections and FFN. */
void wl_dense_counterpart(const wl_desc *d, wl_desc *dense);

/* Per-element flop counts of the elementwise ops, as their PE kernels execute them (a
 * multiply-accumulate counts two). */
#define WL_FLOPS_SOFTMAX 5   /* max, subtract, exp, sum, scale */
#define WL_FLOPS_LAYERNORM 7 /* sum, square-accumulate (2), subtract, scale, gamma, beta */
#define WL_FLOPS_GELU 14     /* 5 multiplies, 3 multiply-adds (6), exp, add, reciprocal */
#define WL_FLOPS_ADD 1

/* Layernorm epsilon (PyTorch's default; BERT uses 1e-12, which FP16 cannot tell apart). */
#define WL_LN_EPS 1e-5

/* Seeded weights of op `op` of block instance `inst` (0-based over all repeats):
 * dense [in x out], butterfly twiddles (ref_butterfly order, size n), block-butterfly
 * tiles, LN gamma then beta (2 x out). Returns the element count; w may be NULL. */
uint64_t wl_op_weights(const wl_desc *d, const wl_op *op, uint64_t inst, float *w);
/* Seeded model input [batch x seq_len x hidden]. */
void wl_model_inputs(const wl_desc *d, float *x);

uint64_t wl_pow2_ceil(uint64_t x);
/* Whether any block of the model mixes tokens by attention. */
bool wl_has_attention(const wl_desc *d);

/* Keys per sequence an attention block sees: the cache's and the step's tokens. */
uint64_t wl_keys(const wl_desc *d);

/* Fills k and v ([kv_len x hidden] each) with block instance inst's seeded K/V cache:
 * uniform in [-1, 1), rounded to the data type. */
void wl_kv_cache(const wl_desc *d, uint64_t inst, float *k, float *v);

#endif
