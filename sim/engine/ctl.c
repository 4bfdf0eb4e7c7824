/* ctl.c: the controller: groups of phases, SPM slots, DMA requests, feeding tags into the array. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { SLOT_FREE, SLOT_LOADING, SLOT_READY, SLOT_FEEDING };

static void free_stream(ctl_stream *c)
{
    free(c->in_state);
    free(c->in_reads);
    free(c->in_tag);
    free(c->in_parts);
    free(c->out_parts);
    free(c->out_elems);
    free(c->out_done);
    free(c->out_stored);
    free(c->feed);
    free(c->feed_credit);
    free(c->feed_tag);
    free(c->fed_first);
    free(c->fed_next);
    free(c->drain_instr);
    free(c->drain_port);
    free(c->streamed);
    free(c->part_next);
    free(c->part_room);
}

void eng_ctl_free(eng_sim *s)
{
    for (uint32_t k = 0; k < s->n_streams; k++)
        free_stream(&s->str[k]);
    free(s->str);
    s->str = NULL;
    s->n_streams = 0;
}

static uint64_t in_slot_addr(const eng_sim *s, const ctl_stream *c, uint32_t slot)
{
    return c->spm_base + (uint64_t)slot * c->ph->tag_elems * s->elem_bytes;
}

static uint64_t out_slot_addr(const eng_sim *s, const ctl_stream *c, uint32_t slot)
{
    return c->spm_base + (uint64_t)(c->ph->in_slots + slot) * c->ph->tag_elems * s->elem_bytes;
}

/* SPM byte address of weight staging slot `slot` (0 or 1) of stream c. */
static uint64_t stage_slot_addr(const eng_sim *s, const ctl_stream *c, uint32_t slot)
{
    return c->stage_base + (uint64_t)slot * c->stage_elems * s->elem_bytes;
}

uint64_t eng_out_slot_addr(const eng_sim *s, uint32_t k, uint64_t tag)
{
    const ctl_stream *c = &s->str[k];
    return out_slot_addr(s, c, (uint32_t)(tag % c->ph->out_slots));
}

bool eng_dma_onchip(const eng_sim *s, const dma_desc *d, uint64_t *base, eng_pattern *pat)
{
    if (eng_region_place(s->p, &d->dram, pat)) {
        *base = s->onchip_base;
        return true;
    }
    /* a ring serves its two ends only: its consumer's loads and its producer's stores */
    uint32_t k = d->dir == DMA_IN ? d->stream : d->stream + 1;
    if (d->dir == DMA_WEIGHTS || k >= s->n_streams)
        return false;
    const ctl_stream *c = &s->str[k];
    if (!eng_ring_place(c->ph, c->ring_elems, &d->dram, pat))
        return false;
    *base = c->ring_base;
    return true;
}

/* Takes a free weight staging slot of stream c for instruction i (part: a streamed part's
 * number, UINT64_MAX for its configuration). */
static uint32_t take_stage(ctl_stream *c, uint32_t i, uint64_t part)
{
    uint32_t slot = 0;
    while (!(c->stage_free & (1u << slot)))
        slot++;
    c->stage_free &= ~(1u << slot);
    c->stage_instr[slot] = i;
    c->stage_part[slot] = part;
    return slot;
}

/* Loads elems weights from image pattern dram into staging slot `slot`. */
static void load_stage(eng_sim *s, uint32_t k, uint32_t slot, eng_pattern dram, uint64_t elems)
{
    ctl_stream *c = &s->str[k];
    dma_desc *d = eng_dma_alloc(s);
    if (!d) {
        eng_oom(s);
        return;
    }
    d->dir = DMA_WEIGHTS;
    d->stream = k;
    d->slot = slot;
    d->dram = dram;
    d->spm_addr = stage_slot_addr(s, c, slot);
    d->elems = elems;
    eng_dma_submit(s, &s->ctl_c, d);
}

