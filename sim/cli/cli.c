/* cli.c: the run: configs -> workload -> mapping -> engine -> reports. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen */
#include "cli.h"
#include "internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "../config/config.h"
#include "../engine/engine.h"
#include "../gpu/gpu.h"
#include "../mapper/mapper.h"
#include "../ref/ref.h"
#include "../report/report.h"
#include "../run/run.h"
#include "../workload/workload.h"
#include "traces.h"

/* Functional runs keep the matrices, reference and bound in memory: cap their size. */
#define CLI_MAX_FUNCTIONAL_ELEMS (UINT64_C(1) << 22)

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

size_t cli_override_args(const options *o, const char *ovs[CLI_MAX_SETS])
{
    for (size_t i = 0; i < o->n_sets; i++)
        ovs[i] = o->sets[i].arg;
    return o->n_sets;
}

/* Writes the summary, JSON, CSV, Accelergy counts, --explain and the mapping file of a
 * finished run, with its baseline base (NULL: none); returns the status. */
static int write_outputs(const options *o, rep_run *run, const baseline *base, FILE *out, FILE *err)
{
    char msg[1024];
    int rc = UTIL_OK;
    const char *ovs[CLI_MAX_SETS];
    peer_desc peer;
    peer_result pres = {0};
    double peer_area = 0;
    if (o->peer) { /* the same workload on the peer, for the comparison lines */
        if ((rc = cli_peer_versus(o, run->wl, &peer, &pres, &peer_area, msg, sizeof msg))) {
            fprintf(err, "bflysim: %s\n", msg);
            return rc;
        }
        run->peer = &peer, run->peer_file = o->peer, run->peer_res = &pres;
        run->peer_area_mm2 = peer_area;
    }
    run->argc = o->argc, run->argv = o->argv, run->point = o->point;
    run->overrides = ovs, run->n_overrides = cli_override_args(o, ovs);
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
    peer_free(&pres);
    run->peer = NULL, run->peer_res = NULL;
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
                    cli_objective_names[o->objective], o->arch_file);
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
    int rc = cfg_preset_path(CFG_PRESET_GPU, o->baseline, file, sizeof file, msg, sizeof msg);
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
    if (cli_no_baseline(o))
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

/* Whether the fitted preset loads back as --baseline will load it: a fit can leave the
 * keys' ranges (CSV times in the wrong unit give a launch overhead of 1e306 us). It is
 * written to a temporary file, loaded and removed, with signals held meanwhile. */
static int check_preset(const gpu_desc *g, const char *note, char *msg, size_t len)
{
    const char *dir = getenv("TMPDIR");
    char path[1024], why[1024];
    snprintf(path, sizeof path, "%s/bflysim-preset-XXXXXX", dir && *dir ? dir : "/tmp");
    util_sigmask held;
    util_signals_hold(&held);
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    int rc = f ? gpu_write_preset(g, f, note, msg, len)
               : util_fail(UTIL_ERUN, msg, len, "%s: cannot write: %s", path, strerror(errno));
    if (f && fclose(f) != 0 && !rc)
        rc = util_fail(UTIL_ERUN, msg, len, "%s: cannot write: %s", path, strerror(errno));
    gpu_desc back;
    if (!rc && (rc = cfg_load_gpu(path, NULL, 0, &back, why, sizeof why))) {
        /* name the key, not the temporary file */
        const char *key = strstr(why, ": ");
        util_fail(rc, msg, len,
                  "the fitted preset would not load (%s); check the CSV's units (seconds) and "
                  "rows",
                  key ? key + 2 : why);
    }
    if (fd >= 0)
        unlink(path);
    util_signals_release(&held);
    return rc;
}

