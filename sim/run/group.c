/* group.c: a block's row-local ops as fused groups (the multilayer dataflow across layers),
 * where the estimate finds the block cheaper that way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Whether op reads tensor t (fused attention reads V beside K). */
static bool reads(const wl_op *op, wl_tensor t)
{
    return op->src0 == t || op->src1 == t || (op->kind == WL_OP_ATTENTION && t == WL_T_V);
}

/* A block's ops the fused variant runs: the plan's, with each Fourier mixer in its two
 * halves; own[k] says whether the variant mapped op k itself (else it borrows the plan's
 * op from[k]). */
typedef struct variant {
    uint32_t n;
    plan_op op[WL_MAX_BLOCK_OPS];
    bool own[WL_MAX_BLOCK_OPS];
    uint32_t from[WL_MAX_BLOCK_OPS];
} variant;

static void variant_free(variant *v)
{
    for (uint32_t k = 0; k < v->n; k++)
        if (v->own[k])
            run_plan_op_free(&v->op[k]);
        else
            map_fuse_free(&v->op[k].fuse);
}

/* Maps op as op k of the variant, on its own. */
static int own_op(const arch_desc *a, const wl_desc *d, const map_forced *forced, const layout *L,
                  bool functional, variant *v, uint32_t b, const wl_op *op, char *err,
                  size_t errlen)
{
    uint32_t k = v->n++;
    plan_op *o = &v->op[k];
    memset(o, 0, sizeof *o);
    o->wl = *op;
    o->io = run_op_io(L, op);
    o->io.force = run_forced_op(forced, b, op);
    o->group = run_forced_group(forced, b, op);
    o->io.how = forced;
    o->chain_len = 1, o->cost = NAN;
    v->own[k] = true;
    return map_op(a, d, op, &o->io, functional, &o->map, err, errlen);
}

/* The variant's op list: the plan's ops, unchained, each Fourier mixer split. */
static int variant_ops(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                       const layout *L, bool functional, const plan *p, uint32_t b, variant *v,
                       char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    for (uint32_t i = 0; i < p->n_ops[b]; i++) {
        const plan_op *o = &p->ops[b][i];
        bool fourier = o->wl.kind == WL_OP_FFT_MIX || o->wl.kind == WL_OP_FFT_COMPRESS;
        if (fourier && !run_forced_for(forced, b, &o->wl)) {
            wl_op half[2];
            wl_split_fft(&o->wl, &half[0], &half[1]);
            half[1].dst = o->wl.dst;
            for (int h = 0; h < 2; h++) {
                int rc = own_op(a, d, forced, L, functional, v, b, &half[h], err, errlen);
                if (rc)
                    return rc;
            }
            continue;
        }
        uint32_t k = v->n++;
        v->op[k] = *o;
        /* (an op the plan formed, fused attention, takes its group entry here) */
        v->op[k].group = run_forced_group(forced, b, &o->wl);
        v->op[k].chain_len = 1, v->op[k].cost = NAN, v->op[k].fifo_tags = 0;
        memset(&v->op[k].chain, 0, sizeof v->op[k].chain);
        v->from[k] = i;
    }
    return UTIL_OK;
}

/* The estimate of a group that streams weights has come out as low as 1 / 1.57 of the
 * engine's cycles (docs/MODEL.md, "Streamed weights"): such a group replaces its ops
 * only where its cost times this margin still beats theirs, so it is never slower. */
#define RUN_STREAM_MARGIN 1.6

/* Ops k .. k + n - 1 of the variant as a fused group in op k's place: when its estimate
 * beats theirs apart, or always when a mapping-file entry (force) asks for it. */
static int try_group(const arch_desc *a, const wl_desc *d, const map_forced *forced,
                     const layout *L, bool functional, variant *v, uint32_t k, uint32_t n,
                     const map_force *force, char *err, size_t errlen)
{
    map_fuse_op m[MAP_FUSE_MAX_OPS];
    if (n > MAP_FUSE_MAX_OPS)
        return force ? util_fail(UTIL_ECONFIG, err, errlen,
                                 "%s: a fused group takes at most %d ops, %s..%s are %u",
                                 force->where, MAP_FUSE_MAX_OPS, force->op, force->fused_through, n)
                     : UTIL_OK;
    for (uint32_t j = 0; j < n; j++) {
        const plan_op *o = &v->op[k + j];
        m[j] = (map_fuse_op){o->wl, o->io.src0, o->io.src1, o->io.dst, o->io.gelu_out, false};
        /* read after the group: by a later op of the block, or by the next block */
        m[j].live_out = o->wl.dst == WL_T_X2;
        for (uint32_t q = k + n; q < v->n; q++)
            m[j].live_out = m[j].live_out || reads(&v->op[q].wl, o->wl.dst);
    }
    map_fuse_result r;
    bool ok;
    int rc = map_fuse(a, d, m, n, L->end, forced, force, functional, &r, &ok, err, errlen);
    if (rc || !ok)
        return rc || !force ? rc
                            : util_fail(UTIL_ECONFIG, err, errlen,
                                        "%s: %s..%s cannot run as one fused group (an op that "
                                        "is not row-local, or a tensor read again in a later "
                                        "segment than the next)",
                                        force->where, force->op, force->fused_through);
    double apart = 0;
    for (uint32_t j = 0; j < n && !force; j++)
        apart += run_prog_cost(a, forced, &v->op[k + j].map.program);
    double together = run_prog_cost(a, forced, &r.program);
    double margin = r.weights != MAP_WEIGHTS_ANY ? RUN_STREAM_MARGIN : 1;
    if (!force && !(margin * together < apart)) {
        map_fuse_free(&r);
        return UTIL_OK;
    }
    v->op[k].fused = true, v->op[k].fuse = r;
    v->op[k].chain_len = n, v->op[k].cost = together;
    for (uint32_t j = 1; j < n; j++)
        v->op[k + j].chain_len = 0;
    return UTIL_OK;
}

