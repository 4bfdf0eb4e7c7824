/* source.c: a config file's text as libconfig will parse it: @include files expanded in
 * place under the same checks, integer literals widened, each line traced to its file. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "config.h"
#include "internal.h"

/* ---------------------------------------------------------------- widening */

typedef struct scan {
    const char *origin;
    bool lines;
    int line;
    char *err;
    size_t errlen;
} scan;

static int scan_fail(const scan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int scan_fail(const scan *sc, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sc->lines)
        return util_fail(UTIL_ECONFIG, sc->err, sc->errlen, "%s:%d: %s", sc->origin, sc->line, msg);
    return util_fail(UTIL_ECONFIG, sc->err, sc->errlen, "%s: %s", sc->origin, msg);
}

/* Where libconfig's scanner is: in code, or inside a string or a comment. */
typedef enum { LX_CODE, LX_STRING, LX_LINE_COMMENT, LX_BLOCK_COMMENT } lex_state;

/* The state after the text at p (before end); *n gets the characters that took: 1, or 2
 * for an escape in a string and for the two-character comment marks. Every reader of a
 * config's text below follows strings and comments through this one rule. */
static lex_state lex_step(lex_state st, const char *p, const char *end, size_t *n)
{
    bool two = p + 1 < end;
    *n = 1;
    switch (st) {
    case LX_STRING:
        if (*p == '\\' && two && p[1] != '\n')
            *n = 2;
        return *p == '"' ? LX_CODE : LX_STRING;
    case LX_LINE_COMMENT:
        return *p == '\n' ? LX_CODE : LX_LINE_COMMENT;
    case LX_BLOCK_COMMENT:
        if (*p == '*' && two && p[1] == '/')
            return *n = 2, LX_CODE;
        return LX_BLOCK_COMMENT;
    case LX_CODE:
    default:
        if (*p == '"')
            return LX_STRING;
        if (*p == '#')
            return LX_LINE_COMMENT;
        if (*p == '/' && two && (p[1] == '/' || p[1] == '*'))
            return *n = 2, p[1] == '/' ? LX_LINE_COMMENT : LX_BLOCK_COMMENT;
        return LX_CODE;
    }
}

/* Whether src[i] continues a name ("k2", "foo-300": names may hold '-') or a number
 * after its decimal point: then a digit there does not start a literal. */
static bool in_word(const char *src, size_t i)
{
    if (i == 0)
        return false;
    unsigned char p = (unsigned char)src[i - 1];
    if (isalnum(p) || p == '_' || p == '.')
        return true;
    return p == '-' && i >= 2 && (isalnum((unsigned char)src[i - 2]) || src[i - 2] == '_');
}

/* Copies the integer or float literal at src[i] into dst (an L after an integer beyond 32
 * bits); returns the index after it, 0 on error. */
static size_t copy_number(scan *sc, const char *src, size_t n, size_t i, char *dst, size_t *o)
{
    size_t j = i;
    bool hex = src[j] == '0' && j + 1 < n && (src[j + 1] == 'x' || src[j + 1] == 'X');
    unsigned long long v = 0;
    bool big = false;
    if (hex)
        j += 2;
    for (; j < n && (hex ? isxdigit((unsigned char)src[j]) : isdigit((unsigned char)src[j])); j++) {
        unsigned d = isdigit((unsigned char)src[j])
                         ? (unsigned)(src[j] - '0')
                         : (unsigned)(tolower((unsigned char)src[j]) - 'a' + 10);
        if (v > (ULLONG_MAX - d) / (hex ? 16u : 10u))
            big = true;
        else
            v = v * (hex ? 16u : 10u) + d;
    }
    bool is_float = !hex && j < n && (src[j] == '.' || src[j] == 'e' || src[j] == 'E');
    if (is_float) {
        while (j < n &&
               (isalnum((unsigned char)src[j]) || src[j] == '.' ||
                ((src[j] == '-' || src[j] == '+') && (src[j - 1] == 'e' || src[j - 1] == 'E'))))
            j++;
    } else if (big || v > (unsigned long long)INT64_MAX) {
        scan_fail(sc, "integer %.*s does not fit in 64 bits", (int)(j - i > 40 ? 40 : j - i),
                  src + i);
        return 0;
    }
    memcpy(dst + *o, src + i, j - i);
    *o += j - i;
    if (!is_float && !(j < n && src[j] == 'L') && v > (unsigned long long)INT32_MAX)
        dst[(*o)++] = 'L';
    return j;
}

