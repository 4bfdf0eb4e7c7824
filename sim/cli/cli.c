/* cli.c: option parsing and the run: configs -> workload -> mapping -> engine -> reports. */
#include "cli.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../config/config.h"
#include "../engine/engine.h"
#include "../gpu/gpu.h"
#include "../mapper/mapper.h"
#include "../ref/ref.h"
#include "../report/report.h"
#include "../run/run.h"
#include "../workload/workload.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

/* Functional runs keep the matrices, reference and bound in memory: cap their size. */
#define CLI_MAX_FUNCTIONAL_ELEMS (UINT64_C(1) << 22)
#define CLI_MAX_SETS 64
/* The GPU a run is compared with unless --baseline says otherwise (issue 5). */
#define CLI_DEFAULT_BASELINE "xavier-nx-15w"

typedef struct options {
    const char *arch_file, *wl_file;
    const char *json, *csv;
    bool functional, quiet;
    bool fault_twiddle;
    const char *fault_op; /* --inject-fault=twiddle:OP: the op (a model's); "" every op */
    bool analytical;      /* --model analytical */
    bool explain;
    bool no_chain; /* --no-chain */
    bool no_fuse;  /* --no-fuse */
    const char *mapping, *dump_mapping;
    const char *accelergy;   /* --accelergy FILE */
    map_objective objective; /* --objective */
    const char *baseline;    /* --baseline PRESET, FILE or "none" */
    const char *calibrate;   /* --gpu-calibrate CSV */
    cfg_override sets[CLI_MAX_SETS];
    size_t n_sets;
} options;

/* --objective values, in map_objective order. */
static const char *const objective_names[] = {"latency", "energy", "edp"};

static void usage(FILE *f)
{
    fprintf(f, "Usage: bflysim [OPTION]... ARCH.cfg WORKLOAD.cfg\n"
               "Simulate a workload cycle by cycle on a dataflow PE array.\n"
               "\n"
               "  -s, --set FILE.KEY=VALUE  override a config value; FILE is 'arch' or\n"
               "                            'workload', KEY a dotted path (repeatable),\n"
               "                            e.g. --set arch.array.rows=16 --set workload.rows=64\n"
               "  -j, --json FILE           write every counter as JSON to FILE\n"
               "  -c, --csv FILE            append one result row to FILE (the header is\n"
               "                            written when FILE is new)\n"
               "  -f, --functional          move values through the simulated array and check\n"
               "                            them against the reference math\n"
               "  -m, --model=MODE          'cycle' (default): simulate cycle by cycle;\n"
               "                            'analytical': map and estimate in closed form,\n"
               "                            without the engine (for sweeps)\n"
               "      --mapping FILE        take the mapping of the ops FILE names from FILE\n"
               "      --dump-mapping FILE   write the chosen mapping (of every op) to FILE (a\n"
               "                            file --mapping reads; edit it to try another)\n"
               "      --accelergy FILE      write the action counts and the energy of each\n"
               "                            action as Accelergy 0.4 YAML (needs the arch's\n"
               "                            energy table)\n"
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
               "      --gpu-calibrate CSV   fit the --baseline preset's efficiency factors to\n"
               "                            a scripts/gpu-microbench.py CSV and print the\n"
               "                            calibrated preset (no ARCH or WORKLOAD then)\n"
               "  -q, --quiet               print nothing but errors\n"
               "      --list-keys           list every config key with its range and default\n"
               "      --inject-fault=twiddle[:OP]  corrupt one twiddle in the mapped program (a\n"
               "                            model: the first weight of every op of the first\n"
               "                            block, or of op OP only), to test the --functional\n"
               "                            checker; the run must exit 3\n"
               "  -h, --help                display this help and exit\n"
               "  -V, --version             output version information and exit\n"
               "\n"
               "Exit status: 0 ok, 1 run failure, 2 usage or config error, 3 functional\n"
               "mismatch.\n");
}

/* Whether --baseline none turned the GPU baseline off. */
static bool no_baseline(const options *o)
{
    return strcmp(o->baseline, "none") == 0;
}

