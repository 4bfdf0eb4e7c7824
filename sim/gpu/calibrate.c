/* calibrate.c: fits a GPU preset's efficiency factors to microbenchmark times; writes presets. */
#define _POSIX_C_SOURCE 200809L /* fdopen */
#include "gpu.h"

#include <errno.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- reading the CSV */

#define CAL_LAUNCH GPU_CLASS_COUNT /* class "launch": empty kernels, for the overhead */
#define CAL_LINE_MAX 1024
#define CAL_MAX_BYTES (64u << 20) /* a microbenchmark CSV has a few hundred lines */
#define CAL_MAX_COLS 16

typedef struct cal_row {
    int cls;
    util_dtype t;
    double flops, bytes, stride, seconds, launches;
    unsigned line;
} cal_row;

typedef struct cal_csv {
    const char *file;
    cal_row *rows;
    size_t n, cap;
    char *err;
    size_t errlen;
} cal_csv;

enum { C_CLASS, C_DTYPE, C_FLOPS, C_BYTES, C_STRIDE, C_SECONDS, C_LAUNCHES, C_COUNT };
static const char *const col_names[C_COUNT] = {"class",        "dtype",   "flops",   "bytes",
                                               "stride_bytes", "seconds", "launches"};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Splits a line at commas in place; returns the field count (at most CAL_MAX_COLS + 1). */
static int split(char *line, char *f[CAL_MAX_COLS + 1])
{
    int n = 0;
    for (char *p = line; n <= CAL_MAX_COLS;) {
        char *c = strchr(p, ',');
        if (c)
            *c = '\0';
        f[n++] = trim(p);
        if (!c)
            break;
        p = c + 1;
    }
    return n;
}

static int bad(const cal_csv *c, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(const cal_csv *c, unsigned line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return util_fail(UTIL_ECONFIG, c->err, c->errlen, "%s:%u: %s", c->file, line, msg);
}

static int parse_class(const cal_csv *c, unsigned line, const char *s, int *out)
{
    static const char *const names[] = {"gemm", "elementwise", "softmax",
                                        "fft",  "butterfly",   "launch"};
    for (int i = 0; i <= CAL_LAUNCH; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return UTIL_OK;
        }
    const char *near = util_closest(s, names, CAL_LAUNCH + 1, 2);
    char hint[64] = "";
    if (near)
        snprintf(hint, sizeof hint, "; did you mean '%s'?", near);
    return bad(c, line,
               "class '%.40s' is not one of gemm, elementwise, softmax, fft, butterfly, "
               "launch%s",
               s, hint);
}

static int parse_number(const cal_csv *c, unsigned line, int col, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < 0)
        return bad(c, line, "%s = '%.40s' is not a number >= 0", col_names[col], s);
    if (col == C_SECONDS && v <= 0)
        return bad(c, line, "seconds = %g must be > 0", v);
    *out = v;
    return UTIL_OK;
}

/* Maps the header's columns to C_*; class, dtype, flops, bytes and seconds are required,
 * other columns (a name, a shape) are ignored. */
static int parse_header(const cal_csv *c, unsigned line, char **f, int n, int map[C_COUNT])
{
    for (int k = 0; k < C_COUNT; k++)
        map[k] = -1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < C_COUNT; k++)
            if (strcmp(f[i], col_names[k]) == 0)
                map[k] = i;
    for (int k = 0; k < C_COUNT; k++)
        if (map[k] < 0 && k != C_STRIDE && k != C_LAUNCHES)
            return bad(c, line,
                       "the header lacks the column '%s' (expected "
                       "class,dtype,flops,bytes,stride_bytes,seconds[,launches])",
                       col_names[k]);
    return UTIL_OK;
}

