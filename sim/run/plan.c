/* plan.c: a model's plan: the DRAM layout of a block's tensors and every op's mapping, with
 * fused attention, GELU epilogues, chains and fused groups where the estimate says they pay. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---------------------------------------------------------------- layout
 *
 * One block's tensors in the DRAM image. X and A share rows (X in the first `hidden`
 * columns, A in the next), and so do X1 and F2, so that each residual add reads both
 * operands as one run per row; K and V share rows as well. The block output X2
 * overwrites X for the next block. In a decode step K and V hold the cache's kv_len rows
 * before the step's (batch 1); the projections write the step's. */

void run_plan_layout(const wl_desc *d, layout *L)
{
    uint64_t T = d->batch * d->seq_len, H = d->hidden, F = d->ffn, N = d->seq_len;
    uint64_t Tk = d->batch * wl_keys(d), Nk = wl_keys(d);
    uint64_t G = d->batch * d->heads, at = 0;
    memset(L, 0, sizeof *L);
    L->t[WL_T_X] = (map_tensor){at, T, H, 2 * H};
    L->t[WL_T_A] = (map_tensor){at + H, T, H, 2 * H};
    at += 2 * T * H;
    L->t[WL_T_X1] = (map_tensor){at, T, H, 2 * H};
    L->t[WL_T_F2] = (map_tensor){at + H, T, H, 2 * H};
    at += 2 * T * H;
    /* K and V share rows too: fused attention loads a key and its value as one run */
    L->t[WL_T_K] = (map_tensor){at, Tk, H, 2 * H};
    L->t[WL_T_V] = (map_tensor){at + H, Tk, H, 2 * H};
    L->kv_off = d->kv_len;
    at += 2 * Tk * H;
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
    L->t[WL_T_S] = (map_tensor){at, G * N, Nk, Nk + 2};
    at += attention ? G * N * (Nk + 2) : 0;
    L->t[WL_T_P] = (map_tensor){at, G * N, Nk, Nk};
    at += attention ? G * N * Nk : 0;
    /* a Fourier mixer in two halves passes its hidden FFT through H */
    bool fourier = false;
    for (uint32_t b = 0; b < d->n_blocks; b++)
        fourier = fourier || d->blocks[b].mixer == WL_MIX_FFT ||
                  d->blocks[b].mixer == WL_MIX_FFT_COMPRESS;
    L->t[WL_T_H] = (map_tensor){at, T, 2 * H, 2 * H};
    at += fourier ? 2 * T * H : 0;
    L->t[WL_T_X2] = L->t[WL_T_X];
    L->end = at;
}

map_op_io run_op_io(const layout *L, const wl_op *op)
{
    map_op_io io = {L->t[op->src0], L->t[op->src1], L->t[op->dst], L->end, NULL, false, NULL};
    /* a projection writes the step's rows of K or V, after the cache's */
    if (op->dst == WL_T_K || op->dst == WL_T_V) {
        io.dst.addr += L->kv_off * io.dst.stride;
        io.dst.rows -= L->kv_off;
    }
    return io;
}

void run_plan_op_free(plan_op *o)
{
    map_op_free(&o->map);
    map_chain_free(&o->chain);
    map_fuse_free(&o->fuse);
}

void run_plan_free(plan *p)
{
    for (uint32_t b = 0; b < WL_MAX_BLOCKS; b++)
        for (uint32_t i = 0; i < p->n_ops[b]; i++)
            run_plan_op_free(&p->ops[b][i]);
    free(p);
}

/* The ops a mapping file may name in block entry b: the block's ops, "attention"
 * (scores, softmax and context fused) in a block with attention, and a Fourier mixer's
 * halves (wl_split_fft). Returns their number. */
static uint32_t nameable_ops(const wl_desc *d, uint32_t b, wl_op ops[WL_MAX_BLOCK_OPS + 2])
{
    uint32_t n = wl_block_ops(d, b, ops);
    for (uint32_t i = 0; i + 2 < n; i++)
        if (ops[i].kind == WL_OP_SCORES) {
            wl_fused_attention(&ops[i], &ops[n]);
            return n + 1;
        }
    if (ops[0].kind == WL_OP_FFT_MIX || ops[0].kind == WL_OP_FFT_COMPRESS) {
        wl_split_fft(&ops[0], &ops[n], &ops[n + 1]);
        return n + 2;
    }
    return n;
}

/* Whether an op name is one of the three ops fused attention stands for. */
static bool attention_part(const char *op)
{
    return !strcmp(op, "scores") || !strcmp(op, "softmax") || !strcmp(op, "context");
}

/* Whether two entries name a whole op and a part of it (attention and its three ops, a
 * Fourier mixer and its halves): a mapping names either. */