/* Parses argv without getopt's global state. Returns -1 to continue, else an exit code. */
static int parse(int argc, char **argv, options *o, FILE *out, FILE *err)
{
    const char *pos[2];
    int npos = 0;
    bool no_more_opts = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (no_more_opts || a[0] != '-' || a[1] == '\0') {
            if (npos == 2) {
                fprintf(err, "bflysim: unexpected argument '%s'\n", a);
                fprintf(err, "Try 'bflysim --help' for more information.\n");
                return UTIL_ECONFIG;
            }
            pos[npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            no_more_opts = true;
            continue;
        }
        /* Split --name=value; short options take their value from the next argument. */
        char name[64];
        const char *val = NULL;
        if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            if (len >= sizeof name)
                len = sizeof name - 1;
            memcpy(name, a, len);
            name[len] = '\0';
            val = eq ? eq + 1 : NULL;
        } else {
            snprintf(name, sizeof name, "%.2s", a);
            if (a[2])
                val = a + 2;
        }
        static const struct {
            const char *s, *l;
            bool arg;
        } opts[] = {{"-s", "--set", true},         {"-j", "--json", true},
                    {"-c", "--csv", true},         {"-f", "--functional", false},
                    {"-q", "--quiet", false},      {"", "--list-keys", false},
                    {"", "--inject-fault", true},  {"-h", "--help", false},
                    {"-V", "--version", false},    {"-m", "--model", true},
                    {"-e", "--explain", false},    {"", "--mapping", true},
                    {"", "--dump-mapping", true},  {"-o", "--objective", true},
                    {"", "--accelergy", true},     {"-b", "--baseline", true},
                    {"", "--gpu-calibrate", true}, {"", "--no-chain", false},
                    {"", "--no-fuse", false}};
        int which = -1;
        for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
            if (strcmp(name, opts[k].s) == 0 || strcmp(name, opts[k].l) == 0)
                which = (int)k;
        if (which < 0) {
            /* the nearest long option, within a third of the name (3 edits at least) */
            const char *longs[sizeof opts / sizeof opts[0]];
            for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
                longs[k] = opts[k].l;
            size_t third = strlen(name) / 3;
            const char *near =
                util_closest(name, longs, sizeof opts / sizeof opts[0], third > 3 ? third : 3);
            if (near)
                fprintf(err, "bflysim: unrecognized option '%s'; did you mean '%s'?\n", a, near);
            else
                fprintf(err, "bflysim: unrecognized option '%s'\n", a);
            fprintf(err, "Try 'bflysim --help' for more information.\n");
            return UTIL_ECONFIG;
        }
        if (opts[which].arg && !val) {
            if (i + 1 >= argc) {
                fprintf(err, "bflysim: option '%s' requires an argument\n", opts[which].l);
                return UTIL_ECONFIG;
            }
            val = argv[++i];
        } else if (!opts[which].arg && val) {
            fprintf(err, "bflysim: option '%s' doesn't allow an argument\n", opts[which].l);
            return UTIL_ECONFIG;
        }
        char msg[512];
        switch (which) {
        case 0:
            if (o->n_sets == CLI_MAX_SETS) {
                fprintf(err, "bflysim: at most %d --set options\n", CLI_MAX_SETS);
                return UTIL_ECONFIG;
            }
            if (cfg_parse_override(val, &o->sets[o->n_sets], msg, sizeof msg)) {
                fprintf(err, "bflysim: %s\n", msg);
                return UTIL_ECONFIG;
            }
            o->n_sets++;
            break;
        case 1:
            o->json = val;
            break;
        case 2:
            o->csv = val;
            break;
        case 3:
            o->functional = true;
            break;
        case 4:
            o->quiet = true;
            break;
        case 5:
            cfg_print_keys(out);
            return UTIL_OK;
        case 6:
            if (strncmp(val, "twiddle", 7) != 0 || (val[7] && (val[7] != ':' || !val[8]))) {
                fprintf(err,
                        "bflysim: --inject-fault=%s: the only fault is 'twiddle' (or "
                        "'twiddle:OP', one op of a model)\n",
                        val);
                return UTIL_ECONFIG;
            }
            o->fault_twiddle = true;
            o->fault_op = val[7] ? val + 8 : "";
            break;
        case 7:
            usage(out);
            return UTIL_OK;
        case 8:
            fprintf(out, "bflysim %s\n", PACKAGE_VERSION);
            return UTIL_OK;
        case 9:
            if (strcmp(val, "analytical") != 0 && strcmp(val, "cycle") != 0) {
                fprintf(err, "bflysim: --model=%s: expected 'cycle' or 'analytical'\n", val);
                return UTIL_ECONFIG;
            }
            o->analytical = strcmp(val, "analytical") == 0;
            break;
        case 10:
            o->explain = true;
            break;
        case 11:
            o->mapping = val;
            break;
        case 12:
            o->dump_mapping = val;
            break;
        case 13: {
            int k = 0;
            while (k < 3 && strcmp(val, objective_names[k]) != 0)
                k++;
            if (k == 3) {
                fprintf(err, "bflysim: --objective=%s: expected 'latency', 'energy' or 'edp'\n",
                        val);
                return UTIL_ECONFIG;
            }
            o->objective = (map_objective)k;
            break;
        }
        case 14:
            o->accelergy = val;
            break;
        case 15:
            o->baseline = val;
            break;
        case 16:
            o->calibrate = val;
            break;
        case 17:
            o->no_chain = true;
            break;
        case 18:
            o->no_fuse = true;
            break;
        }
    }
    if (!o->baseline)
        o->baseline = CLI_DEFAULT_BASELINE;
    /* an override of a file this run does not read would be silently lost */
    for (size_t i = 0; i < o->n_sets; i++) {
        bool gpu = strcmp(o->sets[i].file, "gpu") == 0;
        if (gpu && no_baseline(o)) {
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
    if (o->calibrate) {
        if (npos) {
            fprintf(err, "bflysim: --gpu-calibrate takes no ARCH.cfg or WORKLOAD.cfg\n");
            return UTIL_ECONFIG;
        }
        return -1;
    }
    if (npos != 2) {
        fprintf(err, "bflysim: expected ARCH.cfg and WORKLOAD.cfg\n");
        fprintf(err, "Try 'bflysim --help' for more information.\n");
        return UTIL_ECONFIG;
    }
    if (o->analytical && o->functional) {
        fprintf(err, "bflysim: --functional needs --model=cycle (values only flow through "
                     "the engine)\n");
        return UTIL_ECONFIG;
    }
    if (o->fault_twiddle && !o->functional) {
        fprintf(err, "bflysim: --inject-fault needs --functional\n");
        return UTIL_ECONFIG;
    }
    o->arch_file = pos[0];
    o->wl_file = pos[1];
    return -1;
}

/* Functional data: DRAM image with inputs and weights, reference output and bound. */
typedef struct fdata {
    float *image, *tw;
    double *want, *bound;
} fdata;

static void fdata_free(fdata *d)
{
    free(d->image);
    free(d->tw);
    free(d->want);
    free(d->bound);
}

static int prepare_functional(const wl_butterfly *b, const map_result *m, bool fault, fdata *d,
                              char *err, size_t errlen)
{
    uint64_t elems = b->rows * b->n;
    if (elems > CLI_MAX_FUNCTIONAL_ELEMS)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "--functional handles at most 2^22 elements (rows x n); this workload "
                         "has %llu",
                         (unsigned long long)elems);
    d->image = util_calloc(m->dram_elems, sizeof *d->image);
    d->tw = util_calloc(wl_twiddle_count(b), sizeof *d->tw);
    d->want = util_calloc(elems, sizeof *d->want);
    d->bound = util_calloc(elems, sizeof *d->bound);
    if (!d->image || !d->tw || !d->want || !d->bound)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory for the functional run");
    wl_butterfly_twiddles(b, d->tw);
    wl_butterfly_inputs(b, d->image + m->x_addr);
    ref_butterfly(b->n, b->rows, d->tw, d->image + m->x_addr, d->want);
    /* Each stage rounds once to the element type (u), plus a double-precision sum
     * (2^-52) before it; subnormal FP16 results are off by at most half a unit 2^-24. */
    double u = util_dtype_unit_roundoff(b->dtype) + 0x1p-52;
    double eta = b->dtype == UTIL_FP16 ? 0x1p-25 : 0x1p-150;
    ref_butterfly_bound(b->n, b->rows, d->tw, d->image + m->x_addr, u, eta, d->bound);
    map_write_weights(m, b, d->tw, d->image);
    if (fault) {
        /* The first twiddle loaded by the first instruction of the first phase. */
        float *w = d->image + m->phases[0].instr[0].weight_addr;
        *w = util_round_dtype(b->dtype, *w + 1.0f);
    }
    return UTIL_OK;
}