static int parse_row(cal_csv *c, unsigned line, char **f, int n, const int map[C_COUNT], int n_cols)
{
    if (n != n_cols)
        return bad(c, line, "%d fields, the header has %d", n, n_cols);
    cal_row r = {.line = line, .launches = 1};
    int rc = parse_class(c, line, f[map[C_CLASS]], &r.cls);
    const char *dt = f[map[C_DTYPE]];
    if (!rc && strcmp(dt, "fp16") && strcmp(dt, "fp32"))
        rc = bad(c, line, "dtype '%.40s' is not fp16 or fp32", dt);
    r.t = strcmp(dt, "fp32") == 0 ? UTIL_FP32 : UTIL_FP16;
    double *dst[C_COUNT] = {[C_FLOPS] = &r.flops,
                            [C_BYTES] = &r.bytes,
                            [C_STRIDE] = &r.stride,
                            [C_SECONDS] = &r.seconds,
                            [C_LAUNCHES] = &r.launches};
    for (int k = C_FLOPS; !rc && k < C_COUNT; k++)
        if (map[k] >= 0)
            rc = parse_number(c, line, k, f[map[k]], dst[k]);
    if (rc)
        return rc;
    if (r.launches < 1)
        return bad(c, line, "launches = %g must be >= 1", r.launches);
    if (r.cls != CAL_LAUNCH && r.flops == 0 && r.bytes == 0)
        return bad(c, line,
                   "a %s kernel with flops = 0 and bytes = 0 measures only its launch (give "
                   "it class launch)",
                   gpu_class_name((gpu_class)r.cls));
    if (util_reserve((void **)&c->rows, &c->cap, c->n + 1, sizeof *c->rows))
        return util_fail(UTIL_ERUN, c->err, c->errlen, "out of memory");
    c->rows[c->n++] = r;
    return UTIL_OK;
}

static int read_csv(cal_csv *c)
{
    /* a FIFO, a device (/dev/zero would be read forever) or a directory is refused */
    int fd;
    uint64_t size;
    int orc = util_open_regular(c->file, CAL_MAX_BYTES, &fd, &size, c->err, c->errlen);
    if (orc)
        return orc;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return util_fail(UTIL_ERUN, c->err, c->errlen, "out of memory");
    }
    char buf[CAL_LINE_MAX + 3]; /* a line, \r\n and the terminator */
    int map[C_COUNT], n_cols = 0, rc = UTIL_OK;
    unsigned line = 0;
    while (!rc && fgets(buf, sizeof buf, f)) {
        line++;
        size_t len = strlen(buf);
        if (len && buf[len - 1] == '\n')
            len--; /* the line ending is not part of the line's length */
        if (len && buf[len - 1] == '\r')
            len--;
        if (len > CAL_LINE_MAX) {
            rc = bad(c, line, "line longer than %d characters", CAL_LINE_MAX);
            break;
        }
        char *s = trim(buf), *fields[CAL_MAX_COLS + 1];
        if (!*s || *s == '#')
            continue;
        int n = split(s, fields);
        if (n > CAL_MAX_COLS)
            rc = bad(c, line, "more than %d columns", CAL_MAX_COLS);
        else if (!n_cols && !(rc = parse_header(c, line, fields, n, map)))
            n_cols = n;
        else if (!rc)
            rc = parse_row(c, line, fields, n, map, n_cols);
    }
    fclose(f);
    if (!rc && !c->n)
        rc = util_fail(UTIL_ECONFIG, c->err, c->errlen,
                       "%s: no measurements (a header line, "
                       "then one line per kernel)",
                       c->file);
    return rc;
}

/* ---------------------------------------------------------------- fitting */

/* What one row implies: its time after the launches, and the efficiencies at which the
 * roofline would take exactly that long (each a lower bound; the binding one is exact). */
typedef struct implied {
    const cal_row *r;
    double work_s, ec, em;
    bool compute; /* classified compute-bound */
} implied;

/* A butterfly row whose stride is under a sector: it measures the stride floor. */
static bool small_stride(const gpu_desc *g, const cal_row *r)
{
    return r->cls == GPU_BUTTERFLY && r->stride > 0 && r->stride < g->sector_bytes;
}

static void imply(const gpu_desc *g, const cal_row *r, double launch_s, implied *x)
{
    gpu_unit u = gpu_unit_for(r->cls == CAL_LAUNCH ? GPU_ELEMWISE : (gpu_class)r->cls, r->t);
    x->r = r;
    x->work_s = r->seconds - r->launches * launch_s;
    x->ec = r->flops / (gpu_peak_gflops(g, u) * 1e9 * x->work_s);
    x->em = r->bytes / (g->dram_gbs * 1e9 * x->work_s);
    x->compute = false;
}

/* Alternates classifying the rows by the current factors and averaging each factor over
 * the rows it binds, starting from the largest implied values. has_* say whether any row
 * bound that factor. */
