/* mapper.h: places workload operations on the PE array and emits engine programs. */
#ifndef BFLY_MAPPER_H
#define BFLY_MAPPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../arch/arch.h"
#include "../engine/engine.h"
#include "../workload/workload.h"

#define MAP_MAX_PASSES 32

/* A mapping the user fixes for one op (a --mapping file entry). GEMMs take chain_pes,
 * rows_per_tag and columns_per_chain; fused attention chain_pes and rows_per_tag; row ops
 * (softmax, layernorm, GELU, add) segments and rows_per_chain; transforms (butterflies,
 * FFTs) intermediates, block_rows and weights, FFTs along the sequence also
 * unit_columns and part_units; the butterfly-linear layer layer_pes, pipelines,
 * stages_per_pass, intermediates and block_rows. Zero (MAP_INTER_ANY) leaves a value to
 * the search. */
#define MAP_MAX_FORCED 256
#define MAP_FUSE_MAX_STAGES 48
#define MAP_FUSE_MAX_FOLD 2 /* a fused group's PE groups per PE, at most */
/* Where the intermediates between passes lie (ANY: the search decides). */
typedef enum { MAP_INTER_ANY = 0, MAP_INTER_DRAM, MAP_INTER_SPM } map_inter;
/* Whether a blocked transform keeps its weights in the SPM across blocks (KEPT) or
 * reloads them from DRAM in every block (RELOADED); ANY: the search decides. */
/* Where weights live (a mapping entry's weights key). A butterfly or FFT op: kept in the
 * SPM across the blocks or reloaded; a fused group: where the weights its PEs cannot hold
 * stream from (kept in the SPM, reloaded from DRAM), or resident (never streamed). */
typedef enum {
    MAP_WEIGHTS_ANY = 0,
    MAP_WEIGHTS_KEPT,
    MAP_WEIGHTS_RELOADED,
    MAP_WEIGHTS_RESIDENT
} map_weights;
typedef struct map_force {
    uint32_t block;
    char op[WL_OP_NAME_MAX];
    uint32_t chain_pes, rows_per_tag, columns_per_chain;
    uint32_t segments, rows_per_chain;
    uint32_t layer_pes, pipelines, stages_per_pass;
    map_inter intermediates;
    uint64_t block_rows; /* rows (lines) per block when the intermediates stay on chip */
    /* FFTs along the sequence: feature columns per unit, units per part of a line */
    uint32_t unit_columns, part_units;
    map_weights weights; /* blocked transforms: weights kept in the SPM or reloaded */
    /* a fused group from op through fused_through: rows_per_tag, fold, and each pipeline
     * stage's PEs and butterfly or FFT stages (1 for a norm or a dense layer) */
    char fused_through[WL_OP_NAME_MAX];
    uint32_t fold, n_stage_pes, n_stage_steps;
    uint32_t stage_pes[MAP_FUSE_MAX_STAGES], stage_steps[MAP_FUSE_MAX_STAGES];
    char where[96]; /* "FILE:LINE" of the entry, for messages */
} map_force;

/* What the mapper minimises when it chooses between mappings (--objective): estimated
 * cycles, energy, or their product. Energy needs a pricing function (the run layer's,
 * from the arch's energy table) that turns estimated action counts into pJ. */
typedef enum { MAP_LATENCY = 0, MAP_ENERGY, MAP_EDP } map_objective;

/* Whether a model's consecutive ops may run as producer and consumer side by side:
 * where the estimate says it pays (the default), or never (--no-chain). */
typedef enum { MAP_CHAIN_AUTO = 0, MAP_CHAIN_OFF } map_chaining;
/* Whether a block's row-local ops may run as fused groups (where the estimate says it
 * pays: the default), or every op on its own (--no-fuse). */
typedef enum { MAP_FUSE_AUTO = 0, MAP_FUSE_OFF } map_fusing;
typedef double (*map_energy_fn)(const arch_desc *a, util_dtype t, const eng_stats *counts);

