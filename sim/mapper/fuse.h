/* fuse.h: the fused groups' internals, shared by fuse.c (the group and its search),
 * fuse_layer.c (each layer's instructions, kernels and costs) and fuse_build.c (the
 * program: transfers, segments, tags). Only sim/mapper includes it. */
#ifndef BFLY_MAPPER_FUSE_H
#define BFLY_MAPPER_FUSE_H

#include "internal.h"

#define FZ_MAX_TENSORS (3 * MAP_FUSE_MAX_OPS)
#define FZ_MAX_SEGS 4
#define FZ_MAX_RUNS 8
#define FZ_MAX_BITS 24
#define FZ_MAX_NORM_SEGS 64
#define FZ_MAX_ROWS 16    /* rows per tag */
#define FZ_MAX_PARTS 256  /* streamed weights: parts per tag */
#define FZ_STAGE_SLOTS 16 /* streamed weights: staging buffers a segment asks for first */
#define FZ_MAX_FOLD MAP_FUSE_MAX_FOLD
#define FZ_SWEEP_STEPS 160
#define FZ_PLANS_PER_SWEEP 4
#define FZ_NONE UINT32_MAX
/* fz_build: the plan does not fit the array (not an error: the search skips it) */
#define FZ_NOFIT 100

typedef enum { FZ_RUNS, FZ_NORM, FZ_DENSE } fz_kind;

/* Stages s0 .. s0 + k - 1 of a transform on 2^p PEs: PE q holds, of every row, the units
 * whose index has q in the bits of qmask (the p highest bits outside the run's stage
 * bits); the others, in order, give the unit's place in the PE's buffer. */
typedef struct fz_run {
    uint32_t s0, k, p;
    uint64_t qmask;
} fz_run;

typedef struct fz_layer {
    fz_kind kind;
    uint32_t op, op2, op_gelu; /* member ops: the op; the layernorm after an add; the GELU */
    uint32_t n_in, in[2], out; /* tensors */
    uint32_t seg;
    bool gelu;   /* RUNS, DENSE: GELU on the way out */
    bool stream; /* RUNS, DENSE: an instruction whose PE cannot hold its weights streams them */
    char name[2 * WL_OP_NAME_MAX + 2];
    /* RUNS: N units of u elements, `stages` stages, wpp weights per unit pair */
    map_stage_kind sk;
    uint64_t N, u, wpp, in_cols, out_cols;
    uint32_t stages;
    bool re_in, rev_out; /* FFT: real input, bit-reversed (natural: kept first) output */
    /* NORM: an add (two inputs), a layernorm, or both, over rows of H */
    bool add, norm;
    uint64_t H;
    /* DENSE: rows of nin in, nout out */
    uint64_t nin, nout;
    /* the plan */
    uint32_t n_runs;
    fz_run run[FZ_MAX_RUNS];
    uint32_t S;    /* NORM: segments */
    uint32_t C, K; /* DENSE: column tiles, K chunks */
    /* the built program */
    uint32_t i0, n_i; /* its instructions in its segment's list */
    uint32_t slot0;   /* its first PE slot (snake position) */
} fz_layer;

typedef struct fz_tensor {
    map_tensor t;  /* where it lies; a ring tensor moves through dense scratch instead */
    int32_t layer; /* producer, -1: read from outside the group */
    bool stored;   /* read after the group: written to t */
    bool ring;     /* the next segment reads it through an SPM ring */
} fz_tensor;

/* A part of a segment's tags: one tensor's R rows, at slot offset off (row r at off + r
 * x cols). FZ_PART_DRAM: a stored ring tensor's copy to its own place. */
#define FZ_PART_DRAM 1u
typedef struct fz_part {
    uint32_t tensor;
    uint64_t off;
    uint32_t flags;
} fz_part;

typedef struct fz_seg {
    uint32_t l0, nl; /* its layers */
    uint32_t n_in, n_out, ring_in;
    fz_part in[ENG_TAG_PARTS], out[ENG_TAG_PARTS];
    uint64_t in_elems, out_elems; /* per tag */
} fz_seg;

typedef struct fz_group {
    const arch_desc *a;
    const wl_desc *d;
    const map_fuse_op *ops;
    uint32_t n_ops;
    util_dtype dt;
    uint32_t lanes, wb;
    uint64_t rows;    /* of every tensor */
    uint32_t R, F;    /* rows per tag; fold: PE slots per PE */
    bool stream;      /* layers may stream weights (each only where it must) */
    map_weights keep; /* streamed weights: kept in the SPM, reloaded from DRAM, or either */
    bool kept;        /* fz_build: the streamed weights are kept in the SPM */
    uint64_t free_addr;
    uint32_t n_t;
    fz_tensor t[FZ_MAX_TENSORS];
    uint32_t n_l;
    fz_layer l[MAP_FUSE_MAX_OPS];
    uint32_t n_seg;
    fz_seg seg[FZ_MAX_SEGS];
} fz_group;

/* Kernel context of one instruction. */
typedef enum {
    FZ_K_RUN,
    FZ_K_NORM_FULL,
    FZ_K_NORM_STATS,
    FZ_K_NORM_REDUCE,
    FZ_K_NORM_APPLY,
    FZ_K_DENSE
} fz_kkind;
typedef struct fz_kctx {
    fz_kkind kind;
    const fz_layer *L;
    uint32_t R;
    uint32_t run, q;  /* RUN: run index and PE within it */
    uint32_t len;     /* NORM: segment length; DENSE: K chunk */
    uint32_t S;       /* NORM_REDUCE: segments */
    uint32_t cols;    /* DENSE: column tile */
    bool first, last; /* DENSE: first and last K chunk */
    uint32_t n_pre;
    uint32_t *pre; /* RUN: buffer positions of padding, zeroed first */
} fz_kctx;

