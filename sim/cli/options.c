/* options.c: the command line: getopt_long parsing into an options struct, and --help. */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../report/report.h"
#include "internal.h"

const char *const cli_objective_names[] = {"latency", "energy", "edp"};

static void usage(FILE *f)
{
    fprintf(f, "Usage: bflysim [OPTION]... ARCH WORKLOAD\n"
               "  or:  bflysim --sweep-points=SPEC\n"
               "  or:  bflysim --gpu-calibrate=CSV [--baseline=PRESET] [--set gpu.KEY=VALUE]...\n"
               "Simulate a workload cycle by cycle on a dataflow PE array.\n"
               "ARCH and WORKLOAD are config files, or the names of shipped presets\n"
               "(e.g. 'bflysim mld-8x8 fabnet-text-4k'). ARCH may also be a system of\n"
               "several arrays (arch/systems/; 'bflysim mld-8x8-ring4 bert-base-text-4k').\n"
               "\n"
               "Mandatory arguments to long options are mandatory for short options too.\n"
               "  -s, --set=FILE.KEY=VALUE  override a config value; FILE is 'arch',\n"
               "                            'workload', 'gpu' (the --baseline preset) or\n"
               "                            'system', KEY\n"
               "                            a dotted path (repeatable), e.g.\n"
               "                            --set arch.array.rows=16 --set workload.rows=64\n"
               "  -j, --json=FILE           write every counter as JSON to FILE\n"
               "  -c, --csv=FILE            append one result row to FILE (the header is\n"
               "                            written when FILE is new)\n"
               "  -f, --functional          move values through the simulated array and check\n"
               "                            them against the reference math\n"
               "  -m, --model=MODE          'cycle' (default): simulate cycle by cycle;\n"
               "                            'analytical': map and estimate in closed form,\n"
               "                            without the engine (for sweeps)\n"
               "      --mapping=FILE        take the mapping of the ops FILE names from FILE\n"
               "      --dump-mapping=FILE   write the chosen mapping (of every op) to FILE (a\n"
               "                            file --mapping reads; edit it to try another)\n"
               "      --accelergy=FILE      write the action counts and the energy of each\n"
               "                            action as Accelergy 0.4 YAML (needs the arch's\n"
               "                            energy table)\n"
               "      --trace=FILE.csv.gz   write the engine's events (PE firings, NoC\n"
               "                            messages, DRAM requests, ops) to FILE as a\n"
               "                            gzip-compressed CSV (traces/README.md)\n"
               "      --trace-events=LIST   the kinds --trace writes: pe,noc,dram,op,spm,dma\n"
               "                            (the default: all)\n"
               "      --trace-window=START:END  only the events from cycle START to END\n"
               "                            (START: to the end), in --trace and --timeline\n"
               "      --trace-sample=N      only the first event of every N of each kind\n"
               "      --timeline=FILE.json  write the run as a Perfetto timeline: a track of\n"
               "                            ops, one per PE, DMA and DRAM channel, and\n"
               "                            counters of DRAM bandwidth, NoC and SPM load\n"
               "                            (open it in ui.perfetto.dev; traces/README.md)\n"
               "      --timeline-slices=N   at most N slices per track and op, and N\n"
               "                            samples per counter (default 500): busy\n"
               "                            periods merge to fit\n"
               "      --engine=NAME         who schedules the engine's events: 'native'\n"
               "                            (default) or 'systemc' (the SystemC kernel:\n"
               "                            the same results; docs/SYSTEMC.md)\n"
               "      --vcd=FILE.vcd        with --engine=systemc: write waveforms (each\n"
               "                            PE's busy signal and tag, DMA and DRAM channels,\n"
               "                            SPM bank conflicts) over --trace-window\n"
               "      --peer=PRESET         also run the workload on a peer accelerator\n"
               "                            (arch/peers/) and report the efficiency\n"
               "                            (throughput per unit of peak) and energy\n"
               "                            ratios (docs/PEERS.md)\n"
               "      --ideal-memory        peer accelerators (arch/peers/): memory never\n"
               "                            stalls, as in SCALE-Sim's default runs\n"
               "      --dram-trace=FILE     write every DRAM burst to FILE as Ramulator2's\n"
               "                            LoadStoreTrace reads it (LD/ST lines; models:\n"
               "                            one instance of each block entry)\n"
               "  -e, --explain             print, for every search the mapper ran, its best\n"
               "                            candidates with their estimated cycles\n"
               "      --no-chain            models: never run a consumer op beside its\n"
               "                            producer (by default the mapper does so where\n"
               "                            the estimate says it pays)\n"
               "      --no-fuse             models: map every op on its own, never a block's\n"
               "                            row-local ops as one pipeline of PE groups (by\n"
               "                            default the mapper does so where the estimate\n"
               "                            says it pays)\n"
               "  -o, --objective=WHAT      what the mapper minimises: 'latency' (default),\n"
               "                            'energy' or 'edp' (energy needs the arch's\n"
               "                            energy table)\n"
               "  -b, --baseline=PRESET     the GPU the run is compared with: a preset name\n"
               "                            (xavier-nx-15w, the default; xavier-nx-10w,\n"
               "                            xavier-nx-20w, agx-orin, orin-nano, nano), a\n"
               "                            preset FILE, or 'none'; --set gpu.KEY=VALUE\n"
               "                            overrides its values\n"
               "      --gpu-calibrate=CSV   fit the --baseline preset's efficiency factors to\n"
               "                            a scripts/gpu-microbench.py CSV and print the\n"
               "                            calibrated preset (no ARCH or WORKLOAD then)\n"
               "      --progress            show a progress line on stderr (by default only\n"
               "                            when stderr is a terminal and the run is long)\n"
               "      --no-progress         never show it\n"
               "      --batch=FILE          run one point a line of FILE ('[ID] FILE.KEY=VALUE\n"
               "                            ...': overrides on top of the --set ones) in one\n"
               "                            process, appending one --csv row each, led by\n"
               "                            the point's id, exit status and message; a\n"
               "                            failing point is recorded, not fatal\n"
               "                            (docs/SWEEPS.md)\n"
               "      --sweep-points=SPEC   print a sweep spec's points, one batch line each,\n"
               "                            after '#' lines naming its arch, workload, mode\n"
               "                            and output (scripts/sweep.sh runs them)\n"
               "  -q, --quiet               print nothing but errors\n"
               "      --list-keys           list every config key with its range and default\n"
               "      --list-presets        list the shipped presets by name, and where they are\n"
               "      --inject-fault=twiddle[:OP]  corrupt one twiddle in the mapped program (a\n"
               "                            model: the first weight of every op of the first\n"
               "                            block, or of op OP only), to test the --functional\n"
               "                            checker; the run must exit 3\n"
               "      --inject-fault=merge  a system run: corrupt one shard's partial softmax\n"
               "                            states before the merge; the run must exit 3\n"
               "  -h, --help                display this help and exit\n"
               "  -V, --version             output version information and exit\n"
               "\n"
               "Presets are looked up in $BFLYSIM_DATADIR, then in the data directory next to\n"
               "the installed program, then in the configured one.\n"
               "\n"
               "Exit status:\n"
               " 0  if OK,\n"
               " 1  if the run failed (an I/O error, no mapping fits, an internal error),\n"
               " 2  if the command line, a config or a mapping file is wrong (including a\n"
               "    --mapping plan that does not fit the array),\n"
               " 3  if a --functional run's output differs from the reference,\n"
               " 130, 143  if interrupted by SIGINT or SIGTERM.\n"
               "\n"
               "Report bugs through the bflysim issue tracker, with the command line, the\n"
               "config files and the output of 'bflysim --version'.\n");
}

