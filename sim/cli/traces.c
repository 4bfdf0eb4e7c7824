/* traces.c: the trace files a command line asks for, opened, fed and closed together. */
#define _POSIX_C_SOURCE 200809L /* sigaction */
#include <stdio.h>
#include <string.h>

#include "../systemc/systemc.h"
#include "internal.h"
#include "traces.h"

const char *cli_tracing(const options *o)
{
    return o->trace        ? "--trace"
           : o->timeline   ? "--timeline"
           : o->dram_trace ? "--dram-trace"
           : o->vcd        ? "--vcd"
                           : NULL;
}

/* The signal that interrupted a traced run, 0: none. A handler can reach nothing but a
 * static flag; the engine polls it (eng_observer.stop) and ends the run, so that the
 * traces can finish their streams. */
static volatile sig_atomic_t interrupted;

static void note_interrupt(int sig)
{
    interrupted = sig;
}

/* With traces, SIGINT and SIGTERM stop the engine instead of the process; trapping off
 * puts back the handlers there were. */
static void trap_interrupts(bool on, struct sigaction old[2])
{
    static const int sigs[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        if (!on) {
            sigaction(sigs[i], &old[i], NULL);
            continue;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = note_interrupt;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, &old[i]);
    }
}

/* Closes what is open, keeping each file when keep is set and everything before it was
 * written; returns the first failure (its message in msg). */
static int close_all(const options *o, cli_traces *t, bool keep, char *msg, size_t len)
{
    char m[512];
    int rc = UTIL_OK, r;
    if (o->trace && t->ev.gz && (r = rep_trace_close(&t->ev, keep, o->trace, m, sizeof m)) && !rc)
        rc = r, snprintf(msg, len, "%s", m);
    if (o->timeline && t->tl.out.f &&
        (r = rep_timeline_close(&t->tl, keep && !rc, o->timeline, m, sizeof m)) && !rc)
        rc = r, snprintf(msg, len, "%s", m);
    if (o->dram_trace && t->dram.out.f &&
        (r = rep_dram_trace_close(&t->dram, keep && !rc, o->dram_trace, m, sizeof m)) && !rc)
        rc = r, snprintf(msg, len, "%s", m);
    if (t->sc && (r = bsc_close(t->sc, keep && !rc, m, sizeof m)) && !rc)
        rc = r, snprintf(msg, len, "%s", m);
    t->sc = NULL;
    return rc;
}

int cli_traces_open(const options *o, const arch_desc *a, cli_traces *t, char *msg, size_t len)
{
    memset(t, 0, sizeof *t);
    int rc = UTIL_OK;
    if (o->trace &&
        !(rc = rep_trace_open(&t->ev, o->trace, o->trace_kinds, arch_pe_count(a), msg, len))) {
        t->ev.lo = o->trace_lo, t->ev.hi = o->trace_hi, t->ev.sample = o->trace_sample;
        rep_fanout_add(&t->fan, &t->ev.obs, rep_trace_unit, &t->ev);
    }
    if (!rc && o->timeline &&
        !(rc = rep_timeline_open(&t->tl, o->timeline, a, (uint32_t)o->timeline_slices, msg, len))) {
        t->tl.lo = o->trace_lo, t->tl.hi = o->trace_hi;
        rep_fanout_add(&t->fan, &t->tl.obs, rep_timeline_unit, &t->tl);
    }
    if (!rc && o->dram_trace && !(rc = rep_dram_trace_open(&t->dram, o->dram_trace, msg, len)))
        rep_fanout_add(&t->fan, &t->dram.obs, NULL, NULL);
    if (!rc && o->systemc &&
        !(rc = bsc_open(a, o->vcd, o->trace_lo, o->trace_hi, &interrupted, &t->sc, msg, len)))
        t->runner = bsc_runner(t->sc);
    if (rc) {
        char m[512];
        close_all(o, t, false, m, sizeof m);
        return rc;
    }
    interrupted = 0;
    t->trapped = t->fan.n || o->vcd;
    if (t->trapped) {
        /* (each: cli_traces_observer hands a lone trace to the engine directly) */
        t->fan.obs.stop = t->ev.obs.stop = t->tl.obs.stop = t->dram.obs.stop = &interrupted;
        trap_interrupts(true, t->old);
    }
    return UTIL_OK;
}

const eng_observer *cli_traces_observer(const cli_traces *t)
{
    /* (one trace: told directly, without the fan's loop) */
    return t->fan.n == 1 ? t->fan.to[0] : t->fan.n ? &t->fan.obs : NULL;
}

const eng_runner *cli_traces_engine(const cli_traces *t)
{
    return t->sc ? &t->runner : NULL;
}

void cli_traces_unit(cli_traces *t, run_progress *rp)
{
    if (t->fan.n)
        rp->unit = rep_fanout_unit, rp->unit_ctx = &t->fan;
    rp->obs = cli_traces_observer(t);
    rp->engine = cli_traces_engine(t);
}

int cli_traces_close(const options *o, cli_traces *t, int rc, char *msg, size_t len)
{
    if (!t->trapped) {
        char m[512];
        int crc = close_all(o, t, rc == UTIL_OK, m, sizeof m); /* (a SystemC engine) */
        if (crc && !rc)
            rc = crc, snprintf(msg, len, "%s", m);
        return rc;
    }
    /* (interrupted: the streams end with what the run did, and the run with 128 + sig) */
    if (interrupted) {
        rc = UTIL_OK;
        snprintf(msg, len, "interrupted by signal %d; the traces hold the run so far",
                 (int)interrupted);
    }
    char m[512];
    int trc = close_all(o, t, rc == UTIL_OK, m, sizeof m);
    trap_interrupts(false, t->old);
    if (trc && !rc) {
        snprintf(msg, len, "%s", m);
        return trc;
    }
    return interrupted ? 128 + interrupted : rc;
}
