/* transform_layout.c: a transform's program: every pass over all lines with its
 * intermediates in DRAM, or blocks of lines through all passes with their intermediates
 * (and, where they fit, every pass's weights) in the SPM. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transform.h"

/* Staging for up to TR_STAGES configurations at once where that takes at most a 16th of
 * the SPM: the phases of a blocked layout that keeps its weights configure from the SPM,
 * and with two buffers would configure two at a time, each behind the tags' loads. */
static uint32_t stage_depth(const arch_desc *a, util_dtype dt, const eng_phase *f)
{
    uint64_t depth = f->n_instr < TR_STAGES ? f->n_instr : TR_STAGES;
    if (depth > 2 &&
        16 * depth * eng_phase_max_weights(f) * util_dtype_bytes(dt) <= arch_spm_bytes(a))
        return (uint32_t)depth;
    return 0;
}

void tr_layout_free(tlayout *L)
{
    free(L->phases);
    free(L->ctx);
    L->phases = NULL;
    L->ctx = NULL;
}

/* The passes of group gi: *n of them from *first on. */
void tr_group_passes(const tmap *tm, uint32_t gi, uint32_t *first, uint32_t *n)
{
    *first = 0;
    *n = 0;
    for (uint32_t p = 0; p < tm->n_pass; p++)
        if (tm->pass[p].grp == gi && !(*n)++)
            *first = p;
}

/* Elements left beside kept weights for their region's alignment. */
static uint64_t kept_spare(const arch_desc *a, util_dtype dt)
{
    return a->spm.width_bytes / util_dtype_bytes(dt) + 1;
}

/* Elements of one line in the padded layout of intermediates. */
static uint64_t line_elems(const tgroup *gr)
{
    return gr->Vl * gr->N * gr->u;
}

/* Intermediate buffers a group of np passes alternates between. */
static uint64_t n_scratch(uint32_t np)
{
    return np > 2 ? 2 : np > 1 ? 1 : 0;
}

/* The program over the passes, intermediates from base on: a group with bl[gi] = 0 runs
 * each pass over all lines, its intermediates in DRAM (two buffers of all lines, which
 * unblocked groups share); one with bl[gi] lines per block runs every pass on a block
 * before the next block, the block's intermediates in the on-chip region above them. */
int tr_lay_out(const arch_desc *a, util_dtype dt, const tmap *tm, uint64_t base, const uint64_t *bl,
               bool keep, tlayout *L)
{
    memset(L, 0, sizeof *L);
    uint64_t dram_tmp = 0, chip = 0, n = 0;
    for (uint32_t gi = 0; gi < tm->n_groups; gi++) {
        const tgroup *gr = &tm->grp[gi];
        uint32_t first, np;
        tr_group_passes(tm, gi, &first, &np);
        L->block_lines[gi] = np > 1 ? bl[gi] : 0;
        uint64_t B = L->block_lines[gi], line = line_elems(gr);
        n += (B ? gr->n_lines / B : 1) * np;
        if (B && n_scratch(np) * B * line > chip)
            chip = n_scratch(np) * B * line;
        else if (!B && np > 1 && gr->n_lines * line > dram_tmp)
            dram_tmp = gr->n_lines * line;
    }
    L->onchip_first = base + 2 * dram_tmp;
    L->onchip_elems = chip;
    L->dram_end = L->onchip_first + chip;
    L->phases = calloc(n, sizeof *L->phases);
    L->ctx = calloc(n, sizeof *L->ctx);
    if (!L->phases || !L->ctx || n > UINT32_MAX) {
        tr_layout_free(L);
        return UTIL_ERUN;
    }
    uint32_t i = 0;
    for (uint32_t gi = 0; gi < tm->n_groups; gi++) {
        const tgroup *gr = &tm->grp[gi];
        uint32_t first, np;
        tr_group_passes(tm, gi, &first, &np);
        uint64_t B = L->block_lines[gi] ? L->block_lines[gi] : gr->n_lines;
        uint64_t at = L->block_lines[gi] ? L->onchip_first : base;
        uint64_t scr[2] = {at, at + (L->block_lines[gi] ? B * line_elems(gr) : dram_tmp)};
        for (uint64_t l0 = 0; l0 < gr->n_lines; l0 += B) {
            for (uint32_t q = 0; q < np; q++, i++) {
                const tpass *ps = &tm->pass[first + q];
                tphase *c = &L->ctx[i];
                *c = (tphase){ps, B / ps->Lt, l0, q ? scr[(q - 1) % 2] : gr->in.base,
                              q + 1 < np ? scr[q % 2] : gr->out.base};
                L->phases[i] = tm->phases[first + q];
                L->phases[i].n_tags = c->n_ltags * (ps->resident ? ps->chunks : 1);
                if (keep)
                    L->phases[i].stage_slots = stage_depth(a, dt, &L->phases[i]);
                L->phases[i].tag_ctx = c;
            }
        }
    }
    L->n_phases = i;
    if (keep)
        L->kept_first = tm->weight_addr, L->kept_elems = tm->weight_elems;
    map_deepen_slots(a, dt, L->phases, L->n_phases, chip + L->kept_elems + kept_spare(a, dt));
    return UTIL_OK;
}

