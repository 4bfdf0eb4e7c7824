/* sweep.c: design-space sweep specs (docs/SWEEPS.md): validated, expanded into points. */
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "internal.h"

typedef struct sw_ctx {
    const char *file;
    cfg_source src;
    char *err;
    size_t errlen;
} sw_ctx;

static int sw_fail(const sw_ctx *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int sw_fail(const sw_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *f = c->file;
    unsigned line = s ? (unsigned)config_setting_source_line(s) : 0;
    if (line)
        cfg_source_where(&c->src, line, &f, &line);
    if (line)
        return util_fail(UTIL_ECONFIG, c->err, c->errlen, "%s:%u: %s", f, line, msg);
    return util_fail(UTIL_ECONFIG, c->err, c->errlen, "%s: %s", f, msg);
}

/* Unknown keys of group g (allowed: names), with the closest allowed one suggested. */
static int sw_known(const sw_ctx *c, const config_setting_t *g, const char *const *names,
                    const char *where)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *nm = config_setting_name(m), *near = NULL;
        size_t best = 3;
        bool ok = false;
        for (const char *const *n = names; *n; n++) {
            size_t d = util_edit_distance(nm, *n);
            ok |= d == 0;
            if (d < best)
                best = d, near = *n;
        }
        if (ok)
            continue;
        if (near)
            return sw_fail(c, m, "unknown key '%s'%s; did you mean '%s'?", nm, where, near);
        return sw_fail(c, m, "unknown key '%s'%s (allowed: see docs/SWEEPS.md)", nm, where);
    }
    return UTIL_OK;
}

static int sw_string(const sw_ctx *c, const config_setting_t *root, const char *name, bool req,
                     char *out, size_t len)
{
    const config_setting_t *s = config_setting_get_member(root, name);
    if (!s)
        return req ? sw_fail(c, NULL, "missing required key '%s'", name) : UTIL_OK;
    const char *v = config_setting_get_string(s);
    if (!v)
        return sw_fail(c, s, "%s: expected a string", name);
    if (!*v || strlen(v) >= len)
        return sw_fail(c, s, "%s = \"%s\": expected 1 to %zu characters", name, v, len - 1);
    snprintf(out, len, "%s", v);
    return UTIL_OK;
}

/* A float as a --set literal that stays a float: the shortest of 15 to 17 digits that
 * reads back the same (digits 12 for a range's values, whose last digits are the
 * arithmetic's). */
static void sw_float(double v, int digits, char *out, size_t len)
{
    for (int d = digits; d <= 17; d++) {
        snprintf(out, len, "%.*g", d, v);
        if (digits < 15 || strtod(out, NULL) == v)
            break;
    }
    if (!strpbrk(out, ".en"))
        snprintf(out + strlen(out), len - strlen(out), ".0");
}

/* One value of an axis as a --set literal. */
static int sw_literal(const sw_ctx *c, const config_setting_t *v, char *out, size_t len)
{
    switch (config_setting_type(v)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(out, len, "%lld", config_setting_get_int64(v));
        return UTIL_OK;
    case CONFIG_TYPE_FLOAT:
        sw_float(config_setting_get_float(v), 15, out, len);
        return UTIL_OK;
    case CONFIG_TYPE_BOOL:
        snprintf(out, len, "%s", config_setting_get_bool(v) ? "true" : "false");
        return UTIL_OK;
    case CONFIG_TYPE_STRING: {
        const char *s = config_setting_get_string(v);
        if (strpbrk(s, " \t\r\n\"#") || !*s)
            return sw_fail(c, v, "value \"%s\": a sweep value is one word, without quotes or '#'",
                           s);
        snprintf(out, len, "%s", s);
        return UTIL_OK;
    }
    default:
        return sw_fail(c, v, "expected a number, a string or a boolean");
    }
}

static int sw_add_value(const sw_ctx *c, const config_setting_t *at, cfg_sweep_axis *a,
                        const char *lit)
{
    if (a->n_values >= CFG_SWEEP_MAX_VALUES)
        return sw_fail(c, at, "axis %s has more than %d values", a->key, CFG_SWEEP_MAX_VALUES);
    for (uint32_t i = 0; i < a->n_values; i++) /* (equal values would be one point twice) */
        if (strcmp(a->values[i], lit) == 0)
            return sw_fail(c, at, "axis %s: the value %s is given twice", a->key, lit);
    snprintf(a->values[a->n_values++], sizeof a->values[0], "%s", lit);
    return UTIL_OK;
}