static void fit_pair(implied *x, size_t n, gpu_eff *e, bool *has_c, bool *has_m)
{
    double ec = 0, em = 0;
    for (size_t i = 0; i < n; i++)
        ec = fmax(ec, x[i].ec), em = fmax(em, x[i].em);
    *has_c = *has_m = false;
    for (int it = 0; it < 100; it++) {
        bool changed = false;
        double sc = 0, sm = 0;
        size_t nc = 0, nm = 0;
        for (size_t i = 0; i < n; i++) {
            /* x.ec / ec >= x.em / em, multiplied out: a class without bytes (em = 0)
             * is all compute-bound, one without flops (ec = 0) all memory-bound */
            bool comp = ec > 0 && x[i].ec * em >= x[i].em * ec;
            changed |= comp != x[i].compute || it == 0;
            x[i].compute = comp;
            if (comp)
                sc += x[i].ec, nc++;
            else
                sm += x[i].em, nm++;
        }
        if (nc)
            ec = sc / (double)nc;
        if (nm)
            em = sm / (double)nm;
        *has_c = nc > 0, *has_m = nm > 0;
        if (!changed)
            break;
    }
    e->compute = ec, e->memory = em;
}

static int too_fast(const cal_csv *c, const implied *x)
{
    const cal_row *r = x->r;
    const char *what = x->ec > 1 ? "the preset's peak for it" : "the preset's DRAM bandwidth";
    return bad(c, r->line,
               "this %s %s kernel ran faster than %s (%.3gx): the base preset's peaks or "
               "bandwidth are too low for this GPU, or the working set fits in a cache (use "
               "larger sizes)",
               r->cls == CAL_LAUNCH ? "launch" : gpu_class_name((gpu_class)r->cls),
               util_dtype_name(r->t), what, fmax(x->ec, x->em));
}

/* Fits one class: rows whose launches take more than three quarters of their time carry
 * too little signal and are left out; a factor no row binds keeps the base's value or
 * the largest the rows imply (each a lower bound), whichever is larger. */
static int fit_class(const cal_csv *c, const gpu_desc *base, gpu_desc *out, int cls,
                     double launch_s, implied *x)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        const cal_row *r = &c->rows[i];
        if (r->cls != cls || small_stride(base, r))
            continue;
        imply(base, r, launch_s, &x[n]);
        if (x[n].work_s < 0.25 * r->seconds)
            continue;
        if (x[n].ec > 1 || x[n].em > 1)
            return too_fast(c, &x[n]);
        n++;
    }
    if (!n)
        return UTIL_OK;
    gpu_eff e;
    bool has_c, has_m;
    fit_pair(x, n, &e, &has_c, &has_m);
    gpu_eff *o = &out->eff[cls];
    o->compute = has_c ? e.compute : fmin(1.0, fmax(base->eff[cls].compute, e.compute));
    o->memory = has_m ? e.memory : fmin(1.0, fmax(base->eff[cls].memory, e.memory));
    return UTIL_OK;
}

/* The butterfly stride floor: memory-bound passes with strides below a sector that run
 * faster than stride / sector predicts sit on the floor; it is their mean ratio. */
static void fit_floor(const cal_csv *c, gpu_desc *out, double launch_s)
{
    double sum = 0;
    size_t n = 0;
    const gpu_eff *e = &out->eff[GPU_BUTTERFLY];
    for (size_t i = 0; i < c->n; i++) {
        const cal_row *r = &c->rows[i];
        if (!small_stride(out, r))
            continue;
        implied x;
        imply(out, r, launch_s, &x);
        double ratio = r->stride / out->sector_bytes, share = x.em / e->memory;
        bool memory_bound = x.ec < 0.9 * e->compute;
        if (x.work_s >= 0.25 * r->seconds && memory_bound && share > 1.05 * ratio)
            sum += fmin(1.0, share), n++;
    }
    if (n)
        out->stride_floor = sum / (double)n;
}

