/* fuse.c: fused groups: a block's row-local ops as one pipeline of PE groups (multilayer dataflow).
 *
 * A group's ops become layers (fuse_layer.c builds their instructions): a butterfly or
 * FFT is runs of consecutive stages, each run on its own power-of-two set of PEs that
 * holds, per row, every unit whose index has that PE's value in a few bits outside the
 * run's stage bits (an all-to-all exchange between runs); an add and the layernorm that
 * follows it are row segments with a reducer; a dense layer is a grid of weight tiles
 * whose partial sums flow along its K chunks. A tag of R rows enters from the SPM, every
 * element moves as part of one message per producer and consumer instruction, and the
 * last layers write the tensors read after the group back through the SPM. A tensor a
 * deeper layer reads again (a residual) cuts the pipeline into segments: each is one
 * phase, chained to the next through an SPM ring whose slots hold the tensor while the
 * deep layer catches up.
 *
 * The search: for each rows-per-tag R and fold F (layers per PE), a target interval I is
 * raised from the perfect-balance bound until every layer fits, with the fewest PEs
 * whose busiest unit stays within I (and whose buffers hold their slots and weights),
 * on at most F times the array; the closed-form estimate prices each distinct plan and
 * the objective picks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

/* ---------------------------------------------------------------- the group */

/* Index of tensor t in the group's list, added if new. */
static int32_t tensor_id(fz_group *g, const map_tensor *t)
{
    for (uint32_t i = 0; i < g->n_t; i++) {
        const map_tensor *u = &g->t[i].t;
        if (u->addr == t->addr && u->cols == t->cols && u->stride == t->stride &&
            u->rows == t->rows)
            return (int32_t)i;
    }
    if (g->n_t >= FZ_MAX_TENSORS)
        return -1;
    g->t[g->n_t] = (fz_tensor){*t, -1, false, false};
    return (int32_t)g->n_t++;
}

bool map_fuse_takes(wl_op_kind k)
{
    return k == WL_OP_DENSE || k == WL_OP_BUTTERFLY || k == WL_OP_BLOCK_BFLY ||
           k == WL_OP_LAYERNORM || k == WL_OP_ADD || k == WL_OP_GELU || k == WL_OP_FFT_HIDDEN;
}

/* A layer for op k (and, with k2, the layernorm after an add). */
static bool add_layer(fz_group *g, const map_fuse_op *ops, uint32_t k)
{
    const wl_op *op = &ops[k].op;
    if (g->n_l >= MAP_FUSE_MAX_OPS)
        return false;
    fz_layer *L = &g->l[g->n_l];
    memset(L, 0, sizeof *L);
    L->op = k, L->op2 = FZ_NONE;
    snprintf(L->name, sizeof L->name, "%s", op->name);
    int32_t a = tensor_id(g, &ops[k].src0), b = tensor_id(g, &ops[k].src1),
            y = tensor_id(g, &ops[k].dst);
    if (a < 0 || b < 0 || y < 0)
        return false;
    L->in[0] = (uint32_t)a, L->n_in = 1, L->out = (uint32_t)y;
    L->gelu = ops[k].gelu_out, L->op_gelu = k;
    switch (op->kind) {
    case WL_OP_DENSE:
        L->kind = FZ_DENSE, L->nin = op->in, L->nout = op->out;
        break;
    case WL_OP_BUTTERFLY:
    case WL_OP_BLOCK_BFLY:
    case WL_OP_FFT_HIDDEN: {
        bool blk = op->kind == WL_OP_BLOCK_BFLY, fft = op->kind == WL_OP_FFT_HIDDEN;
        L->kind = FZ_RUNS;
        L->sk = fft ? MAP_ST_FFT : blk ? MAP_ST_BLOCK : MAP_ST_RBFLY;
        L->u = fft ? 2 : blk ? op->param : 1;
        if (L->u > MAP_MAX_TILE || !util_is_pow2(op->n) || L->u >= op->n * (fft ? 2 : 1))
            return false;
        L->N = fft ? op->n : op->n / L->u;
        L->stages = util_log2(L->N);
        L->wpp = fft ? 2 : blk ? 4 * L->u * L->u : 4;
        L->in_cols = op->in, L->out_cols = op->out;
        L->re_in = L->rev_out = fft;
        break;
    }
    case WL_OP_ADD:
        L->kind = FZ_NORM, L->add = true, L->H = op->out;
        L->in[1] = (uint32_t)b, L->n_in = 2;
        break;
    case WL_OP_LAYERNORM:
        L->kind = FZ_NORM, L->norm = true, L->H = op->out;
        break;
    default:
        return false;
    }
    g->n_l++;
    return true;
}