/* The GPU baseline of a run: the preset and the workload priced on it. */
typedef struct baseline {
    gpu_desc gpu;
    gpu_result res;
} baseline;

/* Writes the summary, JSON, CSV, Accelergy counts, --explain and the mapping file of a
 * finished run, with its baseline base (NULL: none); returns the status. */
static int write_outputs(const options *o, rep_run *run, const baseline *base, FILE *out, FILE *err)
{
    char msg[1024];
    int rc = UTIL_OK;
    if (base)
        /* the preset as the user named it: no host paths in results */
        run->gpu = &base->gpu, run->gpu_file = o->baseline, run->baseline = &base->res;
    if (!o->quiet)
        rep_summary(out, run);
    if (o->json && (rc = rep_write_json(o->json, run, msg, sizeof msg)))
        fprintf(err, "bflysim: %s\n", msg);
    if (!rc && o->csv && (rc = rep_append_csv(o->csv, run, msg, sizeof msg)))
        fprintf(err, "bflysim: %s\n", msg);
    if (!rc && o->accelergy && (rc = rep_write_accelergy(o->accelergy, run, msg, sizeof msg)))
        fprintf(err, "bflysim: %s\n", msg);
    if (!rc && o->explain)
        rep_explain(out, run);
    if (!rc && o->dump_mapping && (rc = rep_write_mapping(o->dump_mapping, run, msg, sizeof msg)))
        fprintf(err, "bflysim: %s\n", msg);
    return rc;
}

