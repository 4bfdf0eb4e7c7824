/* run.c: model runs: DRAM layout of a block's tensors, one engine run per op, the reference model.
 */
#include "run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../energy/energy.h"
#include "../ref/ref.h"

/* ---------------------------------------------------------------- layout
 *
 * One block's tensors in the DRAM image. X and A share rows (X in the first `hidden`
 * columns, A in the next), and so do X1 and F2, so that each residual add reads both
 * operands as one run per row; K and V share rows as well. The block output X2
 * overwrites X for the next block. */

typedef struct layout {
    map_tensor t[WL_T_COUNT];
    uint64_t end;
} layout;

static void plan_layout(const wl_desc *d, layout *L)
{
    uint64_t T = d->batch * d->seq_len, H = d->hidden, F = d->ffn, N = d->seq_len;
    uint64_t G = d->batch * d->heads, at = 0;
    memset(L, 0, sizeof *L);
    L->t[WL_T_X] = (map_tensor){at, T, H, 2 * H};
    L->t[WL_T_A] = (map_tensor){at + H, T, H, 2 * H};
    at += 2 * T * H;
    L->t[WL_T_X1] = (map_tensor){at, T, H, 2 * H};
    L->t[WL_T_F2] = (map_tensor){at + H, T, H, 2 * H};
    at += 2 * T * H;
    /* K and V share rows too: fused attention loads a key and its value as one run */
    L->t[WL_T_K] = (map_tensor){at, T, H, 2 * H};
    L->t[WL_T_V] = (map_tensor){at + H, T, H, 2 * H};
    at += 2 * T * H;
    static const wl_tensor own_h[] = {WL_T_Q, WL_T_C, WL_T_M, WL_T_R1, WL_T_R2};
    for (size_t i = 0; i < sizeof own_h / sizeof own_h[0]; i++) {
        L->t[own_h[i]] = (map_tensor){at, T, H, H};
        at += T * H;
    }
    L->t[WL_T_F1] = (map_tensor){at, T, F, F};
    at += T * F;
    L->t[WL_T_G] = (map_tensor){at, T, F, F};
    at += T * F;
    /* the attention scores exist only in models with attention blocks */
    bool attention = wl_has_attention(d);
    /* S keeps two spare columns per row for a two-pass softmax's statistics */
    L->t[WL_T_S] = (map_tensor){at, G * N, N, N + 2};
    at += attention ? G * N * (N + 2) : 0;
    L->t[WL_T_P] = (map_tensor){at, G * N, N, N};
    at += attention ? G * N * N : 0;
    L->t[WL_T_X2] = L->t[WL_T_X];
    L->end = at;
}

/* ---------------------------------------------------------------- statistics */

static void add_stats(eng_stats *tot, const eng_stats *s, uint64_t times)
{
    tot->cycles += s->cycles * times;
    tot->events += s->events; /* the engine's own work: simulated once */
    tot->lane_ops += s->lane_ops * times;
    tot->tags += s->tags * times;
    for (uint32_t p = 0; p <= tot->n_pes; p++) {
        if (p < tot->n_pes && !s->pe)
            continue; /* estimated counts: no per-PE breakdown */
        eng_pe_stats *d = p < tot->n_pes ? &tot->pe[p] : &tot->pe_total;
        const eng_pe_stats *e = p < tot->n_pes ? &s->pe[p] : &s->pe_total;
        d->fires += e->fires * times;
        d->lane_ops += e->lane_ops * times;
        for (uint32_t k = 0; k < ARCH_FU_COUNT; k++) {
            d->fu_busy[k] += e->fu_busy[k] * times;
            d->fu_vec_ops[k] += e->fu_vec_ops[k] * times;
        }
        d->buf_writes += e->buf_writes * times;
        d->buf_reads += e->buf_reads * times;
        d->weight_elems += e->weight_elems * times;
        d->configs += e->configs * times;
        d->flits_out += e->flits_out * times;
    }
    tot->noc.messages += s->noc.messages * times;
    tot->noc.flits += s->noc.flits * times;
    tot->noc.flit_hops += s->noc.flit_hops * times;
    tot->noc.skip_flit_hops += s->noc.skip_flit_hops * times;
    tot->noc.bisection_flits += s->noc.bisection_flits * times;
    tot->noc.router_traversals += s->noc.router_traversals * times;
    tot->noc.wait_cycles += s->noc.wait_cycles * times;
    tot->spm.reads += s->spm.reads * times;
    tot->spm.writes += s->spm.writes * times;
    tot->spm.read_bytes += s->spm.read_bytes * times;
    tot->spm.write_bytes += s->spm.write_bytes * times;
    tot->spm.conflicts += s->spm.conflicts * times;
    tot->spm.conflict_cycles += s->spm.conflict_cycles * times;
    tot->dma.descriptors += s->dma.descriptors * times;
    tot->dma.bytes += s->dma.bytes * times;
    tot->dram.read_bursts += s->dram.read_bursts * times;
    tot->dram.write_bursts += s->dram.write_bursts * times;
    tot->dram.read_bytes += s->dram.read_bytes * times;
    tot->dram.write_bytes += s->dram.write_bytes * times;
    tot->dram.busy_cycles += s->dram.busy_cycles * times;
}

