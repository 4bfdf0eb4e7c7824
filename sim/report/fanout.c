/* fanout.c: several observers of one run (the traces a command line asks for), told together. */
#include "report.h"

static void fan_burst(void *ctx, uint64_t cycle, uint64_t byte_addr, bool write)
{
    const rep_fanout *f = ctx;
    for (unsigned i = 0; i < f->n; i++)
        if (f->to[i]->dram_burst)
            f->to[i]->dram_burst(f->to[i]->ctx, cycle, byte_addr, write);
}

static void fan_event(void *ctx, const eng_event *e)
{
    const rep_fanout *f = ctx;
    for (unsigned i = 0; i < f->n; i++)
        if (f->to[i]->event && (!f->to[i]->kinds || (f->to[i]->kinds >> e->kind & 1)))
            f->to[i]->event(f->to[i]->ctx, e);
}

void rep_fanout_add(rep_fanout *f, const eng_observer *o,
                    void (*unit)(void *ctx, const run_unit_desc *u), void *unit_ctx)
{
    if (f->n == REP_FANOUT_MAX)
        return;
    f->unit[f->n] = unit, f->unit_ctx[f->n] = unit_ctx;
    f->to[f->n++] = o;
    f->obs.ctx = f;
    if (o->dram_burst)
        f->obs.dram_burst = fan_burst;
    if (o->event) {
        bool first = f->obs.event == NULL;
        f->obs.event = fan_event;
        /* what any of them wants (0: all) */
        f->obs.kinds = first || (f->obs.kinds && o->kinds) ? f->obs.kinds | o->kinds : 0;
    }
}

void rep_fanout_unit(void *ctx, const run_unit_desc *u)
{
    const rep_fanout *f = ctx;
    for (unsigned i = 0; i < f->n; i++)
        if (f->unit[i])
            f->unit[i](f->unit_ctx[i], u);
}
