/* system.c: a system run's summary and JSON (docs/SYSTEM.md). */
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "report.h"

/* One line per kind of device: what it did and spent. */
static void devices_summary(FILE *f, const rep_system_run *r)
{
    const sys_result *x = r->res;
    for (uint32_t i = 0; i < x->n_kinds; i++) {
        const sys_device *v = &x->dev[i];
        fprintf(f, "devices    ");
        if (v->gpu)
            fprintf(f, "the GPU %s", r->gpu ? r->gpu->name : "?");
        else if (v->cpu)
            fprintf(f, "the CPU cluster of %s (%u cores)", r->gpu ? r->gpu->name : "?",
                    r->sys->cpu_cores);
        else if (r->sys->partition == SYS_PART_HEADS)
            fprintf(f, "array %u (%s)", i, r->arch->name);
        else if (v->role != SYS_ROLE_SHARD)
            fprintf(f, "%u x %s %s with %llu tokens", v->count, r->arch->name,
                    v->role == SYS_ROLE_COMP ? "CompNodes" : "AttnNodes",
                    (unsigned long long)v->tokens);
        else
            fprintf(f, "%u x %s with %llu %s", v->count, r->arch->name,
                    (unsigned long long)v->tokens, r->wl->new_tokens ? "cache tokens" : "tokens");
        fprintf(f, ": busy %.6g ms (%.2f%% of the run)", v->busy_s * 1e3,
                x->total_s > 0 ? 100 * v->busy_s / x->total_s : 0);
        if (!v->gpu && !v->cpu)
            fprintf(f, ", MAC units %.2f%% busy", 100 * v->mac_utilization);
        if (x->has_energy)
            fprintf(f, ", %.6g mJ%s", v->energy_j * 1e3, v->count > 1 ? " each" : "");
        fputc('\n', f);
    }
}