static void op_summary(run_op *r, const eng_stats *s)
{
    r->cycles = s->cycles;
    r->lane_ops = s->lane_ops;
    r->events = s->events;
    r->tags = s->tags;
    r->dram_read_bytes = s->dram.read_bytes;
    r->dram_write_bytes = s->dram.write_bytes;
    r->spm_reads = s->spm.reads;
    r->spm_writes = s->spm.writes;
    r->spm_conflicts = s->spm.conflicts;
    r->flit_hops = s->noc.flit_hops;
    r->bisection_flits = s->noc.bisection_flits;
}

/* ---------------------------------------------------------------- the run */

static map_op_io op_io(const layout *L, const wl_op *op)
{
    return (map_op_io){L->t[op->src0], L->t[op->src1], L->t[op->dst], L->end, NULL, false, NULL};
}

/* One op of a block: what it computes, where its tensors lie, how it was mapped, and
 * how it runs: chain_len ops run as one program from it (1: alone, 0: inside a chain),
 * chain is that program where chain_len > 1, cost its estimated cost (NAN until chaining
 * needs it), fifo_tags its ring as a chain's consumer. */
typedef struct plan_op {
    wl_op wl;
    map_op_io io;
    map_op_result map;
    uint32_t chain_len;
    map_chain chain;
    double cost;
    uint32_t fifo_tags;
} plan_op;

/* Every op of the model, mapped before anything is simulated: an op that cannot be
 * mapped fails the run at once, and the DRAM image is sized from the mappings. */
typedef struct plan {
    uint32_t n_ops[WL_MAX_BLOCKS];
    plan_op ops[WL_MAX_BLOCKS][WL_MAX_BLOCK_OPS];
    uint64_t dram_end, max_weights;
} plan;

static void plan_free(plan *p)
{
    for (uint32_t b = 0; b < WL_MAX_BLOCKS; b++)
        for (uint32_t i = 0; i < p->n_ops[b]; i++) {
            map_op_free(&p->ops[b][i].map);
            map_chain_free(&p->ops[b][i].chain);
        }
    free(p);
}

/* The ops a mapping file may name in block entry b: the block's ops, and "attention"
 * (scores, softmax and context fused) in a block with attention. Returns their number. */
static uint32_t nameable_ops(const wl_desc *d, uint32_t b, wl_op ops[WL_MAX_BLOCK_OPS + 1])
{
    uint32_t n = wl_block_ops(d, b, ops);
    for (uint32_t i = 0; i + 2 < n; i++)
        if (ops[i].kind == WL_OP_SCORES) {
            wl_fused_attention(&ops[i], &ops[n]);
            return n + 1;
        }
    return n;
}

/* Whether an op name is one of the three ops fused attention stands for. */
static bool attention_part(const char *op)
{
    return !strcmp(op, "scores") || !strcmp(op, "softmax") || !strcmp(op, "context");
}

/* Every forced entry must name an op of its block, once; a block's attention is either
 * fused or not. */