/* The configured instruction whose next streamed part belongs to the earliest tag (the
 * lowest index on ties) and has a part buffer free on its PE; UINT32_MAX when none. */
static uint32_t next_streamed(const ctl_stream *c)
{
    const eng_phase *ph = c->ph;
    uint32_t best = UINT32_MAX;
    uint64_t best_tag = UINT64_MAX;
    for (uint32_t j = 0; j < c->n_streamed && c->streamed[j] < c->next_weight; j++) {
        uint32_t i = c->streamed[j], P = ph->instr[i].weight_parts;
        if (!c->part_room[i] || c->part_next[i] >= ph->n_tags * P)
            continue;
        if (c->part_next[i] / P < best_tag)
            best_tag = c->part_next[i] / P, best = i;
    }
    return best;
}

/* Configurations first, in order, then streamed weight parts, while staging slots are
 * free. A streamed instruction's configuration carries no weights. */
static void issue_weights(eng_sim *s, uint32_t k)
{
    ctl_stream *c = &s->str[k];
    const eng_phase *ph = c->ph;
    while (c->next_weight < ph->n_instr && c->stage_free) {
        uint32_t i = c->next_weight++;
        const eng_instr *in = &ph->instr[i];
        uint32_t slot = take_stage(c, i, UINT64_MAX);
        if (eng_instr_config_elems(in) == 0) {
            eng_post_ctl(s, &s->ctl_c, s->now, EV_CTL_STAGED, k, slot, 0);
            continue;
        }
        load_stage(s, k, slot,
                   eng_instr_weights(in, in->weight_addr + s->repeat * ph->weight_stride),
                   in->weight_elems);
    }
    uint32_t i;
    while (c->stage_free && (i = next_streamed(c)) != UINT32_MAX) {
        const eng_instr *in = &ph->instr[i];
        uint64_t part = c->part_next[i]++, n = eng_instr_load_elems(in);
        c->part_room[i]--;
        uint32_t slot = take_stage(c, i, part);
        uint64_t at = in->weight_addr + s->repeat * ph->weight_stride + part % in->weight_parts * n;
        load_stage(s, k, slot, (eng_pattern){at, n, n, 1}, n);
    }
}

/* A tag's DRAM parts must lie inside the image and fit its SPM slot together (a mapping
 * bug otherwise; functional runs would copy out of bounds). */
static void check_tag_parts(eng_sim *s, const ctl_stream *c, const eng_pattern *p, uint32_t n,
                            uint64_t tag)
{
    uint64_t elems = eng_parts_elems(p, n), last = 0;
    for (uint32_t k = 0; k < n; k++)
        if (eng_pattern_elems(&p[k]) && eng_pattern_end(&p[k]) > last)
            last = eng_pattern_end(&p[k]);
    if (n > ENG_TAG_PARTS || last > s->p->dram_elems || elems > c->ph->tag_elems)
        eng_fault(s,
                  "phase %u: tag %llu moves %llu elements in %u parts up to DRAM element %llu; "
                  "the image has %llu and the slot %u",
                  c->phase, (unsigned long long)tag, (unsigned long long)elems, n,
                  (unsigned long long)last, (unsigned long long)s->p->dram_elems, c->ph->tag_elems);
}

/* Submits one DMA descriptor per part of a tag's side (one empty descriptor for a side
 * without parts), packed from SPM byte address spm on; returns how many. */
static uint32_t submit_parts(eng_sim *s, uint32_t k, enum dma_dir dir, uint32_t slot, uint64_t tag,
                             const eng_pattern *parts, uint32_t n, uint64_t spm)
{
    uint32_t issued = 0;
    for (uint32_t part = 0; part < (n ? n : 1) && !s->fault; part++) {
        dma_desc *d = eng_dma_alloc(s);
        if (!d) {
            eng_oom(s);
            break;
        }
        d->dir = dir;
        d->stream = k;
        d->slot = slot;
        d->tag = tag;
        d->dram = n ? parts[part] : (eng_pattern){0, 0, 0, 0};
        d->spm_addr = spm;
        d->elems = eng_pattern_elems(&d->dram);
        spm += d->elems * s->elem_bytes;
        issued++;
        eng_dma_submit(s, &s->ctl_c, d);
    }
    return issued;
}