/* The user's mapping directives: the entries of a --mapping file and the objective. */
typedef struct map_forced {
    uint32_t n;
    map_force f[MAP_MAX_FORCED];
    map_objective objective;
    map_energy_fn energy;  /* required unless the objective is latency */
    map_chaining chaining; /* chain consecutive ops of a model where it pays, or not */
    map_fusing fusing;     /* fused groups of a block's row-local ops where they pay, or not */
} map_forced;

/* The cost of an estimate of a program in data type t on a under the directives'
 * objective (how NULL: latency). */
double map_cost(const map_forced *how, const arch_desc *a, util_dtype t,
                const eng_estimate_total *e);

/* A candidate mapping the search scored with the closed-form estimate (eng_estimate). */
#define MAP_MAX_CANDIDATES 6
#define MAP_CAND_DESC_MAX 160 /* the longest butterfly plan description is 156 bytes */
typedef struct map_candidate {
    char desc[MAP_CAND_DESC_MAX];
    uint64_t cycles;        /* estimated, for the whole op */
    double cost;            /* under the objective (cycles, pJ or pJ x cycles) */
    const char *bottleneck; /* the term that set the steady-state interval */
} map_candidate;

/* The best few candidates a search scored, cheapest under the objective first (ties: the
 * earlier), for --explain; n_scored were scored, and c[chosen] is the one taken. */
typedef struct map_shortlist {
    uint32_t n, n_scored, chosen;
    map_candidate c[MAP_MAX_CANDIDATES];
} map_shortlist;

/* Where the elements of a phase's tags live in DRAM (element addresses). A tag holds
 * `vectors` whole vectors (the shares of all pipelines), or (vectors = 0, one pipeline)
 * chunk tag / rows of vector tag % rows: a chunk is `count` runs of `run` elements,
 * `stride` apart, starting at chunk_first(c). */
typedef struct map_tag_layout {
    uint64_t n, rows; /* elements per vector; vectors of the phase */
    uint64_t vectors;
    uint32_t s0, s1;  /* the pass's stages */
    uint32_t free_lo; /* chunk tags: log2(run) when the runs are strided */
    bool strided;     /* chunk tags: runs `stride` apart (else one contiguous run) */
    uint64_t run, stride, count, tag_elems;
    uint64_t in_base, out_base; /* DRAM element addresses of the source and result matrices */
} map_tag_layout;

/* A stage-per-layer mapping: `pipelines` pipelines of layers of rows_used PEs (a power
 * of two); stage s of pass p runs on layer s - first_stage[p] of every pipeline, which
 * splits its share of a tag's pairs over its PEs in contiguous blocks. The simple
 * mapping has one pipeline whose layers are the PE columns, and passes exchange
 * intermediates through DRAM; one phase per pass. */
typedef struct map_result {
    const char *strategy;
    uint32_t passes;
    uint32_t first_stage[MAP_MAX_PASSES];
    uint32_t stages[MAP_MAX_PASSES];
    uint32_t rows_used;       /* PEs per layer (a power of two) */
    uint32_t pipelines;       /* each takes its share of every tag */
    uint32_t phases_per_pass; /* 2 when a pass ends with a tag for fewer pipelines */
    uint64_t tag_elems;       /* T: one pipeline's share of a tag */
    uint64_t vectors_per_tag; /* in a pipeline's share; 0 when shares are chunks of a vector */
    uint64_t chunks;          /* chunks per vector (1 when tags hold whole vectors): the
                               * repeats of every phase, one per chunk's twiddles */
    uint64_t tags;            /* tags over all phases */
    uint64_t blocks;          /* blocks of rows that go through all passes in turn */
    uint64_t block_rows;      /* rows per block; 0: one block, intermediates in DRAM */
    map_shortlist shortlist;  /* map_butterfly_search: what it weighed */

    /* DRAM layout, element addresses */
    uint64_t x_addr, y_addr, tmp_addr[2], weight_addr, dram_elems;

    eng_program program;
    /* storage behind program */
    eng_phase *phases;
    eng_instr *instr;
    map_tag_layout *layouts;
    eng_xfer **pass_xfers;
    uint32_t *pass_n_xfer;
    uint32_t **pos_arrays;
    size_t n_pos_arrays, cap_pos_arrays;
} map_result;