static void version(FILE *f)
{
    fprintf(f,
            "bflysim %s\n"
            "Copyright (C) 2026 the bflysim developers.\n"
            "License: MIT <https://opensource.org/licenses/MIT>.\n"
            "This is free software: you are free to change and redistribute it.\n"
            "There is NO WARRANTY, to the extent permitted by law.\n",
            PACKAGE_VERSION);
}

/* --list-presets: each kind's names and the folder they were found in. */
static void list_presets(FILE *f)
{
    static const char *const what[] = {"arch", "workload", "GPU (--baseline)", "system",
                                       "peer accelerator"};
    for (int k = 0; k < CFG_PRESET_COUNT; k++) {
        char names[64][CFG_NAME_MAX], dir[CFG_DIR_MAX + 16];
        int n = cfg_list_presets((cfg_preset_kind)k, names, 64, dir, sizeof dir);
        fprintf(f, "%s presets (%s):", what[k], n ? dir : "none found");
        for (int i = 0; i < n; i++)
            fprintf(f, " %s", names[i]);
        fputc('\n', f);
    }
}

bool cli_no_baseline(const options *o)
{
    return strcmp(o->baseline, "none") == 0;
}

enum {
    OPT_LIST_KEYS = 256,
    OPT_LIST_PRESETS,
    OPT_INJECT_FAULT,
    OPT_MAPPING,
    OPT_DUMP_MAPPING,
    OPT_ACCELERGY,
    OPT_DRAM_TRACE,
    OPT_TRACE,
    OPT_TRACE_EVENTS,
    OPT_TRACE_WINDOW,
    OPT_TRACE_SAMPLE,
    OPT_TIMELINE,
    OPT_TIMELINE_SLICES,
    OPT_ENGINE,
    OPT_VCD,
    OPT_IDEAL_MEMORY,
    OPT_PEER,
    OPT_CALIBRATE,
    OPT_NO_CHAIN,
    OPT_NO_FUSE,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_BATCH,
    OPT_SWEEP_POINTS
};