/* A built program and everything behind it. */
typedef struct fz_prog {
    eng_program program;
    eng_phase phases[FZ_MAX_SEGS];
    map_store st;
    uint64_t dram_end;
    uint64_t ring_addr[FZ_MAX_TENSORS]; /* a ring tensor's dense scratch */
    eng_instr *instr[FZ_MAX_SEGS];
    fz_kctx *ctx[FZ_MAX_SEGS];
    uint32_t n_instr[FZ_MAX_SEGS];
} fz_prog;

/* Where an element of a tag lies: an instruction of the segment and a buffer position. */
typedef struct fz_loc {
    uint32_t instr, pos;
} fz_loc;

/* The layer before layer l that makes tensor t, or -1 when layer l reads t from outside
 * the group (the block output overwrites the block input, which the group reads first). */
static inline int32_t fz_producer(const fz_group *g, uint32_t t, uint32_t l)
{
    int32_t p = g->t[t].layer;
    return p >= 0 && (uint32_t)p < l ? p : -1;
}

/* ---------------------------------------------------------------- fuse_layer.c */

/* The busiest PE slot of layer L's plan, per tag, and the PE slots it takes; false when
 * its slots and weights overflow a PE buffer's share (1/F of it). */
bool fz_layer_plan_cost(const fz_group *g, const fz_layer *L, double *busy, uint32_t *pes);
/* Parts an instruction of layer L streams its weights in per tag (eng_instr.weight_parts):
 * 0 when they fit its share of the PE buffer beside its operand slots, else the fewest
 * (3 or more, dividing them) whose double buffer fits; UINT32_MAX when none does or the
 * layer does not stream. */
uint32_t fz_weight_parts(const fz_group *g, const fz_layer *L, const eng_instr *in);
/* Whether an instruction of layer L streams its weights. */
bool fz_layer_streams(const fz_group *g, const fz_layer *L);
/* Its busiest unit's cycles per tag on one PE, buffers aside: for the balance bound. */
double fz_layer_work(const fz_group *g, const fz_layer *L);
/* Sets each run's qmask. */
void fz_run_masks(fz_layer *L);
/* Messages per tag of the exchanges between a transform's runs (masks set). */
uint64_t fz_run_messages(const fz_layer *L);
/* Instructions of the layer's plan, the PE slots they take (a norm's reducer shares its
 * middle segment's PE), and the first instruction of run r of a transform layer. */
uint32_t fz_layer_n_instr(const fz_layer *L);
uint32_t fz_layer_pes(const fz_layer *L);
uint32_t fz_run_first(const fz_layer *L, uint32_t r);
/* Fills the layer's instructions (ins, ctx: fz_layer_n_instr of each), weights from
 * *waddr on; PE slots from L->slot0. */
int fz_layer_instrs(const fz_group *g, const fz_layer *L, eng_instr *ins, fz_kctx *ctx,
                    uint64_t *waddr, map_store *st);
/* Calls each(ctx, src, dst) for every element moved inside the layer per tag. */
typedef int (*fz_edge_fn)(void *ctx, fz_loc src, fz_loc dst);
int fz_layer_edges(const fz_group *g, const fz_layer *L, fz_edge_fn each, void *ctx);
/* Where element (r, c) of input k goes (up to max places; returns how many), and where
 * element (r, c) of the output is produced (instr FZ_NONE: a column it does not make). */
uint32_t fz_in_locs(const fz_group *g, const fz_layer *L, uint32_t k, uint32_t r, uint64_t c,
                    fz_loc *out, uint32_t max);
fz_loc fz_out_loc(const fz_group *g, const fz_layer *L, uint32_t r, uint64_t c);
/* Buffer positions the first run zeroes (padding); functional mode. */
int fz_layer_padding(const fz_group *g, const fz_layer *L, fz_kctx *ctx, map_store *st);
/* Member op k's weights into the image, in the layout the layers load them from. */
void fz_write_weights(const fz_group *g, const fz_prog *p, uint32_t k, const float *w,
                      float *image);

/* ---------------------------------------------------------------- fuse_describe.c */

/* The pipeline's stages (runs, norms, dense layers) with their busiest PE per tag; returns
 * how many (at most max); *bottleneck the slowest. */
uint32_t fz_stages(const fz_group *g, const fz_prog *p, map_fuse_stage *st, uint32_t max,
                   uint32_t *bottleneck);
uint32_t fz_count_stages(const fz_group *g);
/* Sets layer L's plan from a mapping file's stages (n left from pes and steps): a run per
 * entry for a transform, one entry for a norm (its segments, steps 1) or a dense layer (its
 * PEs, steps its input chunks); *used gets how many it took. False (err filled, naming where) when
 * they do not describe a plan that fits the PE buffers. */
bool fz_force_layer(const fz_group *g, fz_layer *L, const uint32_t *pes, const uint32_t *steps,
                    uint32_t n, uint32_t *used, char *err, size_t errlen, const char *where);
/* One line: rows per tag, segments, and each layer's PEs. */
void fz_describe(const fz_group *g, char *buf, size_t len);

/* ---------------------------------------------------------------- fuse_build.c */

/* PE of a PE slot: the snake over the array, folded. */
uint32_t fz_pe_of(const fz_group *g, uint32_t slot);
/* The group's program under its plan: one chained phase per segment. FZ_NOFIT when it
 * does not fit the array; UTIL_ERUN when memory runs out. */
int fz_build(fz_group *g, bool functional, fz_prog *p);
void fz_prog_free(fz_prog *p);

#endif
