/* report.c: writes a run's results as text, JSON and CSV, without timestamps. */
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The accelerator's time and energy (d) against baseline b, whose module idles at floor_w
 * beyond the accelerator's own DRAM background. */
static void versus(const rep_derived *d, const gpu_totals *b, double floor_w, rep_versus *v)
{
    double s = d->time_us * 1e-6, j = d->has_energy ? d->energy.total_pj * 1e-12 : 0;
    v->seconds = b->seconds;
    v->joules = b->joules;
    v->speedup = s > 0 ? b->seconds / s : 0;
    v->energy_ratio = j > 0 ? b->joules / j : 0;
    v->module_energy_ratio = j > 0 ? b->joules / (j + floor_w * s) : 0;
}

double rep_module_floor_w(const arch_desc *a, const gpu_desc *g)
{
    double w = g->power.idle_w - a->energy.dram_leak_mw * 1e-3;
    return w > 0 ? w : 0;
}

void rep_step(const wl_desc *w, char *buf, size_t len)
{
    if (w->new_tokens)
        snprintf(buf, len, "decode step: %llu new token%s against a K/V cache of %llu",
                 (unsigned long long)w->seq_len, w->seq_len == 1 ? "" : "s",
                 (unsigned long long)w->kv_len);
    else
        snprintf(buf, len, "seq_len %llu", (unsigned long long)w->seq_len);
}

/* Attention block instances of a model (each keeps its own K/V cache). */
static uint64_t attention_blocks(const wl_desc *w)
{
    uint64_t n = 0;
    for (uint32_t b = 0; b < w->n_blocks; b++)
        n += w->blocks[b].mixer == WL_MIX_ATTENTION ? w->blocks[b].repeat : 0;
    return n;
}

void rep_derive(const rep_run *r, rep_derived *d)
{
    const arch_desc *a = r->arch;
    const eng_stats *st = r->st;
    wl_butterfly b;
    wl_butterfly_from_desc(r->wl, &b);
    memset(d, 0, sizeof *d);
    d->lanes = arch_lanes(a, r->wl->dtype);
    d->time_us = (double)st->cycles / (a->clock_ghz * 1e3);
    d->useful_ops = st->lane_ops;
    wl_totals tot = {0, 0, 0};
    if (r->model)
        wl_model_totals(r->wl, &tot);
    d->flops = r->model ? tot.flops : wl_butterfly_flops(&b);
    uint64_t peak = (uint64_t)arch_pe_count(a) * d->lanes;
    double pe_cycles = (double)arch_pe_count(a) * (double)st->cycles;
    d->lane_op_rate = st->cycles ? (double)d->useful_ops / ((double)peak * (double)st->cycles) : 0;
    for (int k = 0; k < ARCH_FU_COUNT; k++) {
        d->busy_lane_cycles += st->pe_total.fu_vec_ops[k] * d->lanes;
        d->unit_util[k] = pe_cycles > 0 ? (double)st->pe_total.fu_busy[k] / pe_cycles : 0;
    }
    d->utilization = d->unit_util[ARCH_FU_MAC];
    d->compute_bound = util_ceil_div(d->useful_ops, peak);
    d->dram_bytes = st->dram.read_bytes + st->dram.write_bytes;
    double bpc = arch_dram_bytes_per_cycle(a);
    d->dram_bound = (uint64_t)ceil((double)d->dram_bytes / bpc - 1e-9);
    /* models: read the input and every weight once, write the output once; a decode step
     * also reads every attention block's K/V cache once */
    d->compulsory_bytes = r->model
                              ? (2 * r->wl->batch * r->wl->seq_len * r->wl->hidden + tot.weights +
                                 2 * r->wl->kv_len * r->wl->hidden * attention_blocks(r->wl)) *
                                    util_dtype_bytes(r->wl->dtype)
                              : map_butterfly_compulsory_bytes(&b);
    d->compulsory_bound = (uint64_t)ceil((double)d->compulsory_bytes / bpc - 1e-9);
    uint32_t cut = arch_bisection_links(a);
    d->noc_bound = cut ? util_ceil_div(st->noc.bisection_flits, 2 * (uint64_t)cut) : 0;
    /* (the analytical mode prices its estimated action counts) */
    d->has_energy = a->energy.present;
    if (d->has_energy)
        en_compute(a, r->wl->dtype, st, d->flops, &d->energy);
    d->area_mm2 = arch_area_mm2(a, d->area_parts);
    d->gops_per_mm2 =
        d->area_mm2 > 0 && d->time_us > 0 ? (double)d->flops / (d->time_us * 1e3) / d->area_mm2 : 0;
    d->has_baseline = r->baseline != NULL;
    if (d->has_baseline) {
        double floor_w = rep_module_floor_w(a, r->gpu);
        versus(d, &r->baseline->gpu, floor_w, &d->gpu);
        versus(d, &r->baseline->coexec, floor_w, &d->coexec);
    }
}

/* ---------------------------------------------------------------- text */

#define ANALYTICAL_NOTE ", estimated in closed form (--model analytical)"

static void mapping_line(FILE *f, const map_result *m)
{
    fprintf(f, "mapping    %s: %u pass%s (stages", m->strategy, m->passes,
            m->passes == 1 ? "" : "es");
    for (uint32_t p = 0; p < m->passes; p++)
        fprintf(f, "%s %u-%u", p ? "," : "", m->first_stage[p],
                m->first_stage[p] + m->stages[p] - 1);
    fprintf(f, "), %u pipeline%s of layers of %u PE%s, tags of ", m->pipelines,
            m->pipelines == 1 ? "" : "s", m->rows_used, m->rows_used == 1 ? "" : "s");
    if (m->pipelines > 1)
        fprintf(f, "%u x ", m->pipelines);
    fprintf(f, "%llu elements", (unsigned long long)m->tag_elems);
    const char *each = m->pipelines > 1 ? " each" : "";
    if (m->vectors_per_tag)
        fprintf(f, " (%llu vector%s%s)", (unsigned long long)m->vectors_per_tag,
                m->vectors_per_tag == 1 ? "" : "s", each);
    else
        fprintf(f, " (1/%llu of a vector%s)", (unsigned long long)m->chunks, each);
    fprintf(f, ", %llu tags\n", (unsigned long long)m->tags);
}

/* The summary's arch line. */
static void arch_line(FILE *f, const rep_run *r, const rep_derived *d)
{
    const arch_desc *a = r->arch;
    fprintf(f, "arch       %s (%s): %ux%u PEs x %u lanes (%s), %.3g GHz, %u nm\n", a->name,
            r->arch_file, a->array.rows, a->array.cols, d->lanes, util_dtype_name(r->wl->dtype),
            a->clock_ghz, a->tech_nm);
}

/* A summary figure to 4 significant digits, or whole when it is larger (16692, not
 * 1.669e+04), after text and before unit. */
static void put_fig(FILE *f, const char *text, double v, const char *unit)
{
    if (fabs(v) >= 9999.5 && fabs(v) < 1e15) /* %.4g would print 9999.7 as 1e+04 */
        fprintf(f, "%s%.0f%s", text, v, unit);
    else
        fprintf(f, "%s%.4g%s", text, v, unit);
}

/* The summary's energy line: total, breakdown, power, efficiency, EDP. */
static void energy_line(FILE *f, const rep_run *r, const rep_derived *d)
{
    if (!d->has_energy) {
        fprintf(f, "energy     no energy table (add energy = { table = \"energy/NODE.cfg\"; } to "
                   "the arch file)\n");
        return;
    }
    const en_result *e = &d->energy;
    fprintf(f, "energy     %.6g uJ:", e->total_pj * 1e-6);
    for (int p = 0; p < EN_PART_COUNT; p++) {
        fprintf(f, "%s %s", p ? "," : "", en_part_name((en_part)p));
        put_fig(f, " ", e->part_pj[p] * 1e-6, "");
    }
    put_fig(f, " uJ; ", e->watts, " W average");
    put_fig(f, ", ", e->gops_per_w, " GOPS/W");
    fprintf(f, ", EDP %.4g J s (table %s)\n", e->edp_js, r->arch->energy.table);
    if (d->area_mm2 <= 0) /* (a table without an area group) */
        return;
    put_fig(f, "area       ", d->area_mm2, " mm2:");
    for (int p = 0; p < ARCH_AREA_PART_COUNT; p++) {
        fprintf(f, "%s %s", p ? "," : "", arch_area_part_name((arch_area_part)p));
        put_fig(f, " ", d->area_parts[p], "");
    }
    put_fig(f, " mm2 at ", r->arch->tech_nm, " nm (docs/AREA.md); ");
    put_fig(f, "", d->gops_per_mm2, " GOPS/mm2\n");
}

