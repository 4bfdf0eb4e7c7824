/* mem.c: the DMA engine, the DRAM channels and the banked SPM, each timed by reservations.
 *
 * Notes. DMA serves descriptors first come, first served on dma.channels engines. DRAM
 * burst i belongs to channel i mod channels, and each channel serves its bursts back to
 * back at its share of the bandwidth, after a fixed latency: no row buffers, bank
 * groups, refresh or address hashing (a stream whose bursts all fall on one channel gets
 * half the bandwidth). An SPM request reserves each bank it touches for its words there.
 * Weights the program keeps are read from their SPM copy once loaded; the copy's own
 * bank writes are not timed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---------------------------------------------------------------- functional copies */

/* Copies the pattern's elements from src (indexed by pattern position) into dst
 * (packed), or back when unpack is set. */
static void copy_pattern(float *packed, float *mem, uint64_t mem_base, const eng_pattern *p,
                         bool unpack)
{
    uint64_t k = 0;
    for (uint64_t i = 0; i < p->count; i++) {
        float *at = mem + mem_base + p->first + i * p->stride;
        if (unpack)
            memcpy(at, packed + k, p->run * sizeof *at);
        else
            memcpy(packed + k, at, p->run * sizeof *at);
        k += p->run;
    }
}

/* ---------------------------------------------------------------- DMA */

void eng_dma_submit(eng_sim *s, comp *from, dma_desc *d)
{
    eng_post(s, from, &s->dma_c, s->now + 1, EV_DMA_REQ, 0, 0, d);
}

/* Calls fn(s, d, b0, b1) for each run of DRAM bursts b0 .. b1 a transfer touches, in
 * pattern order; a burst two runs of the pattern share comes once. */
static void burst_runs(eng_sim *s, dma_desc *d,
                       void (*fn)(eng_sim *, dma_desc *, uint64_t, uint64_t))
{
    uint64_t B = s->a->dram.burst_bytes, w = s->elem_bytes;
    uint64_t next_free_burst = 0; /* bursts below this were counted already */
    bool any = false;
    for (uint64_t i = 0; i < d->dram.count; i++) {
        uint64_t a0 = (d->dram.first + i * d->dram.stride) * w;
        uint64_t b0 = a0 / B, b1 = (a0 + d->dram.run * w - 1) / B;
        if (any && b0 < next_free_burst)
            b0 = next_free_burst;
        if (b0 > b1)
            continue;
        fn(s, d, b0, b1);
        next_free_burst = b1 + 1;
        any = true;
    }
}

/* Counts bursts b0 .. b1 of a transfer; consecutive bursts go to consecutive channels. */
static void count_run(eng_sim *s, dma_desc *d, uint64_t b0, uint64_t b1)
{
    uint64_t nch = s->a->dram.channels, nb = b1 - b0 + 1;
    d->bursts += nb;
    uint64_t full = nb / nch, rem = nb % nch;
    if (full)
        for (uint64_t c = 0; c < nch; c++)
            d->chan_bursts[c] += (uint32_t)full;
    for (uint64_t k = 0; k < rem; k++)
        d->chan_bursts[(b0 + k) % nch]++;
}

/* Tells the observer bursts b0 .. b1 of a transfer. */
static void tell_run(eng_sim *s, dma_desc *d, uint64_t b0, uint64_t b1)
{
    for (uint64_t b = b0; b <= b1; b++)
        s->obs->dram_burst(s->obs->ctx, s->now, b * s->a->dram.burst_bytes, d->dir == DMA_OUT);
}

/* Submits an SPM request for one side of a DMA transfer. */
static void dma_spm_request(eng_sim *s, dma_desc *d, bool write, enum spm_after after,
                            uint64_t base, eng_pattern pat)
{
    spm_req *r = eng_spm_req_alloc(s);
    if (!r) {
        eng_oom(s);
        return;
    }
    r->write = write;
    r->after = after;
    r->base = base;
    r->pat = pat;
    r->d = d;
    eng_spm_submit(s, &s->dma_c, r);
}

/* The SPM half of a transfer: the whole slot, contiguous. */
static void spm_side(eng_sim *s, dma_desc *d, bool write)
{
    dma_spm_request(s, d, write, SPM_AFTER_DMA, d->spm_addr,
                    (eng_pattern){0, d->elems, d->elems, 1});
}