/* Tags hold at most this many elements: larger ones only cost mapping time. */
#define MAP_MAX_TAG_ELEMS (UINT64_C(1) << 20)

/* Maps y = B x. With functional set, transfers carry element positions so that
 * values can flow. Fails (UTIL_ERUN) when no tag fits the PE buffers or the SPM. */
int map_butterfly_simple(const arch_desc *a, const wl_butterfly *b, bool functional,
                         map_result *out, char *err, size_t errlen);

/* The mapper's choice for y = B x: the simple mapping, or a multilayer one (layers of
 * 1, 2, 4 ... PE rows laid out as a snake, as many pipelines as the array holds, passes
 * balanced, intermediates in DRAM or, when a block of rows fits, in the SPM), whichever
 * the closed-form estimate finds cheapest under how's objective (NULL: latency). A
 * mapping file (how->n entries) may hold one entry, for block 0 op "butterfly-linear",
 * whose layer_pes, pipelines, stages_per_pass, intermediates and block_rows narrow the
 * search; an entry no plan satisfies is an error (UTIL_ECONFIG) that says why. */
int map_butterfly_search(const arch_desc *a, const wl_butterfly *b, bool functional,
                         const map_forced *how, map_result *out, char *err, size_t errlen);

/* A mapping of y = B x the caller fixes: `pipelines` pipelines of layers of layer_pes
 * PEs (a power of two), stages_per_pass stages per pass, and rows going block_rows at a
 * time through all passes with the intermediates on chip (0: intermediates in DRAM).
 * The tag is the largest that fits. */
typedef struct map_bfly_plan {
    uint32_t layer_pes, pipelines, stages_per_pass;
    uint64_t block_rows;
} map_bfly_plan;

/* Fails (UTIL_ERUN) with the reason when the plan does not fit the array. */
int map_butterfly_with(const arch_desc *a, const wl_butterfly *b, bool functional,
                       const map_bfly_plan *plan, map_result *out, char *err, size_t errlen);

/* Writes the twiddles tw (wl_butterfly_twiddles order) into the DRAM image in the
 * layout the mapping's instructions load them from. */
void map_write_weights(const map_result *m, const wl_butterfly *b, const float *tw, float *image);

/* DRAM bytes any mapping must move: read x and the twiddles once, write y once. */
uint64_t map_butterfly_compulsory_bytes(const wl_butterfly *b);

void map_free(map_result *m);

/* ---------------------------------------------------------------- model ops
 *
 * A model runs op by op (wl_block_ops). Each op is mapped to its own engine program
 * over one shared DRAM image: the block's tensors lie at addresses the caller chooses
 * (map_op_io), and the op may use the DRAM above io->free_addr for its weights (in the
 * layout its mapping chooses) and its intermediates. */

/* A row-major matrix in the DRAM image: element (r, c) at addr + r * stride + c. */
typedef struct map_tensor {
    uint64_t addr, rows, cols, stride;
} map_tensor;
/* One past the last element of tensor t (rows >= 1). */
uint64_t map_tensor_end(const map_tensor *t);

/* Operands of one op. Q and C are [batch*seq_len x hidden] (head h is columns
 * h*d .. h*d+d-1), K and V [batch*keys x hidden] (keys = wl_keys: a decode step's cache
 * rows first); S and P are [batch*heads*seq_len x keys] (group g = b*heads + h is rows
 * g*seq_len ..). Unary ops ignore src1. */

typedef struct map_op_io {
    map_tensor src0, src1, dst;
    uint64_t free_addr;     /* first element the op may use for weights and intermediates */
    const map_force *force; /* NULL: the mapper chooses */
    bool gelu_out;          /* dense and butterfly ops: apply GELU to the output on its way out (the
                             * op then stands for itself and the GELU that follows it) */
    const map_forced *how;  /* the objective (NULL: latency) */
} map_op_io;