/* The layers of ops[0..n): one per op, but a GELU joins the linear layer it follows and
 * a layernorm the add before it, when nothing else reads the tensor between them. */
static bool make_layers(fz_group *g, const map_fuse_op *ops, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++) {
        const wl_op *op = &ops[k].op;
        if (!map_fuse_takes(op->kind) || op->rows != g->rows)
            return false;
        fz_layer *prev = g->n_l ? &g->l[g->n_l - 1] : NULL;
        bool follows = prev && k && !ops[k - 1].live_out &&
                       ops[k].src0.addr == ops[k - 1].dst.addr &&
                       ops[k].src0.stride == ops[k - 1].dst.stride;
        bool later_reads = false;
        for (uint32_t j = k + 1; j < n && follows; j++)
            later_reads = later_reads || ops[j].src0.addr == ops[k - 1].dst.addr ||
                          ops[j].src1.addr == ops[k - 1].dst.addr;
        if (op->kind == WL_OP_GELU && follows && !later_reads && !prev->gelu &&
            (prev->kind == FZ_DENSE || (prev->kind == FZ_RUNS && prev->sk != MAP_ST_FFT))) {
            int32_t y = tensor_id(g, &ops[k].dst);
            if (y < 0)
                return false;
            prev->gelu = true, prev->out = (uint32_t)y, prev->op_gelu = k;
            continue;
        }
        if (op->kind == WL_OP_LAYERNORM && follows && !later_reads && prev->kind == FZ_NORM &&
            prev->add && !prev->norm) {
            int32_t y = tensor_id(g, &ops[k].dst);
            if (y < 0)
                return false;
            prev->norm = true, prev->op2 = k, prev->out = (uint32_t)y;
            size_t len = strlen(prev->name);
            snprintf(prev->name + len, sizeof prev->name - len, "+%s", op->name);
            continue;
        }
        if (op->kind == WL_OP_GELU || !add_layer(g, ops, k))
            return false;
    }
    return g->n_l > 0;
}

/* Depth of each layer: 1 + the deepest layer it reads from (0: reads only from outside). */
static void layer_depths(const fz_group *g, uint32_t *depth)
{
    for (uint32_t l = 0; l < g->n_l; l++) {
        depth[l] = 0;
        for (uint32_t k = 0; k < g->l[l].n_in; k++) {
            int32_t p = fz_producer(g, g->l[l].in[k], l);
            if (p >= 0 && depth[p] + 1 > depth[l])
                depth[l] = depth[p] + 1;
        }
    }
}

/* Producers, stored tensors, and the segments: a tensor whose readers lie at different
 * depths would hold the shallow reader's slots while the deep one catches up, so it ends
 * a segment and reaches the next through a ring (its readers must then all lie there). */
