/* fuse_build.c: a fused group's program: its layers on PE slots, the transfer of every
 * element of a tag, and one chained phase per segment. */
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

/* PE of snake position i (row 0 west to east, row 1 east to west, ...): neighbouring
 * slots are neighbouring PEs; slots past the array fold back onto it. */
uint32_t fz_pe_of(const fz_group *g, uint32_t slot)
{
    const arch_desc *a = g->a;
    uint32_t C = a->array.cols, i = slot % arch_pe_count(a), r = i / C, c = i % C;
    return r * C + (r % 2 ? C - 1 - c : c);
}

/* ---------------------------------------------------------------- tags */

/* A segment's tags: R rows of each part's tensor. */
typedef struct fz_tagctx {
    uint32_t R, n_in, n_out;
    map_tensor in[ENG_TAG_PARTS], out[ENG_TAG_PARTS];
} fz_tagctx;

static eng_pattern rows_of(const map_tensor *t, uint64_t tag, uint32_t R)
{
    return (eng_pattern){t->addr + tag * R * t->stride, t->cols, t->stride, R};
}

static void fz_tag_dma(const void *ctx, uint64_t tag, eng_tag_io *io)
{
    const fz_tagctx *c = ctx;
    io->n_in = c->n_in, io->n_out = c->n_out;
    for (uint32_t k = 0; k < c->n_in; k++)
        io->in[k] = rows_of(&c->in[k], tag, c->R);
    for (uint32_t k = 0; k < c->n_out; k++)
        io->out[k] = rows_of(&c->out[k], tag, c->R);
}

/* Where a part moves: a ring tensor through its dense scratch (its DRAM copy where it
 * also is read after the group). */
static map_tensor part_tensor(const fz_group *g, const fz_prog *p, const fz_part *q)
{
    const fz_tensor *t = &g->t[q->tensor];
    if (!t->ring || (q->flags & FZ_PART_DRAM))
        return t->t;
    return (map_tensor){p->ring_addr[q->tensor], t->t.rows, t->t.cols, t->t.cols};
}

/* ---------------------------------------------------------------- collecting transfers */

typedef struct fz_edge {
    uint32_t src, dst, spos, dpos;
    uint64_t seq;
} fz_edge;

/* An element between an instruction and the tag's SPM slot. */
typedef struct fz_sedge {
    uint32_t instr, local;
    uint64_t slot;
} fz_sedge;

typedef struct fz_collect {
    fz_edge *e;
    size_t ne, ce;
    fz_sedge *side[2]; /* feeds, drains */
    size_t ns[2], cs[2];
    uint32_t *got; /* per instruction: elements it receives */
} fz_collect;

static int add_edge(void *ctx, fz_loc s, fz_loc d)
{
    fz_collect *c = ctx;
    if (util_reserve((void **)&c->e, &c->ce, c->ne + 1, sizeof *c->e))
        return UTIL_ERUN;
    c->e[c->ne] = (fz_edge){s.instr, d.instr, s.pos, d.pos, c->ne};
    c->ne++;
    c->got[d.instr]++;
    return UTIL_OK;
}

static int add_side(fz_collect *c, int drain, uint32_t instr, uint64_t slot, uint32_t local)
{
    if (util_reserve((void **)&c->side[drain], &c->cs[drain], c->ns[drain] + 1,
                     sizeof *c->side[drain]))
        return UTIL_ERUN;
    c->side[drain][c->ns[drain]++] = (fz_sedge){instr, local, slot};
    if (!drain)
        c->got[instr]++;
    return UTIL_OK;
}

