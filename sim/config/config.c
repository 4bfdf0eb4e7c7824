/* config.c: schema-driven validation of libconfig files and --set overrides. */
#include "config.h"
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Largest element count of a workload (rows x n): keeps every derived size in range. */
#define CFG_MAX_ELEMS (UINT64_C(1) << 40)

/* ---------------------------------------------------------------- context */

#define MAX_TRACKED 64

typedef struct ctx {
    const char *file;   /* file name as given */
    const char *prefix; /* "arch" or "workload" */
    char *err;
    size_t errlen;
    /* settings written by overrides, to blame the --set argument and not the file */
    const config_setting_t *ov_setting[MAX_TRACKED];
    const cfg_override *ov_arg[MAX_TRACKED];
    size_t n_tracked;
    cfg_source src; /* the text parsed, to trace a line to its file */
} ctx;

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "FILE:LINE" of a setting, or "--set ARG" when an override wrote it. */
static void where(const ctx *c, const config_setting_t *s, char *buf, size_t len)
{
    for (size_t i = 0; i < c->n_tracked; i++) {
        for (const config_setting_t *p = s; p; p = config_setting_parent(p)) {
            if (p == c->ov_setting[i]) {
                snprintf(buf, len, "--set %s", c->ov_arg[i]->arg);
                return;
            }
        }
    }
    const char *f = c->file;
    unsigned line = 1;
    if (s && config_setting_source_line(s))
        cfg_source_where(&c->src, config_setting_source_line(s), &f, &line);
    snprintf(buf, len, "%s:%u", f, line);
}

