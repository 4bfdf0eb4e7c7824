/* peer.c: a peer accelerator's run as the summary and the JSON (docs/PEERS.md). */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "report.h"

/* The workload's own flops (a MAC counts two), whatever the peer ran to do them: its
 * GOPS/W and GOPS/mm2 compare with the array's. */
static double work_flops(const rep_peer_run *r)
{
    if (r->wl->kind == WL_KIND_MODEL) {
        wl_totals t;
        wl_model_totals(r->wl, &t);
        return (double)t.flops;
    }
    if (r->wl->kind == WL_KIND_BUTTERFLY_LINEAR) {
        wl_butterfly b;
        wl_butterfly_from_desc(r->wl, &b);
        return (double)wl_butterfly_flops(&b);
    }
    return 2.0 * (double)r->res->total.macs;
}

void rep_peer_summary(FILE *f, const rep_peer_run *r)
{
    const peer_desc *p = r->peer;
    const peer_op *t = &r->res->total;
    fprintf(f, "bflysim %s\n", r->version);
    fprintf(f,
            "peer       %s (%s): %s %ux%u, dataflow %s, %g GHz, SRAM %llu/%llu/%llu KiB "
            "(ifmap/filter/ofmap), DRAM %g GB/s%s\n",
            p->name, r->peer_file, peer_kind_name(p->model), p->array.rows, p->array.cols,
            peer_dataflow_name(p->array.dataflow), p->clock_ghz,
            (unsigned long long)(p->sram.ifmap_bytes / 1024),
            (unsigned long long)(p->sram.filter_bytes / 1024),
            (unsigned long long)(p->sram.ofmap_bytes / 1024), p->dram.bandwidth_gbs,
            r->ideal ? " (ideal memory: no stalls)" : "");
    if (p->model == PEER_BUTTERFLY)
        fprintf(f,
                "           butterfly engines %u x %u units (4 multipliers each), the array's "
                "multipliers\n",
                p->butterfly.engines, p->butterfly.units);
    else if (p->model == PEER_SPARSE)
        fprintf(f,
                "           sparse attention: density %g (threshold %g), %u-bit prediction, pack "
                "efficiency %g, %u-bit indices\n",
                p->sparse.density, p->sparse.threshold, p->sparse.predict_bits,
                p->sparse.pack_efficiency, p->sparse.index_bits);
    if (r->wl->kind == WL_KIND_GEMM)
        fprintf(f, "workload   %s (%s): %u GEMMs, %s\n", r->wl->name, r->wl_file, r->wl->n_gemms,
                util_dtype_name(r->wl->dtype));
    else if (r->wl->kind == WL_KIND_BUTTERFLY_LINEAR)
        fprintf(f,
                "workload   %s (%s): butterfly-linear, n %llu, rows %llu, %s (docs/PEERS.md), "
                "%s\n",
                r->wl->name, r->wl_file, (unsigned long long)r->wl->n,
                (unsigned long long)r->wl->rows,
                p->model == PEER_BUTTERFLY ? "on the butterfly engines" : "as its dense equivalent",
                util_dtype_name(r->wl->dtype));
    else
        fprintf(f,
                "workload   %s (%s): model, %u block entries, %u ops as %s and vector work "
                "(docs/PEERS.md), %s\n",
                r->wl->name, r->wl_file, r->wl->n_blocks, r->res->n_ops,
                p->model == PEER_BUTTERFLY ? "GEMMs, butterfly passes"
                : p->model == PEER_SPARSE  ? "GEMMs, sparse attention"
                                           : "GEMMs",
                util_dtype_name(r->wl->dtype));
    bool gemms = r->wl->kind == WL_KIND_GEMM;
    double pes = (double)peer_macs_per_cycle(p);
    if (gemms)
        fprintf(f,
                "  op                          M        N        K  count  compute cycles  stall "
                "cycles       cycles    util  mapping eff\n");
    else
        fprintf(f, "  op       kind           block repeat  compute cycles  stall cycles       "
                   "cycles    util  mapping eff\n");
    for (uint32_t i = 0; i < r->res->n_ops; i++) {
        const peer_op *o = &r->res->ops[i];
        if (gemms) {
            const wl_gemm *g = &r->wl->gemms[i];
            fprintf(f, "  %-20s %8llu %8llu %8llu %6llu", g->name, (unsigned long long)g->m,
                    (unsigned long long)g->n, (unsigned long long)g->k,
                    (unsigned long long)g->count);
        } else {
            fprintf(f, "  %-8s %-14s %5u %6llu", o->name, o->kind, o->block,
                    (unsigned long long)o->repeat);
        }
        fprintf(f, " %15llu %12llu %12llu %6.2f%% %10.2f%%\n",
                (unsigned long long)o->compute_cycles, (unsigned long long)o->stall_cycles,
                (unsigned long long)o->cycles,
                o->cycles ? 100.0 * (double)o->macs / ((double)o->cycles * pes) : 0.0,
                100.0 * o->mapping_efficiency);
    }
    fprintf(f, "cycles     %llu (%.3f us): compute %llu, stalls %llu\n",
            (unsigned long long)t->cycles, (double)t->cycles / (p->clock_ghz * 1e3),
            (unsigned long long)t->compute_cycles, (unsigned long long)t->stall_cycles);
    fprintf(f, "work       %llu MACs, %.2f%% of the PEs' cycles\n", (unsigned long long)t->macs,
            t->cycles ? 100.0 * (double)t->macs / ((double)t->cycles * pes) : 0.0);
    fprintf(f, "DRAM       read %llu B, write %llu B\n", (unsigned long long)t->dram_read_bytes,
            (unsigned long long)t->dram_write_bytes);
    /* (the workload's flops and the run's seconds, for GOPS/W and GOPS/mm2) */
    double flops = work_flops(r), s = (double)t->cycles / (p->clock_ghz * 1e9);
    if (t->energy_pj > 0)
        fprintf(f,
                "energy     %.4g uJ: compute %.4g, SRAM %.4g, DRAM %.4g, leakage %.4g, pipeline "
                "and clock %.4g uJ; %.4g W average, %.4g GOPS/W (the energy table of %s)\n",
                t->energy_pj * 1e-6, t->compute_pj * 1e-6, t->sram_pj * 1e-6, t->dram_pj * 1e-6,
                t->leakage_pj * 1e-6, t->overhead_pj * 1e-6, s > 0 ? t->energy_pj * 1e-12 / s : 0.0,
                flops / (t->energy_pj * 1e-12) * 1e-9, p->energy_arch);
    if (r->area_mm2 > 0)
        fprintf(f,
                "area       %.4g mm2 (MAC PEs, vector unit, SRAMs, control; docs/AREA.md); %.4g "
                "GOPS/mm2\n",
                r->area_mm2, s > 0 ? flops / s * 1e-9 / r->area_mm2 : 0.0);
}