/* The variant's cost: its units', in order. */
static double variant_cost(const arch_desc *a, const map_forced *forced, variant *v)
{
    double c = 0;
    for (uint32_t k = 0; k < v->n; k++) {
        plan_op *o = &v->op[k];
        if (!o->chain_len)
            continue;
        if (isnan(o->cost))
            o->cost = run_prog_cost(a, forced, o->fused ? &o->fuse.program : &o->map.program);
        c += o->cost;
    }
    return c;
}

int run_fuse_block(const arch_desc *a, const wl_desc *d, const map_forced *forced, const layout *L,
                   bool functional, plan *p, uint32_t b, char *err, size_t errlen)
{
    variant *v = calloc(1, sizeof *v);
    if (!v)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    int rc = variant_ops(a, d, forced, L, functional, p, b, v, err, errlen);
    /* the groups a mapping file names, then every maximal run of the other row-local ops
     * the file does not map on their own, as a group where it pays */
    bool any = false, named = false;
    for (uint32_t k = 0; k < v->n && !rc; k++) {
        const map_force *f = v->op[k].group;
        if (!f)
            continue;
        uint32_t e = k;
        while (e < v->n && strcmp(v->op[e].wl.name, f->fused_through))
            e++;
        for (uint32_t j = k; j <= e && j < v->n && !rc; j++) {
            const map_force *o = v->op[j].io.force ? v->op[j].io.force
                                 : j > k           ? v->op[j].group
                                                   : NULL;
            if (o)
                rc = util_fail(UTIL_ECONFIG, err, errlen,
                               "%s: block %u op \"%s\" is in the fused group %s..%s (%s)", o->where,
                               b, v->op[j].wl.name, f->op, f->fused_through, f->where);
        }
        if (!rc && e == v->n)
            rc = util_fail(UTIL_ECONFIG, err, errlen,
                           "%s: fused_through = \"%s\" does not follow op \"%s\" in block %u",
                           f->where, f->fused_through, f->op, b);
        if (!rc)
            rc = try_group(a, d, forced, L, functional, v, k, e + 1 - k, f, err, errlen);
        any = named = true;
        k = e;
    }
    for (uint32_t k = 0; k < v->n && !rc;) {
        uint32_t e = k;
        while (e < v->n && map_fuse_takes(v->op[e].wl.kind) && !v->op[e].io.force &&
               !v->op[e].group && v->op[e].chain_len)
            e++;
        if (e > k) {
            rc = try_group(a, d, forced, L, functional, v, k, e - k, NULL, err, errlen);
            any = any || v->op[k].fused;
        }
        k = e > k ? e : k + 1;
    }
    double apart = 0;
    for (uint32_t i = 0; i < p->n_ops[b] && any && !named && !rc; i++)
        if (p->ops[b][i].chain_len)
            apart += run_unit_cost(a, p, b, i);
    if (rc || !any || (!named && !(variant_cost(a, forced, v) < apart))) {
        variant_free(v);
        free(v);
        return rc;
    }
    /* the variant replaces the block's plan: it keeps the maps it borrowed */
    bool kept[WL_MAX_BLOCK_OPS] = {false};
    for (uint32_t k = 0; k < v->n; k++)
        if (!v->own[k])
            kept[v->from[k]] = true;
    for (uint32_t i = 0; i < p->n_ops[b]; i++) {
        plan_op *o = &p->ops[b][i];
        if (!kept[i])
            map_op_free(&o->map);
        map_chain_free(&o->chain);
        map_fuse_free(&o->fuse);
    }
    memcpy(p->ops[b], v->op, v->n * sizeof *v->op);
    p->n_ops[b] = v->n;
    for (uint32_t k = 0; k < v->n; k++) {
        const plan_op *o = &p->ops[b][k];
        uint64_t end = o->fused ? o->fuse.dram_end : o->map.dram_end;
        if (end > p->dram_end)
            p->dram_end = end;
        if (o->wl.weights > p->max_weights)
            p->max_weights = o->wl.weights;
    }
    free(v);
    return UTIL_OK;
}