/* The user's mapping directives (--mapping FILE and --objective) into *how; NULL when
 * there are none. */
static int load_directives(const options *o, const arch_desc *arch, map_forced **how, FILE *err)
{
    char msg[1024];
    map_forced *forced = NULL;
    *how = NULL;
    if (o->mapping) {
        forced = malloc(sizeof *forced);
        int lrc = forced ? cfg_load_mapping(o->mapping, forced, msg, sizeof msg)
                         : util_fail(UTIL_ERUN, msg, sizeof msg, "out of memory");
        if (lrc) {
            fprintf(err, "bflysim: %s\n", msg);
            free(forced);
            return lrc;
        }
    }
    if (o->accelergy && !arch->energy.present) {
        fprintf(err,
                "bflysim: --accelergy %s: the arch has no energy table (%s names none), so "
                "there are no priced action counts (add energy = { table = "
                "\"energy/NODE.cfg\"; })\n",
                o->accelergy, o->arch_file);
        free(forced);
        return UTIL_ECONFIG;
    }
    if (o->no_chain || o->no_fuse) {
        if (!forced && !(forced = calloc(1, sizeof *forced))) {
            fprintf(err, "bflysim: out of memory\n");
            return UTIL_ERUN;
        }
        if (o->no_chain)
            forced->chaining = MAP_CHAIN_OFF;
        if (o->no_fuse)
            forced->fusing = MAP_FUSE_OFF;
    }
    if (o->objective != MAP_LATENCY) {
        if (!arch->energy.present) {
            fprintf(err,
                    "bflysim: --objective=%s needs an energy table, and %s names none (add "
                    "energy = { table = \"energy/NODE.cfg\"; })\n",
                    objective_names[o->objective], o->arch_file);
            free(forced);
            return UTIL_ECONFIG;
        }
        if (!forced && !(forced = calloc(1, sizeof *forced))) {
            fprintf(err, "bflysim: out of memory\n");
            return UTIL_ERUN;
        }
        forced->objective = o->objective;
        forced->energy = run_energy_pj;
    }
    *how = forced;
    return UTIL_OK;
}

/* The --baseline preset (default xavier-nx-15w) with the gpu.KEY overrides, into *g. */
static int load_gpu(const options *o, gpu_desc *g, FILE *err)
{
    char msg[1024], file[ARCH_PATH_MAX];
    int rc = cfg_gpu_preset_path(o->baseline, file, sizeof file, msg, sizeof msg);
    if (!rc)
        rc = cfg_load_gpu(file, o->sets, o->n_sets, g, msg, sizeof msg);
    if (rc)
        fprintf(err, "bflysim: --baseline %s: %s\n", o->baseline, msg);
    return rc;
}