/* The summary's baseline lines: the GPU's and GPU+CPU's time and energy for the same
 * workload, and the accelerator's speedup and energy-efficiency ratio over each. */
static void baseline_lines(FILE *f, const rep_run *r, const rep_derived *d)
{
    if (!d->has_baseline)
        return;
    const gpu_result *g = r->baseline;
    bool named = strcmp(r->gpu->name, r->gpu_file) == 0;
    fprintf(f, "baseline   %s (%s%s%sanalytical GPU model):", r->gpu->name, named ? "" : "from ",
            named ? "" : r->gpu_file, named ? "" : ", ");
    put_fig(f, " GPU ", g->gpu.seconds * 1e3, " ms");
    put_fig(f, ", ", g->gpu.joules * 1e3, " mJ");
    put_fig(f, ", ", g->gpu.watts, " W");
    put_fig(f, ", ", g->gpu.gops_per_w, " GOPS/W");
    put_fig(f, "; GPU+CPU ", g->coexec.seconds * 1e3, " ms");
    put_fig(f, ", ", g->coexec.joules * 1e3, " mJ\n");
    put_fig(f, "speedup    ", d->gpu.speedup, "x over the GPU");
    put_fig(f, ", ", d->coexec.speedup, "x over GPU+CPU");
    if (d->has_energy) {
        put_fig(f, "; energy efficiency ", d->gpu.energy_ratio, "x");
        put_fig(f, " and ", d->coexec.energy_ratio, "x");
        put_fig(f, " (chip and DRAM against the module; on the module, its ",
                rep_module_floor_w(r->arch, r->gpu), " W idle floor added: ");
        put_fig(f, "", d->gpu.module_energy_ratio, "x");
        put_fig(f, " and ", d->coexec.module_energy_ratio, "x)\n");
    } else
        fprintf(f, "; energy efficiency n/a (no energy table)\n");
}

/* The summary's utilization and lower-bound lines (and the energy and baseline lines). */
static void util_lines(FILE *f, const rep_run *r, const rep_derived *d)
{
    const arch_desc *a = r->arch;
    fprintf(f,
            "PE util    MAC units %.2f%% busy (exp %.2f%%, rcp %.2f%%), of %u PEs x %u lanes; "
            "useful lane ops %.2f%% of lane-cycles\n",
            100.0 * d->utilization, 100.0 * d->unit_util[ARCH_FU_EXP],
            100.0 * d->unit_util[ARCH_FU_RCP], arch_pe_count(a), d->lanes, 100.0 * d->lane_op_rate);
    fprintf(f,
            "bounds     compute %llu cycles, DRAM traffic %llu cycles, compulsory DRAM %llu "
            "cycles, NoC bisection ",
            (unsigned long long)d->compute_bound, (unsigned long long)d->dram_bound,
            (unsigned long long)d->compulsory_bound);
    if (r->analytical || (r->model && r->model->analytical))
        fprintf(f, "n/a (the estimate does not count bisection flits)\n");
    else
        fprintf(f, "%llu cycles\n", (unsigned long long)d->noc_bound);
    energy_line(f, r, d);
    baseline_lines(f, r, d);
    rep_peer_versus_lines(f, r, d->time_us * 1e-6, d->has_energy ? d->energy.total_pj : 0);
}

void rep_summary(FILE *f, const rep_run *r)
{
    if (r->model) {
        rep_model_summary(f, r);
        return;
    }
    const arch_desc *a = r->arch;
    const wl_desc *w = r->wl;
    const eng_stats *st = r->st;
    rep_derived d;
    rep_derive(r, &d);
    fprintf(f, "bflysim %s\n", r->version);
    arch_line(f, r, &d);
    fprintf(f, "workload   %s (%s): %s n=%llu rows=%llu %s, %u stages, %s twiddles seed %llu\n",
            w->name, r->wl_file, wl_kind_name(w->kind), (unsigned long long)w->n,
            (unsigned long long)w->rows, util_dtype_name(w->dtype), util_log2(w->n),
            wl_init_name(w->init), (unsigned long long)w->seed);
    mapping_line(f, r->map);
    fprintf(f, "cycles     %llu (%.3f us)%s\n", (unsigned long long)st->cycles, d.time_us,
            r->analytical ? ANALYTICAL_NOTE : "");
    fprintf(f, "work       %llu useful lane ops (a MAC counts 1), %llu flops\n",
            (unsigned long long)d.useful_ops, (unsigned long long)d.flops);
    util_lines(f, r, &d);
    if (r->analytical)
        fprintf(f, "DRAM       read %llu B, write %llu B\n",
                (unsigned long long)st->dram.read_bytes, (unsigned long long)st->dram.write_bytes);
    else
        fprintf(f, "DRAM       read %llu B (%llu bursts), write %llu B (%llu bursts)\n",
                (unsigned long long)st->dram.read_bytes, (unsigned long long)st->dram.read_bursts,
                (unsigned long long)st->dram.write_bytes,
                (unsigned long long)st->dram.write_bursts);
    fprintf(f, "SPM        %llu reads, %llu writes (%u-byte words)",
            (unsigned long long)st->spm.reads, (unsigned long long)st->spm.writes,
            a->spm.width_bytes);
    if (!r->analytical) /* the estimate has no contention figures */
        fprintf(f, ", %llu bank conflicts (%llu cycles)", (unsigned long long)st->spm.conflicts,
                (unsigned long long)st->spm.conflict_cycles);
    fprintf(f,
            "\nNoC        %llu messages, %llu flits, %llu flit-hops (%llu on skip links, %llu "
            "across the bisection)",
            (unsigned long long)st->noc.messages, (unsigned long long)st->noc.flits,
            (unsigned long long)st->noc.flit_hops, (unsigned long long)st->noc.skip_flit_hops,
            (unsigned long long)st->noc.bisection_flits);
    if (!r->analytical)
        fprintf(f, ", %llu cycles waiting for links", (unsigned long long)st->noc.wait_cycles);
    fputc('\n', f);
    if (r->functional && r->check) {
        const ref_compare *c = r->check;
        fprintf(f,
                "functional %s: %llu of %llu elements outside the rounding-error bound "
                "(worst %.3g of its bound, relative L2 error %.3g)\n",
                c->violations ? "MISMATCH" : "pass", (unsigned long long)c->violations,
                (unsigned long long)c->count, c->worst_ratio, c->rel_l2_err);
    }
}

/* ---------------------------------------------------------------- JSON */

/* MAC-unit utilization, every unit's, and the useful lane-op rate. */
static void j_utilization(jw *j, const rep_derived *d)
{
    j_d(j, "utilization", d->utilization);
    j_open(j, "unit_utilization", '{');
    for (int k = 0; k < ARCH_FU_COUNT; k++)
        j_d(j, arch_fu_name((arch_fu_kind)k), d->unit_util[k]);
    j_close(j, '}');
    j_d(j, "lane_op_rate", d->lane_op_rate);
}

/* A fused group's plan: its ops (ops[0..n)), rows per tag, segments, fold and pipeline
 * stages with their PEs and cycles per tag, the bottleneck marked. */
