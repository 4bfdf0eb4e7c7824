/* kernel.c: event queues, the next-event scheduler, object pools, program validation. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---------------------------------------------------------------- heaps */

/* (time, component, post order): within one component's inbox the component is the same,
 * so this is also each inbox's (time, post order). */
static bool ev_less(const ev *x, const ev *y)
{
    if (x->time != y->time)
        return x->time < y->time;
    if (x->to != y->to)
        return x->to < y->to;
    return x->order < y->order;
}

static bool heap_push(evheap *h, const ev *e)
{
    if (util_reserve((void **)&h->v, &h->cap, h->n + 1, sizeof *h->v))
        return false;
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!ev_less(e, &h->v[up]))
            break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = *e;
    return true;
}

static void heap_pop(evheap *h, ev *out)
{
    *out = h->v[0];
    ev last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const ev *best = &last;
        if (l < h->n && ev_less(&h->v[l], best)) {
            m = l;
            best = &h->v[l];
        }
        if (r < h->n && ev_less(&h->v[r], best))
            m = r;
        if (m == i)
            break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n)
        h->v[i] = last;
}

/* ---------------------------------------------------------------- the wheel */

/* Sorts a slot's events from head on (a cycle holds a few: insertion). */
static void slot_sort(evslot *sl)
{
    for (uint32_t i = sl->head + 1; i < sl->n; i++) {
        ev e = sl->v[i];
        uint32_t j = i;
        while (j > sl->head && ev_less(&e, &sl->v[j - 1])) {
            sl->v[j] = sl->v[j - 1];
            j--;
        }
        sl->v[j] = e;
    }
    sl->sorted = true;
}

/* Adds an event to its cycle's slot: appended, or, into the slot being worked through
 * (current: an event for the present), put in its place among those left. */
static bool slot_insert(evslot *sl, const ev *e, bool current)
{
    if (sl->n == sl->cap) {
        uint32_t cap = sl->cap ? 2 * sl->cap : 16;
        ev *v = realloc(sl->v, cap * sizeof *v);
        if (!v)
            return false;
        sl->v = v, sl->cap = cap;
    }
    uint32_t i = sl->n++;
    sl->sorted = current && sl->sorted;
    while (sl->sorted && i > sl->head && ev_less(e, &sl->v[i - 1])) {
        sl->v[i] = sl->v[i - 1];
        i--;
    }
    sl->v[i] = *e;
    return true;
}

static bool wheel_push(evwheel *w, const ev *e)
{
    if (e->time >= w->base + ENG_WHEEL)
        return heap_push(&w->far, e);
    w->n++;
    return slot_insert(&w->slot[e->time & (ENG_WHEEL - 1)], e, e->time == w->base);
}

/* Takes the earliest event; false when there is none (or memory ran out moving far
 * events in: *oom). */
static bool wheel_pop(evwheel *w, ev *out, bool *oom)
{
    for (;;) {
        evslot *sl = &w->slot[w->base & (ENG_WHEEL - 1)];
        if (sl->head < sl->n) {
            if (!sl->sorted)
                slot_sort(sl);
            *out = sl->v[sl->head++];
            if (sl->head == sl->n)
                sl->head = sl->n = 0, sl->sorted = false;
            w->n--;
            return true;
        }
        if (!w->n && !w->far.n)
            return false;
        /* the next cycle, or straight to the first far event when the slots are empty */
        w->base = w->n ? w->base + 1 : w->far.v[0].time;
        while (w->far.n && w->far.v[0].time < w->base + ENG_WHEEL) {
            ev e;
            heap_pop(&w->far, &e);
            w->n++;
            if (!slot_insert(&w->slot[e.time & (ENG_WHEEL - 1)], &e, e.time == w->base)) {
                *oom = true;
                return false;
            }
        }
    }
}

static void wheel_free(evwheel *w)
{
    for (uint32_t i = 0; w->slot && i < ENG_WHEEL; i++)
        free(w->slot[i].v);
    free(w->slot);
    free(w->far.v);
    memset(w, 0, sizeof *w);
}

/* ---------------------------------------------------------------- posting */

static void post(eng_sim *s, comp *from, comp *to, uint64_t time, uint32_t kind, uint32_t a,
                 uint64_t b, void *p, uint32_t stream)
{
    /* Other components hear of an event one cycle later at the earliest; this makes
     * the step order inside a cycle irrelevant. A violation is an engine bug. */
    if (from != to && time <= s->now) {
        eng_fault(s, "event %u from component %u to %u at cycle %llu is not in the future", kind,
                  from->id, to->id, (unsigned long long)time);
        time = s->now + 1;
    }
    ev e = {time,     to->id, ((uint64_t)from->id << 40) | from->posts++, kind, a, b, p,
            s->epoch, stream};
    if (!(s->one_queue ? wheel_push(&s->queue, &e) : heap_push(&to->inbox, &e)))
        eng_oom(s);
    else if (s->on_post)
        s->on_post(s->on_post_ctx, to->id, time);
}

