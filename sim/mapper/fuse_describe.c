/* fuse_describe.c: a fused group in words and figures (its description and pipeline
 * stages), and the plan of a mapping file's entry. */
#include <stdio.h>
#include <stdlib.h>

#include "fuse.h"

/* ---------------------------------------------------------------- description */

uint32_t fz_count_stages(const fz_group *g)
{
    uint32_t n = 0;
    for (uint32_t l = 0; l < g->n_l; l++)
        n += g->l[l].kind == FZ_RUNS ? g->l[l].n_runs : 1;
    return n;
}

uint32_t fz_stages(const fz_group *g, const fz_prog *p, map_fuse_stage *st, uint32_t max,
                   uint32_t *bottleneck)
{
    uint32_t npe = arch_pe_count(g->a), n = 0;
    double *pe_busy = calloc(npe, sizeof *pe_busy);
    if (!pe_busy)
        return 0;
    for (uint32_t s = 0; s < g->n_seg; s++)
        for (uint32_t i = 0; i < p->n_instr[s]; i++)
            pe_busy[p->instr[s][i].pe] += (double)eng_instr_busy(g->a, g->dt, &p->instr[s][i]);
    *bottleneck = 0;
    for (uint32_t l = 0; l < g->n_l; l++) {
        const fz_layer *L = &g->l[l];
        uint32_t parts = L->kind == FZ_RUNS ? L->n_runs : 1;
        for (uint32_t r = 0; r < parts && n < max; r++, n++) {
            map_fuse_stage *x = &st[n];
            uint32_t i0 = L->kind == FZ_RUNS ? fz_run_first(L, r) : 0;
            uint32_t i1 = L->kind == FZ_RUNS ? fz_run_first(L, r + 1) : fz_layer_n_instr(L);
            if (L->kind == FZ_RUNS)
                snprintf(x->what, sizeof x->what, "%.20s stages %u-%u", L->name, L->run[r].s0,
                         L->run[r].s0 + L->run[r].k - 1);
            else
                snprintf(x->what, sizeof x->what, "%.39s", L->name);
            x->segment = L->seg;
            x->i0 = L->i0 + i0, x->n_i = i1 - i0;
            x->pes = L->kind == FZ_RUNS ? 1u << L->run[r].p : fz_layer_pes(L);
            x->steps = L->kind == FZ_RUNS ? L->run[r].k : L->kind == FZ_DENSE ? L->K : 1;
            x->tag_cycles = 0;
            for (uint32_t i = i0; i < i1; i++) {
                double b = pe_busy[p->instr[L->seg][L->i0 + i].pe];
                x->tag_cycles = b > x->tag_cycles ? b : x->tag_cycles;
            }
            if (x->tag_cycles > st[*bottleneck].tag_cycles)
                *bottleneck = n;
        }
    }
    free(pe_busy);
    return n;
}

/* Whether layer L's plan fits the PE buffers (each PE's share: pe.buffer_kb / fold). */
static bool fits_buffers(const fz_group *g, const fz_layer *L)
{
    double busy;
    uint32_t pes;
    return fz_layer_plan_cost(g, L, &busy, &pes);
}

