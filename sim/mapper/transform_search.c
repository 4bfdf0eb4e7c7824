/* transform_search.c: which plan a transform op takes: the unit widths and parts of lines
 * of its FFTs along the sequence, weighed by the estimate, and what a mapping file's entry
 * fixes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transform.h"

/* Whether an op has a group of FFTs along the sequence (its last group). */
bool tr_seq_ffts(const wl_op *op)
{
    return op->kind == WL_OP_FFT_SEQ || op->kind == WL_OP_FFT_MIX || op->kind == WL_OP_FFT_COMPRESS;
}

/* A mapped op's sequence group (tr_seq_ffts). */
const tgroup *tr_seq_group(const map_op_result *m)
{
    const tmap *tm = m->priv;
    return tm->n_groups > 1 ? &tm->grp[1] : &tm->grp[0];
}

/* Whether a mapped op's sequence group takes its tags as parts of lines. */
static bool split_lines(const map_op_result *m)
{
    const tmap *tm = m->priv;
    return tm && tr_seq_group(m)->split;
}

/* map_transform_with, the sequence FFT's searches left to what want does not fix. */
static int transform_search(const arch_desc *a, const wl_desc *d, const wl_op *op,
                            const map_op_io *io, bool functional, map_scratch scratch,
                            uint64_t max_block_lines, tshape want, map_op_result *out, char *err,
                            size_t errlen);

/* A sequence FFT's unit_columns or part_units that no plan takes. */
static int shape_error(const arch_desc *a, const wl_op *op, const map_force *f, char *err,
                       size_t errlen)
{
    char keys[64];
    if (f->unit_columns && f->part_units)
        snprintf(keys, sizeof keys, "unit_columns = %u, part_units = %u", f->unit_columns,
                 f->part_units);
    else if (f->unit_columns)
        snprintf(keys, sizeof keys, "unit_columns = %u", f->unit_columns);
    else
        snprintf(keys, sizeof keys, "part_units = %u", f->part_units);
    return util_fail(UTIL_ECONFIG, err, errlen,
                     "%s: %s: %s: no plan takes that shape: a unit's columns divide the %llu "
                     "features, a part is a power of two of tokens, and the slots of a tag must "
                     "fit the PE buffer (%u bytes) in a layout DMA can follow",
                     f->where, op->name, keys, (unsigned long long)op->in, a->pe.buffer_bytes);
}

/* Whether the mapped op honours entry f: the unit_columns, part_units and kept weights it
 * fixes, and intermediates on chip in blocks of exactly block_rows lines (when set) in
 * every group that keeps them there; UTIL_ECONFIG (m freed) with what fits when not. */
static int honoured(const arch_desc *a, const wl_op *op, const map_force *f, util_dtype dt,
                    map_op_result *m, char *err, size_t errlen)
{
    if ((f->unit_columns && m->unit_columns != f->unit_columns) ||
        (f->part_units && m->part_units != f->part_units)) {
        map_op_free(m);
        return shape_error(a, op, f, err, errlen);
    }
    if (f->weights == MAP_WEIGHTS_KEPT && m->weights != MAP_WEIGHTS_KEPT) {
        map_op_free(m);
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: weights = \"kept\": no blocked layout of this plan keeps its "
                         "weights (a pass repeats per chunk, or the weights and one block do "
                         "not fit the SPM together)",
                         f->where, op->name);
    }
    if (f->intermediates != MAP_INTER_SPM)
        return UTIL_OK;
    const tmap *tm = m->priv;
    bool any = false, exact = true;
    uint64_t fit = 0, multi = 0;
    const tgroup *at = &tm->grp[0]; /* the group with the most lines on chip */
    for (uint32_t gi = 0; gi < tm->n_groups; gi++) {
        uint64_t B = tm->lay.block_lines[gi], most = tr_block_lines(a, tm, gi, dt, 0, 0);
        uint32_t first, np;
        tr_group_passes(tm, gi, &first, &np);
        multi += np > 1;
        any = any || B;
        exact = exact && (!B || !f->block_rows || B == f->block_rows);
        at = most > fit ? &tm->grp[gi] : at;
        fit = most > fit ? most : fit;
    }
    if (any && exact)
        return UTIL_OK;
    uint64_t at_lines = at->n_lines, at_tag = at->Lt; /* tm goes with the mapping */
    map_op_free(m);
    if (!multi)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: intermediates = \"spm\": this %s runs in one pass on this "
                         "array, so it has no intermediates",
                         f->where, op->name, wl_op_kind_name(op->kind));
    if (!fit)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: intermediates = \"spm\": not even one tag's lines of "
                         "intermediates fit the SPM beside the passes' slots",
                         f->where, op->name);
    return util_fail(UTIL_ECONFIG, err, errlen,
                     "%s: %s: block_rows = %llu: a block must divide the %llu lines in whole "
                     "tags of %llu lines, and at most %llu lines fit the SPM",
                     f->where, op->name, (unsigned long long)f->block_rows,
                     (unsigned long long)at_lines, (unsigned long long)at_tag,
                     (unsigned long long)fit);
}