void eng_post(eng_sim *s, comp *from, comp *to, uint64_t time, uint32_t kind, uint32_t a,
              uint64_t b, void *p)
{
    post(s, from, to, time, kind, a, b, p, 0);
}

void eng_post_ctl(eng_sim *s, comp *from, uint64_t time, uint32_t kind, uint32_t stream, uint32_t a,
                  uint64_t b)
{
    post(s, from, &s->ctl_c, time, kind, a, b, NULL, stream);
}

/* ---------------------------------------------------------------- faults and pools */

void eng_fault(eng_sim *s, const char *fmt, ...)
{
    if (s->fault)
        return;
    va_list ap;
    va_start(ap, fmt);
    util_vfail(UTIL_ERUN, s->fault_msg, sizeof s->fault_msg, fmt, ap);
    va_end(ap);
    s->fault = UTIL_ERUN;
}

void eng_oom(eng_sim *s)
{
    eng_fault(s, "out of memory");
}

void *eng_pool_get(pool *p)
{
    pool_link *o = p->free;
    if (o) {
        p->free = o->next_free;
    } else {
        if (!(o = malloc(p->size)))
            return NULL;
        o->all_next = p->all;
        p->all = o;
    }
    memset((char *)o + sizeof *o, 0, p->size - sizeof *o);
    return o;
}

void eng_pool_put(pool *p, void *obj)
{
    pool_link *o = obj;
    o->next_free = p->free;
    p->free = o;
}

void eng_pool_destroy(pool *p)
{
    for (pool_link *o = p->all; o;) {
        pool_link *n = o->all_next;
        free(o);
        o = n;
    }
    p->all = p->free = NULL;
}

msg *eng_msg_alloc(eng_sim *s)
{
    return eng_pool_get(&s->msgs);
}

void eng_msg_free(eng_sim *s, msg *m)
{
    free(m->payload);
    m->payload = NULL;
    eng_pool_put(&s->msgs, m);
}

spm_req *eng_spm_req_alloc(eng_sim *s)
{
    return eng_pool_get(&s->spm_reqs);
}

void eng_spm_req_free(eng_sim *s, spm_req *r)
{
    eng_pool_put(&s->spm_reqs, r);
}

dma_desc *eng_dma_alloc(eng_sim *s)
{
    return eng_pool_get(&s->dma_descs);
}

void eng_dma_free(eng_sim *s, dma_desc *d)
{
    eng_pool_put(&s->dma_descs, d);
}

/* ---------------------------------------------------------------- geometry */

uint32_t eng_spm_port(const arch_desc *a, uint32_t row, bool east)
{
    return (east ? a->array.rows : 0) + row;
}

uint32_t eng_spm_port_near(const arch_desc *a, uint32_t pe)
{
    uint32_t cols = a->array.cols, c = pe % cols;
    return eng_spm_port(a, pe / cols, cols - 1 - c < c);
}

uint64_t eng_pattern_elems(const eng_pattern *p)
{
    return p->run * p->count;
}

uint64_t eng_unit_cycles(const arch_desc *a, util_dtype t, arch_fu_kind u)
{
    return eng_fu_interval(a, t, arch_lanes(a, t), u);
}

uint64_t eng_instr_busy(const arch_desc *a, util_dtype t, const eng_instr *in)
{
    uint64_t busy = 0;
    for (uint32_t u = 0; u < ARCH_FU_COUNT; u++) {
        uint64_t b = (uint64_t)in->vec_ops[u] * eng_unit_cycles(a, t, (arch_fu_kind)u);
        busy = b > busy ? b : busy;
    }
    return busy;
}

void eng_tag_single(eng_tag_io *io, eng_pattern in, eng_pattern out)
{
    io->n_in = io->n_out = 1;
    io->in[0] = in;
    io->out[0] = out;
}

uint64_t eng_parts_elems(const eng_pattern *parts, uint32_t n)
{
    uint64_t e = 0;
    for (uint32_t k = 0; k < n; k++)
        e += eng_pattern_elems(&parts[k]);
    return e;
}

uint32_t eng_phase_max_weights(const eng_phase *f)
{
    uint32_t max_w = 0;
    for (uint32_t i = 0; i < f->n_instr; i++) {
        uint32_t e = eng_instr_load_elems(&f->instr[i]);
        max_w = e > max_w ? e : max_w;
    }
    return max_w;
}

uint32_t eng_instr_load_elems(const eng_instr *in)
{
    return in->weight_parts ? in->weight_elems / in->weight_parts : in->weight_elems;
}

uint32_t eng_instr_config_elems(const eng_instr *in)
{
    return in->weight_parts ? 0 : in->weight_elems;
}

