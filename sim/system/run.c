/* run.c: a model on a system of identical arrays, tokens split over them (sequence
 * parallel or R-sharded), each device's share timed by the engine or the estimate.
 *
 * Notes: what a device does is its shard of the tokens through every row-local op
 * (projections, FFN, norms, adds: exact, by running the model on a shard-sized
 * sequence), and attention of its shard's queries against all keys. The K and V of the
 * other shards arrive by an all-gather per attention block (ring attention), overlapped
 * with the attention of the blocks already there: a block's attention phase takes the
 * longer of the two. Attention of q queries against k keys is taken as the shard run's
 * q x q attention times k / q (its cost is linear in the keys a query sees), its energy
 * likewise; a device leaks while it waits on the links or on a slower shard. A causal
 * mask's imbalance between shards (early ranges see fewer keys) is left out. A prefill's
 * partial states merge inside each array's attention (in its cycles); a decode step's
 * merge across devices is priced at the array's peak vector rate (sys_merge_s), its
 * energy left out. Each device's decode run counts the step's own keys, which only one
 * device holds: (p - 1) x new_tokens keys too many a block, against the cache's. Only attention mixers split this way: a sequence FFT or butterfly
 * needs every token and is refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../energy/energy.h"
#include "../run/run.h"
#include "../workload/workload.h"
#include "internal.h"
#include "system.h"

static const char *const topology_names[SYS_TOPO_COUNT] = {"ring", "switch", "shared-dram", "mesh"};
static const char *const partition_names[SYS_PART_COUNT] = {"sequence", "strided", "heads",
                                                            "cascade"};

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

void sys_split_block(const run_result *r, uint32_t b, sys_part_figures *rowlocal,
                     sys_part_figures *attention)
{
    *rowlocal = *attention = (sys_part_figures){0, 0, 0, 0};
    for (uint32_t i = 0; i < r->blocks[b].n_ops; i++) {
        const run_op *o = &r->blocks[b].ops[i];
        sys_part_figures *f = is_attention(o->op.kind) ? attention : rowlocal;
        f->cycles += (double)o->cycles;
        f->lane_ops += (double)o->lane_ops;
        f->mac_busy += (double)o->mac_busy;
        f->energy_pj += o->energy_pj;
    }
}

/* What a device holding a shard does before any wait: r is the model run on the shard's
 * tokens, whose queries meet all the keys (keys: all tokens over the shard's); its energy
 * is the shard run's own, and its attention's once more per further shard of keys. */
static void shard_of(const arch_desc *a, const wl_desc *d, const run_result *r, double keys,
                     sys_work *f)
{
    double hz = a->clock_ghz * 1e9;
    *f = (sys_work){0, 0, 0, a->energy.present ? run_energy_pj(a, d->dtype, &r->total) : 0};
    for (uint32_t b = 0; b < d->n_blocks; b++) {
        double rep = (double)d->blocks[b].repeat;
        sys_part_figures row, att;
        sys_split_block(r, b, &row, &att);
        f->compute_s += rep * (row.cycles / hz + att.cycles * keys / hz);
        f->lane_ops += rep * (row.lane_ops + att.lane_ops * keys);
        f->mac_busy += rep * (row.mac_busy + att.mac_busy * keys);
        f->energy_pj += rep * (keys - 1) * att.energy_pj; /* 0 on one device */
    }
}

sys_device sys_device_of(const arch_desc *a, const sys_work *f, uint32_t count, uint64_t tokens,
                         double total_s, double wait_s)
{
    double hz = a->clock_ghz * 1e9, pe_cycles = (double)arch_pe_count(a) * total_s * hz;
    double leak_pj = a->energy.present ? en_leakage_mw(a) * wait_s * 1e9 : 0; /* mW x ns */
    return (sys_device){.count = count,
                        .tokens = tokens,
                        .busy_s = f->compute_s,
                        .energy_j = (f->energy_pj + leak_pj) * 1e-12,
                        .lane_ops = (uint64_t)llround(f->lane_ops),
                        .mac_utilization = pe_cycles > 0 ? f->mac_busy / pe_cycles : 0};
}

