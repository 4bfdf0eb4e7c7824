/* timeline.c: a run as a Chrome/Perfetto trace-event JSON timeline, written unit by unit.
 *
 * Notes. Tracks: the units (ops), each PE, each DMA channel and each DRAM channel, with
 * counters for DRAM bandwidth, NoC link load and SPM bank occupancy. A track's slices
 * merge events that overlap; where a unit would give a track more than max_slices
 * slices, the gap that still merges doubles until they fit, so a slice may cover idle
 * cycles (its args say how busy it was). Counters are sampled in buckets that double in
 * width the same way. Memory: max_slices per track, whatever the run's length. SPM
 * occupancy is the banks' busy share, not the bytes allocated (the engine does not
 * model allocation over time). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "report.h"

/* A slice of a track: events merged. */
typedef struct tl_slice {
    uint64_t t0, t1;     /* cycles, from the run's start */
    uint64_t tag0, tag1; /* first and last tag */
    uint64_t n, busy;    /* events; PE: MAC busy cycles; channels: bytes */
    unsigned dirs;       /* channels: bit 0 a read (load), bit 1 a write (store) */
} tl_slice;

typedef struct tl_track {
    tl_slice *s;
    uint32_t n;
    uint64_t gap; /* events this far apart still merge */
} tl_track;

enum { C_DRAM_RD, C_DRAM_WR, C_LINK, C_SPM, C_SERIES };
enum { PID_OPS = 1, PID_PE, PID_DMA, PID_DRAM, PID_NOC, PID_SPM };

struct rep_tl_state {
    tl_track *tr; /* PEs, then DMA channels, then DRAM channels */
    uint32_t n_tr;
    double *bucket[C_SERIES];
    uint64_t width;     /* cycles per bucket, a power of two */
    uint64_t n_buckets; /* used this unit */
    char (*what)[RUN_WHAT_MAX];
    char op[WL_OP_NAME_MAX], ops[160];
    uint32_t block;
    bool open; /* a unit is under way */
};

/* Picoseconds at cycle c (rounded: a slice's ends map one way, so none overlap). */
static uint64_t ps_at(const rep_timeline *t, uint64_t c)
{
    return (uint64_t)llround((double)c * t->ns_per_cycle * 1000);
}

/* A time in microseconds, as the format wants, to the picosecond. */
static void put_us(FILE *f, uint64_t ps)
{
    fprintf(f, "%llu.%06llu", (unsigned long long)(ps / 1000000),
            (unsigned long long)(ps % 1000000));
}

/* Starts an event object (the comma before all but the first). */
static void ev_begin(rep_timeline *t, const char *ph, const char *name, int pid, uint32_t tid)
{
    /* (thread ids unique across processes: importers may key threads by tid alone) */
    fprintf(t->out.f, "%s\n{\"ph\":\"%s\",\"pid\":%d,\"tid\":%llu,\"name\":", t->events ? "," : "",
            ph, pid, tid ? (unsigned long long)pid * REP_TIMELINE_TIDS + tid : 0ull);
    j_str(t->out.f, name);
    t->events++;
}

static void meta(rep_timeline *t, const char *what, int pid, uint32_t tid, const char *name,
                 uint32_t sort)
{
    ev_begin(t, "M", what, pid, tid);
    fputs(",\"args\":{\"name\":", t->out.f);
    j_str(t->out.f, name);
    fputs("}}", t->out.f);
    ev_begin(t, "M", tid ? "thread_sort_index" : "process_sort_index", pid, tid);
    fprintf(t->out.f, ",\"args\":{\"sort_index\":%u}}", sort);
}

/* ---------------------------------------------------------------- slices */