uint32_t eng_instr_buffer_weights(const eng_instr *in)
{
    return in->weight_parts ? 2 * eng_instr_load_elems(in) : in->weight_elems;
}

uint64_t eng_kept_words(const eng_program *p)
{
    return p->kept_elems / 64 + 1;
}

/* Sets bits lo .. hi - 1; whether they were all set. Word by word: a configuration's
 * weights are runs of hundreds or thousands. */
static bool mark_bits(uint64_t *bits, uint64_t lo, uint64_t hi)
{
    bool all = true;
    while (lo < hi) {
        uint64_t w = lo / 64, b = lo % 64, n = hi - lo < 64 - b ? hi - lo : 64 - b;
        uint64_t mask = (n == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << n) - 1)) << b;
        all = all && (bits[w] & mask) == mask;
        bits[w] |= mask;
        lo += n;
    }
    return all;
}

bool eng_kept_mark(const eng_program *p, uint64_t *loaded, const eng_pattern *q)
{
    if (!p->kept_elems || !eng_pattern_within(q, p->kept_first, p->kept_elems))
        return false;
    bool all = true;
    for (uint64_t r = 0; r < q->count; r++) {
        uint64_t lo = q->first + r * q->stride - p->kept_first;
        all = mark_bits(loaded, lo, lo + q->run) && all;
    }
    return all;
}

uint32_t eng_phase_stage_slots(const eng_phase *f)
{
    return f->stage_slots ? f->stage_slots : 2;
}

uint64_t eng_phase_spm_elems(const eng_phase *f)
{
    return (uint64_t)(f->in_slots + f->out_slots) * f->tag_elems +
           (uint64_t)eng_phase_stage_slots(f) * eng_phase_max_weights(f);
}

uint64_t eng_pattern_end(const eng_pattern *p)
{
    return p->first + (p->count - 1) * p->stride + p->run;
}

uint32_t eng_phase_out_elems(const eng_phase *f)
{
    return f->out_tag_elems ? f->out_tag_elems : f->tag_elems;
}

uint32_t eng_instr_set_elems(const eng_instr *in)
{
    return in->weight_sets > 1 ? in->weight_elems / in->weight_sets : in->weight_elems;
}

eng_pattern eng_instr_weights(const eng_instr *in, uint64_t addr)
{
    if (in->weight_run)
        return (eng_pattern){addr, in->weight_run, in->weight_pitch,
                             in->weight_elems / in->weight_run};
    return (eng_pattern){addr, in->weight_elems, in->weight_elems, 1};
}

bool eng_pattern_within(const eng_pattern *q, uint64_t first, uint64_t elems)
{
    return q->count && q->first >= first && eng_pattern_end(q) <= first + elems;
}

bool eng_pattern_onchip(const eng_program *p, const eng_pattern *q)
{
    return p->onchip_elems && eng_pattern_within(q, p->onchip_first, p->onchip_elems);
}

bool eng_region_place(const eng_program *p, const eng_pattern *q, eng_pattern *rel)
{
    if (!eng_pattern_onchip(p, q))
        return false;
    *rel = *q;
    rel->first -= p->onchip_first;
    return true;
}

bool eng_ring_place(const eng_phase *cons, uint64_t ring_elems, const eng_pattern *q,
                    eng_pattern *rel)
{
    if (!ring_elems || !eng_pattern_within(q, cons->fifo_first, cons->fifo_elems))
        return false;
    *rel = *q;
    rel->first = (q->first - cons->fifo_first) % ring_elems;
    return true;
}

uint64_t eng_fifo_ring_elems(const eng_phase *producer, const eng_phase *consumer)
{
    return consumer->chained ? (uint64_t)consumer->fifo_tags * eng_phase_out_elems(producer) : 0;
}

uint32_t eng_group_len(const eng_program *p, uint32_t first)
{
    uint32_t n = 1;
    while (first + n < p->n_phases && p->phases[first + n].chained)
        n++;
    return n;
}

uint64_t eng_chain_need(uint64_t producer_tags, uint64_t consumer_tags, uint64_t t)
{
    if (!consumer_tags)
        return 0;
    uint64_t need = util_ceil_div((t + 1) * producer_tags, consumer_tags);
    return need < producer_tags ? need : producer_tags;
}

uint64_t eng_chain_freed(uint64_t producer_tags, uint64_t consumer_tags, uint64_t fetched)
{
    return fetched * producer_tags / consumer_tags;
}

uint64_t eng_flits(const eng_sim *s, uint64_t elems)
{
    uint64_t f = util_ceil_div(elems * s->elem_bytes, s->link_bytes);
    return f ? f : 1;
}