static bool whole_and_part(const char *whole, const char *part)
{
    return (!strcmp(whole, "attention") && attention_part(part)) ||
           (!strcmp(whole, "mix") && (!strcmp(part, "mix-hidden") || !strcmp(part, "mix-seq")));
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
        wl_op ops[WL_MAX_BLOCK_OPS + 2];
        uint32_t n = nameable_ops(d, f->block, ops);
        const char *names[2] = {f->op, f->fused_through};
        for (int w = 0; w < 2; w++) {
            uint32_t best = 0;
            size_t best_d = SIZE_MAX;
            for (uint32_t i = 0; i < n; i++) {
                size_t dist = util_edit_distance(names[w], ops[i].name);
                if (dist < best_d)
                    best_d = dist, best = i;
            }
            if (best_d && (w == 0 || names[w][0]))
                return util_fail(UTIL_ECONFIG, err, errlen,
                                 "%s: %s = \"%s\" is not an op of block %u%s%s%s", f->where,
                                 w ? "fused_through" : "op", names[w], f->block,
                                 best_d <= 2 ? "; did you mean \"" : "",
                                 best_d <= 2 ? ops[best].name : "", best_d <= 2 ? "\"?" : "");
        }
        if (f->fused_through[0] && forced->fusing == MAP_FUSE_OFF)
            return util_fail(UTIL_ECONFIG, err, errlen,
                             "%s: fused_through = \"%s\" asks for a fused group, and fusing is "
                             "off (fuse = \"off\" or --no-fuse)",
                             f->where, f->fused_through);
        for (uint32_t j = 0; j < k; j++) {
            const map_force *e = &forced->f[j];
            if (e->block != f->block)
                continue;
            if (strcmp(e->op, f->op) == 0)
                return util_fail(UTIL_ECONFIG, err, errlen,
                                 "%s: block %u op \"%s\" is mapped twice (first at %s)", f->where,
                                 f->block, f->op, e->where);
            bool attn = attention_part(f->op) || !strcmp(f->op, "attention");
            if (whole_and_part(f->op, e->op) || whole_and_part(e->op, f->op))
                return util_fail(UTIL_ECONFIG, err, errlen,
                                 "%s: block %u: %s, so a mapping names either it or them (%s "
                                 "names \"%s\")",
                                 f->where, f->block,
                                 attn ? "\"attention\" fuses scores, softmax and context"
                                      : "\"mix\" is both halves, mix-hidden and mix-seq",
                                 e->where, e->op);
        }
    }
    return UTIL_OK;
}

const map_force *run_forced_for(const map_forced *forced, uint32_t b, const wl_op *op)
{
    for (uint32_t k = 0; forced && k < forced->n; k++)
        if (forced->f[k].block == b && strcmp(forced->f[k].op, op->name) == 0)
            return &forced->f[k];
    return NULL;
}

const map_force *run_forced_op(const map_forced *forced, uint32_t b, const wl_op *op)
{
    const map_force *f = run_forced_for(forced, b, op);
    return f && !f->fused_through[0] ? f : NULL;
}

const map_force *run_forced_group(const map_forced *forced, uint32_t b, const wl_op *op)
{
    const map_force *f = run_forced_for(forced, b, op);
    return f && f->fused_through[0] ? f : NULL;
}

/* A program's estimated cost under the objective. */
double run_prog_cost(const arch_desc *a, const map_forced *how, const eng_program *prog)
{
    eng_estimate_total e;
    char err[64];
    return eng_estimate(a, prog, NULL, &e, err, sizeof err) ? INFINITY
                                                            : map_cost(how, a, prog->dtype, &e);
}

/* A mapped op's estimated cost under the objective. */
static double estimated(const arch_desc *a, const map_forced *how, const map_op_result *m)
{
    return run_prog_cost(a, how, &m->program);
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
        if (run_forced_for(forced, b, &three[k]))
            return UTIL_OK;
    }
    wl_fused_attention(three, &op);
    map_op_io io = run_op_io(L, &op);
    io.src1.cols = 2 * d->hidden; /* the [K | V] pair */
    io.force = run_forced_op(forced, b, &op);
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
    if (run_forced_for(forced, b, gelu))
        return UTIL_OK;
    wl_op op = p->ops[b][i].wl;
    op.dst = gelu->dst;
    op.flops += gelu->flops;
    map_op_io io = run_op_io(L, &op);
    io.gelu_out = true;
    io.force = run_forced_op(forced, b, &op);
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
const eng_program *run_unit_prog(const plan *p, uint32_t b, uint32_t i)
{
    const plan_op *o = &p->ops[b][i];
    return o->fused ? &o->fuse.program : o->chain_len > 1 ? &o->chain.program : &o->map.program;
}

/* The estimated cost of the program op i of block b runs (alone or heading a chain),
 * worked out once. */
double run_unit_cost(const arch_desc *a, plan *p, uint32_t b, uint32_t i)
{
    if (isnan(p->ops[b][i].cost))
        p->ops[b][i].cost = run_prog_cost(a, p->ops[b][i].io.how, run_unit_prog(p, b, i));
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
    const eng_program *prod = run_unit_prog(p, b, h);
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
    double apart = run_unit_cost(a, p, b, h) + run_unit_cost(a, p, b, i + 1);
    double together = run_prog_cost(a, how, &ch.program);
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

int run_plan_model(const arch_desc *a, const wl_desc *d, const map_forced *forced, const layout *L,
                   bool functional, plan **out, char *err, size_t errlen)
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
            map_op_io io = run_op_io(L, op);
            io.force = run_forced_op(forced, b, op);
            p->ops[b][i].group = run_forced_group(forced, b, op);
            io.how = forced;
            p->ops[b][i].io = io;
            int rc = map_op(a, d, op, &io, functional, &p->ops[b][i].map, err, errlen);
            if (rc) {
                run_plan_free(p);
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
                run_plan_free(p);
                return rc;
            }
        }
        for (uint32_t i = 0; i < p->n_ops[b]; i++)
            p->ops[b][i].chain_len = 1, p->ops[b][i].cost = NAN;
        int rc = !forced || forced->chaining == MAP_CHAIN_AUTO
                     ? chain_ops(a, d, L, functional, p, b, err, errlen)
                     : UTIL_OK;
        if (!rc && (!forced || forced->fusing == MAP_FUSE_AUTO))
            rc = run_fuse_block(a, d, forced, L, functional, p, b, err, errlen);
        if (rc) {
            run_plan_free(p);
            return rc;
        }
    }
    *out = p;
    return UTIL_OK;
}