/* Merges a track's neighbouring slices that are at most the gap apart. */
static void coarsen(tl_track *k)
{
    uint32_t w = 0;
    for (uint32_t r = 1; r < k->n; r++) {
        tl_slice *a = &k->s[w], *b = &k->s[r];
        if (b->t0 <= a->t1 + k->gap) {
            a->t1 = b->t1 > a->t1 ? b->t1 : a->t1;
            a->tag1 = b->tag1, a->n += b->n, a->busy += b->busy, a->dirs |= b->dirs;
        } else {
            k->s[++w] = *b;
        }
    }
    k->n = k->n ? w + 1 : 0;
}

/* Adds an event [t0, t1) to track k: into its last slice where they overlap (or, at
 * full detail, where it goes on the same tag; else where the gap allows). */
static void add_slice(rep_timeline *t, tl_track *k, uint64_t t0, uint64_t t1, uint64_t tag,
                      uint64_t busy, unsigned dirs)
{
    tl_slice *last = k->n ? &k->s[k->n - 1] : NULL;
    if (last && (t0 < last->t1 || (k->gap && t0 <= last->t1 + k->gap) ||
                 (t0 == last->t1 && tag == last->tag1))) {
        last->t1 = t1 > last->t1 ? t1 : last->t1;
        last->tag1 = tag, last->n++, last->busy += busy, last->dirs |= dirs;
        return;
    }
    k->s[k->n++] = (tl_slice){t0, t1 > t0 ? t1 : t0 + 1, tag, tag, 1, busy, dirs};
    while (k->n > t->max_slices) {
        k->gap = k->gap ? 2 * k->gap : 1;
        coarsen(k);
    }
}

/* The tags a slice covers, as its args say them. */
static void put_tags(FILE *f, const tl_slice *s)
{
    if (s->tag0 == s->tag1)
        fprintf(f, "\"tag\":%llu", (unsigned long long)s->tag0);
    else
        fprintf(f, "\"tags\":\"%llu-%llu\"", (unsigned long long)s->tag0,
                (unsigned long long)s->tag1);
}

static void write_slice(rep_timeline *t, const char *name, const char *cat, int pid, uint32_t tid,
                        const tl_slice *s)
{
    FILE *f = t->out.f;
    uint64_t a = ps_at(t, s->t0), b = ps_at(t, s->t1);
    ev_begin(t, "X", name, pid, tid);
    fprintf(f, ",\"cat\":\"%s\",\"ts\":", cat);
    put_us(f, a);
    fputs(",\"dur\":", f);
    put_us(f, b - a);
    fprintf(f, ",\"args\":{\"op\":");
    j_str(f, t->st->op);
    fprintf(f, ",\"cycles\":[%llu,%llu],\"events\":%llu,", (unsigned long long)s->t0,
            (unsigned long long)s->t1, (unsigned long long)s->n);
    if (pid == PID_PE) {
        put_tags(f, s);
        fprintf(f, ",\"mac_busy_cycles\":%llu,\"mac_busy\":%.3f}}", (unsigned long long)s->busy,
                (double)s->busy / (double)(s->t1 - s->t0));
    } else {
        if (pid == PID_DMA)
            put_tags(f, s), fputc(',', f);
        fprintf(f, "\"bytes\":%llu}}", (unsigned long long)s->busy);
    }
}

/* ---------------------------------------------------------------- counters */

/* Makes bucket i (of width t->width from the unit's start) exist: buckets double in
 * width, pairs added together, until it is under max_slices. */
static uint64_t bucket_for(rep_timeline *t, uint64_t cycle)
{
    struct rep_tl_state *st = t->st;
    uint64_t i = (cycle - t->offset) / st->width;
    while (i >= t->max_slices) {
        for (int c = 0; c < C_SERIES; c++)
            for (uint64_t j = 0; j < t->max_slices; j++)
                st->bucket[c][j] =
                    j < (st->n_buckets + 1) / 2
                        ? st->bucket[c][2 * j] +
                              (2 * j + 1 < st->n_buckets ? st->bucket[c][2 * j + 1] : 0)
                        : 0;
        st->n_buckets = (st->n_buckets + 1) / 2;
        st->width *= 2;
        i = (cycle - t->offset) / st->width;
    }
    if (i + 1 > st->n_buckets)
        st->n_buckets = i + 1;
    return i;
}

