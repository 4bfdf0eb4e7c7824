/* pe.c: processing elements: tagged dataflow firing of SIMD instructions with credits. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---------------------------------------------------------------- phase set-up */

static void free_instr_state(instr_state *st)
{
    free(st->received);
    free(st->in_x);
    free(st->out_x);
    free(st->targets);
    free(st->prod_instr);
    free(st->prod_target);
    free(st->prod_port);
    free(st->out_ring);
    free(st->buf);
    free(st->weights);
}

void eng_pe_end_group(eng_sim *s)
{
    for (uint32_t i = 0; s->is && i < s->n_is; i++)
        free_instr_state(&s->is[i]);
    free(s->is);
    s->is = NULL;
    s->n_is = 0;
    free(s->xf);
    s->xf = NULL;
    s->n_xf = 0;
    if (s->pes)
        for (uint32_t p = 0; p < arch_pe_count(s->a); p++) {
            free(s->pes[p].instr);
            s->pes[p].instr = NULL;
            s->pes[p].n_instr = 0;
        }
}

/* Index of consumer instr in the producer's target list, added if new. */
static uint32_t target_of(instr_state *prod, int32_t consumer, uint32_t credit)
{
    for (uint32_t k = 0; k < prod->n_targets; k++)
        if (prod->targets[k].instr == consumer)
            return k;
    prod->targets[prod->n_targets] = (target){consumer, credit};
    return prod->n_targets++;
}

/* The group's transfers in one list, endpoints as group instruction indices. */
static int gather_xfers(eng_sim *s)
{
    for (uint32_t k = 0; k < s->n_streams; k++) {
        s->n_is += s->str[k].ph->n_instr;
        s->n_xf += s->str[k].ph->n_xfer;
    }
    s->is = calloc(s->n_is ? s->n_is : 1, sizeof *s->is);
    s->xf = calloc(s->n_xf ? s->n_xf : 1, sizeof *s->xf);
    if (!s->is || !s->xf)
        return UTIL_ERUN;
    for (uint32_t k = 0; k < s->n_streams; k++) {
        const ctl_stream *c = &s->str[k];
        for (uint32_t x = 0; x < c->ph->n_xfer; x++) {
            const eng_xfer *t = &c->ph->xfer[x];
            s->xf[c->xfer_base + x] =
                (group_xfer){t, k, t->src_instr < 0 ? -1 : (int32_t)c->instr_base + t->src_instr,
                             t->dst_instr < 0 ? -1 : (int32_t)c->instr_base + t->dst_instr, 0};
        }
        for (uint32_t i = 0; i < c->ph->n_instr; i++) {
            s->is[c->instr_base + i].ins = &c->ph->instr[i];
            s->is[c->instr_base + i].stream = k;
        }
    }
    return UTIL_OK;
}

