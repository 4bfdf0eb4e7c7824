/* check_estimate.c: the closed-form estimate (--model analytical) against the cycle-level engine.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/config/config.h"
#include "../sim/energy/energy.h"
#include "../sim/run/run.h"
#include "testutil.h"

/* The regression set: every op of four models (dense attention; Fourier mixing with
 * butterfly layers; sequence butterfly with block-butterfly FFN then attention; fft-compress
 * with block butterflies then attention) at 256 tokens on the three shipped arrays, the
 * dense model there again with its attention unfused (scores, softmax and context apart),
 * and the dense model at 1024 tokens on mld-8x8. */
static const char *const arches[] = {"arch/mld-4x4.cfg", "arch/mld-8x8.cfg", "arch/mld-16x16.cfg"};
static const char *const models[] = {"bert-base-image-1k", "fabnet-image-1k",
                                     "hybrid-butterfly-image-1k", "hybrid-compress-16k"};

typedef struct errs {
    uint32_t points, over10;
    double sum, worst;
    char worst_at[400];
} errs;

/* Loads a shipped arch and workload, with seq_len set to seq unless it is 0, and hidden
 * set to hidden (ffn to twice that, 4 heads) unless it is 0. */
static void load_shape(const char *arch_rel, const char *wl_rel, uint64_t seq, uint64_t hidden,
                       arch_desc *a, wl_desc *d)
{
    char set[4][64];
    snprintf(set[0], sizeof set[0], "workload.seq_len=%llu", (unsigned long long)seq);
    snprintf(set[1], sizeof set[1], "workload.hidden=%llu", (unsigned long long)hidden);
    snprintf(set[2], sizeof set[2], "workload.ffn=%llu", (unsigned long long)(2 * hidden));
    snprintf(set[3], sizeof set[3], "workload.heads=4");
    const char *sets[4] = {set[0], set[1], set[2], set[3]};
    tu_load(arch_rel, wl_rel, sets, hidden ? 4 : seq ? 1 : 0, a, d);
}

static void load_model(const char *arch_rel, const char *wl_rel, uint64_t seq, arch_desc *a,
                       wl_desc *d)
{
    load_shape(arch_rel, wl_rel, seq, 0, a, d);
}

/* Every op (every chain: its first op carries its figures) of a model, estimated and
 * simulated, hidden as in load_shape. */