/* Spreads amount over the cycles [t0, t1) of series c. */
static void spread(rep_timeline *t, int c, uint64_t t0, uint64_t t1, double amount)
{
    struct rep_tl_state *st = t->st;
    if (t1 <= t0)
        t1 = t0 + 1;
    bucket_for(t, t1 - 1); /* (first: it may widen the buckets) */
    uint64_t w = st->width, b0 = bucket_for(t, t0), b1 = bucket_for(t, t1 - 1);
    for (uint64_t b = b0; b <= b1; b++) {
        uint64_t lo = t->offset + b * w, hi = lo + w;
        lo = lo > t0 ? lo : t0, hi = hi < t1 ? hi : t1;
        st->bucket[c][b] += amount * (double)(hi - lo) / (double)(t1 - t0);
    }
}

/* One counter's samples: bucket j's series, scaled, per cycle of the bucket (the last
 * ends with the unit), written where it changes, and 0 at the unit's end. */
static void write_counter(rep_timeline *t, const char *name, int pid, const int *series,
                          const char *const *keys, int n_series, double scale)
{
    struct rep_tl_state *st = t->st;
    double last[2] = {NAN, NAN};
    for (uint64_t j = 0; j <= st->n_buckets; j++) {
        double v[2] = {0, 0};
        bool same = true;
        uint64_t c = t->offset + j * st->width, c1 = c + st->width;
        double cycles = (double)((c1 < t->end ? c1 : t->end) - (c < t->end ? c : t->end));
        for (int k = 0; k < n_series; k++) {
            v[k] = j < st->n_buckets && cycles > 0 ? st->bucket[series[k]][j] * scale / cycles : 0;
            same = same && v[k] == last[k];
        }
        if (same)
            continue;
        ev_begin(t, "C", name, pid, 0);
        fputs(",\"ts\":", t->out.f);
        put_us(t->out.f, ps_at(t, c < t->end ? c : t->end));
        fputs(",\"args\":{", t->out.f);
        for (int k = 0; k < n_series; k++)
            fprintf(t->out.f, "%s\"%s\":%.4g", k ? "," : "", keys[k], v[k]), last[k] = v[k];
        fputs("}}", t->out.f);
    }
}

/* ---------------------------------------------------------------- units */

/* Writes the unit under way (its slices and samples) and clears them. */
static void end_unit(rep_timeline *t)
{
    struct rep_tl_state *st = t->st;
    if (!st->open)
        return;
    FILE *f = t->out.f;
    tl_slice u = {.t0 = t->offset, .t1 = t->end > t->offset ? t->end : t->offset};
    uint64_t a = ps_at(t, u.t0), b = ps_at(t, u.t1);
    ev_begin(t, "X", st->op, PID_OPS, 1);
    fputs(",\"cat\":\"op\",\"ts\":", f);
    put_us(f, a);
    fputs(",\"dur\":", f);
    put_us(f, b - a);
    fprintf(f, ",\"args\":{\"block\":%u,\"ops\":", st->block);
    j_str(f, st->ops);
    fprintf(f, ",\"cycles\":[%llu,%llu]}}", (unsigned long long)u.t0, (unsigned long long)u.t1);
    uint32_t n_pes = t->n_pes, n_dma = t->a->dma.channels;
    for (uint32_t k = 0; k < st->n_tr; k++) {
        tl_track *tr = &st->tr[k];
        for (uint32_t i = 0; i < tr->n; i++) {
            const tl_slice *s = &tr->s[i];
            static const char *const dma_dir[] = {"", "load", "store", "load+store"};
            static const char *const dram_dir[] = {"", "read", "write", "read+write"};
            if (k < n_pes)
                write_slice(t, st->what[k][0] ? st->what[k] : st->op, "pe", PID_PE, k + 1, s);
            else if (k < n_pes + n_dma)
                write_slice(t, dma_dir[s->dirs & 3], "dma", PID_DMA, k - n_pes + 1, s);
            else
                write_slice(t, dram_dir[s->dirs & 3], "dram", PID_DRAM, k - n_pes - n_dma + 1, s);
        }
        tr->n = 0, tr->gap = 0;
    }
    /* bytes per cycle x cycles per ns = GB/s; busy cycles per link-cycle or bank-cycle */
    static const int dram[] = {C_DRAM_RD, C_DRAM_WR}, link[] = {C_LINK}, spm[] = {C_SPM};
    static const char *const rw[] = {"read", "write"}, *const pct[] = {"percent"};
    write_counter(t, "DRAM bandwidth (GB/s)", PID_DRAM, dram, rw, 2, 1 / t->ns_per_cycle);
    if (t->links)
        write_counter(t, "NoC link load (%)", PID_NOC, link, pct, 1, 100.0 / t->links);
    write_counter(t, "SPM banks busy (%)", PID_SPM, spm, pct, 1,
                  100.0 / ((double)t->a->spm.banks * t->a->spm.ports));
    for (int c = 0; c < C_SERIES; c++)
        memset(st->bucket[c], 0, t->max_slices * sizeof *st->bucket[c]);
    st->n_buckets = 0, st->width = 1;
    st->open = false;
    if (ferror(f))
        t->failed = true;
}