static void op_json(jw *j, const char *name, const wl_gemm *g, const peer_op *o, double pes)
{
    j_open(j, name, '{');
    if (o->kind && !g) {
        j_s(j, "name", o->name);
        j_s(j, "kind", o->kind);
        j_u(j, "block", o->block);
        j_u(j, "repeat", o->repeat);
    }
    if (g) {
        j_s(j, "name", g->name);
        j_u(j, "m", g->m);
        j_u(j, "n", g->n);
        j_u(j, "k", g->k);
        j_u(j, "count", g->count);
    }
    j_u(j, "cycles", o->cycles);
    j_u(j, "compute_cycles", o->compute_cycles);
    j_u(j, "stall_cycles", o->stall_cycles);
    j_u(j, "folds", o->folds);
    j_u(j, "macs", o->macs);
    j_d(j, "utilization", o->cycles ? (double)o->macs / ((double)o->cycles * pes) : 0);
    j_d(j, "mapping_efficiency", o->mapping_efficiency);
    j_u(j, "dram_read_bytes", o->dram_read_bytes);
    j_u(j, "dram_write_bytes", o->dram_write_bytes);
    j_u(j, "sram_read_bytes", o->sram_read_bytes);
    j_u(j, "sram_write_bytes", o->sram_write_bytes);
    if (o->energy_pj > 0) {
        j_open(j, "energy_pj", '{');
        j_d(j, "total", o->energy_pj);
        j_d(j, "compute", o->compute_pj);
        j_d(j, "sram", o->sram_pj);
        j_d(j, "dram", o->dram_pj);
        j_d(j, "leakage", o->leakage_pj);
        j_d(j, "overhead", o->overhead_pj);
        j_close(j, '}');
    }
    j_close(j, '}');
}