void sys_sum_energy(const sys_desc *s, sys_result *out)
{
    out->link_energy_j = sys_link_energy_j(s, out->moved_bytes);
    out->energy_j = 0;
    for (uint32_t i = 0; i < out->n_kinds; i++)
        out->energy_j += out->dev[i].count * out->dev[i].energy_j;
    out->energy_j += out->link_energy_j;
}

int sys_model_run(const arch_desc *a, const wl_desc *d, const map_forced *forced, bool analytical,
                  const run_progress *progress, run_result *r, char *err, size_t errlen)
{
    return analytical ? run_model_analytical(a, d, forced, progress, r, err, errlen)
                      : run_model(a, d, forced, false, NULL, progress, r, err, errlen);
}

double sys_merge_s(const arch_desc *a, util_dtype t, double states, uint64_t d)
{
    double rate = (double)arch_lanes(a, t) * arch_pe_count(a) * a->clock_ghz * 1e9;
    return states * (4.0 * (double)d + 8) / rate;
}

int sys_check_splits(const sys_desc *s, const wl_desc *d, char *err, size_t errlen)
{
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
    return UTIL_OK;
}

int sys_single_device(const arch_desc *a, const wl_desc *d, bool analytical,
                      const run_progress *progress, sys_result *out, char *err, size_t errlen)
{
    run_result *whole = calloc(1, sizeof *whole);
    if (!whole)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    int rc = sys_model_run(a, d, NULL, analytical, progress, whole, err, errlen);
    if (!rc) {
        out->single_s = (double)whole->total.cycles / (a->clock_ghz * 1e9);
        out->single_energy_j =
            a->energy.present ? run_energy_pj(a, d->dtype, &whole->total) * 1e-12 : 0;
        run_free(whole);
    }
    free(whole);
    return rc;
}

/* How the tokens split: a prefill shards its sequence (each shard's queries meet every
 * key, the K and V of the others arriving by an all-gather that attention overlaps); a
 * decode step shards each block's K/V cache (every device runs the new tokens against its
 * part of the cache, and the partial states are all-gathered and merged after). */
typedef struct split_plan {
    uint64_t n;        /* tokens split: the sequence, or a decode step's cache */
    double comm_bytes; /* per device and attention block: its K and V, or its states */
    bool overlap;      /* the exchange hides behind attention (prefill) */
} split_plan;

static split_plan plan_split(const wl_desc *d, uint32_t p)
{
    double e = util_dtype_bytes(d->dtype);
    if (d->new_tokens) {
        /* a state per new token and head: o (hidden values) and lse (FP32) */
        double states = (double)(d->batch * d->seq_len) * ((double)d->hidden * e + 4.0 * d->heads);
        return (split_plan){d->kv_len, states, false};
    }
    uint64_t shard = (d->seq_len + p - 1) / p;
    return (split_plan){d->seq_len, 2.0 * (double)(d->batch * shard * d->hidden) * e, true};
}