static bool make_segments(fz_group *g, const map_fuse_op *ops, uint32_t n)
{
    for (uint32_t l = 0; l < g->n_l; l++) {
        fz_tensor *t = &g->t[g->l[l].out];
        if (t->layer >= 0)
            return false; /* written twice */
        t->layer = (int32_t)l;
    }
    for (uint32_t k = 0; k < n; k++) {
        int32_t y = tensor_id(g, &ops[k].dst);
        if (ops[k].live_out && y >= 0 && g->t[y].layer >= 0)
            g->t[y].stored = true;
    }
    uint32_t depth[MAP_FUSE_MAX_OPS];
    layer_depths(g, depth);
    g->n_seg = 1;
    g->seg[0] = (fz_seg){.ring_in = FZ_NONE};
    for (uint32_t l = 0; l < g->n_l; l++) {
        g->l[l].seg = g->n_seg - 1;
        /* a tensor this layer reads that a deeper layer reads again ends the segment
         * before this layer */
        bool cut = false;
        for (uint32_t k = 0; k < g->l[l].n_in && !cut; k++) {
            uint32_t t = g->l[l].in[k];
            int32_t p = fz_producer(g, t, l);
            if (p < 0 || g->l[p].seg != g->n_seg - 1)
                continue;
            for (uint32_t m = l + 1; m < g->n_l && !cut; m++)
                for (uint32_t j = 0; j < g->l[m].n_in; j++)
                    cut = cut || (g->l[m].in[j] == t && depth[m] > depth[l] + 1);
        }
        if (cut && l > g->seg[g->n_seg - 1].l0) {
            if (g->n_seg >= FZ_MAX_SEGS)
                return false;
            g->seg[g->n_seg] = (fz_seg){.l0 = l, .ring_in = FZ_NONE};
            g->n_seg++;
            g->l[l].seg = g->n_seg - 1;
        }
        g->seg[g->n_seg - 1].nl = l + 1 - g->seg[g->n_seg - 1].l0;
    }
    /* parts: what each segment reads from outside it and writes for later */
    for (uint32_t s = 0; s < g->n_seg; s++) {
        fz_seg *sg = &g->seg[s];
        for (uint32_t l = sg->l0; l < sg->l0 + sg->nl; l++) {
            for (uint32_t k = 0; k < g->l[l].n_in; k++) {
                uint32_t t = g->l[l].in[k];
                int32_t p = fz_producer(g, t, l);
                if (p >= 0 && g->l[p].seg == s)
                    continue;
                if (p >= 0 && g->l[p].seg + 1 != s)
                    return false; /* rings join neighbouring segments only */
                bool have = false;
                for (uint32_t q = 0; q < sg->n_in; q++)
                    have = have || sg->in[q].tensor == t;
                if (have)
                    continue;
                if (sg->n_in >= ENG_TAG_PARTS)
                    return false;
                sg->in[sg->n_in++].tensor = t;
                if (p >= 0) {
                    if (sg->ring_in != FZ_NONE && sg->ring_in != t)
                        return false; /* one ring between two segments */
                    sg->ring_in = t;
                    g->t[t].ring = true;
                }
            }
        }
    }
    for (uint32_t s = 0; s < g->n_seg; s++) {
        fz_seg *sg = &g->seg[s];
        for (uint32_t t = 0; t < g->n_t; t++) {
            int32_t p = g->t[t].layer;
            if (p < 0 || g->l[p].seg != s)
                continue;
            bool ring_out = s + 1 < g->n_seg && g->seg[s + 1].ring_in == t;
            if (!g->t[t].stored && !ring_out)
                continue;
            /* a stored ring tensor goes out twice: to the ring and to DRAM */
            for (int copy = 0; copy < 1 + (g->t[t].stored && ring_out); copy++) {
                if (sg->n_out >= ENG_TAG_PARTS)
                    return false;
                sg->out[sg->n_out++] = (fz_part){t, 0, copy ? FZ_PART_DRAM : 0};
            }
        }
        if (!sg->n_out)
            return false; /* writes nothing: not part of a useful group */
    }
    return true;
}

/* The group of ops[0..n) without a plan; false when they cannot form one. */
static bool make_group(fz_group *g, const arch_desc *a, const wl_desc *d, const map_fuse_op *ops,
                       uint32_t n)
{
    memset(g, 0, sizeof *g);
    g->a = a, g->d = d, g->ops = ops, g->n_ops = n;
    g->dt = d->dtype, g->lanes = arch_lanes(a, d->dtype);
    g->wb = util_dtype_bytes(d->dtype);
    g->rows = n ? ops[0].op.rows : 0;
    if (!n || n > MAP_FUSE_MAX_OPS || !make_layers(g, ops, n))
        return false;
    if (!make_segments(g, ops, n))
        return false;
    for (uint32_t t = 0; t < g->n_t; t++)
        if (g->t[t].t.rows != g->rows)
            return false;
    return true;
}

/* ---------------------------------------------------------------- allocation */

