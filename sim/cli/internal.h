/* internal.h: the parsed command line, shared by cli.c (the run) and options.c (parsing). */
#ifndef BFLY_CLI_INTERNAL_H
#define BFLY_CLI_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include "../config/config.h"
#include "../mapper/mapper.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define CLI_MAX_SETS 64
/* The GPU a run is compared with unless --baseline says otherwise (issue 5). */
#define CLI_DEFAULT_BASELINE "xavier-nx-15w"

/* --progress: decided by whether stderr is a terminal, or forced either way. */
typedef enum { CLI_PROGRESS_AUTO, CLI_PROGRESS_ON, CLI_PROGRESS_OFF } cli_progress;

typedef struct options {
    const char *arch_file, *wl_file;
    const char *json, *csv;
    bool functional, quiet;
    bool fault_twiddle;
    bool fault_merge;     /* --inject-fault=merge: a system run's check */
    const char *fault_op; /* --inject-fault=twiddle:OP: the op (a model's); "" every op */
    bool analytical;      /* --model analytical */
    bool explain;
    bool no_chain; /* --no-chain */
    bool no_fuse;  /* --no-fuse */
    const char *mapping, *dump_mapping;
    const char *accelergy;                     /* --accelergy FILE */
    const char *dram_trace;                    /* --dram-trace FILE */
    const char *trace;                         /* --trace FILE.csv.gz */
    unsigned trace_kinds;                      /* --trace-events, as rep_trace_kinds parses it */
    uint64_t trace_lo, trace_hi, trace_sample; /* --trace-window, --trace-sample (0: unset) */
    bool trace_window;
    const char *timeline;     /* --timeline FILE.json */
    uint64_t timeline_slices; /* --timeline-slices (0: unset) */
    bool systemc;             /* --engine=systemc */
    const char *vcd;          /* --vcd FILE.vcd */
    bool ideal_memory;        /* --ideal-memory (peers) */
    const char *peer;         /* --peer PRESET: the same workload on a peer, compared */
    map_objective objective;  /* --objective */
    const char *baseline;     /* --baseline PRESET, FILE or "none" */
    bool baseline_given;      /* --baseline was on the command line */
    const char *calibrate;    /* --gpu-calibrate CSV */
    cli_progress progress;
    const char *batch;        /* --batch FILE */
    const char *sweep_points; /* --sweep-points SPEC */
    const char *point;        /* a batch line's point id (NULL: not a batch) */
    cfg_override sets[CLI_MAX_SETS];
    size_t n_sets;
    int argc; /* the command line as given, for the results' record */
    char *const *argv;
} options;

/* --objective values, in map_objective order. */
extern const char *const cli_objective_names[];

/* Parses argv (getopt_long: bundled short options, unambiguous long-option prefixes).
 * Returns -1 to go on with the run, else the exit status (--help, --version and
 * --list-keys print on out and return 0). */
int cli_parse(int argc, char **argv, options *o, FILE *out, FILE *err);

/* The first trace option given ("--trace", "--timeline", "--dram-trace"), NULL: none. */
const char *cli_tracing(const options *o);

/* peer.c: bflysim PEER WORKLOAD, a peer accelerator (arch/peers/) on a gemm workload. */
int cli_run_peer(const options *o, const char *peer_path, const char *wl_path, FILE *out,
                 FILE *err);
/* --peer: workload w on that peer, for the comparison beside an mld run. */
int cli_peer_versus(const options *o, const wl_desc *w, peer_desc *p, peer_result *res,
                    double *area_mm2, char *msg, size_t len);

/* The --set arguments as given, for the results' record (cli.c); returns how many. */
size_t cli_override_args(const options *o, const char *ovs[CLI_MAX_SETS]);

/* The run of parsed options o (cli_main after the parse; a batch calls it per point). */
int cli_run(const options *o, FILE *out, FILE *err);

/* batch.c: --batch and --sweep-points (docs/SWEEPS.md). What --batch cannot go with (NULL:
 * nothing set), the batch run, and the printing of a spec's points. */
const char *cli_batch_refuses(const options *o);
int cli_run_batch(const options *o, FILE *out, FILE *err);
int cli_sweep_points(const char *spec, FILE *out, FILE *err);

/* Whether --baseline none turned the GPU baseline off. */
bool cli_no_baseline(const options *o);

#endif