/* A number setting (checked to be one) as a double, an integer or a float. */
static double sw_number(const config_setting_t *s)
{
    return config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                                       : (double)config_setting_get_int64(s);
}

/* from / to with times (geometric) or step (arithmetic), ints or floats as written. */
static int sw_range(const sw_ctx *c, const config_setting_t *g, cfg_sweep_axis *a)
{
    const config_setting_t *from = config_setting_get_member(g, "from"),
                           *to = config_setting_get_member(g, "to"),
                           *times = config_setting_get_member(g, "times"),
                           *step = config_setting_get_member(g, "step");
    if (!from || !to || !times == !step)
        return sw_fail(c, g, "axis %s: give values = [...], or from, to and one of times or step",
                       a->key);
    const config_setting_t *all[] = {from, to, times ? times : step};
    bool ints = true;
    for (int i = 0; i < 3; i++) {
        int t = config_setting_type(all[i]);
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64 && t != CONFIG_TYPE_FLOAT)
            return sw_fail(c, all[i], "axis %s: %s must be a number", a->key,
                           config_setting_name(all[i]));
        ints &= t != CONFIG_TYPE_FLOAT;
    }
    double lo = sw_number(from), hi = sw_number(to), k = sw_number(all[2]);
    if (hi < lo)
        return sw_fail(c, to, "axis %s: to = %g is below from = %g", a->key, hi, lo);
    if (times ? !(k > 1) || !(lo > 0) : !(k > 0))
        return sw_fail(c, all[2],
                       times ? "axis %s: times = %g must exceed 1 (and from be positive)"
                             : "axis %s: step = %g must be positive",
                       a->key, k);
    /* (a step's values are from + i x step, as many as reach to; a factor's multiply
     * while they stay within to, a relative 1e-12 of rounding allowed) */
    double steps = times ? 0 : floor((hi - lo) / k + 1e-9);
    if (steps >= CFG_SWEEP_MAX_VALUES)
        return sw_fail(c, g, "axis %s has more than %d values", a->key, CFG_SWEEP_MAX_VALUES);
    double v = lo;
    for (uint32_t i = 0; times ? v <= hi * (1 + 1e-12) : i <= (uint32_t)steps; i++) {
        char lit[CFG_SWEEP_VALUE_MAX];
        v = times ? v : lo + i * k;
        if (ints)
            snprintf(lit, sizeof lit, "%.0f", v);
        else
            sw_float(v, 12, lit, sizeof lit);
        int rc = sw_add_value(c, g, a, lit);
        if (rc)
            return rc;
        v = times ? v * k : v;
    }
    return UTIL_OK;
}

static int sw_axis(const sw_ctx *c, const config_setting_t *g, cfg_sweep *out)
{
    static const char *const keys[] = {"key", "values", "from", "to", "times", "step", NULL};
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
        return sw_fail(c, g, "axes: each axis is a group { key = \"FILE.KEY\"; values = [...]; }");
    int rc = sw_known(c, g, keys, " in an axis");
    if (rc)
        return rc;
    if (out->n_axes >= CFG_SWEEP_MAX_AXES)
        return sw_fail(c, g, "more than %d axes", CFG_SWEEP_MAX_AXES);
    cfg_sweep_axis *a = &out->axes[out->n_axes];
    memset(a, 0, sizeof *a);
    const config_setting_t *key = config_setting_get_member(g, "key");
    const char *k = key ? config_setting_get_string(key) : NULL;
    if (!k)
        return sw_fail(c, key ? key : g, "an axis needs key = \"FILE.KEY\" (a --set key)");
    char probe[300], why[256];
    cfg_override ov;
    snprintf(probe, sizeof probe, "%s=0", k);
    if (strpbrk(k, " \t\r\n#=\""))
        return sw_fail(c, key, "key = \"%s\": a --set key, without spaces, '#', '=' or quotes", k);
    if (cfg_parse_override(probe, &ov, why, sizeof why))
        return sw_fail(c, key, "key = \"%s\": %s", k, why);
    snprintf(a->key, sizeof a->key, "%s", k);
    for (uint32_t i = 0; i < out->n_axes; i++)
        if (strcmp(out->axes[i].key, k) == 0)
            return sw_fail(c, key, "axis %s is given twice", k);
    const config_setting_t *vals = config_setting_get_member(g, "values");
    if (vals) {
        if (config_setting_get_member(g, "from") || config_setting_get_member(g, "to"))
            return sw_fail(c, g, "axis %s: values or a range, not both", k);
        if (!config_setting_is_aggregate(vals) || config_setting_length(vals) < 1)
            return sw_fail(c, vals, "axis %s: values must be a non-empty list [a, b, ...]", k);
        for (int i = 0; i < config_setting_length(vals); i++) {
            char lit[CFG_SWEEP_VALUE_MAX];
            const config_setting_t *v = config_setting_get_elem(vals, (unsigned)i);
            if ((rc = sw_literal(c, v, lit, sizeof lit)) || (rc = sw_add_value(c, v, a, lit)))
                return rc;
        }
    } else if ((rc = sw_range(c, g, a))) {
        return rc;
    }
    out->n_axes++;
    return UTIL_OK;
}

