/* internal.h: a model's plan (tensors, ops, their mappings) shared by sim/run's files. */
#ifndef BFLY_RUN_INTERNAL_H
#define BFLY_RUN_INTERNAL_H

#include "run.h"

/* One block's tensors in the DRAM image (run_plan_layout). */
typedef struct layout {
    map_tensor t[WL_T_COUNT]; /* K and V: the cache's rows, then the step's */
    uint64_t kv_off;          /* rows of K and V before the step's (the cache's) */
    uint64_t end;
} layout;

/* One op of a block: what it computes, where its tensors lie, how it was mapped, and
 * how it runs: chain_len ops run as one program from it (1: alone, 0: inside a chain or
 * a fused group), chain is that program where chain_len > 1 and the ops are chained,
 * fuse where they form a fused group (fused set), cost its estimated cost (NAN until
 * needed), fifo_tags its ring as a chain's consumer. */
typedef struct plan_op {
    wl_op wl;
    map_op_io io;
    const map_force *group; /* a mapping-file entry making this op the first of a fused group */
    map_op_result map;
    uint32_t chain_len;
    map_chain chain;
    bool fused;
    map_fuse_result fuse;
    double cost;
    uint32_t fifo_tags;
} plan_op;

/* Every op of the model, mapped before anything is simulated: an op that cannot be
 * mapped fails the run at once, and the DRAM image is sized from the mappings. */
typedef struct plan {
    uint32_t n_ops[WL_MAX_BLOCKS];
    plan_op ops[WL_MAX_BLOCKS][WL_MAX_BLOCK_OPS];
    uint64_t dram_end, max_weights;
} plan;

/* plan.c */
void run_plan_layout(const wl_desc *d, layout *L);
map_op_io run_op_io(const layout *L, const wl_op *op);
int run_plan_model(const arch_desc *a, const wl_desc *d, const map_forced *forced, const layout *L,
                   bool functional, plan **out, char *err, size_t errlen);
void run_plan_free(plan *p);
void run_plan_op_free(plan_op *o);
/* The mapping-file entry for op of block b, or NULL; run_forced_op gives only one that
 * maps the op on its own, run_forced_group one that starts a fused group there. */
const map_force *run_forced_for(const map_forced *forced, uint32_t b, const wl_op *op);
const map_force *run_forced_op(const map_forced *forced, uint32_t b, const wl_op *op);
const map_force *run_forced_group(const map_forced *forced, uint32_t b, const wl_op *op);
/* A program's estimated cost under the objective (INFINITY when it cannot be estimated). */
double run_prog_cost(const arch_desc *a, const map_forced *how, const eng_program *prog);
/* The program op i of block b runs (alone, heading a chain or a fused group). */
const eng_program *run_unit_prog(const plan *p, uint32_t b, uint32_t i);
/* Its estimated cost, worked out once. */
double run_unit_cost(const arch_desc *a, plan *p, uint32_t b, uint32_t i);

/* unit.c: what the unit op i of block b heads computes where (u->pe_what holds a label
 * for each of the array's PEs). */
void run_describe_unit(const arch_desc *a, const plan *p, uint32_t b, uint32_t i, run_unit_desc *u);

/* group.c: block b's row-local ops as fused groups where that is cheaper (the
 * multilayer dataflow across layers, map_fuse). */
int run_fuse_block(const arch_desc *a, const wl_desc *d, const map_forced *forced, const layout *L,
                   bool functional, plan *p, uint32_t b, char *err, size_t errlen);

#endif