static const struct option long_opts[] = {
    {"set", required_argument, NULL, 's'},
    {"json", required_argument, NULL, 'j'},
    {"csv", required_argument, NULL, 'c'},
    {"functional", no_argument, NULL, 'f'},
    {"quiet", no_argument, NULL, 'q'},
    {"list-keys", no_argument, NULL, OPT_LIST_KEYS},
    {"list-presets", no_argument, NULL, OPT_LIST_PRESETS},
    {"inject-fault", required_argument, NULL, OPT_INJECT_FAULT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"model", required_argument, NULL, 'm'},
    {"explain", no_argument, NULL, 'e'},
    {"mapping", required_argument, NULL, OPT_MAPPING},
    {"dump-mapping", required_argument, NULL, OPT_DUMP_MAPPING},
    {"objective", required_argument, NULL, 'o'},
    {"accelergy", required_argument, NULL, OPT_ACCELERGY},
    {"dram-trace", required_argument, NULL, OPT_DRAM_TRACE},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"trace-events", required_argument, NULL, OPT_TRACE_EVENTS},
    {"trace-window", required_argument, NULL, OPT_TRACE_WINDOW},
    {"trace-sample", required_argument, NULL, OPT_TRACE_SAMPLE},
    {"timeline", required_argument, NULL, OPT_TIMELINE},
    {"timeline-slices", required_argument, NULL, OPT_TIMELINE_SLICES},
    {"engine", required_argument, NULL, OPT_ENGINE},
    {"vcd", required_argument, NULL, OPT_VCD},
    {"ideal-memory", no_argument, NULL, OPT_IDEAL_MEMORY},
    {"peer", required_argument, NULL, OPT_PEER},
    {"baseline", required_argument, NULL, 'b'},
    {"gpu-calibrate", required_argument, NULL, OPT_CALIBRATE},
    {"no-chain", no_argument, NULL, OPT_NO_CHAIN},
    {"no-fuse", no_argument, NULL, OPT_NO_FUSE},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"sweep-points", required_argument, NULL, OPT_SWEEP_POINTS},
    {NULL, 0, NULL, 0}};
#define N_LONG (sizeof long_opts / sizeof long_opts[0] - 1)

/* getopt_long's own messages go to stderr; this writes them to err, in its words, for the
 * argument it stopped at (arg) and the option it names (opt: its val, 0 for none). */