static void issue_inputs(eng_sim *s, uint32_t k)
{
    ctl_stream *c = &s->str[k];
    const eng_phase *ph = c->ph;
    while (c->next_in < ph->n_tags) {
        uint32_t slot = (uint32_t)(c->next_in % ph->in_slots);
        if (c->in_state[slot] != SLOT_FREE)
            return;
        /* a consumer fetches a tag once its producer has stored the rows it reads */
        if (k &&
            s->str[k - 1].stored < eng_chain_need(s->str[k - 1].ph->n_tags, ph->n_tags, c->next_in))
            return;
        uint64_t tag = c->next_in++;
        eng_tag_io io;
        ph->tag_dma(ph->tag_ctx, s->repeat * ph->n_tags + tag, &io);
        check_tag_parts(s, c, io.in, io.n_in, tag);
        c->in_state[slot] = SLOT_LOADING;
        c->in_tag[slot] = tag;
        c->in_parts[slot] =
            submit_parts(s, k, DMA_IN, slot, tag, io.in, io.n_in, in_slot_addr(s, c, slot));
    }
}

/* Sends feed transfer x of tag (in slot) from the SPM to its instruction. */
static bool issue_feed(eng_sim *s, uint32_t k, uint32_t x, uint64_t tag, uint32_t slot)
{
    ctl_stream *c = &s->str[k];
    const eng_xfer *t = &c->ph->xfer[x];
    spm_req *r = eng_spm_req_alloc(s);
    msg *m = r ? eng_msg_alloc(s) : NULL;
    if (!m) {
        eng_oom(s);
        return false;
    }
    m->kind = MSG_DATA;
    m->index = c->xfer_base + x;
    m->tag = tag;
    m->src_node = eng_port_node(s, t->spm_port);
    m->dst_node = c->ph->instr[t->dst_instr].pe;
    r->write = false;
    r->after = SPM_AFTER_FEED;
    r->base = in_slot_addr(s, c, slot);
    r->pat = t->spm;
    r->port = t->spm_port;
    r->m = m;
    r->slot = slot;
    r->stream = k;
    c->in_reads[slot]++;
    eng_spm_submit(s, &s->ctl_c, r);
    return true;
}

/* Whether tag's input is in its slot, ready to feed. */
static bool feedable(const ctl_stream *c, uint64_t tag)
{
    uint32_t slot = (uint32_t)(tag % c->ph->in_slots), st = c->in_state[slot];
    return (st == SLOT_READY || st == SLOT_FEEDING) && c->in_tag[slot] == tag;
}

/* Feeds each instruction from its own queue (eng_phase.feed_each): it takes its part of
 * a tag as soon as the tag is in its slot and it has a credit; next_feed is the oldest
 * tag some instruction still waits for. */
static void try_feed_each(eng_sim *s, uint32_t k)
{
    ctl_stream *c = &s->str[k];
    const eng_phase *ph = c->ph;
    uint64_t oldest = ph->n_tags;
    for (uint32_t j = 0; j < c->n_fed; j++) {
        uint32_t dst = (uint32_t)ph->xfer[c->feed[c->fed_first[j]]].dst_instr;
        while (c->fed_next[j] < ph->n_tags && feedable(c, c->fed_next[j]) && c->feed_credit[dst]) {
            uint64_t tag = c->fed_next[j];
            uint32_t slot = (uint32_t)(tag % ph->in_slots);
            c->feed_credit[dst]--;
            c->in_state[slot] = SLOT_FEEDING;
            for (uint32_t f = c->fed_first[j]; f < c->fed_first[j + 1]; f++)
                if (!issue_feed(s, k, c->feed[f], tag, slot))
                    return;
            c->fed_next[j]++;
        }
        oldest = c->fed_next[j] < oldest ? c->fed_next[j] : oldest;
    }
    c->next_feed = oldest;
}

