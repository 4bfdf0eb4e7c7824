/* topology.c: SCALE-Sim topology CSV files read as gemm workloads. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "internal.h"

/* Splits a CSV line at commas into at most max trimmed fields (a trailing comma, as
 * SCALE-Sim writes, ends the row); returns how many. */
static int split(char *line, char **f, int max)
{
    int n = 0;
    char *s = line;
    while (n < max) {
        while (isspace((unsigned char)*s))
            s++;
        char *end = strchr(s, ',');
        if (end)
            *end = '\0';
        char *t = s + strlen(s);
        while (t > s && isspace((unsigned char)t[-1]))
            *--t = '\0';
        if (*s || end)
            f[n++] = s;
        if (!end)
            break;
        s = end + 1;
    }
    while (n > 0 && !*f[n - 1]) /* (the trailing comma's empty field) */
        n--;
    return n;
}

/* A positive whole number in field i of a row, or an error naming it. */
static int number(const char *file, unsigned line, const char *what, const char *s, uint64_t *v,
                  char *err, size_t errlen)
{
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (end == s || *end || *s == '-' || x == 0 || x > 1000000000000ull)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s:%u: %s = '%s': expected a whole number from 1 to 10^12", file, line,
                         what, s);
    *v = x;
    return UTIL_OK;
}

/* A convolution row (SCALE-Sim's conv format) as a GEMM: output pixels x filters, over
 * the window times the channels; a depth-wise layer ("DP" in its name) is one GEMM per
 * channel, as SCALE-Sim splits it. */
static int conv_row(const char *file, unsigned line, char **f, int n, wl_gemm *g, char *err,
                    size_t errlen)
{
    static const char *const what[] = {"IFMAP Height", "IFMAP Width", "Filter Height",
                                       "Filter Width", "Channels",    "Num Filter",
                                       "Strides"};
    uint64_t v[7];
    if (n < 8)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s:%u: %d fields; a convolution row has 8 (Layer name, IFMAP Height, "
                         "IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides)",
                         file, line, n);
    for (int i = 0; i < 7; i++) {
        int rc = number(file, line, what[i], f[i + 1], &v[i], err, errlen);
        if (rc)
            return rc;
    }
    if (v[2] > v[0] || v[3] > v[1])
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s:%u: the filter (%llux%llu) is larger than the input (%llux%llu)", file,
                         line, (unsigned long long)v[2], (unsigned long long)v[3],
                         (unsigned long long)v[0], (unsigned long long)v[1]);
    /* (SCALE-Sim's output size: ceil((in - filter + stride) / stride)) */
    uint64_t oh = (v[0] - v[2] + 2 * v[6] - 1) / v[6], ow = (v[1] - v[3] + 2 * v[6] - 1) / v[6];
    bool dw = strstr(f[0], "DP") != NULL;
    g->n = v[5];
    g->count = dw ? v[4] : 1;
    if (!util_mul_u64(oh, ow, &g->m) || !util_mul_u64(v[2], v[3], &g->k) ||
        !util_mul_u64(g->k, dw ? 1 : v[4], &g->k))
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s:%u: the layer's output pixels or window exceed 64 bits", file, line);
    return UTIL_OK;
}

bool cfg_gemm_fits(const wl_gemm *g)
{
    uint64_t x;
    return util_mul_u64(g->m, g->n, &x) && util_mul_u64(x, g->k, &x) &&
           util_mul_u64(x, g->count ? g->count : 1, &x) && x <= CFG_MAX_GEMM_MACS;
}

int cfg_load_topology(const char *file, wl_desc *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->kind = WL_KIND_GEMM;
    out->dtype = UTIL_FP16;
    FILE *fp = fopen(file, "r");
    if (!fp)
        return util_fail(UTIL_ECONFIG, err, errlen, "%s: cannot read the topology", file);
    const char *base = strrchr(file, '/');
    snprintf(out->name, sizeof out->name, "%s", base ? base + 1 : file);
    out->name[strcspn(out->name, ".")] = '\0';
    char line[4096], *f[16];
    unsigned ln = 0;
    int rc = UTIL_OK, conv = -1;
    while (!rc && fgets(line, sizeof line, fp)) {
        ln++;
        if (!strchr(line, '\n') && !feof(fp)) {
            rc = util_fail(UTIL_ECONFIG, err, errlen, "%s:%u: a line longer than %zu bytes", file,
                           ln, sizeof line - 1);
            break;
        }
        int n = split(line, f, 16);
        if (n == 0)
            continue;
        if (conv < 0) { /* the header names the format */
            bool gemm = n >= 4 && !strcmp(f[1], "M") && !strcmp(f[2], "N") && !strcmp(f[3], "K");
            bool cnv = n >= 8 && !strcmp(f[1], "IFMAP Height");
            if (!gemm && !cnv)
                rc = util_fail(UTIL_ECONFIG, err, errlen,
                               "%s:%u: not a SCALE-Sim topology header (expected 'Layer, M, N, K,' "
                               "or 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter "
                               "Width, Channels, Num Filter, Strides,')",
                               file, ln);
            conv = cnv;
            continue;
        }
        if (out->n_gemms == WL_MAX_GEMMS) {
            rc = util_fail(UTIL_ECONFIG, err, errlen, "%s:%u: more than %d layers", file, ln,
                           WL_MAX_GEMMS);
            break;
        }
        wl_gemm *g = &out->gemms[out->n_gemms];
        snprintf(g->name, sizeof g->name, "%s", f[0]);
        if (conv) {
            rc = conv_row(file, ln, f, n, g, err, errlen);
        } else if (n < 4) {
            rc = util_fail(UTIL_ECONFIG, err, errlen,
                           "%s:%u: %d fields; a GEMM row has 4 (Layer, M, N, K)", file, ln, n);
        } else {
            g->count = 1;
            rc = number(file, ln, "M", f[1], &g->m, err, errlen);
            if (!rc)
                rc = number(file, ln, "N", f[2], &g->n, err, errlen);
            if (!rc)
                rc = number(file, ln, "K", f[3], &g->k, err, errlen);
        }
        if (!rc && !cfg_gemm_fits(g))
            rc = util_fail(UTIL_ECONFIG, err, errlen,
                           "%s:%u: %s: M x N x K (x count) exceeds 2^58 multiply-accumulates", file,
                           ln, g->name);
        out->n_gemms++;
    }
    if (!rc && ferror(fp))
        rc = util_fail(UTIL_ECONFIG, err, errlen, "%s: cannot read the topology", file);
    if (!rc && !out->n_gemms)
        rc = util_fail(UTIL_ECONFIG, err, errlen, "%s: no layers", file);
    fclose(fp);
    return rc;
}