/* --gpu-calibrate CSV: the --baseline preset with its factors fitted to CSV, on out. */
static int calibrate(const options *o, FILE *out, FILE *err)
{
    char msg[1024], note[3 * ARCH_PATH_MAX];
    gpu_desc base, fit;
    if (cli_no_baseline(o)) {
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
    if ((rc = check_preset(&fit, note, msg, sizeof msg)) ||
        (rc = gpu_write_preset(&fit, out, note, msg, sizeof msg)))
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

/* ---------------------------------------------------------------- progress */

/* The progress line: on a terminal it is redrawn in place (at most ten times a second,
 * from two seconds into the run unless --progress forced it); forced on a file or pipe it
 * is one line a second. It goes to stderr only, never into a result. */
typedef struct progress {
    FILE *f;
    bool tty, forced, shown;
    double t0, last;
} progress;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void show_progress(void *ctx, uint64_t done, uint64_t total, uint64_t cycles)
{
    progress *p = ctx;
    double t = now_s() - p->t0;
    if ((!p->forced && t < 2.0) || (t - p->last < (p->tty ? 0.1 : 1.0) && done < total))
        return;
    p->last = t;
    p->shown = true;
    fprintf(p->f, "%sbflysim: %llu of %llu steps, %.4g M cycles, %.1f s, %.3g M cycles/s%s",
            p->tty ? "\r" : "", (unsigned long long)done, (unsigned long long)total,
            (double)cycles * 1e-6, t, t > 0 ? (double)cycles * 1e-6 / t : 0.0,
            p->tty ? "\033[K" : "\n");
    fflush(p->f);
}

/* Whether and how to show progress: --progress, --no-progress, else a terminal. */
static bool start_progress(const options *o, FILE *err, progress *p, run_progress *rp)
{
    int fd = fileno(err);
    bool tty = fd >= 0 && isatty(fd);
    *p = (progress){err, tty, o->progress == CLI_PROGRESS_ON, false, now_s(), -1.0};
    bool show =
        o->progress == CLI_PROGRESS_ON || (o->progress == CLI_PROGRESS_AUTO && tty && !o->quiet);
    *rp = (run_progress){.fn = show ? show_progress : NULL, .ctx = p};
    return show;
}

static void end_progress(const progress *p)
{
    if (p->shown && p->tty) /* clear the line before the summary */
        fputs("\r\033[K", p->f);
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
    progress pg;
    run_progress rp;
    start_progress(o, err, &pg, &rp);
    cli_traces tr;
    int rc = cli_traces_open(o, arch, &tr, msg, sizeof msg);
    cli_traces_unit(&tr, &rp);
    if (!rc)
        rc = o->analytical
                 ? run_model_analytical(arch, wl, forced, &rp, &res, msg, sizeof msg)
                 : run_model(arch, wl, forced, o->functional, o->fault_twiddle ? o->fault_op : NULL,
                             &rp, &res, msg, sizeof msg);
    end_progress(&pg);
    free(forced);
    int ran = rc;
    rc = cli_traces_close(o, &tr, rc, msg, sizeof msg);
    if (rc && !ran)
        run_free(&res);
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
                   .functional = o->functional,
                   .engine = o->systemc ? "systemc" : NULL};
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

/* Tells the traces that a butterfly-linear layer's one unit begins. */
static int layer_unit(const arch_desc *a, const eng_program *p, cli_traces *tr, char *msg,
                      size_t len)
{
    run_unit_desc u = {
        .op = "butterfly-linear", .ops = "butterfly-linear", .n_pes = arch_pe_count(a)};
    if (!(u.pe_what = calloc(u.n_pes, sizeof *u.pe_what)))
        return util_fail(UTIL_ERUN, msg, len, "out of memory");
    run_label_pes(p, u.op, u.pe_what);
    rep_fanout_unit(&tr->fan, &u);
    free(u.pe_what);
    return UTIL_OK;
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
    if (o->functional && b.rows * b.n > CLI_MAX_FUNCTIONAL_ELEMS) { /* before a long mapping */
        fprintf(err,
                "bflysim: --functional handles at most 2^22 elements (rows x n); this workload "
                "has %llu\n",
                (unsigned long long)(b.rows * b.n));
        free(how);
        return UTIL_ECONFIG;
    }
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
    cli_traces tr;
    if ((rc = cli_traces_open(o, arch, &tr, msg, sizeof msg))) {
        fprintf(err, "bflysim: %s\n", msg);
        goto out;
    }
    if (tr.fan.n && (rc = layer_unit(arch, &m.program, &tr, msg, sizeof msg)) == UTIL_OK)
        rc = eng_run_with(cli_traces_engine(&tr), arch, &m.program, fd.image,
                          cli_traces_observer(&tr), &st, msg, sizeof msg);
    else if (!rc)
        rc = o->analytical ? eng_estimate(arch, &m.program, NULL, &est, msg, sizeof msg)
                           : eng_run_with(cli_traces_engine(&tr), arch, &m.program, fd.image, NULL,
                                          &st, msg, sizeof msg);
    rc = cli_traces_close(o, &tr, rc, msg, sizeof msg);
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
                   .engine = o->systemc ? "systemc" : NULL,
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

/* ---------------------------------------------------------------- systems */

/* The options a system run does not take yet (docs/SYSTEM.md): NULL when none is set. */
static const char *system_refuses(const options *o)
{
    if (o->fault_twiddle)
        return "--inject-fault=twiddle";
    if (o->baseline_given)
        return "--baseline (a system names its GPU, if any, in its file)";
    if (o->mapping || o->dump_mapping)
        return o->mapping ? "--mapping" : "--dump-mapping";
    if (o->accelergy || o->explain)
        return o->accelergy ? "--accelergy" : "--explain";
    if (cli_tracing(o))
        return cli_tracing(o);
    if (o->systemc || o->peer)
        return o->systemc ? "--engine=systemc" : "--peer";
    if (o->objective != MAP_LATENCY || o->no_chain || o->no_fuse)
        return o->no_chain ? "--no-chain" : o->no_fuse ? "--no-fuse" : "--objective";
    for (size_t i = 0; i < o->n_sets; i++)
        if (strcmp(o->sets[i].file, "gpu") == 0)
            return "--set gpu.KEY (a system run has no GPU baseline)";
    return NULL;
}

/* bflysim SYSTEM WORKLOAD: the model split over the system's arrays (sim/system). */
static int run_system_cli(const options *o, const char *sys_path, const char *wl_path, FILE *out,
                          FILE *err)
{
    const char *no = system_refuses(o);
    if (no) {
        fprintf(err, "bflysim: %s is not supported for system runs yet\n", no);
        return UTIL_ECONFIG;
    }
    char msg[2048];
    sys_desc sys;
    arch_desc arch;
    wl_desc wl;
    gpu_desc gpu;
    /* the system's device and GPU are files once loaded */
    int rc = cfg_load_system(sys_path, o->sets, o->n_sets, &sys, msg, sizeof msg);
    if (!rc)
        rc = cfg_load(sys.device, wl_path, o->sets, o->n_sets, &arch, &wl, msg, sizeof msg);
    if (!rc && sys.gpu[0])
        rc = cfg_load_gpu(sys.gpu, NULL, 0, &gpu, msg, sizeof msg);
    if (rc) {
        fprintf(err, "bflysim: %s\n", msg);
        return rc;
    }
    progress pg;
    run_progress rp;
    const run_progress *shown = start_progress(o, err, &pg, &rp) ? &rp : NULL;
    sys_result res;
    rc = sys.partition == SYS_PART_HEADS
             ? sys_run_heads(&sys, &arch, &wl, sys.gpu[0] ? &gpu : NULL, o->analytical, shown, &res,
                             msg, sizeof msg)
         : sys.partition == SYS_PART_CASCADE
             ? sys_run_cascade(&sys, &arch, &wl, o->analytical, shown, &res, msg, sizeof msg)
             : sys_run(&sys, &arch, &wl, o->analytical, shown, &res, msg, sizeof msg);
    end_progress(&pg);
    if (rc) {
        fprintf(err, "bflysim: %s\n", msg);
        return rc;
    }
    sys_check_result chk;
    /* the merge in reference math, and the arrays' shards through the engine */
    if (o->functional && ((rc = sys_check(&sys, &wl, o->fault_merge, &chk, msg, sizeof msg)) ||
                          (sys.devices && (rc = sys_check_arrays(&sys, &arch, &wl, o->fault_merge,
                                                                 &chk, msg, sizeof msg))))) {
        fprintf(err, "bflysim: %s\n", msg);
        return rc;
    }
    const char *ovs[CLI_MAX_SETS];
    cli_override_args(o, ovs);
    rep_system_run run = {.version = PACKAGE_VERSION,
                          .system_file = o->arch_file,
                          .wl_file = o->wl_file,
                          .sys = &sys,
                          .arch = &arch,
                          .gpu = sys.gpu[0] ? &gpu : NULL,
                          .wl = &wl,
                          .res = &res,
                          .analytical = o->analytical,
                          .argc = o->argc,
                          .argv = o->argv,
                          .n_overrides = o->n_sets,
                          .overrides = ovs,
                          .check = o->functional ? &chk : NULL};
    if (!o->quiet)
        rep_system_summary(out, &run);
    if (o->json && (rc = rep_write_system_json(o->json, &run, msg, sizeof msg)))
        fprintf(err, "bflysim: %s\n", msg);
    if (!rc && o->csv && (rc = rep_append_system_csv(o->csv, &run, msg, sizeof msg)))
        fprintf(err, "bflysim: %s\n", msg);
    if (!rc && o->functional && !chk.pass) {
        bool arrays = chk.max_abs_err <= chk.tolerance;
        fprintf(err,
                "bflysim: functional mismatch: merged partial states%s differ from monolithic "
                "attention by %.3g, more than the tolerance %.3g\n",
                arrays ? " of the simulated arrays" : "", arrays ? chk.array_err : chk.max_abs_err,
                arrays ? chk.array_tolerance : chk.tolerance);
        rc = UTIL_EMISMATCH;
    }
    return rc;
}

/* What ARCH names: an arch, a system or a peer accelerator. */
typedef enum { FIRST_ARCH, FIRST_SYSTEM, FIRST_PEER } first_kind;

/* ARCH's file: an arch, a system (a file of kind "system", or a system preset's name) or
 * a peer (kind "peer", or a peer preset's name); *kind says which. */
static int resolve_first(const char *name, char *path, size_t len, first_kind *kind, char *msg,
                         size_t msglen)
{
    int rc = cfg_preset_path(CFG_PRESET_ARCH, name, path, len, msg, msglen);
    if (rc) {
        char other[64];
        if (!cfg_preset_path(CFG_PRESET_SYSTEM, name, path, len, other, sizeof other))
            *kind = FIRST_SYSTEM;
        else if (!cfg_preset_path(CFG_PRESET_PEER, name, path, len, other, sizeof other))
            *kind = FIRST_PEER;
        else
            return rc; /* the arch message: it lists the arch presets */
        return UTIL_OK;
    }
    *kind = cfg_is_system(path) ? FIRST_SYSTEM : cfg_is_peer(path) ? FIRST_PEER : FIRST_ARCH;
    return UTIL_OK;
}

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
    options o;
    memset(&o, 0, sizeof o);
    int rc = cli_parse(argc, argv, &o, out, err);
    if (rc >= 0)
        return rc;
    if (o.calibrate)
        return calibrate(&o, out, err);
    if (o.sweep_points)
        return cli_sweep_points(o.sweep_points, out, err);
    if (o.batch)
        return cli_run_batch(&o, out, err);
    return cli_run(&o, out, err);
}

int cli_run(const options *op, FILE *out, FILE *err)
{
    const options o = *op;
    int rc;
    char msg[2048], arch_path[CFG_DIR_MAX + 64], wl_path[CFG_DIR_MAX + 64];
    arch_desc arch;
    wl_desc wl;
    first_kind kind = FIRST_ARCH;
    if (!(rc = resolve_first(o.arch_file, arch_path, sizeof arch_path, &kind, msg, sizeof msg)) &&
        !(rc = cfg_preset_path(CFG_PRESET_WORKLOAD, o.wl_file, wl_path, sizeof wl_path, msg,
                               sizeof msg))) {
        if (kind == FIRST_SYSTEM && o.point)
            rc = util_fail(UTIL_ECONFIG, msg, sizeof msg,
                           "--batch runs arrays, not systems (%s is one)", o.arch_file);
        else if (kind == FIRST_PEER && o.point)
            rc = util_fail(UTIL_ECONFIG, msg, sizeof msg,
                           "--batch runs arrays, not peer accelerators (%s is one)", o.arch_file);
        else if (kind == FIRST_SYSTEM)
            return run_system_cli(&o, arch_path, wl_path, out, err);
        else if (kind == FIRST_PEER)
            return cli_run_peer(&o, arch_path, wl_path, out, err);
    }
    if (!rc && o.ideal_memory)
        rc = util_fail(UTIL_ECONFIG, msg, sizeof msg,
                       "--ideal-memory is for peer accelerators (arch/peers/) so far: %s is an "
                       "mld array, whose memory the engine models",
                       o.arch_file);
    if (!rc && o.fault_merge)
        rc = util_fail(UTIL_ECONFIG, msg, sizeof msg,
                       "--inject-fault=merge needs a system (arch/systems/): %s is an arch",
                       o.arch_file);
    for (size_t i = 0; !rc && i < o.n_sets; i++) /* an override no file here would read */
        if (strcmp(o.sets[i].file, "system") == 0)
            rc = util_fail(UTIL_ECONFIG, msg, sizeof msg,
                           "--set %s: %s is an arch, not a system (arch/systems/)", o.sets[i].arg,
                           o.arch_file);
    if (rc || (rc = cfg_load(arch_path, wl_path, o.sets, o.n_sets, &arch, &wl, msg, sizeof msg))) {
        fprintf(err, "bflysim: %s\n", msg);
        return rc;
    }
    if (wl.kind == WL_KIND_GEMM) {
        fprintf(err,
                "bflysim: %s is a gemm workload: it runs on the peer accelerators "
                "(arch/peers/) so far, not on the mld array\n",
                o.wl_file);
        return UTIL_ECONFIG;
    }
    baseline *base;
    if ((rc = price_baseline(&o, &wl, &base, err)))
        return rc;
    rc = wl.kind == WL_KIND_MODEL ? run_model_cli(&o, &arch, &wl, base, out, err)
                                  : run_layer_cli(&o, &arch, &wl, base, out, err);
    free(base);
    return rc;
}
