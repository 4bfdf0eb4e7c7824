/* json.c: the JSON writer every report format of sim/report shares. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../util/util.h"
#include "internal.h"

void j_sep(jw *j)
{
    fputs(j->first ? "\n" : ",\n", j->f);
    for (int i = 0; i < j->depth; i++)
        fputs("  ", j->f);
    j->first = false;
}

void j_str(FILE *f, const char *s)
{
    fputc('"', f);
    while (*s) {
        unsigned char c = (unsigned char)*s;
        size_t n = util_utf8_seq(s, NULL);
        if (!n) /* a byte that is not UTF-8 (a file name): JSON has only text */
            fputs("\\ufffd", f), n = 1;
        else if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fwrite(s, 1, n, f);
        s += n;
    }
    fputc('"', f);
}

void j_key(jw *j, const char *k)
{
    j_sep(j);
    j_str(j->f, k);
    fputs(": ", j->f);
}

void j_open(jw *j, const char *k, char br)
{
    if (k)
        j_key(j, k);
    else if (j->depth)
        j_sep(j);
    fputc(br, j->f);
    j->depth++;
    j->first = true;
}

void j_close(jw *j, char br)
{
    j->depth--;
    if (!j->first) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++)
            fputs("  ", j->f);
    }
    fputc(br, j->f);
    j->first = false;
}

void j_u(jw *j, const char *k, uint64_t v)
{
    j_key(j, k);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void j_d(jw *j, const char *k, double v)
{
    j_key(j, k);
    if (isfinite(v))
        fprintf(j->f, "%.10g", v);
    else
        fputs("null", j->f);
}

void j_s(jw *j, const char *k, const char *v)
{
    j_key(j, k);
    j_str(j->f, v);
}

void j_b(jw *j, const char *k, bool v)
{
    j_key(j, k);
    fputs(v ? "true" : "false", j->f);
}

void j_strings(jw *j, const char *k, const char *const *v, size_t n)
{
    j_open(j, k, '[');
    for (size_t i = 0; i < n; i++) {
        j_sep(j);
        j_str(j->f, v[i]);
    }
    j_close(j, ']');
}

void j_invocation(jw *j, int argc, char *const *argv, const char *const *ov, size_t n_ov)
{
    j_open(j, "invocation", '{');
    j_strings(j, "argv", (const char *const *)argv, argv ? (size_t)argc : 0);
    j_strings(j, "overrides", ov, n_ov);
    j_close(j, '}');
}