static void j_fused(jw *j, const map_fuse_result *g, const run_op *ops, uint32_t n)
{
    j_open(j, "fused", '{');
    j_open(j, "members", '[');
    for (uint32_t k = 0; k < n; k++) {
        j_sep(j);
        j_str(j->f, ops[k].op.name);
    }
    j_close(j, ']');
    j_u(j, "rows_per_tag", g->rows_per_tag);
    j_u(j, "segments", g->segments);
    j_u(j, "fold", g->fold);
    j_open(j, "stages", '[');
    for (uint32_t k = 0; k < g->n_stages; k++) {
        const map_fuse_stage *st = &g->stage[k];
        j_open(j, NULL, '{');
        j_s(j, "stage", st->what);
        j_u(j, "segment", st->segment);
        j_u(j, "pes", st->pes);
        j_u(j, "steps", st->steps);
        j_d(j, "cycles_per_tag", st->tag_cycles);
        j_b(j, "bottleneck", k == g->bottleneck);
        j_close(j, '}');
    }
    j_close(j, ']');
    j_close(j, '}');
}

static void j_shortlist(jw *j, const map_shortlist *l)
{
    j_u(j, "candidates_scored", l->n_scored);
    j_open(j, "candidates", '[');
    for (uint32_t k = 0; k < l->n; k++) {
        j_open(j, NULL, '{');
        j_s(j, "mapping", l->c[k].desc);
        j_u(j, "estimated_cycles", l->c[k].cycles);
        j_s(j, "bottleneck", l->c[k].bottleneck);
        j_b(j, "chosen", k == l->chosen);
        j_close(j, '}');
    }
    j_close(j, ']');
}

static void j_pe(jw *j, const eng_pe_stats *p)
{
    j_u(j, "fires", p->fires);
    j_u(j, "lane_ops", p->lane_ops);
    j_open(j, "fu_busy_cycles", '{');
    for (int k = 0; k < ARCH_FU_COUNT; k++)
        j_u(j, arch_fu_name((arch_fu_kind)k), p->fu_busy[k]);
    j_close(j, '}');
    j_open(j, "fu_vector_ops", '{');
    for (int k = 0; k < ARCH_FU_COUNT; k++)
        j_u(j, arch_fu_name((arch_fu_kind)k), p->fu_vec_ops[k]);
    j_close(j, '}');
    j_u(j, "buffer_writes", p->buf_writes);
    j_u(j, "buffer_reads", p->buf_reads);
    j_u(j, "weight_elems", p->weight_elems);
    j_u(j, "configs", p->configs);
    j_u(j, "flits_out", p->flits_out);
}

/* The energy: totals, breakdown and every priced action (count, price, energy), so that
 * a user can re-price the counts with another table. */
static void j_energy(jw *j, const rep_run *r, const rep_derived *d)
{
    j_open(j, "energy", '{');
    j_b(j, "priced", d->has_energy);
    if (d->has_energy) {
        const en_result *e = &d->energy;
        j_s(j, "table", r->arch->energy.table);
        j_d(j, "total_pj", e->total_pj);
        j_d(j, "dynamic_pj", e->dynamic_pj);
        j_open(j, "breakdown_pj", '{');
        for (int p = 0; p < EN_PART_COUNT; p++)
            j_d(j, en_part_name((en_part)p), e->part_pj[p]);
        j_close(j, '}');
        j_d(j, "seconds", e->seconds);
        j_d(j, "average_power_w", e->watts);
        j_d(j, "gops_per_w", e->gops_per_w);
        j_d(j, "edp_j_s", e->edp_js);
        static const char *const keys[ARCH_AREA_PART_COUNT] = {
            "datapath", "pe_buffers", "pe_control", "spm", "noc", "dma_and_controller"};
        j_open(j, "area_mm2", '{');
        j_d(j, "total", d->area_mm2);
        for (int p = 0; p < ARCH_AREA_PART_COUNT; p++)
            j_d(j, keys[p], d->area_parts[p]);
        j_close(j, '}');
        j_d(j, "gops_per_mm2", d->gops_per_mm2);
        j_open(j, "actions", '[');
        for (uint32_t i = 0; i < e->n; i++) {
            const en_action *x = &e->act[i];
            j_open(j, NULL, '{');
            j_s(j, "name", x->name);
            j_s(j, "part", en_part_name(x->part));
            j_d(j, "count", x->count);
            j_s(j, "count_unit", x->unit);
            j_d(j, "price", x->price);
            j_s(j, "price_unit", x->price_unit);
            j_d(j, "pj", x->pj);
            j_close(j, '}');
        }
        j_close(j, ']');
    }
    j_close(j, '}');
}

static void j_versus(jw *j, const char *k, const rep_versus *v, bool has_energy)
{
    j_open(j, k, '{');
    j_d(j, "seconds", v->seconds);
    j_d(j, "joules", v->joules);
    j_d(j, "speedup", v->speedup);
    if (has_energy) {
        j_d(j, "energy_efficiency", v->energy_ratio);
        j_d(j, "energy_efficiency_module", v->module_energy_ratio);
    }
    j_close(j, '}');
}

/* The GPU baseline: totals, the accelerator's ratios, and every op as the GPU runs it. */
static void j_baseline(jw *j, const rep_run *r, const rep_derived *d)
{
    if (!d->has_baseline)
        return;
    const gpu_result *g = r->baseline;
    j_open(j, "baseline", '{');
    j_s(j, "preset", r->gpu->name);
    j_s(j, "file", r->gpu_file);
    j_d(j, "kernels", g->kernels);
    j_d(j, "gpu_watts", g->gpu.watts);
    j_d(j, "gpu_gops_per_w", g->gpu.gops_per_w);
    j_d(j, "cpu_seconds", g->cpu_seconds);
    j_versus(j, "gpu", &d->gpu, d->has_energy);
    j_versus(j, "gpu_cpu", &d->coexec, d->has_energy);
    j_open(j, "ops", '[');
    for (uint32_t i = 0; i < g->n_rows; i++) {
        const gpu_op_row *o = &g->row[i];
        j_open(j, NULL, '{');
        j_u(j, "block", o->block);
        j_s(j, "op", o->name);
        j_s(j, "kind", wl_op_kind_name(o->kind));
        j_u(j, "repeat", o->repeat);
        j_s(j, "class", gpu_class_name(o->cls));
        j_s(j, "bound", gpu_bound_name(o->bound));
        j_u(j, "kernels", o->kernels);
        j_d(j, "flops", o->flops);
        j_d(j, "bytes", o->bytes);
        j_d(j, "seconds", o->seconds);
        j_d(j, "joules", o->joules);
        j_d(j, "gpu_cpu_seconds", o->co_seconds);
        j_d(j, "gpu_cpu_joules", o->co_joules);
        j_d(j, "cpu_share", o->co_share);
        j_close(j, '}');
    }
    j_close(j, ']');
    j_close(j, '}');
}

/* Every counter of a run: totals, NoC, SPM, DMA, DRAM and every PE. */
static void j_counters(jw *j, const arch_desc *a, const eng_stats *st)
{
    j_open(j, "counters", '{');
    j_u(j, "events", st->events);
    j_u(j, "tags", st->tags);
    j_open(j, "pe_total", '{');
    j_pe(j, &st->pe_total);
    j_close(j, '}');
    j_open(j, "noc", '{');
    j_u(j, "messages", st->noc.messages);
    j_u(j, "flits", st->noc.flits);
    j_u(j, "flit_hops", st->noc.flit_hops);
    j_u(j, "skip_flit_hops", st->noc.skip_flit_hops);
    j_u(j, "bisection_flits", st->noc.bisection_flits);
    j_u(j, "router_traversals", st->noc.router_traversals);
    j_u(j, "wait_cycles", st->noc.wait_cycles);
    j_close(j, '}');
    j_open(j, "spm", '{');
    j_u(j, "reads", st->spm.reads);
    j_u(j, "writes", st->spm.writes);
    j_u(j, "read_bytes", st->spm.read_bytes);
    j_u(j, "write_bytes", st->spm.write_bytes);
    j_u(j, "bank_conflicts", st->spm.conflicts);
    j_u(j, "bank_conflict_cycles", st->spm.conflict_cycles);
    j_close(j, '}');
    j_open(j, "dma", '{');
    j_u(j, "descriptors", st->dma.descriptors);
    j_u(j, "bytes", st->dma.bytes);
    j_close(j, '}');
    j_open(j, "dram", '{');
    j_u(j, "read_bursts", st->dram.read_bursts);
    j_u(j, "write_bursts", st->dram.write_bursts);
    j_u(j, "read_bytes", st->dram.read_bytes);
    j_u(j, "write_bytes", st->dram.write_bytes);
    j_u(j, "channel_busy_cycles", st->dram.busy_cycles);
    j_close(j, '}');
    j_open(j, "pes", '[');
    for (uint32_t i = 0; i < st->n_pes; i++) {
        j_open(j, NULL, '{');
        j_u(j, "row", i / a->array.cols);
        j_u(j, "col", i % a->array.cols);
        j_pe(j, &st->pe[i]);
        j_close(j, '}');
    }
    j_close(j, ']');
    j_close(j, '}');
}