int cfg_widen(const char *origin, bool lines, const char *src, size_t n, char **out,
              size_t *out_len, char *err, size_t errlen)
{
    char *dst = malloc(2 * n + 1);
    if (!dst)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    scan sc = {origin, lines, 1, err, errlen};
    int opened = 1; /* the line the open string or comment began on */
    size_t o = 0;
    int rc = UTIL_OK;
    lex_state st = LX_CODE;
    for (size_t i = 0; i < n && !rc;) {
        unsigned char ch = (unsigned char)src[i];
        if (ch < 0x20 && ch != '\n' && ch != '\t' && ch != '\r') {
            rc = scan_fail(&sc, "control character 0x%02x in a config", ch);
            break;
        }
        if (st == LX_CODE && isdigit(ch) && !in_word(src, i)) {
            size_t j = copy_number(&sc, src, n, i, dst, &o);
            if (!j)
                rc = UTIL_ECONFIG;
            i = j;
            continue;
        }
        size_t k;
        lex_state next = lex_step(st, src + i, src + n, &k);
        if (st == LX_CODE && (next == LX_STRING || next == LX_BLOCK_COMMENT))
            opened = sc.line;
        st = next;
        memcpy(dst + o, src + i, k);
        o += k, i += k;
        sc.line += ch == '\n'; /* (a two-character step never starts with a line break) */
    }
    /* a file (or an included one) that ends inside a string or a comment would swallow
     * what follows it once files are joined */
    if (!rc && (st == LX_STRING || st == LX_BLOCK_COMMENT)) {
        sc.line = opened; /* where it began */
        rc = scan_fail(&sc, "the %s begun here does not end before the end of the text",
                       st == LX_STRING ? "string" : "block comment");
    }
    if (rc) {
        free(dst);
        return rc;
    }
    dst[o] = '\0';
    *out = dst;
    if (out_len)
        *out_len = o;
    return UTIL_OK;
}

/* ---------------------------------------------------------------- includes */

static int append(cfg_source *s, const char *p, size_t n, char *err, size_t errlen)
{
    if (s->len + n + 1 > CFG_MAX_FILE_BYTES)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: with its included files a config has more than %u bytes", s->files[0],
                         CFG_MAX_FILE_BYTES);
    if (util_reserve((void **)&s->text, &s->cap, s->len + n + 1, 1))
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    memcpy(s->text + s->len, p, n);
    s->len += n;
    s->text[s->len] = '\0';
    return UTIL_OK;
}

/* Appends line `line` of file fi (n bytes at p, its newline included) to the text. */
static int emit_line(cfg_source *s, uint32_t fi, unsigned line, const char *p, size_t n, char *err,
                     size_t errlen)
{
    cfg_span *last = s->n_span ? &s->span[s->n_span - 1] : NULL;
    if (!last || last->file != fi || last->line + (s->lines - last->first) != line) {
        if (util_reserve((void **)&s->span, &s->cap_span, s->n_span + 1, sizeof *s->span))
            return util_fail(UTIL_ERUN, err, errlen, "out of memory");
        s->span[s->n_span++] = (cfg_span){s->lines, line, fi};
    }
    int rc = append(s, p, n, err, errlen);
    if (!rc && (n == 0 || p[n - 1] != '\n'))
        rc = append(s, "\n", 1, err, errlen);
    s->lines++;
    return rc;
}