/* Whether a weight load lies among the program's kept weights, every one of them loaded
 * before: then it reads their SPM copy. Otherwise it goes to DRAM, and the weights it
 * covers count as loaded from then on (the copy's bank writes are not timed: once per
 * kept weight per run). */
static bool kept_side(eng_sim *s, dma_desc *d)
{
    const eng_program *p = s->p;
    const eng_pattern *q = &d->dram;
    if (d->dir != DMA_WEIGHTS || !eng_kept_mark(p, s->kept_loaded, q))
        return false;
    eng_pattern rel = *q;
    rel.first -= p->kept_first;
    dma_spm_request(s, d, false, SPM_AFTER_ONCHIP, s->kept_base, rel);
    return true;
}

/* Whether a transfer's DRAM side lies on chip (the program's on-chip region or a FIFO
 * ring); if so, serves that side from the SPM banks where it lives. */
static bool onchip_side(eng_sim *s, dma_desc *d, bool write)
{
    uint64_t base;
    eng_pattern pat;
    if (!eng_dma_onchip(s, d, &base, &pat))
        return false;
    dma_spm_request(s, d, write, SPM_AFTER_ONCHIP, base, pat);
    return true;
}

static void dma_start(eng_sim *s)
{
    while (s->dma.busy < s->a->dma.channels && s->dma.head) {
        dma_desc *d = s->dma.head;
        s->dma.head = d->next;
        if (!s->dma.head)
            s->dma.tail = NULL;
        d->next = NULL;
        s->dma.busy++;
        d->lane = (uint32_t)__builtin_ctzll(~s->dma.lanes); /* (channels <= 64) */
        d->taken = s->now;
        s->dma.lanes |= UINT64_C(1) << d->lane;
        if (eng_obs_wants(s, ENG_EVENT_DMA_TAKE))
            s->obs->event(s->obs->ctx,
                          &(eng_event){ENG_EVENT_DMA_TAKE, d->lane, s->now, 0,
                                       d->elems * s->elem_bytes, d->tag, d->dir == DMA_OUT, NULL});
        s->st.dma.descriptors++;
        burst_runs(s, d, count_run);
        if (d->dir == DMA_OUT)
            spm_side(s, d, false);
        else if (!kept_side(s, d) && !onchip_side(s, d, false))
            eng_post(s, &s->dma_c, &s->dram_c, s->now + 1, EV_DRAM_REQ, 0, 0, d);
    }
}

static void notify_ctl(eng_sim *s, dma_desc *d)
{
    static const uint32_t kinds[] = {
        [DMA_IN] = EV_CTL_IN_READY, [DMA_OUT] = EV_CTL_STORED, [DMA_WEIGHTS] = EV_CTL_STAGED};
    s->st.dma.bytes += d->elems * s->elem_bytes;
    if (eng_obs_wants(s, ENG_EVENT_DMA))
        s->obs->event(s->obs->ctx,
                      &(eng_event){ENG_EVENT_DMA, 0, s->now, 0, d->elems * s->elem_bytes, d->tag,
                                   d->dir == DMA_OUT, &d->dram});
    eng_post_ctl(s, &s->dma_c, s->now + 1, kinds[d->dir], d->stream, d->slot, d->tag);
    eng_dma_free(s, d);
}

/* Descriptor d lets its channel go. */
static void release_lane(eng_sim *s, dma_desc *d)
{
    s->dma.busy--;
    s->dma.lanes &= ~(UINT64_C(1) << d->lane);
    if (eng_obs_wants(s, ENG_EVENT_DMA_CHANNEL))
        s->obs->event(s->obs->ctx,
                      &(eng_event){ENG_EVENT_DMA_CHANNEL, d->lane, d->taken, s->now - d->taken,
                                   d->elems * s->elem_bytes, d->tag, d->dir == DMA_OUT, NULL});
}

