/* estimate.c: a closed-form estimate of a program's cycles from the engine's own timing rules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* The estimate follows one tag through a phase and charges every resource it uses. In
 * steady state tags leave one interval apart:
 *   interval = max(busiest PE unit or injection link, busiest NoC link (routed as the
 *                  engine routes), busiest SPM port, busiest SPM bank, busiest DRAM channel,
 *                  the SPM input and output slot loops, the in-order feed of a tag to
 *                  instructions deep in its graph);
 *   repeat   = max(first input + one tag's latency, last configuration + the latency
 *              behind the last-configured instruction) + write-back + (tags - 1) x interval;
 * and a phase costs its repeats. It reads only the program and the architecture; the
 * regression in tests/check_estimate.c measures how far it is from the engine. */

/* Cycles of hand-offs between components around a slot loop (each posts one cycle
 * ahead: controller, DMA, SPM, DRAM and back). */
#define ENG_EST_HANDOFFS 8.0

typedef struct mesh {
    const arch_desc *a;
    uint32_t routers, link_dirs, n_links;
    uint32_t n_nodes;
} mesh;

static void node_pos(const mesh *m, uint32_t node, uint32_t *r, uint32_t *c)
{
    uint32_t cols = m->a->array.cols, rows = m->a->array.rows;
    if (node < m->routers) {
        *r = node / cols, *c = node % cols;
        return;
    }
    uint32_t port = node - m->routers;
    *r = port % rows;
    *c = port < rows ? 0 : cols - 1;
}

static uint32_t stride_for(const arch_desc *a, uint32_t dist, uint32_t *skip)
{
    uint32_t best = 1;
    *skip = UINT32_MAX;
    for (uint32_t k = 0; k < a->noc.n_skip; k++)
        if (a->noc.skip[k] <= dist && a->noc.skip[k] > best)
            best = a->noc.skip[k], *skip = k;
    return best;
}

/* Adds flits to every link of the route src -> dst (the engine's dimension-order routing). */
static void route(const mesh *m, uint32_t src, uint32_t dst, double flits, double *load)
{
    uint32_t r, c, rd, cd, cols = m->a->array.cols;
    node_pos(m, src, &r, &c);
    node_pos(m, dst, &rd, &cd);
    for (;;) {
        uint32_t router = r * cols + c, skip, link;
        if (r == rd && c == cd) {
            link = dst < m->routers ? router * m->link_dirs + m->link_dirs - 1
                                    : m->routers * m->link_dirs + (dst - m->routers);
            load[link] += flits;
            return;
        }
        uint32_t dir;
        if (c != cd) {
            uint32_t step = stride_for(m->a, c < cd ? cd - c : c - cd, &skip);
            dir = c < cd ? 0 : 1;
            c = c < cd ? c + step : c - step;
        } else {
            uint32_t step = stride_for(m->a, r < rd ? rd - r : r - rd, &skip);
            dir = r < rd ? 3 : 2;
            r = r < rd ? r + step : r - step;
        }
        link = router * m->link_dirs + (skip == UINT32_MAX ? dir : 4 + 4 * skip + dir);
        load[link] += flits;
    }
}

/* DRAM bursts of a pattern, as the DMA engine splits it: consecutive bursts go to
 * consecutive channels (chan[] gets each channel's share; returns the total). */
static uint64_t bursts(const arch_desc *a, uint32_t w, const eng_pattern *p, double *chan)
{
    uint64_t B = a->dram.burst_bytes, nch = a->dram.channels, n = 0, next = 0;
    for (uint64_t i = 0; i < p->count; i++) {
        uint64_t b0 = (p->first + i * p->stride) * w / B;
        uint64_t b1 = ((p->first + i * p->stride + p->run) * w - 1) / B;
        if (i && b0 < next)
            b0 = next;
        if (b1 < b0)
            continue;
        uint64_t nb = b1 - b0 + 1;
        n += nb;
        for (uint64_t c = 0; c < nch; c++)
            chan[c] += (double)(nb / nch);
        for (uint64_t k = 0; k < nb % nch; k++)
            chan[(b0 + k) % nch] += 1;
        next = b1 + 1;
    }
    return n;
}