int eng_pe_begin_group(eng_sim *s)
{
    uint32_t tags = s->a->pe.tags, outs = s->a->pe.out_slots;
    if (gather_xfers(s))
        return UTIL_ERUN;
    /* Count each instruction's transfers, then allocate its lists. */
    for (uint32_t x = 0; x < s->n_xf; x++) {
        if (s->xf[x].src >= 0)
            s->is[s->xf[x].src].n_out++;
        if (s->xf[x].dst >= 0)
            s->is[s->xf[x].dst].n_in++;
    }
    for (uint32_t i = 0; i < s->n_is; i++) {
        instr_state *st = &s->is[i];
        const eng_instr *in = st->ins;
        st->index = i;
        st->received = calloc(tags, sizeof *st->received);
        st->in_x = calloc(st->n_in + 1, sizeof *st->in_x);
        st->out_x = calloc(st->n_out + 1, sizeof *st->out_x);
        st->targets = calloc(st->n_out + 1, sizeof *st->targets);
        st->prod_instr = calloc(st->n_in + 1, sizeof *st->prod_instr);
        st->prod_target = calloc(st->n_in + 1, sizeof *st->prod_target);
        st->prod_port = calloc(st->n_in + 1, sizeof *st->prod_port);
        st->out_ring = calloc(outs, sizeof *st->out_ring);
        if (!st->received || !st->in_x || !st->out_x || !st->targets || !st->prod_instr ||
            !st->prod_target || !st->prod_port || !st->out_ring)
            return UTIL_ERUN;
        if (s->functional) {
            st->buf = calloc((size_t)tags * in->local_elems, sizeof *st->buf);
            st->weights = calloc(in->weight_elems + 1, sizeof *st->weights);
            if (!st->buf || !st->weights)
                return UTIL_ERUN;
        }
        st->n_in = st->n_out = 0;
        st->part_in[0] = st->part_in[1] = UINT64_MAX;
    }
    for (uint32_t x = 0; x < s->n_xf; x++) {
        group_xfer *g = &s->xf[x];
        if (g->src >= 0) {
            instr_state *p = &s->is[g->src];
            p->out_x[p->n_out++] = x;
            uint32_t credit = g->dst >= 0 ? tags : s->str[g->stream].ph->out_slots;
            g->target = target_of(p, g->dst, credit);
        }
        if (g->dst >= 0) {
            instr_state *c = &s->is[g->dst];
            c->in_x[c->n_in++] = x;
            c->expect += g->t->elems;
        }
    }
    /* Producers to return credits to: one entry per distinct producer. */
    for (uint32_t i = 0; i < s->n_is; i++) {
        instr_state *c = &s->is[i];
        for (uint32_t k = 0; k < c->n_in; k++) {
            const group_xfer *g = &s->xf[c->in_x[k]];
            bool seen = false;
            for (uint32_t j = 0; j < c->n_prod && !seen; j++)
                seen = c->prod_instr[j] == g->src;
            if (seen)
                continue;
            c->prod_instr[c->n_prod] = g->src;
            c->prod_target[c->n_prod] = g->src >= 0 ? g->target : 0;
            c->prod_port[c->n_prod] = g->t->spm_port;
            c->n_prod++;
        }
    }
    /* Instructions of each PE. */
    for (uint32_t i = 0; i < s->n_is; i++)
        s->pes[s->is[i].ins->pe].n_instr++;
    for (uint32_t p = 0; p < arch_pe_count(s->a); p++) {
        pe_state *pe = &s->pes[p];
        pe->instr = calloc(pe->n_instr + 1, sizeof *pe->instr);
        if (!pe->instr)
            return UTIL_ERUN;
        pe->n_instr = 0;
        pe->wake_at = UINT64_MAX;
    }
    for (uint32_t i = 0; i < s->n_is; i++) {
        pe_state *pe = &s->pes[s->is[i].ins->pe];
        pe->instr[pe->n_instr++] = i;
    }
    return UTIL_OK;
}

/* ---------------------------------------------------------------- firing */

static void wake_at(eng_sim *s, pe_state *pe, uint64_t t)
{
    if (t < pe->wake_at) {
        pe->wake_at = t;
        eng_post(s, &pe->base, &pe->base, t, EV_PE_WAKE, 0, 0, NULL);
    }
}

/* Whether tag `tag` may start on instruction st: its operands are in, every consumer has
 * a free slot, and its output slot is free (else a wake-up is set where one is due). */
static bool tag_ready(eng_sim *s, pe_state *pe, instr_state *st, uint64_t tag)
{
    if (st->received[tag % s->a->pe.tags] < st->expect)
        return false;
    for (uint32_t k = 0; k < st->n_targets; k++)
        if (st->targets[k].credit == 0)
            return false;
    uint64_t ring = st->out_ring[tag % s->a->pe.out_slots];
    if (ring > s->now) {
        if (ring != UINT64_MAX)
            wake_at(s, pe, ring);
        return false; /* UINT64_MAX: that result is still computing; its DONE retries */
    }
    return true;
}

