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
void map_transform_free(map_op_result *m);

/* The term that bounds a phase's steady-state interval, for --explain. */
const char *map_bottleneck(const eng_phase_estimate *e);
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
    MAP_KEY_BLOCK_ROWS = 1u << 9
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