static int check_forced(const wl_desc *d, const map_forced *forced, char *err, size_t errlen)
{
    for (uint32_t k = 0; forced && k < forced->n; k++) {
        const map_force *f = &forced->f[k];
        if (f->block >= d->n_blocks)
            return util_fail(UTIL_ECONFIG, err, errlen,
                             "%s: block = %u, but the model has %u block entries (allowed 0..%u)",
                             f->where, f->block, d->n_blocks, d->n_blocks - 1);
        wl_op ops[WL_MAX_BLOCK_OPS + 1];
        uint32_t n = nameable_ops(d, f->block, ops), best = 0;
        size_t best_d = SIZE_MAX;
        for (uint32_t i = 0; i < n; i++) {
            size_t dist = util_edit_distance(f->op, ops[i].name);
            if (dist < best_d)
                best_d = dist, best = i;
        }
        if (best_d)
            return util_fail(UTIL_ECONFIG, err, errlen,
                             "%s: op = \"%s\" is not an op of block %u%s%s%s", f->where, f->op,
                             f->block, best_d <= 2 ? "; did you mean \"" : "",
                             best_d <= 2 ? ops[best].name : "", best_d <= 2 ? "\"?" : "");
        bool fused = ops[best].kind == WL_OP_ATTENTION;
        for (uint32_t j = 0; j < k; j++) {
            const map_force *e = &forced->f[j];
            if (e->block != f->block)
                continue;
            if (strcmp(e->op, f->op) == 0)
                return util_fail(UTIL_ECONFIG, err, errlen,
                                 "%s: block %u op \"%s\" is mapped twice (first at %s)", f->where,
                                 f->block, f->op, e->where);
            if ((fused && attention_part(e->op)) ||
                (!strcmp(e->op, "attention") && attention_part(f->op)))
                return util_fail(UTIL_ECONFIG, err, errlen,
                                 "%s: block %u: \"attention\" fuses scores, softmax and context, "
                                 "so a mapping names either it or them (%s names \"%s\")",
                                 f->where, f->block, e->where, e->op);
        }
    }
    return UTIL_OK;
}

static const map_force *forced_for(const map_forced *forced, uint32_t b, const wl_op *op)
{
    for (uint32_t k = 0; forced && k < forced->n; k++)
        if (forced->f[k].block == b && strcmp(forced->f[k].op, op->name) == 0)
            return &forced->f[k];
    return NULL;
}

/* A program's estimated cost under the objective. */
static double estimated_prog(const arch_desc *a, const map_forced *how, const eng_program *prog)
{
    eng_estimate_total e;
    char err[64];
    return eng_estimate(a, prog, NULL, &e, err, sizeof err) ? INFINITY
                                                            : map_cost(how, a, prog->dtype, &e);
}

/* A mapped op's estimated cost under the objective. */
static double estimated(const arch_desc *a, const map_forced *how, const map_op_result *m)
{
    return estimated_prog(a, how, &m->program);
}

/* Ops i .. i + n - 1 of block b give way to one fused op and its mapping. */
static void replace_ops(plan *p, uint32_t b, uint32_t i, uint32_t n, const wl_op *op,
                        const map_op_result *m)
{
    plan_op *ops = p->ops[b];
    for (uint32_t k = i; k < i + n; k++)
        map_op_free(&ops[k].map);
    ops[i].wl = *op;
    ops[i].map = *m;
    memmove(&ops[i + 1], &ops[i + n], (p->n_ops[b] - i - n) * sizeof *ops);
    p->n_ops[b] -= n - 1;
    if (m->dram_end > p->dram_end)
        p->dram_end = m->dram_end;
}

/* Maps op, standing for ops i .. i + n - 1 of block b, and puts it in their place when
 * `always` or when its estimate beats theirs together; note is added to its mapping. */
static int try_fuse(const arch_desc *a, const wl_desc *d, bool functional, plan *p, uint32_t b,
                    uint32_t i, uint32_t n, const wl_op *op, const map_op_io *io, bool always,
                    const char *note, char *err, size_t errlen)
{
    map_op_result fused;
    int rc = map_op(a, d, op, io, functional, &fused, err, errlen);
    if (rc)
        return rc;
    if (!always) {
        double apart = 0;
        for (uint32_t k = i; k < i + n; k++)
            apart += estimated(a, io->how, &p->ops[b][k].map);
        if (estimated(a, io->how, &fused) >= apart) {
            map_op_free(&fused);
            return UTIL_OK;
        }
    }
    size_t dl = strlen(fused.desc);
    snprintf(fused.desc + dl, sizeof fused.desc - dl, "%s", note);
    replace_ops(p, b, i, n, op, &fused);
    p->ops[b][i].io = *io;
    return UTIL_OK;
}

/* Block b's scores, softmax and context (at ops[i..i+2]) become one fused attention op
 * when a mapping file names "attention", or when it names none of the three and the
 * fused op's estimate beats theirs. */