void eng_node_pos(const eng_sim *s, uint32_t node, uint32_t *r, uint32_t *c)
{
    uint32_t rows = s->a->array.rows, cols = s->a->array.cols;
    if (node < rows * cols) {
        *r = node / cols;
        *c = node % cols;
        return;
    }
    uint32_t port = node - rows * cols;
    *r = port % rows;
    *c = port < rows ? 0 : cols - 1;
}

uint32_t eng_manhattan(const eng_sim *s, uint32_t node_a, uint32_t node_b)
{
    uint32_t ra, ca, rb, cb;
    eng_node_pos(s, node_a, &ra, &ca);
    eng_node_pos(s, node_b, &rb, &cb);
    return (ra > rb ? ra - rb : rb - ra) + (ca > cb ? ca - cb : cb - ca);
}

/* ---------------------------------------------------------------- validation */

/* Every producer store and consumer read that touches the FIFO's tensor lies wholly in
 * it and within one turn of the ring: the DMA places a transfer at its first element's
 * ring position and serves it as one piece, and one only partly inside would go to DRAM,
 * which the ring's rows never reach. */
static int check_ring_fit(const eng_phase *f, uint32_t ph, char *err, size_t errlen)
{
    uint64_t ring = eng_fifo_ring_elems(f - 1, f), lo = f->fifo_first, hi = lo + f->fifo_elems;
    for (int side = 0; side < 2; side++) {
        const eng_phase *g = side ? f : f - 1;
        for (uint64_t k = 0; k < g->n_tags; k++) {
            eng_tag_io io;
            g->tag_dma(g->tag_ctx, k, &io);
            uint32_t n = side ? io.n_in : io.n_out;
            for (uint32_t part = 0; part < n; part++) {
                const eng_pattern *q = side ? &io.in[part] : &io.out[part];
                if (!eng_pattern_elems(q) || eng_pattern_end(q) <= lo || q->first >= hi)
                    continue;
                uint64_t span = eng_pattern_end(q) - q->first;
                bool inside = eng_pattern_within(q, lo, f->fifo_elems);
                if (inside && (q->first - lo) % ring + span <= ring)
                    continue;
                return util_fail(
                    UTIL_ERUN, err, errlen,
                    "phase %u: %s tag %llu's %s (elements %llu..%llu) %s the FIFO ring of "
                    "%llu elements over elements %llu..%llu",
                    side ? ph : ph - 1, side ? "consumer" : "producer", (unsigned long long)k,
                    side ? "input" : "output", (unsigned long long)q->first,
                    (unsigned long long)(q->first + span - 1),
                    inside ? "wraps around" : "lies partly outside", (unsigned long long)ring,
                    (unsigned long long)lo, (unsigned long long)(hi - 1));
            }
        }
    }
    return UTIL_OK;
}

/* A chained phase has a producer before it, both stream once, and a FIFO ring lies in
 * the image beside the on-chip region and holds what one consumer tag reads, plus one. */
static int check_chaining(const eng_program *p, uint32_t ph, uint32_t g0, uint32_t g_len, char *err,
                          size_t errlen)
{
    const eng_phase *f = &p->phases[ph];
    if (f->chained && ph == 0)
        return util_fail(UTIL_ERUN, err, errlen, "phase 0 is chained, but no phase precedes it");
    if (!f->chained && (f->fifo_tags || f->fifo_elems))
        return util_fail(UTIL_ERUN, err, errlen, "phase %u has a FIFO ring but is not chained", ph);
    if (g_len > 1 && (f->repeats != 1 || f->n_tags == 0))
        return util_fail(UTIL_ERUN, err, errlen,
                         "phase %u is in a chained group of %u phases (from phase %u), so it "
                         "must stream its tags once (repeats %llu, tags %llu)",
                         ph, g_len, g0, (unsigned long long)f->repeats,
                         (unsigned long long)f->n_tags);
    if (!f->fifo_tags)
        return UTIL_OK;
    const eng_phase *prod = f - 1;
    uint64_t least = eng_chain_need(prod->n_tags, f->n_tags, 0) + 1;
    if (f->fifo_tags < least)
        return util_fail(UTIL_ERUN, err, errlen,
                         "phase %u: a FIFO ring of %u producer tags cannot hold what one of its "
                         "tags reads plus one (%llu)",
                         ph, f->fifo_tags, (unsigned long long)least);
    if (!f->fifo_elems || f->fifo_first + f->fifo_elems > p->dram_elems ||
        (p->onchip_elems && f->fifo_first < p->onchip_first + p->onchip_elems &&
         p->onchip_first < f->fifo_first + f->fifo_elems))
        return util_fail(UTIL_ERUN, err, errlen,
                         "phase %u: the FIFO's tensor (%llu elements from %llu) must lie in the "
                         "image, outside the on-chip region",
                         ph, (unsigned long long)f->fifo_elems, (unsigned long long)f->fifo_first);
    return check_ring_fit(f, ph, err, errlen);
}