void eng_dma_handle(eng_sim *s, const ev *e)
{
    dma_desc *d = e->p;
    switch (e->kind) {
    case EV_DMA_REQ:
        if (s->dma.tail)
            s->dma.tail->next = d;
        else
            s->dma.head = d;
        s->dma.tail = d;
        dma_start(s);
        return;
    case EV_DMA_ACCEPTED:
        release_lane(s, d);
        dma_start(s);
        return;
    case EV_DMA_ONCHIP_DONE:
        /* the channel is free; then as for DRAM data: a write is complete, a read goes
         * into its slot */
        release_lane(s, d);
        dma_start(s);
        /* fall through */
    case EV_DMA_DATA:
        if (d->dir == DMA_OUT) {
            if (s->functional)
                copy_pattern(s->spm_data + d->spm_addr / s->elem_bytes, s->image, 0, &d->dram,
                             true);
            notify_ctl(s, d);
        } else {
            spm_side(s, d, true);
        }
        return;
    case EV_DMA_SPM_DONE:
        if (d->dir == DMA_OUT) {
            if (!onchip_side(s, d, true))
                eng_post(s, &s->dma_c, &s->dram_c, s->now + 1, EV_DRAM_REQ, 0, 0, d);
        } else {
            if (s->functional)
                copy_pattern(s->spm_data + d->spm_addr / s->elem_bytes, s->image, 0, &d->dram,
                             false);
            notify_ctl(s, d);
        }
        return;
    default:
        eng_fault(s, "DMA got unexpected event %u", e->kind);
    }
}

/* ---------------------------------------------------------------- DRAM */

void eng_dram_handle(eng_sim *s, const ev *e)
{
    if (e->kind != EV_DRAM_REQ) {
        eng_fault(s, "DRAM got unexpected event %u", e->kind);
        return;
    }
    dma_desc *d = e->p;
    uint64_t finish = s->now;
    for (uint32_t c = 0; c < s->a->dram.channels; c++) {
        if (!d->chan_bursts[c])
            continue;
        /* Cycles this channel needs for its bursts at its share of the bandwidth. */
        double cyc = (double)d->chan_bursts[c] * s->a->dram.burst_bytes / s->dram_bpc_chan;
        uint64_t dur = (uint64_t)ceil(cyc - 1e-9);
        if (dur == 0)
            dur = 1;
        uint64_t start = s->dram_free[c] > s->now ? s->dram_free[c] : s->now;
        s->dram_free[c] = start + dur;
        s->st.dram.busy_cycles += dur;
        if (eng_obs_wants(s, ENG_EVENT_DRAM_CHANNEL))
            s->obs->event(s->obs->ctx,
                          &(eng_event){ENG_EVENT_DRAM_CHANNEL, c, start, dur,
                                       (uint64_t)d->chan_bursts[c] * s->a->dram.burst_bytes, 0,
                                       d->dir == DMA_OUT, NULL});
        if (s->dram_free[c] > finish)
            finish = s->dram_free[c];
    }
    if (s->obs && s->obs->dram_burst)
        burst_runs(s, d, tell_run);
    uint64_t bytes = d->bursts * s->a->dram.burst_bytes;
    if (eng_obs_wants(s, ENG_EVENT_DRAM))
        s->obs->event(s->obs->ctx, &(eng_event){ENG_EVENT_DRAM, 0, s->now, finish - s->now, bytes,
                                                0, d->dir == DMA_OUT, NULL});
    if (d->dir == DMA_OUT) {
        s->st.dram.write_bursts += d->bursts;
        s->st.dram.write_bytes += bytes;
    } else {
        s->st.dram.read_bursts += d->bursts;
        s->st.dram.read_bytes += bytes;
    }
    uint64_t accepted = finish > s->now ? finish : s->now + 1;
    uint64_t data = finish + s->dram_latency;
    if (data <= s->now)
        data = s->now + 1;
    eng_post(s, &s->dram_c, &s->dma_c, accepted, EV_DMA_ACCEPTED, 0, 0, d);
    eng_post(s, &s->dram_c, &s->dma_c, data, EV_DMA_DATA, 0, 0, d);
}

/* ---------------------------------------------------------------- SPM */

void eng_spm_submit(eng_sim *s, comp *from, spm_req *r)
{
    eng_post(s, from, &s->spm_c, s->now + 1, EV_SPM_REQ, 0, 0, r);
}

/* Reserves the banks a request touches (words interleave across banks) and returns
 * the cycle its last word is served. */