/* Feeds tags in order: every transfer of a tag before the next tag's first. */
static void try_feed(eng_sim *s, uint32_t k)
{
    ctl_stream *c = &s->str[k];
    const eng_phase *ph = c->ph;
    if (ph->feed_each) {
        try_feed_each(s, k);
        return;
    }
    while (c->next_feed < ph->n_tags) {
        uint64_t tag = c->next_feed;
        uint32_t slot = (uint32_t)(tag % ph->in_slots);
        if (!feedable(c, tag))
            return;
        c->in_state[slot] = SLOT_FEEDING;
        while (c->feed_x < c->n_feed) {
            uint32_t x = c->feed[c->feed_x];
            uint32_t dst = (uint32_t)ph->xfer[x].dst_instr;
            if (c->feed_tag[dst] != tag) {
                if (c->feed_credit[dst] == 0)
                    return; /* a credit from the consumer resumes feeding */
                c->feed_credit[dst]--;
                c->feed_tag[dst] = tag;
            }
            if (!issue_feed(s, k, x, tag, slot))
                return;
            c->feed_x++;
        }
        c->feed_x = 0;
        c->next_feed++;
    }
}

static void try_store(eng_sim *s, uint32_t k)
{
    ctl_stream *c = &s->str[k];
    const eng_phase *ph = c->ph;
    /* a producer feeding a FIFO ring stores tag t once entry t - fifo_tags has been read */
    const ctl_stream *cons = k + 1 < s->n_streams ? &s->str[k + 1] : NULL;
    while (c->next_store < ph->n_tags) {
        uint32_t slot = (uint32_t)(c->next_store % ph->out_slots);
        if (!c->out_done[slot])
            return;
        if (cons && cons->ring_elems &&
            c->next_store >=
                eng_chain_freed(ph->n_tags, cons->ph->n_tags, cons->fetched) + cons->ph->fifo_tags)
            return;
        c->out_done[slot] = false;
        uint64_t tag = c->next_store++;
        eng_tag_io io;
        ph->tag_dma(ph->tag_ctx, s->repeat * ph->n_tags + tag, &io);
        check_tag_parts(s, c, io.out, io.n_out, tag);
        c->out_parts[slot] =
            submit_parts(s, k, DMA_OUT, slot, tag, io.out, io.n_out, out_slot_addr(s, c, slot));
    }
}

static bool alloc_stream(ctl_stream *c, const eng_phase *ph)
{
    c->in_state = calloc(ph->in_slots, sizeof *c->in_state);
    c->in_reads = calloc(ph->in_slots, sizeof *c->in_reads);
    c->in_tag = calloc(ph->in_slots, sizeof *c->in_tag);
    c->in_parts = calloc(ph->in_slots, sizeof *c->in_parts);
    c->out_parts = calloc(ph->out_slots, sizeof *c->out_parts);
    c->out_elems = calloc(ph->out_slots, sizeof *c->out_elems);
    c->out_done = calloc(ph->out_slots, sizeof *c->out_done);
    c->out_stored = calloc(ph->out_slots, sizeof *c->out_stored);
    c->feed = calloc(ph->n_xfer + 1, sizeof *c->feed);
    c->feed_credit = calloc(ph->n_instr + 1, sizeof *c->feed_credit);
    c->feed_tag = calloc(ph->n_instr + 1, sizeof *c->feed_tag);
    c->fed_first = calloc(ph->n_instr + 1, sizeof *c->fed_first);
    c->fed_next = calloc(ph->n_instr + 1, sizeof *c->fed_next);
    c->drain_instr = calloc(ph->n_instr + 1, sizeof *c->drain_instr);
    c->drain_port = calloc(ph->n_instr + 1, sizeof *c->drain_port);
    c->streamed = calloc(ph->n_instr + 1, sizeof *c->streamed);
    c->part_next = calloc(ph->n_instr + 1, sizeof *c->part_next);
    c->part_room = calloc(ph->n_instr + 1, sizeof *c->part_room);
    return c->streamed && c->part_next && c->part_room && c->in_state && c->in_reads && c->in_tag && c->in_parts &&
           c->out_parts && c->out_elems && c->out_done && c->out_stored && c->feed &&
           c->feed_credit && c->feed_tag && c->fed_first && c->fed_next && c->drain_instr &&
           c->drain_port;
}