void rep_json(FILE *f, const rep_run *r)
{
    if (r->model) {
        rep_model_json(f, r);
        return;
    }
    const arch_desc *a = r->arch;
    const wl_desc *w = r->wl;
    const map_result *m = r->map;
    const eng_stats *st = r->st;
    rep_derived d;
    rep_derive(r, &d);
    jw j = {f, 0, true};
    j_open(&j, NULL, '{');
    j_s(&j, "bflysim", r->version);
    j_invocation(&j, r->argc, r->argv, r->overrides, r->n_overrides);

    j_open(&j, "arch", '{');
    j_s(&j, "name", a->name);
    j_s(&j, "file", r->arch_file);
    j_d(&j, "clock_ghz", a->clock_ghz);
    j_u(&j, "tech_nm", a->tech_nm);
    j_u(&j, "rows", a->array.rows);
    j_u(&j, "cols", a->array.cols);
    j_u(&j, "lanes", d.lanes);
    j_u(&j, "pe_buffer_bytes", a->pe.buffer_bytes);
    j_u(&j, "pe_tags", a->pe.tags);
    j_u(&j, "link_bits", a->noc.link_bits);
    j_u(&j, "spm_bytes", arch_spm_bytes(a));
    j_d(&j, "dram_bandwidth_gbs", a->dram.bandwidth_gbs);
    j_close(&j, '}');

    j_open(&j, "workload", '{');
    j_s(&j, "name", w->name);
    j_s(&j, "file", r->wl_file);
    j_s(&j, "kind", wl_kind_name(w->kind));
    j_u(&j, "n", w->n);
    j_u(&j, "rows", w->rows);
    j_s(&j, "dtype", util_dtype_name(w->dtype));
    j_u(&j, "seed", w->seed);
    j_s(&j, "init", wl_init_name(w->init));
    j_close(&j, '}');

    j_open(&j, "mapping", '{');
    j_s(&j, "strategy", m->strategy);
    j_open(&j, "passes", '[');
    for (uint32_t p = 0; p < m->passes; p++) {
        j_open(&j, NULL, '{');
        j_u(&j, "first_stage", m->first_stage[p]);
        j_u(&j, "stages", m->stages[p]);
        j_close(&j, '}');
    }
    j_close(&j, ']');
    j_u(&j, "rows_used", m->rows_used);
    j_u(&j, "pipelines", m->pipelines);
    j_u(&j, "tag_elems", m->tag_elems);
    j_u(&j, "vectors_per_tag", m->vectors_per_tag);
    j_u(&j, "chunks_per_vector", m->chunks);
    j_u(&j, "phases", m->program.n_phases);
    j_u(&j, "tags", m->tags);
    j_s(&j, "intermediates", m->passes < 2 ? "none" : m->block_rows ? "spm" : "dram");
    j_u(&j, "block_rows", m->block_rows);
    j_shortlist(&j, &m->shortlist);
    j_close(&j, '}');

    j_open(&j, "results", '{');
    j_s(&j, "mode", r->analytical ? "analytical" : "cycle");
    if (!r->analytical)
        j_s(&j, "engine", r->engine ? r->engine : "native");
    j_u(&j, "cycles", st->cycles);
    j_d(&j, "time_us", d.time_us);
    j_u(&j, "useful_ops", d.useful_ops);
    j_u(&j, "flops", d.flops);
    j_utilization(&j, &d);
    j_u(&j, "busy_lane_cycles", d.busy_lane_cycles);
    j_u(&j, "compute_bound_cycles", d.compute_bound);
    j_u(&j, "dram_bound_cycles", d.dram_bound);
    j_u(&j, "compulsory_dram_bytes", d.compulsory_bytes);
    j_u(&j, "compulsory_dram_bound_cycles", d.compulsory_bound);
    j_u(&j, "noc_bisection_bound_cycles", d.noc_bound);
    j_close(&j, '}');

    j_counters(&j, a, st);
    j_energy(&j, r, &d);
    j_baseline(&j, r, &d);
    rep_peer_versus_json(&j, r, d.time_us * 1e-6, d.has_energy ? d.energy.total_pj : 0);

    j_open(&j, "functional", '{');
    j_b(&j, "checked", r->functional && r->check);
    if (r->functional && r->check) {
        j_u(&j, "elements", r->check->count);
        j_u(&j, "violations", r->check->violations);
        j_d(&j, "worst_error_to_bound", r->check->worst_ratio);
        j_d(&j, "max_abs_error", r->check->max_abs_err);
        j_d(&j, "relative_l2_error", r->check->rel_l2_err);
    }
    j_close(&j, '}');
    j_close(&j, '}');
    fputc('\n', f);
}

/* v as a float that YAML 1.1 readers take for one: PyYAML reads "2e-05" as a string, so
 * the mantissa always gets a point. */
static void yaml_float(FILE *f, double v)
{
    char s[40];
    snprintf(s, sizeof s, "%.12g", v);
    const char *e = strchr(s, 'e');
    if (strchr(s, '.'))
        fputs(s, f);
    else if (e)
        fprintf(f, "%.*s.0%s", (int)(e - s), s, e);
    else
        fprintf(f, "%s.0", s);
}

/* The rows as Accelergy 0.4's action counts (counts) or as its energy reference table
 * (ert: the pJ of one action); a component's rows are consecutive. */
static void accelergy_list(FILE *f, const en_ac_row *rows, uint32_t n, bool ert)
{
    fprintf(f, "%s:\n  version: 0.4\n  %s:\n", ert ? "ERT" : "action_counts",
            ert ? "tables" : "local");
    for (uint32_t i = 0; i < n; i++) {
        if (!i || strcmp(rows[i].component, rows[i - 1].component) != 0)
            fprintf(f, "  - name: %s\n    %s:\n", rows[i].component,
                    ert ? "actions" : "action_counts");
        fprintf(f, "    - name: %s\n", rows[i].action);
        if (ert) {
            fputs("      arguments: null\n      energy: ", f);
            yaml_float(f, rows[i].pj);
            fputc('\n', f);
        } else {
            fprintf(f, "      counts: %llu\n", (unsigned long long)rows[i].count);
        }
    }
}

/* The run as Accelergy 0.4 reads it (docs/ENERGY.md): counts of whole actions of each
 * component class, and beside them the energy bflysim priced one action at, so that the
 * counts re-price to bflysim's total. */
static void accelergy_doc(FILE *f, const void *ctx)
{
    const rep_run *r = ctx;
    rep_derived d;
    rep_derive(r, &d);
    en_ac_row rows[EN_MAX_AC_ROWS];
    uint32_t n = en_accelergy(r->arch, r->wl->dtype, r->st, &d.energy, rows);
    fprintf(f,
            "# bflysim %s: workload %s on arch %s, %.10g pJ in all; energies in pJ per "
            "action (docs/ENERGY.md)\n",
            r->version, r->wl->name, r->arch->name, d.energy.total_pj);
    accelergy_list(f, rows, n, false);
    accelergy_list(f, rows, n, true);
}

int rep_write_accelergy(const char *path, const rep_run *r, char *err, size_t errlen)
{
    if (!r->arch->energy.present)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "--accelergy %s: the arch has no energy table, so there are no priced "
                         "action counts (add energy = { table = \"energy/NODE.cfg\"; })",
                         path);
    return rep_write_file(path, accelergy_doc, r, err, errlen);
}

static void json_doc(FILE *f, const void *ctx)
{
    rep_json(f, ctx);
}

int rep_write_json(const char *path, const rep_run *r, char *err, size_t errlen)
{
    return rep_write_file(path, json_doc, r, err, errlen);
}