static int fuse_attention(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                          const layout *L, bool functional, plan *p, uint32_t b, uint32_t i,
                          char *err, size_t errlen)
{
    wl_op three[3], op;
    for (uint32_t k = 0; k < 3; k++) {
        three[k] = p->ops[b][i + k].wl;
        if (forced_for(forced, b, &three[k]))
            return UTIL_OK;
    }
    wl_fused_attention(three, &op);
    map_op_io io = op_io(L, &op);
    io.src1.cols = 2 * d->hidden; /* the [K | V] pair */
    io.force = forced_for(forced, b, &op);
    io.how = forced;
    return try_fuse(a, d, functional, p, b, i, 3, &op, &io, io.force != NULL, "", err, errlen);
}

/* Block b's linear op at ops[i] takes the GELU at ops[i + 1] as its epilogue (writing G
 * directly, F1 never stored) when its estimate beats the two apart and no mapping-file
 * entry names the GELU. The op keeps its name; its mapping says so. */
static int fuse_gelu(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                     const layout *L, bool functional, plan *p, uint32_t b, uint32_t i, char *err,
                     size_t errlen)
{
    const wl_op *gelu = &p->ops[b][i + 1].wl;
    if (forced_for(forced, b, gelu))
        return UTIL_OK;
    wl_op op = p->ops[b][i].wl;
    op.dst = gelu->dst;
    op.flops += gelu->flops;
    map_op_io io = op_io(L, &op);
    io.gelu_out = true;
    io.force = forced_for(forced, b, &op);
    io.how = forced;
    return try_fuse(a, d, functional, p, b, i, 2, &op, &io, false, "; GELU fused on the way out",
                    err, errlen);
}

static bool same_tensor(const map_tensor *x, const map_tensor *y)
{
    return x->addr == y->addr && x->rows == y->rows && x->cols == y->cols && x->stride == y->stride;
}

/* Whether an op reads any element of tensor t's rows. */
static bool reads_rows_of(const map_op_io *io, const wl_op *op, const map_tensor *t)
{
    const map_tensor *src[2] = {&io->src0, op->src1 != op->src0 ? &io->src1 : NULL};
    uint64_t lo = t->addr, hi = map_tensor_end(t);
    for (int k = 0; k < 2; k++) {
        const map_tensor *s = src[k];
        if (s && s->rows && s->addr < hi && lo < map_tensor_end(s))
            return true;
    }
    return false;
}

/* The program of op i of block b and the ops chained after it. */
static const eng_program *unit_prog(const plan *p, uint32_t b, uint32_t i)
{
    return p->ops[b][i].chain_len > 1 ? &p->ops[b][i].chain.program : &p->ops[b][i].map.program;
}

/* The estimated cost of the program op i of block b runs (alone or heading a chain),
 * worked out once. */
static double unit_estimate(const arch_desc *a, plan *p, uint32_t b, uint32_t i)
{
    if (isnan(p->ops[b][i].cost))
        p->ops[b][i].cost = estimated_prog(a, p->ops[b][i].io.how, unit_prog(p, b, i));
    return p->ops[b][i].cost;
}

/* Tries op i + 1 of block b as the consumer of the chain ending at op i (head h): maps it
 * again above the chain's DRAM, chains the programs (through an SPM ring when no later op
 * and no later block reads the tensor between them) and keeps the chain when its
 * estimate beats the two apart. */