static int fail_at(const ctx *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(const ctx *c, const config_setting_t *s, const char *fmt, ...)
{
    char loc[512], msg[768];
    where(c, s, loc, sizeof loc);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return util_fail(UTIL_ECONFIG, c->err, c->errlen, "%s: %s", loc, msg);
}

/* Full dotted path of a setting below the root ("pe.fu.exp.latency", "noc.skip[1]"). */
static void setting_path(const config_setting_t *s, char *buf, size_t len)
{
    const config_setting_t *chain[32];
    size_t n = 0;
    for (const config_setting_t *p = s; p && config_setting_parent(p) && n < 32;
         p = config_setting_parent(p))
        chain[n++] = p;
    size_t used = 0;
    buf[0] = '\0';
    while (n-- > 0) {
        const config_setting_t *p = chain[n];
        const char *nm = config_setting_name(p);
        int w;
        if (nm)
            w = snprintf(buf + used, len - used, "%s%s", used ? "." : "", nm);
        else
            w = snprintf(buf + used, len - used, "[%d]", config_setting_index(p));
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
}

/* ---------------------------------------------------------------- describing keys */

static void describe_key(const key_def *k, char *buf, size_t len)
{
    char range[96] = "";
    switch (k->type) {
    case K_U32:
    case K_U64:
        snprintf(range, sizeof range, "an integer %.0f..%.0f%s", k->min, k->max,
                 (k->flags & F_POW2) ? ", a power of two" : "");
        break;
    case K_F64:
        snprintf(range, sizeof range, "a number %s %g and <= %g",
                 (k->flags & F_GT) ? ">" : ">=", k->min, k->max);
        break;
    case K_STR:
        snprintf(range, sizeof range, "a string of at most %zu characters", k->size - 1);
        break;
    case K_ENUM:
    case K_ENUM_MASK: {
        size_t used =
            (size_t)snprintf(range, sizeof range, "%s", k->type == K_ENUM ? "one of" : "a list of");
        for (size_t i = 0; k->enums[i] && used < sizeof range; i++)
            used += (size_t)snprintf(range + used, sizeof range - used, "%s \"%s\"", i ? "," : "",
                                     k->enums[i]);
        break;
    }
    case K_U32_LIST:
        snprintf(range, sizeof range, "a list of at most %zu integers %.0f..%.0f", k->size, k->min,
                 k->max);
        break;
    case K_GROUP:
        snprintf(range, sizeof range, "a group { ... }");
        break;
    case K_GROUP_LIST:
        snprintf(range, sizeof range, "a list of 1..%zu groups ( { ... }, ... )", k->size);
        break;
    }
    if (k->unit && k->type != K_GROUP)
        snprintf(buf, len, "%s, in %s", range, k->unit);
    else
        snprintf(buf, len, "%s", range);
}

static void describe_found(const config_setting_t *s, char *buf, size_t len)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(buf, len, "the integer %lld", config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        snprintf(buf, len, "the number %g", config_setting_get_float(s));
        break;
    case CONFIG_TYPE_STRING:
        snprintf(buf, len, "the string \"%.60s\"", config_setting_get_string(s));
        break;
    case CONFIG_TYPE_BOOL:
        snprintf(buf, len, "the boolean %s", config_setting_get_bool(s) ? "true" : "false");
        break;
    case CONFIG_TYPE_GROUP:
        snprintf(buf, len, "a group");
        break;
    default:
        snprintf(buf, len, "a list");
        break;
    }
}

static int type_error(const ctx *c, const config_setting_t *s, const key_def *k)
{
    char path[256], want[160], found[128];
    setting_path(s, path, sizeof path);
    describe_key(k, want, sizeof want);
    describe_found(s, found, sizeof found);
    return fail_at(c, s, "%s: wrong type: expected %s, found %s", path, want, found);
}

/* Closest name (edit distance at most max(2, len/3)) for "did you mean". */
static const char *closest(const char *name, const char *const *cands, size_t n)
{
    size_t limit = strlen(name) / 3;
    return util_closest(name, cands, n, limit < 2 ? 2 : limit);
}

static const char *closest_key(const char *name, const key_def *keys)
{
    const char *cands[64];
    size_t n = 0;
    for (const key_def *k = keys; k->name && n < 64; k++)
        cands[n++] = k->name;
    return closest(name, cands, n);
}

/* Searches the whole schema for a key of this name elsewhere ("rows" -> "array.rows"). */
static bool find_elsewhere(const key_def *keys, const char *name, const char *prefix, char *out,
                           size_t len)
{
    for (const key_def *k = keys; k->name; k++) {
        char path[160];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k->name);
        if (strcmp(k->name, name) == 0 && *prefix) {
            snprintf(out, len, "%s", path);
            return true;
        }
        if (k->type == K_GROUP && find_elsewhere(k->children, name, path, out, len))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- values */

static uint32_t mask_of(const char *const *names, const char *s)
{
    for (uint32_t i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return UINT32_MAX;
}

static bool is_int(const config_setting_t *s)
{
    int t = config_setting_type(s);
    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static int check_int(const ctx *c, const config_setting_t *s, const key_def *k, const char *path,
                     long long *out)
{
    if (!is_int(s))
        return type_error(c, s, k);
    long long v = config_setting_get_int64(s);
    if ((double)v < k->min || (double)v > k->max)
        return fail_at(c, s, "%s = %lld is out of range (allowed %.0f..%.0f)", path, v, k->min,
                       k->max);
    if ((k->flags & F_POW2) && !util_is_pow2((uint64_t)v)) {
        uint64_t lo = UINT64_C(1) << util_log2((uint64_t)v);
        return fail_at(c, s, "%s = %lld must be a power of two (nearest: %llu or %llu)", path, v,
                       (unsigned long long)lo, (unsigned long long)(lo * 2));
    }
    *out = v;
    return UTIL_OK;
}

static int check_enum(const ctx *c, const config_setting_t *s, const key_def *k, const char *path,
                      uint32_t *out)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return type_error(c, s, k);
    const char *v = config_setting_get_string(s);
    uint32_t idx = mask_of(k->enums, v);
    if (idx != UINT32_MAX) {
        *out = idx;
        return UTIL_OK;
    }
    size_t n = 0;
    while (k->enums[n])
        n++;
    char allowed[160];
    describe_key(k, allowed, sizeof allowed);
    const char *near = closest(v, k->enums, n);
    char hint[96] = "";
    if (near)
        snprintf(hint, sizeof hint, "; did you mean \"%s\"?", near);
    return fail_at(c, s, "%s = \"%.60s\" is not allowed (%s)%s", path, v, allowed, hint);
}

static int store_value(const ctx *c, const config_setting_t *s, const key_def *k, void *base)
{
    char path[256];
    setting_path(s, path, sizeof path);
    char *field = (char *)base + k->offset;
    long long iv;
    int rc;
    switch (k->type) {
    case K_U32:
        if ((rc = check_int(c, s, k, path, &iv)))
            return rc;
        *(uint32_t *)field = (uint32_t)iv * (k->scale ? k->scale : 1);
        return UTIL_OK;
    case K_U64:
        if ((rc = check_int(c, s, k, path, &iv)))
            return rc;
        *(uint64_t *)field = (uint64_t)iv * (k->scale ? k->scale : 1);
        return UTIL_OK;
    case K_F64: {
        double v;
        if (is_int(s))
            v = (double)config_setting_get_int64(s);
        else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
            v = config_setting_get_float(s);
        else
            return type_error(c, s, k);
        bool low = (k->flags & F_GT) ? !(v > k->min) : !(v >= k->min);
        if (isnan(v) || low || v > k->max)
            return fail_at(c, s, "%s = %g is out of range (allowed %s %g and <= %g)", path, v,
                           (k->flags & F_GT) ? ">" : ">=", k->min, k->max);
        *(double *)field = v;
        return UTIL_OK;
    }
    case K_STR: {
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            return type_error(c, s, k);
        const char *v = config_setting_get_string(s);
        if (strlen(v) >= k->size || strlen(v) == 0)
            return fail_at(c, s, "%s = \"%.40s...\" must have 1..%zu characters", path, v,
                           k->size - 1);
        if (!util_printable_utf8(v))
            return fail_at(c, s,
                           "%s must be printable UTF-8 text (no control characters such as a "
                           "newline or tab, no invalid bytes)",
                           path);
        snprintf(field, k->size, "%s", v);
        return UTIL_OK;
    }
    case K_ENUM: {
        uint32_t idx;
        if ((rc = check_enum(c, s, k, path, &idx)))
            return rc;
        *(int *)field = (int)idx;
        return UTIL_OK;
    }
    case K_U32_LIST:
    case K_ENUM_MASK: {
        int t = config_setting_type(s);
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            return type_error(c, s, k);
        int len = config_setting_length(s);
        if (k->type == K_U32_LIST && (size_t)len > k->size)
            return fail_at(c, s, "%s has %d entries (at most %zu allowed)", path, len, k->size);
        uint32_t mask = 0;
        for (int i = 0; i < len; i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            char epath[280];
            snprintf(epath, sizeof epath, "%s[%d]", path, i);
            if (k->type == K_U32_LIST) {
                if ((rc = check_int(c, e, k, epath, &iv)))
                    return rc;
                ((uint32_t *)field)[i] = (uint32_t)iv;
            } else {
                uint32_t idx;
                if ((rc = check_enum(c, e, k, epath, &idx)))
                    return rc;
                mask |= 1u << idx;
            }
        }
        if (k->type == K_U32_LIST)
            *(uint32_t *)((char *)base + k->count_offset) = (uint32_t)len;
        else
            *(uint32_t *)field = mask;
        return UTIL_OK;
    }
    case K_GROUP:
    case K_GROUP_LIST:
        break;
    }
    return type_error(c, s, k);
}

/* ---------------------------------------------------------------- validation */

static int validate_group(ctx *c, config_setting_t *g, const key_def *keys, void *base);

/* Parses a libconfig literal into a one-setting scratch config. */
static int parse_literal(config_t *tmp, const char *text)
{
    size_t len = strlen(text) + 16;
    char *src = malloc(len);
    if (!src)
        return CONFIG_FALSE;
    snprintf(src, len, "v = %s;", text);
    config_init(tmp);
    int ok = config_read_string(tmp, src);
    free(src);
    if (ok == CONFIG_TRUE && config_setting_length(config_root_setting(tmp)) != 1)
        ok = CONFIG_FALSE;
    return ok;
}

/* Creates a missing optional key from its default, then validates it like a file value. */
static int apply_default(ctx *c, config_setting_t *g, const key_def *k, void *base)
{
    if (k->type == K_GROUP) {
        config_setting_t *child = config_setting_add(g, k->name, CONFIG_TYPE_GROUP);
        return child ? validate_group(c, child, k->children, base)
                     : util_fail(UTIL_ERUN, c->err, c->errlen, "out of memory");
    }
    if (!k->def)
        return UTIL_OK;
    config_t tmp;
    if (parse_literal(&tmp, k->def) != CONFIG_TRUE) {
        config_destroy(&tmp);
        return util_fail(UTIL_ERUN, c->err, c->errlen, "internal: bad default for %s", k->name);
    }
    const config_setting_t *v = config_setting_get_elem(config_root_setting(&tmp), 0);
    int rc = store_value(c, v, k, base);
    config_destroy(&tmp);
    return rc;
}

/* Each element of a list of groups is validated into its own struct. */
static int validate_group_list(ctx *c, config_setting_t *m, const key_def *k, void *base)
{
    char path[256];
    setting_path(m, path, sizeof path);
    int t = config_setting_type(m);
    if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY)
        return type_error(c, m, k);
    int len = config_setting_length(m);
    if (len < 1 || (size_t)len > k->size)
        return fail_at(c, m, "%s has %d entries (allowed 1..%zu)", path, len, k->size);
    for (int i = 0; i < len; i++) {
        config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            char found[128];
            describe_found(e, found, sizeof found);
            return fail_at(c, e, "%s[%d]: wrong type: expected a group { ... }, found %s", path, i,
                           found);
        }
        char *elem = (char *)base + k->offset + (size_t)i * k->scale;
        int rc = validate_group(c, e, k->children, elem);
        if (rc)
            return rc;
    }
    *(uint32_t *)((char *)base + k->count_offset) = (uint32_t)len;
    return UTIL_OK;
}

static int validate_group(ctx *c, config_setting_t *g, const key_def *keys, void *base)
{
    char path[256];
    int n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *nm = config_setting_name(m);
        const key_def *k = keys;
        while (k->name && strcmp(k->name, nm) != 0)
            k++;
        if (k->name)
            continue;
        setting_path(m, path, sizeof path);
        const char *near = closest_key(nm, keys);
        char other[160], gpath[256];
        setting_path(g, gpath, sizeof gpath);
        if (near)
            return fail_at(c, m, "unknown key '%s'; did you mean '%s%s%s'?", path, gpath,
                           *gpath ? "." : "", near);
        if (find_elsewhere(keys, nm, "", other, sizeof other))
            return fail_at(c, m, "unknown key '%s'; did you mean '%s'?", path, other);
        return fail_at(c, m, "unknown key '%s' (see bflysim --list-keys)", path);
    }
    for (const key_def *k = keys; k->name; k++) {
        config_setting_t *m = config_setting_get_member(g, k->name);
        int rc;
        if (!m) {
            if (k->flags & F_REQ) {
                char want[160], gpath[256];
                describe_key(k, want, sizeof want);
                setting_path(g, gpath, sizeof gpath);
                return fail_at(c, g, "missing required key '%s%s%s' (%s)", gpath, *gpath ? "." : "",
                               k->name, want);
            }
            rc = apply_default(c, g, k, base);
        } else if (k->type == K_GROUP) {
            if (config_setting_type(m) != CONFIG_TYPE_GROUP)
                return type_error(c, m, k);
            rc = validate_group(c, m, k->children, base);
        } else if (k->type == K_GROUP_LIST) {
            rc = validate_group_list(c, m, k, base);
        } else {
            rc = store_value(c, m, k, base);
        }
        if (rc)
            return rc;
    }
    return UTIL_OK;
}