/* Largest busy time of one of the PE slots a layer's plan needs, and whether it fits. */
static bool layer_fits(const fz_group *g, const fz_layer *L, double I, double *busy, uint32_t *pes)
{
    return fz_layer_plan_cost(g, L, busy, pes) && *busy <= I;
}

/* Of the runs from stage s on that take the fewest PEs (cost[s]; ok: each run fits), the
 * one whose exchanges send the fewest messages per tag, then the fewest runs, into *best. */
static void best_runs(const fz_layer *L, bool ok[FZ_MAX_BITS][FZ_MAX_BITS + 1][FZ_MAX_BITS],
                      const uint32_t *cost, uint32_t s, uint32_t lgmax, fz_layer *cur,
                      fz_layer *best, uint64_t *best_msgs)
{
    if (s == L->stages) {
        fz_run_masks(cur);
        uint64_t m = fz_run_messages(cur);
        if (m < *best_msgs || (m == *best_msgs && cur->n_runs < best->n_runs))
            *best = *cur, *best_msgs = m;
        return;
    }
    if (cur->n_runs >= FZ_MAX_RUNS)
        return;
    for (uint32_t p = 0; p <= lgmax && p < L->stages; p++)
        for (uint32_t k = 1; k <= L->stages - s && k <= L->stages - p; k++) {
            if (!ok[s][k][p] || cost[s + k] == UINT32_MAX || (1u << p) + cost[s + k] != cost[s])
                continue;
            cur->run[cur->n_runs++] = (fz_run){s, k, p, 0};
            best_runs(L, ok, cost, s + k, lgmax, cur, best, best_msgs);
            cur->n_runs--;
        }
}

/* The cheapest plan of layer L whose busiest PE stays within I cycles per tag (fewest
 * PEs, then fewest messages, then fewest runs); false when none does. */
static bool plan_layer_as(const fz_group *g, fz_layer *L, double I)
{
    uint32_t A = arch_pe_count(g->a) * g->F;
    double busy;
    uint32_t pes;
    if (L->kind == FZ_NORM) {
        for (uint32_t S = 1; S <= A && S <= L->H && S <= FZ_MAX_NORM_SEGS; S++) {
            L->S = S;
            if (layer_fits(g, L, I, &busy, &pes))
                return true;
        }
        return false;
    }
    if (L->kind == FZ_DENSE) {
        uint32_t best = UINT32_MAX, bc = 0, bk = 0;
        for (uint32_t C = 1; C <= A && C <= L->nout; C *= 2)
            for (uint32_t K = 1; C * K <= A && K <= L->nin; K *= 2) {
                L->C = C, L->K = K;
                if (C * K < best && layer_fits(g, L, I, &busy, &pes))
                    best = C * K, bc = C, bk = K;
            }
        L->C = bc, L->K = bk;
        return best != UINT32_MAX;
    }
    /* runs: the fewest PEs to cover the stages from s on (dynamic programming), then of
     * the runs that take that few, those whose exchanges send the fewest messages */
    uint32_t S = L->stages, lgmax = util_log2(A);
    uint32_t cost[FZ_MAX_BITS + 1];
    bool ok[FZ_MAX_BITS][FZ_MAX_BITS + 1][FZ_MAX_BITS];
    memset(ok, 0, sizeof ok);
    cost[S] = 0;
    for (uint32_t s = S; s-- > 0;) {
        cost[s] = UINT32_MAX;
        for (uint32_t p = 0; p <= lgmax && p < S; p++) {
            for (uint32_t k = 1; k <= S - s && k <= S - p; k++) {
                fz_layer one = *L;
                one.n_runs = 1;
                one.run[0] = (fz_run){s, k, p, 0};
                ok[s][k][p] = layer_fits(g, &one, I, &busy, &pes);
                if (ok[s][k][p] && cost[s + k] != UINT32_MAX && (1u << p) + cost[s + k] < cost[s])
                    cost[s] = (1u << p) + cost[s + k];
            }
        }
    }
    if (cost[0] == UINT32_MAX)
        return false;
    fz_layer best = *L, cur = *L;
    uint64_t best_msgs = UINT64_MAX;
    cur.n_runs = 0;
    best_runs(L, ok, cost, 0, lgmax, &cur, &best, &best_msgs);
    if (best_msgs == UINT64_MAX)
        return false;
    L->n_runs = best.n_runs;
    memcpy(L->run, best.run, sizeof L->run);
    return true;
}