static int try_chain(const arch_desc *a, const wl_desc *d, const layout *L, bool functional,
                     plan *p, uint32_t b, uint32_t h, uint32_t i, char *err, size_t errlen)
{
    const plan_op *ops = p->ops[b];
    const map_op_io *pio = &ops[i].io;
    map_op_io io = p->ops[b][i + 1].io;
    const map_tensor *link = &pio->dst;
    if (!same_tensor(&io.src0, link) && !same_tensor(&io.src1, link))
        return UTIL_OK;
    const eng_program *prod = unit_prog(p, b, h);
    uint64_t above = 0;
    for (uint32_t k = h; k <= i; k++)
        above = ops[k].map.dram_end > above ? ops[k].map.dram_end : above;
    io.free_addr = above;
    bool fifo = !same_tensor(link, &L->t[WL_T_X]);
    for (uint32_t k = i + 2; k < p->n_ops[b] && fifo; k++)
        fifo = !reads_rows_of(&ops[k].io, &ops[k].wl, link);
    map_op_result cons;
    int rc = map_op(a, d, &ops[i + 1].wl, &io, functional, &cons, err, errlen);
    if (rc)
        return rc;
    map_chain ch;
    bool ok;
    rc = map_chain_programs(a, prod, &cons.program, link, fifo, &ch, &ok, err, errlen);
    if (rc || !ok) {
        map_op_free(&cons);
        return rc;
    }
    const map_forced *how = pio->how;
    double apart = unit_estimate(a, p, b, h) + unit_estimate(a, p, b, i + 1);
    double together = estimated_prog(a, how, &ch.program);
    if (!(together < apart)) {
        map_chain_free(&ch);
        map_op_free(&cons);
        return UTIL_OK;
    }
    map_op_free(&p->ops[b][i + 1].map);
    p->ops[b][i + 1].map = cons;
    p->ops[b][i + 1].io = io;
    if (cons.dram_end > p->dram_end)
        p->dram_end = cons.dram_end;
    map_chain_free(&p->ops[b][h].chain);
    p->ops[b][h].chain = ch;
    p->ops[b][h].cost = together;
    p->ops[b][h].chain_len = p->ops[b][h].chain_len + 1;
    p->ops[b][i + 1].chain_len = 0;
    p->ops[b][i + 1].fifo_tags = ch.fifo_tags;
    return UTIL_OK;
}

/* Chains consecutive ops of block b where a consumer reads its producer's output and
 * overlapping them pays (try_chain). */
static int chain_ops(const arch_desc *a, const wl_desc *d, const layout *L, bool functional,
                     plan *p, uint32_t b, char *err, size_t errlen)
{
    uint32_t h = 0;
    for (uint32_t i = 0; i + 1 < p->n_ops[b]; i++) {
        int rc = try_chain(a, d, L, functional, p, b, h, i, err, errlen);
        if (rc)
            return rc;
        if (p->ops[b][i + 1].chain_len)
            h = i + 1;
    }
    return UTIL_OK;
}

static int plan_model(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                      const layout *L, bool functional, plan **out, char *err, size_t errlen)
{
    int frc = check_forced(d, forced, err, errlen);
    if (frc)
        return frc;
    plan *p = calloc(1, sizeof *p);
    if (!p)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    p->dram_end = L->end;
    for (uint32_t b = 0; b < d->n_blocks; b++) {
        wl_op block[WL_MAX_BLOCK_OPS];
        uint32_t n = wl_block_ops(d, b, block);
        for (uint32_t i = 0; i < n; i++) {
            p->ops[b][i].wl = block[i];
            const wl_op *op = &p->ops[b][i].wl;
            map_op_io io = op_io(L, op);
            io.force = forced_for(forced, b, op);
            io.how = forced;
            p->ops[b][i].io = io;
            int rc = map_op(a, d, op, &io, functional, &p->ops[b][i].map, err, errlen);
            if (rc) {
                plan_free(p);
                return rc;
            }
            p->n_ops[b] = i + 1;
            if (p->ops[b][i].map.dram_end > p->dram_end)
                p->dram_end = p->ops[b][i].map.dram_end;
            if (op->weights > p->max_weights)
                p->max_weights = op->weights;
        }
        for (uint32_t i = 0; i < p->n_ops[b]; i++) {
            const wl_op *o = &p->ops[b][i].wl,
                        *next = i + 1 < p->n_ops[b] ? &p->ops[b][i + 1].wl : NULL;
            int rc = UTIL_OK;
            if (o->kind == WL_OP_SCORES)
                rc = fuse_attention(a, d, forced, L, functional, p, b, i, err, errlen);
            else if (next && next->kind == WL_OP_GELU && next->src0 == o->dst &&
                     (o->kind == WL_OP_DENSE || o->kind == WL_OP_BUTTERFLY ||
                      o->kind == WL_OP_BLOCK_BFLY))
                rc = fuse_gelu(a, d, forced, L, functional, p, b, i, err, errlen);
            if (rc) {
                plan_free(p);
                return rc;
            }
        }
        for (uint32_t i = 0; i < p->n_ops[b]; i++)
            p->ops[b][i].chain_len = 1, p->ops[b][i].cost = NAN;
        int rc = !forced || forced->chaining == MAP_CHAIN_AUTO
                     ? chain_ops(a, d, L, functional, p, b, err, errlen)
                     : UTIL_OK;
        if (rc) {
            plan_free(p);
            return rc;
        }
    }
    *out = p;
    return UTIL_OK;
}

