/* system.h: attention split over several devices: partial softmax states, their merge,
 * the partitions that produce them, and the collectives that move them. */
#ifndef BFLY_SYSTEM_H
#define BFLY_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../arch/arch.h"
#include "../gpu/gpu.h"
#include "../run/run.h"
#include "../workload/workload.h"

/* ---------------------------------------------------------------- partial states
 *
 * A partial state of one query row over a subset of the keys is (o, lse): o the attention
 * output over that subset alone (normalised: softmax over the subset's scores times its
 * values), lse = log sum exp(score) over the subset. A subset with no key, or every key
 * masked, has (o, lse) = (0, -inf). States of disjoint subsets merge into the state of
 * their union (DESIGN.md section 8):
 *   M = max_k lse_k;  M = -inf gives (0, -inf);
 *   L = M + log sum_k exp(lse_k - M);  o = sum_k exp(lse_k - L) o_k.
 * The merge is associative and commutative, so any order and any tree give the same
 * result (up to rounding). */

/* States of nq query rows of d values: o[nq x d] and lse[nq], row-major. */
typedef struct sys_states {
    size_t nq, d;
    double *o, *lse;
} sys_states;

/* Allocates nq x d states set to (0, -inf); false when out of memory. */
bool sys_states_init(sys_states *s, size_t nq, size_t d);
void sys_states_free(sys_states *s);

/* The partial states of nq queries (rows of q, at positions q_pos in the sequence)
 * against the nk keys whose rows of the full k and v are keys[0..nk) (any subset, in any
 * order: a token range, a strided subset). scores = scale q.k; with causal, key position
 * p is masked for a query at position t when p > t. Computed in double precision. */
void sys_partial_attention(size_t nq, size_t d, const double *q, const uint64_t *q_pos,
                           const double *k, const double *v, const uint64_t *keys, size_t nk,
                           double scale, bool causal, sys_states *out);

/* Merges the n states in[0..n) (equal shapes) into out, which may be one of them; false
 * when out of memory. */
bool sys_merge(const sys_states *const *in, size_t n, sys_states *out);

/* ---------------------------------------------------------------- partitions */

typedef enum {
    SYS_SPLIT_RANGES,  /* sequence parallel: shard s takes tokens [s n / p, (s+1) n / p) */
    SYS_SPLIT_STRIDED, /* R-sharding (Cascade): shard s takes tokens t with t mod p = s */
    SYS_SPLIT_COUNT
} sys_split;

const char *sys_split_name(sys_split k);

/* The tokens of shard s of p over a sequence of n tokens, in ascending order, into
 * tokens (room for n); returns how many (0 for a shard past the tokens, when p > n). */
size_t sys_shard_tokens(sys_split k, uint64_t n, uint32_t p, uint32_t s, uint64_t *tokens);

/* Splits `items` (heads, or weight columns) over n devices in proportion to their
 * rates (items per second each device's own model gives; 0: the device takes none), by
 * largest remainder, so the counts add up to items and each is within one of its exact
 * share; ties go to the lower device. first[i], count[i]: device i's contiguous block.
 * False when no rate is positive. */
bool sys_apportion(uint64_t items, uint32_t n, const double *rate, uint64_t *first,
                   uint64_t *count);

/* ---------------------------------------------------------------- collectives
 *
 * Times of the standard algorithms on p nodes, each link `latency_s` plus bytes over
 * `bytes_per_s` (the alpha-beta model; Thakur, Rabenseifner and Gropp, "Optimization of
 * Collective Communication Operations in MPICH", IJHPCA 19(1), 2005), for a message of
 * `bytes` per node. Links are full duplex and one node sends on one link at a time; no
 * contention beyond that is modelled. */
typedef enum {
    SYS_RING_ALLREDUCE, /* reduce-scatter then all-gather around a ring: each node moves
                         * 2 (p-1)/p of the data in 2 (p-1) steps */
    SYS_TREE_REDUCE,    /* binomial tree to one root: ceil(log2 p) steps of the whole data,
                         * all received over the root's link */
    SYS_RING_ALLGATHER, /* each node ends with all p blocks of `bytes`: (p-1) steps of one block */
    SYS_GATHER,         /* every node sends its `bytes` to one root over its single link:
                         * (p-1) messages in turn */
    SYS_RD_ALLGATHER,   /* recursive doubling through a switch: ceil(log2 p) steps, the
                         * blocks doubling each step, (p-1) blocks in all */
    SYS_MESH_ALLGATHER, /* a 2-D mesh of r x c nodes (r the largest divisor of p up to
                         * sqrt p): an all-gather along each row ((c-1) steps of one block),
                         * then along each column ((r-1) steps of c blocks) */
    SYS_COLLECTIVE_COUNT
} sys_collective;

