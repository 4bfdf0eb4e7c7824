/* check_fuse.c: fused groups (a block's row-local ops as one pipeline of PE groups) against
 * every op on its own: cycles, the estimate, functional values and planted faults. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/run/run.h"
#include "testutil.h"

static const char *const arches[] = {"arch/mld-4x4.cfg", "arch/mld-8x8.cfg", "arch/mld-16x16.cfg"};
/* the model presets' block structures: Fourier, dense, butterfly mixer with block
 * butterflies then dense attention, Fourier then attention with butterfly layers,
 * fft-compress with block butterflies then attention, ViT */
static const char *const models[] = {"fabnet-image-1k",           "bert-base-image-1k",
                                     "hybrid-butterfly-image-1k", "hybrid-fourier-image-1k",
                                     "hybrid-compress-16k",       "vit-b16"};

/* A preset at seq tokens and hidden h (ffn 2h, 4 heads; fft-compress chunks of 16). */
static void load_small(const char *arch, const char *model, uint64_t seq, uint64_t h, arch_desc *a,
                       wl_desc *d)
{
    char rel[128], set[5][64];
    snprintf(rel, sizeof rel, "workloads/%s.cfg", model);
    snprintf(set[0], sizeof set[0], "workload.seq_len=%llu", (unsigned long long)seq);
    snprintf(set[1], sizeof set[1], "workload.hidden=%llu", (unsigned long long)h);
    snprintf(set[2], sizeof set[2], "workload.ffn=%llu", (unsigned long long)(2 * h));
    snprintf(set[3], sizeof set[3], "workload.heads=4");
    snprintf(set[4], sizeof set[4], "workload.blocks.0.chunk=16");
    const char *sets[5] = {set[0], set[1], set[2], set[3], set[4]};
    tu_load(arch, rel, sets, strstr(model, "compress") ? 5 : 4, a, d);
}

static const map_forced per_op = {.fusing = MAP_FUSE_OFF};

/* Issue 16's target: the fused plan is never slower than the per-op plan, cycle by
 * cycle, and the estimate of every fused group is within 10% of the engine. 36 cases:
 * six model presets on the three arrays at 64 and 256 tokens (hidden 128). The mapper
 * takes a group only where its estimate beats the ops apart, so the test holds the
 * estimate to what the choice needs. Measured when fused groups came in: 36 cases, none
 * slower, 26 faster; 70 fused groups, estimate mean error 1.9%, worst 6.3% (before the
 * group model let a configuration's requests slip between its producer's tags: 10.8%). */
START_TEST(test_never_slower_and_estimated)
{
    char err[512];
    uint32_t cases = 0, faster = 0, groups = 0;
    double sum = 0, worst = 0;
    char worst_at[256] = "";
    for (size_t k = 0; k < sizeof arches / sizeof arches[0]; k++)
        for (size_t m = 0; m < sizeof models / sizeof models[0]; m++)
            for (uint64_t seq = 64; seq <= 256; seq *= 4) {
                arch_desc a;
                wl_desc d;
                load_small(arches[k], models[m], seq, 128, &a, &d);
                run_result f, p;
                ck_assert_msg(run_model(&a, &d, NULL, false, NULL, NULL, &f, err, sizeof err) == 0,
                              "%s", err);
                ck_assert_msg(run_model(&a, &d, &per_op, false, NULL, NULL, &p, err, sizeof err) ==
                                  0,
                              "%s", err);
                ck_assert_msg(f.total.cycles <= p.total.cycles,
                              "%s at %llu tokens on %s: fused %llu cycles, per op %llu", models[m],
                              (unsigned long long)seq, arches[k],
                              (unsigned long long)f.total.cycles,
                              (unsigned long long)p.total.cycles);
                /* The same work either way, up to combining partial sums: a layernorm whose
                 * row a fused layer splits over more PEs adds its partial sums in a few
                 * more steps (measured: at most 0.03% more lane ops). */
                ck_assert_uint_ge(f.total.lane_ops, p.total.lane_ops);
                ck_assert_uint_le(f.total.lane_ops, p.total.lane_ops + p.total.lane_ops / 1000);
                cases++;
                faster += f.total.cycles < p.total.cycles;
                for (uint32_t b = 0; b < f.n_blocks; b++)
                    for (uint32_t i = 0; i < f.blocks[b].n_ops; i++) {
                        const run_op *o = &f.blocks[b].ops[i];
                        if (!o->fused.n_stages)
                            continue;
                        double r = fabs((double)o->est_cycles / (double)o->cycles - 1);
                        groups++, sum += r;
                        if (r > worst) {
                            worst = r;
                            const char *last = f.blocks[b].ops[i + o->fused_ops - 1].op.name;
                            snprintf(worst_at, sizeof worst_at, "%s%s%s of %s at %llu tokens on %s",
                                     o->op.name, o->fused_ops > 1 ? ".." : "",
                                     o->fused_ops > 1 ? last : "", models[m],
                                     (unsigned long long)seq, arches[k]);
                        }
                    }
                run_free(&f);
                run_free(&p);
            }
    printf("fused vs per op: %u cases, %u faster; %u fused groups, estimate mean error %.1f%%, "
           "worst %.1f%% (%s)\n",
           cases, faster, groups, 100 * sum / groups, 100 * worst, worst_at);
    ck_assert_uint_ge(cases, 30);
    ck_assert_uint_ge(faster, cases / 3);
    ck_assert_uint_ge(groups, 30);
    ck_assert_msg(worst <= 0.10, "worst error %.3f at %s", worst, worst_at);
    ck_assert_msg(sum / groups <= 0.03, "mean error %.3f", sum / groups);
}
END_TEST

