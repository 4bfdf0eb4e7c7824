/* search.c: what every mapping search shares: the objective, the shortlist for --explain
 * and the check of a mapping-file entry's keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

double map_cost(const map_forced *how, const arch_desc *a, util_dtype t,
                const eng_estimate_total *e)
{
    if (!how || how->objective == MAP_LATENCY || !how->energy)
        return (double)e->cycles;
    double pj = how->energy(a, t, &e->counts);
    return how->objective == MAP_ENERGY ? pj : pj * (double)e->cycles;
}

void *map_keep(map_store *st, size_t count, size_t size)
{
    if (util_reserve((void **)&st->ptrs, &st->cap, st->n + 1, sizeof *st->ptrs))
        return NULL;
    void *p = calloc(count ? count : 1, size);
    if (p)
        st->ptrs[st->n++] = p;
    return p;
}

void map_store_free(map_store *st)
{
    for (size_t i = 0; i < st->n; i++)
        free(st->ptrs[i]);
    free(st->ptrs);
    memset(st, 0, sizeof *st);
}

int map_cmp_pospair(const void *x, const void *y)
{
    uint64_t a = ((const map_pospair *)x)->pos, b = ((const map_pospair *)y)->pos;
    return a < b ? -1 : a > b;
}

size_t map_pattern_run(const map_pospair *pp, size_t n, size_t i, eng_pattern *p)
{
    size_t j = i + 1;
    while (j < n && pp[j].pos == pp[j - 1].pos + 1)
        j++;
    uint64_t run = j - i, first = pp[i].pos, stride = run, count = 1;
    /* more runs of the same length at a constant stride */
    while (j + run <= n) {
        uint64_t p0 = pp[j].pos, st = count == 1 ? p0 - first : stride;
        bool ok = p0 == first + count * st;
        for (uint64_t q = 1; q < run && ok; q++)
            ok = pp[j + q].pos == p0 + q;
        if (!ok)
            break;
        stride = st;
        count++;
        j += run;
    }
    *p = (eng_pattern){first, run, stride, count};
    return j;
}

eng_xfer *map_push_xfer(map_xlist *xl)
{
    if (util_reserve((void **)&xl->x, &xl->cap, xl->n + 1, sizeof *xl->x))
        return NULL;
    eng_xfer *t = &xl->x[xl->n++];
    memset(t, 0, sizeof *t);
    return t;
}

int map_slot_xfers(map_xlist *xl, map_store *st, const map_pospair *pp, size_t n, int32_t instr,
                   bool to_spm, uint32_t port, bool functional, size_t max)
{
    size_t made = 0;
    for (size_t i = 0; i < n;) {
        eng_pattern pat;
        size_t j = map_pattern_run(pp, n, i, &pat);
        eng_xfer *t = map_push_xfer(xl);
        if (!t || ++made > max)
            return UTIL_ERUN;
        *t = (eng_xfer){
            to_spm ? instr : -1, to_spm ? -1 : instr, port, (uint32_t)(j - i), pat, NULL, NULL};
        if (functional) {
            uint32_t *loc = map_keep(st, j - i, sizeof *loc);
            if (!loc)
                return UTIL_ERUN;
            for (size_t q = i; q < j; q++)
                loc[q - i] = pp[q].local;
            if (to_spm)
                t->src_pos = loc;
            else
                t->dst_pos = loc;
        }
        i = j;
    }
    return UTIL_OK;
}

const char *map_bottleneck(const eng_phase_estimate *e)
{
    const double v[] = {e->t_pe, e->t_link, e->t_port, e->t_spm, e->t_dram, e->t_feed, e->t_slots};
    static const char *const names[] = {"PE units", "NoC link",      "SPM port", "SPM banks",
                                        "DRAM",     "in-order feed", "SPM slots"};
    size_t k = 0;
    for (size_t i = 1; i < sizeof v / sizeof v[0]; i++)
        k = v[i] > v[k] ? i : k;
    return names[k];
}

const char *map_slowest_bottleneck(const eng_phase_estimate *pe, uint32_t n)
{
    uint32_t slow = 0;
    for (uint32_t k = 1; k < n; k++)
        slow = pe[k].cycles > pe[slow].cycles ? k : slow;
    return map_bottleneck(&pe[slow]);
}

bool map_shortlist_add(map_shortlist *l, uint64_t cycles, double cost, const char *why,
                       const char *desc, double *best)
{
    bool better = cost < *best;
    *best = better ? cost : *best;
    l->n_scored++;
    uint32_t k = l->n < MAP_MAX_CANDIDATES ? l->n++ : MAP_MAX_CANDIDATES - 1;
    if (k == MAP_MAX_CANDIDATES - 1 && l->n_scored > MAP_MAX_CANDIDATES && cost >= l->c[k].cost)
        return better;
    while (k > 0 && l->c[k - 1].cost > cost) {
        l->c[k] = l->c[k - 1];
        k--;
    }
    map_candidate *c = &l->c[k];
    snprintf(c->desc, sizeof c->desc, "%s", desc);
    c->cycles = cycles;
    c->cost = cost;
    c->bottleneck = why;
    return better;
}

