/* heads.c: a model split over unlike devices op by op (heads with affinity): arrays, a
 * GPU and its SoC's CPU cluster each take a share of every linear layer's columns and of
 * attention's heads, in proportion to how fast each runs that op alone.
 *
 * Notes: each device's time for a whole op comes from its own model (an array's op as the
 * engine or the estimate runs it on its own, without fusion or chaining; the GPU's
 * kernels from the GPU model; the CPU cluster's, the same kernels on its cores' roofline),
 * and a share of an op takes that share of the time (the
 * fill and drain of a smaller share are left out). Op by op, greedily, the op runs whole
 * on the device fastest at it (its input fetched there if another device alone holds
 * it) or split over all (the input spread to all first where needed, the output shares
 * exchanged after, a ring all-gather of the largest share), whichever ends sooner;
 * norms, adds and FFTs never split. A device waits for the others at every op. The
 * split plan runs an array's ops on their own, without fused groups or chains; one array
 * alone, the comparison, runs its best plan. Devices wait for each other at every op:
 * no op of one device overlaps the next op of another. A device's share of an op takes
 * that share of its energy too (an array's op priced by its energy table, the GPU's
 * kernels by the GPU model); waiting, it draws its idle power (an array's leakage, the
 * GPU module's idle watts), and so does a device the plan leaves idle. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../energy/energy.h"
#include "system.h"

/* Items an op splits into: heads for attention, output columns for linear layers; 0: it
 * runs whole on one device. */
static uint64_t split_items(const wl_op *op)
{
    if (op->kind == WL_OP_ATTENTION)
        return op->groups;
    if (op->kind == WL_OP_DENSE || op->kind == WL_OP_BUTTERFLY || op->kind == WL_OP_BLOCK_BFLY)
        return op->out;
    return 0;
}

/* The array op of block b that a GPU or CPU op's time belongs to: the op of that name, or
 * (they run attention as scores, softmax and context, and the GELU on its own) the fused
 * attention, or the op before. */
static int array_op_of(const run_block *rb, const char *name, wl_op_kind kind, int prev)
{
    for (uint32_t i = 0; i < rb->n_ops; i++)
        if (strcmp(rb->ops[i].op.name, name) == 0)
            return (int)i;
    if (kind == WL_OP_SCORES || kind == WL_OP_SOFTMAX || kind == WL_OP_CONTEXT)
        for (uint32_t i = 0; i < rb->n_ops; i++)
            if (rb->ops[i].op.kind == WL_OP_ATTENTION)
                return (int)i;
    return prev;
}

/* Seconds to give every device the output shares of a split op (the largest share is
 * `largest` bytes): a ring all-gather. */
static double exchange_s(const sys_desc *s, uint32_t n_dev, double largest)
{
    if (n_dev < 2)
        return 0;
    return sys_collective_time(SYS_RING_ALLGATHER, n_dev, largest, s->link_gbs * 1e9,
                               s->link_latency_ns * 1e-9);
}

/* Where an op's input lies: every device holds it (after an exchange), or one does. */
#define SYS_ALL_HOLD UINT32_MAX

/* The link seconds to move `bytes` from one device to every other (a broadcast down a
 * ring or through a switch: the bytes once over each link in turn, pipelined). */
static double spread_s(const sys_desc *s, uint32_t n_dev, double bytes)
{
    return n_dev < 2 ? 0 : (n_dev - 1) * s->link_latency_ns * 1e-9 + bytes / (s->link_gbs * 1e9);
}

/* How one op ran: its seconds, those on links, each device's share of its work, and the
 * bytes that moved between devices. */
typedef struct op_plan {
    double seconds, comm;
    double share[SYS_HEAD_DEVICES];
    double moved;
} op_plan;

/* One op: run whole on the device fastest at it (after fetching its input there when
 * another device alone holds it), or split by heads or columns over all (after spreading
 * the input to all, then exchanging the output shares), whichever ends sooner. *holder
 * is where the input is on entry and where the output is on return; in_bytes the input's
 * size, *out_bytes the output's. */
