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

/* Where the elements of a pass's tags live in DRAM (element addresses). A tag holds
 * `vectors` whole vectors, or (vectors = 0) chunk tag / rows of vector tag % rows: a
 * chunk is `count` runs of `run` elements, `stride` apart, starting at chunk_first(c). */
typedef struct map_tag_layout {
    uint64_t n, rows;
    uint64_t vectors;
    uint32_t s0, s1;  /* the pass's stages */
    uint32_t free_lo; /* chunk tags: log2(run) when the runs are strided */
    bool strided;     /* chunk tags: runs `stride` apart (else one contiguous run) */
    uint64_t run, stride, count, tag_elems;
    uint64_t in_base, out_base; /* DRAM element addresses of the source and result matrices */
} map_tag_layout;

/* The simple mapping: stage s of pass p runs on PE column s - first_stage[p]; each
 * column splits a tag's pairs over rows_used PE rows in contiguous blocks; passes
 * exchange intermediates through DRAM. One phase per pass. */
typedef struct map_result {
    const char *strategy;
    uint32_t passes;
    uint32_t first_stage[MAP_MAX_PASSES];
    uint32_t stages[MAP_MAX_PASSES];
    uint32_t rows_used;       /* PE rows per column (a power of two) */
    uint64_t tag_elems;       /* T */
    uint64_t vectors_per_tag; /* 0 when tags are chunks of a vector */
    uint64_t chunks;          /* chunks per vector (1 when tags hold whole vectors): the
                               * repeats of every phase, one per chunk's twiddles */
    uint64_t tags;            /* tags over all phases */

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
    size_t n_pos_arrays;
} map_result;

/* Tags hold at most this many elements: larger ones only cost mapping time. */
#define MAP_MAX_TAG_ELEMS (UINT64_C(1) << 20)

/* Maps y = B x. With functional set, transfers carry element positions so that
 * values can flow. Fails (UTIL_ERUN) when no tag fits the PE buffers or the SPM. */
int map_butterfly_simple(const arch_desc *a, const wl_butterfly *b, bool functional,
                         map_result *out, char *err, size_t errlen);

/* Writes the twiddles tw (wl_butterfly_twiddles order) into the DRAM image in the
 * layout the mapping's instructions load them from. */
void map_write_weights(const map_result *m, const wl_butterfly *b, const float *tw, float *image);

/* DRAM bytes any mapping must move: read x and the twiddles once, write y once. */
uint64_t map_butterfly_compulsory_bytes(const wl_butterfly *b);

void map_free(map_result *m);

#endif