/* plan_layer_as with the weights resident; where the group may stream, the plan that
 * streams the weights of the instructions whose PEs cannot hold them instead when it
 * takes fewer PEs (the group streams only where the resident plans overflow the array). */
static bool plan_layer(const fz_group *g, fz_layer *L, double I)
{
    L->stream = false;
    bool resident = plan_layer_as(g, L, I);
    if (!g->stream || L->kind == FZ_NORM)
        return resident;
    fz_layer streamed = *L;
    streamed.stream = true;
    if (!plan_layer_as(g, &streamed, I))
        return resident;
    if (!resident || fz_layer_pes(&streamed) < fz_layer_pes(L))
        *L = streamed;
    return true;
}

/* Plans every layer for interval I; the PE slots they take, or UINT32_MAX. */
static uint32_t plan_layers(fz_group *g, double I)
{
    uint32_t total = 0;
    for (uint32_t l = 0; l < g->n_l; l++) {
        double busy;
        uint32_t pes;
        if (!plan_layer(g, &g->l[l], I) || !fz_layer_plan_cost(g, &g->l[l], &busy, &pes))
            return UINT32_MAX;
        total += pes;
    }
    return total;
}

/* Every layer's plan, to tell plans apart. */
static bool same_plan(const fz_group *g, const fz_layer *saved)
{
    for (uint32_t l = 0; l < g->n_l; l++) {
        const fz_layer *x = &g->l[l], *y = &saved[l];
        if (x->S != y->S || x->C != y->C || x->K != y->K || x->n_runs != y->n_runs ||
            x->stream != y->stream)
            return false;
        for (uint32_t r = 0; r < x->n_runs; r++)
            if (x->run[r].s0 != y->run[r].s0 || x->run[r].k != y->run[r].k ||
                x->run[r].p != y->run[r].p)
                return false;
    }
    return true;
}

/* ---------------------------------------------------------------- the search */

typedef struct fz_best {
    double cost, messages;
    map_candidate cand; /* as the shortlist lists it */
    uint32_t R, F;
    fz_layer l[MAP_FUSE_MAX_OPS];
    bool found;
} fz_best;

/* Builds the group's program under its current plan (timing only) and prices it;
 * keeps it in best and the shortlist when it is cheaper. */
static int try_plan(fz_group *g, const map_forced *how, fz_best *best, map_shortlist *sl)
{
    fz_prog p;
    int rc = fz_build(g, false, &p);
    if (rc == FZ_NOFIT)
        return UTIL_OK;
    if (rc)
        return rc;
    eng_estimate_total e;
    eng_phase_estimate ph[FZ_MAX_SEGS];
    char err[256];
    if (eng_estimate(g->a, &p.program, ph, &e, err, sizeof err)) {
        fz_prog_free(&p);
        return UTIL_ERUN;
    }
    double cost = map_cost(how, g->a, g->dt, &e);
    char desc[MAP_CAND_DESC_MAX];
    fz_describe(g, desc, sizeof desc);
    const char *why = map_slowest_bottleneck(ph, g->n_seg);
    double least = best->found ? best->cost : INFINITY;
    map_shortlist_add(sl, e.cycles, cost, why, desc, &least);
    /* Within MAP_FUSE_TIE of each other, the plan with fewer NoC messages wins: fewer,
     * larger messages (more rows per tag, less all-to-all) cost the hardware headers and
     * arbitration the model leaves out, and cost the simulator events. */
    double msgs = (double)e.counts.noc.messages;
    bool better = !best->found || cost < best->cost * (1 - MAP_FUSE_TIE) ||
                  (cost <= best->cost * (1 + MAP_FUSE_TIE) && msgs < best->messages);
    if (better) {
        best->found = true, best->cost = cost, best->messages = msgs;
        best->R = g->R, best->F = g->F;
        snprintf(best->cand.desc, sizeof best->cand.desc, "%s", desc);
        best->cand.cycles = e.cycles, best->cand.cost = cost;
        best->cand.bottleneck = why;
        memcpy(best->l, g->l, sizeof best->l);
    }
    fz_prog_free(&p);
    return UTIL_OK;
}

