/* noc.c: 2-D mesh with optional skip links; messages cross it link by link, reserving each. */
#include <stdlib.h>

#include "internal.h"

/* Outgoing links of a router: 4 mesh directions, 4 per skip stride, then ejection to
 * its PE. SPM port ejection links follow all routers' links. */
enum { DIR_E, DIR_W, DIR_N, DIR_S };

int eng_noc_init(eng_sim *s)
{
    uint32_t routers = arch_pe_count(s->a);
    s->n_nodes = routers + 2 * s->a->array.rows;
    s->link_dirs = 4 + 4 * s->a->noc.n_skip + 1;
    s->n_links = routers * s->link_dirs + 2 * s->a->array.rows;
    s->links = calloc(s->n_links, sizeof *s->links);
    return s->links ? UTIL_OK : UTIL_ERUN;
}

uint32_t eng_noc_links(const arch_desc *a)
{
    uint32_t R = a->array.rows, C = a->array.cols, n = 0;
    for (uint32_t k = 0; k <= a->noc.n_skip; k++) {
        uint32_t len =
            k < a->noc.n_skip ? a->noc.skip[k] : 1; /* each way, along rows and columns */
        n += 2 * (R * (C > len ? C - len : 0) + C * (R > len ? R - len : 0));
    }
    return n;
}

/* Largest stride (1 or a skip length) that does not overshoot a distance. */
static uint32_t best_stride(const eng_sim *s, uint32_t dist, uint32_t *skip_index)
{
    uint32_t best = 1;
    *skip_index = UINT32_MAX;
    for (uint32_t k = 0; k < s->a->noc.n_skip; k++) {
        uint32_t len = s->a->noc.skip[k];
        if (len <= dist && len > best) {
            best = len;
            *skip_index = k;
        }
    }
    return best;
}

void eng_noc_send(eng_sim *s, comp *from, msg *m, uint64_t head_at_router)
{
    eng_node_pos(s, m->src_node, &m->r, &m->c);
    s->st.noc.messages++;
    s->st.noc.flits += m->flits;
    if (eng_obs_wants(s, ENG_EVENT_NOC))
        s->obs->event(s->obs->ctx,
                      &(eng_event){ENG_EVENT_NOC, m->src_node, s->now, head_at_router - s->now,
                                   m->flits, m->tag, false, NULL});
    eng_post(s, from, &s->noc_c, head_at_router, EV_NOC_HOP, 0, 0, m);
}

/* Delivers a message whose tail has arrived at its destination node. */
static void deliver(eng_sim *s, msg *m, uint64_t at)
{
    uint32_t routers = arch_pe_count(s->a);
    if (m->dst_node < routers) {
        eng_post(s, &s->noc_c, &s->pes[m->dst_node].base, at,
                 m->kind == MSG_CONFIG ? EV_PE_CONFIG
                 : m->kind == MSG_PART ? EV_PE_PART
                                       : EV_PE_DATA,
                 0, 0, m);
        return;
    }
    const eng_xfer *x = s->xf[m->index].t;
    uint32_t k = s->xf[m->index].stream;
    spm_req *r = eng_spm_req_alloc(s);
    if (!r) {
        eng_oom(s);
        return;
    }
    r->write = true;
    r->after = SPM_AFTER_OUTPUT;
    r->base = eng_out_slot_addr(s, k, m->tag);
    r->stream = k;
    r->pat = x->spm;
    r->port = x->spm_port;
    r->m = m;
    eng_post(s, &s->noc_c, &s->spm_c, at, EV_SPM_REQ, 0, 0, r);
}

void eng_noc_handle(eng_sim *s, const ev *e)
{
    if (e->kind != EV_NOC_HOP) {
        eng_fault(s, "NoC got unexpected event %u", e->kind);
        return;
    }
    msg *m = e->p;
    uint32_t rd, cd, cols = s->a->array.cols, routers = arch_pe_count(s->a);
    eng_node_pos(s, m->dst_node, &rd, &cd);
    uint32_t router = m->r * cols + m->c;
    uint32_t link, skip = UINT32_MAX;
    uint32_t nr = m->r, nc = m->c;
    bool eject = m->r == rd && m->c == cd;
    if (eject) {
        link = m->dst_node < routers ? router * s->link_dirs + s->link_dirs - 1
                                     : routers * s->link_dirs + (m->dst_node - routers);
    } else {
        /* Dimension order: columns first, then rows. */
        uint32_t dir;
        if (m->c != cd) {
            uint32_t dist = m->c < cd ? cd - m->c : m->c - cd;
            uint32_t step = best_stride(s, dist, &skip);
            dir = m->c < cd ? DIR_E : DIR_W;
            nc = m->c < cd ? m->c + step : m->c - step;
        } else {
            uint32_t dist = m->r < rd ? rd - m->r : m->r - rd;
            uint32_t step = best_stride(s, dist, &skip);
            dir = m->r < rd ? DIR_S : DIR_N;
            nr = m->r < rd ? m->r + step : m->r - step;
        }
        link = router * s->link_dirs + (skip == UINT32_MAX ? dir : 4 + 4 * skip + dir);
    }
    link_state *l = &s->links[link];
    uint64_t start = l->free > s->now ? l->free : s->now;
    s->st.noc.wait_cycles += start - s->now;
    l->free = start + m->flits;
    s->st.noc.router_traversals += m->flits;
    if (eject) {
        /* The tail arrives flits cycles after the head enters the ejection link. */
        deliver(s, m, start + m->flits);
        return;
    }
    s->st.noc.flit_hops += m->flits;
    if (eng_obs_wants(s, ENG_EVENT_LINK))
        s->obs->event(s->obs->ctx, &(eng_event){ENG_EVENT_LINK, link, start, m->flits, m->flits, 0,
                                                false, NULL});
    if (skip != UINT32_MAX)
        s->st.noc.skip_flit_hops += m->flits;
    if (nc != m->c && arch_crosses_bisection(s->a, m->c, nc))
        s->st.noc.bisection_flits += m->flits;
    m->r = nr;
    m->c = nc;
    eng_post(s, &s->noc_c, &s->noc_c, start + s->a->noc.hop_latency, EV_NOC_HOP, 0, 0, m);
}