int gpu_calibrate(const gpu_desc *base, const char *csv_file, gpu_desc *out, char *err,
                  size_t errlen)
{
    gpu_desc b = *base;
    int rc = gpu_check(&b, err, errlen);
    if (rc)
        return rc;
    cal_csv c = {.file = csv_file, .err = err, .errlen = errlen};
    rc = read_csv(&c);
    implied *x = rc ? NULL : calloc(c.n, sizeof *x);
    if (!rc && !x)
        rc = util_fail(UTIL_ERUN, err, errlen, "out of memory");
    gpu_desc o = b;
    /* the launch overhead: the mean time of an empty kernel */
    double sum = 0, n = 0;
    for (size_t i = 0; !rc && i < c.n; i++)
        if (c.rows[i].cls == CAL_LAUNCH)
            sum += c.rows[i].seconds, n += c.rows[i].launches;
    if (n > 0)
        o.launch_us = sum / n * 1e6;
    for (int cls = 0; !rc && cls < GPU_CLASS_COUNT; cls++)
        rc = fit_class(&c, &b, &o, cls, o.launch_us * 1e-6, x);
    if (!rc)
        fit_floor(&c, &o, o.launch_us * 1e-6);
    free(x);
    free(c.rows);
    if (!rc)
        *out = o;
    return rc;
}

/* ---------------------------------------------------------------- writing a preset */

/* A comment line of s: a line break in s would end the comment early. */
static void put_comment(FILE *f, const char *s)
{
    fputs("# ", f);
    for (; *s; s++)
        fputc(*s == '\n' ? ' ' : *s, f);
}

/* s as a libconfig string literal: a name may hold quotes, backslashes and control
 * characters (a preset can set any), and must load back the same. */
static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

int gpu_write_preset(const gpu_desc *g, FILE *f, const char *note, char *err, size_t errlen)
{
    int rc = gpu_check(g, err, errlen);
    if (rc)
        return rc;
    const gpu_cpu *c = &g->cpu;
    put_comment(f, g->name);
    fputs(": GPU baseline preset (docs/GPU.md), written by bflysim.\n", f);
    if (note) {
        put_comment(f, note);
        fputc('\n', f);
    }
    fputs("name = ", f);
    put_string(f, g->name);
    fprintf(f, ";\nclock_mhz = %.17g;\nlaunch_us = %.17g;\n", g->clock_mhz, g->launch_us);
    fprintf(f,
            "peak = {\n  tensor_fp16_gflops = %.17g;\n  cuda_fp16_gflops = %.17g;\n"
            "  fp32_gflops = %.17g;\n};\n",
            g->tensor_fp16_gflops, g->cuda_fp16_gflops, g->fp32_gflops);
    fprintf(f, "memory = {\n  bandwidth_gbs = %.17g;\n  l2_kb = %u;\n  sector_bytes = %u;\n};\n",
            g->dram_gbs, g->l2_bytes / 1024, g->sector_bytes);
    fprintf(f, "efficiency = {\n");
    for (int k = 0; k < GPU_CLASS_COUNT; k++)
        fprintf(f, "  %s = { compute = %.17g; memory = %.17g; };\n", gpu_class_name((gpu_class)k),
                g->eff[k].compute, g->eff[k].memory);
    fprintf(
        f,
        "};\nbutterfly = {\n  kernel = \"%s\";\n  fused_stages_per_pass = %u;\n  stride_floor = "
        "%.17g;\n};\nattention = {\n  kernel = \"%s\";\n};\n",
        gpu_bfly_kernel_name(g->bfly_kernel), g->bfly_fused_stages, g->stride_floor,
        gpu_attn_kernel_name(g->attn_kernel));
    fprintf(f, "fft = {\n  stages_per_pass = %u;\n};\n", g->fft_stages_per_pass);
    fprintf(f,
            "power = {\n  idle_w = %.17g;\n  busy_w = %.17g;\n  compute_w = %.17g;\n"
            "  memory_w = %.17g;\n  budget_w = %.17g;\n};\n",
            g->power.idle_w, g->power.busy_w, g->power.compute_w, g->power.memory_w,
            g->power.budget_w);
    fprintf(f,
            "cpu = {\n  cores = %u;\n  clock_ghz = %.17g;\n  fp32_gflops_per_core = %.17g;\n"
            "  fp16_gflops_per_core = %.17g;\n  gemm_eff = %.17g;\n  vector_eff = %.17g;\n"
            "  memory_eff = %.17g;\n  bandwidth_share = %.17g;\n  launch_us = %.17g;\n"
            "  active_w = %.17g;\n};\n",
            c->cores, c->clock_ghz, c->fp32_gflops_per_core, c->fp16_gflops_per_core, c->gemm_eff,
            c->vector_eff, c->memory_eff, c->bandwidth_share, c->launch_us, c->active_w);
    if (fflush(f) || ferror(f))
        return util_fail(UTIL_ERUN, err, errlen, "cannot write the preset: %s", strerror(errno));
    return UTIL_OK;
}