void rep_timeline_unit(void *ctx, const run_unit_desc *u)
{
    rep_timeline *t = ctx;
    struct rep_tl_state *st = t->st;
    end_unit(t);
    t->offset = t->end;
    snprintf(st->op, sizeof st->op, "%s", u->op);
    snprintf(st->ops, sizeof st->ops, "%s", u->ops);
    st->block = u->block;
    memcpy(st->what, u->pe_what, t->n_pes * sizeof *st->what);
    st->open = true;
}

static void on_event(void *ctx, const eng_event *e)
{
    rep_timeline *t = ctx;
    struct rep_tl_state *st = t->st;
    /* (an event takes at least its cycle: the unit's cycles end after its last) */
    uint64_t at = t->offset + e->cycle, to = at + (e->duration ? e->duration : 1);
    if (to > t->end)
        t->end = to;
    if (!st->open || at < t->lo || (t->hi && at >= t->hi))
        return;
    unsigned dir = e->write ? 2 : 1;
    switch (e->kind) {
    case ENG_EVENT_PE:
        add_slice(t, &st->tr[e->component], at, to, e->tag, e->amount, 0);
        break;
    case ENG_EVENT_DMA_CHANNEL:
        add_slice(t, &st->tr[t->n_pes + e->component], at, to, e->tag, e->amount, dir);
        break;
    case ENG_EVENT_DRAM_CHANNEL:
        add_slice(t, &st->tr[t->n_pes + t->a->dma.channels + e->component], at, to, 0, e->amount,
                  dir);
        spread(t, e->write ? C_DRAM_WR : C_DRAM_RD, at, to, (double)e->amount);
        break;
    case ENG_EVENT_LINK:
        spread(t, C_LINK, at, to, (double)e->duration);
        break;
    case ENG_EVENT_SPM:
        spread(t, C_SPM, at, to, (double)e->amount);
        break;
    default: /* (the requests and messages: their channels and links say it) */
        break;
    }
}

/* ---------------------------------------------------------------- the file */

/* Frees what open allocated (none: nothing). */
static void free_state(rep_timeline *t)
{
    struct rep_tl_state *st = t->st;
    if (!st)
        return;
    for (uint32_t k = 0; st->tr && k < st->n_tr; k++)
        free(st->tr[k].s);
    for (int c = 0; c < C_SERIES; c++)
        free(st->bucket[c]);
    free(st->tr);
    free(st->what);
    free(st);
    t->st = NULL;
}

