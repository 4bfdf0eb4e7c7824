/* trace.c: a run's engine events as a gzip-compressed CSV, written while the run goes. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"
#include "report.h"

static const char *const kind_names[REP_TRACE_KINDS] = {"pe", "noc", "dram", "op", "spm", "dma"};

int rep_trace_kinds(const char *list, unsigned *kinds, char *err, size_t errlen)
{
    *kinds = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        unsigned i = 0;
        while (i < REP_TRACE_KINDS && strcmp(k, kind_names[i]))
            i++;
        if (i == REP_TRACE_KINDS)
            return util_fail(UTIL_ECONFIG, err, errlen,
                             "--trace-events=%s: unknown kind '%s' (allowed: pe, noc, dram, op, "
                             "spm, dma, comma-separated)",
                             list, k);
        *kinds |= 1u << i;
    }
    if (!*kinds)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "--trace-events=%s: no kind (allowed: pe, noc, dram, op, spm, dma)", list);
    return UTIL_OK;
}

/* Hands the buffered rows to zlib. */
static void flush_rows(rep_trace *t)
{
    if (t->used && gzwrite(t->gz, t->buf, (unsigned)t->used) != (int)t->used)
        t->failed = true;
    t->used = 0;
}

/* Appends s (n bytes) to the buffer. */
static void put(rep_trace *t, const char *s, size_t n)
{
    memcpy(t->buf + t->used, s, n);
    t->used += n;
}

/* Appends v in decimal, then c. (printf per field cost more than the engine itself.) */
static void put_u64(rep_trace *t, uint64_t v, char c)
{
    char d[24];
    size_t n = sizeof d;
    d[--n] = c;
    do
        d[--n] = (char)('0' + v % 10);
    while (v /= 10);
    put(t, d + n, sizeof d - n);
}

static void row(rep_trace *t, uint64_t cycle, const char *comp, uint32_t index, unsigned kind,
                uint64_t tag, uint64_t duration, uint64_t amount)
{
    if (kind != 3 && (cycle < t->lo || (t->hi && cycle >= t->hi) ||
                      (t->sample > 1 && t->seen[kind]++ % t->sample)))
        return;
    if (t->used > sizeof t->buf - 256) /* a row is under 256 bytes */
        flush_rows(t);
    put_u64(t, cycle, ',');
    put(t, comp, strlen(comp));
    if (index != UINT32_MAX) /* (no index: not a PE or a port) */
        put_u64(t, index, ',');
    else
        put(t, ",", 1);
    put(t, kind_names[kind], strlen(kind_names[kind]));
    put(t, ",", 1);
    if (tag != UINT64_MAX) /* (no tag: a configuration's message, DRAM, SPM, op) */
        put_u64(t, tag, ',');
    else
        put(t, ",", 1);
    put(t, t->op, strlen(t->op));
    put(t, ",", 1);
    put_u64(t, duration, ',');
    put_u64(t, amount, '\n');
    t->rows++;
}

static void on_event(void *ctx, const eng_event *e)
{
    rep_trace *t = ctx;
    /* (an event takes at least its cycle: the unit's cycles end after its last) */
    uint64_t at = t->offset + e->cycle, to = at + (e->duration ? e->duration : 1);
    if (to > t->end)
        t->end = to;
    static const unsigned kind_of[ENG_EVENT_KIND_COUNT] = {[ENG_EVENT_PE] = 0,
                                                           [ENG_EVENT_NOC] = 1,
                                                           [ENG_EVENT_DRAM] = 2,
                                                           [ENG_EVENT_SPM] = 4,
                                                           [ENG_EVENT_DMA] = 5};
    unsigned kind = kind_of[e->kind];
    if (!(t->kinds & (1u << kind)))
        return;
    if (e->kind == ENG_EVENT_PE)
        row(t, at, "pe", e->component, kind, e->tag, e->duration, e->amount);
    else if (e->kind == ENG_EVENT_NOC)
        row(t, at, e->component < t->n_pes ? "pe" : "port",
            e->component < t->n_pes ? e->component : e->component - t->n_pes, kind, e->tag,
            e->duration, e->amount);
    else if (e->kind == ENG_EVENT_DRAM)
        row(t, at, e->write ? "dram-write" : "dram-read", UINT32_MAX, kind, UINT64_MAX, e->duration,
            e->amount);
    else if (e->kind == ENG_EVENT_SPM)
        row(t, at, e->write ? "spm-write" : "spm-read", UINT32_MAX, kind, UINT64_MAX, e->duration,
            e->amount);
    else
        row(t, at, e->write ? "dma-out" : "dma-in", UINT32_MAX, kind, e->tag, e->duration,
            e->amount);
}

/* The op row of the unit that just ended: its start and its length. */
static void end_unit(rep_trace *t)
{
    if (t->op[0] && (t->kinds & (1u << 3)))
        row(t, t->offset, "op", UINT32_MAX, 3, UINT64_MAX, t->end - t->offset, 0);
}

void rep_trace_unit(void *ctx, const run_unit_desc *u)
{
    rep_trace *t = ctx;
    end_unit(t);
    t->offset = t->end;
    snprintf(t->op, sizeof t->op, "%s", u->op);
}

int rep_trace_open(rep_trace *t, const char *path, unsigned kinds, uint32_t n_pes, char *err,
                   size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->kinds = kinds, t->n_pes = n_pes;
    int rc = rep_stream_open(&t->out, path, false, err, errlen);
    if (rc)
        return rc;
    int fd = dup(fileno(t->out.f));
    t->gz = fd >= 0 ? gzdopen(fd, "wb1") : NULL;
    if (!t->gz) {
        if (fd >= 0)
            close(fd);
        rep_stream_close(&t->out, false, path, err, errlen);
        return util_fail(UTIL_ERUN, err, errlen, "%s: cannot start the gzip stream", path);
    }
    /* (every row kind, whatever is written: the op rows' lengths come from them all) */
    t->obs = (eng_observer){.event = on_event,
                            .kinds = 1u << ENG_EVENT_PE | 1u << ENG_EVENT_NOC |
                                     1u << ENG_EVENT_DRAM | 1u << ENG_EVENT_SPM |
                                     1u << ENG_EVENT_DMA,
                            .ctx = t};
    if (gzprintf(t->gz,
                 "# bflysim trace %d: one row per event (traces/README.md)\n"
                 "cycle,component,kind,tag,op,duration,amount\n",
                 REP_TRACE_VERSION) <= 0)
        t->failed = true;
    return UTIL_OK;
}

int rep_trace_close(rep_trace *t, bool keep, const char *path, char *err, size_t errlen)
{
    if (!t->gz)
        return UTIL_OK;
    end_unit(t);
    flush_rows(t);
    bool ok = gzclose(t->gz) == Z_OK && !t->failed;
    t->gz = NULL;
    int rc = rep_stream_close(&t->out, keep && ok, path, err, errlen);
    if (!rc && keep && !ok)
        rc = util_fail(UTIL_ERUN, err, errlen, "%s: cannot write the gzip stream", path);
    return rc;
}