int map_transform(const arch_desc *a, const wl_desc *d, const wl_op *op, const map_op_io *io,
                  bool functional, map_op_result *out, char *err, size_t errlen)
{
    const map_force *f = io->force;
    bool seq = tr_seq_ffts(op);
    int rc = map_force_keys(f,
                            MAP_KEY_INTERMEDIATES | MAP_KEY_BLOCK_ROWS | MAP_KEY_WEIGHTS |
                                (seq ? MAP_KEY_UNIT_COLUMNS | MAP_KEY_PART_UNITS : 0),
                            seq ? "an op of FFTs along the sequence" : "a butterfly or FFT op", err,
                            errlen);
    if (rc)
        return rc;
    map_inter where = f ? f->intermediates : MAP_INTER_ANY;
    if (f && f->weights == MAP_WEIGHTS_RESIDENT)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: weights = \"resident\" is for fused groups; a butterfly or "
                         "FFT op takes \"kept\", \"reloaded\" or \"any\"",
                         f->where, op->name);
    if (f && f->weights == MAP_WEIGHTS_KEPT && where == MAP_INTER_DRAM)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: weights = \"kept\" is for intermediates in the SPM, and the "
                         "entry says intermediates = \"dram\"",
                         f->where, op->name);
    if (f && f->weights == MAP_WEIGHTS_KEPT)
        where = MAP_INTER_SPM;
    if (f && f->block_rows && where == MAP_INTER_DRAM)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: %s: block_rows = %llu is for intermediates in the SPM, and the "
                         "entry says intermediates = \"dram\"",
                         f->where, op->name, (unsigned long long)f->block_rows);
    if (f && f->block_rows)
        where = MAP_INTER_SPM;
    map_scratch scratch = where == MAP_INTER_DRAM  ? MAP_SCRATCH_DRAM
                          : where == MAP_INTER_SPM ? MAP_SCRATCH_ONCHIP
                                                   : MAP_SCRATCH_BEST;
    tshape shape = {f ? f->unit_columns : 0, f ? f->part_units : 0,
                    f ? f->weights : MAP_WEIGHTS_ANY};
    rc = transform_search(a, d, op, io, functional, scratch, f ? f->block_rows : 0, shape, out, err,
                          errlen);
    if (rc == UTIL_ERUN && f && (f->unit_columns || f->part_units))
        return shape_error(a, op, f, err, errlen);
    if (!rc && f) {
        map_force want = *f;
        want.intermediates = where;
        rc = honoured(a, op, &want, d->dtype, out, err, errlen);
    }
    return rc;
}

/* Prices a sequence-FFT plan under the objective and lists it for --explain (the slowest
 * phase names the bound); INFINITY when it cannot be estimated. */
static double score_plan(const arch_desc *a, const wl_desc *d, const map_op_io *io,
                         const map_op_result *m, map_shortlist *list, map_candidate *cand)
{
    /* the layout taken was priced when tr_choose_layout weighed it: no second estimate */
    const map_shortlist *l = &((const tmap *)m->priv)->layouts;
    if (l->chosen >= l->n)
        return tr_weigh(a, &m->program, d->dtype, io->how, m->desc, list, cand);
    const map_candidate *c = &l->c[l->chosen];
    double unused = INFINITY;
    *cand = (map_candidate){"", c->cycles, c->cost, c->bottleneck};
    snprintf(cand->desc, sizeof cand->desc, "%.*s", MAP_CAND_DESC_MAX - 1, m->desc);
    map_shortlist_add(list, c->cycles, c->cost, c->bottleneck, m->desc, &unused);
    return c->cost;
}