void rep_system_summary(FILE *f, const rep_system_run *r)
{
    const sys_desc *s = r->sys;
    const sys_result *x = r->res;
    const wl_desc *w = r->wl;
    fprintf(f, "bflysim %s\n", r->version);
    fprintf(f, "system     %s (%s): %u x %s, %s links of %g GB/s and %g ns, %s partition\n",
            s->name, r->system_file, s->devices, r->arch->name, sys_topology_name(s->topology),
            s->link_gbs, s->link_latency_ns, sys_partition_name(s->partition));
    char step[96];
    rep_step(w, step, sizeof step);
    fprintf(f, "workload   %s (%s): %s, hidden %llu, heads %llu, batch %llu, %s\n", w->name,
            r->wl_file, step, (unsigned long long)w->hidden, (unsigned long long)w->heads,
            (unsigned long long)w->batch,
            r->analytical ? "estimated (analytical)" : "simulated (cycle level)");
    if (s->partition == SYS_PART_HEADS) {
        fprintf(f,
                "split      every op by heads or columns over %u arrays%s%s%s, in proportion "
                "to each device's own time for it\n",
                s->devices, r->gpu ? " and the GPU " : "", r->gpu ? r->gpu->name : "",
                r->gpu && s->cpu_cores ? " with its CPU cluster" : "");
        if (x->one_device)
            fprintf(f,
                    "plan       the best device alone: splitting took %.6g ms (an array's ops "
                    "split run without its fused groups and chains)\n",
                    x->split_s * 1e3);
        else
            fprintf(f, "links      input spreads and output exchanges %.6g ms\n", x->comm_s * 1e3);
    } else if (s->partition == SYS_PART_CASCADE) {
        fprintf(f,
                "roles      %u CompNodes (row-local ops, %llu strided tokens each) %.6g ms; "
                "%u x %u AttnNodes (a query group against a key group, %llu tokens each) %.6g "
                "ms\n",
                s->comp_nodes, (unsigned long long)x->dev[0].tokens, x->rowlocal_s * 1e3,
                s->attn_groups, s->attn_groups, (unsigned long long)x->dev[1].tokens,
                x->attention_s * 1e3);
        fprintf(f,
                "links      q, k, v out and partial states back %.6g ms over %u attention "
                "blocks (not hidden), %.6g MB through the busiest device's link; the "
                "CompNodes' merges %.6g ms\n",
                x->comm_s * 1e3, x->attention_blocks, x->link_bytes * 1e-6, x->merge_s * 1e3);
        fprintf(f, "critical   the roles in turn (CompNodes, links, AttnNodes, links)\n");
    } else if (w->new_tokens) {
        fprintf(f,
                "device     %llu cache tokens each; row-local ops %.6g ms (every device runs "
                "the new tokens), attention %.6g ms\n",
                (unsigned long long)x->tokens_per_device, x->rowlocal_s * 1e3,
                x->attention_s * 1e3);
        fprintf(f,
                "links      partial-state all-gathers %.6g ms over %u attention blocks (after "
                "each block's attention, not hidden), %.6g MB through each device's link; "
                "merging them %.6g ms\n",
                x->comm_s * 1e3, x->attention_blocks, x->link_bytes * 1e-6, x->merge_s * 1e3);
        fprintf(f, "critical   compute and the links in turn; %s MAC units %.2f%% busy\n",
                x->n_kinds > 1 ? "the largest shard's" : "each device's",
                100 * x->dev[0].mac_utilization);
    } else {
        fprintf(f, "device     %llu tokens each; row-local ops %.6g ms, attention %.6g ms\n",
                (unsigned long long)x->tokens_per_device, x->rowlocal_s * 1e3,
                x->attention_s * 1e3);
        fprintf(f,
                "links      K/V all-gathers %.6g ms over %u attention blocks (%.6g ms not "
                "hidden by attention), %.6g MB through each device's link\n",
                x->comm_s * 1e3, x->attention_blocks, x->exposed_comm_s * 1e3,
                x->link_bytes * 1e-6);
        fprintf(f, "critical   %s; %s MAC units %.2f%% busy\n",
                x->links_bound_blocks ? "the links, in attention blocks whose all-gather "
                                        "outlasts their attention"
                                      : "compute (attention hides every all-gather)",
                x->n_kinds > 1 ? "the largest shard's" : "each device's",
                100 * x->dev[0].mac_utilization);
    }
    devices_summary(f, r);
    fprintf(f, "time       %.6g ms (the best single device: %.6g ms)\n", x->total_s * 1e3,
            x->single_s * 1e3);
    fprintf(f, "scaling    %.4gx speedup over one device, %.2f%% parallel efficiency on %u\n",
            x->speedup, 100 * x->efficiency, x->devices);
    if (x->has_energy)
        fprintf(f,
                "energy     %.6g mJ: devices %.6g mJ, links %.6g mJ (%.6g MB moved at %g "
                "pJ/bit a link); the best single device %.6g mJ (%.4gx)\n",
                x->energy_j * 1e3, (x->energy_j - x->link_energy_j) * 1e3, x->link_energy_j * 1e3,
                x->moved_bytes * 1e-6, s->link_pj_per_bit, x->single_energy_j * 1e3,
                x->single_energy_j > 0 ? x->energy_j / x->single_energy_j : 0);
    else
        fprintf(f, "energy     not priced: %s has no energy table (docs/ENERGY.md)\n",
                r->arch->name);
    if (r->check)
        fprintf(f,
                "functional %s: %llu heads split as the system splits them, merged: largest "
                "difference from monolithic attention %.3g (tolerance %.3g)\n",
                r->check->pass ? "pass" : "MISMATCH", (unsigned long long)r->check->heads,
                r->check->max_abs_err, r->check->tolerance);
    if (r->check && r->check->arrays && r->check->array_shards == 1)
        fprintf(f,
                "functional through the simulated arrays: every head whole on one array (no "
                "merge): largest difference %.3g (tolerance %.3g)\n",
                r->check->array_err, r->check->array_tolerance);
    else if (r->check && r->check->arrays)
        fprintf(f,
                "functional through the simulated arrays: %u shards' partial states, "
                "merged: largest difference %.3g (tolerance %.3g, 4x one array's rounding)\n",
                r->check->array_shards, r->check->array_err, r->check->array_tolerance);
}