int eng_validate(const arch_desc *a, const eng_program *p, char *err, size_t errlen)
{
    uint32_t n_pe = arch_pe_count(a);
    uint32_t w = util_dtype_bytes(p->dtype);
    if (!(a->pe.dtypes & (1u << p->dtype)))
        return util_fail(UTIL_ERUN, err, errlen, "the PEs do not support %s",
                         util_dtype_name(p->dtype));
    uint64_t top = (p->onchip_elems + p->kept_elems) * w; /* on-chip region, kept weights */
    if ((p->onchip_elems && p->onchip_first + p->onchip_elems > p->dram_elems) ||
        (p->kept_elems && p->kept_first + p->kept_elems > p->dram_elems) || top > arch_spm_bytes(a))
        return util_fail(UTIL_ERUN, err, errlen,
                         "the on-chip region (%llu elements) or the kept weights (%llu) lie "
                         "outside the image or exceed the %llu-byte SPM",
                         (unsigned long long)p->onchip_elems, (unsigned long long)p->kept_elems,
                         (unsigned long long)arch_spm_bytes(a));
    uint32_t *per_pe = calloc(n_pe, sizeof *per_pe);
    uint64_t *buf_pe = calloc(n_pe, sizeof *buf_pe);
    int rc = UTIL_OK;
    if (!per_pe || !buf_pe) {
        rc = util_fail(UTIL_ERUN, err, errlen, "out of memory");
        goto out;
    }
    uint32_t g0 = 0, g_len = 0; /* the group being checked */
    uint64_t spm_need = 0;
    for (uint32_t ph = 0; ph < p->n_phases && !rc; ph++) {
        const eng_phase *f = &p->phases[ph];
        if (ph == g0 + g_len) {
            g0 = ph;
            g_len = eng_group_len(p, ph);
            memset(per_pe, 0, n_pe * sizeof *per_pe);
            memset(buf_pe, 0, n_pe * sizeof *buf_pe);
            spm_need = top;
        }
        if ((rc = check_chaining(p, ph, g0, g_len, err, errlen)))
            break;
        spm_need += eng_phase_spm_elems(f) * w;
        if (ph > g0)
            spm_need += eng_fifo_ring_elems(f - 1, f) * w;
        if (f->in_slots == 0 || f->out_slots == 0 || f->tag_elems == 0 || f->repeats == 0 ||
            f->stage_slots > ENG_STAGE_MAX) {
            rc = util_fail(UTIL_ERUN, err, errlen,
                           "phase %u: no SPM slots, empty tags, no repeats or more than %d "
                           "weight staging buffers",
                           ph, ENG_STAGE_MAX);
            break;
        }
        for (uint32_t i = 0; i < f->n_instr && !rc; i++) {
            const eng_instr *in = &f->instr[i];
            if (in->pe >= n_pe) {
                rc = util_fail(UTIL_ERUN, err, errlen,
                               "phase %u: instruction %u is on PE %u, but the array has %u PEs", ph,
                               i, in->pe, n_pe);
                break;
            }
            if (in->op >= ENG_OP_COUNT || in->local_elems == 0 ||
                (in->op == ENG_OP_KERNEL && !in->kernel)) {
                rc = util_fail(UTIL_ERUN, err, errlen, "phase %u: instruction %u is malformed", ph,
                               i);
                break;
            }
            if (in->op == ENG_OP_BFLY &&
                (in->param >= 31 || in->local_elems % (2u << in->param) != 0 ||
                 in->weight_elems != in->local_elems * 2)) {
                rc = util_fail(UTIL_ERUN, err, errlen,
                               "phase %u: bfly instruction %u has inconsistent sizes", ph, i);
                break;
            }
            per_pe[in->pe]++;
            buf_pe[in->pe] +=
                ((uint64_t)a->pe.tags * in->local_elems + eng_instr_buffer_weights(in)) * w;
            if ((in->weight_run &&
                 (in->weight_elems % in->weight_run || in->weight_pitch < in->weight_run)) ||
                (in->weight_sets && in->weight_elems % in->weight_sets) ||
                (in->weight_parts &&
                 (in->weight_elems % in->weight_parts || in->weight_run || in->weight_sets > 1))) {
                rc = util_fail(
                    UTIL_ERUN, err, errlen,
                    "phase %u: strided, set or streamed weights of instruction %u are malformed",
                    ph, i);
                break;
            }
            eng_pattern last =
                eng_instr_weights(in, in->weight_addr + (f->repeats - 1) * f->weight_stride);
            if (in->weight_elems && eng_pattern_end(&last) > p->dram_elems) {
                rc = util_fail(UTIL_ERUN, err, errlen,
                               "phase %u: weights of instruction %u lie outside DRAM", ph, i);
                break;
            }
        }
        /* a group's phases share the PEs' stores and buffers and the SPM */
        bool group_end = ph + 1 == g0 + g_len;
        for (uint32_t pe = 0; pe < n_pe && !rc && group_end; pe++) {
            if (per_pe[pe] > a->pe.istore)
                rc = util_fail(UTIL_ERUN, err, errlen,
                               "%s %u: PE %u needs %u instruction-store entries, pe.istore = %u",
                               g_len > 1 ? "chained phases up to" : "phase", ph, pe, per_pe[pe],
                               a->pe.istore);
            else if (buf_pe[pe] > a->pe.buffer_bytes)
                rc = util_fail(UTIL_ERUN, err, errlen,
                               "%s %u: PE %u needs %llu bytes of operand slots and weights, "
                               "pe.buffer_kb holds %u",
                               g_len > 1 ? "chained phases up to" : "phase", ph, pe,
                               (unsigned long long)buf_pe[pe], a->pe.buffer_bytes);
        }
        if (!rc && group_end && spm_need > arch_spm_bytes(a))
            rc = util_fail(UTIL_ERUN, err, errlen,
                           "%s %u: SPM slots, weight staging%s and %llu bytes of on-chip "
                           "intermediates and kept weights need %llu bytes, the SPM has %llu",
                           g_len > 1 ? "chained phases up to" : "phase", ph,
                           g_len > 1 ? ", FIFO rings" : "", (unsigned long long)top,
                           (unsigned long long)spm_need, (unsigned long long)arch_spm_bytes(a));
        /* Transfers: endpoints exist, sizes add up. */
        uint64_t *in_elems = rc ? NULL : calloc(f->n_instr + 1, sizeof *in_elems);
        if (!rc && !in_elems)
            rc = util_fail(UTIL_ERUN, err, errlen, "out of memory");
        uint64_t to_spm = 0;
        for (uint32_t x = 0; x < f->n_xfer && !rc; x++) {
            const eng_xfer *t = &f->xfer[x];
            bool bad = t->src_instr >= (int32_t)f->n_instr || t->dst_instr >= (int32_t)f->n_instr ||
                       t->src_instr < -1 || t->dst_instr < -1 ||
                       (t->src_instr < 0 && t->dst_instr < 0) || t->elems == 0 ||
                       t->spm_port >= 2 * a->array.rows;
            if (!bad && (t->src_instr < 0 || t->dst_instr < 0)) {
                bad = eng_pattern_elems(&t->spm) != t->elems ||
                      eng_pattern_end(&t->spm) > f->tag_elems;
            }
            if (bad) {
                rc = util_fail(UTIL_ERUN, err, errlen, "phase %u: transfer %u is malformed", ph, x);
                break;
            }
            if (t->dst_instr >= 0)
                in_elems[t->dst_instr] += t->elems;
            else
                to_spm += t->elems;
        }
        for (uint32_t i = 0; i < f->n_instr && !rc; i++)
            if (in_elems[i] == 0 || in_elems[i] > f->instr[i].local_elems)
                rc = util_fail(UTIL_ERUN, err, errlen,
                               "phase %u: instruction %u receives %llu elements per tag, its "
                               "buffer holds %u",
                               ph, i, (unsigned long long)in_elems[i], f->instr[i].local_elems);
        uint32_t out_elems = eng_phase_out_elems(f);
        if (!rc && (to_spm != out_elems || out_elems > f->tag_elems))
            rc = util_fail(UTIL_ERUN, err, errlen,
                           "phase %u: %llu elements per tag reach the output slot, expected %u", ph,
                           (unsigned long long)to_spm, out_elems);
        free(in_elems);
    }
out:
    free(per_pe);
    free(buf_pe);
    return rc;
}