static uint64_t spm_access(eng_sim *s, const spm_req *r)
{
    uint64_t W = s->a->spm.width_bytes, nb = s->a->spm.banks, w = s->elem_bytes;
    uint64_t words = 0, next_word = 0;
    bool any = false;
    for (uint64_t i = 0; i < r->pat.count; i++) {
        uint64_t a0 = r->base + (r->pat.first + i * r->pat.stride) * w;
        uint64_t w0 = a0 / W, w1 = (a0 + r->pat.run * w - 1) / W;
        if (r->pat.run == 0)
            continue;
        if (any && w0 < next_word)
            w0 = next_word;
        if (w0 > w1)
            continue;
        uint64_t n = w1 - w0 + 1, full = n / nb, rem = n % nb;
        if (full)
            for (uint64_t b = 0; b < nb; b++)
                s->bank_count[b] += (uint32_t)full;
        for (uint64_t k = 0; k < rem; k++)
            s->bank_count[(w0 + k) % nb]++;
        words += n;
        next_word = w1 + 1;
        any = true;
    }
    uint64_t done = s->now, clashes = 0;
    if (words) {
        for (uint64_t b = 0; b < nb; b++) {
            uint32_t cnt = s->bank_count[b];
            if (!cnt)
                continue;
            s->bank_count[b] = 0;
            uint64_t start = s->bank_free[b] > s->now ? s->bank_free[b] : s->now;
            if (start > s->now) {
                s->st.spm.conflicts += cnt;
                clashes += cnt;
                s->st.spm.conflict_cycles += start - s->now;
            }
            s->bank_free[b] = start + util_ceil_div(cnt, s->a->spm.ports);
            if (s->bank_free[b] > done)
                done = s->bank_free[b];
        }
    }
    uint64_t bytes = eng_pattern_elems(&r->pat) * w;
    if (eng_obs_wants(s, ENG_EVENT_SPM))
        s->obs->event(s->obs->ctx, &(eng_event){ENG_EVENT_SPM, 0, s->now,
                                                (done > s->now ? done : s->now + 1) - s->now, words,
                                                clashes, r->write, NULL});
    if (r->write) {
        s->st.spm.writes += words;
        s->st.spm.write_bytes += bytes;
    } else {
        s->st.spm.reads += words;
        s->st.spm.read_bytes += bytes;
    }
    return done > s->now ? done : s->now + 1;
}

/* Sends a message out of an SPM port once its data has been read. */
static void port_inject(eng_sim *s, uint32_t port, msg *m, uint64_t ready)
{
    uint64_t start = s->port_inject_free[port] > ready ? s->port_inject_free[port] : ready;
    s->port_inject_free[port] = start + m->flits;
    eng_noc_send(s, &s->spm_c, m, start + 1);
}

void eng_spm_handle(eng_sim *s, const ev *e)
{
    if (e->kind != EV_SPM_REQ) {
        eng_fault(s, "SPM got unexpected event %u", e->kind);
        return;
    }
    spm_req *r = e->p;
    uint64_t done = spm_access(s, r);
    float *slot = s->functional ? s->spm_data + r->base / s->elem_bytes : NULL;
    switch (r->after) {
    case SPM_AFTER_DMA:
        eng_post(s, &s->spm_c, &s->dma_c, done, EV_DMA_SPM_DONE, 0, 0, r->d);
        break;
    case SPM_AFTER_ONCHIP:
        eng_post(s, &s->spm_c, &s->dma_c, done, EV_DMA_ONCHIP_DONE, 0, 0, r->d);
        break;
    case SPM_AFTER_FEED:
    case SPM_AFTER_CONFIG: {
        msg *m = r->m;
        uint64_t elems = eng_pattern_elems(&r->pat);
        m->flits = (uint32_t)eng_flits(s, elems);
        if (s->functional && elems) {
            m->payload = malloc(elems * sizeof *m->payload);
            if (!m->payload) {
                eng_oom(s);
                break;
            }
            copy_pattern(m->payload, slot, 0, &r->pat, false);
        }
        port_inject(s, r->port, m, done);
        eng_post_ctl(s, &s->spm_c, done,
                     r->after == SPM_AFTER_FEED ? EV_CTL_FEED_READ : EV_CTL_STAGE_SENT, r->stream,
                     r->slot, 0);
        break;
    }
    case SPM_AFTER_OUTPUT: {
        msg *m = r->m;
        if (s->functional && m->payload)
            copy_pattern(m->payload, slot, 0, &r->pat, true);
        eng_post_ctl(s, &s->spm_c, done, EV_CTL_OUT_WRITTEN, r->stream,
                     (uint32_t)eng_pattern_elems(&r->pat), m->tag);
        eng_msg_free(s, m);
        break;
    }
    }
    eng_spm_req_free(s, r);
}