/* Plans of every layer for rising targets, R and F fixed: the first that fits and a
 * few looser ones. */
static int sweep(fz_group *g, const map_forced *how, fz_best *best, map_shortlist *sl)
{
    double work = 0;
    for (uint32_t l = 0; l < g->n_l; l++)
        work += fz_layer_work(g, &g->l[l]);
    double I = work / (arch_pe_count(g->a) * (double)g->F);
    fz_layer seen[MAP_FUSE_MAX_OPS];
    uint32_t tried = 0;
    for (uint32_t step = 0; step < FZ_SWEEP_STEPS && tried < FZ_PLANS_PER_SWEEP;
         step++, I *= 1.08) {
        uint32_t pes = plan_layers(g, I);
        if (pes > arch_pe_count(g->a) * g->F)
            continue;
        if (tried && same_plan(g, seen))
            continue;
        memcpy(seen, g->l, sizeof seen);
        tried++;
        int rc = try_plan(g, how, best, sl);
        if (rc)
            return rc;
    }
    return UTIL_OK;
}

/* The fixed plan of a mapping-file entry: each layer's stages from stage_pes and
 * stage_steps, in order. */
static int forced_plan(fz_group *g, const map_force *f, char *err, size_t errlen)
{
    if (f->n_stage_steps != f->n_stage_pes)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: stage_steps has %u entries and stage_pes %u: give both, one per "
                         "pipeline stage",
                         f->where, f->n_stage_steps, f->n_stage_pes);
    uint32_t k = 0;
    for (uint32_t l = 0; l < g->n_l; l++) {
        uint32_t used;
        if (!fz_force_layer(g, &g->l[l], f->stage_pes + k, f->stage_steps + k, f->n_stage_pes - k,
                            &used, err, errlen, f->where))
            return UTIL_ECONFIG;
        k += used;
    }
    if (k != f->n_stage_pes)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: stage_pes lists %u pipeline stages, the group's ops take %u",
                         f->where, f->n_stage_pes, k);
    return UTIL_OK;
}

/* Plans with every weight resident; where none fits, plans whose layers stream the
 * weights their PEs cannot hold (unless the mapping entry says weights = "resident"; an
 * entry with "kept" or "reloaded" and fixed stages takes only the streaming plan). */
static int search(fz_group *g, const map_forced *how, const map_force *force, fz_best *best,
                  map_shortlist *sl, char *err, size_t errlen)
{
    static const uint32_t Rs[] = {1, 2, 4, 8, 16};
    bool staged = force && (force->n_stage_pes || force->n_stage_steps);
    bool must_stream =
        force && (force->weights == MAP_WEIGHTS_KEPT || force->weights == MAP_WEIGHTS_RELOADED);
    bool may_stream = !force || force->weights != MAP_WEIGHTS_RESIDENT;
    for (int stream = staged && must_stream; stream <= may_stream && !best->found; stream++)
        for (uint32_t F = 1; F <= FZ_MAX_FOLD && !best->found; F *= 2) {
            if (force && force->fold && force->fold != F)
                continue;
            g->stream = stream;
            for (size_t i = 0; i < sizeof Rs / sizeof Rs[0]; i++) {
                if (g->rows % Rs[i] ||
                    (force && force->rows_per_tag && force->rows_per_tag != Rs[i]))
                    continue;
                g->R = Rs[i], g->F = F;
                int rc;
                if (staged) {
                    if ((rc = forced_plan(g, force, err, errlen)))
                        return rc;
                    rc = try_plan(g, how, best, sl);
                } else {
                    rc = sweep(g, how, best, sl);
                }
                if (rc)
                    return util_fail(rc, err, errlen, "out of memory");
            }
        }
    return UTIL_OK;
}

/* ---------------------------------------------------------------- the result */

typedef struct fz_priv {
    fz_group g;
    fz_prog p;
} fz_priv;