eng_program tr_layout_program(const tlayout *L, util_dtype dt)
{
    return (eng_program){dt,
                         L->n_phases,
                         L->phases,
                         L->dram_end,
                         L->onchip_elems ? L->onchip_first : 0,
                         L->onchip_elems,
                         L->kept_first,
                         L->kept_elems};
}

/* Lines per block for group gi when its intermediates stay on chip: the most (a divisor
 * of its lines, whole tags, at most cap when cap is set) whose intermediates fit the SPM
 * beside every phase's slots and weight staging (as eng_validate counts them, with a
 * bank word to spare for the region's alignment); 0 when none fits or one pass does. */
uint64_t tr_block_lines(const arch_desc *a, const tmap *tm, uint32_t gi, util_dtype dt,
                        uint64_t cap, uint64_t reserve)
{
    const tgroup *gr = &tm->grp[gi];
    uint32_t first, np;
    tr_group_passes(tm, gi, &first, &np);
    if (np < 2)
        return 0;
    uint64_t w = util_dtype_bytes(dt), need = 0;
    for (uint32_t p = 0; p < tm->n_pass; p++) {
        uint64_t n = eng_phase_spm_elems(&tm->phases[p]);
        need = n > need ? n : need;
    }
    uint64_t spm = arch_spm_bytes(a) / w, spare = a->spm.width_bytes / w + 1 + reserve;
    if (need + spare >= spm)
        return 0;
    uint64_t fit = (spm - need - spare) / (n_scratch(np) * line_elems(gr));
    if (cap && fit > cap)
        fit = cap;
    for (uint64_t r = fit < gr->n_lines ? fit : gr->n_lines; r >= gr->Lt && r > 0; r--)
        if (gr->n_lines % r == 0 && r % gr->Lt == 0)
            return r;
    return 0;
}

/* Whether each pass of group gi, run on blocks of B lines, streams more tags at a time
 * than its array holds (pe.tags per stage), or takes whole lines. A block with fewer
 * parts of lines is taken into the array whole before the first result leaves (the
 * parts share the links of the pairs' exchanges), and the estimate, which times a tag
 * through an idle array, prices such short phases up to 13% low (fabnet-image-1k's
 * mix-seq at 64 and 256 tokens on mld-4x4, where the passes through DRAM are in fact
 * faster). Tags of whole lines keep within the estimate's usual error. */
static bool blocks_stream(const arch_desc *a, const tmap *tm, uint32_t gi, uint64_t B)
{
    uint32_t first, np;
    tr_group_passes(tm, gi, &first, &np);
    if (!tm->grp[gi].split)
        return true;
    for (uint32_t q = 0; q < np; q++) {
        const tpass *ps = &tm->pass[first + q];
        uint64_t tags = B / ps->Lt * (ps->resident ? ps->chunks : 1);
        if (tags <= (uint64_t)ps->k * a->pe.tags)
            return false;
    }
    return true;
}

/* Whether the SPM may keep the op's weights for every block of a blocked layout: each
 * phase loads the same weights every block (no phase repeats). */
static bool keepable(const tmap *tm)
{
    for (uint32_t p = 0; p < tm->n_pass; p++)
        if (tm->phases[p].repeats != 1)
            return false;
    return tm->weight_elems > 0;
}

/* Lays out blocks of at most cap lines, the SPM keeping the op's weights or not; false
 * (L untouched) when no group's intermediates fit on chip or, under MAP_SCRATCH_BEST,
 * stream. */