/* zip = ( ["a", "b"], ... ): those axes advance together. */
static int sw_zip(const sw_ctx *c, const config_setting_t *zip, cfg_sweep *out)
{
    if (!config_setting_is_aggregate(zip))
        return sw_fail(c, zip, "zip must be a list of lists of axis keys");
    for (int z = 0; z < config_setting_length(zip); z++) {
        const config_setting_t *grp = config_setting_get_elem(zip, (unsigned)z);
        if (!config_setting_is_aggregate(grp) || config_setting_length(grp) < 2)
            return sw_fail(c, grp, "zip: each entry lists two or more axis keys");
        uint32_t first = UINT32_MAX;
        for (int i = 0; i < config_setting_length(grp); i++) {
            const config_setting_t *e = config_setting_get_elem(grp, (unsigned)i);
            const char *k = config_setting_get_string(e);
            uint32_t ax = 0;
            while (k && ax < out->n_axes && strcmp(out->axes[ax].key, k) != 0)
                ax++;
            if (!k || ax == out->n_axes)
                return sw_fail(c, e, "zip: \"%s\" is not an axis key", k ? k : "?");
            if (out->axes[ax].zip)
                return sw_fail(c, e, "zip: axis %s is zipped twice", k);
            if (first == UINT32_MAX)
                first = ax;
            else if (out->axes[ax].n_values != out->axes[first].n_values)
                return sw_fail(c, e,
                               "zip: axis %s has %u values, axis %s %u: zipped axes need as "
                               "many",
                               k, out->axes[ax].n_values, out->axes[first].key,
                               out->axes[first].n_values);
            out->axes[ax].zip = (uint32_t)z + 1;
        }
    }
    return UTIL_OK;
}

static int sw_sets(const sw_ctx *c, const config_setting_t *sets, cfg_sweep *out)
{
    if (!config_setting_is_aggregate(sets))
        return sw_fail(c, sets, "sets must be a list of \"FILE.KEY=VALUE\" strings");
    for (int i = 0; i < config_setting_length(sets); i++) {
        const config_setting_t *e = config_setting_get_elem(sets, (unsigned)i);
        const char *v = config_setting_get_string(e);
        char why[256];
        if (!v)
            return sw_fail(c, e, "sets: expected a string \"FILE.KEY=VALUE\"");
        if (out->n_sets >= CFG_SWEEP_MAX_SETS)
            return sw_fail(c, e, "more than %d sets", CFG_SWEEP_MAX_SETS);
        bool odd = strpbrk(v, " \t\r\n#") != NULL;
        if (odd || cfg_parse_override(v, &out->sets[out->n_sets], why, sizeof why))
            return sw_fail(c, e, "sets: \"%s\": %s", v, odd ? "one word, no spaces or '#'" : why);
        out->n_sets++;
    }
    return UTIL_OK;
}