/* The op and how it was mapped, into its report entry. */
static void describe_op(run_op *o, const wl_op *op, const map_op_result *m)
{
    o->op = *op;
    snprintf(o->desc, sizeof o->desc, "%s", m->desc);
    o->chain_pes = m->chain_pes, o->rows_per_tag = m->rows_per_tag;
    o->columns_per_chain = m->columns_per_chain, o->segments = m->segments;
    o->rows_per_chain = m->rows_per_chain;
    o->intermediates = m->intermediates, o->block_rows = m->block_rows;
    o->shortlist = m->shortlist;
}

/* Report entries of ops i .. i + n - 1 of block b (one op, or a chain run as one
 * program, whose first op carries the figures). */
static void describe_unit(run_op *ro, const plan *p, uint32_t b, uint32_t i)
{
    uint32_t n = p->ops[b][i].chain_len;
    for (uint32_t k = i; k < i + n; k++) {
        run_op *o = &ro[k - i];
        describe_op(o, &p->ops[b][k].wl, &p->ops[b][k].map);
        o->chained_ops = k == i ? n : 0;
        o->fifo_tags = p->ops[b][k].fifo_tags;
        size_t dl = strlen(o->desc);
        if (k == i && n > 1)
            snprintf(o->desc + dl, sizeof o->desc - dl,
                     "; chained with the next %u ops (figures for all)", n - 1);
        else if (k > i && o->fifo_tags)
            snprintf(o->desc + dl, sizeof o->desc - dl,
                     "; chained after %s through an SPM ring of %u tags", p->ops[b][k - 1].wl.name,
                     o->fifo_tags);
        else if (k > i)
            snprintf(o->desc + dl, sizeof o->desc - dl, "; chained after %s through DRAM",
                     p->ops[b][k - 1].wl.name);
    }
}

/* The program that runs op i of block b and the ops chained after it. */
static eng_program unit_program(const plan *p, uint32_t b, uint32_t i, uint64_t dram_elems)
{
    eng_program prog = *unit_prog(p, b, i);
    prog.dram_elems = dram_elems;
    return prog;
}

/* Runs op i of block b with the ops chained after it: once (timing; counted repeat
 * times) or for one instance (functional, with that instance's weights). ro (NULL: not
 * recorded) gets their report entries. */
static int run_unit(const arch_desc *a, const wl_desc *d, const plan *p, uint32_t b, uint32_t i,
                    float *image, uint64_t dram_elems, uint64_t inst, uint64_t times, bool fault,
                    float *wbuf, run_op *ro, eng_stats *total, char *err, size_t errlen)
{
    eng_program prog = unit_program(p, b, i, dram_elems);
    for (uint32_t k = i; image && k < i + p->ops[b][i].chain_len; k++) {
        const map_op_result *m = &p->ops[b][k].map;
        if (!m->weight_elems)
            continue;
        wl_op_weights(d, &p->ops[b][k].wl, inst, wbuf);
        if (fault)
            wbuf[0] = util_round_dtype(d->dtype, wbuf[0] + 4.0f);
        map_op_write_weights(m, &p->ops[b][k].wl, wbuf, image);
    }
    eng_stats st;
    int rc = eng_run(a, &prog, image, &st, err, errlen);
    if (rc)
        return rc;
    if (ro) {
        describe_unit(ro, p, b, i);
        op_summary(ro, &st);
        eng_estimate_total est;
        rc = eng_estimate(a, &prog, NULL, &est, err, errlen);
        ro->est_cycles = est.cycles;
    }
    add_stats(total, &st, times);
    eng_stats_free(&st);
    return rc;
}

/* Copies the model's activations X out of the image into x, or (in set) x into the image. */
static void copy_x(const wl_desc *d, const layout *L, float *image, float *x, bool in)
{
    for (uint64_t r = 0; r < d->batch * d->seq_len; r++) {
        float *at = image + L->t[WL_T_X].addr + r * L->t[WL_T_X].stride;
        memcpy(in ? at : x + r * d->hidden, in ? x + r * d->hidden : at, d->hidden * sizeof *x);
    }
}