static int lay_out_blocks(const arch_desc *a, const tmap *tm, util_dtype dt, uint64_t base,
                          map_scratch scratch, uint64_t cap, bool keep, tlayout *L, bool *any)
{
    uint64_t bl[2] = {0, 0}, deeper = 0; /* the kept weights' phases stage deeper */
    for (uint32_t p = 0; keep && p < tm->n_pass; p++) {
        uint64_t n = stage_depth(a, dt, &tm->phases[p]);
        n = n > 2 ? (n - 2) * eng_phase_max_weights(&tm->phases[p]) : 0;
        deeper = n > deeper ? n : deeper;
    }
    uint64_t reserve = keep ? tm->weight_elems + kept_spare(a, dt) + deeper : 0;
    *any = false;
    for (uint32_t gi = 0; gi < tm->n_groups; gi++) {
        bl[gi] = tr_block_lines(a, tm, gi, dt, cap, reserve);
        if (scratch == MAP_SCRATCH_BEST && bl[gi] && !blocks_stream(a, tm, gi, bl[gi]))
            bl[gi] = 0;
        *any = *any || bl[gi];
    }
    return *any ? tr_lay_out(a, dt, tm, base, bl, keep, L) : UTIL_OK;
}

double tr_weigh(const arch_desc *a, const eng_program *p, util_dtype dt, const map_forced *how,
                const char *what, map_shortlist *list, map_candidate *cand)
{
    eng_phase_estimate *pe = calloc(p->n_phases ? p->n_phases : 1, sizeof *pe);
    eng_estimate_total e;
    char err[256];
    double cost = INFINITY, unused = INFINITY;
    if (pe && p->n_phases && !eng_estimate(a, p, pe, &e, err, sizeof err)) {
        cost = map_cost(how, a, dt, &e);
        map_candidate c = {"", e.cycles, cost, map_slowest_bottleneck(pe, p->n_phases)};
        snprintf(c.desc, sizeof c.desc, "%.*s", MAP_CAND_DESC_MAX - 1, what);
        map_shortlist_add(list, e.cycles, cost, c.bottleneck, what, &unused);
        if (cand)
            *cand = c;
    }
    free(pe);
    return cost;
}

/* tr_weigh of a layout, into tm->layouts. */
static double weigh(const arch_desc *a, tmap *tm, const tlayout *L, util_dtype dt,
                    const map_forced *how, const char *what)
{
    eng_program p = tr_layout_program(L, dt);
    return tr_weigh(a, &p, dt, how, what, &tm->layouts, NULL);
}

/* The multilayer program when some group can keep its intermediates on chip and scratch
 * asks for it, or (MAP_SCRATCH_BEST) when its estimate is cheaper under the objective
 * and its blocks stream; with the op's weights kept in the SPM across blocks (fewer
 * lines per block) where that estimates cheaper still. */
int tr_choose_layout(const arch_desc *a, tmap *tm, util_dtype dt, uint64_t base,
                     map_scratch scratch, uint64_t cap, map_weights weights, const map_forced *how)
{
    if (scratch == MAP_SCRATCH_DRAM)
        return UTIL_OK;
    static const char *const what[] = {"passes through DRAM", "blocks of lines on chip",
                                       "blocks of lines on chip, weights kept"};
    double best = INFINITY;
    if (scratch == MAP_SCRATCH_BEST)
        best = weigh(a, tm, &tm->lay, dt, how, what[0]);
    const char *taken_what = what[0];
    bool taken = false;
    for (int keep = 0; keep < (keepable(tm) ? 2 : 1); keep++) {
        if ((keep && weights == MAP_WEIGHTS_RELOADED) || (!keep && weights == MAP_WEIGHTS_KEPT))
            continue;
        tlayout multi;
        bool any;
        if (lay_out_blocks(a, tm, dt, base, scratch, cap, keep, &multi, &any))
            return UTIL_ERUN;
        if (!any)
            continue;
        double cost = weigh(a, tm, &multi, dt, how, what[1 + keep]);
        /* (forced on chip: the first that fits, or a cheaper one) */
        bool better = cost < best || (scratch != MAP_SCRATCH_BEST && !taken);
        if (!better) {
            tr_layout_free(&multi);
            continue;
        }
        tr_layout_free(&tm->lay);
        tm->lay = multi;
        best = cost, taken = true, taken_what = what[1 + keep];
    }
    while (tm->layouts.chosen < tm->layouts.n &&
           strcmp(tm->layouts.c[tm->layouts.chosen].desc, taken_what))
        tm->layouts.chosen++;
    return UTIL_OK;
}
