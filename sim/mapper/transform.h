/* transform.h: the transform mapping's internals, shared by transform.c (groups, passes,
 * tags, transfers, kernels and weights), transform_layout.c (the program: passes through
 * DRAM or blocks of lines on chip, kept weights) and transform_search.c (the sequence FFTs'
 * unit widths and parts, and a mapping file's entry). Only sim/mapper includes it. */
#ifndef BFLY_MAPPER_TRANSFORM_H
#define BFLY_MAPPER_TRANSFORM_H

#include "internal.h"

/* pi to double precision (M_PI is not part of ISO C). */
#define TR_PI 3.14159265358979323846
/* Block-butterfly tiles up to this size: the kernel keeps a pair's inputs on its stack. */
/* SPM transfers of one PE: more means a layout the patterns cannot follow. */
#define TR_MAX_PE_XFERS 64
/* How much lower a sequence FFT's narrower units must estimate to be taken. */
#define MAP_TR_MARGIN 0.05
/* The most weight staging buffers a pass takes (more measured no faster). */
#define TR_STAGES 16
/* Stages of one group: bits of a line index. */
#define TR_MAX_BITS 40

/* ---------------------------------------------------------------- description
 *
 * An op is one or two groups. A group applies the same transform (log2 N stages, each
 * pairing the units whose index within a vector differs in one bit) to every vector of
 * N units; a unit is u elements that move and pair together (one element; a tile of a
 * block butterfly; a complex number as re, im; a token's columns for sequence
 * transforms). Vectors come in lines: a matrix row, or the Vl consecutive vectors of one
 * batch item's tokens in a few columns (fft-compress chunks the sequence).
 *
 * A tag holds Lt whole lines, or (split groups, lines too long for a PE column) T units
 * of one line: the units whose line index has given bits in the complement of a window
 * W of log2 T bits (one tag per value: a chunk). A group is split into passes of at most
 * `cols` stages (one PE column per stage, as in map_butterfly_simple), each on stages
 * whose bits lie in its window; passes exchange intermediates through DRAM in the padded
 * line layout. A phase runs once per chunk (engine repeats) with that chunk's weights.
 *
 * Padding, cropping, real/complex conversion and the FFT's bit reversal happen at the
 * edges of a group: DMA moves only real elements, packed in DRAM order into the SPM slot;
 * the first column zeroes the padding, the last column sends the kept elements to their
 * slot positions and drops the others. Every chunk must see the same slot positions
 * (the transfers are static), which the window search checks. */

typedef enum { PM_IDENT, PM_ROWS, PM_SEQ } pmap_kind;

/* Where lines lie in DRAM and how their elements map: line L starts at
 * base + (L / G) A + (L % G) Bc. */
typedef struct tport {
    uint64_t base, G, A, Bc;
    uint64_t stride; /* SEQ: between tokens */
    pmap_kind map;   /* IDENT: the padded layout; ROWS: vector = row, unit = features;
                      * SEQ: vector = tokens, unit = a token's columns */
    uint64_t lim;    /* ROWS: real (kept) elements per row; SEQ: real (kept) tokens */
    bool re_only;    /* complex units, real values in DRAM (im dropped or zero) */
    bool reversed;   /* output: unit j holds natural index util_bit_reverse(j) */
    uint64_t keep;   /* output: natural indices >= keep become zeros */
} tport;

/* One side (input or output) of a pass: where every element of a tag goes in the SPM
 * slot, and what DMA moves. */
typedef struct tside {
    tport port;
    eng_pattern pat; /* relative to the tag's first element */
    uint64_t *first; /* per chunk: offset of slot position 0 from its line's start */
    int64_t *slot;   /* per tag element (unit e, element k at e u + k): position or -1 */
    uint64_t elems;  /* slot elements DMA moves */
} tside;

typedef struct tgroup {
    map_stage_kind kind;
    uint32_t stages;
    uint64_t u, N, Vl, wpp; /* Vl: vectors per line; wpp: weights per unit pair */
    uint64_t n_lines;
    uint64_t H, cpl; /* sequence groups: columns, and elements per column of a unit */
    uint64_t cols;   /* sequence groups: columns per unit */
    uint64_t Lt, T;  /* lines per tag, units per tag */
    bool split;      /* tags are chunks of a line */
    tport in, out;
    uint64_t want_cols; /* sequence groups: columns a unit must take (0: any) */
    uint64_t max_units; /* sequence groups: the most units a part of a line takes (0: any) */
} tgroup;

