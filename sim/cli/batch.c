/* batch.c: --batch (many points in one process) and --sweep-points (a spec's points). */
#define _GNU_SOURCE /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/config.h"
#include "../report/report.h"
#include "internal.h"

const char *cli_batch_refuses(const options *o)
{
    if (!o->csv)
        return "needs --csv FILE: each point appends its row there";
    if (o->json || o->functional || o->mapping || o->dump_mapping || o->accelergy)
        return "writes CSV rows only (no --json, --functional, --mapping, --dump-mapping or "
               "--accelergy)";
    if (cli_tracing(o) || o->systemc || o->peer || o->explain)
        return "takes no traces, --engine=systemc, --peer or --explain";
    return NULL;
}

/* One batch line: an optional id, then FILE.KEY=VALUE words. */
typedef struct point {
    char id[64];
    size_t n_sets;
    cfg_override sets[CLI_MAX_SETS];
} point;

static int parse_line(const char *file, unsigned line, char *text, size_t base_sets, point *p,
                      char *msg, size_t len)
{
    memset(p, 0, sizeof *p);
    const char *words[CLI_MAX_SETS];
    size_t n = 0;
    for (char *save = NULL, *w = strtok_r(text, " \t\r\n", &save); w;
         w = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == 0 && !p->id[0] && !strchr(w, '=')) {
            if (strlen(w) >= sizeof p->id || strchr(w, ','))
                return util_fail(UTIL_ECONFIG, msg, len,
                                 "%s:%u: point id '%s': at most 63 characters, no comma", file,
                                 line, w);
            snprintf(p->id, sizeof p->id, "%s", w);
            continue;
        }
        if (base_sets + n >= CLI_MAX_SETS)
            return util_fail(UTIL_ECONFIG, msg, len, "%s:%u: more than %d overrides", file, line,
                             CLI_MAX_SETS);
        char why[512];
        if (cfg_parse_override(w, &p->sets[n], why, sizeof why))
            return util_fail(UTIL_ECONFIG, msg, len, "%s:%u: %s", file, line, why);
        words[n++] = w;
    }
    p->n_sets = n;
    if (!p->id[0])
        cfg_point_id(words, n, p->id);
    return UTIL_OK;
}

/* The batch file's points, every line checked before anything runs. */
static int read_points(const char *file, size_t base_sets, point **out, size_t *n, char *msg,
                       size_t len)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return util_fail(UTIL_ECONFIG, msg, len, "--batch %s: cannot open", file);
    char *line = NULL;
    size_t cap = 0, have = 0;
    unsigned no = 0;
    int rc = UTIL_OK;
    *out = NULL, *n = 0;
    while (!rc && getline(&line, &cap, f) != -1) {
        no++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        if (strspn(line, " \t\r\n") == strlen(line))
            continue;
        if (*n == have) {
            have = have ? 2 * have : 64;
            point *grown = realloc(*out, have * sizeof *grown);
            if (!grown) {
                rc = util_fail(UTIL_ERUN, msg, len, "out of memory");
                break;
            }
            *out = grown;
        }
        if (!(rc = parse_line(file, no, line, base_sets, &(*out)[*n], msg, len)))
            (*n)++;
    }
    free(line);
    fclose(f);
    return rc;
}

/* The arch and workload every point shares, checked before any point runs (a mistake
 * there would fail every point): an array, not a system or a peer, and a model or a
 * layer, whose kind decides the CSV's header. */
static int batch_is_model(const options *o, bool *model, char *msg, size_t len)
{
    char path[CFG_DIR_MAX + 64];
    wl_desc *w = malloc(sizeof *w);
    int rc = w ? cfg_preset_path(CFG_PRESET_ARCH, o->arch_file, path, sizeof path, msg, len)
               : util_fail(UTIL_ERUN, msg, len, "out of memory");
    if (!rc && (cfg_is_system(path) || cfg_is_peer(path)))
        rc = util_fail(UTIL_ECONFIG, msg, len,
                       "--batch runs arrays, not systems or peer accelerators (%s is one)",
                       o->arch_file);
    if (!rc)
        rc = cfg_preset_path(CFG_PRESET_WORKLOAD, o->wl_file, path, sizeof path, msg, len);
    if (!rc)
        rc = cfg_load_workload(path, NULL, 0, w, msg, len);
    if (!rc && w->kind == WL_KIND_GEMM)
        rc = util_fail(UTIL_ECONFIG, msg, len,
                       "--batch: %s is a gemm workload, which runs on peers only", o->wl_file);
    if (!rc)
        *model = w->kind == WL_KIND_MODEL;
    free(w);
    return rc;
}