/* The tolerance in rounded-reference errors (see check_block). */
#define RUN_TOL_ROUNDED 4.0

/* Compares the output of block instance inst in the image with the reference applied to
 * its input xin (want and rounded: scratch for the exact and the rounded reference), and
 * keeps in c the instance furthest over its tolerance. */
static int check_block(const wl_desc *d, const layout *L, uint64_t inst, const float *image,
                       const float *xin, double *want, double *rounded, run_check *c, char *err,
                       size_t errlen)
{
    uint64_t n = d->batch * d->seq_len * d->hidden, worst = 0;
    int rc = run_reference(d, inst, 1, xin, want, rounded, err, errlen);
    if (rc)
        return rc;
    double ss = 0, max_err = 0, floor_err = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = i / d->hidden, col = i % d->hidden;
        double got = image[L->t[WL_T_X2].addr + r * L->t[WL_T_X2].stride + col];
        double e = fabs(got - want[i]);
        ss += want[i] * want[i];
        floor_err = fmax(floor_err, fabs(rounded[i] - want[i]));
        if (!(e <= max_err)) { /* NaN counts as the worst */
            max_err = isnan(e) ? INFINITY : e;
            worst = i;
        }
    }
    double rms = sqrt(ss / (double)n);
    /* The rounding a block cannot avoid is measured, not guessed: the reference once more
     * with every op's and every butterfly and FFT stage's results rounded to the element
     * type, as the array rounds them. The array rounds in other places too (partial sums
     * along GEMM chains, inside softmax and layernorm) and in another order, so its error
     * differs from that one's: over every block instance of FABNet, BERT-base,
     * hybrid-butterfly and hybrid-compress at 64 to 1024 tokens, hidden 64 and 768, FP16
     * and FP32 on mld-8x8 it was 0.59 to 2.63 times as large. We allow 4 times, plus one
     * unit roundoff at the output's scale. A wrong value (a twiddle, a tag, an address)
     * is off by about the values themselves, hundreds of unit roundoffs. Each instance
     * starts from the input the array gave it, so the rounding of earlier blocks, which a
     * deep model amplifies, does not count against later ones. */
    double tol =
        RUN_TOL_ROUNDED * floor_err + util_dtype_unit_roundoff(d->dtype) * (rms > 1 ? rms : 1);
    /* keep the instance with the largest error relative to its tolerance */
    bool first = c->count == 0;
    c->count += n;
    if (first || !(max_err / tol <= c->max_abs_err / c->tolerance)) {
        c->max_abs_err = max_err, c->tolerance = tol, c->rms_want = rms;
        c->worst = worst, c->instance = inst;
    }
    c->pass = c->max_abs_err <= c->tolerance;
    return UTIL_OK;
}

/* Lays out and maps model d, and sets up an empty result; p is NULL on failure. */
static int start_run(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                     bool functional, run_result *out, layout *L, plan **p, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->functional = functional;
    out->unchained = forced && forced->chaining == MAP_CHAIN_OFF;
    plan_layout(d, L);
    *p = NULL;
    int rc = plan_model(a, d, forced, L, functional, p, err, errlen);
    if (rc)
        return rc;
    out->total.n_pes = arch_pe_count(a);
    out->total.pe = calloc(out->total.n_pes, sizeof *out->total.pe);
    if (!out->total.pe) {
        plan_free(*p);
        *p = NULL;
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    }
    return UTIL_OK;
}