int map_transform_with(const arch_desc *a, const wl_desc *d, const wl_op *op, const map_op_io *io,
                       bool functional, map_scratch scratch, uint64_t max_block_lines,
                       map_op_result *out, char *err, size_t errlen)
{
    return transform_search(a, d, op, io, functional, scratch, max_block_lines,
                            (tshape){0, 0, MAP_WEIGHTS_ANY}, out, err, errlen);
}

static int transform_search(const arch_desc *a, const wl_desc *d, const wl_op *op,
                            const map_op_io *io, bool functional, map_scratch scratch,
                            uint64_t max_block_lines, tshape want, map_op_result *out, char *err,
                            size_t errlen)
{
    int rc = tr_transform_with(a, d, op, io, functional, scratch, max_block_lines, want, out, err,
                               errlen);
    if (rc || !tr_seq_ffts(op) || want.cols || want.max_units)
        return rc;
    /* FFTs along the sequence (a mixer's, or fft-compress's): units of the most columns make the
     * fewest passes and the largest tags, but a unit narrower than a DRAM burst wastes most of each
     * burst, and a wide unit leaves room in the SPM for few lines of intermediates. So
     * every unit width that is a whole number of bursts per token is weighed too; the
     * cheapest such plan (in parts of lines: whole lines of narrow units are runs of one
     * burst per token, which the estimate's DRAM queue and configuration flatter by up to
     * 16%) replaces the widest when its estimate is MAP_TR_MARGIN lower. Then the chosen
     * width's parts are halved, twice at most, and a plan with smaller parts is taken
     * where it estimates cheaper: a blocked phase's pipeline then fills and drains in
     * less time, at more twiddle sets per line. Every plan weighed is listed for
     * --explain. */
    map_shortlist list;
    memset(&list, 0, sizeof list);
    map_candidate taken = {"", 0, 0, NULL}, cand;
    double best = score_plan(a, d, io, out, &list, &taken) * (1 - MAP_TR_MARGIN);
    char widest[MAP_DESC_MAX];
    snprintf(widest, sizeof widest, "%s", out->desc);
    uint64_t least = util_ceil_div(a->dram.burst_bytes, 2 * util_dtype_bytes(d->dtype));
    for (uint64_t cols = least; best < INFINITY && cols < op->in; cols += least) {
        map_op_result narrow;
        char why[256];
        if (op->in % cols ||
            tr_transform_with(a, d, op, io, functional, scratch, max_block_lines,
                              (tshape){cols, 0, want.weights}, &narrow, why, sizeof why))
            continue;
        if (!strcmp(narrow.desc, widest)) {
            map_op_free(&narrow);
            continue;
        }
        double cost = split_lines(&narrow) ? score_plan(a, d, io, &narrow, &list, &cand) : INFINITY;
        map_op_free(cost < best ? out : &narrow);
        if (cost < best)
            *out = narrow, best = cost, taken = cand;
    }
    for (int halve = 0; halve < 2 && split_lines(out); halve++) {
        const tgroup *gr = tr_seq_group(out);
        map_op_result smaller;
        char why[256];
        if (gr->T < 4 || tr_transform_with(a, d, op, io, functional, scratch, max_block_lines,
                                           (tshape){gr->cols, gr->T / 2, want.weights}, &smaller,
                                           why, sizeof why))
            break;
        double cost =
            split_lines(&smaller) ? score_plan(a, d, io, &smaller, &list, &cand) : INFINITY;
        bool better = cost < taken.cost;
        map_op_free(better ? out : &smaller);
        if (!better)
            break;
        *out = smaller, taken = cand;
    }
    /* (the margin may keep a plan outside the shortlist: it takes the last place) */
    while (list.chosen < list.n && strcmp(list.c[list.chosen].desc, taken.desc))
        list.chosen++;
    if (list.n && list.chosen == list.n)
        list.c[--list.chosen] = taken;
    out->shortlist = list;
    return UTIL_OK;
}
