/* run.c: a model on a system of identical arrays, tokens split over them (sequence
 * parallel or R-sharded), each device's share timed by the engine or the estimate.
 *
 * Notes: what a device does is its shard of the tokens through every row-local op
 * (projections, FFN, norms, adds: exact, by running the model on a shard-sized
 * sequence), and attention of its shard's queries against all keys. The K and V of the
 * other shards arrive by an all-gather per attention block (ring attention), overlapped
 * with the attention of the blocks already there: a block's attention phase takes the
 * longer of the two. Attention of q queries against k keys is taken as the shard run's
 * q x q attention times k / q (its cost is linear in the keys a query sees); a causal
 * mask's imbalance between shards (early ranges see fewer keys) is left out, as are
 * the energy of the links and the time to merge partial states (a few flops per query
 * and key block, next to the attention's). Only attention mixers split this way: a
 * sequence FFT or butterfly needs every token and is refused. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../run/run.h"
#include "../workload/workload.h"
#include "system.h"

static const char *const topology_names[SYS_TOPO_COUNT] = {"ring", "switch"};
static const char *const partition_names[SYS_PART_COUNT] = {"sequence", "strided", "heads"};

const char *sys_topology_name(sys_topology t)
{
    return t < SYS_TOPO_COUNT ? topology_names[t] : "?";
}

const char *sys_partition_name(sys_partition p)
{
    return p < SYS_PART_COUNT ? partition_names[p] : "?";
}

static bool is_attention(wl_op_kind k)
{
    return k == WL_OP_ATTENTION || k == WL_OP_SCORES || k == WL_OP_SOFTMAX || k == WL_OP_CONTEXT;
}

/* One block's figures of a model run, on one side of the row-local/attention split. */
typedef struct part_figures {
    double cycles, lane_ops, mac_busy;
} part_figures;

/* Splits block entry b of a model run (one block) into its row-local ops and attention. */
static void split_block(const run_result *r, uint32_t b, part_figures *rowlocal,
                        part_figures *attention)
{
    *rowlocal = *attention = (part_figures){0, 0, 0};
    for (uint32_t i = 0; i < r->blocks[b].n_ops; i++) {
        const run_op *o = &r->blocks[b].ops[i];
        part_figures *f = is_attention(o->op.kind) ? attention : rowlocal;
        f->cycles += (double)o->cycles;
        f->lane_ops += (double)o->lane_ops;
        f->mac_busy += (double)o->mac_busy;
    }
}

int sys_model_run(const arch_desc *a, const wl_desc *d, const map_forced *forced, bool analytical,
                  const run_progress *progress, run_result *r, char *err, size_t errlen)
{
    return analytical ? run_model_analytical(a, d, forced, progress, r, err, errlen)
                      : run_model(a, d, forced, false, NULL, progress, r, err, errlen);
}

int sys_run(const sys_desc *s, const arch_desc *a, const wl_desc *d, bool analytical,
            const run_progress *progress, sys_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (d->kind != WL_KIND_MODEL)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "system %s: a system runs models; %s is a butterfly-linear layer", s->name,
                         d->name);
    for (uint32_t b = 0; b < d->n_blocks; b++)
        if (d->blocks[b].mixer != WL_MIX_ATTENTION)
            return util_fail(UTIL_ECONFIG, err, errlen,
                             "system %s: block entry %u mixes with %s, which needs every token "
                             "on one device; only attention mixers split over devices yet",
                             s->name, b, wl_mixer_name(d->blocks[b].mixer));
    uint32_t p = s->devices;
    uint64_t n = d->seq_len, shard = (n + p - 1) / p; /* the largest shard, either split */
    if (shard == 0 || p > n)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "system %s: %u devices for %llu tokens: every device needs a token",
                         s->name, p, (unsigned long long)n);
    wl_desc part = *d;
    part.seq_len = shard;
    run_result share, whole;
    int rc = sys_model_run(a, &part, NULL, analytical, progress, &share, err, errlen);
    if (rc)
        return rc;
    /* every attention block's K/V all-gather: each device holds its shard's K and V and
     * needs everyone's (nothing to move on one device) */
    double hz = a->clock_ghz * 1e9, keys = (double)n / (double)shard,
           kv_bytes = 2.0 * (double)(d->batch * shard * d->hidden) * util_dtype_bytes(d->dtype);
    sys_collective kv = s->topology == SYS_TOPO_RING ? SYS_RING_ALLGATHER : SYS_RD_ALLGATHER;
    double comm =
               sys_collective_time(kv, p, kv_bytes, s->link_gbs * 1e9, s->link_latency_ns * 1e-9),
           comm_bytes = sys_collective_bytes(kv, p, kv_bytes);
    out->devices = p;
    out->tokens_per_device = shard;
    double lane_ops = 0, mac_busy = 0;
    for (uint32_t b = 0; b < d->n_blocks; b++) {
        double rep = (double)d->blocks[b].repeat;
        part_figures row, att;
        split_block(&share, b, &row, &att);
        /* all n keys, not the shard's */
        double rowlocal = row.cycles, attention = att.cycles * keys;
        lane_ops += rep * (row.lane_ops + att.lane_ops * keys);
        mac_busy += rep * (row.mac_busy + att.mac_busy * keys);
        if (comm > attention / hz)
            out->links_bound_blocks += (uint32_t)d->blocks[b].repeat;
        out->rowlocal_s += rep * rowlocal / hz;
        out->attention_s += rep * attention / hz;
        out->comm_s += rep * comm;
        out->exposed_comm_s += rep * fmax(0, comm - attention / hz);
        out->total_s += rep * (rowlocal / hz + fmax(attention / hz, comm));
        out->link_bytes += rep * comm_bytes;
        out->attention_blocks += (uint32_t)d->blocks[b].repeat;
    }
    out->device_lane_ops = (uint64_t)llround(lane_ops);
    /* the MAC units' busy share of a device over the whole run, links' waits included */
    out->mac_utilization =
        out->total_s > 0 ? mac_busy / ((double)arch_pe_count(a) * out->total_s * hz) : 0;
    run_free(&share);
    /* the same model on one device: what the speedup is over */
    if (p == 1) {
        out->single_s = out->total_s;
    } else {
        rc = sys_model_run(a, d, NULL, analytical, progress, &whole, err, errlen);
        if (rc)
            return rc;
        out->single_s = (double)whole.total.cycles / hz;
        run_free(&whole);
    }
    out->speedup = out->total_s > 0 ? out->single_s / out->total_s : 0;
    out->efficiency = out->speedup / p;
    return UTIL_OK;
}