/* Prices workload wl on the --baseline GPU; *out stays NULL with --baseline none. */
static int price_baseline(const options *o, const wl_desc *wl, baseline **out, FILE *err)
{
    *out = NULL;
    if (no_baseline(o))
        return UTIL_OK;
    char msg[1024];
    baseline *b = malloc(sizeof *b);
    if (!b) {
        fprintf(err, "bflysim: out of memory\n");
        return UTIL_ERUN;
    }
    int rc = load_gpu(o, &b->gpu, err);
    if (!rc && (rc = gpu_model_run(&b->gpu, wl, &b->res, msg, sizeof msg)))
        fprintf(err, "bflysim: GPU baseline: %s\n", msg);
    if (rc)
        free(b);
    else
        *out = b;
    return rc;
}

/* --gpu-calibrate CSV: the --baseline preset with its factors fitted to CSV, on out. */
static int calibrate(const options *o, FILE *out, FILE *err)
{
    char msg[1024], note[3 * ARCH_PATH_MAX];
    gpu_desc base, fit;
    if (no_baseline(o)) {
        fprintf(err, "bflysim: --gpu-calibrate needs a --baseline preset to start from\n");
        return UTIL_ECONFIG;
    }
    int rc = load_gpu(o, &base, err);
    if (rc)
        return rc;
    if ((rc = gpu_calibrate(&base, o->calibrate, &fit, msg, sizeof msg))) {
        fprintf(err, "bflysim: --gpu-calibrate: %s\n", msg);
        return rc;
    }
    snprintf(note, sizeof note,
             "%s calibrated by bflysim --gpu-calibrate from %s (peaks, bandwidth and power from "
             "the preset %s)",
             base.name, o->calibrate, o->baseline);
    /* a name of its own, so that reports and CSV rows tell it from the shipped preset */
    snprintf(fit.name, sizeof fit.name, "%.*s-calibrated", (int)sizeof fit.name - 12, base.name);
    if ((rc = gpu_write_preset(&fit, out, note, msg, sizeof msg)))
        fprintf(err, "bflysim: --gpu-calibrate: %s\n", msg);
    return rc;
}

/* --inject-fault=twiddle:OP needs an op of the first block with weights to corrupt. */
static int check_fault_op(const options *o, const wl_desc *wl, FILE *err)
{
    if (!o->fault_twiddle || !o->fault_op[0])
        return UTIL_OK;
    wl_op ops[WL_MAX_BLOCK_OPS];
    uint32_t n = wl_block_ops(wl, 0, ops);
    char names[WL_MAX_BLOCK_OPS * (WL_OP_NAME_MAX + 2)] = "";
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!ops[i].weights)
            continue;
        if (!strcmp(ops[i].name, o->fault_op))
            return UTIL_OK;
        len +=
            (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", ops[i].name);
    }
    fprintf(err,
            "bflysim: --inject-fault=twiddle:%s: the first block has no op of that name with "
            "weights (ops with weights: %s)\n",
            o->fault_op, len ? names : "none");
    return UTIL_ECONFIG;
}

static int run_model_cli(const options *o, const arch_desc *arch, const wl_desc *wl,
                         const baseline *base, FILE *out, FILE *err)
{
    char msg[1024];
    map_forced *forced;
    int frc = check_fault_op(o, wl, err);
    if (frc)
        return frc;
    int lrc = load_directives(o, arch, &forced, err);
    if (lrc)
        return lrc;
    run_result res;
    int rc = o->analytical
                 ? run_model_analytical(arch, wl, forced, &res, msg, sizeof msg)
                 : run_model(arch, wl, forced, o->functional, o->fault_twiddle ? o->fault_op : NULL,
                             &res, msg, sizeof msg);
    free(forced);
    if (rc) {
        fprintf(err, "bflysim: %s\n", msg);
        return rc;
    }
    rep_run run = {.version = PACKAGE_VERSION,
                   .arch_file = o->arch_file,
                   .wl_file = o->wl_file,
                   .arch = arch,
                   .wl = wl,
                   .model = &res,
                   .st = &res.total,
                   .functional = o->functional};
    rc = write_outputs(o, &run, base, out, err);
    if (!rc && o->functional && !res.check.pass) {
        uint64_t i = res.check.worst;
        fprintf(err,
                "bflysim: functional mismatch: block instance %llu, output token %llu feature "
                "%llu is off by %.3g, more than the tolerance %.3g\n",
                (unsigned long long)res.check.instance, (unsigned long long)(i / wl->hidden),
                (unsigned long long)(i % wl->hidden), res.check.max_abs_err, res.check.tolerance);
        rc = UTIL_EMISMATCH;
    }
    run_free(&res);
    return rc;
}

