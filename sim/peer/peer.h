/* peer.h: peer accelerators modelled beside the mld array (docs/PEERS.md), timed by a
 * model of their own dataflow. */
#ifndef BFLY_PEER_H
#define BFLY_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "../arch/arch.h"
#include "../util/util.h"
#include "../workload/workload.h"

/* The dataflow model that times a peer: a dense systolic array (systolic.c), FABNet-style
 * butterfly engines beside it (butterfly.c), or a Sanger-style sparse-attention array
 * (sparse.c). */
typedef enum { PEER_SYSTOLIC = 0, PEER_BUTTERFLY, PEER_SPARSE, PEER_KIND_COUNT } peer_kind;
/* Which operand stays in the PEs: the output (os), the weight (ws), SCALE-Sim's names. */
typedef enum { PEER_OS = 0, PEER_WS, PEER_DATAFLOW_COUNT } peer_dataflow;

#define PEER_NAME_MAX 64

/* A peer preset (a file in arch/peers/), validated. */
typedef struct peer_desc {
    char name[PEER_NAME_MAX];
    int kind; /* the file's kind: 0, "peer" */
    peer_kind model;
    double clock_ghz;
    struct {
        uint32_t rows, cols; /* PEs, one MAC each per cycle */
        peer_dataflow dataflow;
        uint32_t vector_lanes; /* the vector unit at its edge: elementwise ops per cycle */
    } array;
    struct {
        /* engines of `units` butterfly units, each 4 multipliers: one real butterfly (a
         * pair, 4 MACs) or one complex radix-2 butterfly a cycle; the same multipliers as
         * the array's rows x cols, reconfigured (model "butterfly") */
        uint32_t engines, units;
    } butterfly;
    struct {
        double density;         /* the share of attention scores kept (model "sparse") */
        double threshold;       /* a kept score's least probability: at most 1/threshold a row */
        uint32_t predict_bits;  /* the mask prediction's operands' bits */
        double pack_efficiency; /* the array's use on the packed sparse scores */
        uint32_t index_bits;    /* a kept score's column index */
    } sparse;
    struct {
        uint64_t ifmap_bytes, filter_bytes, ofmap_bytes; /* double-buffered SRAMs */
    } sram;
    struct {
        double bandwidth_gbs; /* the SRAMs' fill and drain, all together */
    } dram;
    char energy_arch[PEER_NAME_MAX]; /* the mld arch whose energy table prices it ("": none) */
} peer_desc;

const char *peer_kind_name(peer_kind k);
/* Peak MACs per cycle: the array's PEs (the butterfly engines' multipliers are the same). */
uint64_t peer_macs_per_cycle(const peer_desc *p);
const char *peer_dataflow_name(peer_dataflow d);

/* One op (a GEMM, or a model op) on a peer. */
typedef struct peer_op {
    char name[WL_GEMM_NAME_MAX]; /* as the per-op table names it */
    const char *kind;            /* "gemm", or the model op's kind */
    uint32_t block;              /* a model's block entry */
    uint64_t repeat;             /* instances (a block's repeat; a GEMM's count) */
    uint64_t compute_cycles;     /* the array's, as SCALE-Sim counts them */
    uint64_t stall_cycles;       /* waiting for DRAM (0 with ideal memory) */
    uint64_t cycles;             /* compute + stall */
    uint64_t folds;              /* array-sized tiles of the mapping */
    uint64_t macs;               /* useful multiply-accumulates */
    uint64_t dram_read_bytes, dram_write_bytes;
    double mapping_efficiency;                  /* useful PEs over all, averaged over the folds */
    uint64_t sram_read_bytes, sram_write_bytes; /* the array's operands and outputs, and
                                                 * the DRAM's fills and drains */
    /* energy (pJ), with a table: MACs, SRAM accesses, DRAM, leakage over the cycles,
     * overheads; energy_pj is their sum */
    double compute_pj, sram_pj, dram_pj, leakage_pj, energy_pj;
    double overhead_pj; /* pipeline registers and the clock tree (docs/ENERGY.md) */
} peer_op;

typedef struct peer_result {
    uint32_t n_ops;
    peer_op *ops; /* one per GEMM of the workload (count included) */
    peer_op total;
} peer_result;

/* Radix-2 transforms on butterfly engines: `transforms` of `points` each (a power of two),
 * real butterflies with weights or complex FFT butterflies with on-chip twiddles. */
typedef struct peer_pass {
    uint64_t transforms, points;
    bool complex;
    uint64_t weights;               /* weight elements: once per op, or per round when too big */
    double read_bytes, write_bytes; /* the op's input and output in DRAM */
} peer_pass;

/* Attention as a sparse-attention accelerator runs it: which parts of one head's
 * softmax(Q K^T) V the op holds, for `groups` heads of nq queries over n keys. */
typedef struct peer_attention {
    uint64_t groups, nq, n, d;
    bool scores, softmax, context;
} peer_attention;

/* A model op as peer p runs it (model.c): GEMMs (a dense op, or a transform's dense
 * equivalent on a peer without butterfly engines), transforms on butterfly engines,
 * sparse attention, and row-wise work on the vector unit. */
#define PEER_MAX_OP_GEMMS 4
#define PEER_MAX_OP_PASSES 2
typedef struct peer_work {
    uint32_t n_gemms;
    wl_gemm gemm[PEER_MAX_OP_GEMMS];
    uint32_t n_passes;
    peer_pass pass[PEER_MAX_OP_PASSES];
    bool attention;
    peer_attention attn;
    double vector_flops, vector_read_bytes, vector_write_bytes;
} peer_work;
void peer_op_work(const peer_desc *p, const wl_op *op, util_dtype t, peer_work *w);

/* Times every GEMM of gemm workload w (or every op of model w) on p (ideal: memory never stalls, as
 * in SCALE-Sim's default runs), and prices it with e (NULL or not present: no energy). */
int peer_run(const peer_desc *p, const wl_desc *w, bool ideal, const arch_energy *e,
             peer_result *out, char *err, size_t errlen);
/* The peer's area (mm2) with an mld arch's area figures t (docs/AREA.md): its MAC PEs (a
 * multiply-add lane each), a sparse peer's predictor (the array's area again), its vector
 * unit (an add lane each), its SRAMs and a controller; 0 without figures. */
double peer_area_mm2(const peer_desc *p, const arch_area *t);
/* The peer's leakage (mW): its MAC PEs, its SRAMs and the DRAM behind them. */
double peer_leakage_mw(const peer_desc *p, const arch_energy *e);
void peer_free(peer_result *r);

#endif
