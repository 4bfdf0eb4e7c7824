/* ctl.c: the controller: phases, SPM slots, DMA requests, feeding tags into the array. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { SLOT_FREE, SLOT_LOADING, SLOT_READY, SLOT_FEEDING };

void eng_ctl_free(eng_sim *s)
{
    free(s->ctl.in_state);
    free(s->ctl.in_reads);
    free(s->ctl.in_tag);
    free(s->ctl.out_elems);
    free(s->ctl.out_done);
    free(s->ctl.feed);
    free(s->ctl.feed_credit);
    free(s->ctl.feed_tag);
    free(s->ctl.drain_instr);
    free(s->ctl.drain_port);
    uint64_t keep_stored = s->ctl.stored;
    memset(&s->ctl, 0, sizeof s->ctl);
    s->ctl.stored = keep_stored;
}

static uint64_t in_slot_addr(const eng_sim *s, uint32_t slot)
{
    return (uint64_t)slot * s->ph->tag_elems * s->elem_bytes;
}

static uint64_t out_slot_addr(const eng_sim *s, uint32_t slot)
{
    return (uint64_t)(s->ph->in_slots + slot) * s->ph->tag_elems * s->elem_bytes;
}

uint64_t eng_out_slot_addr(const eng_sim *s, uint64_t tag)
{
    return out_slot_addr(s, (uint32_t)(tag % s->ph->out_slots));
}

static void issue_weights(eng_sim *s)
{
    const eng_phase *ph = s->ph;
    while (s->ctl.next_weight < ph->n_instr && s->ctl.stage_free) {
        uint32_t slot = (s->ctl.stage_free & 1u) ? 0 : 1;
        s->ctl.stage_free &= ~(1u << slot);
        uint32_t i = s->ctl.next_weight++;
        s->ctl.stage_instr[slot] = i;
        const eng_instr *in = &ph->instr[i];
        if (in->weight_elems == 0) {
            eng_post(s, &s->ctl_c, &s->ctl_c, s->now, EV_CTL_STAGED, slot, 0, NULL);
            continue;
        }
        dma_desc *d = eng_dma_alloc(s);
        if (!d) {
            eng_oom(s);
            return;
        }
        d->dir = DMA_WEIGHTS;
        d->slot = slot;
        uint64_t addr = in->weight_addr + s->repeat * ph->weight_stride;
        if (in->weight_run)
            d->dram = (eng_pattern){addr, in->weight_run, in->weight_pitch,
                                    in->weight_elems / in->weight_run};
        else
            d->dram = (eng_pattern){addr, in->weight_elems, in->weight_elems, 1};
        d->spm_addr = s->ctl.stage_base + (uint64_t)slot * s->ctl.stage_elems * s->elem_bytes;
        d->elems = in->weight_elems;
        eng_dma_submit(s, &s->ctl_c, d);
    }
}

/* A tag's DRAM pattern must lie inside the image and fit its SPM slot (a mapping bug
 * otherwise; functional runs would copy out of bounds). */
static void check_tag_pattern(eng_sim *s, const eng_pattern *p, uint64_t tag)
{
    uint64_t elems = eng_pattern_elems(p);
    if (!elems)
        return;
    uint64_t last = p->first + (p->count - 1) * p->stride + p->run;
    if (last > s->p->dram_elems || elems > s->ph->tag_elems)
        eng_fault(s,
                  "phase %u: tag %llu moves %llu elements up to DRAM element %llu; the image "
                  "has %llu and the slot %u",
                  s->phase, (unsigned long long)tag, (unsigned long long)elems,
                  (unsigned long long)last, (unsigned long long)s->p->dram_elems, s->ph->tag_elems);
}

static void issue_inputs(eng_sim *s)
{
    const eng_phase *ph = s->ph;
    while (s->ctl.next_in < ph->n_tags) {
        uint32_t slot = (uint32_t)(s->ctl.next_in % ph->in_slots);
        if (s->ctl.in_state[slot] != SLOT_FREE)
            return;
        dma_desc *d = eng_dma_alloc(s);
        if (!d) {
            eng_oom(s);
            return;
        }
        eng_pattern out;
        d->dir = DMA_IN;
        d->slot = slot;
        d->tag = s->ctl.next_in;
        ph->tag_dma(ph->tag_ctx, s->repeat * ph->n_tags + d->tag, &d->dram, &out);
        check_tag_pattern(s, &d->dram, d->tag);
        d->spm_addr = in_slot_addr(s, slot);
        d->elems = eng_pattern_elems(&d->dram);
        s->ctl.in_state[slot] = SLOT_LOADING;
        s->ctl.in_tag[slot] = d->tag;
        s->ctl.next_in++;
        eng_dma_submit(s, &s->ctl_c, d);
    }
}