#define MAP_DESC_MAX 200

typedef struct map_op_result {
    wl_op_kind kind;         /* the op it maps (selects who owns priv) */
    char desc[MAP_DESC_MAX]; /* how the op was mapped, one line */
    /* the chosen plan, in mapping-file terms (zero where the op has no such choice) */
    uint32_t chain_pes, rows_per_tag, columns_per_chain, segments, rows_per_chain;
    map_inter intermediates; /* transforms of several passes: where they went */
    uint64_t block_rows;     /* ... and lines per block when on chip */
    map_weights weights;     /* ... and whether the SPM kept their weights across blocks */
    uint32_t unit_columns, part_units; /* FFTs along the sequence: units, parts of lines */
    map_shortlist shortlist;           /* GEMMs and fused attention: what the search weighed */
    eng_program program;
    uint64_t dram_end;     /* first element above everything the program touches */
    uint64_t weight_addr;  /* where map_op_write_weights puts the weights */
    uint64_t weight_elems; /* in the mapped layout */
    void *priv;            /* the mapping's own storage */
} map_op_result;

/* Maps one op of model d. With functional set, transfers carry element positions and
 * instructions carry kernels, so that values can flow. Fails with UTIL_ERUN and a
 * message naming the op, its size and the capacity when it cannot fit. */
int map_op(const arch_desc *a, const wl_desc *d, const wl_op *op, const map_op_io *io,
           bool functional, map_op_result *out, char *err, size_t errlen);
/* A shard of one attention layer, as a device of a system computes it: nq queries (row r
 * at position q_first + r) of every head against nk keys of the [K | V] rows (key j at
 * position k_first + j k_step, row j of the kv view), mapped as fused attention whose last
 * pass writes each query's partial state instead of its output: per query and head the
 * 2d + 2 values [q m l o], m the largest score, l the sum of exp(s - m), o the sum of
 * exp(s - m) v (lse = m + log l, the state's output o / l; l = 0: every key masked). */
typedef struct map_attn_shard {
    uint64_t nq, nk, heads, d;
    uint64_t q_first, k_first, k_step;
    bool causal;
    map_tensor q, kv, states; /* states: nq rows of heads x (2d + 2) values */
} map_attn_shard;
int map_attention_states(const arch_desc *a, util_dtype t, const map_attn_shard *s, bool functional,
                         map_op_result *out, char *err, size_t errlen);

/* Writes the op's weights w (wl_op_weights order) into the image in the mapped layout. */
void map_op_write_weights(const map_op_result *m, const wl_op *op, const float *w, float *image);
void map_op_free(map_op_result *m);

/* ---------------------------------------------------------------- chaining */

/* Two mapped ops as one program: the producer's last phase and the consumer's first run
 * side by side (eng_phase.chained), the consumer fetching a tag once the producer has
 * stored the rows it reads. */
typedef struct map_chain {
    eng_program program;
    eng_phase *phases;  /* owned */
    uint32_t fifo_tags; /* the SPM ring's depth in producer tags, 0: through DRAM */
} map_chain;

/* Chains program cons after prod (either may itself be a chain). link is the tensor the
 * producer writes and the consumer reads; with fifo set (the caller knows nothing else
 * reads it) it goes through an SPM ring instead of DRAM when every access of the two
 * phases to it allows one. The consumer must have been mapped above prod's DRAM, so
 * that their weights and intermediates are apart. *ok is false, with nothing to free,
 * where chaining would be unsafe or does not fit: a tag that stores part of a row or
 * rows out of order, a consumer store over what either phase reads, too little
 * instruction store, PE buffer or SPM. */
int map_chain_programs(const arch_desc *a, const eng_program *prod, const eng_program *cons,
                       const map_tensor *link, bool fifo, map_chain *out, bool *ok, char *err,
                       size_t errlen);
void map_chain_free(map_chain *c);

