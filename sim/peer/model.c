/* model.c: a model's ops as a peer runs them: GEMMs, butterfly passes, sparse attention
 * and vector work.
 *
 * Notes. A dense array has no butterfly or FFT datapath: on a systolic peer a linear op
 * runs as the GEMM of its dense equivalent at the layer's true size (a butterfly layer as
 * its in x out matrix, a sequence butterfly as the seq x seq matrix on every feature
 * column; a block butterfly as its B x B tile products; a DFT as real matrices, two for a
 * real input, two for the real part of a complex one, the compressed mixer's in its
 * chunks), attention as its two products per head, and the row-wise ops (softmax,
 * layernorm, GELU, add) on a vector unit at the array's edge, overlapping its DRAM
 * traffic. A butterfly peer runs butterflies and FFTs as radix-2 passes on its engines
 * (block butterflies stay tile GEMMs: FABNet has no block mode); a sparse peer runs
 * attention sparsely. Not modelled: a dense array that would run butterflies or FFTs
 * stage by stage. */
#include <string.h>

#include "peer.h"

static void gemm(peer_work *w, uint64_t m, uint64_t n, uint64_t k, uint64_t count)
{
    if (w->n_gemms < PEER_MAX_OP_GEMMS && m && n && k && count)
        w->gemm[w->n_gemms++] = (wl_gemm){.m = m, .n = n, .k = k, .count = count};
}

/* Real DFTs of `points` on `cols` columns: real input (re) or complex (Re of the result). */
static void dft(peer_work *w, uint64_t cols, uint64_t points, uint64_t count)
{
    gemm(w, cols, points, points, 2 * count);
}

static void pass(peer_work *w, uint64_t transforms, uint64_t points, bool complex, uint64_t weights,
                 double read_bytes, double write_bytes)
{
    if (w->n_passes < PEER_MAX_OP_PASSES && transforms && points)
        w->pass[w->n_passes++] = (peer_pass){.transforms = transforms,
                                             .points = wl_pow2_ceil(points),
                                             .complex = complex,
                                             .weights = weights,
                                             .read_bytes = read_bytes,
                                             .write_bytes = write_bytes};
}

/* The op's dense equivalent, as a systolic peer runs it. */
static void dense_work(const wl_op *op, peer_work *w)
{
    /* a token mixer's sequence (unpadded) and its columns: features x batch */
    uint64_t seq = op->groups ? op->rows / op->groups : op->n;
    uint64_t cols = op->out * op->groups;
    switch (op->kind) {
    case WL_OP_DENSE:
    case WL_OP_BUTTERFLY: /* (a butterfly layer's dense equivalent: in x out) */
        gemm(w, op->rows, op->out, op->in, 1);
        break;
    case WL_OP_BLOCK_BFLY: /* per stage, n/(2B) tile pairs of 4 B x B products */
        gemm(w, op->rows, op->param, op->param,
             4 * (op->n / (2 * op->param)) * (uint64_t)util_log2(op->n / op->param));
        break;
    case WL_OP_SEQ_BFLY: /* the dense seq x seq matrix on every column */
        gemm(w, cols, seq, seq, 1);
        break;
    case WL_OP_FFT_MIX: /* a real DFT per token, then the sequence DFT per column */
        dft(w, op->rows, op->in, 1);
        dft(w, cols, seq, 1);
        break;
    case WL_OP_FFT_HIDDEN:
        dft(w, op->rows, op->in, 1);
        break;
    case WL_OP_FFT_SEQ:
        dft(w, cols, seq, 1);
        break;
    case WL_OP_FFT_COMPRESS: { /* the hidden DFT, then the sequence in chunks */
        uint64_t chunk = op->param && op->param < seq ? op->param : seq;
        dft(w, op->rows, op->in, 1);
        dft(w, cols, chunk, (seq + chunk - 1) / chunk);
        break;
    }
    case WL_OP_SCORES:
        gemm(w, op->nq, op->n, op->d, op->groups);
        break;
    case WL_OP_CONTEXT:
        gemm(w, op->nq, op->d, op->n, op->groups);
        break;
    case WL_OP_ATTENTION:
        gemm(w, op->nq, op->n, op->d, op->groups);
        gemm(w, op->nq, op->d, op->n, op->groups);
        w->vector_flops = (double)op->nq * (double)op->n * (double)op->groups * WL_FLOPS_SOFTMAX;
        break;
    default: /* (row-wise: vector work) */
        break;
    }
}

