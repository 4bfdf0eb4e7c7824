/* internal.h: per-family op mappings behind map_op (sim/mapper only). */
#ifndef BFLY_MAPPER_INTERNAL_H
#define BFLY_MAPPER_INTERNAL_H

#include "mapper.h"

/* Butterfly, block-butterfly, sequence butterfly, Fourier mixing and fft-compress
 * (transform.c). Same contract as map_op; priv belongs to transform.c. */
int map_transform(const arch_desc *a, const wl_desc *d, const wl_op *op, const map_op_io *io,
                  bool functional, map_op_result *out, char *err, size_t errlen);
/* Where the intermediates of a transform of several passes lie: map_transform's choice
 * by the closed-form estimate (on chip only when clearly faster, see transform.c), in
 * DRAM (each pass streams all lines), or on chip wherever a block of lines fits (the
 * multilayer mapping: every pass runs on a block before the next block). */
typedef enum { MAP_SCRATCH_BEST = 0, MAP_SCRATCH_DRAM, MAP_SCRATCH_ONCHIP } map_scratch;
/* map_transform with the choice fixed, and blocks of at most max_block_lines lines
 * (0: as many as fit). */
int map_transform_with(const arch_desc *a, const wl_desc *d, const wl_op *op, const map_op_io *io,
                       bool functional, map_scratch scratch, uint64_t max_block_lines,
                       map_op_result *out, char *err, size_t errlen);
void map_transform_write_weights(const map_op_result *m, const wl_op *op, const float *w,
                                 float *image);

/* GELU (tanh form) of n elements in place, each result rounded to t; and the vector
 * operations it adds to an instruction for rows runs of len elements (5 multiplies, 3
 * multiply-adds, exp, add, reciprocal per vector: 11 lane operations per element).
 * Shared by the GELU row op and the GELU epilogue of dense and butterfly ops. */
void map_gelu(float *v, uint64_t n, util_dtype t);
void map_gelu_cost(uint64_t rows, uint64_t len, uint32_t lanes, eng_instr *in);

/* Kernel context of a row op's instruction (ops.c), shared with the fused groups' norms. */
typedef struct map_row_ictx {
    uint32_t mt, len; /* rows per tag; segment length (reducers: segments) */
    uint64_t row_len; /* elements of a whole row (layernorm) */
} map_row_ictx;
/* Layernorm kernels on segments: the reducer's buffer holds each segment's (sum, sum of
 * squares) per row, segment-major, and then (mean, 1/sqrt(var + eps)) per row; the apply
 * step's holds the segment's mt rows, then the row statistics, with weights gamma then
 * beta of the segment. */
void map_ln_reduce(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag, float *buf,
                   const float *w, util_dtype t);
void map_ln_apply(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag, float *buf,
                  const float *w, util_dtype t);
void map_transform_free(map_op_result *m);

/* The stages of the transforms (transform.c), shared with the fused groups (fuse.c). A
 * stage pairs units of u elements whose index in a vector of N units differs in one bit:
 * real butterflies (u = 1, weights a b c d per pair), block butterflies (u = B, four
 * B x B tiles per pair) and radix-2 FFT stages (u = 2 for re, im; twiddle re, im). */
typedef enum { MAP_ST_RBFLY, MAP_ST_BLOCK, MAP_ST_FFT } map_stage_kind;
/* Block-butterfly tiles up to this size: the kernel keeps a pair's inputs on its stack. */
#define MAP_MAX_TILE 256
/* Vector bit of stage s: butterflies go up from bit 0 (ref_butterfly's order); FFTs are
 * decimation in frequency, from the top bit down (natural input, bit-reversed output). */
uint32_t map_stage_bit(map_stage_kind kind, uint32_t stages, uint32_t s);
/* One pair of units x0, x1 through a stage with the pair's weights w, in place, each
 * result rounded once to t (products and sums in double: a wide accumulator). */
void map_pair_apply(map_stage_kind kind, uint32_t u, float *x0, float *x1, const float *w,
                    util_dtype t);
/* The weights (wpp of them) of the pair whose lower unit is j0 at stage s of a transform
 * of N units: the op's weights w (wl_op_weights order), or the FFT's twiddles. */
void map_pair_weights(map_stage_kind kind, uint64_t N, uint32_t stages, uint64_t wpp, uint32_t s,
                      uint64_t j0, const float *w, util_dtype dt, float *dst);
/* Vector operations and useful lane operations of one stage on m unit pairs, added to in
 * (a real pair is mul, mac, mul, mac per element; a complex pair a + b and a - b on the
 * adder and (a - b) w on the MAC; a tile pair four B x B matrix-vector products). */
void map_stage_cost(map_stage_kind kind, uint64_t u, uint64_t m, uint32_t lanes, eng_instr *in);

/* Every array a mapping's program points to, kept in one list and freed together. */
typedef struct map_store {
    void **ptrs;
    size_t n, cap;
} map_store;
/* count zeroed objects of size bytes owned by st, or NULL when memory runs out. */
void *map_keep(map_store *st, size_t count, size_t size);
void map_store_free(map_store *st);

