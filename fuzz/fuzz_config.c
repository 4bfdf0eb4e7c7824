/* fuzz_config.c: AFL++ harness of the config loader: every kind of config file, and --set. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/config/config.h"
#include "../sim/util/util.h"
#include "fuzz.h"

/* An input is a config file; its lines "#@FILE.KEY=VALUE" (comments to libconfig) are
 * --set arguments too, applied to the input and to valid shipped files. A first line
 * "#!KIND" loads it as that kind of file only (parsing dominates the cost, and a file
 * of one kind is a syntax or unknown-key error as any other); without one, as every kind. */
#define MAX_SETS 8
enum { ARCH = 1, WORKLOAD = 2, GPU = 4, MAPPING = 8, ENERGY = 16, ALL = 31 };
static const char *const kind_names[] = {"arch", "workload", "gpu", "mapping", "energy"};

static unsigned kinds_of(const char *data)
{
    if (strncmp(data, "#!", 2) != 0)
        return ALL;
    size_t n = strcspn(data + 2, "\n");
    for (unsigned k = 0; k < sizeof kind_names / sizeof kind_names[0]; k++)
        if (strlen(kind_names[k]) == n && strncmp(data + 2, kind_names[k], n) == 0)
            return 1u << k;
    return ALL;
}

static char in_path[1100], wrap_path[1100], arch_path[1100], wl_path[1100], gpu_path[1100],
    back_path[1100];

static bool verbose; /* FUZZ_VERBOSE set: print every status, to check the seeds */

/* Copies a shipped file into the scratch directory: the overrides' valid bases. */
static void copy_src(const char *rel, const char *path)
{
    size_t len;
    char *text = fuzz_read_src(rel, &len);
    fuzz_write(path, text, len);
    free(text);
}

static void setup(void)
{
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    fuzz_path(in_path, sizeof in_path, "in.cfg");
    fuzz_path(wrap_path, sizeof wrap_path, "wrap.cfg");
    fuzz_path(arch_path, sizeof arch_path, "arch.cfg");
    fuzz_path(wl_path, sizeof wl_path, "workload.cfg");
    fuzz_path(gpu_path, sizeof gpu_path, "gpu.cfg");
    fuzz_path(back_path, sizeof back_path, "back.cfg");
    copy_src("arch/mld-4x4.cfg", arch_path);
    copy_src("workloads/fabnet-image-1k.cfg", wl_path);
    copy_src("arch/gpu/xavier-nx-15w.cfg", gpu_path);
    /* an arch whose energy table is the input: the only way in to the table schema */
    size_t len;
    char *text = fuzz_read_src("arch/mld-4x4.cfg", &len);
    const char *old = "\"energy/12nm.cfg\"";
    char *at = strstr(text, old);
    if (!at)
        fuzz_bug("arch/mld-4x4.cfg names no energy/12nm.cfg");
    FILE *f = fopen(wrap_path, "w");
    if (!f)
        abort();
    fprintf(f, "%.*s\"in.cfg\"%s", (int)(at - text), text, at + strlen(old));
    fclose(f);
    free(text);
}

/* A rejected file must give UTIL_ECONFIG and a message that says where: FILE:LINE, the
 * unreadable file, or the --set argument. */
static void check(const char *what, int rc, const char *err)
{
    if (verbose)
        fprintf(stderr, "%s: %d %s\n", what, rc, rc ? err : "");
    if (rc == UTIL_OK)
        return;
    if (rc == UTIL_ERUN && strstr(err, "out of memory"))
        return;
    if (rc != UTIL_ECONFIG)
        fuzz_bug("%s: status %d (%s)", what, rc, err);
    const char *colon = strstr(err, ": ");
    bool located =
        strncmp(err, "--set ", 6) == 0 || strstr(err, ": cannot read") || strstr(err, ": file is ");
    /* FILE:LINE: a line number right before the first ": " */
    if (colon && colon > err && colon[-1] >= '0' && colon[-1] <= '9')
        located = true;
    if (!located)
        fuzz_bug("%s: the message names no FILE:LINE: %s", what, err);
}

static void check_arch(const arch_desc *a)
{
    if (a->array.rows < 1 || a->array.rows > 64 || a->array.cols < 1 || a->array.cols > 64 ||
        !util_is_pow2(a->pe.lanes) || !a->name[0])
        fuzz_bug("arch accepted out of its ranges");
    for (int k = 0; k < ARCH_FU_COUNT; k++)
        if (a->pe.fu[k].lanes_per_cycle > a->pe.lanes || a->pe.fu[k].lanes_per_cycle == 0)
            fuzz_bug("arch accepted with a function unit wider than the PE");
}

