/* report.h: text summary, JSON with every counter, and one CSV row per run. */
#ifndef BFLY_REPORT_H
#define BFLY_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "../arch/arch.h"
#include "../energy/energy.h"
#include "../engine/engine.h"
#include "../gpu/gpu.h"
#include "../mapper/mapper.h"
#include "../peer/peer.h"
#include "../ref/ref.h"
#include "../run/run.h"
#include "../system/system.h"
#include "../workload/workload.h"

/* A file written while a run goes (a trace): into a temporary file beside its path (or
 * in place, for a FIFO or a device), renamed into place once the run has ended well and
 * everything was written, removed otherwise; the path is never left half-written. */
typedef struct rep_stream {
    FILE *f;
    char *tmp, *target;
    bool holding; /* signals held from the open (held: what to restore) */
    util_sigmask held;
} rep_stream;

/* --dram-trace: every DRAM burst of a run, as Ramulator2's LoadStoreTrace front end reads
 * them ("LD 0xADDR" or "ST 0xADDR", byte addresses, in the order the DRAM serves them).
 * Hand obs to the runs; close with keep set once they have ended well. */
typedef struct rep_dram_trace {
    rep_stream out;
    eng_observer obs;
    uint64_t reads, writes; /* bursts */
    bool failed;            /* a write failed */
} rep_dram_trace;
int rep_dram_trace_open(rep_dram_trace *t, const char *path, char *err, size_t errlen);
int rep_dram_trace_close(rep_dram_trace *t, bool keep, const char *path, char *err, size_t errlen);

/* --trace: the engine's events as a gzip-compressed CSV (traces/README.md, version
 * REP_TRACE_VERSION): "cycle,component,kind,tag,op,duration,amount", one row per event of
 * the kinds asked for (bits of pe, noc, dram, op, spm, dma, in that order), cycles from the
 * run's start, units (ops, chains, fused groups) one after another. Streamed while the
 * run goes (memory stays bounded); the file appears only when closed with keep set. */
#define REP_TRACE_VERSION 1
#define REP_TRACE_KINDS 6
typedef struct rep_trace {
    rep_stream out;
    void *gz; /* zlib's gzFile */
    eng_observer obs;
    unsigned kinds;
    uint32_t n_pes;  /* nodes from here on are SPM ports */
    uint64_t offset; /* where the current unit's cycles start */
    uint64_t end;    /* the latest cycle an event reached */
    char op[64];     /* the current unit's op */
    /* --trace-window and --trace-sample: only the events from cycle lo to hi (hi 0: no
     * end) and, of those, the first of every `sample` per kind (op rows: all) */
    uint64_t lo, hi, sample, seen[REP_TRACE_KINDS];
    char buf[1 << 16]; /* rows not yet handed to zlib */
    size_t used;
    uint64_t rows;
    bool failed;
} rep_trace;
/* Parses --trace-events (comma-separated kinds) into a bit set. */
int rep_trace_kinds(const char *list, unsigned *kinds, char *err, size_t errlen);
int rep_trace_open(rep_trace *t, const char *path, unsigned kinds, uint32_t n_pes, char *err,
                   size_t errlen);
/* The next unit of a run, named by its (first) op: a run_progress unit hook. */
void rep_trace_unit(void *ctx, const run_unit_desc *u);
int rep_trace_close(rep_trace *t, bool keep, const char *path, char *err, size_t errlen);

/* --timeline: the run as a Chrome/Perfetto trace-event JSON file (traces/README.md,
 * version REP_TIMELINE_VERSION): a track of units (ops), one per PE, DMA channel and
 * DRAM channel, and counters of DRAM bandwidth, NoC link load and SPM bank occupancy.
 * Each unit is written when the next begins (rep_timeline_unit, a run_progress unit
 * hook), with at most max_slices slices per track and samples per counter: memory and
 * the file's size per unit stay bounded. Events outside cycles lo .. hi (hi 0: no end)
 * are left out. The file appears only when closed with keep set. */
#define REP_TIMELINE_VERSION 1
#define REP_TIMELINE_TIDS 100000 /* a track's tid: pid x this + its number (from 1) */
typedef struct rep_timeline {
    rep_stream out;
    eng_observer obs;
    const arch_desc *a;
    uint32_t max_slices, n_pes, links;
    double ns_per_cycle;
    uint64_t lo, hi;
    uint64_t offset, end; /* the current unit's first cycle; the latest an event reached */
    uint64_t events;      /* written */
    bool failed;
    struct rep_tl_state *st;
} rep_timeline;
int rep_timeline_open(rep_timeline *t, const char *path, const arch_desc *a, uint32_t max_slices,
                      char *err, size_t errlen);