/* Vector operations of step `step` of P on unit u: the steps split them evenly. */
static uint64_t step_ops(const eng_instr *in, uint32_t u, uint32_t step, uint32_t P)
{
    if (P == 1) /* (every firing of an unstreamed instruction: no division) */
        return in->vec_ops[u];
    return (uint64_t)in->vec_ops[u] * (step + 1) / P - (uint64_t)in->vec_ops[u] * step / P;
}

/* Fires the instruction for as many tags as are ready, in tag order; with streamed
 * weights, each tag in weight_parts steps, each once its part has arrived. */
static void try_fire(eng_sim *s, pe_state *pe, instr_state *st)
{
    const eng_instr *in = st->ins;
    uint32_t P = in->weight_parts ? in->weight_parts : 1;
    while (st->next_fire < s->str[st->stream].ph->n_tags && st->configured) {
        if (st->config_ready > s->now) {
            wake_at(s, pe, st->config_ready);
            return;
        }
        uint64_t tag = st->next_fire;
        if (st->step == 0 && !tag_ready(s, pe, st, tag))
            return;
        uint64_t part = tag * P + st->step;
        if (in->weight_parts && st->part_in[part % 2] != part)
            return; /* its weights are on their way */
        uint64_t start = s->now, span = 0, latency = 0, ops[ARCH_FU_COUNT];
        for (uint32_t k = 0; k < ARCH_FU_COUNT; k++) {
            ops[k] = step_ops(in, k, st->step, P);
            if (ops[k] && pe->fu_free[k] > start)
                start = pe->fu_free[k];
        }
        eng_pe_stats *ps = &s->st.pe[pe->base.index];
        uint64_t mac_busy = ps->fu_busy[ARCH_FU_MAC];
        for (uint32_t k = 0; k < ARCH_FU_COUNT; k++) {
            if (!ops[k])
                continue;
            uint64_t ii = eng_fu_interval(s->a, s->p->dtype, s->lanes, (arch_fu_kind)k);
            pe->fu_free[k] = start + ops[k] * ii;
            if ((ops[k] - 1) * ii > span)
                span = (ops[k] - 1) * ii;
            latency += s->a->pe.fu[k].latency;
            ps->fu_busy[k] += ops[k] * ii;
            ps->fu_vec_ops[k] += ops[k];
        }
        /* An instruction that uses no unit only moves data: one cycle. */
        uint64_t done = start + span + (latency ? latency : 1);
        if (eng_obs_wants(s, ENG_EVENT_PE))
            s->obs->event(s->obs->ctx,
                          &(eng_event){ENG_EVENT_PE, pe->base.index, s->now, done - s->now,
                                       ps->fu_busy[ARCH_FU_MAC] - mac_busy, tag, false, NULL});
        if (st->step == 0) {
            for (uint32_t k = 0; k < st->n_targets; k++)
                st->targets[k].credit--;
            st->out_ring[tag % s->a->pe.out_slots] = UINT64_MAX;
            ps->fires++;
            ps->lane_ops += in->lane_ops;
        }
        if (++st->step < P) {
            eng_post(s, &pe->base, &pe->base, done, EV_PE_STEP, st->index, tag, NULL);
            continue;
        }
        st->step = 0;
        eng_post(s, &pe->base, &pe->base, done, EV_PE_DONE, st->index, tag, NULL);
        st->next_fire++;
    }
}

/* A streamed part's buffer on the PE is free again: tell the controller. */
static void part_used(eng_sim *s, pe_state *pe, const instr_state *st)
{
    uint32_t port = eng_spm_port_near(s->a, pe->base.index);
    uint64_t lat = eng_signal_latency(s, pe->base.index, eng_port_node(s, port));
    eng_post_ctl(s, &pe->base, s->now + lat, EV_CTL_PART_USED, st->stream,
                 st->index - s->str[st->stream].instr_base, 0);
}