int run_model(const arch_desc *a, const wl_desc *d, const map_forced *forced, bool functional,
              bool fault, run_result *out, char *err, size_t errlen)
{
    layout L;
    plan *p;
    int rc = start_run(a, d, forced, functional, out, &L, &p, err, errlen);
    if (rc)
        return rc;
    float *image = NULL, *wbuf = NULL, *xin = NULL;
    double *want = NULL, *rounded = NULL;
    uint64_t dram_elems = p->dram_end;
    if (functional) {
        if (dram_elems > RUN_MAX_FUNCTIONAL_ELEMS) {
            rc = util_fail(UTIL_ECONFIG, err, errlen,
                           "--functional keeps the whole DRAM image in memory: this model needs "
                           "%llu elements, the limit is %llu (use a smaller seq_len, hidden or "
                           "batch)",
                           (unsigned long long)dram_elems,
                           (unsigned long long)RUN_MAX_FUNCTIONAL_ELEMS);
            goto done;
        }
        uint64_t in_elems = d->batch * d->seq_len * d->hidden;
        image = calloc(dram_elems, sizeof *image);
        wbuf = calloc(p->max_weights + 1, sizeof *wbuf);
        xin = calloc(in_elems, sizeof *xin);
        want = calloc(in_elems, sizeof *want);
        rounded = calloc(in_elems, sizeof *rounded);
        if (!image || !wbuf || !xin || !want || !rounded) {
            rc = util_fail(UTIL_ERUN, err, errlen, "out of memory");
            goto done;
        }
        wl_model_inputs(d, xin);
        copy_x(d, &L, image, xin, true);
    }
    uint64_t inst = 0;
    for (uint32_t b = 0; b < d->n_blocks && !rc; b++) {
        run_block *rb = &out->blocks[b];
        rb->n_ops = p->n_ops[b];
        rb->repeat = d->blocks[b].repeat;
        /* timing: one instance, counted repeat times; functional: every instance */
        uint64_t runs = functional ? rb->repeat : 1, times = functional ? 1 : rb->repeat;
        for (uint64_t k = 0; k < runs && !rc; k++) {
            if (functional)
                copy_x(d, &L, image, xin, false);
            for (uint32_t i = 0; i < rb->n_ops && !rc; i++)
                if (p->ops[b][i].chain_len)
                    rc = run_unit(a, d, p, b, i, image, dram_elems, inst + k, times,
                                  fault && inst + k == 0, wbuf, k ? NULL : &rb->ops[i], &out->total,
                                  err, errlen);
            if (!rc && functional)
                rc = check_block(d, &L, inst + k, image, xin, want, rounded, &out->check, err,
                                 errlen);
        }
        for (uint32_t i = 0; i < rb->n_ops; i++) {
            const run_op *o = &rb->ops[i];
            rb->cycles += o->cycles;
            rb->lane_ops += o->lane_ops;
            rb->dram_bytes += o->dram_read_bytes + o->dram_write_bytes;
        }
        inst += rb->repeat;
    }
    out->n_blocks = d->n_blocks;
done:
    plan_free(p);
    free(image);
    free(wbuf);
    free(xin);
    free(want);
    free(rounded);
    if (rc)
        run_free(out);
    return rc;
}

int run_model_analytical(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                         run_result *out, char *err, size_t errlen)
{
    layout L;
    plan *p;
    int rc = start_run(a, d, forced, false, out, &L, &p, err, errlen);
    if (rc)
        return rc;
    out->analytical = true;
    for (uint32_t b = 0; b < d->n_blocks && !rc; b++) {
        run_block *rb = &out->blocks[b];
        rb->n_ops = p->n_ops[b];
        rb->repeat = d->blocks[b].repeat;
        for (uint32_t i = 0; i < rb->n_ops && !rc; i++) {
            if (!p->ops[b][i].chain_len)
                continue;
            run_op *o = &rb->ops[i];
            eng_program prog = unit_program(p, b, i, p->dram_end);
            eng_estimate_total est;
            if ((rc = eng_estimate(a, &prog, NULL, &est, err, errlen)))
                break;
            describe_unit(o, p, b, i);
            o->cycles = o->est_cycles = est.cycles;
            o->lane_ops = est.lane_ops;
            o->dram_read_bytes = est.dram_read_bytes;
            o->dram_write_bytes = est.dram_write_bytes;
            rb->cycles += o->cycles;
            rb->lane_ops += o->lane_ops;
            rb->dram_bytes += est.dram_read_bytes + est.dram_write_bytes;
            add_stats(&out->total, &est.counts, rb->repeat);
        }
    }
    out->n_blocks = d->n_blocks;
    plan_free(p);
    if (rc)
        run_free(out);
    return rc;
}

int run_map_all(const arch_desc *a, const wl_desc *d, char *err, size_t errlen)
{
    layout L;
    plan_layout(d, &L);
    plan *p = NULL;
    int rc = plan_model(a, d, NULL, &L, false, &p, err, errlen);
    if (!rc)
        plan_free(p);
    return rc;
}

void run_free(run_result *r)
{
    eng_stats_free(&r->total);
}

double run_energy_pj(const arch_desc *a, util_dtype t, const eng_stats *counts)
{
    en_result e;
    en_compute(a, t, counts, 0, &e);
    return e.total_pj;
}