/* ---------------------------------------------------------------- overrides */

int cfg_parse_override(const char *arg, cfg_override *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* a line break would let libconfig read a directive (an @include) from the value */
    if (strpbrk(arg, "\n\r"))
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "--set %.*s...: a value is one line (no line breaks)",
                         (int)strcspn(arg, "\n\r"), arg);
    const char *eq = strchr(arg, '=');
    const char *dot = strchr(arg, '.');
    if (strlen(arg) >= sizeof out->arg)
        return util_fail(UTIL_ECONFIG, err, errlen, "--set %.40s...: argument too long", arg);
    snprintf(out->arg, sizeof out->arg, "%s", arg);
    if (!eq || !dot || dot > eq || eq == dot + 1 || eq[1] == '\0')
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "--set %s: expected FILE.KEY=VALUE, e.g. arch.array.rows=16 or "
                         "workload.rows=4096",
                         arg);
    size_t flen = (size_t)(dot - arg);
    if (!((flen == 4 && strncmp(arg, "arch", 4) == 0) ||
          (flen == 8 && strncmp(arg, "workload", 8) == 0) ||
          (flen == 3 && strncmp(arg, "gpu", 3) == 0) ||
          (flen == 6 && strncmp(arg, "system", 6) == 0)))
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "--set %s: the key path must start with 'arch.', 'workload.', 'gpu.' or "
                         "'system.'",
                         arg);
    size_t plen = (size_t)(eq - dot - 1);
    if (plen >= sizeof out->path || strlen(eq + 1) >= sizeof out->value)
        return util_fail(UTIL_ECONFIG, err, errlen, "--set %s: key or value too long", arg);
    memcpy(out->file, arg, flen);
    memcpy(out->path, dot + 1, plen);
    snprintf(out->value, sizeof out->value, "%s", eq + 1);
    return UTIL_OK;
}

/* Copies a scalar or a flat list from the scratch config into dst (already typed). */
static bool copy_value(config_setting_t *dst, const config_setting_t *src)
{
    switch (config_setting_type(src)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return config_setting_set_int64(dst, config_setting_get_int64(src)) == CONFIG_TRUE;
    case CONFIG_TYPE_FLOAT:
        return config_setting_set_float(dst, config_setting_get_float(src)) == CONFIG_TRUE;
    case CONFIG_TYPE_STRING:
        return config_setting_set_string(dst, config_setting_get_string(src)) == CONFIG_TRUE;
    case CONFIG_TYPE_BOOL:
        return config_setting_set_bool(dst, config_setting_get_bool(src)) == CONFIG_TRUE;
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST:
        for (int i = 0; i < config_setting_length(src); i++) {
            const config_setting_t *e = config_setting_get_elem(src, (unsigned)i);
            config_setting_t *d = config_setting_add(dst, NULL, config_setting_type(e));
            if (!d || config_setting_type(e) == CONFIG_TYPE_GROUP || !copy_value(d, e))
                return false;
        }
        return true;
    default:
        return false;
    }
}