int cfg_load_sweep(const char *file, cfg_sweep *out, char *err, size_t errlen)
{
    static const char *const keys[] = {"arch", "workload", "mode", "output", "baseline",
                                       "sets", "axes",     "zip",  NULL};
    memset(out, 0, sizeof *out);
    sw_ctx c = {.file = file, .err = err, .errlen = errlen};
    config_t cfg;
    config_init(&cfg);
    int rc = cfg_source_read(&c.src, file, err, errlen);
    if (!rc && config_read_string(&cfg, c.src.text) != CONFIG_TRUE) {
        const char *f = file;
        unsigned line = (unsigned)config_error_line(&cfg);
        cfg_source_where(&c.src, line, &f, &line);
        rc = util_fail(UTIL_ECONFIG, err, errlen, "%s:%u: %s", f, line, config_error_text(&cfg));
    }
    const config_setting_t *root = config_root_setting(&cfg), *s;
    char mode[16] = "cycle";
    if (!rc)
        rc = sw_known(&c, root, keys, "");
    if (!rc)
        rc = sw_string(&c, root, "arch", true, out->arch, sizeof out->arch);
    if (!rc)
        rc = sw_string(&c, root, "workload", true, out->workload, sizeof out->workload);
    if (!rc)
        rc = sw_string(&c, root, "output", false, out->output, sizeof out->output);
    if (!rc)
        rc = sw_string(&c, root, "baseline", false, out->baseline, sizeof out->baseline);
    if (!rc && !(rc = sw_string(&c, root, "mode", false, mode, sizeof mode))) {
        out->analytical = strcmp(mode, "analytical") == 0;
        if (!out->analytical && strcmp(mode, "cycle") != 0)
            rc = sw_fail(&c, config_setting_get_member(root, "mode"),
                         "mode = \"%s\" (allowed: \"cycle\", \"analytical\")", mode);
    }
    if (!rc && (s = config_setting_get_member(root, "sets")))
        rc = sw_sets(&c, s, out);
    s = rc ? NULL : config_setting_get_member(root, "axes");
    if (!rc && (!s || !config_setting_is_aggregate(s) || config_setting_length(s) < 1))
        rc = sw_fail(&c, s, "axes: expected a list of one or more axes ( { key = ...; }, ... )");
    for (int i = 0; !rc && i < config_setting_length(s); i++)
        rc = sw_axis(&c, config_setting_get_elem(s, (unsigned)i), out);
    if (!rc && (s = config_setting_get_member(root, "zip")))
        rc = sw_zip(&c, s, out);
    if (!rc && cfg_sweep_points(out) > CFG_SWEEP_MAX_POINTS)
        rc = sw_fail(&c, NULL, "%llu points: more than %d",
                     (unsigned long long)cfg_sweep_points(out), CFG_SWEEP_MAX_POINTS);
    config_destroy(&cfg);
    cfg_source_free(&c.src);
    return rc;
}

/* The sweep's dimensions: an unzipped axis, or a zip group (its first axis). */
static bool sw_leads(const cfg_sweep *s, uint32_t i)
{
    if (!s->axes[i].zip)
        return true;
    for (uint32_t j = 0; j < i; j++)
        if (s->axes[j].zip == s->axes[i].zip)
            return false;
    return true;
}

uint64_t cfg_sweep_points(const cfg_sweep *s)
{
    uint64_t n = 1;
    for (uint32_t i = 0; i < s->n_axes; i++)
        if (sw_leads(s, i)) {
            n *= s->axes[i].n_values;
            if (n > CFG_SWEEP_MAX_POINTS)
                return n;
        }
    return n;
}

void cfg_sweep_point(const cfg_sweep *s, uint64_t k, char out[][CFG_SWEEP_SET_MAX])
{
    uint32_t pick[CFG_SWEEP_MAX_AXES] = {0};
    /* the last dimension varies fastest */
    for (uint32_t i = s->n_axes; i-- > 0;)
        if (sw_leads(s, i)) {
            pick[i] = (uint32_t)(k % s->axes[i].n_values);
            k /= s->axes[i].n_values;
        }
    for (uint32_t i = 0; i < s->n_axes; i++)
        if (!sw_leads(s, i))
            for (uint32_t j = 0; j < i; j++)
                if (s->axes[j].zip == s->axes[i].zip) {
                    pick[i] = pick[j];
                    break;
                }
    for (uint32_t i = 0; i < s->n_sets; i++)
        snprintf(out[i], CFG_SWEEP_SET_MAX, "%s", s->sets[i].arg);
    for (uint32_t i = 0; i < s->n_axes; i++)
        snprintf(out[s->n_sets + i], CFG_SWEEP_SET_MAX, "%s=%s", s->axes[i].key,
                 s->axes[i].values[pick[i]]);
}

void cfg_point_id(const char *const *sets, size_t n, char id[17])
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, 64 bits */
    for (size_t i = 0; i < n; i++)
        for (const char *p = sets[i];; p++) {
            h = (h ^ (unsigned char)(*p ? *p : '\n')) * 0x100000001b3ull;
            if (!*p)
                break;
        }
    snprintf(id, 17, "%016llx", (unsigned long long)h);
}