static void check_workload(const wl_desc *w)
{
    if (!w->name[0])
        fuzz_bug("workload accepted without a name");
    if (w->kind == WL_KIND_MODEL) {
        if (w->n_blocks < 1 || w->n_blocks > WL_MAX_BLOCKS || !w->heads || w->hidden % w->heads)
            fuzz_bug("model accepted with %u blocks, hidden %llu, heads %llu", w->n_blocks,
                     (unsigned long long)w->hidden, (unsigned long long)w->heads);
    } else {
        uint64_t elems;
        if (!util_is_pow2(w->n) || w->n < 2 || !w->rows || !util_mul_u64(w->rows, w->n, &elems) ||
            elems > (UINT64_C(1) << 40))
            fuzz_bug("butterfly-linear accepted with n %llu, rows %llu", (unsigned long long)w->n,
                     (unsigned long long)w->rows);
    }
}

/* The bytes of a name after its end: a default name cut at its extension keeps it. */
static void clear_name_tail(char *name, size_t size)
{
    size_t n = strnlen(name, size);
    memset(name + n, 0, size - n);
}

/* gpu_write_preset promises a file that loads back equal (both zeroed before loading). */
static void check_gpu_round_trip(const gpu_desc *loaded)
{
    static gpu_desc back, g;
    g = *loaded;
    clear_name_tail(g.name, sizeof g.name);
    char err[1024] = "";
    FILE *f = fopen(back_path, "w");
    if (!f)
        abort();
    int rc = gpu_write_preset(&g, f, "fuzz", err, sizeof err);
    fclose(f);
    if (rc)
        fuzz_bug("gpu_write_preset refused a loaded preset: %s", err);
    if ((rc = cfg_load_gpu(back_path, NULL, 0, &back, err, sizeof err)))
        fuzz_bug("a written preset does not load back: %s", err);
    clear_name_tail(back.name, sizeof back.name);
    if (memcmp(&g, &back, sizeof back) != 0)
        fuzz_bug("a written preset loads back different");
}

static void one(const char *data, size_t len)
{
    static cfg_override sets[MAX_SETS];
    static arch_desc arch;
    static wl_desc wl;
    static gpu_desc gpu;
    static map_forced map;
    char err[1024], arg[300];
    size_t n_sets = 0;
    for (const char *p = data; *p;) {
        size_t n = strcspn(p, "\n");
        if (n_sets < MAX_SETS && strncmp(p, "#@", 2) == 0) {
            snprintf(arg, sizeof arg, "%.*s", (int)(n - 2), p + 2);
            int rc = cfg_parse_override(arg, &sets[n_sets], err, sizeof err);
            check("cfg_parse_override", rc, err);
            if (!rc)
                n_sets++;
        }
        p += n + (p[n] == '\n');
    }
    fuzz_write(in_path, data, len);
    unsigned kinds = kinds_of(data);
    int rc;
    if (kinds & ARCH) {
        rc = cfg_load_arch(in_path, sets, n_sets, &arch, err, sizeof err);
        check("cfg_load_arch", rc, err);
        if (!rc)
            check_arch(&arch);
    }
    if (kinds & WORKLOAD) {
        rc = cfg_load_workload(in_path, sets, n_sets, &wl, err, sizeof err);
        check("cfg_load_workload", rc, err);
        if (!rc)
            check_workload(&wl);
    }
    if (kinds & GPU) {
        rc = cfg_load_gpu(in_path, sets, n_sets, &gpu, err, sizeof err);
        check("cfg_load_gpu", rc, err);
        if (!rc)
            check_gpu_round_trip(&gpu);
    }
    if (kinds & MAPPING) {
        rc = cfg_load_mapping(in_path, &map, err, sizeof err);
        check("cfg_load_mapping", rc, err);
        if (!rc && map.n > MAP_MAX_FORCED)
            fuzz_bug("mapping accepted with %u entries", map.n);
    }
    if (kinds & ENERGY) {
        rc = cfg_load_arch(wrap_path, NULL, 0, &arch, err, sizeof err);
        check("cfg_load_arch (energy table)", rc, err);
    }
    if (n_sets) {
        /* the overrides on files that are valid without them */
        rc = cfg_load(arch_path, wl_path, sets, n_sets, &arch, &wl, err, sizeof err);
        check("cfg_load", rc, err);
        if (!rc) {
            check_arch(&arch);
            check_workload(&wl);
        }
        rc = cfg_load_gpu(gpu_path, sets, n_sets, &gpu, err, sizeof err);
        check("cfg_load_gpu (shipped)", rc, err);
        if (!rc)
            check_gpu_round_trip(&gpu);
    }
}

int main(int argc, char **argv)
{
    /* the key names, for scripts/fuzz.sh's dictionary */
    if (argc == 2 && strcmp(argv[1], "--list-keys") == 0) {
        cfg_print_keys(stdout);
        return 0;
    }
    return fuzz_main(argc, argv, setup, one);
}
