/* estimate.c: an analytical estimate of a program's cycles from the engine's own timing rules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "internal.h"

/* The estimate works in two steps. First it follows one tag through a phase and charges
 * every resource the tag uses: PE units and injection links, NoC links (routed as the
 * engine routes), SPM ports and banks, DRAM channels, and the tag's latency through
 * the instruction graph. Then it schedules the phase tag by tag (schedule() below): the
 * configuration of the instructions through two staging buffers, the fetch of each tag
 * into a free input slot, the in-order feed limited by the pe.tags slots each
 * instruction holds, the flow through the array at the busiest on-chip resource's pace
 * (tags queue inside it for instructions still being configured and for output slots),
 * and the store of each tag out of its output slot, with weights, inputs and outputs
 * sharing one DRAM queue. The first ENG_EST_TAGS tags are scheduled one by one; the rest
 * go at the pace of the last ones. A phase costs its repeats. It reads only the program
 * and the architecture; the regression in tests/check_estimate.c measures how far it is
 * from the engine. The steady-state terms are kept for --explain's bottleneck. */

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

/* Mesh hops between two nodes (routers or SPM ports), as a transfer's latency counts them. */
static double hops_between(const mesh *m, uint32_t from, uint32_t to)
{
    uint32_t r0, c0, r1, c1;
    node_pos(m, from, &r0, &c0);
    node_pos(m, to, &r1, &c1);
    return (double)((r0 > r1 ? r0 - r1 : r1 - r0) + (c0 > c1 ? c0 - c1 : c1 - c0));
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

/* Adds flits to every link of the route src -> dst (the engine's dimension-order routing);
 * returns the router-to-router links it crosses. */
static uint32_t route(const mesh *m, uint32_t src, uint32_t dst, double flits, double *load)
{
    uint32_t hops = 0;
    uint32_t r, c, rd, cd, cols = m->a->array.cols;
    node_pos(m, src, &r, &c);
    node_pos(m, dst, &rd, &cd);
    for (;;) {
        uint32_t router = r * cols + c, skip, link;
        if (r == rd && c == cd) {
            link = dst < m->routers ? router * m->link_dirs + m->link_dirs - 1
                                    : m->routers * m->link_dirs + (dst - m->routers);
            load[link] += flits;
            return hops;
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
        hops++;
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

/* Adds the bank accesses of a pattern of slot positions (slot at byte 0) to bank[];
 * returns how many words it touches. */
static double bank_load(const arch_desc *a, uint32_t w, const eng_pattern *p, double *bank)
{
    uint64_t W = a->spm.width_bytes, nb = a->spm.banks, next = 0;
    double words = 0;
    for (uint64_t i = 0; i < p->count; i++) {
        uint64_t w0 = (p->first + i * p->stride) * w / W;
        uint64_t w1 = ((p->first + i * p->stride + p->run) * w - 1) / W;
        if (i && w0 < next)
            w0 = next;
        for (uint64_t k = w0; k <= w1 && k < w0 + nb; k++)
            bank[k % nb] += (double)((w1 - k) / nb + 1);
        words += w1 >= w0 ? (double)(w1 - w0 + 1) : 0;
        next = w1 + 1;
    }
    return words;
}

/* Action counts of a phase, as doubles until they are added up. */
typedef struct est_counts {
    double vec[ARCH_FU_COUNT], fires, buf_reads, buf_writes, weights, configs;
    double messages, flits, flit_hops, routers, spm_reads, spm_writes, dma_bytes;
    double dram_rd, tags; /* DRAM writes come from the phases' write_bytes */
} est_counts;

static double max_of(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* Cycles from an instruction's start to its result (the engine's firing rule). */
static uint64_t instr_time(const arch_desc *a, util_dtype t, const eng_instr *in)
{
    uint64_t span = 0, lat = 0;
    for (uint32_t u = 0; u < ARCH_FU_COUNT; u++) {
        if (!in->vec_ops[u])
            continue;
        uint64_t s =
            (in->vec_ops[u] - 1) * eng_fu_interval(a, t, arch_lanes(a, t), (arch_fu_kind)u);
        span = s > span ? s : span;
        lat += a->pe.fu[u].latency;
    }
    return span + (lat ? lat : 1);
}

/* What one tag's streamed weights (eng_instr.weight_parts) use: each part crosses a
 * staging buffer (a bank write and a read) and the NoC from the PE row's nearer port, and
 * comes from DRAM, or from its kept SPM copy once loaded (the first load from DRAM). */
typedef struct est_stream {
    double dram;     /* DRAM bytes per tag */
    double first;    /* DRAM bytes once: kept streamed weights not loaded before */
    double stage;    /* cycles per tag the parts hold a staging buffer, all together */
    double dma;      /* cycles per tag the parts hold a DMA channel, all together */
    double loop;     /* the slowest streamed instruction's part loop, per tag */
    double chan[64]; /* per DRAM channel: bursts per tag */
} est_stream;

static void stream_loads(const arch_desc *a, const eng_program *p, const eng_phase *f,
                         const mesh *m, const uint8_t *wkept, double *load, double *port_inj,
                         double *bank, double *itime, double *ifirst, est_counts *tag,
                         est_stream *ws)
{
    uint32_t w = util_dtype_bytes(p->dtype), link_bytes = arch_link_bytes(a);
    memset(ws, 0, sizeof *ws);
    for (uint32_t i = 0; i < f->n_instr; i++) {
        const eng_instr *in = &f->instr[i];
        if (!in->weight_parts)
            continue;
        uint32_t P = in->weight_parts, n = eng_instr_load_elems(in),
                 port = eng_spm_port_near(a, in->pe);
        double flits = fmax(1, ceil((double)n * w / link_bytes));
        uint32_t hops = route(m, m->routers + port, in->pe, flits * P, load);
        port_inj[port] += flits * P;
        tag->messages += P, tag->flits += flits * P;
        tag->flit_hops += flits * P * hops, tag->routers += flits * P * (hops + 1);
        tag->dma_bytes += (double)in->weight_elems * w;
        eng_pattern all = eng_instr_weights(in, in->weight_addr);
        bool kept = p->kept_elems && eng_pattern_within(&all, p->kept_first, p->kept_elems);
        if (kept && !(wkept && wkept[i])) {
            double once[64] = {0};
            ws->first += (double)bursts(a, w, &all, once) * a->dram.burst_bytes;
        }
        /* a part holds its staging buffer from its DMA's issue until it has been read out
         * for its port (as the schedule times a configuration); its channel, until its
         * SPM copy is read or its DRAM bursts are accepted */
        double wpc = (double)a->spm.banks * a->spm.ports;
        double pw = ceil((double)n * w / a->spm.width_bytes / wpc);
        double from_dram =
            (double)arch_dram_latency_cycles(a) + (double)n * w / arch_dram_bytes_per_cycle(a);
        double fetch = kept ? 1 + pw : from_dram;
        double hold = fetch + 2 * pw + 6;
        ws->stage += P * hold;
        ws->dma += P * (kept ? 1 + pw : 1 + (double)n * w / arch_dram_bytes_per_cycle(a));
        /* two part buffers on the PE: part k + 2 is asked for once step k is done, so a
         * part's round trip (the request, its load, the NoC both ways, the step) is
         * covered by two steps */
        double trip = hold + flits + 2 * (1 + hops * a->noc.hop_latency) + ENG_EST_HANDOFFS +
                      (double)instr_time(a, p->dtype, in) / P;
        ws->loop = fmax(ws->loop, P * trip / 2);
        /* A tag takes that long on the instruction, not just its operations; the first
         * tag (ifirst) loads kept parts from DRAM. */
        bool first = kept && !(wkept && wkept[i]);
        itime[i] = fmax(itime[i], P * trip / 2);
        ifirst[i] = fmax(ifirst[i], P * (trip + (first ? from_dram - fetch : 0)) / 2);
        /* (the parts rotate over the staging buffers: their words spread over the banks) */
        double words = ceil((double)n * w / a->spm.width_bytes);
        for (uint32_t b = 0; b < a->spm.banks; b++)
            bank[b] += 2 * P * words / a->spm.banks;
        tag->spm_writes += P * words, tag->spm_reads += P * words;
        for (uint32_t k = 0; k < P; k++) {
            eng_pattern part = {all.first + (uint64_t)k * n, n, n, 1};
            if (kept) {
                part.first -= p->kept_first;
                tag->spm_reads += bank_load(a, w, &part, bank);
            } else {
                ws->dram += (double)bursts(a, w, &part, ws->chan) * a->dram.burst_bytes;
            }
        }
    }
}

/* One tag's latency: an instruction starts when its last input has arrived and is ready
 * itime later; a transfer arrives xlat after its source is ready. Sweeps settle producers
 * listed after their consumers. Returns when the tag's last result has arrived; ready
 * gets each instruction's time (fed_at is scratch space). */
static double tag_latency(const eng_phase *f, const double *xlat, const double *itime,
                          double *fed_at, double *ready)
{
    double end = 0;
    bool changed = true;
    memset(ready, 0, f->n_instr * sizeof *ready);
    for (uint32_t sweep = 0; changed && sweep <= f->n_instr; sweep++) {
        changed = false;
        memset(fed_at, 0, (f->n_instr + 1) * sizeof *fed_at);
        end = 0;
        for (uint32_t x = 0; x < f->n_xfer; x++) {
            const eng_xfer *tx = &f->xfer[x];
            double arrive = (tx->src_instr >= 0 ? ready[tx->src_instr] : 0) + xlat[x];
            if (tx->dst_instr >= 0) {
                if (arrive > fed_at[tx->dst_instr])
                    fed_at[tx->dst_instr] = arrive;
            } else if (arrive > end) {
                end = arrive;
            }
        }
        for (uint32_t i = 0; i < f->n_instr; i++) {
            double r = fed_at[i] + itime[i];
            changed |= r != ready[i];
            ready[i] = r;
        }
    }
    return end;
}

/* What the tag-by-tag schedule of a phase needs from the per-tag analysis. */
typedef struct est_sched {
    const arch_desc *a;
    const eng_phase *f;
    uint32_t w;
    double lat_in, lat_out;     /* DRAM latency of each side (0 when it is on chip) */
    double in_bytes, out_bytes; /* DRAM bytes of one tag's input and output */
    double stream_bytes;        /* DRAM bytes of one tag's streamed weights */
    const double *stream_chan;  /* per DRAM channel: cycles of one tag's streamed weights */
    double spm_in, spm_out;     /* cycles to write or read one tag in the SPM banks */
    double feed_time;           /* the feeds of one tag leave the SPM ports */
    double feed_depth;          /* first feed -> a fed instruction done, credit back: the
                                 * deepest one, or with feed_each one fed as it computes */
    double hold_depth;          /* feed_each: first feed -> the deepest fed instruction done:
                                 * when a tag's input slot is free again */
    double latency;             /* first feed -> last result written into the SPM */
    const double *rest;         /* per instruction: its start -> the tag's last result written */
    const double *weight_chan;  /* per instruction and DRAM channel: its weights' cycles there */
    const uint8_t *weight_chip; /* per instruction: its weights are kept in the SPM (NULL: none) */
    uint32_t nch;               /* DRAM channels */
    const double *in_chan, *out_chan; /* per DRAM channel: cycles of one tag's input, output */
    double t_dram;                    /* one tag's input and output on their busiest channel */
    const double *back;  /* per instruction fed from the SPM: its credit's way back, or -1 */
    const double *itime; /* per instruction: its start -> its result */
    const double *xlat;  /* per transfer between instructions: result -> its consumer */
    double spm_drain;    /* bank cycles to write one tag's results into its output slot */
    uint64_t hold;       /* tags the array holds: pe.tags per instruction on a path */
    uint32_t fed_n;      /* 1 + the last instruction fed from the SPM or feeding one */
    double t_comp;       /* PE, link, port and bank limits on the tag interval */
    double drain_loop;   /* fire -> result in the SPM -> output slot credit, less DRAM */
} est_sched;

/* Tags simulated one by one before the rest are extrapolated at the last tags' pace. */
#define ENG_EST_TAGS 48

/* The DRAM's busy time as sorted, disjoint intervals. Requests are worked out in an
 * order close to, not always equal to, the order the DMA issues them, so a request
 * takes the first idle time after its issue: that is the FIFO's service whenever
 * the requests arrive in order. */
typedef struct dram_cal {
    double *start, *end;
    uint32_t n;
} dram_cal;

/* Marks [t0, t1) busy (idle before), merging with its neighbours. */
static void cal_mark(dram_cal *d, uint32_t at, double t0, double t1)
{
    bool join_prev = at > 0 && d->end[at - 1] >= t0, join_next = at < d->n && d->start[at] <= t1;
    if (join_prev && join_next) {
        d->end[at - 1] = d->end[at];
        memmove(d->start + at, d->start + at + 1, (d->n - at - 1) * sizeof *d->start);
        memmove(d->end + at, d->end + at + 1, (d->n - at - 1) * sizeof *d->end);
        d->n--;
    } else if (join_prev) {
        d->end[at - 1] = t1;
    } else if (join_next) {
        d->start[at] = t0;
    } else {
        memmove(d->start + at + 1, d->start + at, (d->n - at) * sizeof *d->start);
        memmove(d->end + at + 1, d->end + at, (d->n - at) * sizeof *d->end);
        d->start[at] = t0, d->end[at] = t1;
        d->n++;
    }
}

/* Serves a request of dur cycles issued at time issue; returns when it is done. */
static double dram_serve(dram_cal *d, double issue, double dur)
{
    double t = issue, left = dur;
    uint32_t k = 0;
    while (k < d->n && d->end[k] <= t)
        k++;
    while (left > 0) {
        if (k < d->n && d->start[k] <= t) {
            t = d->end[k++];
            continue;
        }
        double gap = k < d->n ? fmin(d->start[k] - t, left) : left;
        uint32_t before = d->n;
        cal_mark(d, k, t, t + gap);
        t += gap, left -= gap;
        /* the piece merged into interval k - 1 or k, or was inserted at k */
        k = d->n < before ? k - 1 : (d->n > before ? k + 1 : k);
        while (k < d->n && d->end[k] <= t)
            k++;
    }
    return t;
}

/* A DMA descriptor issued at `issue` that needs dur[ch] cycles of each DRAM channel: it
 * waits for a free DMA channel (accepted[]: the last acceptance of each), each DRAM channel
 * serves its share at its first idle time, and it is accepted when the last share is
 * done (the engine's DMA and DRAM rules). Returns that time. */
static double dram_request(dram_cal *cal, uint32_t nch, double *accepted, uint32_t slots,
                           double issue, const double *dur)
{
    uint32_t free_slot = 0;
    for (uint32_t k = 1; k < slots; k++)
        free_slot = accepted[k] < accepted[free_slot] ? k : free_slot;
    double start = fmax(issue, accepted[free_slot]), end = start;
    for (uint32_t ch = 0; ch < nch; ch++)
        if (dur[ch] > 0)
            end = fmax(end, dram_serve(&cal[ch], start, dur[ch]));
    accepted[free_slot] = end;
    return end;
}

/* When the instructions fed from the SPM first return a credit: each has finished a tag
 * that waited for its own configuration and its producers' (ready: configured + its time,
 * for the first fed_n instructions; overwritten). */
static double first_done(const est_sched *c, double *ready)
{
    const eng_phase *f = c->f;
    bool changed = true;
    for (uint32_t sweep = 0; changed && sweep <= c->fed_n; sweep++) {
        changed = false;
        for (uint32_t x = 0; x < f->n_xfer; x++) {
            const eng_xfer *tx = &f->xfer[x];
            if (tx->src_instr < 0 || tx->dst_instr < 0 || (uint32_t)tx->src_instr >= c->fed_n ||
                (uint32_t)tx->dst_instr >= c->fed_n)
                continue;
            double r = ready[tx->src_instr] + c->xlat[x] + c->itime[tx->dst_instr];
            if (r > ready[tx->dst_instr])
                ready[tx->dst_instr] = r, changed = true;
        }
    }
    double done = 0;
    for (uint32_t i = 0; i < c->fed_n; i++)
        if (c->back[i] >= 0)
            done = fmax(done, ready[i] + c->back[i]);
    return done;
}

/* One repeat of a phase, request by request: the controller configures instructions
 * in order through two staging buffers, fetches a tag when an input slot is free, feeds
 * it in order once its instructions hold fewer than pe.tags tags, and stores a tag when
 * all its results are in its output slot; weights, inputs and outputs share one DRAM
 * queue, served in issue order. Per-tag costs inside the array come from the steady-
 * state analysis. Returns the repeat's cycles (-1: out of memory). */
static double schedule(const est_sched *c, double lat)
{
    const eng_phase *f = c->f;
    const arch_desc *a = c->a;
    uint64_t n = f->n_tags < ENG_EST_TAGS ? f->n_tags : ENG_EST_TAGS;
    if (n == 0)
        return 1;
    /* (DRAM requests: the configurations, each tag's input, output and streamed weights) */
    size_t reqs = (size_t)f->n_instr + 3 * n + 1, calv = 2 * reqs * c->nch;
    uint32_t slots = a->dma.channels;
    double *v = malloc(sizeof *v * (8 * n + calv + f->n_instr + slots));
    dram_cal *cal = malloc(c->nch * sizeof *cal);
    if (!v || !cal) {
        free(v), free(cal);
        return -1;
    }
    double *in_ready = v, *fs = v + n, *fe = v + 2 * n, *cs = v + 3 * n, *stored = v + 4 * n;
    double *written = v + 5 * n, *ready = v + 6 * n + calv, *rel = ready + f->n_instr;
    double *accepted = rel + n;          /* when each DMA channel's descriptor was last accepted */
    double *streamed = accepted + slots; /* when each tag's streamed weights are all loaded */
    for (uint32_t ch = 0; ch < c->nch; ch++)
        cal[ch] = (dram_cal){v + 6 * n + 2 * reqs * ch, v + 6 * n + 2 * reqs * ch + reqs, 0};
    memset(accepted, 0, slots * sizeof *accepted);
    /* when the last configuration, input and store were issued */
    double cfg_issue = 0, in_issue = 0, st_issue = 0, str_issue = 0;
    uint64_t ki = 0, kf = 0, kc = 0, kw = 0, ko = 0, ks = 0, tags = a->pe.tags, hold = c->hold;
    uint32_t j = 0;
    double stage[ENG_STAGE_MAX] = {0}; /* when each staging buffer is free again */
    uint32_t n_stage = eng_phase_stage_slots(f);
    double cfg_done = 0, fed_cfg = 0, wpc = (double)a->spm.banks * a->spm.ports;
    for (;;) {
        bool cfg_known = j == f->n_instr, moved = true;
        while (moved) {
            moved = false;
            /* feed tags in order: an instruction holds pe.tags of them, so tag k waits until
             * the fed instructions, once configured, have finished tag k - pe.tags, and
             * until the array, full of tags waiting for later instructions (their
             * configuration or an output slot), has let tag k - hold out ... */
            while (kf < ki && (kf < tags || (j >= c->fed_n && kc > kf - tags &&
                                             (kf < hold || kw > kf - hold)))) {
                double credit = 0;
                if (kf >= tags)
                    credit = fmax(cs[kf - tags] + c->feed_depth + c->feed_time,
                                  fmax(fed_cfg, kf >= hold ? written[kf - hold] : 0));
                fs[kf] = fmax(fmax(in_ready[kf], kf ? fe[kf - 1] : 0), credit);
                fe[kf] = fs[kf] + c->feed_time;
                /* (feed_each: the deepest fed instruction takes its part once it has
                 * finished tag k - pe.tags, and only then is the slot free) */
                rel[kf] = f->feed_each && kf >= tags
                              ? fmax(fe[kf], cs[kf - tags] + c->hold_depth + c->feed_time)
                              : fe[kf];
                kf++, moved = true;
            }
            /* ... and it flows through the array at the pace of its busiest resource; its
             * last result cannot precede its last streamed part */
            while (kc < kf && (c->stream_bytes == 0 || kc < ks)) {
                cs[kc] = fmax(fs[kc], kc ? cs[kc - 1] + c->t_comp : 0);
                if (c->stream_bytes > 0)
                    cs[kc] = fmax(cs[kc], streamed[kc] - c->latency);
                kc++, moved = true;
            }
            /* Its results are in the output slot a latency later, but not before the
             * instructions it waits for are configured (the tags queued there then leave at
             * the array's pace), nor before the last instructions have an output-slot
             * credit. The slot's banks take its results one write at a time. */
            while (kw < kc && cfg_known && (kw < f->out_slots || ko > kw - f->out_slots)) {
                double out = fmax(cs[kw] + c->latency, cfg_done);
                if (kw)
                    out = fmax(out, written[kw - 1] - c->spm_drain + c->t_comp);
                if (kw >= f->out_slots)
                    out = fmax(out, stored[kw - f->out_slots] + 2 + c->drain_loop);
                written[kw++] = out + c->spm_drain, moved = true;
            }
        }
        /* the next DRAM request of each stream, when it can be known */
        double t_cfg = INFINITY, t_in = INFINITY, t_out = INFINITY;
        uint32_t slot = 0; /* the staging buffer free first */
        for (uint32_t b = 1; b < n_stage; b++)
            slot = stage[b] < stage[slot] ? b : slot;
        if (j < f->n_instr)
            t_cfg = fmax(cfg_issue, stage[slot]) + 1;
        if (ki < n && (ki < f->in_slots || kf > ki - f->in_slots))
            t_in = fmax(in_issue, ki >= f->in_slots ? rel[ki - f->in_slots] : 0) + 1;
        if (ko < kw)
            t_out = fmax(st_issue, written[ko] + 1) + c->spm_out + 2;
        /* a tag's streamed weights load while the tag before it computes (parts are
         * asked for as part buffers free up, not as far ahead as the input slots go) */
        double t_str = INFINITY;
        if (c->stream_bytes > 0 && ks < n && (ks == 0 || kc >= ks))
            t_str = fmax(str_issue, ks ? cs[ks - 1] : 0) + 1;
        if (t_cfg == INFINITY && t_in == INFINITY && t_out == INFINITY && t_str == INFINITY)
            break;
        if (t_str < t_cfg && t_str <= t_in && t_str <= t_out) {
            str_issue = t_str;
            streamed[ks++] = dram_request(cal, c->nch, accepted, slots, t_str, c->stream_chan);
        } else if (t_cfg <= t_in && t_cfg <= t_out) {
            const eng_instr *in = &f->instr[j];
            double bytes = (double)eng_instr_config_elems(in) * c->w;
            cfg_issue = t_cfg;
            double words = ceil(bytes / a->spm.width_bytes / wpc);
            /* (kept weights: read from their SPM copy instead of DRAM) */
            double sent = bytes == 0 ? t_cfg + 2
                          : c->weight_chip && c->weight_chip[j]
                              ? t_cfg + 1 + 3 * words + 6
                              : dram_request(cal, c->nch, accepted, slots, t_cfg + 1,
                                             c->weight_chan + (size_t)j * c->nch) +
                                    lat + 2 * words + 6;
            stage[slot] = sent;
            double configured = sent + ceil(bytes / arch_link_bytes(a)) + 2;
            cfg_done = fmax(cfg_done, configured + c->rest[j]);
            ready[j] = configured + a->pe.config_cycles + c->itime[j];
            if (++j == c->fed_n)
                fed_cfg = first_done(c, ready);
        } else if (t_in <= t_out) {
            in_issue = t_in;
            in_ready[ki] =
                (c->in_bytes > 0 ? dram_request(cal, c->nch, accepted, slots, t_in + 1, c->in_chan)
                                 : t_in + c->spm_in) +
                c->lat_in + c->spm_in + 3;
            ki++;
        } else {
            st_issue = t_out;
            stored[ko] =
                (c->out_bytes > 0 ? dram_request(cal, c->nch, accepted, slots, t_out, c->out_chan)
                                  : t_out + c->spm_out) +
                c->lat_out + 2;
            ko++;
        }
    }
    double done = ko ? stored[ko - 1] : 0;
    if (ko == n && f->n_tags > n) {
        /* the pace of the last simulated tags holds for the rest */
        uint64_t m = n > 16 ? 16 : n - 1;
        double pace = m ? (stored[n - 1] - stored[n - 1 - m]) / (double)m : c->t_comp;
        /* (never below what each tag needs of the DRAM or the array) */
        pace = fmax(pace, fmax(c->t_dram, c->t_comp));
        done += (double)(f->n_tags - n) * pace;
    }
    free(v);
    free(cal);
    return done;
}

/* The action counts of a phase, added to c: what one tag moves (t: its transfers, SPM
 * words, DMA and DRAM traffic, found while timing the tag) times the tags and repeats,
 * the instructions' vector operations and buffer reads per tag, and per repeat their
 * configuration (weights staged through the SPM and sent from the row's nearer port).
 * load is scratch space for the routes. */
static void count_phase(const arch_desc *a, const eng_program *p, const eng_phase *f, const mesh *m,
                        double *load, const est_counts *t, const uint8_t *wkept, est_counts *c)
{
    uint32_t w = util_dtype_bytes(p->dtype), link_bytes = arch_link_bytes(a);
    double runs = (double)f->n_tags * (double)f->repeats, reps = (double)f->repeats;
    c->messages += runs * t->messages, c->flits += runs * t->flits;
    c->flit_hops += runs * t->flit_hops, c->routers += runs * t->routers;
    c->buf_writes += runs * t->buf_writes;
    c->spm_reads += runs * t->spm_reads, c->spm_writes += runs * t->spm_writes;
    c->dma_bytes += runs * t->dma_bytes;
    c->dram_rd += runs * t->dram_rd;
    c->tags += runs;
    for (uint32_t i = 0; i < f->n_instr; i++) {
        const eng_instr *in = &f->instr[i];
        for (uint32_t u = 0; u < ARCH_FU_COUNT; u++)
            c->vec[u] += runs * in->vec_ops[u];
        c->fires += runs;
        c->buf_reads += runs * (double)(in->local_elems + eng_instr_set_elems(in));
        double bytes = (double)eng_instr_config_elems(in) * w;
        uint32_t port = eng_spm_port_near(a, in->pe);
        /* (a message is at least one flit) */
        double flits = fmax(1, ceil(bytes / link_bytes)), words = ceil(bytes / a->spm.width_bytes);
        uint32_t hops = route(m, m->routers + port, in->pe, flits, load);
        c->weights +=
            reps * eng_instr_config_elems(in) + runs * (in->weight_parts ? in->weight_elems : 0);
        c->configs += reps;
        c->messages += reps, c->flits += reps * flits;
        c->flit_hops += reps * flits * hops, c->routers += reps * flits * (hops + 1);
        c->spm_writes += reps * words, c->spm_reads += reps * words;
        c->dma_bytes += reps * bytes;
        if (wkept && wkept[i])
            c->spm_reads += reps * words;
        else
            c->dram_rd += reps * bytes;
    }
}

/* Whether a tag's side lies on chip: in the program's on-chip region, or in the FIFO ring
 * this phase reads (its input) or its consumer reads (its output); rel gets its place
 * there, as the engine's DMA sees it. */
static bool on_chip(const eng_program *p, const eng_phase *f, bool out, const eng_pattern *q,
                    eng_pattern *rel)
{
    *rel = *q;
    if (eng_region_place(p, q, rel))
        return true;
    const eng_phase *cons = out ? (f + 1 < p->phases + p->n_phases ? f + 1 : NULL) : f;
    uint64_t ring = cons && cons != p->phases ? eng_fifo_ring_elems(cons - 1, cons) : 0;
    return eng_ring_place(cons, ring, q, rel);
}

/* What the phases of a chained group use of each PE unit, link, SPM port and bank over
 * all their tags: phases on different PEs do not add up. */
typedef struct est_load {
    double *pe, *link, *port, *bank;
    size_t n_pe, n_link, n_port, n_bank;
} est_load;

static void load_free(est_load *l)
{
    free(l->pe), free(l->link), free(l->port), free(l->bank);
    memset(l, 0, sizeof *l);
}

static int load_init(const arch_desc *a, est_load *l)
{
    memset(l, 0, sizeof *l);
    l->n_pe = (size_t)arch_pe_count(a) * (ARCH_FU_COUNT + 1);
    l->n_link = (size_t)arch_pe_count(a) * (4 + 4 * a->noc.n_skip + 1) + 2 * a->array.rows;
    l->n_port = 2 * a->array.rows, l->n_bank = a->spm.banks;
    l->pe = calloc(l->n_pe, sizeof *l->pe), l->link = calloc(l->n_link, sizeof *l->link);
    l->port = calloc(l->n_port, sizeof *l->port), l->bank = calloc(l->n_bank, sizeof *l->bank);
    if (l->pe && l->link && l->port && l->bank)
        return UTIL_OK;
    load_free(l);
    return UTIL_ERUN;
}

/* acc[i] += times x v[i] */
static void accumulate(double *acc, const double *v, size_t n, double times)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += times * v[i];
}

static int estimate_phase(const arch_desc *a, const eng_program *p, const eng_phase *f,
                          const uint8_t *wkept, double *cycles, eng_phase_estimate *pe_out,
                          est_counts *counts, est_load *acc)
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
    /* per instruction and per transfer, below */
    size_t ni = f->n_instr;
    double *per = malloc(sizeof *per * (7 * ni + f->n_xfer + 1));
    if (!load || !busy || !port_inj || !ready || !fed_at || !per) {
        free(load), free(busy), free(port_inj), free(ready), free(fed_at), free(per);
        return UTIL_ERUN;
    }
    double *rest = per, *wdram = per + ni, *back = per + 2 * ni, *depth = per + 3 * ni;
    double *itime = per + 4 * ni, *up = per + 5 * ni, *xlat = per + 6 * ni;
    double *ifirst = xlat + f->n_xfer + 1; /* itime of the first tag */
    /* PE units and injection links, per tag */
    for (uint32_t i = 0; i < f->n_instr; i++) {
        const eng_instr *in = &f->instr[i];
        for (uint32_t u = 0; u < ARCH_FU_COUNT; u++)
            busy[(size_t)in->pe * (ARCH_FU_COUNT + 1) + u] +=
                (double)in->vec_ops[u] *
                (double)eng_fu_interval(a, t, arch_lanes(a, t), (arch_fu_kind)u);
    }
    double feed_depth = 0, end = 0;
    double *bank = calloc(3 * (size_t)a->spm.banks, sizeof *bank), *feed_bank = bank + a->spm.banks;
    double *drain_bank = feed_bank + a->spm.banks;
    if (!bank) {
        free(load), free(busy), free(port_inj), free(ready), free(fed_at), free(per);
        return UTIL_ERUN;
    }
    est_counts tag; /* what one tag moves (count_phase) */
    memset(&tag, 0, sizeof tag);
    for (uint32_t x = 0; x < f->n_xfer; x++) {
        const eng_xfer *tx = &f->xfer[x];
        double flits = ceil((double)tx->elems * w / link_bytes);
        uint32_t src = tx->src_instr >= 0 ? f->instr[tx->src_instr].pe : m.routers + tx->spm_port;
        uint32_t dst = tx->dst_instr >= 0 ? f->instr[tx->dst_instr].pe : m.routers + tx->spm_port;
        uint32_t hops = route(&m, src, dst, flits, load);
        if (tx->src_instr >= 0)
            busy[(size_t)src * (ARCH_FU_COUNT + 1) + ARCH_FU_COUNT] += flits;
        else
            port_inj[tx->spm_port] += flits;
        /* SPM side: reads for feeds, writes for drains, bank by bank */
        if (tx->src_instr < 0)
            tag.spm_reads += bank_load(a, w, &tx->spm, feed_bank);
        if (tx->src_instr < 0 || tx->dst_instr < 0) {
            double words = bank_load(a, w, &tx->spm, bank);
            tag.spm_writes += tx->dst_instr < 0 ? words : 0;
        }
        if (tx->dst_instr < 0)
            bank_load(a, w, &tx->spm, drain_bank);
        /* counts: a message is at least one flit; one within a PE never enters the NoC */
        if (src != dst) {
            double n = fmax(1, flits);
            tag.messages++, tag.flits += n, tag.flit_hops += n * hops,
                tag.routers += n * (hops + 1);
        }
        tag.buf_writes += tx->dst_instr >= 0 ? tx->elems : 0;
    }
    /* One tag's latency (tag_latency): an instruction takes instr_time, or its parts' loop
     * if it streams weights (itime), the first tag (ifirst) its first loads too */
    for (uint32_t i = 0; i < ni; i++)
        itime[i] = (double)instr_time(a, t, &f->instr[i]);
    memcpy(ifirst, itime, ni * sizeof *ifirst);
    est_stream ws;
    stream_loads(a, p, f, &m, wkept, load, port_inj, bank, itime, ifirst, &tag, &ws);
    for (uint32_t x = 0; x < f->n_xfer; x++) {
        const eng_xfer *tx = &f->xfer[x];
        uint32_t src = tx->src_instr >= 0 ? f->instr[tx->src_instr].pe : m.routers + tx->spm_port;
        uint32_t dst = tx->dst_instr >= 0 ? f->instr[tx->dst_instr].pe : m.routers + tx->spm_port;
        xlat[x] = 1 + hops_between(&m, src, dst) * a->noc.hop_latency +
                  ceil((double)tx->elems * w / link_bytes);
    }
    double end_first = ws.stage > 0 ? tag_latency(f, xlat, ifirst, fed_at, ready) : 0;
    end = tag_latency(f, xlat, itime, fed_at, ready);
    end_first = fmax(end_first, end);
    /* An instruction fed from the SPM returns the credit for tag t + pe.tags when it has
     * finished tag t (back: the credit's way to the port; -1 when not fed from the SPM);
     * feed_depth is how far into a tag's latency the controller must still feed it. */
    /* (feed_each: an instruction is fed as soon as it has a free slot, so only its own
     * credit loop throttles its feed, and a tag enters once the instructions fed at its
     * start are configured; one deep in the tag's path (its feed waits there for its other
     * inputs) still holds the tag's input slot) */
    double *own = fed_at;
    memset(own, 0, (f->n_instr + 1) * sizeof *own);
    for (uint32_t x = 0; x < f->n_xfer; x++) {
        const eng_xfer *tx = &f->xfer[x];
        if (tx->src_instr < 0 && tx->dst_instr >= 0)
            own[tx->dst_instr] = fmax(own[tx->dst_instr], xlat[x]);
    }
    for (uint32_t i = 0; i < ni; i++)
        back[i] = -1, up[i] = 0;
    for (uint32_t x = 0; x < f->n_xfer; x++) {
        const eng_xfer *tx = &f->xfer[x];
        if (tx->src_instr >= 0 || tx->dst_instr < 0)
            continue;
        uint32_t i = (uint32_t)tx->dst_instr;
        double way =
            1 + hops_between(&m, f->instr[i].pe, m.routers + tx->spm_port) * a->noc.hop_latency;
        back[i] = fmax(back[i], way);
        up[i] = !f->feed_each || ready[i] <= own[i] + itime[i];
    }
    double hold_depth = 0;
    for (uint32_t i = 0; i < ni; i++)
        if (back[i] >= 0)
            hold_depth = fmax(hold_depth, ready[i] + back[i]);
    feed_depth = hold_depth;
    if (f->feed_each) {
        feed_depth = 0;
        for (uint32_t i = 0; i < ni; i++)
            if (back[i] >= 0)
                feed_depth = fmax(feed_depth, own[i] + itime[i] + back[i]);
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
    /* DRAM: a few consecutive tags of the first (up to 16) repeats stand for all: their
     * runs may straddle bursts and channels differently, and each repeat moves the runs'
     * alignment, which comes back after a few repeats; the busiest channel sets the pace */
    eng_tag_io io;
    double in_bytes = 0, out_bytes = 0, chan[64] = {0}, busiest = 0;
    double side_chan[2][64] = {{0}}; /* per tag: each side's bursts on each channel */
    uint64_t run = f->n_tags < 8 ? (f->n_tags ? f->n_tags : 1) : 8;
    uint64_t n_reps = f->repeats < 16 ? f->repeats : 16, samples = run * n_reps;
    uint32_t n_chan = a->dram.channels < 64 ? a->dram.channels : 64;
    /* parts of each side that lie on chip, and their SPM words (reads or writes of the
     * on-chip side of the DMA) */
    bool in_chip = true, out_chip = true;
    uint64_t chip_elems[2] = {0, 0};
    for (uint64_t k = 0; k < samples; k++) {
        uint64_t rep = k / run;
        f->tag_dma(f->tag_ctx, rep * f->n_tags + k % run, &io);
        double *bytes[2] = {&in_bytes, &out_bytes};
        for (int d = 0; d < 2; d++) {
            uint32_t n = d ? io.n_out : io.n_in;
            for (uint32_t part = 0; part < n; part++) {
                const eng_pattern *q = d ? &io.out[part] : &io.in[part];
                /* an on-chip part costs its SPM banks instead (once: they stand for one tag) */
                eng_pattern rel;
                bool chip = on_chip(p, f, d, q, &rel);
                if (!chip) {
                    double mine[64] = {0};
                    *bytes[d] +=
                        (double)bursts(a, w, q, mine) * a->dram.burst_bytes / (double)samples;
                    for (uint32_t ch = 0; ch < n_chan; ch++)
                        chan[ch] += mine[ch], side_chan[d][ch] += rep ? 0 : mine[ch] / (double)run;
                    if (d)
                        out_chip = false;
                    else
                        in_chip = false;
                } else if (k == 0) {
                    bank_load(a, w, &rel, bank);
                    chip_elems[d] += eng_pattern_elems(q);
                }
            }
        }
        /* repeats run one after another: each keeps its own busiest channel */
        if (k % run == run - 1) {
            busiest += max_of(chan, n_chan);
            memset(chan, 0, sizeof chan);
        }
    }
    double t_dram = busiest * a->dram.burst_bytes / (bpc / a->dram.channels) / (double)samples;
    if (ws.dram > 0)
        t_dram += max_of(ws.chan, n_chan) * a->dram.burst_bytes / (bpc / a->dram.channels);
    uint64_t in_elems = eng_parts_elems(io.in, io.n_in),
             out_elems = eng_parts_elems(io.out, io.n_out);
    eng_pattern whole_in = {0, in_elems, in_elems, 1};
    eng_pattern whole_out = {0, out_elems, out_elems, 1};
    /* DMA: each side is written to (or read from) its slot, and read from (or written to)
     * the on-chip region or a ring where it lies there instead of DRAM */
    double in_words = bank_load(a, w, &whole_in, bank),
           out_words = bank_load(a, w, &whole_out, bank);
    double W = a->spm.width_bytes;
    tag.spm_writes += in_words + ceil((double)chip_elems[1] * w / W);
    tag.spm_reads += out_words + ceil((double)chip_elems[0] * w / W);
    tag.dma_bytes = (double)(in_elems + out_elems) * w;
    tag.dram_rd = in_bytes + ws.dram;
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
        double hops = hops_between(&m, f->instr[tx->src_instr].pe, m.routers + tx->spm_port);
        double loop = itime[tx->src_instr] + 2 * (1 + hops * a->noc.hop_latency) +
                      ceil((double)tx->elems * w / link_bytes);
        drain_loop = loop > drain_loop ? loop : drain_loop;
    }
    double t_out =
        (feed_spread + drain_loop + out_bytes / bpc + lat_out + ENG_EST_HANDOFFS) / f->out_slots;
    /* (feed_each: a slot is held until the deepest fed instruction, which took tag k -
     * pe.tags when that entered, has finished it: in_slots + pe.tags tags per loop) */
    double t_in = f->feed_each
                      ? (lat_in + in_bytes / bpc + t_port + ENG_EST_HANDOFFS + hold_depth) /
                            (f->in_slots + a->pe.tags)
                      : (lat_in + in_bytes / bpc + t_port + ENG_EST_HANDOFFS) / f->in_slots;
    double interval = fmax(fmax(fmax(t_pe, t_link), fmax(t_port, t_spm)),
                           fmax(fmax(t_dram, t_feed), fmax(t_out, t_in)));
    double t_drain = 0, wpc = (double)a->spm.banks * a->spm.ports;
    for (uint32_t q = 0; q < 2 * a->array.rows; q++)
        t_drain = fmax(t_drain, load[(size_t)m.routers * m.link_dirs + q]);
    /* A tag waits at an unconfigured instruction behind pe.tags tags at each one before it
     * on its path, so the array holds pe.tags per instruction of the longest path; the fed
     * instructions wait for the configuration of those feeding them (up). */
    double max_depth = 1;
    uint32_t fed_n = 0;
    for (uint32_t i = 0; i < ni; i++)
        depth[i] = 1;
    bool changed = true;
    for (uint32_t sweep = 0; changed && sweep <= ni; sweep++) {
        changed = false;
        for (uint32_t x = 0; x < f->n_xfer; x++) {
            const eng_xfer *tx = &f->xfer[x];
            if (tx->src_instr < 0 || tx->dst_instr < 0)
                continue;
            double d = depth[tx->src_instr] + 1;
            if (d > depth[tx->dst_instr] && d <= ni)
                depth[tx->dst_instr] = d, changed = true;
            if (up[tx->dst_instr] && !up[tx->src_instr])
                up[tx->src_instr] = 1, changed = true;
        }
    }
    for (uint32_t i = 0; i < ni; i++) {
        max_depth = fmax(max_depth, depth[i]);
        fed_n = up[i] ? i + 1 : fed_n;
    }
    /* DRAM cycles a burst takes on its channel */
    double per_burst = a->dram.burst_bytes / (bpc / a->dram.channels);
    double *wch = calloc((size_t)ni * n_chan + 1, sizeof *wch);
    if (!wch) {
        free(per), free(load), free(busy), free(port_inj), free(ready), free(fed_at), free(bank);
        return UTIL_ERUN;
    }
    for (uint32_t i = 0; i < ni; i++) {
        const eng_instr *in = &f->instr[i];
        /* how long a tag still needs once it starts, and the DRAM time of its weights
         * (strided weights may fall on one channel) */
        rest[i] = end + t_drain - (ready[i] - itime[i]);
        double *wchan = wch + (size_t)i * n_chan;
        eng_pattern wp = eng_instr_weights(in, in->weight_addr);
        if (eng_instr_config_elems(in) && !(wkept && wkept[i]))
            bursts(a, w, &wp, wchan);
        for (uint32_t ch = 0; ch < n_chan; ch++)
            wchan[ch] *= per_burst;
        wdram[i] = max_of(wchan, n_chan);
    }
    for (int d = 0; d < 2; d++)
        for (uint32_t ch = 0; ch < n_chan; ch++)
            side_chan[d][ch] *= per_burst;
    for (uint32_t ch = 0; ch < n_chan; ch++)
        ws.chan[ch] *= per_burst;
    est_sched sc = {
        .a = a,
        .f = f,
        .w = w,
        .weight_chan = wch,
        .weight_chip = wkept,
        .nch = n_chan,
        .in_chan = side_chan[0],
        .out_chan = side_chan[1],
        .t_dram = t_dram,
        .lat_in = lat_in,
        .lat_out = lat_out,
        .in_bytes = in_bytes,
        .out_bytes = out_bytes,
        .stream_bytes = ws.dram,
        .stream_chan = ws.chan,
        .spm_in = ceil((double)in_elems * w / a->spm.width_bytes / wpc),
        .spm_out = ceil((double)out_elems * w / a->spm.width_bytes / wpc),
        .feed_time = fmax(t_port, feed_spread),
        .feed_depth = feed_depth,
        .hold_depth = hold_depth,
        .latency = end_first + t_drain,
        .rest = rest,
        .back = back,
        .itime = itime,
        .xlat = xlat,
        .spm_drain = max_of(drain_bank, a->spm.banks) / a->spm.ports,
        .hold = (uint64_t)max_depth * a->pe.tags,
        .fed_n = fed_n,
        .t_comp = fmax(
            fmax(fmax(t_pe, t_link), fmax(t_port, t_spm)),
            fmax(fmax(ws.stage / eng_phase_stage_slots(f), ws.dma / a->dma.channels), ws.loop)),
        .drain_loop = drain_loop,
    };
    double per_repeat = schedule(&sc, lat), t_weights = 0;
    for (uint32_t i = 0; i < ni; i++)
        t_weights += wdram[i];
    free(per);
    free(wch);
    if (per_repeat < 0) {
        free(load), free(busy), free(port_inj), free(ready), free(fed_at), free(bank);
        return UTIL_ERUN;
    }
    *cycles = per_repeat * (double)f->repeats;
    double lane_ops = 0, runs = (double)f->n_tags * (double)f->repeats;
    for (uint32_t i = 0; i < f->n_instr; i++)
        lane_ops += (double)f->instr[i].lane_ops;
    pe_out->lane_ops = lane_ops * runs;
    double all_bytes = 0;
    for (uint32_t i = 0; i < f->n_instr; i++)
        all_bytes += wkept && wkept[i] ? 0 : (double)eng_instr_config_elems(&f->instr[i]) * w;
    pe_out->read_bytes = (in_bytes + ws.dram) * runs + (double)f->repeats * all_bytes + ws.first;
    pe_out->write_bytes = out_bytes * runs;
    if (acc) {
        double tags = (double)f->n_tags * (double)f->repeats;
        accumulate(acc->pe, busy, acc->n_pe, tags);
        accumulate(acc->link, load, acc->n_link, tags);
        accumulate(acc->port, port_inj, acc->n_port, tags);
        accumulate(acc->bank, bank, acc->n_bank, tags / a->spm.ports);
    }
    count_phase(a, p, f, &m, load, &tag, wkept, counts);
    counts->dram_rd += ws.first;
    {
        pe_out->interval = interval;
        pe_out->t_pe = t_pe, pe_out->t_link = t_link, pe_out->t_port = t_port;
        pe_out->t_spm = t_spm, pe_out->t_dram = t_dram, pe_out->t_feed = t_feed;
        pe_out->t_slots = fmax(t_in, t_out);
        pe_out->t_weights = t_weights;
        pe_out->latency = end;
        pe_out->tag_time = lat_in + lat_out + (in_bytes + out_bytes) / bpc + sc.spm_in +
                           sc.spm_out + end + t_drain + ENG_EST_HANDOFFS;
        pe_out->cycles = *cycles;
    }
    free(load), free(busy), free(port_inj), free(ready), free(fed_at), free(bank);
    return UTIL_OK;
}

/* A group of chained phases (eng_phase.chained), priced once all its phases are known.
 * The phases configure at once, each through its own staging slots, and their weights
 * share the DRAM. A configuration c_k standalone (the phase's cycles less its stream and
 * one tag's time), whose weights keep the DRAM busy w_k of it, is stretched by the
 * DRAM's load while it runs, sum_j (w_j / c_j) min(c_j, c_k) / c_k, where that exceeds 1
 * (a phase configuring for a shorter time loads only that share of it); its weights also
 * queue behind its producers' DRAM traffic. A phase's stream starts once it is
 * configured and its producer has stored the tags its first one reads, and ends one
 * tag's time after its last tag starts, no earlier than a tag's time after the tags that
 * read the producer's last one. Together the phases share the array, the SPM and the
 * DRAM, so the group also takes at least the busiest of those summed over its phases'
 * tags, from the first phase's configuration until the last phase's last tag has left
 * the array. */
enum { RES_PE, RES_LINK, RES_PORT, RES_SPM, RES_DRAM, RES_COUNT };

typedef struct group_member {
    uint64_t tags;
    double cfg, iv, tag_time, cycles;
    double weights_dram;    /* DRAM cycles of its weights (eng_phase_estimate.t_weights) */
    double head_dram;       /* DRAM cycles of the tags it fetches at once when it starts */
    double busy[RES_COUNT]; /* cycles of the busiest of each resource over all its tags */
} group_member;

static group_member group_member_of(const eng_phase *f, const eng_phase_estimate *e)
{
    double tags = (double)f->n_tags * (double)f->repeats;
    return (group_member){
        .tags = f->n_tags,
        .cfg = fmax(0, e->cycles - (tags - 1) * e->interval - e->tag_time),
        .iv = e->interval,
        .tag_time = e->tag_time,
        .cycles = e->cycles,
        .weights_dram = e->t_weights,
        .head_dram = e->t_dram * fmin(tags, f->in_slots),
        .busy = {tags * e->t_pe, tags * e->t_link, tags * e->t_port, tags * e->t_spm,
                 tags * e->t_dram},
    };
}

/* Member k's configuration in the group of n: c_k stretched by the DRAM load of every
 * phase configuring beside it. */
static double group_config(const group_member *m, uint32_t n, uint32_t k)
{
    double c = m[k].cfg, load = 0;
    if (c <= 0)
        return 0;
    for (uint32_t j = 0; j < n; j++)
        if (m[j].cfg > 0)
            load += m[j].weights_dram / m[j].cfg * fmin(m[j].cfg, c) / c;
    return c * fmax(1, load);
}

/* The cycles of a group of n members, whose loads on each PE unit, link, port and bank
 * over all their tags are in acc. */
static double group_cycles(const group_member *m, uint32_t n, const est_load *acc)
{
    if (n == 1)
        return m[0].cycles;
    double start = 0, end = 0, iv = 0, first = 0, sum[RES_COUNT] = {0}, share = 0, head = 0;
    for (uint32_t k = 0; k < n; k++) {
        const group_member *c = &m[k];
        /* sum[RES_DRAM] is so far the producers' DRAM time, head the tags they fetch at
         * once when they start, and share the part of their time they keep the DRAM busy:
         * a configuration queues behind those first tags, and its weights meanwhile
         * behind that share (its requests, one at a time, barely wait otherwise) */
        double ready = group_config(m, n, k) +
                       fmin(sum[RES_DRAM], head + fmin(c->cfg, c->weights_dram) * fmin(1, share));
        double tags = (double)c->tags, s = ready, e;
        if (k == 0) {
            first = ready;
            e = ready + (tags - 1) * c->iv + c->tag_time;
        } else {
            const group_member *p = &m[k - 1];
            double need0 = (double)eng_chain_need(p->tags, c->tags, 0);
            s = fmax(ready, start + (need0 - 1) * iv + p->tag_time);
            double after_last = ceil(tags / (double)p->tags) - 1;
            e = fmax(s + (tags - 1) * c->iv + c->tag_time, end + after_last * c->iv + c->tag_time);
        }
        start = s, end = e;
        iv = tags > 1 ? (e - s - c->tag_time) / (tags - 1) : 0;
        for (int r = 0; r < RES_COUNT; r++)
            sum[r] += c->busy[r];
        share += c->cycles > 0 ? c->busy[RES_DRAM] / c->cycles : 0;
        head += c->head_dram;
    }
    /* the busiest of each resource over the phases together (the DRAM is one) */
    sum[RES_PE] = max_of(acc->pe, acc->n_pe), sum[RES_LINK] = max_of(acc->link, acc->n_link);
    sum[RES_PORT] = max_of(acc->port, acc->n_port), sum[RES_SPM] = max_of(acc->bank, acc->n_bank);
    const group_member *last = &m[n - 1];
    double drain = fmax(0, last->tag_time - last->iv);
    return fmax(end, first + max_of(sum, RES_COUNT) + drain);
}

/* The program's kept weights as the engine loads them, phase after phase: a bit per kept
 * weight, loaded already, and per instruction of the phase at hand whether its weights
 * are all kept and loaded before (its first repeat's; the mappers keep only weights that
 * do not change between repeats). */
typedef struct est_kept {
    uint64_t *loaded;
    uint8_t *chip;
    uint32_t cap;
} est_kept;

static void kept_free(est_kept *k)
{
    free(k->loaded), free(k->chip);
    memset(k, 0, sizeof *k);
}

/* Per instruction of f, whether it reads kept weights from the SPM; NULL when the program
 * keeps none, or on a failed allocation (then p->kept_elems is set). */
static const uint8_t *kept_weights(const eng_program *p, const eng_phase *f, est_kept *k)
{
    if (!p->kept_elems)
        return NULL;
    if (!k->loaded && !(k->loaded = calloc(eng_kept_words(p), sizeof *k->loaded)))
        return NULL;
    if (f->n_instr + 1 > k->cap) {
        free(k->chip);
        k->cap = f->n_instr + 1;
        if (!(k->chip = malloc(k->cap)))
            return NULL;
    }
    for (uint32_t i = 0; i < f->n_instr; i++) {
        const eng_instr *in = &f->instr[i];
        eng_pattern q = eng_instr_weights(in, in->weight_addr);
        k->chip[i] = in->weight_elems && eng_kept_mark(p, k->loaded, &q);
    }
    return k->chip;
}

int eng_estimate(const arch_desc *a, const eng_program *p, eng_phase_estimate *phases,
                 eng_estimate_total *total, char *err, size_t errlen)
{
    double cycles = 0, ops = 0, rd = 0, wr = 0;
    est_counts c;
    memset(&c, 0, sizeof c);
    group_member *m = malloc((p->n_phases + 1) * sizeof *m);
    if (!m)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while estimating");
    est_load acc;
    est_kept kept = {NULL, NULL, 0};
    if (load_init(a, &acc)) {
        free(m);
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while estimating");
    }
    for (uint32_t i = 0, len; i < p->n_phases; i += len) {
        len = eng_group_len(p, i);
        if (len > 1) {
            memset(acc.pe, 0, acc.n_pe * sizeof *acc.pe);
            memset(acc.link, 0, acc.n_link * sizeof *acc.link);
            memset(acc.port, 0, acc.n_port * sizeof *acc.port);
            memset(acc.bank, 0, acc.n_bank * sizeof *acc.bank);
        }
        for (uint32_t k = 0; k < len; k++) {
            eng_phase_estimate pe;
            double cy;
            const uint8_t *chip = kept_weights(p, &p->phases[i + k], &kept);
            if ((p->kept_elems && !chip) || estimate_phase(a, p, &p->phases[i + k], chip, &cy, &pe,
                                                           &c, len > 1 ? &acc : NULL)) {
                free(m);
                load_free(&acc);
                kept_free(&kept);
                return util_fail(UTIL_ERUN, err, errlen, "out of memory while estimating");
            }
            if (phases)
                phases[i + k] = pe;
            ops += pe.lane_ops, rd += pe.read_bytes, wr += pe.write_bytes;
            m[k] = group_member_of(&p->phases[i + k], &pe);
        }
        cycles += group_cycles(m, len, &acc);
    }
    load_free(&acc);
    kept_free(&kept);
    free(m);
    memset(total, 0, sizeof *total);
    total->cycles = (uint64_t)llround(cycles);
    total->lane_ops = (uint64_t)llround(ops);
    total->dram_read_bytes = (uint64_t)llround(rd);
    total->dram_write_bytes = (uint64_t)llround(wr);
    eng_stats *s = &total->counts;
    s->cycles = total->cycles, s->lane_ops = total->lane_ops, s->tags = (uint64_t)llround(c.tags);
    eng_pe_stats *q = &s->pe_total;
    for (uint32_t u = 0; u < ARCH_FU_COUNT; u++)
        q->fu_vec_ops[u] = (uint64_t)llround(c.vec[u]),
        q->fu_busy[u] = q->fu_vec_ops[u] * eng_unit_cycles(a, p->dtype, (arch_fu_kind)u);
    q->lane_ops = total->lane_ops, q->fires = (uint64_t)llround(c.fires);
    q->buf_reads = (uint64_t)llround(c.buf_reads), q->buf_writes = (uint64_t)llround(c.buf_writes);
    q->weight_elems = (uint64_t)llround(c.weights), q->configs = (uint64_t)llround(c.configs);
    s->noc.messages = (uint64_t)llround(c.messages), s->noc.flits = (uint64_t)llround(c.flits);
    s->noc.flit_hops = (uint64_t)llround(c.flit_hops);
    s->noc.router_traversals = (uint64_t)llround(c.routers);
    s->spm.reads = (uint64_t)llround(c.spm_reads), s->spm.writes = (uint64_t)llround(c.spm_writes);
    s->dma.bytes = (uint64_t)llround(c.dma_bytes);
    s->dram.read_bytes = (uint64_t)llround(c.dram_rd),
    s->dram.write_bytes = total->dram_write_bytes;
    return UTIL_OK;
}