/* The first line of what a point wrote to its error stream, without the program's name. */
static void first_line(char *text, char *out, size_t len)
{
    char *s = text && strncmp(text, "bflysim: ", 9) == 0 ? text + 9 : text ? text : "";
    size_t n = strcspn(s, "\n");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), s);
}

int cli_run_batch(const options *o, FILE *out, FILE *err)
{
    char msg[2048];
    point *pts = NULL;
    size_t n = 0;
    bool model = false;
    int rc = batch_is_model(o, &model, msg, sizeof msg);
    if (!rc)
        rc = read_points(o->batch, o->n_sets, &pts, &n, msg, sizeof msg);
    options *p = rc ? NULL : malloc(sizeof *p);
    if (!rc && !p)
        rc = util_fail(UTIL_ERUN, msg, sizeof msg, "out of memory");
    if (rc) {
        fprintf(err, "bflysim: %s\n", msg);
        free(pts);
        return rc;
    }
    FILE *sink = fopen("/dev/null", "w");
    for (size_t i = 0; i < n && sink; i++) {
        *p = *o;
        p->batch = NULL, p->quiet = true, p->point = pts[i].id;
        memcpy(p->sets + p->n_sets, pts[i].sets, pts[i].n_sets * sizeof pts[i].sets[0]);
        p->n_sets += pts[i].n_sets;
        char *text = NULL;
        size_t tlen = 0;
        FILE *perr = open_memstream(&text, &tlen);
        int prc = cli_run(p, sink, perr ? perr : err);
        if (perr)
            fclose(perr);
        /* a point that fails is recorded and the batch goes on; a CSV that cannot take
         * the record either (unwritable, another header) ends it */
        if (prc) {
            char line[1024];
            first_line(text, line, sizeof line);
            const char *ovs[CLI_MAX_SETS];
            size_t n_ovs = cli_override_args(p, ovs);
            if (rep_append_failed_point(o->csv, model, PACKAGE_VERSION, pts[i].id, prc, line, ovs,
                                        n_ovs, msg, sizeof msg)) {
                fprintf(err, "%sbflysim: %s\n", text ? text : "", msg);
                prc = UTIL_ERUN;
            } else {
                fprintf(err, "bflysim: point %s failed (exit %d): %s\n", pts[i].id, prc, line);
                prc = UTIL_OK;
            }
        }
        free(text);
        if (prc) {
            rc = prc;
            break;
        }
    }
    if (!sink) {
        fprintf(err, "bflysim: cannot open /dev/null\n");
        rc = UTIL_ERUN;
    } else {
        fclose(sink);
    }
    (void)out;
    free(p);
    free(pts);
    return rc;
}

int cli_sweep_points(const char *spec, FILE *out, FILE *err)
{
    char msg[2048];
    cfg_sweep *s = malloc(sizeof *s);
    int rc = s ? cfg_load_sweep(spec, s, msg, sizeof msg)
               : util_fail(UTIL_ERUN, msg, sizeof msg, "out of memory");
    if (rc) {
        fprintf(err, "bflysim: %s\n", msg);
        free(s);
        return rc;
    }
    fprintf(out, "#arch %s\n#workload %s\n#mode %s\n#output %s\n#baseline %s\n#points %llu\n",
            s->arch, s->workload, s->analytical ? "analytical" : "cycle", s->output,
            s->baseline[0] ? s->baseline : "-", (unsigned long long)cfg_sweep_points(s));
    char(*sets)[CFG_SWEEP_SET_MAX] =
        malloc((CFG_SWEEP_MAX_SETS + CFG_SWEEP_MAX_AXES) * sizeof *sets);
    const char *words[CFG_SWEEP_MAX_SETS + CFG_SWEEP_MAX_AXES];
    uint32_t k = s->n_sets + s->n_axes;
    if (!sets) {
        fprintf(err, "bflysim: out of memory\n");
        free(s);
        return UTIL_ERUN;
    }
    for (uint64_t i = 0; i < cfg_sweep_points(s); i++) {
        char id[17];
        cfg_sweep_point(s, i, sets);
        for (uint32_t j = 0; j < k; j++)
            words[j] = sets[j];
        cfg_point_id(words, k, id);
        fprintf(out, "%s", id);
        for (uint32_t j = 0; j < k; j++)
            fprintf(out, " %s", sets[j]);
        fputc('\n', out);
    }
    free(sets);
    free(s);
    return UTIL_OK;
}