/* An element's position in a tag's SPM slot and in a PE's operand buffer. */
typedef struct map_pospair {
    uint64_t pos;
    uint32_t local;
} map_pospair;
/* qsort order: ascending slot position. */
int map_cmp_pospair(const void *x, const void *y);
/* The longest strided pattern of slot positions that pp[i..] (ascending) starts with:
 * runs of consecutive positions, equally long and equally far apart. Returns the index
 * after it; *p gets it. */
size_t map_pattern_run(const map_pospair *pp, size_t n, size_t i, eng_pattern *p);

/* A growing list of a phase's transfers. */
typedef struct map_xlist {
    eng_xfer *x;
    size_t n, cap;
} map_xlist;
/* A zeroed transfer at the end of the list, or NULL when memory runs out. */
eng_xfer *map_push_xfer(map_xlist *xl);
/* Transfers between instruction instr and its tag's SPM slot (to_spm: from the instruction)
 * for the n pairs pp (ascending slot position): as few strided patterns as the positions
 * allow, each carrying its buffer positions (kept in st) when functional. UTIL_ERUN when
 * memory runs out or more than max patterns are needed. */
int map_slot_xfers(map_xlist *xl, map_store *st, const map_pospair *pp, size_t n, int32_t instr,
                   bool to_spm, uint32_t port, bool functional, size_t max);

/* The term that bounds a phase's steady-state interval, for --explain. */
const char *map_bottleneck(const eng_phase_estimate *e);
/* map_bottleneck of the slowest of a program's n phases (n >= 1). */
const char *map_slowest_bottleneck(const eng_phase_estimate *pe, uint32_t n);
/* Keeps a scored candidate in the shortlist l if it is among the best few; true when its
 * cost beats *best, which it then becomes. */
bool map_shortlist_add(map_shortlist *l, uint64_t cycles, double cost, const char *why,
                       const char *desc, double *best);

/* Slots per direction a phase gets where the SPM holds them (map_deepen_slots). Two
 * already overlap one tag's DMA with the next tag's compute; four also cover the DRAM
 * latency and the array's fill of a tag when a tag computes in less than its turnaround
 * (bench.sh: 8 slots ran no faster than 4 on any steady-state case). */
#define MAP_SLOT_DEPTH 4
/* Raises the input and output slots of phases ph[0..n) from two to MAP_SLOT_DEPTH where
 * the SPM holds them beside the phase's weight staging and onchip_elems elements of
 * on-chip intermediates (eng_validate's count, with a bank word to spare for alignment). */
void map_deepen_slots(const arch_desc *a, util_dtype t, eng_phase *ph, uint32_t n,
                      uint64_t onchip_elems);

/* Keys of a mapping-file entry (map_force), as bits of a set. */
enum {
    MAP_KEY_CHAIN_PES = 1u << 0,
    MAP_KEY_ROWS_PER_TAG = 1u << 1,
    MAP_KEY_COLUMNS_PER_CHAIN = 1u << 2,
    MAP_KEY_SEGMENTS = 1u << 3,
    MAP_KEY_ROWS_PER_CHAIN = 1u << 4,
    MAP_KEY_LAYER_PES = 1u << 5,
    MAP_KEY_STAGES_PER_PASS = 1u << 6,
    MAP_KEY_PIPELINES = 1u << 7,
    MAP_KEY_INTERMEDIATES = 1u << 8,
    MAP_KEY_BLOCK_ROWS = 1u << 9,
    MAP_KEY_FUSED_THROUGH = 1u << 10,
    MAP_KEY_FOLD = 1u << 11,
    MAP_KEY_STAGE_PES = 1u << 12,
    MAP_KEY_STAGE_STEPS = 1u << 13,
    MAP_KEY_UNIT_COLUMNS = 1u << 14,
    MAP_KEY_PART_UNITS = 1u << 15,
    MAP_KEY_WEIGHTS = 1u << 16
};
/* The keys entry f sets, as "layer_pes = 4, intermediates = \"spm\"" (in key order). */
void map_force_describe(const map_force *f, char *buf, size_t len);
/* UTIL_ECONFIG naming the entry's first key outside `allowed` and what `what` (the kind
 * of op) takes; UTIL_OK when there is none or f is NULL. */
int map_force_keys(const map_force *f, unsigned allowed, const char *what, char *err,
                   size_t errlen);

/* Tag geometry of the simple stage-per-layer mapping (mapper.c): a tag of T = 2^t units
 * (elements, or groups of elements that move together) over `rows` PE rows of a column,
 * m = T / (2 rows) unit pairs per PE. */
typedef struct map_geom {
    uint64_t T, m;
    uint32_t log2m, rows; /* rows: PEs per column */
} map_geom;

/* PE row owning unit e at a stage on tag bit b. */
uint32_t map_geom_owner(const map_geom *g, uint64_t e, uint32_t b);
/* Position of unit e in its owner's buffer at a stage on tag bit b. */
uint32_t map_geom_local_pos(const map_geom *g, uint64_t e, uint32_t b);
/* Buffer bit in which the pairs of a stage on tag bit b differ. */
uint32_t map_geom_pair_bit(const map_geom *g, uint32_t b);

#endif