static void system_doc(FILE *f, const void *ctx)
{
    const rep_system_run *r = ctx;
    const sys_desc *s = r->sys;
    const sys_result *x = r->res;
    jw j = {f, 0, true};
    j_open(&j, NULL, '{');
    j_s(&j, "bflysim", r->version);
    j_invocation(&j, r->argc, r->argv, r->overrides, r->n_overrides);
    j_open(&j, "system", '{');
    j_s(&j, "name", s->name);
    j_s(&j, "file", r->system_file);
    j_s(&j, "device", r->arch->name);
    j_u(&j, "devices", s->devices);
    j_s(&j, "topology", sys_topology_name(s->topology));
    j_d(&j, "link_gbs", s->link_gbs);
    j_d(&j, "link_latency_ns", s->link_latency_ns);
    j_d(&j, "link_energy_pj_per_bit", s->link_pj_per_bit);
    j_s(&j, "partition", sys_partition_name(s->partition));
    j_s(&j, "gpu", r->gpu ? r->gpu->name : "");
    j_u(&j, "cpu_cores", s->cpu_cores);
    j_close(&j, '}');
    j_open(&j, "workload", '{');
    j_s(&j, "name", r->wl->name);
    j_s(&j, "file", r->wl_file);
    j_u(&j, "seq_len", r->wl->seq_len);
    j_u(&j, "kv_len", r->wl->kv_len);
    j_u(&j, "hidden", r->wl->hidden);
    j_u(&j, "heads", r->wl->heads);
    j_u(&j, "batch", r->wl->batch);
    j_close(&j, '}');
    j_open(&j, "results", '{');
    j_s(&j, "mode", r->analytical ? "analytical" : "cycle");
    j_u(&j, "tokens_per_device", x->tokens_per_device);
    j_u(&j, "attention_blocks", x->attention_blocks);
    j_d(&j, "rowlocal_s", x->rowlocal_s);
    j_d(&j, "attention_s", x->attention_s);
    j_d(&j, "comm_s", x->comm_s);
    j_d(&j, "exposed_comm_s", x->exposed_comm_s);
    j_d(&j, "merge_s", x->merge_s);
    j_d(&j, "link_bytes", x->link_bytes);
    j_d(&j, "total_s", x->total_s);
    j_d(&j, "single_device_s", x->single_s);
    j_d(&j, "speedup", x->speedup);
    j_d(&j, "efficiency", x->efficiency);
    j_u(&j, "device_lane_ops", x->dev[0].lane_ops); /* the first device: an array */
    j_d(&j, "mac_utilization", x->dev[0].mac_utilization);
    j_u(&j, "links_bound_blocks", x->links_bound_blocks);
    j_b(&j, "one_device", x->one_device);
    j_d(&j, "split_s", x->split_s);
    j_b(&j, "has_energy", x->has_energy);
    j_d(&j, "energy_j", x->energy_j);
    j_d(&j, "link_energy_j", x->link_energy_j);
    j_d(&j, "moved_bytes", x->moved_bytes);
    j_d(&j, "single_device_energy_j", x->single_energy_j);
    j_open(&j, "devices", '[');
    for (uint32_t i = 0; i < x->n_kinds; i++) {
        const sys_device *v = &x->dev[i];
        j_open(&j, NULL, '{');
        static const char *const roles[] = {"shard", "comp", "attn"};
        j_s(&j, "kind", v->gpu ? "gpu" : v->cpu ? "cpu" : "array");
        j_s(&j, "role", roles[v->role]);
        j_s(&j, "name", v->gpu || v->cpu ? (r->gpu ? r->gpu->name : "") : r->arch->name);
        j_u(&j, "count", v->count);
        j_u(&j, "tokens", v->tokens);
        j_d(&j, "busy_s", v->busy_s);
        j_d(&j, "energy_j", v->energy_j);
        j_u(&j, "lane_ops", v->lane_ops);
        j_d(&j, "mac_utilization", v->gpu || v->cpu ? NAN : v->mac_utilization); /* null: no MACs */
        j_close(&j, '}');
    }
    j_close(&j, ']');
    j_close(&j, '}');
    if (r->check) {
        j_open(&j, "functional", '{');
        j_u(&j, "heads", r->check->heads);
        j_d(&j, "max_abs_error", r->check->max_abs_err);
        j_d(&j, "tolerance", r->check->tolerance);
        j_b(&j, "arrays", r->check->arrays);
        j_u(&j, "array_shards", r->check->array_shards);
        j_d(&j, "array_max_abs_error", r->check->array_err);
        j_d(&j, "array_tolerance", r->check->array_tolerance);
        j_b(&j, "pass", r->check->pass);
        j_close(&j, '}');
    }
    j_close(&j, '}');
    fputc('\n', f);
}

int rep_write_system_json(const char *path, const rep_system_run *r, char *err, size_t errlen)
{
    return rep_write_file(path, system_doc, r, err, errlen);
}

