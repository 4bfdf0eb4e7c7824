/* model.c: a model's ops as a dense accelerator runs them: GEMMs and vector work.
 *
 * Notes. A dense systolic accelerator has no butterfly or FFT datapath: a linear op runs
 * as the GEMM of its dense equivalent at the layer's true size (a butterfly layer as its
 * in x out matrix, a sequence butterfly as the seq x seq matrix on every feature column;
 * a block butterfly as its B x B tile products; a DFT as real matrices, two for a real
 * input, two for the real part of a complex one, the compressed mixer's in its chunks),
 * attention as its two products per head, and the row-wise ops (softmax, layernorm,
 * GELU, add) on a vector unit at the array's edge, overlapping its DRAM traffic. Not
 * modelled: a dense accelerator that would run butterflies or FFTs stage by stage. */
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

void peer_op_work(const wl_op *op, util_dtype t, peer_work *w)
{
    memset(w, 0, sizeof *w);
    double e = util_dtype_bytes(t), T = (double)op->rows, out = (double)op->out;
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
    case WL_OP_SOFTMAX:
        w->vector_flops = (double)op->flops;
        w->vector_bytes = 2 * T * (double)op->n * e;
        break;
    case WL_OP_LAYERNORM:
    case WL_OP_GELU:
        w->vector_flops = (double)op->flops;
        w->vector_bytes = 2 * T * out * e;
        break;
    case WL_OP_ADD:
        w->vector_flops = (double)op->flops;
        w->vector_bytes = 3 * T * out * e;
        break;
    case WL_OP_COUNT:
        break;
    }
}