static int apply_override(ctx *c, config_t *cfg, const key_def *schema, const cfg_override *o)
{
    char seg[128];
    const char *p = o->path;
    config_setting_t *g = config_root_setting(cfg);
    const key_def *keys = schema;
    char sofar[160] = "";
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || len >= sizeof seg)
            return util_fail(UTIL_ECONFIG, c->err, c->errlen, "--set %s: empty or long key name",
                             o->arg);
        memcpy(seg, p, len);
        seg[len] = '\0';
        const key_def *k = keys;
        while (k->name && strcmp(k->name, seg) != 0)
            k++;
        size_t used = strlen(sofar);
        snprintf(sofar + used, sizeof sofar - used, "%s%s", used ? "." : "", seg);
        if (!k->name) {
            const char *near = closest_key(seg, keys);
            char other[160];
            if (near) {
                /* The suggestion keeps the groups already matched. */
                return util_fail(UTIL_ECONFIG, c->err, c->errlen,
                                 "--set %s: unknown key '%s.%s'; did you mean '%s.%.*s%s'?", o->arg,
                                 c->prefix, sofar, c->prefix, (int)(p - o->path), o->path, near);
            }
            if (find_elsewhere(schema, seg, "", other, sizeof other))
                return util_fail(UTIL_ECONFIG, c->err, c->errlen,
                                 "--set %s: unknown key '%s.%s'; did you mean '%s.%s'?", o->arg,
                                 c->prefix, sofar, c->prefix, other);
            return util_fail(UTIL_ECONFIG, c->err, c->errlen,
                             "--set %s: unknown key '%s.%s' (see bflysim --list-keys)", o->arg,
                             c->prefix, sofar);
        }
        config_setting_t *m = config_setting_get_member(g, seg);
        if (k->type == K_GROUP_LIST) {
            /* blocks.INDEX.key: the index must name an existing element */
            const char *ip = dot ? dot + 1 : NULL;
            char *end = NULL;
            long idx = ip ? strtol(ip, &end, 10) : -1;
            int n_elems = m ? config_setting_length(m) : 0;
            if (!ip || end == ip || *end != '.' || idx < 0 || idx >= n_elems)
                return util_fail(UTIL_ECONFIG, c->err, c->errlen,
                                 "--set %s: '%s.%s' is a list of %d groups; set "
                                 "'%s.%s.INDEX.KEY' with INDEX 0..%d",
                                 o->arg, c->prefix, sofar, n_elems, c->prefix, sofar, n_elems - 1);
            g = config_setting_get_elem(m, (unsigned)idx);
            if (config_setting_type(g) != CONFIG_TYPE_GROUP)
                return type_error(c, g, k);
            size_t used2 = strlen(sofar);
            snprintf(sofar + used2, sizeof sofar - used2, ".%ld", idx);
            keys = k->children;
            p = end + 1;
            continue;
        }
        if (k->type == K_GROUP) {
            if (!dot)
                return util_fail(UTIL_ECONFIG, c->err, c->errlen,
                                 "--set %s: '%s.%s' is a group; set one of its keys", o->arg,
                                 c->prefix, sofar);
            if (m && config_setting_type(m) != CONFIG_TYPE_GROUP)
                return type_error(c, m, k);
            if (!m && !(m = config_setting_add(g, seg, CONFIG_TYPE_GROUP)))
                return util_fail(UTIL_ERUN, c->err, c->errlen, "out of memory");
            g = m;
            keys = k->children;
            p = dot + 1;
            continue;
        }
        if (dot)
            return util_fail(UTIL_ECONFIG, c->err, c->errlen, "--set %s: '%s.%s' is not a group",
                             o->arg, c->prefix, sofar);
        /* Leaf: parse the value, falling back to a bare string for string-like keys. */
        char origin[280], *wide;
        snprintf(origin, sizeof origin, "--set %s", o->arg);
        int rc =
            cfg_widen(origin, false, o->value, strlen(o->value), &wide, NULL, c->err, c->errlen);
        if (rc)
            return rc;
        config_t tmp;
        bool parsed = parse_literal(&tmp, wide) == CONFIG_TRUE;
        free(wide);
        if (!parsed && (k->type == K_STR || k->type == K_ENUM)) {
            config_destroy(&tmp);
            char quoted[160];
            bool plain = strpbrk(o->value, "\"\\") == NULL;
            snprintf(quoted, sizeof quoted, "\"%s\"", o->value);
            parsed = plain && parse_literal(&tmp, quoted) == CONFIG_TRUE;
        }
        if (!parsed) {
            config_destroy(&tmp);
            char want[160];
            describe_key(k, want, sizeof want);
            return util_fail(UTIL_ECONFIG, c->err, c->errlen,
                             "--set %s: cannot parse the value '%s' (expected %s)", o->arg,
                             o->value, want);
        }
        const config_setting_t *v = config_setting_get_elem(config_root_setting(&tmp), 0);
        if (m)
            config_setting_remove(g, seg);
        int type = config_setting_type(v);
        config_setting_t *d = config_setting_add(g, seg, type);
        bool ok = d && copy_value(d, v);
        config_destroy(&tmp);
        if (!ok)
            return util_fail(UTIL_ECONFIG, c->err, c->errlen, "--set %s: unsupported value '%s'",
                             o->arg, o->value);
        if (c->n_tracked < MAX_TRACKED) {
            c->ov_setting[c->n_tracked] = d;
            c->ov_arg[c->n_tracked] = o;
            c->n_tracked++;
        }
        return UTIL_OK;
    }
}

/* ---------------------------------------------------------------- files */

static int read_file(ctx *c, config_t *cfg)
{
    int rc = cfg_source_read(&c->src, c->file, c->err, c->errlen);
    if (rc)
        return rc;
    if (config_read_string(cfg, c->src.text) != CONFIG_TRUE) {
        const char *f;
        unsigned line;
        cfg_source_where(&c->src, (unsigned)config_error_line(cfg), &f, &line);
        return util_fail(UTIL_ECONFIG, c->err, c->errlen, "%s:%u: malformed file: %s", f, line,
                         config_error_text(cfg));
    }
    return UTIL_OK;
}

/* Workload files: the schema follows the kind, the file's or the one --set gives. */
static const key_def *workload_schema(const config_t *cfg, const cfg_override *ov, size_t n_ov)
{
    const char *kind = NULL;
    char k[32] = "";
    if (config_lookup_string(cfg, "kind", &kind) == CONFIG_TRUE)
        snprintf(k, sizeof k, "%s", kind);
    for (size_t i = 0; i < n_ov; i++)
        if (strcmp(ov[i].file, "workload") == 0 && strcmp(ov[i].path, "kind") == 0)
            snprintf(k, sizeof k, "%s", ov[i].value + (ov[i].value[0] == '"'));
    return !strncmp(k, "model", 5)  ? cfg_model_keys
           : !strncmp(k, "gemm", 4) ? cfg_gemm_keys
                                    : cfg_wl_keys;
}

static int load(ctx *c, config_t *cfg, const key_def *schema, const cfg_override *ov, size_t n_ov,
                void *base)
{
    int rc = read_file(c, cfg);
    if (!rc && schema == cfg_wl_keys)
        schema = workload_schema(cfg, ov, n_ov);
    for (size_t i = 0; !rc && i < n_ov; i++)
        if (strcmp(ov[i].file, c->prefix) == 0)
            rc = apply_override(c, cfg, schema, &ov[i]);
    if (!rc)
        rc = validate_group(c, config_root_setting(cfg), schema, base);
    return rc;
}

/* Location of a key for cross-key checks. */
static const config_setting_t *at(const config_t *cfg, const char *path)
{
    const config_setting_t *s = config_lookup(cfg, path);
    return s ? s : config_root_setting(cfg);
}

/* The energy table an arch file names (energy.table): looked up next to the arch file,
 * then in the shipped presets' directories (the source tree's and the installed arch/),
 * so that a preset copied elsewhere still finds its table. Every price and leakage is
 * read with the table's own FILE:LINE; then the arch file's energy group (its overrides
 * and --set) is stored again on top. */
/* An energy table named relative to an arch file, looked up among the shipped arch/. */
static bool find_shipped_table(const char *name, char *path, size_t len, char *tried,
                               size_t tried_len)
{
    char rel[ARCH_PATH_MAX + 8];
    snprintf(rel, sizeof rel, "arch/%s", name);
    return cfg_find_data(rel, path, len, tried, tried_len);
}

static int load_energy_table(ctx *c, config_t *cfg, arch_desc *a)
{
    config_setting_t *t = config_lookup(cfg, "energy.table");
    const char *name = t ? config_setting_get_string(t) : NULL;
    if (!name)
        return UTIL_OK;
    char path[2 * ARCH_PATH_MAX], tried[4 * ARCH_PATH_MAX] = "";
    struct stat st;
    cfg_path_beside(c->file, name, strlen(name), path, sizeof path); /* fits: 2 x the max */
    snprintf(tried, sizeof tried, "%s", path);
    bool found =
        stat(path, &st) == 0 ||
        (name[0] != '/' && find_shipped_table(name, path, sizeof path, tried, sizeof tried));
    if (!found)
        return fail_at(c, t,
                       "energy.table = \"%s\": cannot read it (tried %s); the tables "
                       "shipped are arch/energy/NODE.cfg",
                       name, tried);
    ctx tc = {.file = path, .prefix = "arch", .err = c->err, .errlen = c->errlen};
    config_t tcfg;
    config_init(&tcfg);
    int rc = load(&tc, &tcfg, cfg_energy_file_keys, NULL, 0, a);
    /* (a table without an area group, as tables written before it, prices no area; one
     * with it gives every figure) */
    const config_setting_t *ag = rc ? NULL : config_lookup(&tcfg, "area");
    bool has_area = ag && config_setting_length(ag) > 0;
    for (const key_def *k = cfg_area_keys; has_area && !rc && k->name; k++)
        if (!config_setting_get_member(ag, k->name))
            rc = fail_at(&tc, ag,
                         "missing required key 'area.%s' (an area group gives every figure)",
                         k->name);
    config_destroy(&tcfg);
    cfg_source_free(&tc.src);
    if (!rc && a->energy.table_nm && a->energy.table_nm != a->tech_nm)
        rc = fail_at(c, at(cfg, "tech_nm"),
                     "tech_nm = %u, but energy.table = \"%s\" prices %u nm (its tech_nm); name "
                     "the table of this node (the shipped ones are energy/NODEnm.cfg) or change "
                     "tech_nm",
                     a->tech_nm, name, a->energy.table_nm);
    if (!rc)
        rc = validate_group(c, config_lookup(cfg, "energy"), cfg_energy_keys, a);
    if (!rc)
        rc = validate_group(c, config_lookup(cfg, "area"), cfg_area_keys, a);
    a->energy.present = rc == UTIL_OK;
    a->area.present = rc == UTIL_OK && has_area;
    return rc;
}