static void peer_doc(FILE *f, const void *ctx)
{
    const rep_peer_run *r = ctx;
    const peer_desc *p = r->peer;
    double pes = (double)peer_macs_per_cycle(p);
    jw j = {f, 0, true};
    j_open(&j, NULL, '{');
    j_s(&j, "bflysim", r->version);
    j_invocation(&j, r->argc, r->argv, r->overrides, r->n_overrides);
    j_open(&j, "peer", '{');
    j_s(&j, "name", p->name);
    j_s(&j, "file", r->peer_file);
    j_s(&j, "model", peer_kind_name(p->model));
    j_u(&j, "rows", p->array.rows);
    j_u(&j, "cols", p->array.cols);
    j_s(&j, "dataflow", peer_dataflow_name(p->array.dataflow));
    if (p->model == PEER_BUTTERFLY) {
        j_u(&j, "butterfly_engines", p->butterfly.engines);
        j_u(&j, "butterfly_units", p->butterfly.units);
    } else if (p->model == PEER_SPARSE) {
        j_d(&j, "density", p->sparse.density);
        j_d(&j, "threshold", p->sparse.threshold);
        j_u(&j, "predict_bits", p->sparse.predict_bits);
        j_d(&j, "pack_efficiency", p->sparse.pack_efficiency);
        j_u(&j, "index_bits", p->sparse.index_bits);
    }
    j_d(&j, "clock_ghz", p->clock_ghz);
    j_u(&j, "ifmap_sram_bytes", p->sram.ifmap_bytes);
    j_u(&j, "filter_sram_bytes", p->sram.filter_bytes);
    j_u(&j, "ofmap_sram_bytes", p->sram.ofmap_bytes);
    j_d(&j, "dram_bandwidth_gbs", p->dram.bandwidth_gbs);
    j_b(&j, "ideal_memory", r->ideal);
    j_d(&j, "area_mm2", r->area_mm2);
    j_s(&j, "energy_arch", p->energy_arch);
    j_close(&j, '}');
    j_open(&j, "workload", '{');
    j_s(&j, "name", r->wl->name);
    j_s(&j, "file", r->wl_file);
    j_s(&j, "dtype", util_dtype_name(r->wl->dtype));
    j_close(&j, '}');
    j_open(&j, "ops", '[');
    for (uint32_t i = 0; i < r->res->n_ops; i++)
        op_json(&j, NULL, r->wl->kind == WL_KIND_GEMM ? &r->wl->gemms[i] : NULL, &r->res->ops[i],
                pes);
    j_close(&j, ']');
    op_json(&j, "results", NULL, &r->res->total, pes);
    j_close(&j, '}');
    fputc('\n', f);
}

int rep_write_peer_json(const char *path, const rep_peer_run *r, char *err, size_t errlen)
{
    return rep_write_file(path, peer_doc, r, err, errlen);
}

/* ---------------------------------------------------------------- --peer */

/* Peak MACs per second of the array (PEs x lanes x clock) and of the peer. */
static double array_peak(const rep_run *r)
{
    return (double)arch_pe_count(r->arch) * arch_lanes(r->arch, r->wl->dtype) * r->arch->clock_ghz *
           1e9;
}

static double peer_peak(const peer_desc *p)
{
    return (double)peer_macs_per_cycle(p) * p->clock_ghz * 1e9;
}

/* The comparison: throughput per unit of peak is work / (time x peak), the same work on
 * both, so the array's efficiency over the peer's is (peer time x peer peak) / (array
 * time x array peak); the energy ratio is the peer's energy over the array's. */
static void versus(const rep_run *r, double seconds, double energy_pj, double *peer_s, double *eff,
                   double *energy)
{
    const peer_op *t = &r->peer_res->total;
    *peer_s = (double)t->cycles / (r->peer->clock_ghz * 1e9);
    *eff = seconds > 0 ? *peer_s * peer_peak(r->peer) / (seconds * array_peak(r)) : 0;
    *energy = energy_pj > 0 && t->energy_pj > 0 ? t->energy_pj / energy_pj : 0;
}

void rep_peer_versus_lines(FILE *f, const rep_run *r, double seconds, double energy_pj)
{
    if (!r->peer)
        return;
    double ps, eff, en;
    versus(r, seconds, energy_pj, &ps, &eff, &en);
    fprintf(f, "peer       %s (%s, peak %.4g GMAC/s against the array's %.4g): %.6g ms",
            r->peer->name, r->peer_file, peer_peak(r->peer) * 1e-9, array_peak(r) * 1e-9, ps * 1e3);
    if (r->peer_res->total.energy_pj > 0)
        fprintf(f, ", %.6g mJ", r->peer_res->total.energy_pj * 1e-9);
    if (r->peer_area_mm2 > 0)
        fprintf(f, ", %.4g mm2", r->peer_area_mm2);
    fprintf(f, "\nversus peer efficiency %.4gx (throughput per unit of peak)", eff);
    if (en > 0)
        fprintf(f, ", energy %.4gx less", en);
    fprintf(f, " (docs/PEERS.md)\n");
}