static void try_all(eng_sim *s, pe_state *pe)
{
    for (uint32_t k = 0; k < pe->n_instr; k++)
        try_fire(s, pe, &s->is[pe->instr[k]]);
}

/* ---------------------------------------------------------------- operations */

static void exec_bfly(const eng_sim *s, const eng_instr *in, float *v, const float *w)
{
    uint32_t bit = in->param, pairs = in->local_elems / 2;
    util_dtype t = s->p->dtype;
    for (uint32_t k = 0; k < pairs; k++) {
        uint32_t l0 = (uint32_t)util_insert_bit(k, bit, 0), l1 = l0 | (1u << bit);
        const float *q = w + 4 * (size_t)k;
        double x0 = v[l0], x1 = v[l1];
        /* Products and sums in double, one rounding to the element type: an FP16
         * datapath with a wide accumulator. */
        v[l0] = util_round_dtype(t, (float)((double)q[0] * x0 + (double)q[1] * x1));
        v[l1] = util_round_dtype(t, (float)((double)q[2] * x0 + (double)q[3] * x1));
    }
}

static void complete(eng_sim *s, pe_state *pe, instr_state *st, uint64_t tag)
{
    const eng_instr *in = st->ins;
    uint32_t slot = (uint32_t)(tag % s->a->pe.tags);
    float *v = s->functional ? st->buf + (size_t)slot * in->local_elems : NULL;
    eng_pe_stats *ps = &s->st.pe[pe->base.index];
    uint32_t set_elems = eng_instr_set_elems(in);
    ps->buf_reads += in->local_elems + set_elems;
    const float *w =
        v ? st->weights + (in->weight_sets ? tag % in->weight_sets : 0) * set_elems : NULL;
    if (v && in->op == ENG_OP_BFLY)
        exec_bfly(s, in, v, w);
    else if (v && in->op == ENG_OP_KERNEL)
        in->kernel(in->kernel_ctx, in, s->repeat, tag, v, w, s->p->dtype);
    /* Results leave through the PE's injection link, one message per transfer. */
    uint64_t slot_free = s->now;
    for (uint32_t k = 0; k < st->n_out; k++) {
        uint32_t x = st->out_x[k];
        const eng_xfer *t = s->xf[x].t;
        int32_t dst = s->xf[x].dst;
        msg *m = eng_msg_alloc(s);
        if (!m) {
            eng_oom(s);
            return;
        }
        m->kind = MSG_DATA;
        m->index = x;
        m->tag = tag;
        m->flits = (uint32_t)eng_flits(s, t->elems);
        m->src_node = pe->base.index;
        m->dst_node = dst >= 0 ? s->is[dst].ins->pe : eng_port_node(s, t->spm_port);
        if (v) {
            m->payload = malloc((size_t)t->elems * sizeof *m->payload);
            if (!m->payload) {
                eng_oom(s);
                return;
            }
            for (uint32_t j = 0; j < t->elems; j++)
                m->payload[j] = v[t->src_pos ? t->src_pos[j] : j];
        }
        if (dst >= 0 && m->dst_node == pe->base.index) {
            /* Same PE: the result is written straight into the consumer's slot. */
            eng_post(s, &pe->base, &pe->base, s->now + 1, EV_PE_DATA, 0, 0, m);
            continue;
        }
        uint64_t start = pe->inject_free > s->now ? pe->inject_free : s->now;
        pe->inject_free = start + m->flits;
        ps->flits_out += m->flits;
        slot_free = pe->inject_free;
        eng_noc_send(s, &pe->base, m, start + 1);
    }
    st->out_ring[tag % s->a->pe.out_slots] = slot_free;
    /* Free the operand slot and hand its credit back to every producer. */
    st->received[slot] = 0;
    for (uint32_t k = 0; k < st->n_prod; k++) {
        int32_t p = st->prod_instr[k];
        if (p < 0) {
            uint64_t lat =
                eng_signal_latency(s, pe->base.index, eng_port_node(s, st->prod_port[k]));
            eng_post_ctl(s, &pe->base, s->now + lat, EV_CTL_CREDIT, st->stream, st->index, 0);
            continue;
        }
        uint32_t ppe = s->is[p].ins->pe;
        uint64_t lat = eng_signal_latency(s, pe->base.index, ppe);
        eng_post(s, &pe->base, &s->pes[ppe].base, s->now + lat, EV_PE_CREDIT, (uint32_t)p,
                 st->prod_target[k], NULL);
    }
}