static void default_name(char *name, size_t len, const char *file)
{
    if (name[0])
        return;
    snprintf(name, len, "%s", base_name(file));
    char *ext = strrchr(name, '.');
    if (ext && ext != name)
        *ext = '\0';
}

static int arch_cross_checks(const ctx *c, const config_t *cfg, const arch_desc *a)
{
    for (int k = 0; k < ARCH_FU_COUNT; k++) {
        if (a->pe.fu[k].lanes_per_cycle > a->pe.lanes) {
            char path[64];
            snprintf(path, sizeof path, "pe.fu.%s.lanes_per_cycle", arch_fu_name((arch_fu_kind)k));
            return fail_at(c, at(cfg, path), "%s = %u exceeds pe.lanes = %u (allowed 1..%u)", path,
                           a->pe.fu[k].lanes_per_cycle, a->pe.lanes, a->pe.lanes);
        }
    }
    if (a->noc.link_bits % 8)
        return fail_at(c, at(cfg, "noc.link_bits"), "noc.link_bits = %u must be a multiple of 8",
                       a->noc.link_bits);
    uint32_t span = a->array.rows > a->array.cols ? a->array.rows : a->array.cols;
    for (uint32_t i = 0; i < a->noc.n_skip; i++) {
        char path[32];
        snprintf(path, sizeof path, "noc.skip.[%u]", i);
        const config_setting_t *s = config_lookup(cfg, "noc.skip");
        if (s && config_setting_get_elem(s, i))
            s = config_setting_get_elem(s, i);
        if (a->noc.skip[i] >= span)
            return fail_at(c, s ? s : at(cfg, "noc"),
                           "noc.skip[%u] = %u spans the whole mesh (allowed 2..%u for a %ux%u "
                           "array)",
                           i, a->noc.skip[i], span - 1, a->array.rows, a->array.cols);
        for (uint32_t j = 0; j < i; j++)
            if (a->noc.skip[j] == a->noc.skip[i])
                return fail_at(c, s ? s : at(cfg, "noc"), "noc.skip[%u] = %u repeats noc.skip[%u]",
                               i, a->noc.skip[i], j);
    }
    if (!(a->pe.dtypes & (1u << UTIL_FP16)))
        return fail_at(c, at(cfg, "pe.dtypes"), "pe.dtypes must include \"fp16\"");
    if (arch_spm_bytes(a) > (UINT64_C(1) << 32))
        return fail_at(c, at(cfg, "spm.bank_kb"),
                       "spm.banks x spm.bank_kb = %llu KiB overflows the 4 GiB address space",
                       (unsigned long long)(arch_spm_bytes(a) >> 10));
    if (a->spm.width_bytes > a->spm.bank_bytes)
        return fail_at(c, at(cfg, "spm.width_bytes"), "spm.width_bytes = %u exceeds the bank size",
                       a->spm.width_bytes);
    return UTIL_OK;
}

/* Loads one description of `size` bytes from file: zeroed, read and validated against
 * schema with the overrides of prefix, then post (the file's cross checks, given
 * post_ctx); its name, where it has one, defaults to the file's. */
typedef int (*post_fn)(ctx *c, config_t *cfg, void *out, const void *post_ctx);
static int load_desc(const char *file, const char *prefix, const key_def *schema,
                     const cfg_override *ov, size_t n_ov, void *out, size_t size, char *name,
                     size_t name_len, post_fn post, const void *post_ctx, char *err, size_t errlen)
{
    memset(out, 0, size);
    ctx c = {.file = file, .prefix = prefix, .err = err, .errlen = errlen};
    config_t cfg;
    config_init(&cfg);
    int rc = load(&c, &cfg, schema, ov, n_ov, out);
    if (!rc && post)
        rc = post(&c, &cfg, out, post_ctx);
    config_destroy(&cfg);
    cfg_source_free(&c.src);
    if (name)
        default_name(name, name_len, file);
    return rc;
}

static int arch_post(ctx *c, config_t *cfg, void *out, const void *unused)
{
    (void)unused;
    int rc = load_energy_table(c, cfg, out);
    return rc ? rc : arch_cross_checks(c, cfg, out);
}

int cfg_load_arch(const char *file, const cfg_override *ov, size_t n_ov, arch_desc *out, char *err,
                  size_t errlen)
{
    return load_desc(file, "arch", cfg_arch_keys, ov, n_ov, out, sizeof *out, out->name,
                     sizeof out->name, arch_post, NULL, err, errlen);
}

/* Location of key `name` of block entry b. */
static const config_setting_t *block_at(const config_t *cfg, uint32_t b, const char *name)
{
    const config_setting_t *l = config_lookup(cfg, "blocks");
    const config_setting_t *e = l ? config_setting_get_elem(l, b) : NULL;
    const config_setting_t *k = e ? config_setting_get_member(e, name) : NULL;
    return k ? k : e ? e : at(cfg, "blocks");
}

/* A prefill (seq_len) or a decode step (new_tokens, kv_len): the step's tokens become
 * seq_len, the tokens the blocks run. */
static int model_step(const ctx *c, const config_t *cfg, wl_desc *w)
{
    if (w->new_tokens && w->seq_len)
        return fail_at(c, at(cfg, "new_tokens"),
                       "new_tokens = %llu and seq_len = %llu: give seq_len (a whole sequence) "
                       "or new_tokens with kv_len (a decode step), not both",
                       (unsigned long long)w->new_tokens, (unsigned long long)w->seq_len);
    if (!w->new_tokens && !w->seq_len)
        return fail_at(c, config_root_setting(cfg),
                       "seq_len is required (or new_tokens and kv_len for a decode step)");
    if (w->kv_len && !w->new_tokens)
        return fail_at(c, at(cfg, "kv_len"),
                       "kv_len = %llu needs new_tokens (the tokens the decode step runs against "
                       "the cache); a whole sequence has no cache",
                       (unsigned long long)w->kv_len);
    if (!w->new_tokens)
        return UTIL_OK;
    w->seq_len = w->new_tokens;
    if (w->kv_len && w->batch > 1)
        return fail_at(c, at(cfg, "batch"),
                       "batch = %llu: a decode step runs one sequence against its cache "
                       "(allowed: 1)",
                       (unsigned long long)w->batch);
    for (uint32_t b = 0; b < w->n_blocks; b++)
        if (w->blocks[b].mixer != WL_MIX_ATTENTION)
            return fail_at(c, block_at(cfg, b, "mixer"),
                           "blocks[%u].mixer = \"%s\" cannot run a decode step: it mixes the "
                           "whole sequence at once (allowed: \"attention\", which keeps a K/V "
                           "cache)",
                           b, wl_mixer_name(w->blocks[b].mixer));
    return UTIL_OK;
}