/* Sets up phase ph as stream c, its slots at SPM byte address at; returns the address
 * after its slots, staging and ring. */
static uint64_t init_stream(eng_sim *s, ctl_stream *c, const eng_phase *ph, uint64_t at)
{
    for (uint32_t i = 0; i < ph->n_instr; i++) {
        c->feed_credit[i] = s->a->pe.tags;
        c->feed_tag[i] = UINT64_MAX;
        c->part_room[i] = 2;
        if (ph->instr[i].weight_parts)
            c->streamed[c->n_streamed++] = i;
    }
    for (uint32_t j = 0; j < ph->out_slots; j++)
        c->out_stored[j] = UINT64_MAX;
    for (uint32_t x = 0; x < ph->n_xfer; x++) {
        const eng_xfer *t = &ph->xfer[x];
        if (t->src_instr < 0 && !ph->feed_each)
            c->feed[c->n_feed++] = x;
        if (t->dst_instr >= 0)
            continue;
        /* One output-slot credit per producing instruction, returned over its first port. */
        bool seen = false;
        for (uint32_t k = 0; k < c->n_drain && !seen; k++)
            seen = c->drain_instr[k] == (uint32_t)t->src_instr;
        if (!seen) {
            c->drain_instr[c->n_drain] = (uint32_t)t->src_instr;
            c->drain_port[c->n_drain++] = t->spm_port;
        }
    }
    /* feed_each: the feeds grouped by instruction, in the order each first appears */
    for (uint32_t x = 0; x < ph->n_xfer && ph->feed_each; x++) {
        int32_t dst = ph->xfer[x].dst_instr;
        if (ph->xfer[x].src_instr >= 0 || c->feed_tag[dst] == 0)
            continue;
        c->feed_tag[dst] = 0; /* seen (feed_tag is unused with feed_each) */
        c->fed_first[c->n_fed++] = c->n_feed;
        for (uint32_t y = x; y < ph->n_xfer; y++)
            if (ph->xfer[y].src_instr < 0 && ph->xfer[y].dst_instr == dst)
                c->feed[c->n_feed++] = y;
    }
    c->fed_first[c->n_fed] = c->n_feed;
    c->spm_base = at;
    c->stage_elems = eng_phase_max_weights(ph);
    c->stage_base = out_slot_addr(s, c, ph->out_slots);
    c->stage_free = (uint32_t)((UINT64_C(1) << eng_phase_stage_slots(ph)) - 1);
    at += eng_phase_spm_elems(ph) * s->elem_bytes;
    if (c > s->str && ph->fifo_tags) {
        c->ring_base = at;
        c->ring_elems = eng_fifo_ring_elems(c[-1].ph, ph);
        at += c->ring_elems * s->elem_bytes;
    }
    return at;
}

static void end_stream(eng_sim *s, uint32_t k);