bool fz_force_layer(const fz_group *g, fz_layer *L, const uint32_t *pes, const uint32_t *steps,
                    uint32_t n, uint32_t *used, char *err, size_t errlen, const char *where)
{
    uint32_t A = arch_pe_count(g->a) * g->F;
    *used = 0;
    L->stream = g->stream && L->kind != FZ_NORM;
    if (!n && L->kind != FZ_RUNS) {
        util_fail(UTIL_ECONFIG, err, errlen,
                  "%s: %s is one pipeline stage, and stage_pes has no entry left for it", where,
                  L->name);
        return false;
    }
    if (L->kind == FZ_NORM) {
        uint32_t most = (uint32_t)(L->H < FZ_MAX_NORM_SEGS ? L->H : FZ_MAX_NORM_SEGS);
        if (steps[0] != 1 || !pes[0] || pes[0] > most) {
            util_fail(UTIL_ECONFIG, err, errlen,
                      "%s: %s: stage_steps = %u, stage_pes = %u: a norm is one pipeline stage "
                      "(stage_steps 1) of 1..%u row segments, one per PE",
                      where, L->name, steps[0], pes[0], most);
            return false;
        }
        *used = 1, L->S = pes[0];
    } else if (L->kind == FZ_DENSE) {
        /* stage_pes = C x K: C column tiles, each over K chunks of the inputs */
        uint32_t K = steps[0], C = K ? pes[0] / K : 0;
        if (!K || !C || pes[0] % K || pes[0] > A || C > L->nout || K > L->nin) {
            util_fail(UTIL_ECONFIG, err, errlen,
                      "%s: %s: stage_steps = %u, stage_pes = %u: a dense layer is one pipeline "
                      "stage of stage_pes (1..%u) PEs whose inputs are split into stage_steps "
                      "chunks (a divisor of stage_pes, at most %llu), leaving at most %llu "
                      "column tiles",
                      where, L->name, K, pes[0], A, (unsigned long long)L->nin,
                      (unsigned long long)L->nout);
            return false;
        }
        *used = 1, L->C = C, L->K = K;
    } else {
        uint32_t s = 0;
        L->n_runs = 0;
        while (s < L->stages) {
            if (*used >= n || L->n_runs >= FZ_MAX_RUNS) {
                util_fail(UTIL_ECONFIG, err, errlen,
                          "%s: %s has %u butterfly or FFT stages; stage_steps covers %u of them "
                          "(in at most %d pipeline stages)",
                          where, L->name, L->stages, s, FZ_MAX_RUNS);
                return false;
            }
            uint32_t p = pes[*used], k = steps[*used];
            uint32_t most = 1u << (L->stages - (k < L->stages ? k : L->stages));
            most = most < A ? most : A;
            if (!k || s + k > L->stages || !util_is_pow2(p) || p > most) {
                util_fail(UTIL_ECONFIG, err, errlen,
                          "%s: %s stages %u-%u: stage_steps = %u must stay within its %u "
                          "stages and stage_pes = %u must be a power of two up to %u (each PE "
                          "holds every unit its stages pair)",
                          where, L->name, s, s + k - 1, k, L->stages, p, most);
                return false;
            }
            L->run[L->n_runs++] = (fz_run){s, k, util_log2(p), 0};
            s += k, (*used)++;
        }
        fz_run_masks(L);
    }
    if (!fits_buffers(g, L)) {
        util_fail(UTIL_ECONFIG, err, errlen,
                  "%s: %s does not fit these PEs: its operand slots (pe.tags x rows_per_tag "
                  "rows) and weights, or two streamed parts of them, exceed the %llu bytes of "
                  "PE buffer a PE gives it (pe.buffer_kb / fold); give it more PEs",
                  where, L->name, (unsigned long long)(g->a->pe.buffer_bytes / g->F));
        return false;
    }
    return true;
}

void fz_describe(const fz_group *g, char *buf, size_t len)
{
    uint32_t pes = 0;
    for (uint32_t l = 0; l < g->n_l; l++)
        pes += fz_layer_pes(&g->l[l]);
    int at = snprintf(buf, len, "fused: %u row%s per tag, %u PEs%s, %u segment%s:", g->R,
                      g->R == 1 ? "" : "s", pes, g->F > 1 ? " folded" : "", g->n_seg,
                      g->n_seg == 1 ? "" : "s");
    for (uint32_t l = 0; l < g->n_l && at >= 0 && (size_t)at < len; l++) {
        const fz_layer *L = &g->l[l];
        const char *sep = l && g->l[l - 1].seg != L->seg ? " |" : l ? "," : "";
        at += snprintf(buf + at, len - (size_t)at, "%s %s ", sep, L->name);
        if (L->kind == FZ_RUNS) /* PEs x stages of each run */
            for (uint32_t r = 0; r < L->n_runs && (size_t)at < len; r++)
                at += snprintf(buf + at, len - (size_t)at, "%s%ux%u", r ? "+" : "",
                               1u << L->run[r].p, L->run[r].k);
        else if (L->kind == FZ_DENSE && L->K > 1 && (size_t)at < len) /* PEs x input chunks */
            at += snprintf(buf + at, len - (size_t)at, "%ux%u", fz_layer_pes(L), L->K);
        else if ((size_t)at < len)
            at += snprintf(buf + at, len - (size_t)at, "%u", fz_layer_pes(L));
        if (fz_layer_streams(g, L) && at >= 0 && (size_t)at < len)
            at += snprintf(buf + at, len - (size_t)at, " (weights streamed from %s)",
                           g->kept ? "the SPM" : "DRAM");
    }
}
