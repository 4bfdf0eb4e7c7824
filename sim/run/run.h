/* run.h: runs a model op by op: tensor layout, mapping, engine runs, functional check. */
#ifndef BFLY_RUN_H
#define BFLY_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../arch/arch.h"
#include "../engine/engine.h"
#include "../mapper/mapper.h"
#include "../workload/workload.h"

/* One op of one block entry, simulated once: every repeat of the entry costs the same
 * (timing does not depend on values), so the entry's figures are these times repeat. */
typedef struct run_op {
    wl_op op;
    char desc[MAP_DESC_MAX];
    /* the chosen plan in mapping-file terms (--dump-mapping) */
    uint32_t chain_pes, rows_per_tag, columns_per_chain, segments, rows_per_chain;
    map_inter intermediates;
    uint64_t block_rows;
    map_weights weights;
    uint32_t unit_columns, part_units;
    uint64_t cycles, lane_ops, events, tags;
    uint64_t mac_busy;       /* cycles the PEs' MAC units accepted vector operations, summed */
    double energy_pj;        /* these figures' action counts priced (en_compute, leakage over
                              * their cycles included); 0 when the arch has no energy table */
    uint64_t est_cycles;     /* the closed-form estimate of the same program */
    map_shortlist shortlist; /* the mapper's search (GEMMs, fused attention) */
    uint64_t dram_read_bytes, dram_write_bytes;
    uint64_t spm_reads, spm_writes, spm_conflicts;
    uint64_t flit_hops, bisection_flits;
    /* ops these figures cover: 1, or n > 1 for the first op of a chain of n ops run as one
     * program (overlapping at each boundary), 0 for the later ops of a chain */
    uint32_t chained_ops;
    uint32_t fifo_tags; /* a chained op: depth of the SPM ring it reads through (0: DRAM) */
    /* ops these figures cover as one fused group (run_fuse_block): n > 1 on the group's
     * first op, 0 on the others, 1 for an op on its own (fused: the group) */
    uint32_t fused_ops;
    map_fuse_result fused; /* the group's plan, without its program (priv is NULL) */
} run_op;

typedef struct run_block {
    uint64_t repeat;
    uint32_t n_ops;
    run_op ops[WL_MAX_BLOCK_OPS];
    uint64_t cycles, lane_ops, dram_bytes; /* one block */
    uint64_t mac_busy;
} run_block;

/* A functional model run is checked block instance by block instance: each instance's
 * output against the reference applied to the input the simulated array gave it. The
 * figures are those of the instance furthest over (or nearest to) its tolerance. */
typedef struct run_check {
    uint64_t count; /* elements compared, all instances */
    double max_abs_err, rms_want, tolerance;
    uint64_t worst;    /* element index in that instance's output */
    uint64_t instance; /* that block instance (blocks' repeats counted in order) */
    bool pass;         /* every instance within its tolerance */
} run_check;

typedef struct run_result {
    uint32_t n_blocks;
    run_block blocks[WL_MAX_BLOCKS];
    eng_stats total; /* every counter over the whole model (blocks x repeats), except
                      * events: the events the engine actually processed */
    bool functional;
    bool unchained;  /* chaining was turned off (--no-chain, chain = "off") */
    bool unfused;    /* fused groups were turned off (--no-fuse, fuse = "off") */
    bool analytical; /* estimated, not simulated */
    run_check check;
} run_result;

/* Largest DRAM image (elements) a functional model run allocates. */
#define RUN_MAX_FUNCTIONAL_ELEMS (UINT64_C(1) << 26)

/* The energy (pJ) of action counts on a, with its energy table: the pricing the mapper's
 * energy and EDP objectives use (map_forced.energy). */
double run_energy_pj(const arch_desc *a, util_dtype t, const eng_stats *counts);

/* What one unit (an op, a chain or a fused group) computes where, as an observer is told
 * before its events (run_progress.unit). */
#define RUN_WHAT_MAX 48
typedef struct run_unit_desc {
    const char *op;                /* its first op, as the per-op table names it */
    char ops[160];                 /* every op it runs, '+'-separated (truncated with "...") */
    uint32_t block;                /* its block entry (0 for a layer) */
    uint32_t n_pes;                /* the array's PEs */
    char (*pe_what)[RUN_WHAT_MAX]; /* what each PE computes in it ("": nothing) */
} run_unit_desc;

/* Labels every PE that program p uses with what (joined after a PE's other labels);
 * PEs it does not use keep theirs. */
void run_label_pes(const eng_program *p, const char *what, char (*pe_what)[RUN_WHAT_MAX]);

/* What a run tells its caller, and who simulates: after each op (or chain or fused group)
 * is simulated or estimated, units done of all and the cycles of the whole model so far
 * (fn, for a progress display; NULL: nothing), and the engine's events as they happen
 * (obs; NULL: nothing; the timing run simulates one instance of each block entry). */
typedef struct run_progress {
    void (*fn)(void *ctx, uint64_t done, uint64_t total, uint64_t cycles);
    void *ctx;
    const eng_observer *obs;
    /* told before each unit the observer sees, what it computes where */
    void (*unit)(void *ctx, const run_unit_desc *u);
    void *unit_ctx;
    const eng_runner *engine; /* who simulates each program (NULL: the native scheduler) */
} run_progress;

/* Simulates model d. forced (may be NULL) fixes the mapping of the ops it names (a
 * --mapping file; an entry naming no op is a config error). Every op is mapped first (an op that
 * cannot fit fails the run before anything is simulated). With functional set, values flow through
 * every op of every block instance and each instance's output is compared with the
 * double-precision reference from that instance's input (result->check; a mismatch is
 * not an error here). fault (NULL: none) corrupts the first weight of the op of that name
 * ("": of every op with weights) in the first block instance, to show the check catching
 * it. */
int run_model(const arch_desc *a, const wl_desc *d, const map_forced *forced, bool functional,
              const char *fault, const run_progress *progress, run_result *out, char *err,
              size_t errlen);

/* The same model, mapped and estimated in closed form without running the engine
 * (`--model analytical`): every op's cycles, lane ops and DRAM bytes are the estimate's
 * (est_cycles equals cycles), and the other counters stay zero. */
int run_model_analytical(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                         const run_progress *progress, run_result *out, char *err, size_t errlen);
void run_free(run_result *r);

/* Maps every op of model d without simulating anything: UTIL_OK when all fit. */
int run_map_all(const arch_desc *a, const wl_desc *d, char *err, size_t errlen);

/* Reference forward pass in double precision of count block instances of model d from
 * instance first on (instances count blocks' repeats; UINT64_MAX: to the end), on input
 * x [batch*seq_len x hidden], with the same seeded weights: y gets the output. Where
 * y_rounded is not NULL it gets the same pass with every op's results and every
 * butterfly and FFT stage's rounded to the model's element type, as the array rounds
 * them. */
int run_reference(const wl_desc *d, uint64_t first, uint64_t count, const float *x, double *y,
                  double *y_rounded, char *err, size_t errlen);

#endif