typedef struct tpass {
    uint32_t grp, s0, k; /* stages s0 .. s0+k-1 of the group */
    uint64_t W;          /* split: the line-index bits a tag covers */
    uint64_t chunks;     /* tags per line */
    bool resident;       /* every chunk's weights stay in the buffers: one repeat whose
                          * tags go line by line, a line's chunks in turn; else one
                          * repeat per chunk, each with that chunk's weights */
    uint64_t wstep;      /* DRAM elements from an instruction's weights for one chunk to
                          * its weights for the next */
    uint64_t n_ltags;    /* tags per chunk */
    uint64_t Lt;         /* lines per tag */
    map_geom g;
    tside in, out;
} tpass;

/* One phase of the program: a pass over n_ltags line tags from line line0 of the op's
 * ports (intermediates hold only the phase's lines, from their base). */
typedef struct tphase {
    const tpass *ps;
    uint64_t n_ltags, line0;
    uint64_t in_base, out_base;
} tphase;

/* A program over the passes: its phases (one per pass, or per block of lines and pass
 * when the intermediates of a block stay on chip) and where the intermediates lie. */
typedef struct tlayout {
    uint32_t n_phases;
    eng_phase *phases;
    tphase *ctx;
    uint64_t block_lines[2]; /* per group: lines per block; 0: all lines, intermediates
                              * in DRAM */
    uint64_t onchip_first, onchip_elems, dram_end;
    uint64_t kept_first, kept_elems; /* weights the SPM keeps for every block's passes */
} tlayout;

/* Kernel context of one instruction. */
typedef struct kctx {
    map_stage_kind kind;
    uint32_t u;
    bool gelu; /* GELU on the way out (last column of the last pass) */
    uint32_t n_pre, n_post;
    uint32_t *pre, *post; /* buffer positions zeroed before (padding) and after (dropped
                           * coefficients) the stage; functional mode only */
} kctx;

typedef struct tmap {
    uint32_t n_groups, n_pass, n_instr;
    bool gelu_out;       /* the last pass applies GELU (map_op_io.gelu_out) */
    uint64_t kept, size; /* the op's outputs of its padded size: useful GELU results */
    tgroup grp[2];
    tpass *pass;
    eng_phase *phases; /* one per pass (its instructions, transfers and weights) */
    tlayout lay;       /* the program */
    eng_instr *instr;
    kctx *ctx;
    eng_xfer **xf;
    map_store blocks;                   /* position arrays */
    uint64_t weight_addr, weight_elems; /* every pass's weights, from weight_addr on */
    map_shortlist layouts;              /* the layouts tr_choose_layout weighed */
} tmap;

/* What a transform's plan is held to: (sequence FFTs) units of exactly cols columns and
 * parts of lines of at most max_units units (0: any); its weights kept or not. */
typedef struct tshape {
    uint64_t cols, max_units;
    map_weights weights; /* a blocked layout's weights kept in the SPM, or reloaded */
} tshape;

/* transform.c: the op mapped with its sequence groups held to shape sh (no search). */
int tr_transform_with(const arch_desc *a, const wl_desc *d, const wl_op *op, const map_op_io *io,
                      bool functional, map_scratch scratch, uint64_t max_block_lines, tshape sh,
                      map_op_result *out, char *err, size_t errlen);

/* transform_layout.c */
void tr_layout_free(tlayout *L);
/* The passes of group gi: first, and *n of them. */
void tr_group_passes(const tmap *tm, uint32_t gi, uint32_t *first, uint32_t *n);
/* The program over the passes (blocks of bl[gi] lines on chip, or all lines through DRAM
 * where bl[gi] is 0), keeping the op's weights in the SPM when keep is set. */
int tr_lay_out(const arch_desc *a, util_dtype dt, const tmap *tm, uint64_t base, const uint64_t *bl,
               bool keep, tlayout *L);
eng_program tr_layout_program(const tlayout *L, util_dtype dt);
/* The most lines per block of group gi on chip (at most cap when set), reserve elements of
 * the SPM set aside; 0 when none fits. */
uint64_t tr_block_lines(const arch_desc *a, const tmap *tm, uint32_t gi, util_dtype dt,
                        uint64_t cap, uint64_t reserve);
/* Prices program p under the objective and lists it in list as what, the slowest phase
 * naming the bound (into *cand too, when set); INFINITY when it cannot be estimated. */
double tr_weigh(const arch_desc *a, const eng_program *p, util_dtype dt, const map_forced *how,
                const char *what, map_shortlist *list, map_candidate *cand);
/* Replaces tm's program by a blocked one where scratch and the estimate say so. */
int tr_choose_layout(const arch_desc *a, tmap *tm, util_dtype dt, uint64_t base,
                     map_scratch scratch, uint64_t cap, map_weights weights, const map_forced *how);

/* transform_search.c */
/* Whether an op has a group of FFTs along the sequence (its last group). */
bool tr_seq_ffts(const wl_op *op);
/* A mapped op's sequence group (tr_seq_ffts). */
const tgroup *tr_seq_group(const map_op_result *m);

#endif