/* The chosen mapping as a --mapping file: every op of every block entry. */
/* The layer's mapping as a --mapping file. */
static void layer_mapping_doc(FILE *f, const rep_run *r)
{
    const map_result *m = r->map;
    fprintf(f,
            "# bflysim %s mapping of workload %s on arch %s; load it with --mapping FILE.\n"
            "# layer_pes: PEs per layer (a power of two of PE rows); pipelines: side by side,\n"
            "# each a share of every tag; stages_per_pass: layers per pipeline;\n"
            "# intermediates: \"dram\" or \"spm\" (blocks of block_rows rows go through all\n"
            "# passes on chip). A key left out or 0 (\"any\") is left to the mapper.\n"
            "mapping = (\n"
            "  { block = 0; op = \"%s\"; layer_pes = %u; pipelines = %u; stages_per_pass = %u;",
            r->version, r->wl->name, r->arch->name, wl_kind_name(r->wl->kind), m->rows_used,
            m->pipelines, m->stages[0]);
    if (m->passes > 1)
        fprintf(f, " intermediates = \"%s\";", m->block_rows ? "spm" : "dram");
    if (m->block_rows)
        fprintf(f, " block_rows = %llu;", (unsigned long long)m->block_rows);
    fprintf(f, " }  # %s\n);\n", m->strategy);
}

static void mapping_doc(FILE *f, const void *ctx)
{
    const rep_run *r = ctx;
    if (r->map) {
        layer_mapping_doc(f, r);
        return;
    }
    const run_result *m = r->model;
    fprintf(f,
            "# bflysim %s mapping of workload %s on arch %s; load it with --mapping FILE.\n"
            "# GEMMs (dense, scores, context) take chain_pes, rows_per_tag and\n"
            "# columns_per_chain; row ops (softmax, layernorm, gelu, add) take segments and\n"
            "# rows_per_chain; fused attention takes chain_pes and rows_per_tag (naming\n"
            "# scores, softmax or context instead keeps a block's attention unfused);\n"
            "# butterflies and FFTs take intermediates (\"dram\" or \"spm\"), block_rows\n"
            "# (lines per block in the SPM) and weights (\"kept\" in the SPM across blocks\n"
            "# or \"reloaded\"), FFTs along the sequence also unit_columns and part_units\n"
            "# (tokens per tag); a fused group names its first op and its last\n"
            "# (fused_through) and takes rows_per_tag, fold and each pipeline stage's PEs and\n"
            "# butterfly or FFT stages, or a dense layer's input chunks (stage_pes,\n"
            "# stage_steps), and weights (\"kept\" or \"reloaded\": stream the weights PEs\n"
            "# cannot hold; \"resident\": never). A key left out, 0 or \"any\" is left to\n"
            "# the mapper.\n",
            r->version, r->wl->name, r->arch->name);
    if (m->unchained)
        fprintf(f, "# No op ran beside its producer (--no-chain).\nchain = \"off\";\n");
    else
        fprintf(f, "# Consecutive ops run side by side where the estimate says it pays;\n"
                   "# chain = \"off\" stops that.\n");
    if (m->unfused)
        fprintf(f, "# Every op was mapped on its own (--no-fuse).\nfuse = \"off\";\n");
    else
        fprintf(f, "# Ops the file does not name form fused groups where the estimate says it\n"
                   "# pays; fuse = \"off\" stops that.\n");
    fprintf(f, "mapping = (\n");
    /* the last entry: no comma after it */
    uint32_t lb = 0, li = 0;
    for (uint32_t b = 0; b < m->n_blocks; b++)
        for (uint32_t i = 0; i < m->blocks[b].n_ops; i++)
            if (m->blocks[b].ops[i].fused_ops)
                lb = b, li = i;
    for (uint32_t b = 0; b < m->n_blocks; b++)
        for (uint32_t i = 0; i < m->blocks[b].n_ops; i++) {
            const run_op *o = &m->blocks[b].ops[i];
            bool last = b == lb && i == li;
            if (!o->fused_ops)
                continue; /* inside a fused group: its first op's entry maps it */
            fprintf(f, "  { block = %u; op = \"%s\";", b, o->op.name);
            if (o->fused.n_stages) {
                const map_fuse_result *g = &o->fused;
                fprintf(f, " fused_through = \"%s\"; rows_per_tag = %u; fold = %u;",
                        m->blocks[b].ops[i + o->fused_ops - 1].op.name, g->rows_per_tag, g->fold);
                if (g->weights)
                    fprintf(f, " weights = \"%s\";",
                            g->weights == MAP_WEIGHTS_KEPT ? "kept" : "reloaded");
                for (int list = 0; list < 2; list++) {
                    fprintf(f, " %s = [", list ? "stage_steps" : "stage_pes");
                    for (uint32_t k = 0; k < g->n_stages; k++)
                        fprintf(f, "%s%u", k ? ", " : "",
                                list ? g->stage[k].steps : g->stage[k].pes);
                    fprintf(f, "];");
                }
                fprintf(f, " }%s  # %s\n", last ? "" : ",", o->desc);
                continue;
            }
            if (o->chain_pes)
                fprintf(f, " chain_pes = %u; rows_per_tag = %u; columns_per_chain = %u;",
                        o->chain_pes, o->rows_per_tag, o->columns_per_chain);
            if (o->segments)
                fprintf(f, " segments = %u; rows_per_chain = %u;", o->segments, o->rows_per_chain);
            if (o->intermediates)
                fprintf(f, " intermediates = \"%s\";",
                        o->intermediates == MAP_INTER_SPM ? "spm" : "dram");
            if (o->block_rows)
                fprintf(f, " block_rows = %llu;", (unsigned long long)o->block_rows);
            if (o->weights)
                fprintf(f, " weights = \"%s\";",
                        o->weights == MAP_WEIGHTS_KEPT ? "kept" : "reloaded");
            if (o->unit_columns)
                fprintf(f, " unit_columns = %u;", o->unit_columns);
            if (o->part_units)
                fprintf(f, " part_units = %u;", o->part_units);
            fprintf(f, " }%s  # %s\n", last ? "" : ",", o->desc);
        }
    fprintf(f, ");\n");
}

int rep_write_mapping(const char *path, const rep_run *r, char *err, size_t errlen)
{
    return rep_write_file(path, mapping_doc, r, err, errlen);
}

/* ---------------------------------------------------------------- CSV */

/* The baseline columns both CSV kinds end with (empty with --baseline none). */
#define BASELINE_COLUMNS                                                                           \
    "baseline,baseline_s,baseline_j,speedup,energy_efficiency,gpu_cpu_s,gpu_cpu_j,"                \
    "gpu_cpu_speedup,gpu_cpu_energy_efficiency,module_energy_efficiency,"                          \
    "gpu_cpu_module_energy_efficiency"

static const char csv_header[] =
    "arch,workload,kind,mode,n,rows,dtype,array_rows,array_cols,lanes,clock_ghz,strategy,passes,"
    "tag_elems,cycles,time_us,useful_ops,flops,utilization,compute_bound_cycles,"
    "dram_bound_cycles,dram_read_bytes,dram_write_bytes,spm_reads,spm_writes,spm_bank_conflicts,"
    "noc_flits,noc_flit_hops,functional,energy_pj,average_power_w,gops_per_w,area_mm2,"
    "gops_per_mm2," BASELINE_COLUMNS ",overrides";

const char *rep_csv_header(void)
{
    return csv_header;
}

/* The energy columns; empty where there is no energy estimate. */
static void csv_energy(char *buf, size_t len, size_t *u, const rep_derived *d)
{
    if (!d->has_energy) {
        for (int i = 0; i < 5; i++)
            csv_field(buf, len, u, "");
        return;
    }
    csv_num(buf, len, u, "%.10g", d->energy.total_pj);
    csv_num(buf, len, u, "%.10g", d->energy.watts);
    csv_num(buf, len, u, "%.10g", d->energy.gops_per_w);
    csv_num(buf, len, u, "%.10g", d->area_mm2);
    csv_num(buf, len, u, "%.10g", d->gops_per_mm2);
}

/* The baseline columns; empty without a baseline (ratios of energy also without an energy
 * table). */