/* A butterfly-linear layer: mapped by the search, simulated or estimated, checked. */
static int run_layer_cli(const options *o, const arch_desc *arch, const wl_desc *wl,
                         const baseline *base, FILE *out, FILE *err)
{
    char msg[1024];
    map_forced *how;
    if (o->fault_twiddle && o->fault_op[0]) {
        fprintf(err,
                "bflysim: --inject-fault=twiddle:%s: a butterfly-linear layer is one op; "
                "use --inject-fault=twiddle\n",
                o->fault_op);
        return UTIL_ECONFIG;
    }
    int rc = load_directives(o, arch, &how, err);
    if (rc)
        return rc;
    wl_butterfly b;
    wl_butterfly_from_desc(wl, &b);
    map_result m;
    rc = map_butterfly_search(arch, &b, o->functional, how, &m, msg, sizeof msg);
    free(how);
    if (rc) {
        fprintf(err, "bflysim: %s\n", msg);
        return rc;
    }
    fdata fd = {0};
    eng_stats st = {0};
    ref_compare cmp = {0};
    eng_estimate_total est;
    if (o->functional &&
        (rc = prepare_functional(&b, &m, o->fault_twiddle, &fd, msg, sizeof msg))) {
        fprintf(err, "bflysim: %s\n", msg);
        goto out;
    }
    rc = o->analytical ? eng_estimate(arch, &m.program, NULL, &est, msg, sizeof msg)
                       : eng_run(arch, &m.program, fd.image, &st, msg, sizeof msg);
    if (rc) {
        fprintf(err, "bflysim: %s\n", msg);
        goto out;
    }
    if (o->analytical)
        st = est.counts; /* no per-PE figures */
    if (o->functional)
        ref_check(b.rows * b.n, fd.image + m.y_addr, fd.want, fd.bound, &cmp);
    rep_run run = {.version = PACKAGE_VERSION,
                   .arch_file = o->arch_file,
                   .wl_file = o->wl_file,
                   .arch = arch,
                   .wl = wl,
                   .map = &m,
                   .st = &st,
                   .functional = o->functional,
                   .analytical = o->analytical,
                   .check = o->functional ? &cmp : NULL};
    rc = write_outputs(o, &run, base, out, err);
    if (!rc && o->functional && cmp.violations) {
        uint64_t i = cmp.worst;
        fprintf(err,
                "bflysim: functional mismatch: %llu of %llu outputs exceed the rounding-error "
                "bound; worst at row %llu element %llu: got %.9g, reference %.9g, bound %.3g\n",
                (unsigned long long)cmp.violations, (unsigned long long)cmp.count,
                (unsigned long long)(i / b.n), (unsigned long long)(i % b.n),
                (double)fd.image[m.y_addr + i], fd.want[i], fd.bound[i]);
        rc = UTIL_EMISMATCH;
    }
out:
    eng_stats_free(&st);
    fdata_free(&fd);
    map_free(&m);
    return rc;
}

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
    options o;
    memset(&o, 0, sizeof o);
    int rc = parse(argc, argv, &o, out, err);
    if (rc >= 0)
        return rc;
    if (o.calibrate)
        return calibrate(&o, out, err);
    char msg[1024];
    arch_desc arch;
    wl_desc wl;
    if ((rc = cfg_load(o.arch_file, o.wl_file, o.sets, o.n_sets, &arch, &wl, msg, sizeof msg))) {
        fprintf(err, "bflysim: %s\n", msg);
        return rc;
    }
    baseline *base;
    if ((rc = price_baseline(&o, &wl, &base, err)))
        return rc;
    rc = wl.kind == WL_KIND_MODEL ? run_model_cli(&o, &arch, &wl, base, out, err)
                                  : run_layer_cli(&o, &arch, &wl, base, out, err);
    free(base);
    return rc;
}