/* Op `name` of block 0 runs in a fused group of several ops. */
static bool in_group(const run_result *r, const char *name)
{
    const run_block *b = &r->blocks[0];
    for (uint32_t i = 0; i < b->n_ops; i++)
        for (uint32_t k = 0; b->ops[i].fused.n_stages && k < b->ops[i].fused_ops; k++)
            if (!strcmp(b->ops[i + k].op.name, name))
                return b->ops[i].fused_ops > 1;
    return false;
}

/* Values pass through the fused groups the mapper chooses as through the ops apart; and
 * in a group add1..ln2 (named in a mapping, so it forms on every array) a wrong weight in
 * a middle stage (ffn2's, or ln1's at the end of the first segment) is caught: off by far
 * more than the tolerance, exit status 3 territory. */
START_TEST(test_functional_and_middle_faults)
{
    static const char *const fmodels[] = {"fabnet-image-1k", "bert-base-image-1k",
                                          "hybrid-butterfly-image-1k", "hybrid-fourier-image-1k"};
    static const char *const faults[] = {"ffn2", "ln1"};
    map_forced group = {.n = 1};
    group.f[0] = (map_force){.block = 0, .op = "add1", .fused_through = "ln2", .where = "test"};
    char err[512];
    for (size_t k = 0; k < 2; k++)
        for (size_t m = 0; m < sizeof fmodels / sizeof fmodels[0]; m++) {
            arch_desc a;
            wl_desc d;
            load_small(arches[k], fmodels[m], 64, 64, &a, &d);
            run_result r;
            ck_assert_msg(run_model(&a, &d, NULL, true, NULL, NULL, &r, err, sizeof err) == 0, "%s",
                          err);
            ck_assert_msg(r.check.pass, "%s on %s: error %g > tolerance %g", fmodels[m], arches[k],
                          r.check.max_abs_err, r.check.tolerance);
            run_free(&r);
            for (size_t f = 0; f < 2; f++) {
                run_result bad;
                ck_assert_msg(
                    run_model(&a, &d, &group, true, faults[f], NULL, &bad, err, sizeof err) == 0,
                    "%s", err);
                ck_assert_msg(in_group(&bad, faults[f]), "%s on %s: %s is not in a fused group",
                              fmodels[m], arches[k], faults[f]);
                ck_assert_msg(!bad.check.pass && bad.check.max_abs_err > 10 * bad.check.tolerance,
                              "%s on %s: a wrong %s weight went unnoticed (error %g, tolerance %g)",
                              fmodels[m], arches[k], faults[f], bad.check.max_abs_err,
                              bad.check.tolerance);
                run_free(&bad);
            }
        }
}
END_TEST

/* More DMA channels than a fused group has parts per tag: output slots still return
 * their credits in tag order, so the pipeline neither stalls nor reorders values (with 3
 * or 4 channels the Fourier mixer's phase here once stalled with 5 of 8 tags stored). */