static int cmp_edge(const void *x, const void *y)
{
    const fz_edge *a = x, *b = y;
    if (a->src != b->src)
        return a->src < b->src ? -1 : 1;
    if (a->dst != b->dst)
        return a->dst < b->dst ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int cmp_sedge(const void *x, const void *y)
{
    const fz_sedge *a = x, *b = y;
    if (a->instr != b->instr)
        return a->instr < b->instr ? -1 : 1;
    return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* Every element a segment's layers read, from a layer of the segment or from the tag's
 * input slot, and every element it writes to the output slot. */
static int collect_segment(const fz_group *g, uint32_t s, fz_collect *c)
{
    const fz_seg *sg = &g->seg[s];
    fz_loc at[MAP_FUSE_MAX_OPS * 8];
    int rc = UTIL_OK;
    for (uint32_t l = sg->l0; l < sg->l0 + sg->nl && !rc; l++) {
        const fz_layer *L = &g->l[l];
        rc = fz_layer_edges(g, L, add_edge, c);
        for (uint32_t k = 0; k < L->n_in && !rc; k++) {
            const fz_tensor *t = &g->t[L->in[k]];
            int32_t pl = fz_producer(g, L->in[k], l);
            const fz_layer *P = pl >= 0 && g->l[pl].seg == s ? &g->l[pl] : NULL;
            uint64_t off = 0;
            for (uint32_t q = 0; q < sg->n_in; q++)
                if (sg->in[q].tensor == L->in[k])
                    off = sg->in[q].off;
            for (uint32_t r = 0; r < g->R && !rc; r++)
                for (uint64_t col = 0; col < t->t.cols && !rc; col++) {
                    uint32_t n = fz_in_locs(g, L, k, r, col, at, sizeof at / sizeof at[0]);
                    fz_loc src = P ? fz_out_loc(g, P, r, col) : (fz_loc){FZ_NONE, 0};
                    for (uint32_t x = 0; x < n && !rc; x++)
                        rc = P ? (src.instr == FZ_NONE ? UTIL_OK : add_edge(c, src, at[x]))
                               : add_side(c, 0, at[x].instr, off + r * t->t.cols + col, at[x].pos);
                }
        }
    }
    for (uint32_t q = 0; q < sg->n_out && !rc; q++) {
        const fz_tensor *t = &g->t[sg->out[q].tensor];
        const fz_layer *P = &g->l[t->layer];
        for (uint32_t r = 0; r < g->R && !rc; r++)
            for (uint64_t col = 0; col < t->t.cols && !rc; col++) {
                fz_loc src = fz_out_loc(g, P, r, col);
                rc = src.instr == FZ_NONE
                         ? UTIL_ERUN
                         : add_side(c, 1, src.instr, sg->out[q].off + r * t->t.cols + col, src.pos);
            }
    }
    return rc;
}

/* ---------------------------------------------------------------- transfers */

/* One transfer per producer and consumer instruction. */
static int edge_xfers(fz_collect *c, map_xlist *xl, map_store *st, bool functional)
{
    if (c->ne) /* (qsort takes no null array, even empty) */
        qsort(c->e, c->ne, sizeof *c->e, cmp_edge);
    for (size_t i = 0; i < c->ne;) {
        size_t j = i;
        while (j < c->ne && c->e[j].src == c->e[i].src && c->e[j].dst == c->e[i].dst)
            j++;
        eng_xfer *t = map_push_xfer(xl);
        if (!t)
            return UTIL_ERUN;
        t->src_instr = (int32_t)c->e[i].src, t->dst_instr = (int32_t)c->e[i].dst;
        t->elems = (uint32_t)(j - i);
        if (functional) {
            uint32_t *sp = map_keep(st, j - i, sizeof *sp), *dp = map_keep(st, j - i, sizeof *dp);
            if (!sp || !dp)
                return UTIL_ERUN;
            for (size_t k = i; k < j; k++)
                sp[k - i] = c->e[k].spos, dp[k - i] = c->e[k].dpos;
            t->src_pos = sp, t->dst_pos = dp;
        }
        i = j;
    }
    return UTIL_OK;
}

/* Transfers between the SPM slot and instructions: as few strided patterns per
 * instruction as its slot positions allow. */
static int side_xfers(const fz_group *g, const eng_instr *ins, fz_collect *c, int drain,
                      map_xlist *xl, map_store *st, bool functional)
{
    size_t n = c->ns[drain];
    fz_sedge *v = c->side[drain];
    if (n)
        qsort(v, n, sizeof *v, cmp_sedge);
    map_pospair *pp = malloc((n ? n : 1) * sizeof *pp);
    if (!pp)
        return UTIL_ERUN;
    for (size_t k = 0; k < n; k++)
        pp[k] = (map_pospair){v[k].slot, v[k].local};
    int rc = UTIL_OK;
    for (size_t i = 0; i < n && !rc;) {
        size_t end = i;
        while (end < n && v[end].instr == v[i].instr)
            end++;
        uint32_t port = eng_spm_port_near(g->a, ins[v[i].instr].pe);
        rc = map_slot_xfers(xl, st, pp + i, end - i, (int32_t)v[i].instr, drain, port, functional,
                            SIZE_MAX);
        i = end;
    }
    free(pp);
    return rc;
}

/* The transfers of segment s into its phase. */
static int segment_xfers(const fz_group *g, fz_prog *p, uint32_t s, bool functional)
{
    fz_collect c;
    memset(&c, 0, sizeof c);
    uint32_t n = p->n_instr[s];
    c.got = calloc(n + 1, sizeof *c.got);
    int rc = c.got ? collect_segment(g, s, &c) : UTIL_ERUN;
    /* an instruction with nothing to read (a run of padding only) still fires once per
     * tag: one element from the slot, which its kernel zeroes with the padding */
    for (uint32_t i = 0; i < n && !rc; i++)
        if (!c.got[i])
            rc = add_side(&c, 0, i, 0, 0);
    map_xlist xl = {NULL, 0, 0};
    if (!rc)
        rc = edge_xfers(&c, &xl, &p->st, functional);
    for (int d = 0; d < 2 && !rc; d++)
        rc = side_xfers(g, p->instr[s], &c, d, &xl, &p->st, functional);
    free(c.e);
    free(c.side[0]);
    free(c.side[1]);
    free(c.got);
    eng_xfer *keep = rc ? NULL : map_keep(&p->st, xl.n, sizeof *keep);
    if (keep)
        memcpy(keep, xl.x, xl.n * sizeof *keep);
    free(xl.x);
    if (!rc && !keep)
        rc = UTIL_ERUN;
    p->phases[s].xfer = keep;
    p->phases[s].n_xfer = (uint32_t)xl.n;
    return rc;
}

/* ---------------------------------------------------------------- the program */

void fz_prog_free(fz_prog *p)
{
    map_store_free(&p->st);
    memset(p, 0, sizeof *p);
}

/* Slot offsets of a segment's parts and its elements per tag. */
static void part_offsets(const fz_group *g, fz_seg *sg)
{
    sg->in_elems = sg->out_elems = 0;
    for (uint32_t q = 0; q < sg->n_in; q++) {
        sg->in[q].off = sg->in_elems;
        sg->in_elems += g->R * g->t[sg->in[q].tensor].t.cols;
    }
    for (uint32_t q = 0; q < sg->n_out; q++) {
        sg->out[q].off = sg->out_elems;
        sg->out_elems += g->R * g->t[sg->out[q].tensor].t.cols;
    }
}

/* The deepest slots and rings the SPM holds (eng_validate decides); a segment that
 * streams weights first gets FZ_STAGE_SLOTS weight staging buffers (each part of every
 * tag passes one), then fewer. */
static bool size_slots(const fz_group *g, fz_prog *p)
{
    static const uint32_t slots[][3] = {{8, 4, 8}, {4, 4, 8}, {4, 4, 4}, {2, 2, 4}, {2, 2, 2}};
    bool streams[FZ_MAX_SEGS] = {false}, any = false;
    for (uint32_t s = 0; s < g->n_seg; s++) {
        for (uint32_t i = 0; i < p->n_instr[s]; i++)
            streams[s] = streams[s] || p->instr[s][i].weight_parts;
        any = any || streams[s];
    }
    char why[256];
    for (uint32_t stage = any ? FZ_STAGE_SLOTS : 2; stage >= 2; stage /= 2)
        for (size_t k = 0; k < sizeof slots / sizeof slots[0]; k++) {
            for (uint32_t s = 0; s < g->n_seg; s++) {
                eng_phase *f = &p->phases[s];
                f->in_slots = slots[k][0], f->out_slots = slots[k][1];
                f->fifo_tags = s ? slots[k][2] : 0;
                f->stage_slots = streams[s] ? stage : 0;
            }
            if (eng_validate(g->a, &p->program, why, sizeof why) == UTIL_OK)
                return true;
        }
    return false;
}

int fz_build(fz_group *g, bool functional, fz_prog *p)
{
    memset(p, 0, sizeof *p);
    uint32_t slot = 0;
    for (uint32_t l = 0; l < g->n_l; l++) {
        double busy;
        uint32_t pes;
        g->l[l].slot0 = slot;
        if (!fz_layer_plan_cost(g, &g->l[l], &busy, &pes))
            return FZ_NOFIT;
        slot += pes;
    }
    if (slot > arch_pe_count(g->a) * g->F)
        return FZ_NOFIT;
    uint64_t waddr = g->free_addr;
    int rc = UTIL_OK;
    for (uint32_t s = 0; s < g->n_seg && !rc; s++) {
        fz_seg *sg = &g->seg[s];
        uint32_t n = 0;
        for (uint32_t l = sg->l0; l < sg->l0 + sg->nl; l++)
            g->l[l].i0 = n, n += fz_layer_n_instr(&g->l[l]);
        p->n_instr[s] = n;
        p->instr[s] = map_keep(&p->st, n, sizeof *p->instr[s]);
        p->ctx[s] = map_keep(&p->st, n, sizeof *p->ctx[s]);
        if (!p->instr[s] || !p->ctx[s])
            rc = UTIL_ERUN;
        for (uint32_t l = sg->l0; l < sg->l0 + sg->nl && !rc; l++) {
            fz_layer *L = &g->l[l];
            rc = fz_layer_instrs(g, L, p->instr[s] + L->i0, p->ctx[s] + L->i0, &waddr, &p->st);
            if (!rc && functional)
                rc = fz_layer_padding(g, L, p->ctx[s] + L->i0, &p->st);
        }
    }
    for (uint32_t t = 0; t < g->n_t; t++)
        if (g->t[t].ring)
            p->ring_addr[t] = waddr, waddr += g->rows * g->t[t].t.cols;
    p->dram_end = waddr;
    for (uint32_t s = 0; s < g->n_seg && !rc; s++) {
        fz_seg *sg = &g->seg[s];
        part_offsets(g, sg);
        fz_tagctx *tc = map_keep(&p->st, 1, sizeof *tc);
        if (!tc) {
            rc = UTIL_ERUN;
            break;
        }
        *tc = (fz_tagctx){g->R, sg->n_in, sg->n_out, {{0}}, {{0}}};
        for (uint32_t q = 0; q < sg->n_in; q++)
            tc->in[q] = part_tensor(g, p, &sg->in[q]);
        for (uint32_t q = 0; q < sg->n_out; q++)
            tc->out[q] = part_tensor(g, p, &sg->out[q]);
        uint64_t slot_elems = sg->in_elems > sg->out_elems ? sg->in_elems : sg->out_elems;
        p->phases[s] = (eng_phase){.n_instr = p->n_instr[s],
                                   .instr = p->instr[s],
                                   .n_tags = g->rows / g->R,
                                   .repeats = 1,
                                   .tag_elems = (uint32_t)slot_elems,
                                   .out_tag_elems = (uint32_t)sg->out_elems,
                                   .tag_dma = fz_tag_dma,
                                   .tag_ctx = tc,
                                   .chained = s > 0,
                                   .feed_each = true};
        if (s) {
            p->phases[s].fifo_first = p->ring_addr[sg->ring_in];
            p->phases[s].fifo_elems = g->rows * g->t[sg->ring_in].t.cols;
        }
        rc = segment_xfers(g, p, s, functional);
    }
    if (rc) {
        fz_prog_free(p);
        return rc;
    }
    p->program = (eng_program){g->dt, g->n_seg, p->phases, p->dram_end, 0, 0, 0, 0};
    /* streamed weights: kept in the SPM when they fit beside the slots and rings (the
     * span from the first streamed weight to the last), else reloaded from DRAM */
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t s = 0; s < g->n_seg; s++)
        for (uint32_t i = 0; i < p->n_instr[s]; i++) {
            const eng_instr *in = &p->instr[s][i];
            if (!in->weight_parts)
                continue;
            lo = in->weight_addr < lo ? in->weight_addr : lo;
            hi = in->weight_addr + in->weight_elems > hi ? in->weight_addr + in->weight_elems : hi;
        }
    g->kept = hi && g->keep != MAP_WEIGHTS_RELOADED;
    if (g->kept) {
        p->program.kept_first = lo, p->program.kept_elems = hi - lo;
        if (!size_slots(g, p)) {
            g->kept = false;
            p->program.kept_first = p->program.kept_elems = 0;
        }
    }
    /* (weights = "kept" that the SPM cannot keep is no plan) */
    if (!g->kept && ((hi && g->keep == MAP_WEIGHTS_KEPT) || !size_slots(g, p))) {
        fz_prog_free(p);
        return FZ_NOFIT;
    }
    return UTIL_OK;
}