void eng_pe_handle(eng_sim *s, pe_state *pe, const ev *e)
{
    switch (e->kind) {
    case EV_PE_CONFIG: {
        msg *m = e->p;
        instr_state *st = &s->is[m->index];
        st->configured = true;
        st->config_ready = s->now + s->a->pe.config_cycles;
        eng_pe_stats *ps = &s->st.pe[pe->base.index];
        ps->configs++;
        ps->weight_elems += eng_instr_config_elems(st->ins);
        if (s->functional && m->payload)
            memcpy(st->weights, m->payload, st->ins->weight_elems * sizeof *st->weights);
        eng_msg_free(s, m);
        try_fire(s, pe, st);
        return;
    }
    case EV_PE_DATA: {
        msg *m = e->p;
        const eng_xfer *t = s->xf[m->index].t;
        instr_state *st = &s->is[s->xf[m->index].dst];
        uint32_t slot = (uint32_t)(m->tag % s->a->pe.tags);
        st->received[slot] += t->elems;
        s->st.pe[pe->base.index].buf_writes += t->elems;
        if (s->functional && m->payload) {
            float *v = st->buf + (size_t)slot * st->ins->local_elems;
            for (uint32_t j = 0; j < t->elems; j++)
                v[t->dst_pos ? t->dst_pos[j] : j] = m->payload[j];
        }
        eng_msg_free(s, m);
        try_fire(s, pe, st);
        return;
    }
    case EV_PE_CREDIT: {
        if (e->epoch != s->epoch)
            return; /* the group it belonged to is over */
        instr_state *st = &s->is[e->a];
        uint32_t k = (uint32_t)e->b;
        if (e->b == UINT64_MAX) /* from the controller: the SPM output target */
            for (k = 0; k < st->n_targets && st->targets[k].instr >= 0; k++)
                ;
        if (k < st->n_targets)
            st->targets[k].credit++;
        else
            eng_fault(s, "credit for an unknown target of instruction %u", e->a);
        try_fire(s, pe, st);
        return;
    }
    case EV_PE_PART: {
        /* a streamed part: every tag's parts carry the same weights, into their place */
        msg *m = e->p;
        instr_state *st = &s->is[m->index];
        uint32_t n = eng_instr_load_elems(st->ins);
        st->part_in[m->tag % 2] = m->tag;
        s->st.pe[pe->base.index].weight_elems += n;
        if (s->functional && m->payload)
            memcpy(st->weights + (size_t)(m->tag % st->ins->weight_parts) * n, m->payload,
                   n * sizeof *st->weights);
        eng_msg_free(s, m);
        try_fire(s, pe, st);
        return;
    }
    case EV_PE_STEP:
        part_used(s, pe, &s->is[e->a]);
        try_all(s, pe);
        return;
    case EV_PE_DONE:
        complete(s, pe, &s->is[e->a], e->b);
        if (s->is[e->a].ins->weight_parts)
            part_used(s, pe, &s->is[e->a]);
        try_all(s, pe);
        return;
    case EV_PE_WAKE:
        if (e->epoch != s->epoch)
            return;
        if (pe->wake_at == s->now)
            pe->wake_at = UINT64_MAX;
        try_all(s, pe);
        return;
    default:
        eng_fault(s, "PE got unexpected event %u", e->kind);
    }
}