static void try_feed(eng_sim *s)
{
    const eng_phase *ph = s->ph;
    while (s->ctl.next_feed < ph->n_tags) {
        uint64_t tag = s->ctl.next_feed;
        uint32_t slot = (uint32_t)(tag % ph->in_slots);
        uint32_t st = s->ctl.in_state[slot];
        if ((st != SLOT_READY && st != SLOT_FEEDING) || s->ctl.in_tag[slot] != tag)
            return;
        s->ctl.in_state[slot] = SLOT_FEEDING;
        while (s->ctl.feed_x < s->ctl.n_feed) {
            uint32_t x = s->ctl.feed[s->ctl.feed_x];
            const eng_xfer *t = &ph->xfer[x];
            uint32_t dst = (uint32_t)t->dst_instr;
            if (s->ctl.feed_tag[dst] != tag) {
                if (s->ctl.feed_credit[dst] == 0)
                    return; /* a credit from the consumer resumes feeding */
                s->ctl.feed_credit[dst]--;
                s->ctl.feed_tag[dst] = tag;
            }
            spm_req *r = eng_spm_req_alloc(s);
            msg *m = r ? eng_msg_alloc(s) : NULL;
            if (!m) {
                eng_oom(s);
                return;
            }
            m->kind = MSG_DATA;
            m->index = x;
            m->tag = tag;
            m->src_node = s->n_nodes - 2 * s->a->array.rows + t->spm_port;
            m->dst_node = ph->instr[dst].pe;
            r->write = false;
            r->after = SPM_AFTER_FEED;
            r->base = in_slot_addr(s, slot);
            r->pat = t->spm;
            r->port = t->spm_port;
            r->m = m;
            r->slot = slot;
            s->ctl.in_reads[slot]++;
            s->ctl.feed_x++;
            eng_spm_submit(s, &s->ctl_c, r);
        }
        s->ctl.feed_x = 0;
        s->ctl.next_feed++;
    }
}

static void try_store(eng_sim *s)
{
    const eng_phase *ph = s->ph;
    while (s->ctl.next_store < ph->n_tags) {
        uint32_t slot = (uint32_t)(s->ctl.next_store % ph->out_slots);
        if (!s->ctl.out_done[slot])
            return;
        s->ctl.out_done[slot] = false;
        dma_desc *d = eng_dma_alloc(s);
        if (!d) {
            eng_oom(s);
            return;
        }
        eng_pattern in;
        d->dir = DMA_OUT;
        d->slot = slot;
        d->tag = s->ctl.next_store++;
        ph->tag_dma(ph->tag_ctx, s->repeat * ph->n_tags + d->tag, &in, &d->dram);
        check_tag_pattern(s, &d->dram, d->tag);
        d->spm_addr = out_slot_addr(s, slot);
        d->elems = eng_pattern_elems(&d->dram);
        eng_dma_submit(s, &s->ctl_c, d);
    }
}

/* Starts repeat s->repeat of phase s->phase. */
static void begin_phase(eng_sim *s)
{
    const eng_phase *ph = &s->p->phases[s->phase];
    s->ph = ph;
    s->epoch++;
    eng_ctl_free(s);
    s->ctl.stored = 0;
    s->ctl.in_state = calloc(ph->in_slots, sizeof *s->ctl.in_state);
    s->ctl.in_reads = calloc(ph->in_slots, sizeof *s->ctl.in_reads);
    s->ctl.in_tag = calloc(ph->in_slots, sizeof *s->ctl.in_tag);
    s->ctl.out_elems = calloc(ph->out_slots, sizeof *s->ctl.out_elems);
    s->ctl.out_done = calloc(ph->out_slots, sizeof *s->ctl.out_done);
    s->ctl.feed = calloc(ph->n_xfer + 1, sizeof *s->ctl.feed);
    s->ctl.feed_credit = calloc(ph->n_instr + 1, sizeof *s->ctl.feed_credit);
    s->ctl.feed_tag = calloc(ph->n_instr + 1, sizeof *s->ctl.feed_tag);
    s->ctl.drain_instr = calloc(ph->n_instr + 1, sizeof *s->ctl.drain_instr);
    s->ctl.drain_port = calloc(ph->n_instr + 1, sizeof *s->ctl.drain_port);
    if (!s->ctl.in_state || !s->ctl.in_reads || !s->ctl.in_tag || !s->ctl.out_elems ||
        !s->ctl.out_done || !s->ctl.feed || !s->ctl.feed_credit || !s->ctl.feed_tag ||
        !s->ctl.drain_instr || !s->ctl.drain_port) {
        eng_oom(s);
        return;
    }
    for (uint32_t i = 0; i < ph->n_instr; i++) {
        s->ctl.feed_credit[i] = s->a->pe.tags;
        s->ctl.feed_tag[i] = UINT64_MAX;
    }
    for (uint32_t x = 0; x < ph->n_xfer; x++) {
        const eng_xfer *t = &ph->xfer[x];
        if (t->src_instr < 0)
            s->ctl.feed[s->ctl.n_feed++] = x;
        if (t->dst_instr >= 0)
            continue;
        /* One output-slot credit per producing instruction, returned over its first port. */
        bool seen = false;
        for (uint32_t k = 0; k < s->ctl.n_drain && !seen; k++)
            seen = s->ctl.drain_instr[k] == (uint32_t)t->src_instr;
        if (!seen) {
            s->ctl.drain_instr[s->ctl.n_drain] = (uint32_t)t->src_instr;
            s->ctl.drain_port[s->ctl.n_drain++] = t->spm_port;
        }
    }
    s->ctl.stage_elems = eng_phase_max_weights(ph);
    s->ctl.stage_base = out_slot_addr(s, ph->out_slots);
    s->ctl.stage_free = 3u;
    if (s->functional) {
        free(s->spm_data);
        s->spm_data_elems = eng_phase_spm_elems(ph);
        s->spm_data = calloc(s->spm_data_elems, sizeof *s->spm_data);
        if (!s->spm_data) {
            eng_oom(s);
            return;
        }
    }
    if (eng_pe_begin_phase(s)) {
        eng_oom(s);
        return;
    }
    issue_weights(s);
    issue_inputs(s);
}