static void op_time(const sys_desc *s, const wl_desc *d, const wl_op *op, const double *t_dev,
                    uint32_t n_dev, double in_bytes, uint32_t *holder, double *out_bytes,
                    op_plan *plan)
{
    uint64_t items = split_items(op);
    /* its output: attention's is the context, tokens x hidden */
    double bytes = op->kind == WL_OP_ATTENTION ? (double)(d->batch * d->seq_len * d->hidden)
                                               : (double)op->rows * (double)op->out;
    *out_bytes = bytes *= util_dtype_bytes(d->dtype);
    memset(plan, 0, sizeof *plan);
    uint32_t best = 0;
    for (uint32_t i = 1; i < n_dev; i++)
        best = t_dev[i] < t_dev[best] ? i : best;
    bool fetch = *holder != SYS_ALL_HOLD && *holder != best;
    double fetch_s = fetch ? spread_s(s, 2, in_bytes) : 0, whole = t_dev[best] + fetch_s;
    double rate[SYS_HEAD_DEVICES];
    uint64_t first[SYS_HEAD_DEVICES], count[SYS_HEAD_DEVICES];
    for (uint32_t i = 0; i < n_dev; i++)
        rate[i] = t_dev[i] > 0 ? 1 / t_dev[i] : 0;
    if (items && sys_apportion(items, n_dev, rate, first, count)) {
        double slowest = 0, largest = 0;
        for (uint32_t i = 0; i < n_dev; i++) {
            double f = (double)count[i] / (double)items;
            slowest = fmax(slowest, f * t_dev[i]);
            largest = fmax(largest, f * bytes);
        }
        bool spread = *holder != SYS_ALL_HOLD;
        double link = (spread ? spread_s(s, n_dev, in_bytes) : 0) + exchange_s(s, n_dev, largest);
        if (slowest + link < whole) {
            *holder = SYS_ALL_HOLD;
            plan->seconds = slowest + link, plan->comm = link;
            for (uint32_t i = 0; i < n_dev; i++)
                plan->share[i] = (double)count[i] / (double)items;
            /* the input to every other device; each share of the output to every other */
            plan->moved = (n_dev - 1.0) * ((spread ? in_bytes : 0) + bytes);
            return;
        }
    }
    *holder = best;
    plan->seconds = whole, plan->comm = fetch_s;
    plan->share[best] = 1;
    plan->moved = fetch ? in_bytes : 0;
}

/* The GPU's seconds and joules for each array op of block entry b (one instance). */
static void gpu_times(const gpu_result *gr, const run_block *rb, uint32_t b, double *tg, double *jg)
{
    int prev = 0;
    for (uint32_t k = 0; k < gr->n_rows; k++)
        if (gr->row[k].block == b) {
            prev = array_op_of(rb, gr->row[k].name, gr->row[k].kind, prev);
            tg[prev] += gr->row[k].seconds;
            jg[prev] += gr->row[k].joules;
        }
}

/* The CPU cluster's seconds and joules (its cores' active power: the module's idle power
 * is the GPU device's) for each array op of block entry b (one instance). */
static void cpu_times(const gpu_desc *c, const wl_desc *d, const run_block *rb, uint32_t b,
                      double *tc, double *jc)
{
    wl_op ops[WL_MAX_BLOCK_OPS];
    uint32_t n = wl_block_ops(d, b, ops);
    int prev = 0;
    for (uint32_t k = 0; k < n; k++) {
        prev = array_op_of(rb, ops[k].name, ops[k].kind, prev);
        double sec = gpu_cpu_op_seconds(c, &ops[k], d->dtype);
        tc[prev] += sec;
        jc[prev] += sec * c->cpu.active_w;
    }
}

/* What each device did over the run: busy seconds, the energy of its work (not of its
 * waits), its MAC units' busy cycles and its useful lane operations. */
typedef struct dev_work {
    double busy_s, work_j, mac_busy, lane_ops;
} dev_work;