static void csv_baseline(char *buf, size_t len, size_t *u, const rep_run *r, const rep_derived *d)
{
    if (!d->has_baseline) {
        for (int i = 0; i < 11; i++)
            csv_field(buf, len, u, "");
        return;
    }
    csv_field(buf, len, u, r->gpu->name);
    const rep_versus *v[2] = {&d->gpu, &d->coexec};
    for (int k = 0; k < 2; k++) {
        csv_num(buf, len, u, "%.10g", v[k]->seconds);
        csv_num(buf, len, u, "%.10g", v[k]->joules);
        csv_num(buf, len, u, "%.10g", v[k]->speedup);
        if (d->has_energy)
            csv_num(buf, len, u, "%.10g", v[k]->energy_ratio);
        else
            csv_field(buf, len, u, "");
    }
    for (int k = 0; k < 2; k++)
        if (d->has_energy)
            csv_num(buf, len, u, "%.10g", v[k]->module_energy_ratio);
        else
            csv_field(buf, len, u, "");
}

static void csv_row(const rep_run *r, char *buf, size_t len)
{
    const arch_desc *a = r->arch;
    const wl_desc *w = r->wl;
    const eng_stats *st = r->st;
    rep_derived d;
    rep_derive(r, &d);
    size_t u = 0;
    buf[0] = '\0';
    csv_field(buf, len, &u, a->name);
    csv_field(buf, len, &u, w->name);
    csv_field(buf, len, &u, wl_kind_name(w->kind));
    csv_field(buf, len, &u, r->analytical ? "analytical" : "cycle");
    csv_num(buf, len, &u, "%llu", (unsigned long long)w->n);
    csv_num(buf, len, &u, "%llu", (unsigned long long)w->rows);
    csv_field(buf, len, &u, util_dtype_name(w->dtype));
    csv_num(buf, len, &u, "%u", a->array.rows);
    csv_num(buf, len, &u, "%u", a->array.cols);
    csv_num(buf, len, &u, "%u", d.lanes);
    csv_num(buf, len, &u, "%.10g", a->clock_ghz);
    csv_field(buf, len, &u, r->map->strategy);
    csv_num(buf, len, &u, "%u", r->map->passes);
    csv_num(buf, len, &u, "%llu", (unsigned long long)r->map->tag_elems);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->cycles);
    csv_num(buf, len, &u, "%.10g", d.time_us);
    csv_num(buf, len, &u, "%llu", (unsigned long long)d.useful_ops);
    csv_num(buf, len, &u, "%llu", (unsigned long long)d.flops);
    csv_num(buf, len, &u, "%.10g", d.utilization);
    csv_num(buf, len, &u, "%llu", (unsigned long long)d.compute_bound);
    csv_num(buf, len, &u, "%llu", (unsigned long long)d.dram_bound);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->dram.read_bytes);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->dram.write_bytes);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->spm.reads);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->spm.writes);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->spm.conflicts);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->noc.flits);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->noc.flit_hops);
    csv_field(buf, len, &u,
              !r->functional ? "off" : (r->check && r->check->violations ? "mismatch" : "pass"));
    csv_energy(buf, len, &u, &d);
    csv_baseline(buf, len, &u, r, &d);
    csv_overrides(buf, len, &u, r->overrides, r->n_overrides);
}

/* A batch's rows start with these (docs/SWEEPS.md). */
#define POINT_COLUMNS "point,status,message,"

static void csv_what(char *what, size_t len, const char *version, bool model, bool point)
{
    snprintf(what, len,
             "bflysim %s's %s%s header; keep models and butterfly layers in separate files",
             version, point ? "sweep " : "", model ? "model" : "butterfly-linear");
}

int rep_append_csv(const char *path, const rep_run *r, char *err, size_t errlen)
{
    char row[REP_CSV_OVERRIDES_MAX + 2400], what[128], header[4096];
    size_t u = 0;
    row[0] = '\0';
    if (r->point) {
        csv_field(row, sizeof row, &u, r->point);
        csv_field(row, sizeof row, &u, "0");
        csv_field(row, sizeof row, &u, "");
        row[u++] = ',';
    }
    if (r->model)
        rep_model_csv_row(r, row + u, sizeof row - u - 2);
    else
        csv_row(r, row + u, sizeof row - u - 2);
    size_t rl = strlen(row);
    row[rl++] = '\n';
    row[rl] = '\0';
    snprintf(header, sizeof header, "%s%s", r->point ? POINT_COLUMNS : "",
             r->model ? rep_model_csv_header() : csv_header);
    csv_what(what, sizeof what, r->version, r->model, r->point);
    return rep_append_row(path, header, row, what, err, errlen);
}

int rep_append_failed_point(const char *path, bool model, const char *version, const char *point,
                            int status, const char *message, const char *const *overrides,
                            size_t n_overrides, char *err, size_t errlen)
{
    char row[REP_CSV_OVERRIDES_MAX + 2048], what[128], header[4096], code[16];
    size_t u = 0;
    row[0] = '\0';
    snprintf(header, sizeof header, "%s%s", POINT_COLUMNS,
             model ? rep_model_csv_header() : csv_header);
    snprintf(code, sizeof code, "%d", status);
    csv_field(row, sizeof row - 1024, &u, point);
    csv_field(row, sizeof row - 1024, &u, code);
    csv_field(row, sizeof row - 1024, &u, message);
    /* (empty columns up to the last, the overrides: the header's commas but three) */
    int commas = 0;
    for (const char *c = header; (c = strchr(c, ',')); c++)
        commas++;
    for (int i = 3; i < commas && u < sizeof row - 2; i++)
        row[u++] = ',';
    csv_overrides(row, sizeof row - 2, &u, overrides, n_overrides);
    u = strlen(row);
    row[u++] = '\n';
    row[u] = '\0';
    csv_what(what, sizeof what, version, model, true);
    return rep_append_row(path, header, row, what, err, errlen);
}

/* ---------------------------------------------------------------- models */

/* FABNet (Fan et al., MICRO 2022, arXiv 2209.09570, abstract): 10-66x less computation
 * than the vanilla Transformer on LRA. */
#define FABNET_REDUCTION "10-66x"

void rep_reduction_of(const wl_desc *w, rep_reduction *r)
{
    wl_desc dense;
    wl_dense_counterpart(w, &dense);
    wl_model_totals(w, &r->model);
    wl_model_totals(&dense, &r->dense);
    r->flop_ratio = r->model.flops ? (double)r->dense.flops / (double)r->model.flops : 0;
}

/* An op's MAC-unit utilization (its MAC units' busy cycles over PEs x its cycles). */
static double op_util(const rep_run *r, const run_op *o)
{
    double pe_cycles = (double)arch_pe_count(r->arch) * (double)o->cycles;
    return pe_cycles > 0 ? (double)o->mac_busy / pe_cycles : 0;
}

/* Its useful lane operations over lane-cycles. */
static double op_lane_rate(const rep_run *r, const run_op *o)
{
    double peak = (double)arch_pe_count(r->arch) * arch_lanes(r->arch, r->wl->dtype);
    return o->cycles ? (double)o->lane_ops / (peak * (double)o->cycles) : 0;
}

static uint64_t op_dram_bound(const rep_run *r, const run_op *o)
{
    double b = (double)(o->dram_read_bytes + o->dram_write_bytes);
    return (uint64_t)ceil(b / arch_dram_bytes_per_cycle(r->arch) - 1e-9);
}

static uint64_t op_compute_bound(const rep_run *r, const run_op *o)
{
    return util_ceil_div(o->lane_ops,
                         (uint64_t)arch_pe_count(r->arch) * arch_lanes(r->arch, r->wl->dtype));
}