void map_fuse_free(map_fuse_result *m)
{
    fz_priv *p = m->priv;
    if (p) {
        fz_prog_free(&p->p);
        free(p);
    }
    memset(m, 0, sizeof *m);
}

int map_fuse(const arch_desc *a, const wl_desc *d, const map_fuse_op *ops, uint32_t n,
             uint64_t free_addr, const map_forced *how, const map_force *force, bool functional,
             map_fuse_result *out, bool *ok, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    *ok = false;
    fz_priv *pv = calloc(1, sizeof *pv);
    if (!pv)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    fz_group *g = &pv->g;
    int rc = map_force_keys(force,
                            MAP_KEY_FUSED_THROUGH | MAP_KEY_ROWS_PER_TAG | MAP_KEY_FOLD |
                                MAP_KEY_STAGE_PES | MAP_KEY_STAGE_STEPS | MAP_KEY_WEIGHTS,
                            "a fused group", err, errlen);
    if (rc) {
        free(pv);
        return rc;
    }
    if (!make_group(g, a, d, ops, n)) {
        free(pv);
        if (force)
            return util_fail(UTIL_ECONFIG, err, errlen,
                             "%s: %s..%s cannot run as one fused group (an op that is not "
                             "row-local, or a tensor read across more than one segment)",
                             force->where, ops[0].op.name, ops[n - 1].op.name);
        return UTIL_OK;
    }
    g->free_addr = free_addr;
    g->keep = force ? force->weights : MAP_WEIGHTS_ANY;
    fz_best best;
    memset(&best, 0, sizeof best);
    rc = search(g, how, force, &best, &out->shortlist, err, errlen);
    if (!rc && !best.found && force)
        rc = util_fail(UTIL_ECONFIG, err, errlen,
                       "%s: no plan of the fused group %s..%s with this entry's keys fits the "
                       "array (PE buffers, instruction stores or the SPM; rows_per_tag must "
                       "divide the %llu rows)",
                       force->where, ops[0].op.name, ops[n - 1].op.name,
                       (unsigned long long)g->rows);
    if (rc || !best.found) {
        free(pv);
        return rc;
    }
    g->R = best.R, g->F = best.F;
    memcpy(g->l, best.l, sizeof g->l);
    rc = fz_build(g, functional, &pv->p);
    if (rc) {
        free(pv);
        return rc == FZ_NOFIT ? util_fail(UTIL_ERUN, err, errlen, "fused group stopped fitting")
                              : util_fail(UTIL_ERUN, err, errlen, "out of memory");
    }
    out->priv = pv;
    out->program = pv->p.program;
    out->dram_end = pv->p.dram_end;
    out->rows_per_tag = g->R, out->fold = g->F, out->segments = g->n_seg;
    out->weights = MAP_WEIGHTS_ANY;
    for (uint32_t l = 0; l < g->n_l; l++)
        if (fz_layer_streams(g, &g->l[l]))
            out->weights = g->kept ? MAP_WEIGHTS_KEPT : MAP_WEIGHTS_RELOADED;
    out->n_stages = fz_stages(g, &pv->p, out->stage, MAP_FUSE_MAX_STAGES, &out->bottleneck);
    fz_describe(g, out->desc, sizeof out->desc);
    /* the plan taken (a tie may have gone to one further down, with fewer messages) */
    map_shortlist *sl = &out->shortlist;
    sl->chosen = sl->n;
    for (uint32_t k = 0; k < sl->n; k++)
        if (sl->c[k].cost == best.cost && !strcmp(sl->c[k].desc, best.cand.desc))
            sl->chosen = k;
    if (sl->chosen == sl->n) {
        sl->chosen = sl->n < MAP_MAX_CANDIDATES ? sl->n++ : MAP_MAX_CANDIDATES - 1;
        sl->c[sl->chosen] = best.cand;
    }
    *ok = true;
    return UTIL_OK;
}

void map_fuse_write_weights(const map_fuse_result *m, uint32_t k, const float *w, float *image)
{
    const fz_priv *p = m->priv;
    fz_write_weights(&p->g, &p->p, k, w, image);
}