static const char system_csv_header[] =
    "system,device,devices,gpu,cpu_cores,topology,link_gbs,link_latency_ns,partition,"
    "workload,seq_len,hidden,heads,batch,kv_len,mode,tokens_per_device,rowlocal_s,"
    "attention_s,comm_s,exposed_comm_s,merge_s,link_bytes,total_s,single_device_s,speedup,"
    "efficiency,one_device,functional,link_energy_pj_per_bit,energy_j,link_energy_j,"
    "device_energy_j,single_device_energy_j,device_mac_utilization,overrides";

const char *rep_system_csv_header(void)
{
    return system_csv_header;
}

int rep_append_system_csv(const char *path, const rep_system_run *r, char *err, size_t errlen)
{
    const sys_desc *s = r->sys;
    const sys_result *x = r->res;
    char row[REP_CSV_OVERRIDES_MAX + 2048 + 2 * SYS_HEAD_DEVICES * 24];
    size_t u = 0;
    row[0] = '\0';
    csv_field(row, sizeof row - 2, &u, s->name);
    csv_field(row, sizeof row - 2, &u, r->arch->name);
    csv_num(row, sizeof row - 2, &u, "%u", s->devices);
    csv_field(row, sizeof row - 2, &u, r->gpu ? r->gpu->name : "");
    csv_num(row, sizeof row - 2, &u, "%u", s->cpu_cores);
    csv_field(row, sizeof row - 2, &u, sys_topology_name(s->topology));
    csv_num(row, sizeof row - 2, &u, "%.10g", s->link_gbs);
    csv_num(row, sizeof row - 2, &u, "%.10g", s->link_latency_ns);
    csv_field(row, sizeof row - 2, &u, sys_partition_name(s->partition));
    csv_field(row, sizeof row - 2, &u, r->wl->name);
    const uint64_t dims[] = {r->wl->seq_len, r->wl->hidden, r->wl->heads, r->wl->batch,
                             r->wl->kv_len};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        csv_num(row, sizeof row - 2, &u, "%llu", (unsigned long long)dims[i]);
    csv_field(row, sizeof row - 2, &u, r->analytical ? "analytical" : "cycle");
    csv_num(row, sizeof row - 2, &u, "%llu", (unsigned long long)x->tokens_per_device);
    const double secs[] = {x->rowlocal_s, x->attention_s, x->comm_s,  x->exposed_comm_s,
                           x->merge_s,    x->link_bytes,  x->total_s, x->single_s,
                           x->speedup,    x->efficiency};
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++)
        csv_num(row, sizeof row - 2, &u, "%.10g", secs[i]);
    csv_field(row, sizeof row - 2, &u, x->one_device ? "yes" : "no");
    csv_field(row, sizeof row - 2, &u, !r->check ? "off" : r->check->pass ? "pass" : "mismatch");
    csv_num(row, sizeof row - 2, &u, "%.10g", s->link_pj_per_bit);
    if (x->has_energy) {
        csv_num(row, sizeof row - 2, &u, "%.10g", x->energy_j);
        csv_num(row, sizeof row - 2, &u, "%.10g", x->link_energy_j);
    } else {
        csv_field(row, sizeof row - 2, &u, "");
        csv_field(row, sizeof row - 2, &u, "");
    }
    /* each kind of device's, space-separated in the order of the JSON's devices */
    char each[2][SYS_HEAD_DEVICES * 24];
    size_t n[2] = {0, 0};
    each[0][0] = each[1][0] = '\0';
    for (uint32_t i = 0; i < x->n_kinds; i++) {
        const sys_device *v = &x->dev[i];
        if (x->has_energy)
            n[0] += (size_t)snprintf(each[0] + n[0], sizeof each[0] - n[0], "%s%.10g", i ? " " : "",
                                     v->energy_j);
        if (!v->gpu && !v->cpu)
            n[1] += (size_t)snprintf(each[1] + n[1], sizeof each[1] - n[1], "%s%.10g",
                                     n[1] ? " " : "", v->mac_utilization);
    }
    csv_field(row, sizeof row - 2, &u, each[0]);
    if (x->has_energy)
        csv_num(row, sizeof row - 2, &u, "%.10g", x->single_energy_j);
    else
        csv_field(row, sizeof row - 2, &u, "");
    csv_field(row, sizeof row - 2, &u, each[1]);
    csv_overrides(row, sizeof row - 2, &u, r->overrides, r->n_overrides);
    row[u++] = '\n';
    row[u] = '\0';
    return rep_append_row(path, system_csv_header, row,
                          "a system run's header; keep system runs in files of their own", err,
                          errlen);
}
