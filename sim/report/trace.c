/* trace.c: a run's engine events as a gzip-compressed CSV, written while the run goes. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"
#include "report.h"

static const char *const kind_names[REP_TRACE_KINDS] = {"pe", "noc", "dram", "op"};

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
                             "comma-separated)",
                             list, k);
        *kinds |= 1u << i;
    }
    if (!*kinds)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "--trace-events=%s: no kind (allowed: pe, noc, dram, op)", list);
    return UTIL_OK;
}

static void row(rep_trace *t, uint64_t cycle, const char *comp, uint32_t index, unsigned kind,
                uint64_t tag, uint64_t duration, uint64_t amount)
{
    if (kind != 3 && (cycle < t->lo || (t->hi && cycle >= t->hi) ||
                      (t->sample > 1 && t->seen[kind]++ % t->sample)))
        return;
    char idx[16] = "", tg[24] = ""; /* (no index; no tag: a configuration's message) */
    if (index != UINT32_MAX)
        snprintf(idx, sizeof idx, "%u", index);
    if (tag != UINT64_MAX)
        snprintf(tg, sizeof tg, "%" PRIu64, tag);
    if (gzprintf(t->gz, "%" PRIu64 ",%s%s,%s,%s,%s,%" PRIu64 ",%" PRIu64 "\n", cycle, comp, idx,
                 kind_names[kind], tg, t->op, duration, amount) <= 0)
        t->failed = true;
    t->rows++;
}

static void on_event(void *ctx, const eng_event *e)
{
    rep_trace *t = ctx;
    uint64_t at = t->offset + e->cycle;
    if (at + e->duration > t->end)
        t->end = at + e->duration;
    unsigned kind = e->kind == ENG_EVENT_PE ? 0 : e->kind == ENG_EVENT_NOC ? 1 : 2;
    if (!(t->kinds & (1u << kind)))
        return;
    if (e->kind == ENG_EVENT_PE)
        row(t, at, "pe", e->component, kind, e->tag, e->duration, e->amount);
    else if (e->kind == ENG_EVENT_NOC)
        row(t, at, e->component < t->n_pes ? "pe" : "port",
            e->component < t->n_pes ? e->component : e->component - t->n_pes, kind, e->tag,
            e->duration, e->amount);
    else
        row(t, at, e->write ? "dram-write" : "dram-read", UINT32_MAX, kind, 0, e->duration,
            e->amount);
}

/* The op row of the unit that just ended: its start and its length. */
static void end_unit(rep_trace *t)
{
    if (t->op[0] && (t->kinds & (1u << 3)))
        row(t, t->offset, "op", UINT32_MAX, 3, 0, t->end - t->offset, 0);
}

void rep_trace_unit(void *ctx, const char *op)
{
    rep_trace *t = ctx;
    end_unit(t);
    t->offset = t->end;
    snprintf(t->op, sizeof t->op, "%s", op);
}

/* The DRAM bursts, passed on to the other observer. */
static void pass_burst(void *ctx, uint64_t cycle, uint64_t byte_addr, bool write)
{
    const rep_trace *t = ctx;
    t->also->dram_burst(t->also->ctx, cycle, byte_addr, write);
}

int rep_trace_open(rep_trace *t, const char *path, unsigned kinds, uint32_t n_pes,
                   const eng_observer *also, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->kinds = kinds, t->n_pes = n_pes, t->also = also;
    int rc = rep_stream_open(&t->out, path, err, errlen);
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
    t->obs = (eng_observer){
        .dram_burst = also && also->dram_burst ? pass_burst : NULL, .event = on_event, .ctx = t};
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
    bool ok = gzclose(t->gz) == Z_OK && !t->failed;
    t->gz = NULL;
    int rc = rep_stream_close(&t->out, keep && ok, path, err, errlen);
    if (!rc && keep && !ok)
        rc = util_fail(UTIL_ERUN, err, errlen, "%s: cannot write the gzip stream", path);
    return rc;
}