/* ---------------------------------------------------------------- life cycle */

static void comp_init(comp *c, uint32_t id, enum comp_kind kind, uint32_t index)
{
    memset(c, 0, sizeof *c);
    c->id = id;
    c->kind = kind;
    c->index = index;
}

int eng_sim_create(const arch_desc *a, const eng_program *p, float *image, eng_sim **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    int rc = eng_validate(a, p, err, errlen);
    if (rc)
        return rc;
    eng_sim *s = calloc(1, sizeof *s);
    if (!s)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    s->a = a;
    s->p = p;
    s->image = image;
    s->functional = image != NULL;
    s->lanes = arch_lanes(a, p->dtype);
    s->elem_bytes = util_dtype_bytes(p->dtype);
    s->link_bytes = arch_link_bytes(a);
    s->msgs.size = sizeof(msg);
    s->spm_reqs.size = sizeof(spm_req);
    s->dma_descs.size = sizeof(dma_desc) + a->dram.channels * sizeof(uint32_t);
    uint32_t n_pe = arch_pe_count(a);
    s->n_comps = 5 + n_pe;
    s->comps = calloc(s->n_comps, sizeof *s->comps);
    s->pes = calloc(n_pe, sizeof *s->pes);
    s->dram_free = calloc(a->dram.channels, sizeof *s->dram_free);
    s->bank_free = calloc(a->spm.banks, sizeof *s->bank_free);
    s->bank_count = calloc(a->spm.banks, sizeof *s->bank_count);
    s->port_inject_free = calloc(2 * a->array.rows, sizeof *s->port_inject_free);
    /* the on-chip region sits at the top of the SPM, word-aligned, above every slot */
    s->onchip_base = (arch_spm_bytes(a) - p->onchip_elems * s->elem_bytes) / a->spm.width_bytes *
                     a->spm.width_bytes;
    /* the kept weights just below it */
    s->kept_base =
        (s->onchip_base - p->kept_elems * s->elem_bytes) / a->spm.width_bytes * a->spm.width_bytes;
    s->kept_loaded = calloc(eng_kept_words(p), sizeof *s->kept_loaded);
    s->st.pe = calloc(n_pe, sizeof *s->st.pe);
    s->st.n_pes = n_pe;
    if (!s->comps || !s->pes || !s->dram_free || !s->bank_free || !s->bank_count ||
        !s->port_inject_free || !s->kept_loaded || !s->st.pe || eng_noc_init(s)) {
        eng_sim_destroy(s);
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    }
    comp_init(&s->ctl_c, 0, COMP_CTL, 0);
    comp_init(&s->dma_c, 1, COMP_DMA, 0);
    comp_init(&s->dram_c, 2, COMP_DRAM, 0);
    comp_init(&s->spm_c, 3, COMP_SPM, 0);
    comp_init(&s->noc_c, 4, COMP_NOC, 0);
    s->comps[0] = &s->ctl_c;
    s->comps[1] = &s->dma_c;
    s->comps[2] = &s->dram_c;
    s->comps[3] = &s->spm_c;
    s->comps[4] = &s->noc_c;
    for (uint32_t i = 0; i < n_pe; i++) {
        pe_state *pe = &s->pes[i];
        comp_init(&pe->base, 5 + i, COMP_PE, i);
        pe->row = i / a->array.cols;
        pe->col = i % a->array.cols;
        pe->wake_at = UINT64_MAX;
        s->comps[5 + i] = &pe->base;
    }
    s->dram_latency = arch_dram_latency_cycles(a);
    s->dram_bpc_chan = arch_dram_bytes_per_cycle(a) / a->dram.channels;
    /* The run starts with the first phase at cycle 0. */
    eng_post(s, &s->ctl_c, &s->ctl_c, 0, EV_CTL_PHASE, 0, 0, NULL);
    *out = s;
    return UTIL_OK;
}