void rep_timeline_unit(void *ctx, const run_unit_desc *u);
/* Writes what is left and closes (frees, whatever keep; a failed open freed already). */
int rep_timeline_close(rep_timeline *t, bool keep, const char *path, char *err, size_t errlen);

/* Several observers of one run, told everything together (obs; ctx the fan itself),
 * and their unit hooks (rep_fanout_unit). */
#define REP_FANOUT_MAX 4
typedef struct rep_fanout {
    eng_observer obs;
    const eng_observer *to[REP_FANOUT_MAX];
    void (*unit[REP_FANOUT_MAX])(void *ctx, const run_unit_desc *u);
    void *unit_ctx[REP_FANOUT_MAX];
    unsigned n;
} rep_fanout;
/* Adds o (and its unit hook, NULL: none) to f. */
void rep_fanout_add(rep_fanout *f, const eng_observer *o,
                    void (*unit)(void *ctx, const run_unit_desc *u), void *unit_ctx);
void rep_fanout_unit(void *ctx, const run_unit_desc *u);

typedef struct rep_run {
    const char *version;
    const char *arch_file, *wl_file;
    const arch_desc *arch;
    const wl_desc *wl;
    const map_result *map;   /* butterfly-linear runs */
    const run_result *model; /* model runs (map is NULL) */
    const eng_stats *st;
    bool functional;
    bool analytical;    /* butterfly-linear runs: st is the closed-form estimate */
    const char *engine; /* who simulated it ("native", "systemc"; NULL: native) */
    /* --peer: the same workload on a peer accelerator (NULL: none) */
    const peer_desc *peer;
    const char *peer_file;
    const peer_result *peer_res;
    double peer_area_mm2;
    const ref_compare *check; /* functional runs only */
    /* the GPU baseline of the same workload (--baseline), or NULL */
    const gpu_desc *gpu;
    const char *gpu_file; /* as the user named it: a preset name or a file */
    const gpu_result *baseline;
    /* the command line as given (argv[0] on) and its --set overrides, for the record */
    int argc;
    char *const *argv;
    size_t n_overrides;
    const char *const *overrides;
    /* --batch: the point's id; its CSV row then starts with point, status, message */
    const char *point;
} rep_run;

/* A peer accelerator's run (docs/PEERS.md): the summary and --json. */
typedef struct rep_peer_run {
    const char *version;
    const char *peer_file, *wl_file;
    const peer_desc *peer;
    const wl_desc *wl;
    const peer_result *res;
    bool ideal;      /* --ideal-memory */
    double area_mm2; /* with its energy arch's area figures (0: none) */
    int argc;
    char *const *argv;
    size_t n_overrides;
    const char *const *overrides;
} rep_peer_run;
void rep_peer_summary(FILE *f, const rep_peer_run *r);
int rep_write_peer_json(const char *path, const rep_peer_run *r, char *err, size_t errlen);
/* --csv: one row of the run's totals (a header of its own: keep peer rows apart). */
int rep_append_peer_csv(const char *path, const rep_peer_run *r, char *err, size_t errlen);

/* The accelerator against one baseline. */
typedef struct rep_versus {
    double seconds, joules; /* the baseline's */
    double speedup;         /* baseline time / accelerator time */
    double energy_ratio;    /* baseline energy / accelerator energy (0: no energy table) */
    /* like for like: the baseline's module energy over the accelerator's on the same
     * module, its idle floor (the GPU's idle_w less the accelerator's own DRAM background)
     * added over the accelerator's run (docs/ENERGY.md, "The comparison boundary") */
    double module_energy_ratio;
} rep_versus;

/* The module's idle power (W) beyond what the accelerator itself draws from its DRAM: what
 * a module carrying the accelerator instead of the GPU would still burn. */
double rep_module_floor_w(const arch_desc *a, const gpu_desc *g);