void rep_peer_versus_json(jw *j, const rep_run *r, double seconds, double energy_pj)
{
    if (!r->peer)
        return;
    double ps, eff, en;
    versus(r, seconds, energy_pj, &ps, &eff, &en);
    j_open(j, "peer", '{');
    j_s(j, "preset", r->peer->name);
    j_s(j, "file", r->peer_file);
    j_d(j, "peak_macs_per_s", peer_peak(r->peer));
    j_d(j, "array_peak_macs_per_s", array_peak(r));
    j_d(j, "seconds", ps);
    j_u(j, "cycles", r->peer_res->total.cycles);
    j_d(j, "energy_pj", r->peer_res->total.energy_pj);
    j_d(j, "efficiency", eff);
    j_d(j, "energy_ratio", en);
    j_d(j, "area_mm2", r->peer_area_mm2);
    j_close(j, '}');
}

/* ---------------------------------------------------------------- --csv */

static const char peer_csv_header[] =
    "peer,workload,kind,model,dataflow,rows,cols,clock_ghz,ideal_memory,cycles,compute_cycles,"
    "stall_cycles,time_us,macs,utilization,mapping_efficiency,dram_read_bytes,dram_write_bytes,"
    "energy_pj,area_mm2,overrides";

int rep_append_peer_csv(const char *path, const rep_peer_run *r, char *err, size_t errlen)
{
    size_t len = REP_CSV_OVERRIDES_MAX + 2048, u = 0;
    char *row = malloc(len), what[96];
    if (!row)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    const peer_desc *p = r->peer;
    const peer_op *t = &r->res->total;
    double pes = (double)peer_macs_per_cycle(p);
    row[0] = '\0';
    csv_field(row, len - 2, &u, p->name);
    csv_field(row, len - 2, &u, r->wl->name);
    csv_field(row, len - 2, &u, wl_kind_name(r->wl->kind));
    csv_field(row, len - 2, &u, peer_kind_name(p->model));
    csv_field(row, len - 2, &u, peer_dataflow_name(p->array.dataflow));
    csv_num(row, len - 2, &u, "%u", p->array.rows);
    csv_num(row, len - 2, &u, "%u", p->array.cols);
    csv_num(row, len - 2, &u, "%.10g", p->clock_ghz);
    csv_field(row, len - 2, &u, r->ideal ? "yes" : "no");
    csv_num(row, len - 2, &u, "%llu", (unsigned long long)t->cycles);
    csv_num(row, len - 2, &u, "%llu", (unsigned long long)t->compute_cycles);
    csv_num(row, len - 2, &u, "%llu", (unsigned long long)t->stall_cycles);
    csv_num(row, len - 2, &u, "%.10g", (double)t->cycles / (p->clock_ghz * 1e3));
    csv_num(row, len - 2, &u, "%llu", (unsigned long long)t->macs);
    csv_num(row, len - 2, &u, "%.10g",
            t->cycles ? (double)t->macs / ((double)t->cycles * pes) : 0.0);
    csv_num(row, len - 2, &u, "%.10g", t->mapping_efficiency);
    csv_num(row, len - 2, &u, "%llu", (unsigned long long)t->dram_read_bytes);
    csv_num(row, len - 2, &u, "%llu", (unsigned long long)t->dram_write_bytes);
    if (t->energy_pj > 0)
        csv_num(row, len - 2, &u, "%.10g", t->energy_pj);
    else
        csv_field(row, len - 2, &u, "");
    if (r->area_mm2 > 0)
        csv_num(row, len - 2, &u, "%.10g", r->area_mm2);
    else
        csv_field(row, len - 2, &u, "");
    csv_overrides(row, len - 2, &u, r->overrides, r->n_overrides);
    row[u++] = '\n';
    row[u] = '\0';
    snprintf(what, sizeof what, "bflysim %s's peer header; keep peer rows in their own file",
             r->version);
    int rc = rep_append_row(path, peer_csv_header, row, what, err, errlen);
    free(row);
    return rc;
}