/* The devices' figures once the run's total_s is known: device i did w[i] and waited the
 * rest at its idle power (arrays: their leakage; the GPU: the module's idle watts; the
 * CPU cluster: nothing more, its module's idle power being the GPU's). */
static void devices_of(const sys_desc *s, const arch_desc *a, const gpu_desc *g, const wl_desc *d,
                       const dev_work *w, sys_result *out)
{
    double hz = a->clock_ghz * 1e9, pe_cycles = (double)arch_pe_count(a) * out->total_s * hz;
    double array_idle_w = a->energy.present ? en_leakage_mw(a) * 1e-3 : 0;
    out->n_kinds = sys_device_count(s);
    for (uint32_t i = 0; i < out->n_kinds; i++) {
        sys_device *x = &out->dev[i];
        x->count = 1, x->gpu = i == s->devices, x->cpu = i == s->devices + 1;
        x->tokens = d->seq_len;
        x->busy_s = w[i].busy_s;
        double idle_w = x->gpu ? g->power.idle_w : x->cpu ? 0 : array_idle_w;
        x->energy_j = w[i].work_j + idle_w * fmax(0, out->total_s - x->busy_s);
        bool array = !x->gpu && !x->cpu;
        x->lane_ops = array ? (uint64_t)llround(w[i].lane_ops) : 0;
        x->mac_utilization = array && pe_cycles > 0 ? w[i].mac_busy / pe_cycles : 0;
    }
}

