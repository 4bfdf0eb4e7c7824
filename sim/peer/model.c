/* model.c: a model's ops as a dense accelerator runs them: GEMMs and vector work.
 *
 * Notes. A dense systolic accelerator has no butterfly or FFT datapath: a linear op runs
 * as the GEMM of its dense equivalent (a butterfly of n points as an n x n matrix; a
 * block butterfly as its B x B tile products; a DFT as real matrices, two for a real
 * input, two for the real part of a complex one), attention as its two products per
 * head, and the row-wise ops (softmax, layernorm, GELU, add) on a vector unit at the
 * array's edge. Chosen in the peer's favour: the dense equivalents waste no structure
 * the peer could not use, and the vector unit overlaps its DRAM traffic. */
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
    uint64_t cols = op->in * op->groups; /* a sequence transform's columns: features x batch */
    switch (op->kind) {
    case WL_OP_DENSE:
        gemm(w, op->rows, op->out, op->in, 1);
        break;
    case WL_OP_BUTTERFLY:
        gemm(w, op->rows, op->n, op->n, 1);
        break;
    case WL_OP_BLOCK_BFLY: /* per stage, n/(2B) tile pairs of 4 B x B products */
        gemm(w, op->rows, op->param, op->param,
             4 * (op->n / (2 * op->param)) * (uint64_t)util_log2(op->n / op->param));
        break;
    case WL_OP_SEQ_BFLY:
        gemm(w, cols, op->n, op->n, 1);
        break;
    case WL_OP_FFT_MIX: /* hidden DFT per token, then the sequence DFT per column */
        dft(w, op->rows, op->param, 1);
        dft(w, op->param * op->groups, op->n, 1);
        break;
    case WL_OP_FFT_HIDDEN:
        dft(w, op->rows, op->n, 1);
        break;
    case WL_OP_FFT_SEQ:
    case WL_OP_FFT_COMPRESS: /* chunks of `param` tokens (the whole sequence for FFT_SEQ
                              * without a chunk) */
        if (op->kind == WL_OP_FFT_COMPRESS)
            dft(w, op->rows, wl_pow2_ceil(op->in), 1);
        {
            uint64_t chunk = op->param && op->param < op->n ? op->param : op->n;
            dft(w, cols ? cols : op->in, chunk, op->n / chunk);
        }
        break;
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