const char *sys_collective_name(sys_collective c);
/* Rows of the mesh p nodes form: the largest divisor of p up to sqrt p (p / rows columns). */
uint32_t sys_mesh_rows(uint32_t p);
/* Seconds the collective takes (0 on one node). */
double sys_collective_time(sys_collective c, uint32_t p, double bytes, double bytes_per_s,
                           double latency_s);
/* Bytes through the busiest node's link, one way (what the time's bandwidth term moves). */
double sys_collective_bytes(sys_collective c, uint32_t p, double bytes);

/* ---------------------------------------------------------------- systems */

#define SYS_NAME_MAX 64
#define SYS_MAX_DEVICES 1024

/* How devices are joined: point-to-point links around a ring, a switch, or one shared
 * DRAM (a SoC's GPU and CPU): a transfer is a write and a read of it, at the link's
 * bandwidth and latency, which a shared-DRAM system sets to its memory's. */
typedef enum {
    SYS_TOPO_RING,
    SYS_TOPO_SWITCH,
    SYS_TOPO_SHARED,
    SYS_TOPO_MESH, /* a 2-D mesh, each node linked to its row and column neighbours */
    SYS_TOPO_COUNT
} sys_topology;
typedef enum {
    SYS_PART_SEQUENCE,
    SYS_PART_STRIDED,
    SYS_PART_HEADS,
    SYS_PART_CASCADE, /* Cascade's roles: CompNodes run the row-local ops, AttnNodes attention */
    SYS_PART_COUNT
} sys_partition;

/* The most devices the heads partition splits an op over (arrays and a GPU). */
#define SYS_HEAD_DEVICES 64

/* A system file (arch/systems/): `devices` identical arrays of the arch `device`, and
 * with the heads partition optionally a GPU (`gpu`; "" for none), joined by links of one
 * kind. The file names each by preset name or by path (relative to itself); loaded,
 * both hold the files' paths. */
typedef struct sys_desc {
    char name[SYS_NAME_MAX];
    int kind; /* the file's kind = "system" (its only value) */
    char device[ARCH_PATH_MAX];
    char gpu[ARCH_PATH_MAX];
    uint32_t devices;
    sys_topology topology;
    double link_gbs, link_latency_ns;
    double link_pj_per_bit; /* a bit over one link: device to device on a ring, device to
                             * switch or switch to device through a switch */
    sys_partition partition;
    /* cascade: comp_nodes CompNodes and attn_groups x attn_groups AttnNodes (devices is
     * their sum) */
    uint32_t comp_nodes, attn_groups;
    /* heads: the GPU's SoC's CPU cluster joins as a device with this many cores (0: not) */
    uint32_t cpu_cores;
} sys_desc;

/* Devices of a system: its arrays, the GPU beside them if it names one, and its SoC's
 * CPU cluster if that joins. */
static inline uint32_t sys_device_count(const sys_desc *s)
{
    return s->devices + (s->gpu[0] ? 1u : 0u) + (s->gpu[0] && s->cpu_cores ? 1u : 0u);
}

const char *sys_topology_name(sys_topology t);
const char *sys_partition_name(sys_partition p);

/* Joules of moving `bytes` from devices to other devices over s's links: bits x the
 * links crossed (one on a ring; two through a switch, in and out, or through shared DRAM,
 * a write and a read) x link_pj_per_bit. */
double sys_link_energy_j(const sys_desc *s, double bytes);

/* What a device does: a shard of the tokens (or of the cache), all of its ops; or in the
 * cascade partition, a CompNode's row-local ops or an AttnNode's attention. */
typedef enum { SYS_ROLE_SHARD = 0, SYS_ROLE_COMP, SYS_ROLE_ATTN } sys_role;

/* Devices of one kind and one share in a system run, with the figures of each one. */
typedef struct sys_device {
    uint32_t count; /* devices alike (sequence, strided: those of one shard size) */
    bool gpu;       /* the GPU */
    bool cpu;       /* the GPU's SoC's CPU cluster (neither: an array) */
    sys_role role;
    uint64_t tokens;        /* of each one's shard (heads: every token) */
    double busy_s;          /* computing; the rest of the run it waits (links, others) */
    double energy_j;        /* each one's: its work, and its idle power while it waits */
    uint64_t lane_ops;      /* arrays: useful lane operations */
    double mac_utilization; /* arrays: the MAC units' busy share of the whole run */
} sys_device;