bool cfg_path_beside(const char *file, const char *name, size_t len, char *out, size_t outlen)
{
    const char *slash = strrchr(file, '/');
    int dir = name[0] == '/' || !slash ? 0 : (int)(slash - file + 1);
    int n = snprintf(out, outlen, "%.*s%.*s", dir, file, (int)len, name);
    return n >= 0 && (size_t)n < outlen;
}

static int expand(cfg_source *s, const char *file, const char *from, unsigned from_line,
                  uint32_t depth, char *err, size_t errlen);

/* If the line at p (outside strings and comments) is an @include, expands it: *done set. */
static int try_include(cfg_source *s, uint32_t fi, unsigned line, const char *p, const char *end,
                       uint32_t depth, bool *done, char *err, size_t errlen)
{
    const char *q = p;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    *done = (size_t)(end - q) >= 8 && strncmp(q, "@include", 8) == 0;
    if (!*done)
        return UTIL_OK;
    const char *name = q + 8, *close = NULL;
    while (name < end && (*name == ' ' || *name == '\t'))
        name++;
    if (name < end && *name == '"')
        close = memchr(name + 1, '"', (size_t)(end - name - 1));
    const char *rest = close ? close + 1 : end;
    while (rest < end && (*rest == ' ' || *rest == '\t' || *rest == '\r' || *rest == '\n'))
        rest++;
    bool comment =
        rest < end && (*rest == '#' || (rest + 1 < end && rest[0] == '/' && rest[1] == '/'));
    if (!close || close == name + 1 || (rest < end && !comment) ||
        memchr(name + 1, '\\', (size_t)(close - name - 1)))
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s:%u: malformed @include (expected @include \"FILE\" on a line of its "
                         "own, FILE without escapes)",
                         s->files[fi], line);
    char path[1024];
    if (!cfg_path_beside(s->files[fi], name + 1, (size_t)(close - name - 1), path, sizeof path))
        return util_fail(UTIL_ECONFIG, err, errlen, "%s:%u: @include path too long", s->files[fi],
                         line);
    return expand(s, path, s->files[fi], line, depth + 1, err, errlen);
}

/* Appends the lines of text (file fi), expanding its @include lines. */
static int expand_text(cfg_source *s, uint32_t fi, const char *text, size_t n, uint32_t depth,
                       char *err, size_t errlen)
{
    lex_state st = LX_CODE;
    unsigned line = 1;
    int rc = UTIL_OK;
    for (const char *p = text; !rc && p < text + n; line++) {
        const char *nl = memchr(p, '\n', (size_t)(text + n - p));
        const char *end = nl ? nl + 1 : text + n;
        bool done = false;
        if (st == LX_CODE)
            rc = try_include(s, fi, line, p, end, depth, &done, err, errlen);
        if (!rc && !done)
            rc = emit_line(s, fi, line, p, (size_t)(end - p), err, errlen);
        for (const char *c = p; c < end && !done;) { /* the state at the next line */
            size_t k;
            st = lex_step(st, c, end, &k);
            c += k;
        }
        p = end;
    }
    return rc;
}

static int expand(cfg_source *s, const char *file, const char *from, unsigned from_line,
                  uint32_t depth, char *err, size_t errlen)
{
    if (depth > CFG_MAX_INCLUDE_DEPTH)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s:%u: @include \"%s\": includes nested more than %d deep (a cycle?)",
                         from, from_line, file, CFG_MAX_INCLUDE_DEPTH);
    if (s->n_files == CFG_MAX_FILES)
        return util_fail(UTIL_ECONFIG, err, errlen, "%s:%u: more than %d included files", from,
                         from_line, CFG_MAX_FILES);
    char msg[600];
    char *raw = NULL, *wide = NULL;
    size_t n = 0, wn = 0;
    int rc = util_read_regular(file, CFG_MAX_FILE_BYTES, &raw, &n, msg, sizeof msg);
    if (!rc && memchr(raw, '\0', n))
        rc = util_fail(UTIL_ECONFIG, msg, sizeof msg,
                       "%s: cannot read: binary data (a NUL byte) in a config file", file);
    uint32_t fi = s->n_files;
    if (!rc && !(s->files[fi] = strdup(file)))
        rc = util_fail(UTIL_ERUN, msg, sizeof msg, "out of memory");
    if (!rc)
        s->n_files++;
    if (!rc)
        rc = cfg_widen(file, true, raw, n, &wide, &wn, msg, sizeof msg);
    free(raw);
    if (rc) {
        if (from)
            return util_fail(rc, err, errlen, "%s:%u: @include: %s", from, from_line, msg);
        return util_fail(rc, err, errlen, "%s", msg);
    }
    rc = expand_text(s, fi, wide, wn, depth, err, errlen);
    free(wide);
    return rc;
}