START_TEST(test_dma_channels)
{
    char err[512];
    for (uint32_t ch = 1; ch <= 4; ch++) {
        arch_desc a;
        wl_desc d;
        load_small(arches[1], "fabnet-image-1k", 256, 128, &a, &d);
        a.dma.channels = ch;
        run_result r;
        ck_assert_msg(run_model(&a, &d, NULL, true, NULL, NULL, &r, err, sizeof err) == 0, "%s",
                      err);
        ck_assert_msg(in_group(&r, "ffn2"), "%u DMA channels: no fused group", ch);
        ck_assert_msg(r.check.pass, "%u DMA channels: error %g > tolerance %g", ch,
                      r.check.max_abs_err, r.check.tolerance);
        run_free(&r);
    }
}
END_TEST

/* --explain names the sequence FFT's plans and a fused group's pipeline: one line per
 * stage whose PEs add up to the chosen plan's, and one bottleneck, the slowest stage. */
START_TEST(test_explain_pipeline)
{
    char arch[512], wl[512];
    tu_src(arch, sizeof arch, "arch/mld-8x8.cfg");
    tu_src(wl, sizeof wl, "workloads/fabnet-image-1k.cfg");
    tu_result r;
    tu_run(&r, "--explain", "--set", "workload.seq_len=1024", "--set", "workload.hidden=128",
           "--set", "workload.ffn=256", "--set", "workload.heads=4", arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    const char *seq = strstr(r.out, "explain    block 0 mix-seq (fft-seq): ");
    ck_assert_ptr_nonnull(seq);
    const char *grp = strstr(seq, "explain    block 0 fused group o-proj..ln2: ");
    ck_assert_ptr_nonnull(grp);
    const char *mark = strstr(seq, "<- chosen");
    ck_assert_msg(mark && mark < grp, "no chosen sequence-FFT plan");
    const char *chosen = strstr(grp, "<- chosen");
    ck_assert_ptr_nonnull(chosen);
    const char *line = chosen;
    while (line > grp && line[-1] != '\n')
        line--;
    unsigned rows, pes;
    ck_assert_int_eq(
        sscanf(strstr(line, "fused: "), "fused: %u row%*s per tag, %u PEs", &rows, &pes), 2);
    const char *pipe = strstr(grp, "  pipeline: ");
    ck_assert_ptr_nonnull(pipe);
    unsigned sum = 0, bottlenecks = 0;
    double slowest = 0, marked = -1;
    for (const char *l = strchr(pipe, '\n') + 1; strncmp(l, "    ", 4) == 0;
         l = strchr(l, '\n') + 1) {
        const char *seg = strstr(l, " segment ");
        unsigned s_, n;
        double cyc;
        ck_assert_int_eq(sscanf(seg, " segment %u %u PEs %lf cycles/tag", &s_, &n, &cyc), 3);
        sum += n;
        slowest = cyc > slowest ? cyc : slowest;
        const char *end = strchr(l, '\n');
        const char *b = strstr(l, "<- bottleneck");
        if (b && b < end)
            bottlenecks++, marked = cyc;
    }
    ck_assert_uint_eq(sum, pes);
    ck_assert_uint_eq(bottlenecks, 1);
    ck_assert_double_eq(marked, slowest);
    tu_free(&r);
}
END_TEST

/* PE utilization is the MAC units' busy share, at most 100%, for the whole run and every
 * op, even where a fused attention's units work at once and its useful lane operations
 * exceed its lane-cycles. */
START_TEST(test_utilization_at_most_one)
{
    char arch[512], wl[512], json[512];
    tu_src(arch, sizeof arch, "arch/mld-8x8.cfg");
    tu_src(wl, sizeof wl, "workloads/bert-base-image-1k.cfg");
    tu_tmp(json, sizeof json, "u.json");
    tu_result r;
    tu_run(&r, "-q", "--json", json, "--set", "workload.seq_len=1024", "--set",
           "workload.hidden=256", "--set", "workload.ffn=512", "--set", "workload.heads=4", arch,
           wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    char *text = tu_read(json, NULL);
    const char *units[] = {"mac", "add", "mul", "max", "exp", "rcp"};
    for (size_t u = 0; u < 6; u++) {
        double v = tu_json_num(text, "\"unit_utilization\"", units[u]);
        ck_assert_msg(v >= 0 && v <= 1, "%s unit utilization %g", units[u], v);
    }
    ck_assert_double_le(tu_json_num(text, "\"results\"", "utilization"), 1);
    /* the fused attention op: over one useful lane op per lane and cycle, units at once */
    const char *att = strstr(text, "\"name\": \"attention\"");
    ck_assert_ptr_nonnull(att);
    ck_assert_double_le(tu_json_num(att, NULL, "utilization"), 1);
    ck_assert_double_gt(tu_json_num(att, NULL, "lane_op_rate"), 1);
    free(text);
}
END_TEST

/* Holds the estimate of every streaming group of r to 25% of the engine; returns how
 * many there were, and raises *worst to the largest error. */
static uint32_t check_streamed_estimates(const run_result *r, const char *model, const char *arch,
                                         double *worst)
{
    uint32_t n = 0;
    for (uint32_t b = 0; b < r->n_blocks; b++)
        for (uint32_t i = 0; i < r->blocks[b].n_ops; i++) {
            const run_op *o = &r->blocks[b].ops[i];
            if (!o->fused.n_stages || o->fused.weights == MAP_WEIGHTS_ANY)
                continue;
            double e = fabs((double)o->est_cycles / (double)o->cycles - 1);
            ck_assert_msg(e <= 0.25, "%s on %s, block %u %s (%s): estimate %llu, engine %llu",
                          model, arch, b, o->op.name,
                          o->fused.weights == MAP_WEIGHTS_KEPT ? "kept" : "reloaded",
                          (unsigned long long)o->est_cycles, (unsigned long long)o->cycles);
            *worst = e > *worst ? e : *worst;
            n++;
        }
    return n;
}

/* Streamed weights: with 1 KiB of PE buffer the FFN weights of BERT's and the hybrid
 * butterfly's blocks cannot stay in the PEs, so the group add1..ln2, named in a mapping
 * with weights = "kept", streams the weights of the tiles and runs that cannot hold them,
 * every tag (FABNet's butterflies still fit and do not stream). The values still pass the
 * reference check; the same plan with its weights reloaded from DRAM every tag reads more
 * DRAM than with them kept in the SPM (by (tags - 1) loads of the streamed weights); a
 * wrong ffn2 weight is caught. The estimate of every streaming group, kept and reloaded,
 * is held to 25% here (measured: worst 6.4%; test_streamed_estimate holds a wider sweep
 * tighter). Before a tag's reloaded parts were timed as their own DRAM requests the
 * hybrid butterfly's reloaded group on mld-8x8 came out 36% above the engine. */
START_TEST(test_streamed_weights)
{
    static const char *const smodels[] = {"bert-base-image-1k", "hybrid-butterfly-image-1k",
                                          "fabnet-image-1k"};
    char err[512];
    uint32_t streaming = 0;
    double worst = 0;
    for (size_t k = 0; k < 2; k++)
        for (size_t m = 0; m < sizeof smodels / sizeof smodels[0]; m++) {
            arch_desc a;
            wl_desc d;
            load_small(arches[k], smodels[m], 64, 64, &a, &d);
            a.pe.buffer_bytes = 1024;
            map_forced group = {.n = 1};
            group.f[0] = (map_force){.block = 0,
                                     .op = "add1",
                                     .fused_through = "ln2",
                                     .weights = MAP_WEIGHTS_KEPT,
                                     .where = "test"};
            run_result r;
            ck_assert_msg(run_model(&a, &d, &group, true, NULL, NULL, &r, err, sizeof err) == 0,
                          "%s", err);
            ck_assert_msg(r.check.pass, "%s on %s: error %g > tolerance %g", smodels[m], arches[k],
                          r.check.max_abs_err, r.check.tolerance);
            streaming += check_streamed_estimates(&r, smodels[m], arches[k], &worst);
            /* the first group's plan again, its weights kept and then reloaded */
            const run_op *g = &r.blocks[0].ops[0];
            for (uint32_t i = 0; !g->fused.n_stages; i++)
                g = &r.blocks[0].ops[i];
            if (g->fused.weights != MAP_WEIGHTS_ANY) {
                run_result kr[2];
                for (int w = 0; w < 2; w++) {
                    map_forced same = group;
                    map_force *f = &same.f[0];
                    f->rows_per_tag = g->fused.rows_per_tag, f->fold = g->fused.fold;
                    f->n_stage_pes = f->n_stage_steps = g->fused.n_stages;
                    for (uint32_t s = 0; s < g->fused.n_stages; s++)
                        f->stage_pes[s] = g->fused.stage[s].pes,
                        f->stage_steps[s] = g->fused.stage[s].steps;
                    f->weights = w ? MAP_WEIGHTS_RELOADED : MAP_WEIGHTS_KEPT;
                    ck_assert_msg(
                        run_model(&a, &d, &same, true, NULL, NULL, &kr[w], err, sizeof err) == 0,
                        "%s", err);
                    ck_assert(kr[w].check.pass);
                    streaming += check_streamed_estimates(&kr[w], smodels[m], arches[k], &worst);
                }
                ck_assert_uint_gt(kr[1].total.dram.read_bytes, kr[0].total.dram.read_bytes);
                run_free(&kr[0]);
                run_free(&kr[1]);
            }
            run_result bad;
            ck_assert_msg(run_model(&a, &d, &group, true, "ffn2", NULL, &bad, err, sizeof err) == 0,
                          "%s", err);
            ck_assert_msg(!bad.check.pass && bad.check.max_abs_err > 10 * bad.check.tolerance,
                          "%s on %s: a wrong streamed ffn2 weight went unnoticed", smodels[m],
                          arches[k]);
            run_free(&bad);
            run_free(&r);
        }
    printf("streamed weights: %u streaming groups, estimate worst error %.1f%%\n", streaming,
           100 * worst);
    ck_assert_uint_ge(streaming, 8);
}
END_TEST

/* The search streams weights on its own where no resident plan fits and streaming beats
 * the ops apart: BERT at 64 tokens, hidden 64, with 1 KiB of PE buffer on mld-8x8 (its
 * o-proj..ln2 group: 16,897 cycles streamed against 25,913 apart when measured). The
 * values pass the check, the model is never slower than op by op, and an entry with
 * weights = "resident" for the streaming group admits no plan. */
START_TEST(test_search_streams)
{
    char err[512];
    arch_desc a;
    wl_desc d;
    load_small("arch/mld-8x8.cfg", "bert-base-image-1k", 64, 64, &a, &d);
    a.pe.buffer_bytes = 1024;
    run_result r, p;
    ck_assert_msg(run_model(&a, &d, NULL, true, NULL, NULL, &r, err, sizeof err) == 0, "%s", err);
    ck_assert(r.check.pass);
    ck_assert_msg(run_model(&a, &d, &per_op, false, NULL, NULL, &p, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_uint_le(r.total.cycles, p.total.cycles);
    const run_op *g = NULL;
    for (uint32_t i = 0; i < r.blocks[0].n_ops && !g; i++)
        if (r.blocks[0].ops[i].fused_ops > 1 &&
            r.blocks[0].ops[i].fused.weights != MAP_WEIGHTS_ANY)
            g = &r.blocks[0].ops[i];
    ck_assert_msg(g, "no group of block 0 streams its weights");
    map_forced resident = {.n = 1};
    resident.f[0] = (map_force){.block = 0, .weights = MAP_WEIGHTS_RESIDENT, .where = "test"};
    snprintf(resident.f[0].op, sizeof resident.f[0].op, "%s", g->op.name);
    snprintf(resident.f[0].fused_through, sizeof resident.f[0].fused_through, "%s",
             (g + g->fused_ops - 1)->op.name);
    run_result x;
    ck_assert_int_eq(run_model(&a, &d, &resident, false, NULL, NULL, &x, err, sizeof err),
                     UTIL_ECONFIG);
    ck_assert_msg(strstr(err, "no plan of the fused group"), "%s", err);
    printf("search streams: %s..%s, %llu cycles against %llu op by op\n", g->op.name,
           (g + g->fused_ops - 1)->op.name, (unsigned long long)r.total.cycles,
           (unsigned long long)p.total.cycles);
    run_free(&r);
    run_free(&p);
    /* wherever the search streams (1 KiB buffers: BERT and the hybrid butterfly, hidden 64
     * and 128, the three arrays), the model is never slower than op by op */
    static const char *const smodels[] = {"bert-base-image-1k", "hybrid-butterfly-image-1k"};
    uint32_t streamed = 0;
    for (size_t k = 0; k < sizeof arches / sizeof arches[0]; k++)
        for (size_t m = 0; m < 2; m++)
            for (uint64_t h = 64; h <= 128; h *= 2) {
                load_small(arches[k], smodels[m], 64, h, &a, &d);
                a.pe.buffer_bytes = 1024;
                ck_assert_msg(run_model(&a, &d, NULL, false, NULL, NULL, &r, err, sizeof err) == 0,
                              "%s", err);
                ck_assert_msg(
                    run_model(&a, &d, &per_op, false, NULL, NULL, &p, err, sizeof err) == 0, "%s",
                    err);
                ck_assert_msg(r.total.cycles <= p.total.cycles,
                              "%s on %s, hidden %llu: fused %llu cycles, op by op %llu",
                              smodels[m], arches[k], (unsigned long long)h,
                              (unsigned long long)r.total.cycles, (unsigned long long)p.total.cycles);
                for (uint32_t b = 0; b < r.n_blocks; b++)
                    for (uint32_t i = 0; i < r.blocks[b].n_ops; i++)
                        streamed += r.blocks[b].ops[i].fused_ops > 1 &&
                                    r.blocks[b].ops[i].fused.weights != MAP_WEIGHTS_ANY;
                run_free(&r);
                run_free(&p);
            }
    printf("search streams: %u groups over 12 models at 1 KiB\n", streamed);
    ck_assert_uint_ge(streamed, 4);
}
END_TEST

/* The estimate of streaming groups over a sweep: add1..ln2 of BERT and the hybrid
 * butterfly at 64 tokens on the three arrays, hidden 64 and 128, 1 and 2 KiB of PE
 * buffer, weights kept and reloaded (shapes no plan fits are skipped). Measured: 26
 * groups, mean error 3.7%, worst 11.0%; before the parts' DRAM requests, the first tag's
 * DRAM loads of kept parts and the staging and DMA times were fixed: mean 12.9%, worst
 * 42.7%. Each group is held to 15% (what the estimate leaves out: parts waiting for SPM
 * banks while they hold a DMA channel) and the mean to 5%. */
START_TEST(test_streamed_estimate)
{
    static const char *const smodels[] = {"bert-base-image-1k", "hybrid-butterfly-image-1k"};
    static const map_weights where[] = {MAP_WEIGHTS_KEPT, MAP_WEIGHTS_RELOADED};
    char err[512];
    uint32_t n = 0;
    double sum = 0;
    for (size_t k = 0; k < sizeof arches / sizeof arches[0]; k++)
        for (size_t m = 0; m < sizeof smodels / sizeof smodels[0]; m++)
            for (uint64_t h = 64; h <= 128; h *= 2)
                for (uint64_t kb = 1; kb <= 2; kb++)
                    for (size_t w = 0; w < 2; w++) {
                        arch_desc a;
                        wl_desc d;
                        load_small(arches[k], smodels[m], 64, h, &a, &d);
                        a.pe.buffer_bytes = 1024 * kb;
                        map_forced group = {.n = 1};
                        group.f[0] = (map_force){.block = 0,
                                                 .op = "add1",
                                                 .fused_through = "ln2",
                                                 .weights = where[w],
                                                 .where = "test"};
                        run_result r;
                        if (run_model(&a, &d, &group, false, NULL, NULL, &r, err, sizeof err))
                            continue; /* no plan of this shape fits */
                        /* (the entry's group: others the search streams are not swept) */
                        const run_op *o = NULL;
                        for (uint32_t i = 0; i < r.blocks[0].n_ops && !o; i++)
                            if (!strcmp(r.blocks[0].ops[i].op.name, "add1"))
                                o = &r.blocks[0].ops[i];
                        ck_assert(o && o->fused_ops > 1);
                        if (o->fused.weights != MAP_WEIGHTS_ANY) {
                            double e = fabs((double)o->est_cycles / (double)o->cycles - 1);
                            ck_assert_msg(e <= 0.15, "%s on %s, hidden %llu, %llu KiB: %.1f%%",
                                          smodels[m], arches[k], (unsigned long long)h,
                                          (unsigned long long)kb, 100 * e);
                            n++, sum += e;
                        }
                        run_free(&r);
                    }
    printf("streamed estimate: %u groups, mean error %.1f%%\n", n, n ? 100 * sum / n : 0);
    ck_assert_uint_ge(n, 24);
    ck_assert_double_le(sum / n, 0.05);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fuse");
    TCase *tc = tcase_create("fuse");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_never_slower_and_estimated);
    tcase_add_test(tc, test_functional_and_middle_faults);
    tcase_add_test(tc, test_dma_channels);
    tcase_add_test(tc, test_streamed_weights);
    tcase_add_test(tc, test_streamed_estimate);
    tcase_add_test(tc, test_search_streams);
    tcase_add_test(tc, test_explain_pipeline);
    tcase_add_test(tc, test_utilization_at_most_one);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