/* Starts the group of phases at s->phase (repeat s->repeat of a one-phase group). */
static void begin_group(eng_sim *s)
{
    uint32_t n = eng_group_len(s->p, s->phase);
    s->epoch++;
    eng_pe_end_group(s);
    eng_ctl_free(s);
    s->str = calloc(n, sizeof *s->str);
    if (!s->str) {
        eng_oom(s);
        return;
    }
    s->n_streams = s->streams_left = n;
    uint64_t at = 0;
    for (uint32_t k = 0; k < n; k++) {
        ctl_stream *c = &s->str[k];
        const eng_phase *ph = &s->p->phases[s->phase + k];
        c->ph = ph;
        c->phase = s->phase + k;
        c->instr_base = k ? c[-1].instr_base + c[-1].ph->n_instr : 0;
        c->xfer_base = k ? c[-1].xfer_base + c[-1].ph->n_xfer : 0;
        if (!alloc_stream(c, ph)) {
            eng_oom(s);
            return;
        }
        at = init_stream(s, c, ph, at);
    }
    if (s->functional) {
        free(s->spm_data);
        s->spm_data_elems = at / s->elem_bytes;
        s->spm_data = calloc(s->spm_data_elems + 1, sizeof *s->spm_data);
        if (!s->spm_data) {
            eng_oom(s);
            return;
        }
    }
    if (eng_pe_begin_group(s)) {
        eng_oom(s);
        return;
    }
    for (uint32_t k = 0; k < n && !s->fault; k++) {
        issue_weights(s, k);
        issue_inputs(s, k);
    }
    for (uint32_t k = 0; k < n && !s->fault; k++)
        if (s->str[k].ph->n_tags == 0)
            end_stream(s, k);
}

static void end_stream(eng_sim *s, uint32_t k)
{
    s->st.tags += s->str[k].ph->n_tags;
    if (--s->streams_left)
        return;
    if (++s->repeat >= s->str[0].ph->repeats) {
        s->repeat = 0;
        s->phase += s->n_streams;
    }
    if (s->phase >= s->p->n_phases) {
        s->done = true;
        s->st.cycles = s->now;
        return;
    }
    eng_post(s, &s->ctl_c, &s->ctl_c, s->now, EV_CTL_PHASE, 0, 0, NULL);
}

/* Credits for the output slots go back to every instruction that writes into them. */
static void return_out_credits(eng_sim *s, const ctl_stream *c)
{
    for (uint32_t k = 0; k < c->n_drain; k++) {
        uint32_t i = c->drain_instr[k], pe = c->ph->instr[i].pe;
        uint64_t lat = eng_signal_latency(s, pe, eng_port_node(s, c->drain_port[k]));
        eng_post(s, &s->ctl_c, &s->pes[pe].base, s->now + lat, EV_PE_CREDIT, c->instr_base + i,
                 UINT64_MAX, NULL);
    }
}

/* Counts the tags whose inputs have arrived, in tag order (a slot holding a later tag
 * has already passed the earlier one on); a ring's producer may then store more. Only a
 * ring's producer reads the count. */
static void advance_fetched(eng_sim *s, uint32_t k)
{
    ctl_stream *c = &s->str[k];
    if (!c->ring_elems)
        return;
    uint64_t before = c->fetched;
    while (c->fetched < c->next_in) {
        uint32_t slot = (uint32_t)(c->fetched % c->ph->in_slots);
        if (c->in_tag[slot] == c->fetched && c->in_state[slot] == SLOT_LOADING)
            break;
        c->fetched++;
    }
    if (c->fetched != before)
        try_store(s, k - 1);
}

/* Counts the tags written back, in tag order (a slot that has stored a later tag has
 * stored the earlier one); the consumer may then fetch more. The producers get an output
 * slot's credit back for each, in tag order too: a store that overtakes an earlier one
 * (DMA channels finish in any order) must not free the earlier tag's slot. */