/* Figures derived from the counters; every report uses these. */
typedef struct rep_derived {
    uint32_t lanes;
    double time_us;
    uint64_t useful_ops, flops;
    /* each unit's busy cycles (vector operations x its cycles per operation) over PEs x
     * cycles: at most 1; utilization is the MAC units' */
    double unit_util[ARCH_FU_COUNT];
    double utilization;
    double lane_op_rate;       /* useful lane ops / (PEs x lanes x cycles): over 1 when
                                * several units of a PE work at once */
    uint64_t busy_lane_cycles; /* vector operations x lanes, all function units */
    uint64_t compute_bound;    /* ceil(useful ops / (PEs x lanes)) cycles */
    uint64_t dram_bytes;       /* moved, whole bursts */
    uint64_t dram_bound;       /* ceil(dram_bytes / bytes per cycle) */
    uint64_t compulsory_bytes; /* x and twiddles read once, y written once */
    uint64_t compulsory_bound;
    uint64_t noc_bound; /* flits across the bisection over its links, both directions */
    bool has_energy;    /* the arch has an energy table */
    en_result energy;
    /* the design's area (the table's area group; 0 without a table) and its throughput
     * per mm2: the workload's flops over the run time */
    double area_mm2, area_parts[ARCH_AREA_PART_COUNT], gops_per_mm2;
    bool has_baseline;      /* r->baseline is set */
    rep_versus gpu, coexec; /* against the GPU alone and GPU+CPU co-execution */
} rep_derived;

void rep_derive(const rep_run *r, rep_derived *d);

/* Op counts of a model and of its dense counterpart (all attention, dense layers). */
typedef struct rep_reduction {
    wl_totals model, dense;
    double flop_ratio; /* dense flops / model flops */
} rep_reduction;
void rep_reduction_of(const wl_desc *w, rep_reduction *r);

void rep_summary(FILE *f, const rep_run *r);

/* Writes a run's chosen mapping as a --mapping file, atomically. */
int rep_write_mapping(const char *path, const rep_run *r, char *err, size_t errlen);

/* Writes the run's action counts and the energy of each action as Accelergy 0.4's
 * action_counts and ERT, in one YAML file, atomically (docs/ENERGY.md). */
int rep_write_accelergy(const char *path, const rep_run *r, char *err, size_t errlen);

/* Writes the JSON document to path atomically (a temporary file renamed into place). */
int rep_write_json(const char *path, const rep_run *r, char *err, size_t errlen);
void rep_json(FILE *f, const rep_run *r);

/* Appends one row; writes the header when the file is new or empty. Appends are
 * serialised with an exclusive lock, so parallel sweeps may share one file; a file
 * whose header differs is left untouched and reported. */
int rep_append_csv(const char *path, const rep_run *r, char *err, size_t errlen);
/* --batch: a point that failed, as a row of the same file (a model's header or a layer's):
 * its id, the exit status, the message and its overrides, the other columns empty. */
int rep_append_failed_point(const char *path, bool model, const char *version, const char *point,
                            int status, const char *message, const char *const *overrides,
                            size_t n_overrides, char *err, size_t errlen);
const char *rep_csv_header(void);
const char *rep_model_csv_header(void);

/* Model runs (report/model.c). */
void rep_model_summary(FILE *f, const rep_run *r);
/* --explain: for the layer, or every op the mapper searched, its best candidates and
 * their estimates. */
void rep_explain(FILE *f, const rep_run *r);
void rep_model_json(FILE *f, const rep_run *r);
void rep_model_csv_row(const rep_run *r, char *buf, size_t len);

/* ---------------------------------------------------------------- systems (system.c) */

/* A system run (bflysim SYSTEM WORKLOAD) and what it was asked with. */
typedef struct rep_system_run {
    const char *version;
    const char *system_file, *wl_file;
    const sys_desc *sys;
    const arch_desc *arch; /* the devices' */
    const gpu_desc *gpu;   /* the GPU beside them, or NULL */
    const wl_desc *wl;
    const sys_result *res;
    bool analytical;
    int argc;
    char *const *argv;
    size_t n_overrides;
    const char *const *overrides;
    const sys_check_result *check; /* --functional, else NULL */
} rep_system_run;

void rep_system_summary(FILE *f, const rep_system_run *r);
/* The run as JSON, written whole or not at all. */
int rep_write_system_json(const char *path, const rep_system_run *r, char *err, size_t errlen);
/* Appends the run's CSV row (the header first in a new file), as rep_append_csv does. */
int rep_append_system_csv(const char *path, const rep_system_run *r, char *err, size_t errlen);
const char *rep_system_csv_header(void);

#endif