int sys_run_heads(const sys_desc *s, const arch_desc *a, const wl_desc *d, const gpu_desc *g,
                  bool analytical, const run_progress *progress, sys_result *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    uint32_t n_dev = sys_device_count(s);
    if (s->gpu[0] && !g)
        return util_fail(UTIL_ERUN, err, errlen, "system %s names a GPU but none was given",
                         s->name);
    if (n_dev > SYS_HEAD_DEVICES)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "system %s: the heads partition takes at most %d devices", s->name,
                         SYS_HEAD_DEVICES);
    /* each op on its own, so that every op has a time of its own to split */
    map_forced apart = {.chaining = MAP_CHAIN_OFF, .fusing = MAP_FUSE_OFF};
    run_result *runs = calloc(2, sizeof *runs), *r = runs, *best = runs + 1; /* (large) */
    if (!runs)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    int rc = sys_model_run(a, d, &apart, analytical, progress, r, err, errlen);
    gpu_result *gr = g && !rc ? malloc(sizeof *gr) : NULL; /* large: off the stack */
    if (!rc && g && !gr)
        rc = util_fail(UTIL_ERUN, err, errlen, "out of memory");
    if (!rc && g)
        rc = gpu_model_run(g, d, gr, err, errlen);
    double hz = a->clock_ghz * 1e9, cpu_s = 0, cpu_j = 0;
    dev_work w[SYS_HEAD_DEVICES] = {{0, 0, 0, 0}};
    /* the SoC's CPU cluster, with the system's cores */
    gpu_desc cpu;
    bool has_cpu = g && s->cpu_cores;
    /* (its active power scales with the cores from the preset's) */
    if (has_cpu) {
        cpu = *g, cpu.cpu.cores = s->cpu_cores;
        cpu.cpu.active_w *= g->cpu.cores ? (double)s->cpu_cores / g->cpu.cores : 1;
    }
    /* where the data is carries from op to op, instance to instance and entry to entry:
     * an entry's first instance starts where the model was, its later ones where an
     * instance ends (the same choices every time from there) */
    uint32_t holder = SYS_ALL_HOLD;
    double in_bytes = 0;
    for (uint32_t b = 0; !rc && b < d->n_blocks; b++) {
        const run_block *rb = &r->blocks[b];
        double tg[WL_MAX_BLOCK_OPS] = {0}, jg[WL_MAX_BLOCK_OPS] = {0};
        double tc[WL_MAX_BLOCK_OPS] = {0}, jc[WL_MAX_BLOCK_OPS] = {0};
        if (g)
            gpu_times(gr, rb, b, tg, jg);
        if (has_cpu)
            cpu_times(&cpu, d, rb, b, tc, jc);
        for (uint32_t i = 0; i < rb->n_ops; i++)
            cpu_s += (double)rb->repeat * tc[i], cpu_j += (double)rb->repeat * jc[i];
        for (uint64_t k = 0; k < (rb->repeat > 1 ? 2u : 1u); k++) {
            double times = k == 0 ? 1.0 : (double)(rb->repeat - 1);
            double inst_s = 0, inst_comm = 0, inst_moved = 0;
            for (uint32_t i = 0; i < rb->n_ops; i++) {
                const run_op *o = &rb->ops[i];
                double t_dev[SYS_HEAD_DEVICES], out_bytes;
                for (uint32_t j = 0; j < s->devices; j++)
                    t_dev[j] = (double)o->cycles / hz;
                if (g)
                    t_dev[s->devices] = tg[i];
                if (has_cpu)
                    t_dev[s->devices + 1] = tc[i];
                op_plan plan;
                op_time(s, d, &o->op, t_dev, n_dev, in_bytes, &holder, &out_bytes, &plan);
                inst_s += plan.seconds;
                inst_comm += plan.comm;
                inst_moved += plan.moved;
                in_bytes = out_bytes;
                /* a share of an op takes that share of its time, energy and work */
                for (uint32_t j = 0; j < n_dev; j++) {
                    double f = times * plan.share[j];
                    bool array = j < s->devices;
                    w[j].busy_s += f * t_dev[j];
                    w[j].work_j += f * (array             ? o->energy_pj * 1e-12
                                        : j == s->devices ? jg[i]
                                                          : jc[i]);
                    w[j].mac_busy += array ? f * (double)o->mac_busy : 0;
                    w[j].lane_ops += array ? f * (double)o->lane_ops : 0;
                }
            }
            out->total_s += times * inst_s;
            out->comm_s += times * inst_comm;
            out->moved_bytes += times * inst_moved;
        }
    }
    /* one array on its own runs its best plan (fused groups, chains) */
    if (!rc)
        rc = sys_model_run(a, d, NULL, analytical, NULL, best, err, errlen);
    if (!rc) {
        double array_s = (double)best->total.cycles / hz,
               array_j = a->energy.present ? run_energy_pj(a, d->dtype, &best->total) * 1e-12 : 0;
        /* the best device alone: an array, the GPU, or the CPU cluster (its module's idle
         * power on top of its cores') */
        uint32_t alone = 0;
        out->single_s = s->devices ? array_s : INFINITY;
        out->single_energy_j = s->devices ? array_j : 0;
        if (g && gr->gpu.seconds < out->single_s)
            alone = s->devices, out->single_s = gr->gpu.seconds,
            out->single_energy_j = gr->gpu.joules;
        if (has_cpu && cpu_s < out->single_s)
            alone = s->devices + 1, out->single_s = cpu_s,
            out->single_energy_j = cpu_j + g->power.idle_w * cpu_s;
        out->devices = n_dev;
        out->tokens_per_device = d->seq_len; /* every device sees every token */
        if (out->single_s < out->total_s) {  /* the system runs it on that device alone */
            out->one_device = true;
            out->split_s = out->total_s;
            out->total_s = out->single_s;
            out->comm_s = out->moved_bytes = 0;
            memset(w, 0, sizeof w);
            dev_work *x = &w[alone];
            x->busy_s = out->single_s;
            x->work_j = alone == s->devices + 1 ? cpu_j : out->single_energy_j;
            bool array = alone < s->devices;
            x->mac_busy = array ? (double)best->total.pe_total.fu_busy[ARCH_FU_MAC] : 0;
            x->lane_ops = array ? (double)best->total.lane_ops : 0;
        }
        run_free(best);
        devices_of(s, a, g, d, w, out);
        out->has_energy = a->energy.present;
        sys_sum_energy(s, out);
        out->speedup = out->total_s > 0 ? out->single_s / out->total_s : 0;
        out->efficiency = out->speedup / n_dev;
    }
    free(gr);
    run_free(r);
    free(runs);
    return rc;
}