static int model_cross_checks(const ctx *c, const config_t *cfg, wl_desc *w)
{
    int rc = model_step(c, cfg, w);
    if (rc)
        return rc;
    if (w->hidden % w->heads)
        return fail_at(c, at(cfg, "heads"),
                       "heads = %llu does not divide hidden = %llu (allowed: a divisor of hidden)",
                       (unsigned long long)w->heads, (unsigned long long)w->hidden);
    uint64_t scores, acts;
    if (wl_has_attention(w) &&
        (!util_mul_u64(w->batch * w->heads, w->seq_len * wl_keys(w), &scores) ||
         scores > CFG_MAX_ELEMS))
        return fail_at(c, at(cfg, w->new_tokens ? "kv_len" : "seq_len"),
                       "batch x heads x queries x keys = %llu x %llu x %llu x %llu attention "
                       "scores exceed the maximum 2^40 elements",
                       (unsigned long long)w->batch, (unsigned long long)w->heads,
                       (unsigned long long)w->seq_len, (unsigned long long)wl_keys(w));
    if (!util_mul_u64(w->batch * w->seq_len, wl_pow2_ceil(w->ffn > w->hidden ? w->ffn : w->hidden),
                      &acts) ||
        acts > CFG_MAX_ELEMS)
        return fail_at(c, at(cfg, "seq_len"),
                       "batch x seq_len x max(ffn, hidden) = %llu x %llu x %llu activations "
                       "exceed the maximum 2^40 elements",
                       (unsigned long long)w->batch, (unsigned long long)w->seq_len,
                       (unsigned long long)(w->ffn > w->hidden ? w->ffn : w->hidden));
    uint64_t n_hidden = wl_pow2_ceil(w->hidden);
    for (uint32_t b = 0; b < w->n_blocks; b++) {
        const wl_block *bl = &w->blocks[b];
        if (bl->mixer == WL_MIX_ATTENTION && bl->proj == WL_LIN_NONE)
            return fail_at(c, block_at(cfg, b, "proj"),
                           "blocks[%u].proj = \"none\" is not allowed with mixer = \"attention\" "
                           "(Q, K and V need projections: dense, butterfly or block-butterfly)",
                           b);
        if (bl->mixer != WL_MIX_ATTENTION && w->seq_len < 2)
            return fail_at(c, at(cfg, "seq_len"),
                           "seq_len = 1 leaves nothing to mix for blocks[%u].mixer = \"%s\" "
                           "(a butterfly or FFT needs at least 2 tokens)",
                           b, wl_mixer_name(bl->mixer));
        bool bf = bl->proj == WL_LIN_BUTTERFLY || bl->proj == WL_LIN_BLOCK_BUTTERFLY ||
                  bl->ffn != WL_LIN_DENSE || bl->mixer == WL_MIX_FFT ||
                  bl->mixer == WL_MIX_FFT_COMPRESS;
        if (bf && w->hidden < 2)
            return fail_at(c, at(cfg, "hidden"),
                           "hidden = 1 is too narrow for the butterfly or Fourier layers of "
                           "blocks[%u] (allowed 2..65536)",
                           b);
        bool bb = bl->proj == WL_LIN_BLOCK_BUTTERFLY || bl->ffn == WL_LIN_BLOCK_BUTTERFLY;
        /* the smallest block butterfly is the hidden x hidden one, padded to n_hidden */
        if (bb && 2 * bl->block_size > n_hidden)
            return fail_at(c, block_at(cfg, b, "block_size"),
                           "blocks[%u].block_size = %llu leaves no butterfly stage for hidden = "
                           "%llu (padded to %llu; allowed 1..%llu)",
                           b, (unsigned long long)bl->block_size, (unsigned long long)w->hidden,
                           (unsigned long long)n_hidden, (unsigned long long)n_hidden / 2);
        if (bl->mixer == WL_MIX_FFT_COMPRESS) {
            uint64_t ns = wl_pow2_ceil(w->seq_len);
            if (bl->chunk > ns)
                return fail_at(c, block_at(cfg, b, "chunk"),
                               "blocks[%u].chunk = %llu exceeds seq_len = %llu padded to %llu "
                               "(allowed 2..%llu)",
                               b, (unsigned long long)bl->chunk, (unsigned long long)w->seq_len,
                               (unsigned long long)ns, (unsigned long long)ns);
        }
    }
    return UTIL_OK;
}

/* The arch a workload runs on, for the data-type check (arch NULL: none). */
typedef struct wl_target {
    const arch_desc *arch;
    const char *arch_file;
} wl_target;

static int workload_post(ctx *c, config_t *cfg, void *desc, const void *target)
{
    wl_desc *out = desc;
    const wl_target *t = target;
    int rc = UTIL_OK;
    if (out->kind == WL_KIND_MODEL)
        rc = model_cross_checks(c, cfg, out);
    else if (out->kind == WL_KIND_GEMM) {
        const config_setting_t *list = config_lookup(cfg, "gemms");
        for (uint32_t i = 0; i < out->n_gemms && !rc; i++) { /* (unnamed: g0, g1 ...) */
            if (!out->gemms[i].name[0])
                snprintf(out->gemms[i].name, sizeof out->gemms[i].name, "g%u", i);
            if (!cfg_gemm_fits(&out->gemms[i]))
                rc = fail_at(c, list ? config_setting_get_elem(list, i) : config_root_setting(cfg),
                             "gemms.[%u]: m x n x k x count exceeds 2^58 multiply-accumulates", i);
        }
    } else if (out->n == 0 || out->rows == 0)
        rc = fail_at(c, config_root_setting(cfg),
                     "kind = \"%s\" needs n and rows (kind = \"model\" describes a model)",
                     wl_kind_name(out->kind));
    uint64_t elems;
    if (!rc && out->kind != WL_KIND_GEMM &&
        (!util_mul_u64(out->rows, out->n, &elems) || elems > CFG_MAX_ELEMS))
        rc = fail_at(c, at(cfg, "rows"), "rows x n = %llu x %llu elements exceeds the maximum 2^40",
                     (unsigned long long)out->rows, (unsigned long long)out->n);
    if (!rc && t->arch && !(t->arch->pe.dtypes & (1u << out->dtype)))
        rc = fail_at(c, at(cfg, "dtype"),
                     "dtype = \"%s\" is not supported by arch %s (see pe.dtypes in %s)",
                     util_dtype_name(out->dtype), t->arch->name, t->arch_file);
    return rc;
}