void rep_model_summary(FILE *f, const rep_run *r)
{
    const wl_desc *w = r->wl;
    const run_result *m = r->model;
    const eng_stats *st = r->st;
    rep_derived d;
    rep_derive(r, &d);
    rep_reduction red;
    rep_reduction_of(w, &red);
    uint64_t blocks = 0;
    for (uint32_t b = 0; b < w->n_blocks; b++)
        blocks += w->blocks[b].repeat;
    fprintf(f, "bflysim %s\n", r->version);
    arch_line(f, r, &d);
    char step[96];
    rep_step(w, step, sizeof step);
    fprintf(f,
            "workload   %s (%s): model, %llu blocks, %s, hidden %llu, heads %llu, ffn %llu, batch "
            "%llu, %s, mask %s\n",
            w->name, r->wl_file, (unsigned long long)blocks, step, (unsigned long long)w->hidden,
            (unsigned long long)w->heads, (unsigned long long)w->ffn, (unsigned long long)w->batch,
            util_dtype_name(w->dtype), w->mask == WL_MASK_CAUSAL ? "causal" : "none");
    for (uint32_t b = 0; b < m->n_blocks; b++) {
        const run_block *rb = &m->blocks[b];
        const wl_block *bl = &w->blocks[b];
        run_op whole = {.cycles = rb->cycles, .lane_ops = rb->lane_ops, .mac_busy = rb->mac_busy};
        fprintf(f,
                "block %u    x%llu: mixer %s, proj %s, ffn %s: per block %llu cycles, %llu useful "
                "ops, %.2f%% util, %llu DRAM bytes\n",
                b, (unsigned long long)rb->repeat, wl_mixer_name(bl->mixer),
                wl_linear_name(bl->proj), wl_linear_name(bl->ffn), (unsigned long long)rb->cycles,
                (unsigned long long)rb->lane_ops, 100.0 * op_util(r, &whole),
                (unsigned long long)rb->dram_bytes);
        fprintf(f, "  %-8s %-15s %12s %14s %7s %12s  %s\n", "op", "kind", "cycles", "useful ops",
                "util", "DRAM bytes", "mapping");
        for (uint32_t i = 0; i < rb->n_ops; i++) {
            const run_op *o = &rb->ops[i];
            fprintf(f, "  %-8s %-15s %12llu %14llu %6.2f%% %12llu  %s\n", o->op.name,
                    wl_op_kind_name(o->op.kind), (unsigned long long)o->cycles,
                    (unsigned long long)o->lane_ops, 100.0 * op_util(r, o),
                    (unsigned long long)(o->dram_read_bytes + o->dram_write_bytes), o->desc);
        }
    }
    fprintf(f, "cycles     %llu (%.3f us)%s\n", (unsigned long long)st->cycles, d.time_us,
            m->analytical ? ANALYTICAL_NOTE : "");
    fprintf(f, "work       %llu useful lane ops, %llu flops, %llu multiplies, %llu weights\n",
            (unsigned long long)d.useful_ops, (unsigned long long)red.model.flops,
            (unsigned long long)red.model.macs, (unsigned long long)red.model.weights);
    util_lines(f, r, &d);
    fprintf(f, "DRAM       read %llu B, write %llu B\n", (unsigned long long)st->dram.read_bytes,
            (unsigned long long)st->dram.write_bytes);
    fprintf(f,
            "reduction  dense counterpart %llu flops: %.2fx fewer (FABNet reports " FABNET_REDUCTION
            " less computation on LRA)\n",
            (unsigned long long)red.dense.flops, red.flop_ratio);
    if (m->functional) {
        const run_check *c = &m->check;
        fprintf(f,
                "functional %s: every block instance against the reference from its input; "
                "nearest its tolerance: instance %llu, max |error| %.3g (tolerance %.3g, output "
                "rms %.3g); %llu outputs checked\n",
                c->pass ? "pass" : "MISMATCH", (unsigned long long)c->instance, c->max_abs_err,
                c->tolerance, c->rms_want, (unsigned long long)c->count);
    }
}

/* One search's shortlist under a heading. */
static void explain_list(FILE *f, const char *what, const map_shortlist *l)
{
    fprintf(f, "explain    %s: %u candidates scored by the closed-form estimate, best first\n",
            what, l->n_scored);
    for (uint32_t k = 0; k < l->n; k++) {
        const map_candidate *c = &l->c[k];
        char cost[48] = "";
        if (c->cost != (double)c->cycles)
            snprintf(cost, sizeof cost, ", objective %.4g", c->cost);
        fprintf(f, "  %u. %-70s %12llu cycles%s  (%s bound)%s\n", k + 1, c->desc,
                (unsigned long long)c->cycles, cost, c->bottleneck,
                k == l->chosen ? "  <- chosen" : "");
    }
}

/* The chosen plan of a fused group: every pipeline stage with its PEs and its busiest
 * PE's cycles per tag, the bottleneck marked. */
static void explain_pipeline(FILE *f, const map_fuse_result *g, uint64_t cycles)
{
    fprintf(f,
            "  pipeline: %u rows per tag, %u segment%s%s; each stage's busiest PE per tag "
            "(the slowest sets the pace; %llu cycles in all)\n",
            g->rows_per_tag, g->segments, g->segments == 1 ? "" : "s",
            g->fold > 1 ? ", two PE groups per PE" : "", (unsigned long long)cycles);
    for (uint32_t k = 0; k < g->n_stages; k++) {
        const map_fuse_stage *st = &g->stage[k];
        fprintf(f, "    %-26s segment %u  %3u PEs  %10.0f cycles/tag%s\n", st->what, st->segment,
                st->pes, st->tag_cycles, k == g->bottleneck ? "  <- bottleneck" : "");
    }
}

void rep_explain(FILE *f, const rep_run *r)
{
    if (r->map) {
        explain_list(f, "butterfly-linear", &r->map->shortlist);
        if (r->map->shortlist.chosen)
            fprintf(f, "  (another mapping replaces the simple one only when its estimate is "
                       "at least 5%% cheaper)\n");
        return;
    }
    const run_result *m = r->model;
    for (uint32_t b = 0; b < m->n_blocks; b++)
        for (uint32_t i = 0; i < m->blocks[b].n_ops; i++) {
            const run_op *o = &m->blocks[b].ops[i];
            char what[96];
            snprintf(what, sizeof what, "block %u %s (%s)", b, o->op.name,
                     wl_op_kind_name(o->op.kind));
            if (o->fused.n_stages)
                snprintf(what, sizeof what, "block %u fused group %s..%s", b, o->op.name,
                         m->blocks[b].ops[i + o->fused_ops - 1].op.name);
            if (o->shortlist.n)
                explain_list(f, what, &o->shortlist);
            if (o->fused.n_stages && o->shortlist.chosen)
                fprintf(f,
                        "  (plans within %.0f%% of the cheapest are a tie, taken by the fewest "
                        "NoC messages: fewer, larger messages)\n",
                        100 * MAP_FUSE_TIE);
            if (o->fused.n_stages)
                explain_pipeline(f, &o->fused, o->cycles);
        }
}