void eng_sim_observe(eng_sim *s, const eng_observer *obs)
{
    s->obs = obs;
}

void eng_sim_on_post(eng_sim *s, void (*fn)(void *ctx, uint32_t comp, uint64_t time), void *ctx)
{
    s->on_post = fn, s->on_post_ctx = ctx;
}

uint32_t eng_sim_components(const eng_sim *s)
{
    return s->n_comps;
}

bool eng_sim_done(const eng_sim *s)
{
    return s->done || s->fault;
}

uint64_t eng_sim_next(const eng_sim *s, uint32_t c)
{
    const comp *k = s->comps[c];
    return k->inbox.n ? k->inbox.v[0].time : UINT64_MAX;
}

/* Hands event e to component k. */
static void dispatch(eng_sim *s, comp *k, const ev *e)
{
    s->st.events++;
    switch (k->kind) {
    case COMP_CTL:
        eng_ctl_handle(s, e);
        break;
    case COMP_DMA:
        eng_dma_handle(s, e);
        break;
    case COMP_DRAM:
        eng_dram_handle(s, e);
        break;
    case COMP_SPM:
        eng_spm_handle(s, e);
        break;
    case COMP_NOC:
        eng_noc_handle(s, e);
        break;
    case COMP_PE:
        eng_pe_handle(s, &s->pes[k->index], e);
        break;
    }
}

void eng_sim_step(eng_sim *s, uint32_t c, uint64_t now)
{
    comp *k = s->comps[c];
    s->now = now;
    /* (as the native loop: nothing after the last phase has finished) */
    while (k->inbox.n && k->inbox.v[0].time == now && !s->fault && !s->done) {
        ev e;
        heap_pop(&k->inbox, &e);
        dispatch(s, k, &e);
    }
}