/* Loads a workload; with an arch in t, also checks that the PEs support its data type. */
static int load_workload(const char *file, const cfg_override *ov, size_t n_ov, const wl_target *t,
                         wl_desc *out, char *err, size_t errlen)
{
    size_t len = strlen(file);
    if (len > 4 && !strcmp(file + len - 4, ".csv")) {
        for (size_t i = 0; i < n_ov; i++)
            if (!strcmp(ov[i].file, "workload"))
                return util_fail(UTIL_ECONFIG, err, errlen,
                                 "--set %s: a topology CSV (%s) has no keys to set", ov[i].arg,
                                 file);
        (void)t;
        return cfg_load_topology(file, out, err, errlen);
    }
    return load_desc(file, "workload", cfg_wl_keys, ov, n_ov, out, sizeof *out, out->name,
                     sizeof out->name, workload_post, t, err, errlen);
}

int cfg_load_workload(const char *file, const cfg_override *ov, size_t n_ov, wl_desc *out,
                      char *err, size_t errlen)
{
    return load_workload(file, ov, n_ov, &(wl_target){NULL, NULL}, out, err, errlen);
}

int cfg_load(const char *arch_file, const char *wl_file, const cfg_override *ov, size_t n_ov,
             arch_desc *arch, wl_desc *wl, char *err, size_t errlen)
{
    int rc = cfg_load_arch(arch_file, ov, n_ov, arch, err, errlen);
    if (!rc)
        rc = load_workload(wl_file, ov, n_ov, &(wl_target){arch, arch_file}, wl, err, errlen);
    return rc;
}

/* Records where each mapping entry is, for the mapper's messages. */
static int mapping_post(ctx *c, config_t *cfg, void *desc, const void *unused)
{
    (void)unused;
    map_forced *out = desc;
    const config_setting_t *l = config_lookup(cfg, "mapping");
    for (uint32_t i = 0; l && i < out->n; i++)
        where(c, config_setting_get_elem(l, i), out->f[i].where, sizeof out->f[i].where);
    return UTIL_OK;
}

int cfg_load_mapping(const char *file, map_forced *out, char *err, size_t errlen)
{
    return load_desc(file, "mapping", cfg_mapping_keys, NULL, 0, out, sizeof *out, NULL, 0,
                     mapping_post, NULL, err, errlen);
}

static int gpu_post(ctx *c, config_t *cfg, void *out, const void *unused)
{
    (void)unused;
    const gpu_desc *g = out;
    if (g->tensor_fp16_gflops < g->cuda_fp16_gflops)
        return fail_at(c, at(cfg, "peak.tensor_fp16_gflops"),
                       "peak.tensor_fp16_gflops = %g is below peak.cuda_fp16_gflops = %g "
                       "(allowed >= %g; a GPU without tensor cores gives its CUDA-core peak)",
                       g->tensor_fp16_gflops, g->cuda_fp16_gflops, g->cuda_fp16_gflops);
    if (g->power.budget_w < g->power.idle_w)
        return fail_at(c, at(cfg, "power.budget_w"),
                       "power.budget_w = %g is below power.idle_w = %g (allowed >= %g)",
                       g->power.budget_w, g->power.idle_w, g->power.idle_w);
    return gpu_check(g, c->err, c->errlen); /* what the schema cannot see, if anything */
}

int cfg_load_gpu(const char *file, const cfg_override *ov, size_t n_ov, gpu_desc *out, char *err,
                 size_t errlen)
{
    return load_desc(file, "gpu", cfg_gpu_keys, ov, n_ov, out, sizeof *out, out->name,
                     sizeof out->name, gpu_post, NULL, err, errlen);
}

/* A system's device (or GPU) relative to the system file when it names a file (a '/' or
 * ".cfg"); a preset name stays as it is, for cfg_preset_path. */
static int relative_to_file(const ctx *c, const config_t *cfg, const char *key, char *name,
                            size_t len)
{
    if (!strchr(name, '/') && !strstr(name, ".cfg"))
        return UTIL_OK;
    char rel[ARCH_PATH_MAX];
    snprintf(rel, sizeof rel, "%s", name);
    if (!cfg_path_beside(c->file, rel, strlen(rel), name, len))
        return fail_at(c, at(cfg, key), "%s = \"%s\": the path is too long", key, rel);
    return UTIL_OK;
}

/* A system key naming a preset or a file, replaced by the file (errors at its line). */
static int resolve_preset(const ctx *c, const config_t *cfg, const char *key, cfg_preset_kind kind,
                          char *name, size_t len)
{
    char path[ARCH_PATH_MAX], msg[2048];
    if (cfg_preset_path(kind, name, path, sizeof path, msg, sizeof msg))
        return fail_at(c, at(cfg, key), "%s = \"%s\": %s", key, name, msg);
    snprintf(name, len, "%s", path);
    return UTIL_OK;
}

static int system_post(ctx *c, config_t *cfg, void *out, const void *unused)
{
    (void)unused;
    sys_desc *d = out;
    if (d->gpu[0] && d->partition != SYS_PART_HEADS)
        return fail_at(c, at(cfg, "gpu"),
                       "gpu = \"%s\": a GPU beside the arrays takes part only with partition = "
                       "\"heads\" (found \"%s\")",
                       d->gpu, sys_partition_name(d->partition));
    if (!d->devices && (d->partition != SYS_PART_HEADS || !d->gpu[0]))
        return fail_at(c, at(cfg, "devices"),
                       "devices = 0: a system without arrays needs partition = \"heads\" and a "
                       "gpu (allowed here: 1..%d)",
                       SYS_MAX_DEVICES);
    if (d->cpu_cores && !d->gpu[0])
        return fail_at(c, at(cfg, "cpu_cores"),
                       "cpu_cores = %u: the CPU cluster is the GPU's SoC's; it joins only "
                       "beside a gpu (heads partition)",
                       d->cpu_cores);
    bool cascade = d->partition == SYS_PART_CASCADE;
    if (!cascade && (d->comp_nodes || d->attn_groups))
        return fail_at(c, at(cfg, d->comp_nodes ? "comp_nodes" : "attn_groups"),
                       "%s = %u is for partition = \"cascade\" (found \"%s\")",
                       d->comp_nodes ? "comp_nodes" : "attn_groups",
                       d->comp_nodes ? d->comp_nodes : d->attn_groups,
                       sys_partition_name(d->partition));
    if (cascade && (!d->comp_nodes || !d->attn_groups))
        return fail_at(c, at(cfg, "partition"),
                       "partition = \"cascade\" needs comp_nodes (CompNodes, 1 or more) and "
                       "attn_groups (token groups: attn_groups^2 AttnNodes, 1 or more)");
    if (cascade && d->devices != d->comp_nodes + d->attn_groups * d->attn_groups)
        return fail_at(c, at(cfg, "devices"),
                       "devices = %u: the cascade partition has comp_nodes + attn_groups^2 = "
                       "%u + %u = %u devices",
                       d->devices, d->comp_nodes, d->attn_groups * d->attn_groups,
                       d->comp_nodes + d->attn_groups * d->attn_groups);
    if (d->partition == SYS_PART_HEADS && sys_device_count(d) > SYS_HEAD_DEVICES)
        return fail_at(c, at(cfg, "devices"),
                       "devices = %u: the heads partition splits over at most %d devices (the "
                       "arrays, the GPU and its CPU cluster)",
                       d->devices, SYS_HEAD_DEVICES);
    int rc = relative_to_file(c, cfg, "device", d->device, sizeof d->device);
    if (!rc)
        rc = relative_to_file(c, cfg, "gpu", d->gpu, sizeof d->gpu);
    /* preset names become their files; one that names nothing is this file's error */
    if (!rc)
        rc = resolve_preset(c, cfg, "device", CFG_PRESET_ARCH, d->device, sizeof d->device);
    if (!rc && d->gpu[0])
        rc = resolve_preset(c, cfg, "gpu", CFG_PRESET_GPU, d->gpu, sizeof d->gpu);
    return rc;
}