int rep_timeline_open(rep_timeline *t, const char *path, const arch_desc *a, uint32_t max_slices,
                      char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->a = a, t->max_slices = max_slices, t->n_pes = arch_pe_count(a);
    t->ns_per_cycle = 1 / a->clock_ghz;
    t->links = eng_noc_links(a);
    struct rep_tl_state *st = t->st = calloc(1, sizeof *st);
    if (st) {
        st->n_tr = t->n_pes + a->dma.channels + a->dram.channels;
        st->tr = calloc(st->n_tr, sizeof *st->tr);
        st->what = calloc(t->n_pes, sizeof *st->what);
        st->width = 1;
    }
    bool ok = st && st->tr && st->what;
    for (uint32_t k = 0; ok && k < st->n_tr; k++)
        ok = (st->tr[k].s = malloc((max_slices + 1) * sizeof *st->tr[k].s)) != NULL;
    for (int c = 0; ok && c < C_SERIES; c++)
        ok = (st->bucket[c] = calloc(max_slices, sizeof *st->bucket[c])) != NULL;
    if (!ok) {
        free_state(t);
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    }
    int rc = rep_stream_open(&t->out, path, false, err, errlen);
    if (rc) {
        free_state(t);
        return rc;
    }
    /* (not the NoC's messages: their links say it; DMA completions end the units) */
    t->obs =
        (eng_observer){.event = on_event,
                       .kinds = 1u << ENG_EVENT_PE | 1u << ENG_EVENT_SPM | 1u << ENG_EVENT_DMA |
                                1u << ENG_EVENT_DRAM | 1u << ENG_EVENT_LINK |
                                1u << ENG_EVENT_DRAM_CHANNEL | 1u << ENG_EVENT_DMA_CHANNEL,
                       .ctx = t};
    FILE *f = t->out.f;
    fprintf(f,
            "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"format\":\"bflysim timeline %d "
            "(traces/README.md)\",\"clock_ghz\":%.9g,\"max_slices\":%u,\"noc_links\":%u,"
            "\"spm_bank_ports\":%u},\n\"traceEvents\":[",
            REP_TIMELINE_VERSION, a->clock_ghz, max_slices, t->links, a->spm.banks * a->spm.ports);
    static const char *const procs[] = {"", "ops", "PE array", "DMA", "DRAM", "NoC", "SPM"};
    for (int p = PID_OPS; p <= PID_SPM; p++)
        meta(t, "process_name", p, 0, procs[p], (uint32_t)p);
    meta(t, "thread_name", PID_OPS, 1, "ops", 1);
    char name[64];
    for (uint32_t k = 0; k < t->n_pes; k++) {
        snprintf(name, sizeof name, "pe %u (%u,%u)", k, k / a->array.cols, k % a->array.cols);
        meta(t, "thread_name", PID_PE, k + 1, name, k + 1);
    }
    for (uint32_t k = 0; k < a->dma.channels; k++) {
        snprintf(name, sizeof name, "dma channel %u", k);
        meta(t, "thread_name", PID_DMA, k + 1, name, k + 1);
    }
    for (uint32_t k = 0; k < a->dram.channels; k++) {
        snprintf(name, sizeof name, "dram channel %u", k);
        meta(t, "thread_name", PID_DRAM, k + 1, name, k + 1);
    }
    return UTIL_OK;
}

int rep_timeline_close(rep_timeline *t, bool keep, const char *path, char *err, size_t errlen)
{
    if (!t->out.f)
        return UTIL_OK;
    end_unit(t);
    fputs("\n]}\n", t->out.f);
    bool ok = !t->failed && !ferror(t->out.f);
    int rc = rep_stream_close(&t->out, keep && ok, path, err, errlen);
    if (!rc && keep && !ok)
        rc = util_fail(UTIL_ERUN, err, errlen, "%s: cannot write the timeline", path);
    free_state(t);
    return rc;
}
