/* cascade.c: Cascade's R-sharding roles (arXiv 2507.05228): CompNodes run the row-local
 * ops of strided token shares, AttnNodes the attention of one query group against one key
 * group, the CompNodes merging each query's partial states.
 *
 * Notes: alpha CompNodes each take the tokens t with t mod alpha = c through every
 * row-local op (projections, norms, FFN; timed as a model run on ceil(n / alpha) tokens).
 * The tokens also fall in beta groups (t mod beta); AttnNode (a, b) attends query group a
 * to key group b (timed as the attention of a run on ceil(n / beta) tokens: that many
 * queries against that many keys) and returns each query's partial state (o and an FP32
 * lse per head) to its CompNode, which merges the beta states. Per attention block: the
 * CompNodes' row-local work, the q, k and v sent out (each token's q to the beta AttnNodes
 * of its query group, its k and v to the beta of its key group), the AttnNodes' attention,
 * the states sent back; nothing of one step overlaps the next, and a step's transfer takes
 * the latency plus the busiest end's bytes over one link (the switch's crossbar and its
 * contention are left out). The CompNodes' row-local ops of a block do not wait for the
 * attention of other blocks: one sequence goes through the blocks in order. Strided
 * groups give every node the same share of a causal mask's work (the arrays compute the
 * masked scores anyway). The merge is priced at the array's peak vector rate
 * (sys_merge_s), its energy left out. A device idles at its leakage power while the other
 * role works. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../energy/energy.h"
#include "internal.h"
#include "system.h"

/* One attention block's link time and bytes in the cascade's two transfers. */
typedef struct cascade_links {
    double seconds;  /* send and return, each latency + busiest end's bytes */
    double per_link; /* bytes through the busiest device's link */
    double moved;    /* every byte that goes from a device to another */
} cascade_links;

static cascade_links links_of(const sys_desc *s, const wl_desc *d, uint64_t comp_tokens,
                              uint64_t group_tokens)
{
    double e = util_dtype_bytes(d->dtype), beta = s->attn_groups, H = (double)d->hidden;
    double qkv = 3 * H * e, state = H * e + 4.0 * (double)d->heads, n = (double)d->seq_len;
    /* out: a CompNode sends each token's q, k and v to beta AttnNodes; an AttnNode takes
     * its group's queries and keys (q, then k and v) */
    double b = (double)d->batch; /* every sequence's tokens */
    double comp_out = b * (double)comp_tokens * qkv * beta, attn_in = b * (double)group_tokens * qkv;
    /* back: an AttnNode returns a state per query; a CompNode takes beta per token */
    double attn_out = b * (double)group_tokens * state,
           comp_in = b * (double)comp_tokens * beta * state;
    double bw = s->link_gbs * 1e9, lat = s->link_latency_ns * 1e-9;
    double send = fmax(comp_out, attn_in), back = fmax(attn_out, comp_in);
    return (cascade_links){2 * lat + (send + back) / bw, send + back,
                           n * beta * (qkv + state) * (double)d->batch};
}

int sys_run_cascade(const sys_desc *s, const arch_desc *a, const wl_desc *d, bool analytical,
                    const run_progress *progress, sys_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = sys_check_splits(s, d, err, errlen);
    if (rc)
        return rc;
    uint32_t alpha = s->comp_nodes, beta = s->attn_groups;
    uint64_t n = d->seq_len;
    if (d->new_tokens)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "system %s: the cascade partition runs whole sequences; a decode step "
                         "splits its cache with partition = \"sequence\" or \"strided\"",
                         s->name);
    if (n < alpha || n < beta)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "system %s: %llu tokens for %u CompNodes and %u token groups: every "
                         "node needs a token",
                         s->name, (unsigned long long)n, alpha, beta);
    /* the CompNode with the most tokens, and an AttnNode's group (the largest) */
    uint64_t comp_tokens = (n + alpha - 1) / alpha, group_tokens = (n + beta - 1) / beta;
    run_result *runs = calloc(2, sizeof *runs); /* (large: off the stack) */
    if (!runs)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    wl_desc comp = *d, attn = *d;
    comp.seq_len = comp_tokens, attn.seq_len = group_tokens;
    rc = sys_model_run(a, &comp, NULL, analytical, progress, &runs[0], err, errlen);
    if (!rc && (rc = sys_model_run(a, &attn, NULL, analytical, progress, &runs[1], err, errlen)))
        run_free(&runs[0]);
    if (rc) {
        free(runs);
        return rc;
    }
    double hz = a->clock_ghz * 1e9;
    cascade_links L = links_of(s, d, comp_tokens, group_tokens);
    /* a CompNode merges the beta states of each of its tokens and heads */
    double merge =
        sys_merge_s(a, d->dtype, (beta - 1.0) * (double)(comp_tokens * d->batch) * (double)d->heads,
                    d->hidden / d->heads);
    sys_work cw = {0, 0, 0, 0}, aw = {0, 0, 0, 0};
    for (uint32_t b = 0; b < d->n_blocks; b++) {
        double rep = (double)d->blocks[b].repeat;
        sys_part_figures row, att, unused;
        sys_split_block(&runs[0], b, &row, &unused);
        sys_split_block(&runs[1], b, &unused, &att);
        double row_s = row.cycles / hz, att_s = att.cycles / hz;
        out->rowlocal_s += rep * row_s;
        out->attention_s += rep * att_s;
        out->comm_s += rep * L.seconds;
        out->total_s += rep * (row_s + L.seconds + att_s + merge);
        out->merge_s += rep * merge;
        out->link_bytes += rep * L.per_link;
        out->moved_bytes += rep * L.moved;
        out->attention_blocks += (uint32_t)d->blocks[b].repeat;
        out->links_bound_blocks += L.seconds > att_s ? (uint32_t)d->blocks[b].repeat : 0;
        cw = (sys_work){cw.compute_s + rep * (row_s + merge), cw.lane_ops + rep * row.lane_ops,
                        cw.mac_busy + rep * row.mac_busy, cw.energy_pj + rep * row.energy_pj};
        aw = (sys_work){aw.compute_s + rep * att_s, aw.lane_ops + rep * att.lane_ops,
                        aw.mac_busy + rep * att.mac_busy, aw.energy_pj + rep * att.energy_pj};
    }
    run_free(&runs[0]);
    run_free(&runs[1]);
    free(runs);
    out->exposed_comm_s = out->comm_s;
    out->devices = alpha + beta * beta;
    out->tokens_per_device = comp_tokens;
    out->dev[0] =
        sys_device_of(a, &cw, alpha, comp_tokens, out->total_s, out->total_s - cw.compute_s);
    out->dev[0].role = SYS_ROLE_COMP;
    out->dev[1] =
        sys_device_of(a, &aw, beta * beta, group_tokens, out->total_s, out->total_s - aw.compute_s);
    out->dev[1].role = SYS_ROLE_ATTN;
    out->n_kinds = 2;
    out->has_energy = a->energy.present;
    sys_sum_energy(s, out);
    rc = sys_single_device(a, d, analytical, progress, out, err, errlen);
    if (rc)
        return rc;
    out->speedup = out->total_s > 0 ? out->single_s / out->total_s : 0;
    out->efficiency = out->speedup / out->devices;
    return UTIL_OK;
}