int cfg_load_system(const char *file, const cfg_override *ov, size_t n_ov, sys_desc *out, char *err,
                    size_t errlen)
{
    return load_desc(file, "system", cfg_system_keys, ov, n_ov, out, sizeof *out, out->name,
                     sizeof out->name, system_post, NULL, err, errlen);
}

/* A peer's model-specific group: present exactly when its model is. */
static int peer_post(ctx *c, config_t *cfg, void *out, const void *unused)
{
    (void)unused;
    const peer_desc *p = out;
    static const char *const groups[] = {"butterfly", "sparse"};
    static const peer_kind models[] = {PEER_BUTTERFLY, PEER_SPARSE};
    for (int i = 0; i < 2; i++) {
        /* (the loader makes every group; a group was given when it holds a setting) */
        const config_setting_t *g = config_lookup(cfg, groups[i]);
        bool has = g && config_setting_length(g) > 0;
        if (has && p->model != models[i]) /* (at its first key: a --set names its own) */
            return fail_at(c, config_setting_get_elem(g, 0),
                           "%s: a group of model \"%s\" only (this is \"%s\")", groups[i],
                           peer_kind_name(models[i]), peer_kind_name(p->model));
        if (!has && p->model == models[i])
            return fail_at(c, at(cfg, "model"), "model \"%s\" needs its %s group (docs/PEERS.md)",
                           peer_kind_name(p->model), groups[i]);
    }
    /* (the groups' keys are required where their model is) */
    static const char *const keys[] = {
        "butterfly.engines",   "butterfly.units",        "sparse.density",   "sparse.threshold",
        "sparse.predict_bits", "sparse.pack_efficiency", "sparse.index_bits"};
    for (int i = 0; i < 7; i++)
        if (p->model == (i < 2 ? PEER_BUTTERFLY : PEER_SPARSE) && !config_lookup(cfg, keys[i]))
            return fail_at(c, at(cfg, i < 2 ? "butterfly" : "sparse"),
                           "missing required key '%s' (model \"%s\")", keys[i],
                           peer_kind_name(p->model));
    uint64_t mults = (uint64_t)p->butterfly.engines * p->butterfly.units * 4;
    if (p->model == PEER_BUTTERFLY && mults != peer_macs_per_cycle(p))
        return fail_at(c, at(cfg, "butterfly.engines"),
                       "butterfly.engines x butterfly.units x 4 = %llu multipliers, but the "
                       "array has %u x %u (allowed: the same multipliers)",
                       (unsigned long long)mults, p->array.rows, p->array.cols);
    return UTIL_OK;
}

int cfg_load_peer(const char *file, const cfg_override *ov, size_t n_ov, peer_desc *out, char *err,
                  size_t errlen)
{
    return load_desc(file, "arch", cfg_peer_keys, ov, n_ov, out, sizeof *out, out->name,
                     sizeof out->name, peer_post, NULL, err, errlen);
}

/* Whether a file's top-level kind is `kind`. */
static bool file_kind_is(const char *file, const char *kind)
{
    cfg_source src;
    char err[64];
    bool is = false;
    config_t cfg;
    config_init(&cfg);
    const char *k;
    if (!cfg_source_read(&src, file, err, sizeof err) &&
        config_read_string(&cfg, src.text) == CONFIG_TRUE &&
        config_lookup_string(&cfg, "kind", &k) == CONFIG_TRUE)
        is = strcmp(k, kind) == 0;
    config_destroy(&cfg);
    cfg_source_free(&src);
    return is;
}

bool cfg_is_system(const char *file)
{
    return file_kind_is(file, "system");
}

bool cfg_is_peer(const char *file)
{
    return file_kind_is(file, "peer");
}

/* ---------------------------------------------------------------- listing */

static void print_keys(FILE *f, const key_def *keys, const char *prefix)
{
    for (const key_def *k = keys; k->name; k++) {
        char path[160], want[200];
        snprintf(path, sizeof path, "%s.%s", prefix, k->name);
        if (k->type == K_GROUP || k->type == K_GROUP_LIST) {
            if (k->type == K_GROUP_LIST) {
                describe_key(k, want, sizeof want);
                fprintf(f, "  %-34s %s; %s; required\n", path, k->doc, want);
                snprintf(path + strlen(path), sizeof path - strlen(path), ".INDEX");
            }
            print_keys(f, k->children, path);
            continue;
        }
        describe_key(k, want, sizeof want);
        fprintf(f, "  %-34s %s; %s", path, k->doc, want);
        if (k->flags & F_REQ)
            fprintf(f, "; required\n");
        else if (k->def)
            fprintf(f, "; default %s\n", k->def);
        else
            fprintf(f, "\n");
    }
}

void cfg_print_keys(FILE *f)
{
    fprintf(f, "Keys of ARCH.cfg files (use --set arch.KEY=VALUE to override):\n");
    print_keys(f, cfg_arch_keys, "arch");
    fprintf(f, "\nKeys of WORKLOAD.cfg files of kind \"butterfly-linear\" (use --set "
               "workload.KEY=VALUE to override):\n");
    print_keys(f, cfg_wl_keys, "workload");
    fprintf(f, "\nKeys of WORKLOAD.cfg files of kind \"model\" (--set "
               "workload.blocks.INDEX.KEY=VALUE sets a key of one block entry):\n");
    print_keys(f, cfg_model_keys, "workload");
    fprintf(f, "\nKeys of WORKLOAD.cfg files of kind \"gemm\" (or a SCALE-Sim topology FILE.csv; "
               "docs/PEERS.md):\n");
    print_keys(f, cfg_gemm_keys, "workload");
    fprintf(f, "\nKeys of GPU baseline presets (arch/gpu/*.cfg; use --set gpu.KEY=VALUE to "
               "override):\n");
    print_keys(f, cfg_gpu_keys, "gpu");
    fprintf(f, "\nKeys of system files (arch/systems/*.cfg, run as bflysim SYSTEM WORKLOAD; use "
               "--set system.KEY=VALUE to override):\n");
    print_keys(f, cfg_system_keys, "system");
    fprintf(f, "\nKeys of peer accelerator presets (arch/peers/*.cfg, run as bflysim PEER "
               "WORKLOAD; use --set arch.KEY=VALUE to override; docs/PEERS.md):\n");
    print_keys(f, cfg_peer_keys, "arch");
}