void rep_model_json(FILE *f, const rep_run *r)
{
    const arch_desc *a = r->arch;
    const wl_desc *w = r->wl;
    const run_result *m = r->model;
    const eng_stats *st = r->st;
    rep_derived d;
    rep_derive(r, &d);
    rep_reduction red;
    rep_reduction_of(w, &red);
    jw j = {f, 0, true};
    j_open(&j, NULL, '{');
    j_s(&j, "bflysim", r->version);
    j_invocation(&j, r->argc, r->argv, r->overrides, r->n_overrides);
    j_open(&j, "arch", '{');
    j_s(&j, "name", a->name);
    j_s(&j, "file", r->arch_file);
    j_d(&j, "clock_ghz", a->clock_ghz);
    j_u(&j, "rows", a->array.rows);
    j_u(&j, "cols", a->array.cols);
    j_u(&j, "lanes", d.lanes);
    j_d(&j, "dram_bandwidth_gbs", a->dram.bandwidth_gbs);
    j_close(&j, '}');
    j_open(&j, "workload", '{');
    j_s(&j, "name", w->name);
    j_s(&j, "file", r->wl_file);
    j_s(&j, "kind", wl_kind_name(w->kind));
    j_u(&j, "seq_len", w->seq_len);
    j_u(&j, "kv_len", w->kv_len);
    j_u(&j, "hidden", w->hidden);
    j_u(&j, "heads", w->heads);
    j_u(&j, "ffn", w->ffn);
    j_u(&j, "batch", w->batch);
    j_s(&j, "dtype", util_dtype_name(w->dtype));
    j_s(&j, "mask", w->mask == WL_MASK_CAUSAL ? "causal" : "none");
    j_u(&j, "seed", w->seed);
    j_close(&j, '}');
    j_open(&j, "blocks", '[');
    for (uint32_t b = 0; b < m->n_blocks; b++) {
        const run_block *rb = &m->blocks[b];
        j_open(&j, NULL, '{');
        j_u(&j, "repeat", rb->repeat);
        j_s(&j, "mixer", wl_mixer_name(w->blocks[b].mixer));
        j_s(&j, "proj", wl_linear_name(w->blocks[b].proj));
        j_s(&j, "ffn", wl_linear_name(w->blocks[b].ffn));
        run_op whole = {.cycles = rb->cycles, .lane_ops = rb->lane_ops, .mac_busy = rb->mac_busy};
        j_u(&j, "cycles_per_block", rb->cycles);
        j_u(&j, "useful_ops_per_block", rb->lane_ops);
        j_d(&j, "utilization", op_util(r, &whole));
        j_u(&j, "dram_bytes_per_block", rb->dram_bytes);
        j_open(&j, "ops", '[');
        for (uint32_t i = 0; i < rb->n_ops; i++) {
            const run_op *o = &rb->ops[i];
            j_open(&j, NULL, '{');
            j_s(&j, "name", o->op.name);
            j_s(&j, "kind", wl_op_kind_name(o->op.kind));
            j_s(&j, "mapping", o->desc);
            j_u(&j, "cycles", o->cycles);
            j_u(&j, "estimated_cycles", o->est_cycles);
            j_u(&j, "chained_ops", o->chained_ops);
            j_u(&j, "fifo_tags", o->fifo_tags);
            j_u(&j, "useful_ops", o->lane_ops);
            j_u(&j, "flops", o->op.flops);
            j_u(&j, "multiplies", o->op.macs);
            j_u(&j, "weights", o->op.weights);
            j_d(&j, "utilization", op_util(r, o));
            j_d(&j, "lane_op_rate", op_lane_rate(r, o));
            j_u(&j, "fused_ops", o->fused_ops);
            if (o->fused.n_stages)
                j_fused(&j, &o->fused, &m->blocks[b].ops[i], o->fused_ops);
            j_u(&j, "compute_bound_cycles", op_compute_bound(r, o));
            j_u(&j, "dram_bound_cycles", op_dram_bound(r, o));
            j_u(&j, "dram_read_bytes", o->dram_read_bytes);
            j_u(&j, "dram_write_bytes", o->dram_write_bytes);
            j_u(&j, "spm_reads", o->spm_reads);
            j_u(&j, "spm_writes", o->spm_writes);
            j_u(&j, "spm_bank_conflicts", o->spm_conflicts);
            j_u(&j, "noc_flit_hops", o->flit_hops);
            j_u(&j, "noc_bisection_flits", o->bisection_flits);
            j_u(&j, "tags", o->tags);
            j_u(&j, "events", o->events);
            j_shortlist(&j, &o->shortlist);
            j_close(&j, '}');
        }
        j_close(&j, ']');
        j_close(&j, '}');
    }
    j_close(&j, ']');
    j_open(&j, "results", '{');
    j_s(&j, "mode", m->analytical ? "analytical" : "cycle");
    if (!m->analytical)
        j_s(&j, "engine", r->engine ? r->engine : "native");
    j_u(&j, "cycles", st->cycles);
    j_d(&j, "time_us", d.time_us);
    j_u(&j, "useful_ops", d.useful_ops);
    j_u(&j, "flops", red.model.flops);
    j_u(&j, "multiplies", red.model.macs);
    j_u(&j, "weights", red.model.weights);
    j_utilization(&j, &d);
    j_u(&j, "compute_bound_cycles", d.compute_bound);
    j_u(&j, "dram_bound_cycles", d.dram_bound);
    j_u(&j, "compulsory_dram_bytes", d.compulsory_bytes);
    j_u(&j, "compulsory_dram_bound_cycles", d.compulsory_bound);
    j_u(&j, "noc_bisection_bound_cycles", d.noc_bound);
    j_u(&j, "dense_counterpart_flops", red.dense.flops);
    j_d(&j, "flop_reduction", red.flop_ratio);
    j_s(&j, "fabnet_reported_reduction", FABNET_REDUCTION);
    j_close(&j, '}');
    j_counters(&j, a, st);
    j_energy(&j, r, &d);
    j_baseline(&j, r, &d);
    rep_peer_versus_json(&j, r, d.time_us * 1e-6, d.has_energy ? d.energy.total_pj : 0);
    j_open(&j, "functional", '{');
    j_b(&j, "checked", m->functional);
    if (m->functional) {
        j_u(&j, "elements", m->check.count);
        j_u(&j, "block_instance", m->check.instance);
        j_d(&j, "max_abs_error", m->check.max_abs_err);
        j_d(&j, "tolerance", m->check.tolerance);
        j_b(&j, "pass", m->check.pass);
    }
    j_close(&j, '}');
    j_close(&j, '}');
    fputc('\n', f);
}

static const char model_csv_header[] =
    "arch,workload,kind,mode,seq_len,hidden,heads,ffn,batch,kv_len,blocks,dtype,array_rows,"
    "array_cols,"
    "lanes,"
    "clock_ghz,cycles,time_us,useful_ops,flops,dense_flops,flop_reduction,utilization,"
    "compute_bound_cycles,dram_bound_cycles,dram_read_bytes,dram_write_bytes,functional,energy_pj,"
    "average_power_w,gops_per_w,area_mm2,gops_per_mm2," BASELINE_COLUMNS ",overrides";

const char *rep_model_csv_header(void)
{
    return model_csv_header;
}

void rep_model_csv_row(const rep_run *r, char *buf, size_t len)
{
    const arch_desc *a = r->arch;
    const wl_desc *w = r->wl;
    const eng_stats *st = r->st;
    rep_derived d;
    rep_derive(r, &d);
    rep_reduction red;
    rep_reduction_of(w, &red);
    uint64_t blocks = 0;
    for (uint32_t b = 0; b < w->n_blocks; b++)
        blocks += w->blocks[b].repeat;
    size_t u = 0;
    buf[0] = '\0';
    csv_field(buf, len, &u, a->name);
    csv_field(buf, len, &u, w->name);
    csv_field(buf, len, &u, wl_kind_name(w->kind));
    csv_field(buf, len, &u, r->model->analytical ? "analytical" : "cycle");
    uint64_t nums[] = {w->seq_len, w->hidden, w->heads, w->ffn, w->batch, w->kv_len, blocks};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        csv_num(buf, len, &u, "%llu", (unsigned long long)nums[i]);
    csv_field(buf, len, &u, util_dtype_name(w->dtype));
    csv_num(buf, len, &u, "%u", a->array.rows);
    csv_num(buf, len, &u, "%u", a->array.cols);
    csv_num(buf, len, &u, "%u", d.lanes);
    csv_num(buf, len, &u, "%.10g", a->clock_ghz);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->cycles);
    csv_num(buf, len, &u, "%.10g", d.time_us);
    csv_num(buf, len, &u, "%llu", (unsigned long long)d.useful_ops);
    csv_num(buf, len, &u, "%llu", (unsigned long long)red.model.flops);
    csv_num(buf, len, &u, "%llu", (unsigned long long)red.dense.flops);
    csv_num(buf, len, &u, "%.10g", red.flop_ratio);
    csv_num(buf, len, &u, "%.10g", d.utilization);
    csv_num(buf, len, &u, "%llu", (unsigned long long)d.compute_bound);
    csv_num(buf, len, &u, "%llu", (unsigned long long)d.dram_bound);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->dram.read_bytes);
    csv_num(buf, len, &u, "%llu", (unsigned long long)st->dram.write_bytes);
    csv_field(buf, len, &u,
              !r->model->functional  ? "off"
              : r->model->check.pass ? "pass"
                                     : "mismatch");
    csv_energy(buf, len, &u, &d);
    csv_baseline(buf, len, &u, r, &d);
    csv_overrides(buf, len, &u, r->overrides, r->n_overrides);
}