/* A butterfly or FFT op as radix-2 passes on butterfly engines: true when it is one. The
 * mixers' intermediate (rows x hidden complex) stays on chip when it fits half of the
 * SRAMs, else it goes out to DRAM and back. */
static bool butterfly_work(const peer_desc *p, const wl_op *op, double e, peer_work *w)
{
    double T = (double)op->rows, in = T * (double)op->in * e, out = T * (double)op->out * e;
    uint64_t cols = op->in * op->groups, seq = op->groups ? op->rows / op->groups : op->n;
    double mid = 2 * in,
           sram = (double)(p->sram.ifmap_bytes + p->sram.filter_bytes + p->sram.ofmap_bytes);
    double spill = 2 * mid <= sram ? 0 : mid;
    switch (op->kind) {
    case WL_OP_BUTTERFLY:
        pass(w, op->rows, op->n, false, op->weights, in, out);
        return true;
    case WL_OP_SEQ_BFLY:
        pass(w, cols, op->n, false, op->weights, in, out);
        return true;
    case WL_OP_FFT_HIDDEN:
        pass(w, op->rows, op->param, true, 0, in, mid);
        return true;
    case WL_OP_FFT_SEQ:
    case WL_OP_FFT_MIX:
    case WL_OP_FFT_COMPRESS: {
        /* (a split sequence half carries its chunk in param: n for the plain mixer) */
        bool whole = op->kind == WL_OP_FFT_MIX;
        uint64_t chunk = whole ? op->n : op->param && op->param < seq ? op->param : seq;
        uint64_t chunks = whole ? 1 : (seq + chunk - 1) / chunk;
        if (op->kind == WL_OP_FFT_SEQ) {
            pass(w, cols * chunks, chunk, true, 0, mid, out);
            return true;
        }
        pass(w, op->rows, op->param && whole ? op->param : op->in, true, 0, in, spill);
        pass(w, cols * chunks, chunk, true, 0, spill, out);
        return true;
    }
    default:
        return false;
    }
}

/* Attention as a sparse peer runs it: true when the op is part of attention. */
static bool attention_work(const wl_op *op, peer_work *w)
{
    bool s = op->kind == WL_OP_SCORES || op->kind == WL_OP_ATTENTION;
    bool m = op->kind == WL_OP_SOFTMAX || op->kind == WL_OP_ATTENTION;
    bool c = op->kind == WL_OP_CONTEXT || op->kind == WL_OP_ATTENTION;
    if (!s && !m && !c)
        return false;
    w->attention = true;
    w->attn = (peer_attention){.groups = op->groups,
                               .nq = op->nq,
                               .n = op->n,
                               .d = op->d,
                               .scores = s,
                               .softmax = m,
                               .context = c};
    return true;
}

void peer_op_work(const peer_desc *p, const wl_op *op, util_dtype t, peer_work *w)
{
    memset(w, 0, sizeof *w);
    double e = util_dtype_bytes(t), T = (double)op->rows, out = (double)op->out;
    if (p->model == PEER_BUTTERFLY && butterfly_work(p, op, e, w))
        return;
    if (p->model == PEER_SPARSE && attention_work(op, w))
        return;
    dense_work(op, w);
    switch (op->kind) {
    case WL_OP_SOFTMAX:
        w->vector_flops = (double)op->flops;
        w->vector_read_bytes = w->vector_write_bytes = T * (double)op->n * e;
        break;
    case WL_OP_LAYERNORM:
    case WL_OP_GELU:
        w->vector_flops = (double)op->flops;
        w->vector_read_bytes = w->vector_write_bytes = T * out * e;
        break;
    case WL_OP_ADD:
        w->vector_flops = (double)op->flops;
        w->vector_read_bytes = 2 * T * out * e;
        w->vector_write_bytes = T * out * e;
        break;
    default:
        break;
    }
}
