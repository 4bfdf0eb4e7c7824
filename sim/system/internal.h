/* internal.h: what the system partitions share (run.c defines it): a model run split by
 * block into row-local ops and attention, and a device's figures from its work. */
#ifndef BFLY_SYSTEM_INTERNAL_H
#define BFLY_SYSTEM_INTERNAL_H

#include "system.h"

/* One block's figures of a model run, on one side of the row-local/attention split. */
typedef struct sys_part_figures {
    double cycles, lane_ops, mac_busy, energy_pj;
} sys_part_figures;

/* Splits block entry b of a model run (one block) into its row-local ops and attention. */
void sys_split_block(const run_result *r, uint32_t b, sys_part_figures *rowlocal,
                     sys_part_figures *attention);

/* What a device computes over a run, before any wait. */
typedef struct sys_work {
    double compute_s, lane_ops, mac_busy, energy_pj;
} sys_work;

/* count devices alike that did f with `tokens` each, in a run of total_s seconds, each
 * waiting wait_s of them at its leakage power. */
sys_device sys_device_of(const arch_desc *a, const sys_work *f, uint32_t count, uint64_t tokens,
                         double total_s, double wait_s);

/* The model on one array a: the single-device time and energy a system compares with. */
int sys_single_device(const arch_desc *a, const wl_desc *d, bool analytical,
                      const run_progress *progress, sys_result *out, char *err, size_t errlen);

/* Seconds an array takes to merge `states` pairs of partial states of d values each (the
 * GPU model's merge count, 4 d + 8 operations a pair) at its peak vector rate: every lane
 * of every PE busy, a lower bound. */
double sys_merge_s(const arch_desc *a, util_dtype t, double states, uint64_t d);

/* The keys one shard of a functional check holds: count keys at first, first + step ... */
typedef struct sys_key_set {
    uint64_t first, step, count;
} sys_key_set;

/* The shards' key sets as the partition makes them (room for SYS_MAX_DEVICES + 1): token
 * ranges or strided subsets over the arrays (the cascade: its beta strided key groups;
 * the heads partition: ranges over every device, or with whole_heads one set of every
 * key); a decode step splits its cache so and its own keys form one more set (the last
 * device's). Empty sets are left out. Returns how many. */
uint32_t sys_check_key_sets(const sys_desc *s, const wl_desc *d, bool whole_heads, sys_key_set *ks);

/* A model whose every mixer is attention (what the sequence, strided and cascade
 * partitions split), else UTIL_ECONFIG. */
int sys_check_splits(const sys_desc *s, const wl_desc *d, char *err, size_t errlen);

#endif