int eng_sim_finish(eng_sim *s, eng_stats *stats, char *err, size_t errlen)
{
    memset(stats, 0, sizeof *stats);
    if (s->fault)
        return util_fail(s->fault, err, errlen, "simulation failed: %s", s->fault_msg);
    if (!s->done || s->phase < s->p->n_phases) {
        uint32_t k = 0; /* the first stream still running (or the last) */
        while (k + 1 < s->n_streams && s->str[k].stored == s->str[k].ph->n_tags)
            k++;
        const ctl_stream *c = s->str ? &s->str[k] : NULL;
        return util_fail(UTIL_ERUN, err, errlen,
                         "simulation stalled at cycle %llu in phase %u: %llu of %llu tags stored",
                         (unsigned long long)s->now, c ? c->phase : s->phase,
                         (unsigned long long)(c ? c->stored : 0),
                         (unsigned long long)(c ? c->ph->n_tags : 0));
    }
    eng_pe_stats tot = {0};
    for (uint32_t i = 0; i < s->st.n_pes; i++) {
        const eng_pe_stats *p = &s->st.pe[i];
        tot.fires += p->fires;
        tot.lane_ops += p->lane_ops;
        for (int k = 0; k < ARCH_FU_COUNT; k++) {
            tot.fu_busy[k] += p->fu_busy[k];
            tot.fu_vec_ops[k] += p->fu_vec_ops[k];
        }
        tot.buf_writes += p->buf_writes;
        tot.buf_reads += p->buf_reads;
        tot.weight_elems += p->weight_elems;
        tot.configs += p->configs;
        tot.flits_out += p->flits_out;
    }
    s->st.pe_total = tot;
    s->st.lane_ops = tot.lane_ops;
    *stats = s->st;
    s->st.pe = NULL; /* now owned by the caller */
    return UTIL_OK;
}

void eng_sim_destroy(eng_sim *s)
{
    if (!s)
        return;
    eng_pe_end_group(s);
    eng_ctl_free(s);
    for (uint32_t c = 0; c < s->n_comps && s->comps; c++)
        if (s->comps[c])
            free(s->comps[c]->inbox.v);
    /* Messages still in flight after a failure own their payloads. */
    for (pool_link *o = s->msgs.all; o; o = o->all_next)
        free(((msg *)o)->payload);
    eng_pool_destroy(&s->msgs);
    eng_pool_destroy(&s->spm_reqs);
    eng_pool_destroy(&s->dma_descs);
    free(s->pes);
    free(s->comps);
    wheel_free(&s->queue);
    free(s->dram_free);
    free(s->bank_free);
    free(s->bank_count);
    free(s->port_inject_free);
    free(s->kept_loaded);
    free(s->spm_data);
    free(s->links);
    free(s->st.pe);
    free(s);
}

int eng_run(const arch_desc *a, const eng_program *p, float *image, eng_stats *stats, char *err,
            size_t errlen)
{
    return eng_run_observed(a, p, image, NULL, stats, err, errlen);
}

int eng_run_observed(const arch_desc *a, const eng_program *p, float *image,
                     const eng_observer *obs, eng_stats *stats, char *err, size_t errlen)
{
    eng_sim *s;
    memset(stats, 0, sizeof *stats);
    int rc = eng_sim_create(a, p, image, &s, err, errlen);
    if (rc)
        return rc;
    s->obs = obs;
    /* one queue: the events posted at creation first move into it */
    s->one_queue = true;
    s->queue.slot = calloc(ENG_WHEEL, sizeof *s->queue.slot);
    if (!s->queue.slot)
        eng_oom(s);
    for (uint32_t c = 0; c < s->n_comps && !s->fault; c++) {
        ev e;
        while (s->comps[c]->inbox.n && !s->fault) {
            heap_pop(&s->comps[c]->inbox, &e);
            if (!wheel_push(&s->queue, &e))
                eng_oom(s);
        }
    }
    bool oom = false;
    ev e;
    const volatile sig_atomic_t *stop = obs ? obs->stop : NULL;
    while (!s->fault && !s->done && !(stop && *stop) && wheel_pop(&s->queue, &e, &oom)) {
        s->now = e.time;
        dispatch(s, s->comps[e.to], &e);
    }
    if (oom)
        eng_oom(s);
    if (stop && *stop && !s->fault && !s->done) {
        uint64_t at = s->now;
        eng_sim_destroy(s);
        return util_fail(UTIL_ERUN, err, errlen, "interrupted at cycle %llu",
                         (unsigned long long)at);
    }
    rc = eng_sim_finish(s, stats, err, errlen);
    eng_sim_destroy(s);
    return rc;
}

int eng_run_with(const eng_runner *r, const arch_desc *a, const eng_program *p, float *image,
                 const eng_observer *obs, eng_stats *stats, char *err, size_t errlen)
{
    if (r && r->run)
        return r->run(r->ctx, a, p, image, obs, stats, err, errlen);
    return eng_run_observed(a, p, image, obs, stats, err, errlen);
}

void eng_stats_free(eng_stats *s)
{
    free(s->pe);
    s->pe = NULL;
}