int sys_run(const sys_desc *s, const arch_desc *a, const wl_desc *d, bool analytical,
            const run_progress *progress, sys_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = sys_check_splits(s, d, err, errlen);
    if (rc)
        return rc;
    uint32_t p = s->devices;
    split_plan sp = plan_split(d, p);
    uint64_t n = sp.n, shard = (n + p - 1) / p; /* the largest shard, either split */
    if (shard == 0 || p > n)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         d->new_tokens ? "system %s: %u devices for a K/V cache of %llu tokens: "
                                         "every device needs a cache token"
                                       : "system %s: %u devices for %llu tokens: every device "
                                         "needs a token",
                         s->name, p, (unsigned long long)n);
    /* the devices with the largest shard, and where p does not divide n the others, with
     * one token fewer: each kind's model run (prefill: the shard's queries, which meet all
     * n keys; decode: the new tokens against the shard of the cache) */
    uint32_t n_large = n % p ? (uint32_t)(n % p) : p, kinds = n_large < p ? 2 : 1;
    run_result *runs = calloc(2, sizeof *runs); /* (1.5 MB each: not on the stack) */
    double keys[2];
    rc = runs ? UTIL_OK : util_fail(UTIL_ERUN, err, errlen, "out of memory");
    for (uint32_t k = 0; k < kinds && !rc; k++) {
        wl_desc part = *d;
        if (d->new_tokens) {
            part.kv_len = shard - k;
            keys[k] = 1;
        } else {
            part.seq_len = shard - k;
            keys[k] = (double)n / (double)part.seq_len;
        }
        rc = sys_model_run(a, &part, NULL, analytical, progress, &runs[k], err, errlen);
        if (rc && k)
            run_free(&runs[0]);
    }
    if (rc) {
        free(runs);
        return rc;
    }
    /* every attention block's all-gather (nothing to move on one device): prefill the K
     * and V, decode the partial states */
    double hz = a->clock_ghz * 1e9;
    sys_collective kv = s->topology == SYS_TOPO_RING   ? SYS_RING_ALLGATHER
                        : s->topology == SYS_TOPO_MESH ? SYS_MESH_ALLGATHER
                                                       : SYS_RD_ALLGATHER;
    double comm = sys_collective_time(kv, p, sp.comm_bytes, s->link_gbs * 1e9,
                                      s->link_latency_ns * 1e-9),
           comm_bytes = sys_collective_bytes(kv, p, sp.comm_bytes);
    /* what moves: prefill every token's K and V, decode every device's states, to the
     * p - 1 devices that lack them */
    double moved = d->new_tokens ? (p - 1.0) * p * sp.comm_bytes
                                 : (p - 1.0) * 2.0 * (double)(d->batch * n * d->hidden) *
                                       util_dtype_bytes(d->dtype);
    /* decode: every device merges the p states of each new token and head */
    double merge = d->new_tokens
                       ? sys_merge_s(a, d->dtype,
                                     (p - 1.0) * (double)(d->batch * d->seq_len) * (double)d->heads,
                                     d->hidden / d->heads)
                       : 0;
    out->devices = p;
    out->tokens_per_device = shard;
    double wait[2] = {0, 0};
    for (uint32_t b = 0; b < d->n_blocks; b++) {
        double rep = (double)d->blocks[b].repeat, rowlocal[2], attention[2], block = 0;
        for (uint32_t k = 0; k < kinds; k++) {
            sys_part_figures row, att;
            sys_split_block(&runs[k], b, &row, &att);
            /* prefill: all n keys, not the shard's */
            rowlocal[k] = row.cycles / hz, attention[k] = att.cycles * keys[k] / hz;
            block = fmax(block, rowlocal[k] + (sp.overlap ? fmax(attention[k], comm)
                                                          : attention[k] + comm + merge));
        }
        /* the next all-gather waits for every device: the block ends with the slowest */
        for (uint32_t k = 0; k < kinds; k++)
            wait[k] += rep * (block - (rowlocal[k] + attention[k]));
        if (comm > attention[0])
            out->links_bound_blocks += (uint32_t)d->blocks[b].repeat;
        out->rowlocal_s += rep * rowlocal[0];
        out->attention_s += rep * attention[0];
        out->comm_s += rep * comm;
        out->merge_s += rep * merge;
        out->exposed_comm_s += rep * (sp.overlap ? fmax(0, comm - attention[0]) : comm);
        out->total_s += rep * block;
        out->link_bytes += rep * comm_bytes;
        out->moved_bytes += rep * moved;
        out->attention_blocks += (uint32_t)d->blocks[b].repeat;
    }
    for (uint32_t k = 0; k < kinds; k++) {
        sys_work f;
        shard_of(a, d, &runs[k], keys[k], &f);
        out->dev[k] =
            sys_device_of(a, &f, k ? p - n_large : n_large, shard - k, out->total_s, wait[k]);
        run_free(&runs[k]);
    }
    free(runs);
    out->n_kinds = kinds;
    out->has_energy = a->energy.present;
    sys_sum_energy(s, out);
    /* the same model on one device: what the speedup is over */
    if (p == 1) {
        out->single_s = out->total_s;
        out->single_energy_j = out->dev[0].energy_j;
    } else if ((rc = sys_single_device(a, d, analytical, progress, out, err, errlen))) {
        return rc;
    }
    out->speedup = out->total_s > 0 ? out->single_s / out->total_s : 0;
    out->efficiency = out->speedup / p;
    return UTIL_OK;
}