/* ---------------------------------------------------------------- fused groups
 *
 * The multilayer dataflow across a block's layers: consecutive row-local ops (linear
 * layers of any structure, residual adds, layernorms, a Fourier mixer's hidden FFT) run
 * as one pipeline. Every op becomes a layer of PE groups (a butterfly or FFT as runs of
 * stages, each run on its own PEs with an all-to-all exchange between runs; an add and
 * the layernorm after it as row segments with a reducer; a dense layer as a grid of
 * weight tiles), sized so that every PE's busiest unit takes about the same cycles per
 * tag. A tag of rows enters the first layer from the SPM and flows layer to layer over
 * the NoC; weights stay in the PE buffers. A tensor a later layer reads again (a
 * residual) cuts the pipeline into segments, each one engine phase, chained through an
 * SPM ring that holds the tensor as long as the later layer needs it. docs/MODEL.md,
 * "Fused groups". */

#define MAP_FUSE_MAX_OPS 12
/* Fused plans whose estimates lie this close are a tie, taken by the fewest NoC messages
 * (fewer, larger messages: less of the per-message overhead the model leaves out). */
#define MAP_FUSE_TIE 0.02

/* A member op of a group: the op, its tensors, and whether a later op (or block) reads
 * its output, which is then written to dst (else it never leaves the chip). A GELU op is
 * fused into the linear op before it, an add into the layernorm after it. */
typedef struct map_fuse_op {
    wl_op op;
    map_tensor src0, src1, dst;
    bool gelu_out; /* a linear op that applies the GELU after it (map_op_io.gelu_out) */
    bool live_out;
} map_fuse_op;

/* A pipeline stage (a run of butterfly or FFT stages, a norm, a dense layer), for
 * --explain, reports and mapping files. */
typedef struct map_fuse_stage {
    char what[40];     /* "ffn1 stages 0-7", "add2+ln2" */
    uint32_t segment;  /* the phase it runs in */
    uint32_t i0, n_i;  /* its instructions in that phase's list */
    uint32_t pes;      /* its PEs (a norm's reducer shares one) */
    uint32_t steps;    /* its butterfly or FFT stages (1 for a norm or a dense layer) */
    double tag_cycles; /* its busiest PE's busiest unit, per tag */
} map_fuse_stage;

typedef struct map_fuse_result {
    char desc[MAP_DESC_MAX];
    uint32_t rows_per_tag, segments, fold;
    /* KEPT or RELOADED where layers stream the weights their PEs cannot hold (kept in the
     * SPM, or loaded from DRAM for every tag); ANY where every weight stays in the PEs */
    map_weights weights;
    uint32_t n_stages, bottleneck; /* stage[bottleneck] has the most cycles per tag */
    map_fuse_stage stage[MAP_FUSE_MAX_STAGES];
    map_shortlist shortlist;
    eng_program program;
    uint64_t dram_end; /* first element above its weights and ring tensors */
    void *priv;
} map_fuse_result;

/* Whether a fused group takes ops of this kind: those that work on each row by itself. */
bool map_fuse_takes(wl_op_kind k);

/* Maps ops[0..n) (consecutive ops of one block) as one fused group whose weights and ring
 * tensors go above free_addr. *ok is false, with nothing to free, when no plan fits the
 * array (a layer's weights do not fit its PEs, an op that is not row-local). A mapping
 * file's entry (force, NULL: searched) fixes what it sets of rows_per_tag, fold and the
 * stages (stage_pes with stage_steps), and then a plan that does not fit is an error
 * (UTIL_ECONFIG) naming the entry's FILE:LINE. */
int map_fuse(const arch_desc *a, const wl_desc *d, const map_fuse_op *ops, uint32_t n,
             uint64_t free_addr, const map_forced *how, const map_force *force, bool functional,
             map_fuse_result *out, bool *ok, char *err, size_t errlen);
/* Writes member op k's weights w (wl_op_weights order; the FFT twiddles are written even
 * when w is NULL) into the image in the mapped layout. */
void map_fuse_write_weights(const map_fuse_result *m, uint32_t k, const float *w, float *image);
void map_fuse_free(map_fuse_result *m);

#endif