/* Fails at line `line` of the expanded text, named by its file and line. */
static int fail_line(const cfg_source *s, unsigned line, char *err, size_t errlen, const char *what)
{
    const char *f;
    unsigned fl;
    cfg_source_where(s, line, &f, &fl);
    return util_fail(UTIL_ECONFIG, err, errlen, "%s:%u: %s", f, fl, what);
}

/* Counts the settings of the expanded text, includes and all: an assignment outside
 * strings and comments is a setting of the innermost open group. */
static int count_settings(const cfg_source *s, char *err, size_t errlen)
{
    lex_state st = LX_CODE;
    uint32_t depth = 0, keys[CFG_MAX_NESTING + 1] = {0};
    uint64_t all = 0;
    unsigned line = 1;
    char msg[96] = "";
    const char *end = s->text + s->len;
    for (const char *p = s->text; p < end && !msg[0];) {
        char ch = *p;
        size_t k;
        lex_state next = lex_step(st, p, end, &k);
        bool code = st == LX_CODE && next == LX_CODE;
        st = next, p += k;
        line += ch == '\n';
        if (!code)
            continue;
        if (ch == '{' && depth == CFG_MAX_NESTING) {
            snprintf(msg, sizeof msg, "groups nested more than %d deep", CFG_MAX_NESTING);
        } else if (ch == '{') {
            keys[++depth] = 0;
        } else if (ch == '}') {
            depth -= depth > 0;
        } else if ((ch == '=' || ch == ':') && ++keys[depth] > CFG_MAX_GROUP_KEYS) {
            snprintf(msg, sizeof msg, "more than %d settings in one group", CFG_MAX_GROUP_KEYS);
        } else if ((ch == '=' || ch == ':') && ++all > CFG_MAX_SETTINGS) {
            snprintf(msg, sizeof msg, "more than %d settings in all", CFG_MAX_SETTINGS);
        }
    }
    return msg[0] ? fail_line(s, line, err, errlen, msg) : UTIL_OK;
}

int cfg_source_read(cfg_source *s, const char *file, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    int rc = expand(s, file, NULL, 0, 0, err, errlen);
    if (!rc && !s->text)
        rc = append(s, "", 0, err, errlen);
    return rc ? rc : count_settings(s, err, errlen);
}

void cfg_source_where(const cfg_source *s, unsigned line, const char **file, unsigned *file_line)
{
    size_t lo = 0, hi = s->n_span;
    unsigned l0 = line ? line - 1 : 0;
    while (hi - lo > 1) { /* the last span starting at or before l0 */
        size_t mid = (lo + hi) / 2;
        if (s->span[mid].first <= l0)
            lo = mid;
        else
            hi = mid;
    }
    if (!s->n_span) {
        *file = s->n_files ? s->files[0] : "";
        *file_line = line;
        return;
    }
    const cfg_span *sp = &s->span[lo];
    *file = s->files[sp->file];
    *file_line = sp->line + (l0 - sp->first);
}

void cfg_source_free(cfg_source *s)
{
    for (uint32_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->text);
    free(s->span);
    memset(s, 0, sizeof *s);
}