static void advance_stored(eng_sim *s, uint32_t k)
{
    ctl_stream *c = &s->str[k];
    uint64_t before = c->stored;
    while (c->stored < c->next_store) {
        uint64_t last = c->out_stored[c->stored % c->ph->out_slots];
        if (last == UINT64_MAX || last < c->stored)
            break;
        c->stored++;
        return_out_credits(s, c);
    }
    if (c->stored != before && k + 1 < s->n_streams)
        issue_inputs(s, k + 1);
}

void eng_ctl_handle(eng_sim *s, const ev *e)
{
    if (e->kind == EV_CTL_PHASE) {
        if (s->phase >= s->p->n_phases) {
            s->done = true;
            s->st.cycles = s->now;
            return;
        }
        begin_group(s);
        return;
    }
    if (e->epoch != s->epoch || e->stream >= s->n_streams)
        return; /* the group it belonged to is over (a late credit) */
    uint32_t k = e->stream;
    ctl_stream *c = &s->str[k];
    const eng_phase *ph = c->ph;
    switch (e->kind) {
    case EV_CTL_IN_READY:
        if (--c->in_parts[e->a])
            return; /* more parts of the tag still loading */
        c->in_state[e->a] = SLOT_READY;
        advance_fetched(s, k);
        try_feed(s, k);
        return;
    case EV_CTL_FEED_READ: {
        uint32_t slot = e->a;
        c->in_reads[slot]--;
        /* The slot is free once every feed of its tag has been issued and read out. */
        if (c->in_reads[slot] == 0 && c->in_tag[slot] < c->next_feed) {
            c->in_state[slot] = SLOT_FREE;
            issue_inputs(s, k);
        }
        return;
    }
    case EV_CTL_CREDIT:
        c->feed_credit[e->a - c->instr_base]++;
        try_feed(s, k);
        return;
    case EV_CTL_OUT_WRITTEN: {
        uint32_t slot = (uint32_t)(e->b % ph->out_slots);
        c->out_elems[slot] += e->a;
        if (c->out_elems[slot] == eng_phase_out_elems(ph)) {
            c->out_done[slot] = true;
            try_store(s, k);
        }
        return;
    }
    case EV_CTL_STORED: {
        uint32_t slot = (uint32_t)(e->b % ph->out_slots);
        if (--c->out_parts[slot])
            return; /* more parts of the tag still storing */
        c->out_elems[slot] = 0;
        c->out_stored[slot] = e->b;
        advance_stored(s, k);
        if (c->stored == ph->n_tags)
            end_stream(s, k);
        return;
    }
    case EV_CTL_STAGED: {
        uint32_t slot = e->a, i = c->stage_instr[slot];
        const eng_instr *in = &ph->instr[i];
        bool part = c->stage_part[slot] != UINT64_MAX;
        uint32_t elems = part ? eng_instr_load_elems(in) : eng_instr_config_elems(in);
        spm_req *r = eng_spm_req_alloc(s);
        msg *m = r ? eng_msg_alloc(s) : NULL;
        if (!m) {
            eng_oom(s);
            return;
        }
        uint32_t port = eng_spm_port_near(s->a, in->pe);
        m->kind = part ? MSG_PART : MSG_CONFIG;
        m->index = c->instr_base + i;
        m->tag = c->stage_part[slot];
        m->src_node = eng_port_node(s, port);
        m->dst_node = in->pe;
        r->write = false;
        r->after = SPM_AFTER_CONFIG;
        r->base = stage_slot_addr(s, c, slot);
        r->pat = (eng_pattern){0, elems, elems, elems ? 1 : 0};
        r->port = port;
        r->m = m;
        r->slot = slot;
        r->stream = k;
        eng_spm_submit(s, &s->ctl_c, r);
        return;
    }
    case EV_CTL_STAGE_SENT:
        c->stage_free |= 1u << e->a;
        issue_weights(s, k);
        return;
    case EV_CTL_PART_USED:
        c->part_room[e->a]++;
        issue_weights(s, k);
        return;
    default:
        eng_fault(s, "controller got unexpected event %u", e->kind);
    }
}