static int bad_option(const char *arg, int opt, bool missing, FILE *err)
{
    char name[64] = "";
    if (arg && strncmp(arg, "--", 2) == 0)
        snprintf(name, sizeof name, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
    /* the argument getopt stopped at is this error's when it names the option (or none) */
    const struct option *named = NULL;
    size_t n_named = 0;
    for (size_t k = 0; name[0] && k < N_LONG; k++) {
        if (strcmp(long_opts[k].name, name) == 0) {
            named = &long_opts[k], n_named = 1;
            break;
        }
        if (strncmp(long_opts[k].name, name, strlen(name)) == 0)
            named = &long_opts[k], n_named++;
    }
    if (n_named != 1)
        named = NULL;
    bool dashes = arg && strncmp(arg, "--", 2) == 0;
    bool is_long = dashes && (opt == 0 || (named && named->val == opt));
    if (is_long && named)
        snprintf(name, sizeof name, "%s", named->name);
    if (missing && is_long)
        fprintf(err, "bflysim: option '--%s' requires an argument\n", name);
    else if (missing)
        fprintf(err, "bflysim: option requires an argument -- '%c'\n", opt);
    else if (is_long && opt) /* a value given to an option that takes none */
        fprintf(err, "bflysim: option '--%s' doesn't allow an argument\n", name);
    else if (!is_long)
        fprintf(err, "bflysim: invalid option -- '%c'\n", opt);
    else {
        const char *longs[N_LONG], *match[N_LONG];
        size_t n_match = 0, len = strlen(name);
        for (size_t k = 0; k < N_LONG; k++) {
            longs[k] = long_opts[k].name;
            if (strncmp(long_opts[k].name, name, len) == 0)
                match[n_match++] = long_opts[k].name;
        }
        if (n_match > 1 && len > 0) {
            fprintf(err, "bflysim: option '--%s' is ambiguous; possibilities:", name);
            for (size_t k = 0; k < n_match; k++)
                fprintf(err, " '--%s'", match[k]);
            fprintf(err, "\n");
        } else {
            /* the nearest long option, within a third of the name (3 edits at least) */
            size_t third = len / 3;
            const char *near =
                len ? util_closest(name, longs, N_LONG, third > 3 ? third : 3) : NULL;
            if (near)
                fprintf(err, "bflysim: unrecognized option '%s'; did you mean '--%s'?\n", arg,
                        near);
            else
                fprintf(err, "bflysim: unrecognized option '%s'\n", arg);
        }
    }
    fprintf(err, "Try 'bflysim --help' for more information.\n");
    return UTIL_ECONFIG;
}

/* One option's value into *o; -1 to go on, else an exit status. */
static int take(int c, const char *val, options *o, FILE *out, FILE *err)
{
    char msg[512];
    switch (c) {
    case 's':
        if (o->n_sets == CLI_MAX_SETS) {
            fprintf(err, "bflysim: at most %d --set options\n", CLI_MAX_SETS);
            return UTIL_ECONFIG;
        }
        if (cfg_parse_override(val, &o->sets[o->n_sets], msg, sizeof msg)) {
            fprintf(err, "bflysim: %s\n", msg);
            return UTIL_ECONFIG;
        }
        o->n_sets++;
        return -1;
    case 'j':
        o->json = val;
        return -1;
    case 'c':
        o->csv = val;
        return -1;
    case 'f':
        o->functional = true;
        return -1;
    case 'q':
        o->quiet = true;
        return -1;
    case OPT_LIST_KEYS:
        cfg_print_keys(out);
        return UTIL_OK;
    case OPT_LIST_PRESETS:
        list_presets(out);
        return UTIL_OK;
    case OPT_INJECT_FAULT:
        if (strcmp(val, "merge") == 0) {
            o->fault_merge = true;
            return -1;
        }
        if (strncmp(val, "twiddle", 7) != 0 || (val[7] && (val[7] != ':' || !val[8]))) {
            fprintf(err,
                    "bflysim: --inject-fault=%s: the faults are 'twiddle' (or 'twiddle:OP', "
                    "one op of a model) and 'merge' (a system run's partial states)\n",
                    val);
            return UTIL_ECONFIG;
        }
        o->fault_twiddle = true;
        o->fault_op = val[7] ? val + 8 : "";
        return -1;
    case 'h':
        usage(out);
        return UTIL_OK;
    case 'V':
        version(out);
        return UTIL_OK;
    case 'm':
        if (strcmp(val, "analytical") != 0 && strcmp(val, "cycle") != 0) {
            fprintf(err, "bflysim: --model=%s: expected 'cycle' or 'analytical'\n", val);
            return UTIL_ECONFIG;
        }
        o->analytical = strcmp(val, "analytical") == 0;
        return -1;
    case 'e':
        o->explain = true;
        return -1;
    case OPT_MAPPING:
        o->mapping = val;
        return -1;
    case OPT_DUMP_MAPPING:
        o->dump_mapping = val;
        return -1;
    case 'o': {
        int k = 0;
        while (k < 3 && strcmp(val, cli_objective_names[k]) != 0)
            k++;
        if (k == 3) {
            fprintf(err, "bflysim: --objective=%s: expected 'latency', 'energy' or 'edp'\n", val);
            return UTIL_ECONFIG;
        }
        o->objective = (map_objective)k;
        return -1;
    }
    case OPT_ACCELERGY:
        o->accelergy = val;
        return -1;
    case OPT_DRAM_TRACE:
        o->dram_trace = val;
        return -1;
    case OPT_TRACE:
        o->trace = val;
        return -1;
    case OPT_TRACE_WINDOW: {
        char *end;
        errno = 0;
        unsigned long long lo = strtoull(val, &end, 10), hi = 0;
        bool ok = end != val && *end == ':' && val[0] != '-' && !errno;
        if (ok && end[1]) {
            char *e2;
            hi = strtoull(end + 1, &e2, 10);
            ok = *e2 == '\0' && end[1] != '-' && !errno && hi > lo;
        }
        if (!ok) {
            fprintf(err,
                    "bflysim: --trace-window=%s: expected START:END or START: (cycles, END "
                    "above START)\n",
                    val);
            return UTIL_ECONFIG;
        }
        o->trace_lo = lo, o->trace_hi = hi, o->trace_window = true;
        return -1;
    }
    case OPT_TRACE_SAMPLE:
    case OPT_TIMELINE_SLICES: {
        bool sample = c == OPT_TRACE_SAMPLE;
        unsigned long long lo = sample ? 1 : 16, hi = sample ? UINT64_MAX : 1000000;
        char *end;
        errno = 0;
        unsigned long long n = strtoull(val, &end, 10);
        if (end == val || *end || val[0] == '-' || errno || n < lo || n > hi) {
            if (sample)
                fprintf(err,
                        "bflysim: --trace-sample=%s: expected a whole number, 1 or more (keep "
                        "one event of every N of each kind)\n",
                        val);
            else
                fprintf(err,
                        "bflysim: --timeline-slices=%s: expected a whole number from 16 to "
                        "1000000 (slices per track and op)\n",
                        val);
            return UTIL_ECONFIG;
        }
        *(sample ? &o->trace_sample : &o->timeline_slices) = n;
        return -1;
    }
    case OPT_TIMELINE:
        o->timeline = val;
        return -1;
    case OPT_VCD:
        o->vcd = val;
        return -1;
    case OPT_IDEAL_MEMORY:
        o->ideal_memory = true;
        return -1;
    case OPT_PEER:
        o->peer = val;
        return -1;
    case OPT_ENGINE:
        if (strcmp(val, "native") && strcmp(val, "systemc")) {
            fprintf(err, "bflysim: --engine=%s: expected 'native' or 'systemc'\n", val);
            return UTIL_ECONFIG;
        }
        o->systemc = !strcmp(val, "systemc");
        return -1;
    case OPT_TRACE_EVENTS: {
        char why[256];
        if (rep_trace_kinds(val, &o->trace_kinds, why, sizeof why)) {
            fprintf(err, "bflysim: %s\n", why);
            return UTIL_ECONFIG;
        }
        return -1;
    }
    case 'b':
        o->baseline = val, o->baseline_given = true;
        return -1;
    case OPT_CALIBRATE:
        o->calibrate = val;
        return -1;
    case OPT_NO_CHAIN:
        o->no_chain = true;
        return -1;
    case OPT_NO_FUSE:
        o->no_fuse = true;
        return -1;
    case OPT_PROGRESS:
        o->progress = CLI_PROGRESS_ON;
        return -1;
    case OPT_NO_PROGRESS:
        o->progress = CLI_PROGRESS_OFF;
        return -1;
    case OPT_BATCH:
        o->batch = val;
        return -1;
    case OPT_SWEEP_POINTS:
        o->sweep_points = val;
        return -1;
    default:
        return UTIL_ECONFIG;
    }
}

/* The checks that need every option: overrides of files the run reads, the positional
 * arguments, and options that need others. */
static int check_combination(options *o, int npos, char **pos, FILE *err)
{
    if (!o->baseline)
        o->baseline = CLI_DEFAULT_BASELINE;
    /* an override of a file this run does not read would be silently lost */
    for (size_t i = 0; i < o->n_sets; i++) {
        bool gpu = strcmp(o->sets[i].file, "gpu") == 0;
        if (gpu && cli_no_baseline(o)) {
            fprintf(err, "bflysim: --set %s: --baseline none loads no GPU preset to override\n",
                    o->sets[i].arg);
            return UTIL_ECONFIG;
        }
        if (!gpu && o->calibrate) {
            fprintf(err,
                    "bflysim: --set %s: --gpu-calibrate reads no %s file (only gpu.KEY "
                    "overrides apply)\n",
                    o->sets[i].arg, o->sets[i].file);
            return UTIL_ECONFIG;
        }
    }
    if (o->sweep_points) {
        if (npos || o->n_sets) {
            fprintf(err, "bflysim: --sweep-points takes no ARCH, WORKLOAD or --set (the spec "
                         "names them)\n");
            return UTIL_ECONFIG;
        }
        return -1;
    }
    if (o->calibrate) {
        if (npos) {
            fprintf(err, "bflysim: --gpu-calibrate takes no ARCH.cfg or WORKLOAD.cfg\n");
            return UTIL_ECONFIG;
        }
        return -1;
    }
    if (npos != 2) {
        if (npos > 2)
            fprintf(err, "bflysim: unexpected argument '%s'\n", pos[2]);
        else
            fprintf(err, "bflysim: expected ARCH.cfg and WORKLOAD.cfg\n");
        fprintf(err, "Try 'bflysim --help' for more information.\n");
        return UTIL_ECONFIG;
    }
    if (o->analytical && o->functional) {
        fprintf(err, "bflysim: --functional needs --model=cycle (values only flow through "
                     "the engine)\n");
        return UTIL_ECONFIG;
    }
    if (o->vcd && !o->systemc) {
        fprintf(err, "bflysim: --vcd needs --engine=systemc (the waveforms are SystemC "
                     "signals)\n");
        return UTIL_ECONFIG;
    }
    if (o->analytical && o->systemc) {
        fprintf(err, "bflysim: --engine=systemc needs --model=cycle (the estimate runs no "
                     "engine)\n");
        return UTIL_ECONFIG;
    }
    if (o->analytical && cli_tracing(o)) {
        fprintf(err, "bflysim: %s needs --model=cycle (the estimate runs no engine events)\n",
                cli_tracing(o));
        return UTIL_ECONFIG;
    }
    if ((o->trace_kinds || o->trace_sample) && !o->trace) {
        fprintf(err, "bflysim: %s needs --trace FILE\n",
                o->trace_kinds ? "--trace-events" : "--trace-sample");
        return UTIL_ECONFIG;
    }
    if ((o->trace_window && !o->trace && !o->timeline && !o->vcd) ||
        (o->timeline_slices && !o->timeline)) {
        fprintf(err, "bflysim: %s\n",
                o->timeline_slices ? "--timeline-slices needs --timeline FILE"
                                   : "--trace-window needs --trace, --timeline or --vcd FILE");
        return UTIL_ECONFIG;
    }
    if (o->timeline && !o->timeline_slices)
        o->timeline_slices = 500;
    if (o->trace && !o->trace_kinds)
        o->trace_kinds = (1u << REP_TRACE_KINDS) - 1;
    if ((o->fault_twiddle || o->fault_merge) && !o->functional) {
        fprintf(err, "bflysim: --inject-fault needs --functional\n");
        return UTIL_ECONFIG;
    }
    const char *no = o->batch ? cli_batch_refuses(o) : NULL;
    if (no) {
        fprintf(err, "bflysim: --batch %s\n", no);
        return UTIL_ECONFIG;
    }
    o->arch_file = pos[0];
    o->wl_file = pos[1];
    return -1;
}

int cli_parse(int argc, char **argv, options *o, FILE *out, FILE *err)
{
    o->argc = argc;
    o->argv = argv;
    /* getopt_long permutes its vector: it gets a copy, so the record keeps the order */
    char **v = calloc((size_t)argc + 1, sizeof *v);
    if (!v) {
        fprintf(err, "bflysim: out of memory\n");
        return UTIL_ERUN;
    }
    memcpy(v, argv, (size_t)argc * sizeof *v);
    /* getopt keeps its place in globals: optind = 0 restarts it for this vector */
    optind = 0;
    opterr = 0;
    int rc = -1, c;
    while (rc < 0 && (c = getopt_long(argc, v, ":s:j:c:fqhVm:eo:b:", long_opts, NULL)) != -1) {
        if (c == '?' || c == ':')
            rc = bad_option(optind > 0 && optind <= argc ? v[optind - 1] : NULL, optopt, c == ':',
                            err);
        else
            rc = take(c, optarg, o, out, err);
    }
    if (rc < 0)
        rc = check_combination(o, argc - optind, v + optind, err);
    free(v);
    return rc;
}