/* Adds the bank accesses of a pattern of slot positions (slot at byte 0) to bank[]. */
static void bank_load(const arch_desc *a, uint32_t w, const eng_pattern *p, double *bank)
{
    uint64_t W = a->spm.width_bytes, nb = a->spm.banks, next = 0;
    for (uint64_t i = 0; i < p->count; i++) {
        uint64_t w0 = (p->first + i * p->stride) * w / W;
        uint64_t w1 = ((p->first + i * p->stride + p->run) * w - 1) / W;
        if (i && w0 < next)
            w0 = next;
        for (uint64_t k = w0; k <= w1 && k < w0 + nb; k++)
            bank[k % nb] += (double)((w1 - k) / nb + 1);
        next = w1 + 1;
    }
}

static double max_of(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

static uint64_t fu_ii(const arch_desc *a, util_dtype t, uint32_t u)
{
    uint32_t lanes = arch_lanes(a, t), lpc = a->pe.fu[u].lanes_per_cycle;
    if (t == UTIL_FP32)
        lpc = lpc / 2 ? lpc / 2 : 1;
    return util_ceil_div(lanes, lpc);
}

/* Cycles from an instruction's start to its result (the engine's firing rule). */
static uint64_t instr_time(const arch_desc *a, util_dtype t, const eng_instr *in)
{
    uint64_t span = 0, lat = 0;
    for (uint32_t u = 0; u < ARCH_FU_COUNT; u++) {
        if (!in->vec_ops[u])
            continue;
        uint64_t s = (in->vec_ops[u] - 1) * fu_ii(a, t, u);
        span = s > span ? s : span;
        lat += a->pe.fu[u].latency;
    }
    return span + (lat ? lat : 1);
}

static int estimate_phase(const arch_desc *a, const eng_program *p, const eng_phase *f,
                          double *cycles, eng_phase_estimate *pe_out)
{
    util_dtype t = p->dtype;
    mesh m = {a, arch_pe_count(a), 4 + 4 * a->noc.n_skip + 1, 0, 0};
    m.n_links = m.routers * m.link_dirs + 2 * a->array.rows;
    m.n_nodes = m.routers + 2 * a->array.rows;
    uint32_t w = util_dtype_bytes(t), link_bytes = arch_link_bytes(a);
    double bpc = arch_dram_bytes_per_cycle(a);
    double *load = calloc(m.n_links, sizeof *load);
    double *busy = calloc((size_t)m.routers * (ARCH_FU_COUNT + 1), sizeof *busy);
    double *port_inj = calloc(2 * a->array.rows, sizeof *port_inj);
    double *ready = calloc(f->n_instr + 1, sizeof *ready);
    double *fed_at = calloc(f->n_instr + 1, sizeof *fed_at);
    if (!load || !busy || !port_inj || !ready || !fed_at) {
        free(load), free(busy), free(port_inj), free(ready), free(fed_at);
        return UTIL_ERUN;
    }
    /* PE units and injection links, per tag */
    for (uint32_t i = 0; i < f->n_instr; i++) {
        const eng_instr *in = &f->instr[i];
        for (uint32_t u = 0; u < ARCH_FU_COUNT; u++)
            busy[(size_t)in->pe * (ARCH_FU_COUNT + 1) + u] +=
                (double)in->vec_ops[u] * (double)fu_ii(a, t, u);
    }
    double feed_depth = 0, end = 0;
    double *bank = calloc(2 * (size_t)a->spm.banks, sizeof *bank), *feed_bank = bank + a->spm.banks;
    if (!bank) {
        free(load), free(busy), free(port_inj), free(ready), free(fed_at);
        return UTIL_ERUN;
    }
    for (uint32_t x = 0; x < f->n_xfer; x++) {
        const eng_xfer *tx = &f->xfer[x];
        double flits = ceil((double)tx->elems * w / link_bytes);
        uint32_t src = tx->src_instr >= 0 ? f->instr[tx->src_instr].pe : m.routers + tx->spm_port;
        uint32_t dst = tx->dst_instr >= 0 ? f->instr[tx->dst_instr].pe : m.routers + tx->spm_port;
        route(&m, src, dst, flits, load);
        if (tx->src_instr >= 0)
            busy[(size_t)src * (ARCH_FU_COUNT + 1) + ARCH_FU_COUNT] += flits;
        else
            port_inj[tx->spm_port] += flits;
        /* SPM side: reads for feeds, writes for drains, bank by bank */
        if (tx->src_instr < 0)
            bank_load(a, w, &tx->spm, feed_bank);
        if (tx->src_instr < 0 || tx->dst_instr < 0)
            bank_load(a, w, &tx->spm, bank);
    }
    /* One tag's latency: an instruction starts when its last input has arrived and is
     * ready instr_time later; sweeps settle producers listed after their consumers. */
    bool changed = true;
    for (uint32_t sweep = 0; changed && sweep <= f->n_instr; sweep++) {
        changed = false;
        memset(fed_at, 0, (f->n_instr + 1) * sizeof *fed_at);
        end = 0;
        for (uint32_t x = 0; x < f->n_xfer; x++) {
            const eng_xfer *tx = &f->xfer[x];
            double flits = ceil((double)tx->elems * w / link_bytes);
            uint32_t src =
                tx->src_instr >= 0 ? f->instr[tx->src_instr].pe : m.routers + tx->spm_port;
            uint32_t dst =
                tx->dst_instr >= 0 ? f->instr[tx->dst_instr].pe : m.routers + tx->spm_port;
            uint32_t r0, c0, r1, c1;
            node_pos(&m, src, &r0, &c0);
            node_pos(&m, dst, &r1, &c1);
            double hops = (double)((r0 > r1 ? r0 - r1 : r1 - r0) + (c0 > c1 ? c0 - c1 : c1 - c0));
            double arrive = (tx->src_instr >= 0 ? ready[tx->src_instr] : 0) + 1 +
                            hops * a->noc.hop_latency + flits;
            if (tx->dst_instr >= 0) {
                if (arrive > fed_at[tx->dst_instr])
                    fed_at[tx->dst_instr] = arrive;
            } else if (arrive > end) {
                end = arrive;
            }
        }
        for (uint32_t i = 0; i < f->n_instr; i++) {
            double r = fed_at[i] + (double)instr_time(a, t, &f->instr[i]);
            changed |= r != ready[i];
            ready[i] = r;
        }
    }
    /* how far into a tag's latency the controller must still feed it */
    for (uint32_t x = 0; x < f->n_xfer; x++) {
        const eng_xfer *tx = &f->xfer[x];
        if (tx->src_instr < 0 && tx->dst_instr >= 0) {
            /* its credit for tag t + pe.tags comes back when it has finished tag t */
            uint32_t r0, c0, r1, c1;
            node_pos(&m, f->instr[tx->dst_instr].pe, &r0, &c0);
            node_pos(&m, m.routers + tx->spm_port, &r1, &c1);
            double back =
                1 + (double)((r0 > r1 ? r0 - r1 : r1 - r0) + (c0 > c1 ? c0 - c1 : c1 - c0)) *
                        a->noc.hop_latency;
            double done = ready[tx->dst_instr] + back;
            feed_depth = done > feed_depth ? done : feed_depth;
        }
    }
    double t_pe = 0, t_link = 0, t_port = 0;
    for (uint32_t pe = 0; pe < m.routers; pe++) {
        for (uint32_t u = 0; u <= ARCH_FU_COUNT; u++) {
            double b = busy[(size_t)pe * (ARCH_FU_COUNT + 1) + u];
            t_pe = b > t_pe ? b : t_pe;
        }
    }
    for (uint32_t l = 0; l < m.n_links; l++)
        t_link = load[l] > t_link ? load[l] : t_link;
    for (uint32_t q = 0; q < 2 * a->array.rows; q++)
        t_port = port_inj[q] > t_port ? port_inj[q] : t_port;
    /* DRAM: a few consecutive tags stand for all (their runs may straddle bursts and
     * channels differently); the busiest channel sets the pace */
    eng_pattern pin, pout;
    double in_bytes = 0, out_bytes = 0, chan[64] = {0};
    uint64_t samples = f->n_tags < 8 ? (f->n_tags ? f->n_tags : 1) : 8;
    bool in_chip = false, out_chip = false;
    for (uint64_t k = 0; k < samples; k++) {
        f->tag_dma(f->tag_ctx, k, &pin, &pout);
        /* an on-chip side costs its SPM banks instead (once: they stand for one tag) */
        in_chip = eng_pattern_onchip(p, &pin), out_chip = eng_pattern_onchip(p, &pout);
        eng_pattern *side[2] = {&pin, &pout};
        double *bytes[2] = {&in_bytes, &out_bytes};
        for (int d = 0; d < 2; d++) {
            if (!eng_pattern_onchip(p, side[d])) {
                *bytes[d] +=
                    (double)bursts(a, w, side[d], chan) * a->dram.burst_bytes / (double)samples;
            } else if (k == 0) {
                eng_pattern rel = *side[d];
                rel.first -= p->onchip_first;
                bank_load(a, w, &rel, bank);
            }
        }
    }
    double t_dram = max_of(chan, a->dram.channels < 64 ? a->dram.channels : 64) *
                    a->dram.burst_bytes / (bpc / a->dram.channels) / (double)samples;
    eng_pattern whole_in = {0, eng_pattern_elems(&pin), eng_pattern_elems(&pin), 1};
    eng_pattern whole_out = {0, eng_pattern_elems(&pout), eng_pattern_elems(&pout), 1};
    bank_load(a, w, &whole_in, bank);
    bank_load(a, w, &whole_out, bank);
    double t_spm = max_of(bank, a->spm.banks) / a->spm.ports;
    /* the feeds of a tag queue on the banks they read: the last leaves this much later */
    double feed_spread = max_of(feed_bank, a->spm.banks) / a->spm.ports;
    /* the controller feeds tags in order, and a fed instruction holds pe.tags of them:
     * feeding an instruction that starts late in a tag's latency throttles the stream */
    double t_feed = (feed_depth + feed_spread) / (double)a->pe.tags;
    double lat = (double)arch_dram_latency_cycles(a);
    double lat_in = in_chip ? 0 : lat, lat_out = out_chip ? 0 : lat;
    /* Slot loops. An output slot returns its credit once its tag is written to DRAM: a
     * producer fires at most out_slots tags per (fire -> result -> SPM -> DRAM -> credit)
     * loop. An input slot is reused once its tag was fetched and fed. */
    double drain_loop = 0;
    for (uint32_t x = 0; x < f->n_xfer; x++) {
        const eng_xfer *tx = &f->xfer[x];
        if (tx->dst_instr >= 0 || tx->src_instr < 0)
            continue;
        const eng_instr *in = &f->instr[tx->src_instr];
        uint32_t r0, c0, r1, c1;
        node_pos(&m, in->pe, &r0, &c0);
        node_pos(&m, m.routers + tx->spm_port, &r1, &c1);
        double hops = (double)((r0 > r1 ? r0 - r1 : r1 - r0) + (c0 > c1 ? c0 - c1 : c1 - c0));
        double loop = (double)instr_time(a, t, in) + 2 * (1 + hops * a->noc.hop_latency) +
                      ceil((double)tx->elems * w / link_bytes);
        drain_loop = loop > drain_loop ? loop : drain_loop;
    }
    double t_out =
        (feed_spread + drain_loop + out_bytes / bpc + lat_out + ENG_EST_HANDOFFS) / f->out_slots;
    double t_in = (lat_in + in_bytes / bpc + t_port + ENG_EST_HANDOFFS) / f->in_slots;
    double interval = fmax(fmax(fmax(t_pe, t_link), fmax(t_port, t_spm)),
                           fmax(fmax(t_dram, t_feed), fmax(t_out, t_in)));
    /* Configuration, in instruction order: each instruction's weights pass through one
     * of two SPM staging buffers (DRAM -> SPM, then read out as a message to its PE),
     * sharing the DRAM bandwidth. Tags flow through the instructions configured so far
     * meanwhile, so the first tag ends a tail's latency after the last configuration. */
    double load_w = 0, all_bytes = 0, words_per_cycle = (double)a->spm.banks * a->spm.ports;
    for (uint32_t i = 0; i < f->n_instr; i++) {
        double bytes = (double)f->instr[i].weight_elems * w;
        all_bytes += bytes;
        load_w += bytes > 0
                      ? lat + bytes / bpc + 2 * ceil(bytes / a->spm.width_bytes / words_per_cycle) +
                            ENG_EST_HANDOFFS
                      : 2.0;
    }
    load_w = fmax(load_w / 2, all_bytes > 0 ? lat + all_bytes / bpc : 0);
    double tail = 0;
    if (f->n_instr) {
        const eng_instr *last = &f->instr[f->n_instr - 1];
        double start = ready[f->n_instr - 1] - (double)instr_time(a, t, last);
        tail = end - start;
        load_w += ceil((double)last->weight_elems * w / link_bytes) + 2;
    }
    /* The first tag: fetched and written into the SPM, fed out through the ports (its
     * messages queue there and on the banks), computed, drained into the SPM ports, read
     * back from the SPM and written to DRAM. */
    double t_drain = 0, wpc = (double)a->spm.banks * a->spm.ports;
    for (uint32_t q = 0; q < 2 * a->array.rows; q++)
        t_drain = fmax(t_drain, load[(size_t)m.routers * m.link_dirs + q]);
    double spm_in = ceil(in_bytes / a->spm.width_bytes / wpc);
    double spm_out = ceil(out_bytes / a->spm.width_bytes / wpc);
    double first_in = lat_in + in_bytes / bpc + spm_in + fmax(t_port, feed_spread);
    double per_repeat = fmax(first_in + end, load_w + tail) + t_drain + spm_out + out_bytes / bpc +
                        lat_out + (double)(f->n_tags ? f->n_tags - 1 : 0) * interval;
    *cycles = per_repeat * (double)f->repeats;
    double lane_ops = 0, runs = (double)f->n_tags * (double)f->repeats;
    for (uint32_t i = 0; i < f->n_instr; i++)
        lane_ops += (double)f->instr[i].lane_ops;
    pe_out->lane_ops = lane_ops * runs;
    pe_out->read_bytes = in_bytes * runs + (double)f->repeats * all_bytes;
    pe_out->write_bytes = out_bytes * runs;
    {
        pe_out->interval = interval;
        pe_out->t_pe = t_pe, pe_out->t_link = t_link, pe_out->t_port = t_port;
        pe_out->t_spm = t_spm, pe_out->t_dram = t_dram, pe_out->t_feed = t_feed;
        pe_out->t_slots = fmax(t_in, t_out);
        pe_out->latency = end;
        pe_out->cycles = *cycles;
    }
    free(load), free(busy), free(port_inj), free(ready), free(fed_at), free(bank);
    return UTIL_OK;
}

int eng_estimate(const arch_desc *a, const eng_program *p, eng_phase_estimate *phases,
                 eng_estimate_total *total, char *err, size_t errlen)
{
    double cycles = 0, ops = 0, rd = 0, wr = 0;
    for (uint32_t i = 0; i < p->n_phases; i++) {
        eng_phase_estimate pe;
        double c;
        if (estimate_phase(a, p, &p->phases[i], &c, &pe))
            return util_fail(UTIL_ERUN, err, errlen, "out of memory while estimating");
        if (phases)
            phases[i] = pe;
        cycles += c, ops += pe.lane_ops, rd += pe.read_bytes, wr += pe.write_bytes;
    }
    *total = (eng_estimate_total){(uint64_t)llround(cycles), (uint64_t)llround(ops),
                                  (uint64_t)llround(rd), (uint64_t)llround(wr)};
    return UTIL_OK;
}