void map_deepen_slots(const arch_desc *a, util_dtype t, eng_phase *ph, uint32_t n,
                      uint64_t onchip_elems)
{
    uint64_t w = util_dtype_bytes(t), spm = arch_spm_bytes(a) / w;
    uint64_t spare = a->spm.width_bytes / w + 1;
    for (uint32_t i = 0; i < n; i++) {
        eng_phase deeper = ph[i];
        deeper.in_slots = deeper.out_slots = MAP_SLOT_DEPTH;
        if (eng_phase_spm_elems(&deeper) + onchip_elems + spare <= spm)
            ph[i] = deeper;
    }
}

/* The keys of a mapping-file entry, in MAP_KEY_ bit order. */
static const char *const key_names[] = {"chain_pes",       "rows_per_tag",   "columns_per_chain",
                                        "segments",        "rows_per_chain", "layer_pes",
                                        "stages_per_pass", "pipelines",      "intermediates",
                                        "block_rows",      "fused_through",  "fold",
                                        "stage_pes",       "stage_steps",    "unit_columns",
                                        "part_units",      "weights"};
#define N_KEYS (sizeof key_names / sizeof key_names[0])

/* Key k's value in entry f (0: not set; intermediates as its map_inter). */
static uint64_t key_value(const map_force *f, size_t k)
{
    const uint64_t v[N_KEYS] = {f->chain_pes,
                                f->rows_per_tag,
                                f->columns_per_chain,
                                f->segments,
                                f->rows_per_chain,
                                f->layer_pes,
                                f->stages_per_pass,
                                f->pipelines,
                                (uint64_t)f->intermediates,
                                f->block_rows,
                                f->fused_through[0] != 0,
                                f->fold,
                                f->n_stage_pes,
                                f->n_stage_steps,
                                f->unit_columns,
                                f->part_units,
                                (uint64_t)f->weights};
    return v[k];
}

static unsigned keys_set(const map_force *f)
{
    unsigned set = 0;
    for (size_t k = 0; k < N_KEYS; k++)
        set |= key_value(f, k) ? 1u << k : 0;
    return set;
}

void map_force_describe(const map_force *f, char *buf, size_t len)
{
    static const char *const where[] = {"\"any\"", "\"dram\"", "\"spm\""};
    static const char *const kept[] = {"\"any\"", "\"kept\"", "\"reloaded\"", "\"resident\""};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < N_KEYS && used < len; k++) {
        uint64_t v = key_value(f, k);
        if (v && (1u << k == MAP_KEY_INTERMEDIATES || 1u << k == MAP_KEY_WEIGHTS))
            used += (size_t)snprintf(buf + used, len - used, "%s%s = %s", used ? ", " : "",
                                     key_names[k], 1u << k == MAP_KEY_WEIGHTS ? kept[v] : where[v]);
        else if (v && 1u << k == MAP_KEY_FUSED_THROUGH)
            used += (size_t)snprintf(buf + used, len - used, "%s%s = \"%s\"", used ? ", " : "",
                                     key_names[k], f->fused_through);
        else if (v && (1u << k == MAP_KEY_STAGE_PES || 1u << k == MAP_KEY_STAGE_STEPS))
            used += (size_t)snprintf(buf + used, len - used, "%s%s = [%llu entries]",
                                     used ? ", " : "", key_names[k], (unsigned long long)v);
        else if (v)
            used += (size_t)snprintf(buf + used, len - used, "%s%s = %llu", used ? ", " : "",
                                     key_names[k], (unsigned long long)v);
    }
}

int map_force_keys(const map_force *f, unsigned allowed, const char *what, char *err, size_t errlen)
{
    unsigned extra = f ? keys_set(f) & ~allowed : 0;
    if (!extra)
        return UTIL_OK;
    size_t bad = 0;
    while (!(extra & (1u << bad)))
        bad++;
    char takes[160] = "";
    size_t len = 0;
    for (size_t k = 0; k < N_KEYS; k++)
        if (allowed & (1u << k) && len < sizeof takes)
            len += (size_t)snprintf(takes + len, sizeof takes - len, "%s%s", len ? ", " : "",
                                    key_names[k]);
    return util_fail(UTIL_ECONFIG, err, errlen, "%s: %s: %s does not apply to %s (%s%s)", f->where,
                     f->op, key_names[bad], what,
                     allowed ? "it takes " : "it takes no mapping keys", allowed ? takes : "");
}