static void end_phase(eng_sim *s)
{
    eng_pe_end_phase(s);
    s->st.tags += s->ph->n_tags;
    if (++s->repeat >= s->ph->repeats) {
        s->repeat = 0;
        s->phase++;
    }
    if (s->phase >= s->p->n_phases) {
        s->done = true;
        s->st.cycles = s->now;
        return;
    }
    eng_post(s, &s->ctl_c, &s->ctl_c, s->now, EV_CTL_PHASE, 0, 0, NULL);
}

/* Credits for the output slots go back to every instruction that writes into them. */
static void return_out_credits(eng_sim *s)
{
    for (uint32_t k = 0; k < s->ctl.n_drain; k++) {
        uint32_t i = s->ctl.drain_instr[k], pe = s->ph->instr[i].pe;
        uint32_t port_node = s->n_nodes - 2 * s->a->array.rows + s->ctl.drain_port[k];
        uint64_t lat = 1 + (uint64_t)eng_manhattan(s, pe, port_node) * s->a->noc.hop_latency;
        eng_post(s, &s->ctl_c, &s->pes[pe].base, s->now + lat, EV_PE_CREDIT, i, UINT64_MAX, NULL);
    }
}

void eng_ctl_handle(eng_sim *s, const ev *e)
{
    const eng_phase *ph = s->ph;
    switch (e->kind) {
    case EV_CTL_PHASE:
        if (s->phase >= s->p->n_phases) {
            s->done = true;
            s->st.cycles = s->now;
            return;
        }
        begin_phase(s);
        if (!s->fault && s->ph->n_tags == 0)
            end_phase(s);
        return;
    case EV_CTL_IN_READY:
        s->ctl.in_state[e->a] = SLOT_READY;
        try_feed(s);
        return;
    case EV_CTL_FEED_READ: {
        uint32_t slot = e->a;
        s->ctl.in_reads[slot]--;
        /* The slot is free once every feed of its tag has been issued and read out. */
        if (s->ctl.in_reads[slot] == 0 && s->ctl.in_tag[slot] < s->ctl.next_feed) {
            s->ctl.in_state[slot] = SLOT_FREE;
            issue_inputs(s);
        }
        return;
    }
    case EV_CTL_CREDIT:
        if (e->epoch != s->epoch)
            return; /* the phase it belonged to is over */
        s->ctl.feed_credit[e->a]++;
        try_feed(s);
        return;
    case EV_CTL_OUT_WRITTEN: {
        uint32_t slot = (uint32_t)(e->b % ph->out_slots);
        s->ctl.out_elems[slot] += e->a;
        if (s->ctl.out_elems[slot] == (ph->out_tag_elems ? ph->out_tag_elems : ph->tag_elems)) {
            s->ctl.out_done[slot] = true;
            try_store(s);
        }
        return;
    }
    case EV_CTL_STORED: {
        uint32_t slot = (uint32_t)(e->b % ph->out_slots);
        s->ctl.out_elems[slot] = 0;
        s->ctl.stored++;
        return_out_credits(s);
        if (s->ctl.stored == ph->n_tags)
            end_phase(s);
        return;
    }
    case EV_CTL_STAGED: {
        uint32_t slot = e->a, i = s->ctl.stage_instr[slot];
        const eng_instr *in = &ph->instr[i];
        spm_req *r = eng_spm_req_alloc(s);
        msg *m = r ? eng_msg_alloc(s) : NULL;
        if (!m) {
            eng_oom(s);
            return;
        }
        uint32_t port = eng_spm_port_near(s->a, in->pe);
        m->kind = MSG_CONFIG;
        m->index = i;
        m->src_node = s->n_nodes - 2 * s->a->array.rows + port;
        m->dst_node = in->pe;
        r->write = false;
        r->after = SPM_AFTER_CONFIG;
        r->base = s->ctl.stage_base + (uint64_t)slot * s->ctl.stage_elems * s->elem_bytes;
        r->pat = (eng_pattern){0, in->weight_elems, in->weight_elems, in->weight_elems ? 1 : 0};
        r->port = port;
        r->m = m;
        r->slot = slot;
        eng_spm_submit(s, &s->ctl_c, r);
        return;
    }
    case EV_CTL_STAGE_SENT:
        s->ctl.stage_free |= 1u << e->a;
        issue_weights(s);
        return;
    default:
        eng_fault(s, "controller got unexpected event %u", e->kind);
    }
}