/* A system run's figures (seconds; the devices are identical, so one stands for all). */
typedef struct sys_result {
    uint32_t devices;
    uint64_t tokens_per_device; /* the largest shard */
    uint32_t attention_blocks;
    double rowlocal_s, attention_s; /* one device's compute, its two kinds */
    double comm_s;                  /* the K/V all-gathers */
    double exposed_comm_s;          /* what attention compute did not hide */
    double merge_s; /* merging partial states across devices (decode, cascade; a prefill's
                     * merges happen inside each array's attention) */
    double total_s;
    double link_bytes;           /* through one device's link, all blocks */
    double single_s;             /* the model on one device */
    double speedup;              /* single_s / total_s */
    double efficiency;           /* speedup / devices */
    uint32_t links_bound_blocks; /* attention blocks whose all-gather outlasts attention */
    /* heads partition: the split plan lost to the best device alone, which then runs the
     * model (split_s: the split plan's time) */
    bool one_device;
    double split_s;
    /* every device: sequence and strided, one entry per shard size (the largest first);
     * heads, one per device (the arrays, then the GPU) */
    uint32_t n_kinds;
    sys_device dev[SYS_HEAD_DEVICES];
    /* energy (has_energy: the arrays' arch has an energy table, docs/ENERGY.md) */
    bool has_energy;
    double energy_j;        /* every device's (count x each one's) and the links' */
    double link_energy_j;   /* sys_link_energy_j of moved_bytes */
    double moved_bytes;     /* every device-to-device transfer of the run */
    double single_energy_j; /* the best single device's run (the one single_s times) */
} sys_result;

/* Runs model d on system s of arrays a (cycle level, or the estimate with analytical),
 * and the same model on one array for the speedup. Config errors (a mixer that cannot
 * split, more devices than tokens) are UTIL_ECONFIG. */
int sys_run(const sys_desc *s, const arch_desc *a, const wl_desc *d, bool analytical,
            const run_progress *progress, sys_result *out, char *err, size_t errlen);
/* Model d on one array a, as the engine runs it or (analytical) as the estimate prices
 * it, without values: how a system times each device's part. */
int sys_model_run(const arch_desc *a, const wl_desc *d, const map_forced *forced, bool analytical,
                  const run_progress *progress, run_result *r, char *err, size_t errlen);
/* Sets r's link energy (sys_link_energy_j of its moved bytes) and its total: every
 * device's (count x each one's) and the links'. */
void sys_sum_energy(const sys_desc *s, sys_result *r);
/* The heads partition (heads.c): every op split over the arrays and the GPU g (NULL:
 * none) in proportion to each device's own time for it; the speedup is over the faster
 * of one array and the GPU alone. */
int sys_run_heads(const sys_desc *s, const arch_desc *a, const wl_desc *d, const gpu_desc *g,
                  bool analytical, const run_progress *progress, sys_result *out, char *err,
                  size_t errlen);
/* The cascade partition (cascade.c): CompNodes and AttnNodes of arrays a; the speedup is
 * over one array. */
int sys_run_cascade(const sys_desc *s, const arch_desc *a, const wl_desc *d, bool analytical,
                    const run_progress *progress, sys_result *out, char *err, size_t errlen);

/* ---------------------------------------------------------------- functional check */

#define SYS_CHECK_MAX_TOKENS 2048

typedef struct sys_check_result {
    uint64_t heads;     /* heads checked */
    double max_abs_err; /* merged shards against monolithic attention */
    double tolerance;
    /* the same through the simulated arrays (arrays set): their shards' states merged */
    bool arrays;
    uint32_t array_shards;
    double array_err, array_tolerance;
    bool pass;
} sys_check_result;

/* The system's partition checked on values (check.c): every head of one attention
 * layer of model d, on seeded Q, K and V, split into the system's shards, each shard's
 * partial states computed and all merged, against monolithic attention. fault adds 0.5
 * to the first shard's lse (--inject-fault=merge): the check must then fail. */
int sys_check(const sys_desc *s, const wl_desc *d, bool fault, sys_check_result *out, char *err,
              size_t errlen);
/* The arrays' side (check_array.c), after sys_check: every head of the layer through
 * array a, each shard's partial states (the partition's key sets) computed by the engine
 * on values rounded to the data type, merged, against monolithic attention; the
 * tolerance is 4 times the error of one array attending to every key, plus a unit
 * roundoff. Sets out's array fields and keeps out->pass only if they pass; fault plants
 * the same error in the first shard's lse. */
int sys_check_arrays(const sys_desc *s, const arch_desc *a, const wl_desc *d, bool fault,
                     sys_check_result *out, char *err, size_t errlen);

#endif