static void compare_shape(const char *arch_rel, const char *model, uint64_t seq, uint64_t hidden,
                          const map_forced *forced, errs *e)
{
    char rel[128], err[512];
    arch_desc a;
    wl_desc d;
    snprintf(rel, sizeof rel, "workloads/%s.cfg", model);
    load_shape(arch_rel, rel, seq, hidden, &a, &d);
    run_result sim, est;
    ck_assert_msg(run_model(&a, &d, forced, false, NULL, NULL, &sim, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(run_model_analytical(&a, &d, forced, NULL, &est, err, sizeof err) == 0, "%s", err);
    for (uint32_t b = 0; b < sim.n_blocks; b++) {
        ck_assert_uint_eq(est.blocks[b].n_ops, sim.blocks[b].n_ops);
        for (uint32_t i = 0; i < sim.blocks[b].n_ops; i++) {
            const run_op *s = &sim.blocks[b].ops[i], *t = &est.blocks[b].ops[i];
            /* the analytical mode maps exactly as the cycle-level run does */
            ck_assert_str_eq(t->desc, s->desc);
            ck_assert_uint_eq(t->cycles, s->est_cycles);
            /* the work is exact, not estimated */
            ck_assert_uint_eq(t->lane_ops, s->lane_ops);
            ck_assert_uint_eq(t->chained_ops, s->chained_ops);
            if (!s->chained_ops)
                continue; /* inside a chain: its first op has the figures */
            double r = fabs((double)t->cycles / (double)s->cycles - 1.0);
            e->points++;
            e->sum += r;
            e->over10 += r > 0.10;
            if (r > 0.10)
                printf(
                    "  over 10%%: %s of %s at %llu tokens on %s: estimate %llu, engine %llu (%s)\n",
                    s->op.name, model, (unsigned long long)seq, arch_rel,
                    (unsigned long long)t->cycles, (unsigned long long)s->cycles, s->desc);
            if (r > e->worst) {
                e->worst = r;
                snprintf(e->worst_at, sizeof e->worst_at, "%s of %s at %llu tokens on %s",
                         s->op.name, model, (unsigned long long)seq, arch_rel);
            }
        }
    }
    run_free(&sim);
    run_free(&est);
}

static void compare(const char *arch_rel, const char *model, uint64_t seq, const map_forced *forced,
                    errs *e)
{
    compare_shape(arch_rel, model, seq, 0, forced, e);
}

/* Issue 4's target: the estimate within 10% of the engine at every point (a chain, the
 * default where it pays, is one point). Measured when chaining became the default: 217
 * points, mean error 1.5%, worst 7.9% (sequence mixing at 256 tokens on mld-4x4), none
 * over 10% (with every op apart: 222 points, mean 1.4%; before the estimate followed tags
 * queued behind configuration and output slots: mean 2.6%, worst 9.5%). */
START_TEST(test_estimate_regression)
{
    errs e = {0, 0, 0, 0, ""};
    static map_forced unfused = {.n = 1, .f = {{.block = 0, .op = "softmax", .where = "test"}}};
    for (int k = 0; k < 3; k++) {
        for (int m = 0; m < 4; m++)
            compare(arches[k], models[m], 256, NULL, &e);
        compare(arches[k], models[0], 256, &unfused, &e);
    }
    compare("arch/mld-8x8.cfg", "bert-base-image-1k", 1024, NULL, &e);
    printf("estimate vs engine: %u points, mean error %.1f%%, worst %.1f%% (%s), %u over 10%%\n",
           e.points, 100 * e.sum / e.points, 100 * e.worst, e.worst_at, e.over10);
    ck_assert_uint_ge(e.points, 30);
    ck_assert_msg(e.sum / e.points <= 0.03, "mean error %.3f", e.sum / e.points);
    ck_assert_msg(e.worst <= 0.10, "worst error %.3f at %s", e.worst, e.worst_at);
}
END_TEST

/* Chained groups on small blocks, where chains fit beside each other, held to issue 4's
 * target: within 10% of the engine at every point. Measured when the group model learnt
 * that configurations share the DRAM and that the summed resources are busy only from
 * the first phase's configuration to the last tag's drain: 168 points (a chain, or an op
 * alone), mean error 2.7%, worst 8.1%, none over 10% (before: 161 points, mean 3.6%,
 * worst 23.2%, 7 over 10%, all attention chains estimated low). */
START_TEST(test_chained_estimate)
{
    errs e = {0, 0, 0, 0, ""};

    static const char *const chained_models[] = {"bert-base-image-1k", "fabnet-image-1k",
                                                 "hybrid-butterfly-image-1k",
                                                 "hybrid-fourier-image-1k"};
    for (int k = 0; k < 2; k++)
        for (int m = 0; m < 4; m++)
            for (uint64_t h = 64; h <= 128; h *= 2)
                compare_shape(arches[k], chained_models[m], 64, h, NULL, &e);
    printf("chained estimate vs engine: %u points, mean error %.1f%%, worst %.1f%% (%s), %u over "
           "10%%\n",
           e.points, 100 * e.sum / e.points, 100 * e.worst, e.worst_at, e.over10);
    ck_assert_uint_ge(e.points, 30);
    ck_assert_msg(e.sum / e.points <= 0.03, "mean error %.3f", e.sum / e.points);
    ck_assert_msg(e.worst <= 0.10, "worst error %.3f at %s", e.worst, e.worst_at);
}
END_TEST

/* A butterfly-linear layer point: the mapper's choice (plan NULL) or a fixed plan, with
 * up to four config overrides. */
typedef struct layer_point {
    const char *arch, *wl;
    const map_bfly_plan *plan;
    const char *set[4];
} layer_point;

#define LP_DRAM_FREE "arch.dram.bandwidth_gbs=1000", "arch.dram.channels=8", "arch.dma.channels=8"

/* The estimate of one layer point against the engine: |est/sim - 1|. */
static double layer_error(const layer_point *lp, char *desc, size_t desc_len)
{
    char apath[512], wpath[512], err[512];
    cfg_override ov[4];
    uint32_t n = 0;
    for (; n < 4 && lp->set[n]; n++)
        ck_assert_msg(cfg_parse_override(lp->set[n], &ov[n], err, sizeof err) == 0, "%s", err);
    arch_desc a;
    wl_desc d;
    ck_assert_msg(cfg_load(tu_src(apath, sizeof apath, lp->arch),
                           tu_src(wpath, sizeof wpath, lp->wl), ov, n, &a, &d, err,
                           sizeof err) == 0,
                  "%s", err);
    wl_butterfly b;
    wl_butterfly_from_desc(&d, &b);
    map_result m;
    int rc = lp->plan ? map_butterfly_with(&a, &b, false, lp->plan, &m, err, sizeof err)
                      : map_butterfly_search(&a, &b, false, NULL, &m, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
    eng_estimate_total e;
    ck_assert_int_eq(eng_estimate(&a, &m.program, NULL, &e, err, sizeof err), 0);
    eng_stats st;
    ck_assert_msg(eng_run(&a, &m.program, NULL, &st, err, sizeof err) == 0, "%s", err);
    double r = (double)e.cycles / (double)st.cycles - 1.0;
    int at = snprintf(desc, desc_len, "%s on %s", lp->wl, lp->arch);
    if (lp->plan)
        at += snprintf(desc + at, desc_len - (size_t)at, ", plan %u %u %u %llu",
                       lp->plan->layer_pes, lp->plan->pipelines, lp->plan->stages_per_pass,
                       (unsigned long long)lp->plan->block_rows);
    for (uint32_t k = 0; k < n; k++)
        at += snprintf(desc + at, desc_len - (size_t)at, ", %s", lp->set[k]);
    snprintf(desc + at, desc_len - (size_t)at, " (%s): estimate %llu, engine %llu", m.strategy,
             (unsigned long long)e.cycles, (unsigned long long)st.cycles);
    eng_stats_free(&st);
    map_free(&m);
    return fabs(r);
}

/* The layer set: butterfly-linear-{64,1k,4k} on the three shipped arrays with the
 * mapper's choice, each as shipped and with DRAM made non-binding (1000 GB/s over 8
 * channels and 8 DMA channels); and fixed plans at 512 rows of the 1K layer (two
 * pipelines of 4-PE layers on mld-4x4; 1x6x10, 4x2x5 and 2x2x5 on mld-8x8) and on-chip
 * blocks of 32 rows of the 4K layer on mld-8x8; the 64K layer as shipped on the three
 * arrays. Measured when phases got four slots a side
 * (map_deepen_slots): 28 points, mean error 2.0%, worst 6.7% (the on-chip blocks with DRAM
 * non-binding). The 2x2x5 plan with the shipped DRAM, once -14.7% off with two slots (its
 * output stores queued behind input fetches), is now -1.1%. With the 64K layer: 31 points,
 * mean 2.1%, worst 6.7%. */
START_TEST(test_layer_regression)
{
    static const map_bfly_plan two_pipes = {4, 2, 2, 0}, p1610 = {1, 6, 10, 0}, p225 = {2, 2, 5, 0},
                               p425 = {4, 2, 5, 0}, blocks = {4, 3, 4, 32};
    static const char *const sizes[] = {"64", "1k", "4k"};
    layer_point pts[40];
    char wls[3][64];
    uint32_t n = 0;
    for (int k = 0; k < 3; k++) {
        snprintf(wls[k], sizeof wls[k], "workloads/butterfly-linear-%s.cfg", sizes[k]);
        for (int i = 0; i < 3; i++) {
            pts[n++] = (layer_point){arches[i], wls[k], NULL, {NULL}};
            pts[n++] = (layer_point){arches[i], wls[k], NULL, {LP_DRAM_FREE}};
        }
    }
    /* the 64K layer, whose second pass's strided tags load one DRAM channel per chunk of
     * the vector: estimated 22% low on mld-8x8 while the schedule spread each chunk's
     * bursts over both channels (now +0.8%; +5.9% on mld-4x4, -1.9% on mld-16x16) */
    for (int i = 0; i < 3; i++)
        pts[n++] = (layer_point){arches[i], "workloads/butterfly-linear-64k.cfg", NULL, {NULL}};
    const char *l1k = "workloads/butterfly-linear-1k.cfg",
               *l4k = "workloads/butterfly-linear-4k.cfg";
    const char *rows = "workload.rows=512";
    pts[n++] = (layer_point){arches[0], l1k, &two_pipes, {rows}};
    pts[n++] = (layer_point){arches[0], l1k, &two_pipes, {rows, LP_DRAM_FREE}};
    pts[n++] = (layer_point){arches[1], l1k, &p1610, {rows}};
    pts[n++] = (layer_point){arches[1], l1k, &p1610, {rows, LP_DRAM_FREE}};
    pts[n++] = (layer_point){arches[1], l1k, &p425, {rows}};
    pts[n++] = (layer_point){arches[1], l1k, &p425, {rows, LP_DRAM_FREE}};
    pts[n++] = (layer_point){arches[1], l1k, &p225, {rows}};
    pts[n++] = (layer_point){arches[1], l1k, &p225, {rows, LP_DRAM_FREE}};
    pts[n++] = (layer_point){arches[1], l4k, &blocks, {NULL}};
    pts[n++] = (layer_point){arches[1], l4k, &blocks, {LP_DRAM_FREE}};
    errs e = {0, 0, 0, 0, ""};
    for (uint32_t i = 0; i < n; i++) {
        char desc[400];
        double r = layer_error(&pts[i], desc, sizeof desc);
        e.points++, e.sum += r, e.over10 += r > 0.10;
        if (r > 0.10)
            printf("  over 10%%: %s\n", desc);
        if (r > e.worst) {
            e.worst = r;
            snprintf(e.worst_at, sizeof e.worst_at, "%s", desc);
        }
    }
    printf("layer estimate vs engine: %u points, mean error %.1f%%, worst %.1f%% (%s), %u over "
           "10%%\n",
           e.points, 100 * e.sum / e.points, 100 * e.worst, e.worst_at, e.over10);
    ck_assert_uint_eq(e.points, 31);
    ck_assert_msg(e.worst <= 0.10, "worst error %.3f at %s", e.worst, e.worst_at);
}
END_TEST

/* The analytical run of a shipped model on a shipped array. */
static void analytical(const char *arch_rel, const char *wl_rel, arch_desc *a, wl_desc *d,
                       run_result *r)
{
    char err[512];
    load_model(arch_rel, wl_rel, 0, a, d);
    ck_assert_msg(run_model_analytical(a, d, NULL, NULL, r, err, sizeof err) == 0, "%s", err);
}

/* Analytical mode is fast and touches no engine: a 12-block BERT-base at 4K tokens is
 * estimated from its programs alone. It also never reports fewer cycles than the useful
 * work needs on all PEs. */
START_TEST(test_analytical_bounds)
{
    arch_desc a;
    wl_desc d;
    run_result r;
    analytical("arch/mld-8x8.cfg", "workloads/bert-base-text-4k.cfg", &a, &d, &r);
    double peak = tu_lane_ops_per_cycle(&a, d.dtype);
    double bpc = arch_dram_bytes_per_cycle(&a);
    for (uint32_t i = 0; i < r.blocks[0].n_ops; i++) {
        const run_op *o = &r.blocks[0].ops[i];
        ck_assert((double)o->cycles >= (double)o->lane_ops / peak);
        ck_assert_msg((double)o->cycles >= (double)(o->dram_read_bytes + o->dram_write_bytes) / bpc,
                      "%s: %llu cycles, DRAM bound %.0f", o->op.name, (unsigned long long)o->cycles,
                      (double)(o->dram_read_bytes + o->dram_write_bytes) / bpc);
    }
    ck_assert(r.analytical);
    ck_assert_uint_eq(r.total.events, 0);
    run_free(&r);
}
END_TEST

/* The GEMM search scores every feasible plan with the estimate and keeps the cheapest:
 * its best-first list starts with the chosen mapping, whose estimate is that of the
 * program actually built (per-head ops: one head's estimate times the heads). */
/* A search's shortlist took its cheapest candidate, in order, and that candidate's
 * estimate is the op's program's (within 1%). */
static void check_shortlist(const run_op *o)
{
    const map_shortlist *l = &o->shortlist;
    ck_assert_uint_ge(l->n_scored, l->n);
    ck_assert_uint_eq(l->chosen, 0);
    for (uint32_t k = 1; k < l->n; k++)
        ck_assert_uint_le(l->c[k - 1].cycles, l->c[k].cycles);
    double ratio = (double)l->c[0].cycles / (double)o->est_cycles;
    ck_assert_msg(ratio > 0.99 && ratio < 1.01, "%s: search %llu, program %llu", o->op.name,
                  (unsigned long long)l->c[0].cycles, (unsigned long long)o->est_cycles);
}

START_TEST(test_search_picks_cheapest)
{
    arch_desc a;
    wl_desc d;
    run_result r;
    analytical("arch/mld-8x8.cfg", "workloads/bert-base-image-1k.cfg", &a, &d, &r);
    uint32_t searched = 0;
    for (uint32_t i = 0; i < r.blocks[0].n_ops; i++) {
        const run_op *o = &r.blocks[0].ops[i];
        bool gemm = o->op.kind == WL_OP_DENSE || o->op.kind == WL_OP_SCORES ||
                    o->op.kind == WL_OP_CONTEXT || o->op.kind == WL_OP_ATTENTION;
        const map_shortlist *l = &o->shortlist;
        ck_assert_uint_eq(l->n > 0, gemm);
        if (!gemm)
            continue;
        searched++;
        check_shortlist(o);
        ck_assert_msg(strstr(o->desc, l->c[0].desc), "%s: chose '%s', best '%s'", o->op.name,
                      o->desc, l->c[0].desc);
    }
    ck_assert_uint_eq(searched, 7); /* q, k, v, attention (fused), o, ffn1, ffn2 */
    run_free(&r);
}
END_TEST

/* A butterfly or FFT op lists the layouts it weighed (passes through DRAM, blocks on chip,
 * and blocks that keep the weights in the SPM): the chosen one is the cheapest, it is the
 * op's own estimate, and the op's description agrees with it. On hybrid-butterfly-image-1k
 * on mld-8x8: the sequence butterfly and the two block-butterfly FFNs of its butterfly
 * block (which do not fuse there). */
START_TEST(test_layouts_listed)
{
    arch_desc a;
    wl_desc d;
    run_result r;
    analytical("arch/mld-8x8.cfg", "workloads/hybrid-butterfly-image-1k.cfg", &a, &d, &r);
    uint32_t listed = 0;
    for (uint32_t i = 0; i < r.blocks[0].n_ops; i++) {
        const run_op *o = &r.blocks[0].ops[i];
        const map_shortlist *l = &o->shortlist;
        bool transform = o->op.kind == WL_OP_SEQ_BFLY || o->op.kind == WL_OP_BLOCK_BFLY;
        if (!transform || l->n < 2)
            continue;
        listed++;
        check_shortlist(o);
        bool dram = strstr(l->c[0].desc, "DRAM") != NULL,
             kept = strstr(l->c[0].desc, "weights kept") != NULL;
        ck_assert_msg(dram == !strstr(o->desc, "multilayer"), "%s: %s", o->op.name, o->desc);
        ck_assert_msg(kept == (strstr(o->desc, "weights kept") != NULL), "%s: %s", o->op.name,
                      o->desc);
    }
    ck_assert_uint_eq(listed, 3); /* mix, ffn1, ffn2 */
    run_free(&r);
}
END_TEST

/* The options of the analytical mode and the search on the command line. */
START_TEST(test_cli_model_and_explain)
{
    char arch[512], wl[512], bfly[512];
    tu_src(arch, sizeof arch, "arch/mld-4x4.cfg");
    tu_src(wl, sizeof wl, "workloads/bert-base-image-1k.cfg");
    tu_src(bfly, sizeof bfly, "workloads/butterfly-linear-64.cfg");
    tu_result r;
    tu_run(&r, "--model=analytical", "--explain", "--set=workload.seq_len=64", arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "estimated in closed form"));
    ck_assert_ptr_nonnull(strstr(r.out, "<- chosen"));
    tu_free(&r);
    tu_expect(2, "expected 'cycle' or 'analytical'", "--model=guess", arch, wl, NULL);
    tu_expect(2, "", "-m", "analytical", "--functional", arch, wl, NULL);
    /* a butterfly-linear layer: the mapper's estimate, without the engine */
    tu_run(&r, "--model=analytical", "--explain", arch, bfly, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "estimated in closed form"));
    ck_assert_ptr_nonnull(strstr(r.out, "explain    butterfly-linear: "));
    ck_assert_ptr_nonnull(strstr(r.out, "<- chosen"));
    tu_free(&r);
}
END_TEST

/* The analytical mode's action counts are the engine's: vector operations, buffer
 * traffic, configuration, DMA and NoC counts exactly (they follow from the program), SPM
 * words and DRAM bytes within 1% (sampled tags); so its energy is the engine's but for
 * the leakage over its estimated cycles. */
START_TEST(test_analytical_counts)
{
    static const char *const names[] = {"bert-base-image-1k", "fabnet-image-1k",
                                        "hybrid-compress-16k"};
    for (int k = 0; k < 3; k++) {
        char rel[128], err[512];
        arch_desc a;
        wl_desc d;
        snprintf(rel, sizeof rel, "workloads/%s.cfg", names[k]);
        load_model("arch/mld-4x4.cfg", rel, 256, &a, &d);
        run_result sim, est;
        ck_assert_msg(run_model(&a, &d, NULL, false, NULL, NULL, &sim, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(run_model_analytical(&a, &d, NULL, NULL, &est, err, sizeof err) == 0, "%s", err);
        const eng_stats *s = &sim.total, *e = &est.total;
        for (uint32_t u = 0; u < ARCH_FU_COUNT; u++)
            ck_assert_uint_eq(e->pe_total.fu_vec_ops[u], s->pe_total.fu_vec_ops[u]);
        ck_assert_uint_eq(e->pe_total.buf_reads, s->pe_total.buf_reads);
        ck_assert_uint_eq(e->pe_total.buf_writes, s->pe_total.buf_writes);
        ck_assert_uint_eq(e->pe_total.weight_elems, s->pe_total.weight_elems);
        ck_assert_uint_eq(e->pe_total.configs, s->pe_total.configs);
        ck_assert_uint_eq(e->dma.bytes, s->dma.bytes);
        ck_assert_uint_eq(e->noc.flits, s->noc.flits);
        ck_assert_uint_eq(e->noc.flit_hops, s->noc.flit_hops);
        ck_assert_uint_eq(e->noc.router_traversals, s->noc.router_traversals);
        double near[][2] = {{(double)e->spm.reads, (double)s->spm.reads},
                            {(double)e->spm.writes, (double)s->spm.writes},
                            {(double)e->dram.read_bytes, (double)s->dram.read_bytes},
                            {(double)e->dram.write_bytes, (double)s->dram.write_bytes}};
        for (int i = 0; i < 4; i++)
            ck_assert_msg(fabs(near[i][0] / near[i][1] - 1) <= 0.01, "%s: count %d: %g vs %g",
                          names[k], i, near[i][0], near[i][1]);
        en_result es, ee;
        en_compute(&a, d.dtype, s, 1, &es);
        en_compute(&a, d.dtype, e, 1, &ee);
        ck_assert_msg(fabs(ee.dynamic_pj / es.dynamic_pj - 1) <= 0.01, "%s: %g vs %g pJ", names[k],
                      ee.dynamic_pj, es.dynamic_pj);
        run_free(&sim);
        run_free(&est);
    }
}
END_TEST

/* --objective: each op's mapping minimises its estimated cost under the objective, and a
 * model's cost is the sum over its ops, so the energy objective's model needs no more
 * estimated energy than the latency objective's, and no fewer cycles. The options are
 * checked on the command line. */
START_TEST(test_objective)
{
    char err[512];
    arch_desc a;
    wl_desc d;
    load_model("arch/mld-8x8.cfg", "workloads/hybrid-compress-16k.cfg", 256, &a, &d);
    static map_forced how[2];
    how[1].objective = MAP_ENERGY;
    how[1].energy = run_energy_pj;
    double pj[2], cycles[2];
    for (int k = 0; k < 2; k++) {
        run_result r;
        ck_assert_msg(run_model_analytical(&a, &d, &how[k], NULL, &r, err, sizeof err) == 0, "%s", err);
        en_result e;
        en_compute(&a, d.dtype, &r.total, 1, &e);
        pj[k] = e.total_pj, cycles[k] = (double)r.total.cycles;
        run_free(&r);
    }
    ck_assert_msg(pj[1] <= pj[0], "energy objective %g pJ, latency objective %g", pj[1], pj[0]);
    ck_assert_msg(cycles[0] <= cycles[1], "latency objective %g cycles, energy objective %g",
                  cycles[0], cycles[1]);
    ck_assert_msg(pj[1] < pj[0] && cycles[0] < cycles[1], "the objectives chose alike");
    char arch[512], wl[512], bfly[512], tiny[512];
    tu_src(arch, sizeof arch, "arch/mld-4x4.cfg");
    tu_src(wl, sizeof wl, "workloads/bert-base-image-1k.cfg");
    tu_src(bfly, sizeof bfly, "workloads/butterfly-linear-64.cfg");
    tu_src(tiny, sizeof tiny, "tests/data/tiny-1x2.cfg");
    tu_expect(2, "expected 'latency', 'energy' or 'edp'", "--objective=power", arch, wl, NULL);
    tu_expect(2, "needs an energy table", "-o", "edp", "--set=workload.seq_len=16",
              "--set=workload.hidden=16", "--set=workload.heads=2", "--set=workload.ffn=32", tiny,
              wl, NULL);
    tu_result r;
    tu_run(&r, "-o", "energy", "-e", arch, bfly, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, ", objective "));
    tu_free(&r);
    tu_run(&r, "-o", "edp", "-e", "-m", "analytical", "--set=workload.seq_len=64", arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, ", objective "));
    tu_free(&r);
}
END_TEST

/* The butterfly layer's search under each objective: the plan it takes costs no more
 * than any plan it lists, but for the simple mapping, which another plan replaces only
 * when that is at least 5% cheaper (so the simple one may cost up to 1/0.95 of the
 * cheapest). The energy objective's choice needs no more estimated energy than the
 * latency objective's. */
START_TEST(test_layer_objective)
{
    char err[512];
    arch_desc a;
    wl_desc d;
    load_model("arch/mld-8x8.cfg", "workloads/butterfly-linear-1k.cfg", 0, &a, &d);
    wl_butterfly b;
    wl_butterfly_from_desc(&d, &b);
    static map_forced how[3];
    double pj[3];
    for (int k = 0; k < 3; k++) {
        how[k].objective = (map_objective)k;
        how[k].energy = run_energy_pj;
        map_result m;
        ck_assert_msg(map_butterfly_search(&a, &b, false, &how[k], &m, err, sizeof err) == 0, "%s",
                      err);
        const map_shortlist *l = &m.shortlist;
        ck_assert_uint_gt(l->n, 1);
        ck_assert_uint_lt(l->chosen, l->n);
        const map_candidate *c = &l->c[l->chosen];
        bool simple = strncmp(c->desc, "simple:", 7) == 0;
        for (uint32_t i = 0; i < l->n; i++)
            ck_assert_msg(c->cost <= l->c[i].cost / (simple ? 0.95 : 1.0) * (1 + 1e-12),
                          "objective %d: took '%s' (%g), listed '%s' (%g)", k, c->desc, c->cost,
                          l->c[i].desc, l->c[i].cost);
        eng_estimate_total e;
        ck_assert_int_eq(eng_estimate(&a, &m.program, NULL, &e, err, sizeof err), 0);
        ck_assert_uint_eq(e.cycles, c->cycles); /* the listed figure is the built program's */
        pj[k] = run_energy_pj(&a, b.dtype, &e.counts);
        map_free(&m);
    }
    ck_assert_msg(pj[MAP_ENERGY] <= pj[MAP_LATENCY] / 0.95 * (1 + 1e-12),
                  "energy objective %g pJ, latency %g", pj[MAP_ENERGY], pj[MAP_LATENCY]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("estimate");
    TCase *tc = tcase_create("estimate");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_estimate_regression);
    tcase_add_test(tc, test_chained_estimate);
    tcase_add_test(tc, test_layer_regression);
    tcase_add_test(tc, test_analytical_bounds);
    tcase_add_test(tc, test_analytical_counts);
    tcase_add_test(tc, test_objective);
    tcase_add_test(tc, test_search_picks_cheapest);
    tcase_add_test(tc, test_layouts_listed);
    tcase_add_test(tc, test_cli_model_and_explain);
    tcase_add_test(tc, test_layer_objective);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
