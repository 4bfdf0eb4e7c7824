/* check_system.c: partial attention states, their merge, partitions and collectives
 * against monolithic reference attention and hand-derived figures. */
#include <check.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/energy/energy.h"
#include "../sim/ref/ref.h"
#include "../sim/config/config.h"
#include "../sim/system/system.h"
#include "../sim/util/util.h"
#include "testutil.h"

/* Random q, k, v of n tokens x d, values uniform in [-2, 2). */
typedef struct qkv {
    size_t n, d;
    double *q, *k, *v;
    uint64_t *pos; /* 0 .. n-1 */
} qkv;

static void qkv_make(qkv *x, size_t n, size_t d, uint64_t seed)
{
    util_rng rng;
    util_rng_seed(&rng, seed);
    x->n = n, x->d = d;
    x->q = malloc(n * d * sizeof *x->q);
    x->k = malloc(n * d * sizeof *x->k);
    x->v = malloc(n * d * sizeof *x->v);
    x->pos = malloc(n * sizeof *x->pos);
    for (size_t i = 0; i < n * d; i++) {
        x->q[i] = 4 * util_rng_uniform(&rng) - 2;
        x->k[i] = 4 * util_rng_uniform(&rng) - 2;
        x->v[i] = 4 * util_rng_uniform(&rng) - 2;
    }
    for (size_t i = 0; i < n; i++)
        x->pos[i] = i;
}

static void qkv_free(qkv *x)
{
    free(x->q), free(x->k), free(x->v), free(x->pos);
}

/* Monolithic attention by the plain reference: softmax(scale q k^T + mask) v. */
static double *monolithic(const qkv *x, double scale, bool causal)
{
    size_t n = x->n, d = x->d;
    double *s = malloc(n * n * sizeof *s), *o = malloc(n * d * sizeof *o);
    ref_scores(n, n, d, x->q, x->k, scale, causal, 0, s);
    ref_softmax_rows(n, n, s);
    ref_gemm(n, n, d, s, x->v, o);
    free(s);
    return o;
}

/* The largest |a - b| over n values. */
static double max_diff(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

/* p shards of the keys (split k), each a partial state of every query; merged. */
static void sharded(const qkv *x, sys_split k, uint32_t p, double scale, bool causal,
                    sys_states *parts, sys_states *merged)
{
    uint64_t *tok = malloc(x->n * sizeof *tok);
    const sys_states *in[64];
    for (uint32_t s = 0; s < p; s++) {
        ck_assert(sys_states_init(&parts[s], x->n, x->d));
        size_t m = sys_shard_tokens(k, x->n, p, s, tok);
        sys_partial_attention(x->n, x->d, x->q, x->pos, x->k, x->v, tok, m, scale, causal,
                              &parts[s]);
        in[s] = &parts[s];
    }
    ck_assert(sys_states_init(merged, x->n, x->d));
    ck_assert(sys_merge(in, p, merged));
    free(tok);
}

/* Merged shards equal monolithic attention, for token ranges and strided subsets, with
 * and without a causal mask, for 1 to 16 shards and more shards than tokens (empty
 * shards; causal masks leave early queries' later shards fully masked). The reference
 * and the merge are both double precision: they agree to 1e-12 of the values' scale. */
START_TEST(test_merge_equals_monolithic)
{
    static const size_t ns[] = {1, 7, 33};
    static const uint32_t ps[] = {1, 2, 3, 4, 8, 16, 40};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
        qkv x;
        qkv_make(&x, ns[a], 8, 11 + a);
        for (int causal = 0; causal < 2; causal++) {
            double *want = monolithic(&x, 0.35, causal);
            for (int k = 0; k < SYS_SPLIT_COUNT; k++)
                for (size_t b = 0; b < sizeof ps / sizeof ps[0]; b++) {
                    sys_states parts[64], m;
                    sharded(&x, (sys_split)k, ps[b], 0.35, causal, parts, &m);
                    double err = max_diff(m.o, want, x.n * x.d);
                    ck_assert_msg(err < 1e-12, "n %zu, %s, p %u, causal %d: off by %g", x.n,
                                  sys_split_name((sys_split)k), ps[b], causal, err);
                    for (uint32_t s = 0; s < ps[b]; s++)
                        sys_states_free(&parts[s]);
                    sys_states_free(&m);
                }
            free(want);
        }
        qkv_free(&x);
    }
}
END_TEST

/* The merge is associative and commutative: left to right, right to left, a balanced
 * tree and a shuffled order give the same states (to rounding: 1e-13). */
START_TEST(test_any_order_any_tree)
{
    qkv x;
    qkv_make(&x, 24, 4, 5);
    enum { P = 6 };
    sys_states parts[P], left, right, tree, shuffled, ab, cd, ef;
    sharded(&x, SYS_SPLIT_STRIDED, P, 0.5, true, parts, &left);
    /* right to left, pair by pair, into one accumulator */
    ck_assert(sys_states_init(&right, x.n, x.d));
    for (int s = P - 1; s >= 0; s--) {
        const sys_states *two[2] = {&parts[s], &right};
        ck_assert(sys_merge(two, 2, &right));
    }
    /* ((0 1) (2 3)) (4 5) */
    ck_assert(sys_states_init(&ab, x.n, x.d) && sys_states_init(&cd, x.n, x.d) &&
              sys_states_init(&ef, x.n, x.d) && sys_states_init(&tree, x.n, x.d));
    const sys_states *p01[2] = {&parts[0], &parts[1]}, *p23[2] = {&parts[2], &parts[3]},
                     *p45[2] = {&parts[4], &parts[5]};
    ck_assert(sys_merge(p01, 2, &ab) && sys_merge(p23, 2, &cd) && sys_merge(p45, 2, &ef));
    const sys_states *abcd[2] = {&ab, &cd};
    ck_assert(sys_merge(abcd, 2, &ab));
    const sys_states *all[2] = {&ef, &ab};
    ck_assert(sys_merge(all, 2, &tree));
    /* a shuffled k-way merge */
    const sys_states *order[P] = {&parts[3], &parts[0], &parts[5], &parts[1], &parts[4], &parts[2]};
    ck_assert(sys_states_init(&shuffled, x.n, x.d));
    ck_assert(sys_merge(order, P, &shuffled));
    const sys_states *others[3] = {&right, &tree, &shuffled};
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(max_diff(others[i]->o, left.o, x.n * x.d) < 1e-13, "order %d", i);
        for (size_t r = 0; r < x.n; r++)
            ck_assert(fabs(others[i]->lse[r] - left.lse[r]) < 1e-13);
    }
    for (int s = 0; s < P; s++)
        sys_states_free(&parts[s]);
    sys_states *frees[] = {&left, &right, &tree, &shuffled, &ab, &cd, &ef};
    for (size_t i = 0; i < sizeof frees / sizeof frees[0]; i++)
        sys_states_free(frees[i]);
    qkv_free(&x);
}
END_TEST

/* Edge states, derived by hand: an empty shard is (0, -inf) and the merge's identity (the
 * other state comes back bit for bit); merging only empty states gives (0, -inf) with no
 * NaN; a one-token shard is (v_j, score_j); a fully masked query row is (0, -inf). */
START_TEST(test_edge_states)
{
    qkv x;
    qkv_make(&x, 5, 3, 9);
    sys_states e1, e2, one, out;
    ck_assert(sys_states_init(&e1, 5, 3) && sys_states_init(&e2, 5, 3));
    ck_assert(sys_states_init(&one, 5, 3) && sys_states_init(&out, 5, 3));
    sys_partial_attention(5, 3, x.q, x.pos, x.k, x.v, NULL, 0, 1.0, false, &e1);
    const sys_states *ee[2] = {&e1, &e2};
    ck_assert(sys_merge(ee, 2, &out));
    for (size_t i = 0; i < 5; i++) {
        ck_assert(isinf(out.lse[i]) && out.lse[i] < 0);
        for (size_t e = 0; e < 3; e++)
            ck_assert(out.o[i * 3 + e] == 0.0);
    }
    uint64_t j = 2;
    sys_partial_attention(5, 3, x.q, x.pos, x.k, x.v, &j, 1, 0.5, false, &one);
    for (size_t i = 0; i < 5; i++) {
        double s = 0;
        for (size_t e = 0; e < 3; e++) {
            s += x.q[i * 3 + e] * x.k[j * 3 + e];
            ck_assert(one.o[i * 3 + e] == x.v[j * 3 + e]);
        }
        ck_assert(fabs(one.lse[i] - 0.5 * s) < 1e-15);
    }
    const sys_states *with_empty[3] = {&e1, &one, &e2};
    ck_assert(sys_merge(with_empty, 3, &out));
    ck_assert(memcmp(out.o, one.o, 15 * sizeof *out.o) == 0);
    ck_assert(memcmp(out.lse, one.lse, 5 * sizeof *out.lse) == 0);
    /* causal: queries 0 and 1 see none of keys {3, 4} */
    uint64_t late[2] = {3, 4};
    sys_partial_attention(5, 3, x.q, x.pos, x.k, x.v, late, 2, 1.0, true, &out);
    for (size_t i = 0; i < 3; i++)
        ck_assert_msg(isinf(out.lse[i]) && out.o[i * 3] == 0.0, "query %zu", i);
    ck_assert(isfinite(out.lse[3]) && isfinite(out.lse[4]));
    sys_states *frees[] = {&e1, &e2, &one, &out};
    for (size_t i = 0; i < 4; i++)
        sys_states_free(frees[i]);
    qkv_free(&x);
}
END_TEST

/* Shards cover every token once: ranges are contiguous and within one token of n / p in
 * size, strided shards hold no two neighbours (no node sees contiguous tokens when p > 1). */
START_TEST(test_shards_cover_tokens)
{
    static const uint64_t ns[] = {1, 10, 97, 4096};
    static const uint32_t ps[] = {1, 3, 8, 16, 200};
    uint64_t tok[4096];
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 5; b++)
            for (int k = 0; k < SYS_SPLIT_COUNT; k++) {
                uint64_t n = ns[a], seen = 0, sum = 0;
                uint32_t p = ps[b];
                for (uint32_t s = 0; s < p; s++) {
                    size_t m = sys_shard_tokens((sys_split)k, n, p, s, tok);
                    ck_assert(m <= n / p + 1 && m + 1 >= n / p);
                    for (size_t i = 0; i < m; i++) {
                        ck_assert(tok[i] < n);
                        sum += tok[i];
                        if (i)
                            ck_assert(k == SYS_SPLIT_RANGES ? tok[i] == tok[i - 1] + 1
                                                            : tok[i] == tok[i - 1] + p);
                    }
                    seen += m;
                }
                ck_assert_uint_eq(seen, n);
                ck_assert_uint_eq(sum, n * (n - 1) / 2); /* each token exactly once */
            }
}
END_TEST

/* Heads (or columns) in proportion to rates: 12 heads at rates 3:1 give 9 and 3; at
 * 1:1:1 (7 items) 3, 2, 2 (the lower device wins the tie); a zero rate gets none; every
 * count within one of its exact share, blocks contiguous from 0. */
START_TEST(test_apportion)
{
    uint64_t first[4], count[4];
    double r31[2] = {3, 1};
    ck_assert(sys_apportion(12, 2, r31, first, count));
    ck_assert(count[0] == 9 && count[1] == 3 && first[0] == 0 && first[1] == 9);
    double r111[3] = {1, 1, 1};
    ck_assert(sys_apportion(7, 3, r111, first, count));
    ck_assert(count[0] == 3 && count[1] == 2 && count[2] == 2 && first[2] == 5);
    double r0[3] = {0, 2.5, 1};
    ck_assert(sys_apportion(10, 3, r0, first, count));
    ck_assert(count[0] == 0 && count[1] + count[2] == 10 && count[1] == 7);
    double none[2] = {0, 0};
    ck_assert(!sys_apportion(4, 2, none, first, count));
    util_rng rng;
    util_rng_seed(&rng, 3);
    for (int it = 0; it < 200; it++) {
        double r[4], tot = 0;
        uint64_t items = util_rng_next(&rng) % 1000, got = 0;
        for (int i = 0; i < 4; i++)
            tot += r[i] = util_rng_uniform(&rng);
        ck_assert(sys_apportion(items, 4, r, first, count));
        for (int i = 0; i < 4; i++) {
            ck_assert(fabs((double)count[i] - (double)items * r[i] / tot) < 1.0);
            ck_assert_uint_eq(first[i], got);
            got += count[i];
        }
        ck_assert_uint_eq(got, items);
    }
}
END_TEST

/* Collective times by hand (alpha 1 us, 1 GB/s, 1 MB per node, p = 4):
 * ring all-reduce 2 x 3 x 1 us + 2 x 3/4 x 1 ms = 1.506 ms; tree reduce 2 steps:
 * 2 us + 2 ms; ring all-gather 3 us + 3 ms; gather 3 us + 3 ms; nothing on one node.
 * Ring all-reduce moves 2 (p-1)/p of the data: it approaches 2x as p grows. */
START_TEST(test_collectives)
{
    double B = 1e6, bw = 1e9, a = 1e-6;
    tu_assert_close(sys_collective_time(SYS_RING_ALLREDUCE, 4, B, bw, a), 6e-6 + 1.5e-3, 1e-12,
                    "ring all-reduce");
    tu_assert_close(sys_collective_time(SYS_TREE_REDUCE, 4, B, bw, a), 2e-6 + 2e-3, 1e-12,
                    "tree reduce");
    tu_assert_close(sys_collective_time(SYS_RING_ALLGATHER, 4, B, bw, a), 3e-6 + 3e-3, 1e-12,
                    "ring all-gather");
    tu_assert_close(sys_collective_time(SYS_GATHER, 4, B, bw, a), 3e-6 + 3e-3, 1e-12, "gather");
    tu_assert_close(sys_collective_time(SYS_TREE_REDUCE, 5, B, bw, a), 3e-6 + 3e-3, 1e-12,
                    "tree reduce, 5 nodes: 3 steps");
    for (int c = 0; c < SYS_COLLECTIVE_COUNT; c++) {
        ck_assert(sys_collective_time((sys_collective)c, 1, B, bw, a) == 0);
        ck_assert(sys_collective_bytes((sys_collective)c, 1, B) == 0);
    }
    tu_assert_close(sys_collective_bytes(SYS_RING_ALLREDUCE, 1024, B), 2 * 1023.0 / 1024 * B, 1e-12,
                    "ring all-reduce bytes");
    /* a mesh: 6 nodes are 2 rows of 3: along the rows 2 steps of B, then along the
     * columns 1 step of 3 B; 16 are 4 x 4: 3 steps of B and 3 of 4 B; a prime count is one
     * row, a ring's all-gather */
    ck_assert(sys_mesh_rows(6) == 2 && sys_mesh_rows(16) == 4 && sys_mesh_rows(7) == 1);
    tu_assert_close(sys_collective_time(SYS_MESH_ALLGATHER, 6, B, bw, a), 3e-6 + 5e-3, 1e-12,
                    "mesh all-gather, 2 x 3");
    tu_assert_close(sys_collective_time(SYS_MESH_ALLGATHER, 16, B, bw, a), 6e-6 + 15e-3, 1e-12,
                    "mesh all-gather, 4 x 4");
    tu_assert_close(sys_collective_time(SYS_MESH_ALLGATHER, 7, B, bw, a),
                    sys_collective_time(SYS_RING_ALLGATHER, 7, B, bw, a), 1e-12, "a line");
}
END_TEST

/* ---------------------------------------------------------------- system runs */

/* A small BERT-like model (64 tokens, hidden 64, 2 heads, 2 blocks) on mld-4x4. */
static void small_model(arch_desc *a, wl_desc *d, uint64_t seq_len)
{
    char seq[64];
    snprintf(seq, sizeof seq, "workload.seq_len=%llu", (unsigned long long)seq_len);
    const char *sets[] = {seq, "workload.hidden=64", "workload.heads=2", "workload.ffn=128",
                          "workload.blocks.0.repeat=2"};
    tu_load("arch/mld-4x4.cfg", "workloads/bert-base-image-1k.cfg", sets, 5, a, d);
}

static sys_desc ring_of(uint32_t p)
{
    sys_desc s = {.devices = p,
                  .topology = SYS_TOPO_RING,
                  .link_gbs = 1.0,
                  .link_latency_ns = 1000.0,
                  .partition = SYS_PART_SEQUENCE};
    snprintf(s.name, sizeof s.name, "ring%u", p);
    return s;
}

/* One device is the single-device run itself; on four, the K/V all-gather moves, per
 * attention block, 3 of the 4 blocks of 2 (K and V) x 16 tokens x 64 features x 2 bytes
 * (= 4096 B each) through a device's link: 12288 B, 24576 B for the 2 blocks, in
 * 3 x (1 us + 4096 B / 1 GB/s) = 15.288 us a block. Overlap cannot make the run shorter
 * than its compute, nor longer than compute plus all communication. */
START_TEST(test_sequence_parallel_by_hand)
{
    arch_desc a;
    wl_desc d;
    small_model(&a, &d, 64);
    char err[512];
    sys_result one, four;
    sys_desc s1 = ring_of(1), s4 = ring_of(4);
    ck_assert_msg(sys_run(&s1, &a, &d, true, NULL, &one, err, sizeof err) == 0, "%s", err);
    ck_assert(one.total_s == one.single_s && one.speedup == 1.0 && one.comm_s == 0);
    /* one device's MAC share is the run's own: busy cycles over PEs x cycles */
    run_result plain;
    ck_assert(run_model_analytical(&a, &d, NULL, NULL, &plain, err, sizeof err) == 0);
    tu_assert_close(one.dev[0].mac_utilization,
                    (double)plain.total.pe_total.fu_busy[ARCH_FU_MAC] /
                        ((double)arch_pe_count(&a) * (double)plain.total.cycles),
                    1e-9, "one device's MAC utilization");
    run_free(&plain);
    ck_assert_uint_eq(one.tokens_per_device, 64);
    ck_assert_msg(sys_run(&s4, &a, &d, true, NULL, &four, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(four.tokens_per_device, 16);
    ck_assert_uint_eq(four.attention_blocks, 2);
    tu_assert_close(four.link_bytes, 24576, 1e-12, "link bytes");
    tu_assert_close(four.comm_s, 2 * 3 * (1e-6 + 4096e-9), 1e-9, "all-gather time");
    double compute = four.rowlocal_s + four.attention_s;
    ck_assert(four.total_s >= compute * (1 - 1e-12));
    ck_assert(four.total_s <= (compute + four.comm_s) * (1 + 1e-12));
    tu_assert_close(four.single_s, one.total_s, 1e-12, "the one-device run");
    tu_assert_close(four.speedup, four.single_s / four.total_s, 1e-12, "speedup");
    tu_assert_close(four.efficiency, four.speedup / 4, 1e-12, "efficiency");
    /* the slower link shows through: at 1 MB/s the all-gathers outlast attention */
    s4.link_gbs = 0.01;
    sys_result slow;
    ck_assert(sys_run(&s4, &a, &d, true, NULL, &slow, err, sizeof err) == 0);
    ck_assert(slow.exposed_comm_s > 0 && slow.total_s > four.total_s);
    ck_assert_uint_eq(slow.links_bound_blocks, 2);
    ck_assert((four.exposed_comm_s > 0) == (four.links_bound_blocks == 2));
    ck_assert(four.dev[0].mac_utilization > 0 && four.dev[0].mac_utilization <= 1);
    ck_assert(slow.dev[0].mac_utilization <
              four.dev[0].mac_utilization);    /* it waits on the links */
    s4.link_gbs = 1e5, s4.link_latency_ns = 0; /* links that never show */
    sys_result fast;
    ck_assert(sys_run(&s4, &a, &d, true, NULL, &fast, err, sizeof err) == 0);
    ck_assert(fast.links_bound_blocks == 0 && fast.exposed_comm_s == 0);
}
END_TEST

/* A run's energy (J) as a single-array run prices itself (report.c: en_compute). */
static double run_joules(const arch_desc *a, const wl_desc *d, const run_result *r)
{
    en_result e;
    en_compute(a, d->dtype, &r->total, 0, &e);
    return e.total_pj * 1e-12;
}

/* Sum of count x each device's energy, and the links': the system's total. */
static double parts_joules(const sys_result *x)
{
    double sum = x->link_energy_j;
    for (uint32_t i = 0; i < x->n_kinds; i++)
        sum += x->dev[i].count * x->dev[i].energy_j;
    return sum;
}

/* The attention ops' energy (pJ) of block entry b of a model run, one instance. */
static double attention_pj(const run_result *r, uint32_t b)
{
    double pj = 0;
    for (uint32_t i = 0; i < r->blocks[b].n_ops; i++)
        if (r->blocks[b].ops[i].op.kind == WL_OP_ATTENTION)
            pj += r->blocks[b].ops[i].energy_pj;
    return pj;
}

/* Energy of sequence-parallel runs, by hand. One device: exactly the single-array run's
 * energy (no link moves a byte). Four on a ring: each device runs 16 tokens, whose
 * attention meets 4 x 16 keys (3 more shards' worth of its attention energy), and leaks
 * while it waits on the links; every token's K and V (2 x 64 x 2 bytes) reaches the 3
 * devices that lack it, in each of 2 attention blocks: 3 x 2 x 64 x 64 x 2 x 2 = 98304
 * bytes, at 1.9 pJ a bit over one ring link and two through a switch. */
START_TEST(test_sequence_energy)
{
    arch_desc a;
    wl_desc d;
    small_model(&a, &d, 64);
    ck_assert(a.energy.present);
    char err[512];
    sys_desc s1 = ring_of(1), s4 = ring_of(4);
    s1.link_pj_per_bit = s4.link_pj_per_bit = 1.9;
    sys_result one, four, slow, sw;
    run_result plain, part;
    ck_assert_msg(sys_run(&s1, &a, &d, true, NULL, &one, err, sizeof err) == 0, "%s", err);
    ck_assert(run_model_analytical(&a, &d, NULL, NULL, &plain, err, sizeof err) == 0);
    ck_assert(one.has_energy && one.n_kinds == 1 && one.dev[0].count == 1);
    ck_assert_msg(one.energy_j == run_joules(&a, &d, &plain), "%.17g J, the array alone %.17g J",
                  one.energy_j, run_joules(&a, &d, &plain));
    ck_assert(one.link_energy_j == 0 && one.moved_bytes == 0);
    ck_assert(one.single_energy_j == one.energy_j && one.dev[0].energy_j == one.energy_j);
    /* the ops' own energies add up to the run's (leakage over their cycles included) */
    double ops_pj = 0;
    for (uint32_t b = 0; b < plain.n_blocks; b++)
        for (uint32_t i = 0; i < plain.blocks[b].n_ops; i++)
            ops_pj += plain.blocks[b].repeat * plain.blocks[b].ops[i].energy_pj;
    tu_assert_close(ops_pj * 1e-12, run_joules(&a, &d, &plain), 1e-12, "ops' energies");
    /* four devices, by hand */
    wl_desc d16 = d;
    d16.seq_len = 16;
    ck_assert(run_model_analytical(&a, &d16, NULL, NULL, &part, err, sizeof err) == 0);
    ck_assert(attention_pj(&part, 0) > 0);
    ck_assert_msg(sys_run(&s4, &a, &d, true, NULL, &four, err, sizeof err) == 0, "%s", err);
    ck_assert(four.n_kinds == 1 && four.dev[0].count == 4 && four.dev[0].tokens == 16);
    /* leakage power: a run's leakage over its time */
    en_result e;
    en_compute(&a, d.dtype, &part.total, 0, &e);
    double leak_mw = e.part_pj[EN_LEAKAGE] / ((double)part.total.cycles / a.clock_ghz);
    tu_assert_close(en_leakage_mw(&a), leak_mw, 1e-12, "leakage power");
    double each = run_joules(&a, &d, &part) + 2 * 3 * attention_pj(&part, 0) * 1e-12 +
                  leak_mw * four.exposed_comm_s * 1e-3;
    tu_assert_close(four.dev[0].energy_j, each, 1e-12, "a device's energy");
    tu_assert_close(four.moved_bytes, 98304, 1e-12, "bytes moved");
    tu_assert_close(four.link_energy_j, 98304 * 8 * 1.9e-12, 1e-12, "link energy");
    tu_assert_close(four.energy_j, parts_joules(&four), 1e-12, "devices plus links");
    tu_assert_close(four.single_energy_j, one.energy_j, 1e-12, "the one-device run's energy");
    /* slower links: the same work, longer waits at leakage power */
    s4.link_gbs = 0.01;
    ck_assert(sys_run(&s4, &a, &d, true, NULL, &slow, err, sizeof err) == 0);
    ck_assert(slow.exposed_comm_s > 0);
    tu_assert_close(slow.dev[0].energy_j - four.dev[0].energy_j,
                    leak_mw * (slow.exposed_comm_s - four.exposed_comm_s) * 1e-3, 1e-9,
                    "waiting costs leakage");
    /* through a switch every byte crosses two links */
    s4.link_gbs = 1.0, s4.topology = SYS_TOPO_SWITCH;
    ck_assert(sys_run(&s4, &a, &d, true, NULL, &sw, err, sizeof err) == 0);
    tu_assert_close(sw.link_energy_j, 2 * 98304 * 8 * 1.9e-12, 1e-12, "switch link energy");
    /* free links, and an arch without an energy table */
    s4.link_pj_per_bit = 0;
    ck_assert(sys_run(&s4, &a, &d, true, NULL, &sw, err, sizeof err) == 0);
    ck_assert(sw.link_energy_j == 0 && sw.moved_bytes > 0);
    a.energy.present = false;
    ck_assert(sys_run(&s4, &a, &d, true, NULL, &sw, err, sizeof err) == 0);
    ck_assert(!sw.has_energy && sw.energy_j == 0 && sw.dev[0].energy_j == 0);
    run_free(&plain), run_free(&part);
}
END_TEST

/* 63 tokens on 4 devices: three hold 16, one holds 15; all are priced, every device is
 * done by the end of the run, and each waits out the rest of it. */
START_TEST(test_uneven_shards)
{
    arch_desc a;
    wl_desc d;
    small_model(&a, &d, 63);
    char err[512];
    sys_desc s = ring_of(4);
    s.link_pj_per_bit = 1.0;
    sys_result x;
    ck_assert_msg(sys_run(&s, &a, &d, true, NULL, &x, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(x.n_kinds, 2);
    ck_assert(x.dev[0].count == 3 && x.dev[0].tokens == 16);
    ck_assert(x.dev[1].count == 1 && x.dev[1].tokens == 15);
    ck_assert(x.dev[1].energy_j > 0 && x.dev[1].lane_ops < x.dev[0].lane_ops);
    /* the run lasts until the slower kind is done (the smaller shard can map worse) */
    for (int k = 0; k < 2; k++)
        ck_assert_msg(x.dev[k].busy_s <= x.total_s * (1 + 1e-12), "%g s busy in a %g s run",
                      x.dev[k].busy_s, x.total_s);
    tu_assert_close(x.energy_j, parts_joules(&x), 1e-12, "devices plus links");
    tu_assert_close(x.moved_bytes, 3 * 2 * 63 * 64 * 2 * 2, 1e-12, "every token's K and V");
    /* BERT-base at 4095 tokens on four mld-8x8: the estimate prices the 1023-token shard
     * slower than the 1024-token ones, so that one sets the time */
    const char *sets[] = {"workload.seq_len=4095"};
    tu_load("arch/mld-8x8.cfg", "workloads/bert-base-text-4k.cfg", sets, 1, &a, &d);
    ck_assert_msg(sys_run(&s, &a, &d, true, NULL, &x, err, sizeof err) == 0, "%s", err);
    ck_assert(x.n_kinds == 2 && x.dev[1].tokens == 1023);
    ck_assert(x.dev[1].busy_s > x.dev[0].busy_s);
    tu_assert_close(x.total_s, x.dev[1].busy_s, 1e-12, "the slower shard sets the time");
}
END_TEST

/* A decode step on four devices, by hand: the 64 new-token rows are replicated and the
 * 255-token cache is split (64, 64, 64, 63), so each device's part is a one-array decode
 * step with kv_len = its shard (the step's own keys counted on every device). After each
 * block's attention the partial states, 2 new tokens x (64 values x 2 bytes + 2 heads x
 * 4 bytes of lse) = 272 B per device, are ring all-gathered in 3 x (1 us + 272 B / 1 GB/s)
 * and not hidden; every device then merges 3 more states per token and head, 3 x 2 x 2
 * pairs of 4 x 32 + 8 = 136 operations at its peak, 16 PEs x 8 lanes a cycle; the block
 * waits for the slowest device. */
START_TEST(test_decode_by_hand)
{
    arch_desc a;
    wl_desc d;
    small_model(&a, &d, 64);
    d.new_tokens = d.seq_len = 2, d.kv_len = 255, d.mask = WL_MASK_CAUSAL;
    char err[512];
    sys_desc s = ring_of(4);
    sys_result x;
    ck_assert_msg(sys_run(&s, &a, &d, true, NULL, &x, err, sizeof err) == 0, "%s", err);
    ck_assert(x.n_kinds == 2 && x.dev[0].count == 3 && x.dev[0].tokens == 64 &&
              x.dev[1].count == 1 && x.dev[1].tokens == 63);
    double comm = 3 * (1e-6 + 272e-9), hz = a.clock_ghz * 1e9, want = 0, row = 0;
    tu_assert_close(x.comm_s, 2 * comm, 1e-9, "two blocks' state all-gathers");
    tu_assert_close(x.exposed_comm_s, x.comm_s, 1e-12, "nothing hides them");
    tu_assert_close(x.moved_bytes, 2 * 4 * 3 * 272, 1e-12, "every device's states to three");
    run_result *part = calloc(3, sizeof *part); /* (large: off the stack) */
    ck_assert_ptr_nonnull(part);
    for (int k = 0; k < 2; k++) {
        wl_desc dk = d;
        dk.kv_len = 64 - (uint64_t)k;
        ck_assert(run_model_analytical(&a, &dk, NULL, NULL, &part[k], err, sizeof err) == 0);
    }
    /* per block: the slower part, then the all-gather and the merge (one block entry,
     * repeat 2) */
    double block = fmax((double)part[0].total.cycles, (double)part[1].total.cycles) / 2 / hz;
    double merge = 12 * 136 / (16.0 * 8 * hz);
    ck_assert(arch_pe_count(&a) == 16 && arch_lanes(&a, UTIL_FP16) == 8);
    tu_assert_close(x.merge_s, 2 * merge, 1e-12, "the merges");
    want = 2 * (block + comm + merge);
    for (uint32_t i = 0; i < part[0].blocks[0].n_ops; i++) {
        wl_op_kind k = part[0].blocks[0].ops[i].op.kind;
        if (k != WL_OP_ATTENTION && k != WL_OP_SCORES && k != WL_OP_SOFTMAX && k != WL_OP_CONTEXT)
            row += 2 * (double)part[0].blocks[0].ops[i].cycles / hz;
    }
    tu_assert_close(x.total_s, want, 1e-12, "blocks of the slower part and its all-gather");
    tu_assert_close(x.rowlocal_s, row, 1e-12, "every device runs the new tokens' row-local ops");
    run_free(&part[0]);
    run_free(&part[1]);
    /* the comparison is the same step on one device; every device repeats the row-local
     * ops, so four cannot reach 4x (here, with a 255-token cache, they lose to one) */
    run_result *one = &part[2];
    ck_assert(run_model_analytical(&a, &d, NULL, NULL, one, err, sizeof err) == 0);
    tu_assert_close(x.single_s, (double)one->total.cycles / hz, 1e-12, "one device");
    run_free(one);
    free(part);
    tu_assert_close(x.speedup, x.single_s / x.total_s, 1e-12, "speedup");
    ck_assert(x.efficiency < 1);
    /* a device needs a cache token */
    d.kv_len = 3;
    ck_assert_int_eq(sys_run(&s, &a, &d, true, NULL, &x, err, sizeof err), UTIL_ECONFIG);
    ck_assert_msg(strstr(err, "4 devices for a K/V cache of 3 tokens"), "%s", err);
    /* the functional check: merged states of the split cache equal monolithic attention,
     * in both partitions, and a planted lse fault is caught */
    d.kv_len = 255;
    for (int part_kind = 0; part_kind < 2; part_kind++) {
        s.partition = part_kind ? SYS_PART_STRIDED : SYS_PART_SEQUENCE;
        sys_check_result c;
        ck_assert(sys_check(&s, &d, false, &c, err, sizeof err) == 0);
        ck_assert_msg(c.pass && c.heads == 2, "error %g", c.max_abs_err);
        ck_assert(sys_check(&s, &d, true, &c, err, sizeof err) == 0);
        ck_assert(!c.pass);
    }
}
END_TEST

/* Cascade's roles by hand: 64 tokens on 2 CompNodes (32 strided tokens each, their
 * row-local ops) and 2 x 2 AttnNodes (a group of 32 queries against a group of 32 keys).
 * Per attention block, with hidden 64, 2 heads and FP16: a CompNode sends its tokens' q, k
 * and v (3 x 64 x 2 = 384 B) to 2 AttnNodes each, 24,576 B, more than an AttnNode takes
 * in (32 x 384 = 12,288 B); the states come back, 64 x 2 + 2 x 4 = 136 B each: an
 * AttnNode sends 32 x 136 = 4,352 B and a CompNode takes 2 x 32 x 136 = 8,704 B. At
 * 1 GB/s and 1 us: 2 us + 33,280 B / 1 GB/s = 35.28 us a block, between the CompNodes'
 * work and the AttnNodes'. Everything moved: 64 tokens x 2 x (384 + 136) = 66,560 B.
 * A CompNode then merges 2 states per token and head: 32 x 2 pairs of 136 operations at
 * 16 PEs x 8 lanes a cycle. */
START_TEST(test_cascade_by_hand)
{
    arch_desc a;
    wl_desc d;
    small_model(&a, &d, 64);
    char err[512];
    sys_desc s = ring_of(6);
    s.topology = SYS_TOPO_SWITCH, s.partition = SYS_PART_CASCADE;
    s.comp_nodes = 2, s.attn_groups = 2;
    sys_result x;
    ck_assert_msg(sys_run_cascade(&s, &a, &d, true, NULL, &x, err, sizeof err) == 0, "%s", err);
    run_result *r = calloc(2, sizeof *r); /* (large: off the stack) */
    ck_assert_ptr_nonnull(r);
    wl_desc half = d;
    half.seq_len = 32;
    ck_assert(run_model_analytical(&a, &half, NULL, NULL, &r[0], err, sizeof err) == 0);
    double hz = a.clock_ghz * 1e9, row = 0, att = 0;
    for (uint32_t i = 0; i < r[0].blocks[0].n_ops; i++) {
        const run_op *o = &r[0].blocks[0].ops[i];
        bool attention = o->op.kind == WL_OP_ATTENTION || o->op.kind == WL_OP_SCORES ||
                         o->op.kind == WL_OP_SOFTMAX || o->op.kind == WL_OP_CONTEXT;
        (attention ? &att : &row)[0] += 2 * (double)o->cycles / hz; /* 2 blocks */
    }
    tu_assert_close(x.rowlocal_s, row, 1e-12, "CompNodes: 32 tokens' row-local ops");
    tu_assert_close(x.attention_s, att, 1e-12, "AttnNodes: 32 queries against 32 keys");
    tu_assert_close(x.comm_s, 2 * 35.28e-6, 1e-9, "out and back, two blocks");
    double merge = 64 * 136 / (16.0 * 8 * hz);
    tu_assert_close(x.merge_s, 2 * merge, 1e-12, "the CompNodes' merges");
    tu_assert_close(x.total_s, row + att + 2 * (35.28e-6 + merge), 1e-12, "the roles in turn");
    tu_assert_close(x.moved_bytes, 2 * 66560, 1e-12, "every q, k, v out and state back");
    ck_assert(x.devices == 6 && x.n_kinds == 2);
    ck_assert(x.dev[0].role == SYS_ROLE_COMP && x.dev[0].count == 2 && x.dev[0].tokens == 32);
    ck_assert(x.dev[1].role == SYS_ROLE_ATTN && x.dev[1].count == 4 && x.dev[1].tokens == 32);
    tu_assert_close(x.dev[0].busy_s, row + 2 * merge, 1e-12, "a CompNode's busy time");
    ck_assert(run_model_analytical(&a, &d, NULL, NULL, &r[1], err, sizeof err) == 0);
    tu_assert_close(x.single_s, (double)r[1].total.cycles / hz, 1e-12, "one array");
    tu_assert_close(x.efficiency, x.speedup / 6, 1e-12, "efficiency over six arrays");
    run_free(&r[0]);
    run_free(&r[1]);
    free(r);
    /* the merge over the key groups, and a planted fault in it */
    sys_check_result c;
    ck_assert(sys_check(&s, &d, false, &c, err, sizeof err) == 0 && c.pass);
    ck_assert(sys_check(&s, &d, true, &c, err, sizeof err) == 0 && !c.pass);
    /* a decode step splits its cache instead */
    d.new_tokens = d.seq_len = 1, d.kv_len = 63;
    ck_assert_int_eq(sys_run_cascade(&s, &a, &d, true, NULL, &x, err, sizeof err), UTIL_ECONFIG);
    ck_assert_msg(strstr(err, "the cascade partition runs whole sequences"), "%s", err);
}
END_TEST

/* What a system cannot split is refused: a Fourier mixer needs every token on one device,
 * and a device needs a token. */
START_TEST(test_system_refusals)
{
    arch_desc a;
    wl_desc d;
    small_model(&a, &d, 64);
    char err[512];
    sys_result r;
    sys_desc s = ring_of(65);
    ck_assert_int_eq(sys_run(&s, &a, &d, true, NULL, &r, err, sizeof err), UTIL_ECONFIG);
    ck_assert_msg(strstr(err, "65 devices for 64 tokens"), "%s", err);
    d.blocks[0].mixer = WL_MIX_FFT;
    s = ring_of(2);
    ck_assert_int_eq(sys_run(&s, &a, &d, true, NULL, &r, err, sizeof err), UTIL_ECONFIG);
    ck_assert_msg(strstr(err, "mixes with fft, which needs every token"), "%s", err);
}
END_TEST

/* Heads partition, by hand: on two identical arrays joined by a link with no latency and
 * 10^5 GB/s, every op that splits (projections, FFN layers: columns; attention: heads;
 * all even here) takes half its time, and the others (norms, adds) their whole time on
 * one array; the links add what they moved. One array alone runs its best plan,
 * and with one array the system is that array. */
START_TEST(test_heads_by_hand)
{
    arch_desc a;
    wl_desc d;
    small_model(&a, &d, 64);
    char err[512];
    map_forced apart = {.chaining = MAP_CHAIN_OFF, .fusing = MAP_FUSE_OFF};
    run_result r, best;
    ck_assert(run_model_analytical(&a, &d, &apart, NULL, &r, err, sizeof err) == 0);
    ck_assert(run_model_analytical(&a, &d, NULL, NULL, &best, err, sizeof err) == 0);
    double hz = a.clock_ghz * 1e9, want = 0;
    for (uint32_t i = 0; i < r.blocks[0].n_ops; i++) {
        const run_op *o = &r.blocks[0].ops[i];
        bool splits = o->op.kind == WL_OP_DENSE || o->op.kind == WL_OP_ATTENTION;
        want += (double)o->cycles / hz * (splits ? 0.5 : 1.0);
    }
    want *= (double)r.blocks[0].repeat;
    sys_desc s = ring_of(2);
    s.partition = SYS_PART_HEADS, s.link_gbs = 1e5, s.link_latency_ns = 0;
    s.link_pj_per_bit = 2.5;
    sys_result x;
    ck_assert_msg(sys_run_heads(&s, &a, &d, NULL, true, NULL, &x, err, sizeof err) == 0, "%s", err);
    ck_assert(!x.one_device);
    /* the links: each of the 2 x 11 ops moves at most twice its largest tensor (FFN1's
     * 64 x 128 x 2 bytes) at 10^5 GB/s */
    ck_assert_msg(x.comm_s > 0 && x.comm_s <= 22 * 2 * 16384 / 1e14, "links %g s", x.comm_s);
    ck_assert_msg(fabs(x.total_s - (want + x.comm_s)) <= 1e-12 * want, "%.12g s, want %.12g s",
                  x.total_s, want + x.comm_s);
    tu_assert_close(x.single_s, (double)best.total.cycles / hz, 1e-12, "one array, best plan");
    /* each array's work: half of every op that splits; the first array (the lower on a
     * tie) also runs the others whole; each waits out the rest at its leakage power */
    double mac[2] = {0, 0}, busy[2] = {0, 0}, pj[2] = {0, 0};
    for (uint32_t i = 0; i < r.blocks[0].n_ops; i++) {
        const run_op *o = &r.blocks[0].ops[i];
        bool splits = o->op.kind == WL_OP_DENSE || o->op.kind == WL_OP_ATTENTION;
        for (int k = 0; k < 2; k++) {
            double f = (double)r.blocks[0].repeat * (splits ? 0.5 : k == 0 ? 1.0 : 0.0);
            mac[k] += f * (double)o->mac_busy;
            busy[k] += f * (double)o->cycles / hz;
            pj[k] += f * o->energy_pj;
        }
    }
    ck_assert_uint_eq(x.n_kinds, 2);
    double pe_cycles = (double)arch_pe_count(&a) * x.total_s * hz;
    for (int k = 0; k < 2; k++) {
        ck_assert(!x.dev[k].gpu && x.dev[k].count == 1);
        tu_assert_close(x.dev[k].mac_utilization, mac[k] / pe_cycles, 1e-12, "MAC utilization");
        tu_assert_close(x.dev[k].busy_s, busy[k], 1e-12, "busy time");
        tu_assert_close(x.dev[k].energy_j,
                        pj[k] * 1e-12 + en_leakage_mw(&a) * 1e-3 * (x.total_s - busy[k]), 1e-12,
                        "an array's energy");
    }
    ck_assert(x.dev[0].mac_utilization > x.dev[1].mac_utilization);
    tu_assert_close(x.energy_j, parts_joules(&x), 1e-12, "devices plus links");
    tu_assert_close(x.link_energy_j, x.moved_bytes * 8 * s.link_pj_per_bit * 1e-12, 1e-12,
                    "link energy");
    ck_assert(x.moved_bytes > 0);
    tu_assert_close(x.single_energy_j, run_joules(&a, &d, &best), 1e-12, "one array's energy");
    s.devices = 1;
    ck_assert(sys_run_heads(&s, &a, &d, NULL, true, NULL, &x, err, sizeof err) == 0);
    tu_assert_close(x.total_s, (double)best.total.cycles / hz, 1e-12, "a system of one");
    tu_assert_close(x.energy_j, run_joules(&a, &d, &best), 1e-12, "a system of one's energy");
    ck_assert(x.moved_bytes == 0 && x.link_energy_j == 0);
    run_free(&r), run_free(&best);
}
END_TEST

/* The check through the simulated arrays: each shard's partial states from the engine
 * (fused attention writing [q m l o]), merged, against monolithic attention, within 4
 * times the error of one array attending to every key. Ranges and strided shards, a
 * causal mask (strided keys keep their positions), the cascade's key groups, a decode
 * step's split cache plus the step's own keys as one more shard; a planted lse error in
 * one shard fails it. */
START_TEST(test_arrays_functional)
{
    arch_desc a;
    wl_desc d;
    small_model(&a, &d, 64);
    char err[512];
    static const struct {
        sys_partition part;
        uint32_t devices;
        bool causal, decode;
        uint32_t shards;
    } cases[] = {
        {SYS_PART_SEQUENCE, 4, false, false, 4}, {SYS_PART_STRIDED, 8, true, false, 8},
        {SYS_PART_SEQUENCE, 3, true, false, 3},  {SYS_PART_CASCADE, 6, true, false, 2},
        {SYS_PART_SEQUENCE, 4, true, true, 5},   {SYS_PART_STRIDED, 4, true, true, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sys_desc s = ring_of(cases[i].devices);
        s.partition = cases[i].part;
        if (s.partition == SYS_PART_CASCADE)
            s.comp_nodes = 2, s.attn_groups = 2;
        wl_desc w = d;
        w.mask = cases[i].causal ? WL_MASK_CAUSAL : WL_MASK_NONE;
        if (cases[i].decode)
            w.new_tokens = w.seq_len = 3, w.kv_len = 61;
        for (int fault = 0; fault < 2; fault++) {
            sys_check_result c;
            ck_assert(sys_check(&s, &w, fault, &c, err, sizeof err) == 0);
            ck_assert_msg(sys_check_arrays(&s, &a, &w, fault, &c, err, sizeof err) == 0, "%s", err);
            ck_assert(c.arrays && c.array_shards == cases[i].shards);
            ck_assert_msg(fault ? !c.pass && c.array_err > c.array_tolerance
                                : c.pass && c.array_err <= c.array_tolerance,
                          "case %zu, fault %d: error %g, tolerance %g", i, fault, c.array_err,
                          c.array_tolerance);
        }
    }
}
END_TEST

/* The first seed's GPU and CPU split (no array), with links that cost nothing: every op
 * runs whole on the faster device or split between them, so the run is no slower than
 * the GPU alone nor the CPU alone; the CPU cluster spends its cores' active power while
 * it works and nothing more (its module's idle power is the GPU's, drawn all run long);
 * with no cores it does not join. */
START_TEST(test_gpu_and_cpu)
{
    arch_desc a;
    wl_desc d;
    small_model(&a, &d, 64);
    char err[512], path[512];
    gpu_desc g;
    ck_assert(cfg_load_gpu(tu_src(path, sizeof path, "arch/gpu/xavier-nx-15w.cfg"), NULL, 0, &g,
                           err, sizeof err) == 0);
    sys_desc s = ring_of(0);
    s.topology = SYS_TOPO_SHARED, s.partition = SYS_PART_HEADS;
    s.link_gbs = 1e5, s.link_latency_ns = 0, s.cpu_cores = 6;
    snprintf(s.gpu, sizeof s.gpu, "%s", path);
    sys_result x;
    ck_assert_msg(sys_run_heads(&s, &a, &d, &g, true, NULL, &x, err, sizeof err) == 0, "%s", err);
    ck_assert(x.n_kinds == 2 && x.dev[0].gpu && x.dev[1].cpu);
    gpu_result *gr = malloc(sizeof *gr);
    ck_assert(gr && gpu_model_run(&g, &d, gr, err, sizeof err) == 0);
    double cpu_alone = 0;
    for (uint32_t b = 0; b < d.n_blocks; b++) {
        wl_op ops[WL_MAX_BLOCK_OPS];
        uint32_t n = wl_block_ops(&d, b, ops);
        for (uint32_t i = 0; i < n; i++)
            cpu_alone += (double)d.blocks[b].repeat * gpu_cpu_op_seconds(&g, &ops[i], d.dtype);
    }
    tu_assert_close(x.single_s, fmin(gr->gpu.seconds, cpu_alone), 1e-12, "the faster alone");
    ck_assert(x.total_s <= x.single_s * (1 + 1e-12));
    if (!x.one_device)
        ck_assert(x.dev[1].busy_s > 0);
    tu_assert_close(x.dev[1].energy_j, g.cpu.active_w * x.dev[1].busy_s, 1e-12,
                    "the cores' active power while they work");
    ck_assert(x.dev[0].energy_j >= g.power.idle_w * x.total_s * (1 - 1e-12));
    free(gr);
    s.cpu_cores = 0;
    ck_assert(sys_run_heads(&s, &a, &d, &g, true, NULL, &x, err, sizeof err) == 0);
    ck_assert(x.n_kinds == 1 && x.dev[0].gpu);
}
END_TEST

/* From the command line: a system preset by name, its JSON byte-identical run to run,
 * options it does not take and bad system files are usage errors naming the problem. */
START_TEST(test_system_cli)
{
    char json[512], sys[512];
    tu_tmp(json, sizeof json, "sys.json");
    const char *args[] = {"-q",
                          "-m",
                          "analytical",
                          "-j",
                          json,
                          "-s",
                          "workload.seq_len=256",
                          "mld-8x8-ring4",
                          "bert-base-image-1k",
                          NULL};
    tu_result r;
    tu_runv(&r, 9, args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    size_t n1, n2;
    char *t1 = tu_read(json, &n1);
    ck_assert_msg(strstr(t1, "\"devices\": 4") && strstr(t1, "\"tokens_per_device\": 64"), "%s",
                  t1);
    ck_assert_msg(strstr(t1, "\"has_energy\": true") && strstr(t1, "\"kind\": \"array\"") &&
                      strstr(t1, "\"count\": 4"),
                  "%s", t1);
    tu_runv(&r, 9, args);
    tu_free(&r);
    char *t2 = tu_read(json, &n2);
    ck_assert(n1 == n2 && memcmp(t1, t2, n1) == 0);
    free(t1), free(t2);
    tu_expect(2, "mld-8x8 is an arch, not a system", "-s", "system.devices=2", "mld-8x8",
              "bert-base-image-1k", NULL);
    tu_expect(2, "--inject-fault=twiddle is not supported for system runs yet", "-f",
              "--inject-fault=twiddle", "mld-8x8-ring4", "bert-base-image-1k", NULL);
    /* CSV rows append under one header; the overrides column tells the rows apart */
    char csv[512];
    remove(tu_tmp(csv, sizeof csv, "sys.csv"));
    const char *counts[] = {"system.devices=2", "system.devices=8"};
    for (int i = 0; i < 2; i++) {
        tu_run(&r, "-q", "-m", "analytical", "-c", csv, "-s", counts[i], "-s",
               "workload.seq_len=256", "mld-8x8-ring4", "bert-base-image-1k", NULL);
        ck_assert_msg(r.status == 0, "%s", r.err);
        tu_free(&r);
    }
    char *rows = tu_read(csv, NULL);
    ck_assert_msg(strncmp(rows, "system,device,devices,", 22) == 0, "%s", rows);
    ck_assert_msg(strstr(rows, ",functional,link_energy_pj_per_bit,energy_j,link_energy_j,"
                               "device_energy_j,single_device_energy_j,device_mac_utilization,"
                               "overrides\n"),
                  "%s", rows);
    char *l1 = strchr(rows, '\n') + 1, *l2 = strchr(l1, '\n') + 1;
    ck_assert(strstr(l1, ",2,") && strstr(l1, "system.devices=2 workload.seq_len=256\n"));
    ck_assert(strstr(l2, ",8,") && strstr(l2, "system.devices=8 workload.seq_len=256\n"));
    ck_assert(strchr(l2, '\n')[1] == '\0');
    free(rows);
    remove(csv);
    /* an array beside a GPU, heads partition; a GPU is refused with another partition */
    tu_run(&r, "-m", "analytical", "-s", "workload.seq_len=256", "mld-8x8-xavier-nx",
           "bert-base-image-1k", NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "over 1 arrays and the GPU xavier-nx-15w"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "devices    array 0 (mld-8x8): busy ") &&
                      strstr(r.out, "devices    the GPU xavier-nx-15w: busy ") &&
                      strstr(r.out, "energy     "),
                  "%s", r.out);
    tu_free(&r);
    tu_expect(2,
              "a GPU beside the arrays takes part only with partition = "
              "\"heads\"",
              "-s", "system.partition=sequence", "mld-8x8-xavier-nx", "bert-base-image-1k", NULL);
    /* --functional: the system's shards merged against monolithic attention, every head;
     * a planted error in one shard's lse exits 3, and cannot be planted on one device */
    tu_run(&r, "-f", "-s", "workload.seq_len=64", "mld-8x8-rshard8", "bert-base-image-1k", NULL);
    ck_assert_msg(r.status == 0 && strstr(r.out, "functional pass: 12 heads"), "%s%s", r.out,
                  r.err);
    tu_free(&r);
    tu_expect(3, "merged partial states differ from monolithic attention", "-f",
              "--inject-fault=merge", "-s", "workload.seq_len=64", "mld-8x8-ring4",
              "bert-base-image-1k", NULL);
    tu_expect(2, "needs two devices or more", "-f", "--inject-fault=merge", "-s",
              "workload.seq_len=64", "-s", "system.devices=1", "mld-8x8-ring4",
              "bert-base-image-1k", NULL);
    /* every shipped system: its partition checks out on values, and a planted merge
     * fault is caught */
    static const char *const presets[] = {
        "mld-8x8-ring4",   "mld-8x8-ring8",     "mld-8x8-switch16", "mld-8x8-rshard8",
        "mld-8x8-cascade", "mld-8x8-xavier-nx", "xavier-nx-gpu-cpu"};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        tu_run(&r, "-q", "-f", "-s", "workload.seq_len=64", presets[i], "bert-base-image-1k", NULL);
        ck_assert_msg(r.status == 0, "%s: %s", presets[i], r.err);
        tu_free(&r);
        tu_run(&r, "-q", "-f", "--inject-fault=merge", "-s", "workload.seq_len=64", presets[i],
               "bert-base-image-1k", NULL);
        ck_assert_msg(r.status == 3, "%s with a planted fault: status %d", presets[i], r.status);
        tu_free(&r);
        /* a decode step (a 63-token cache): every partition but the cascade's splits it */
        bool cascade = strcmp(presets[i], "mld-8x8-cascade") == 0;
        tu_run(&r, "-q", "-f", "-s", "workload.kv_len=63", presets[i], "bert-base-decode-2k", NULL);
        ck_assert_msg(r.status == (cascade ? 2 : 0), "%s decoding: %s", presets[i], r.err);
        tu_free(&r);
        if (cascade)
            continue;
        tu_run(&r, "-q", "-f", "--inject-fault=merge", "-s", "workload.kv_len=63", presets[i],
               "bert-base-decode-2k", NULL);
        ck_assert_msg(r.status == 3, "%s decoding with a planted fault: status %d", presets[i],
                      r.status);
        tu_free(&r);
    }
    /* options a system run would silently drop are refused; a fault meant for systems
     * is refused on an arch */
    tu_run(&r, "-m", "analytical", "--baseline", "nano", "mld-8x8-ring4", "bert-base-image-1k",
           NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--baseline (a system names its GPU"), "%s", r.err);
    tu_free(&r);
    tu_expect(2, "--inject-fault=merge needs a system", "-f", "--inject-fault=merge", "mld-4x4",
              "butterfly-linear-64", NULL);
    tu_expect(2, "cpu_cores = 2: the CPU cluster is the GPU's SoC's", "-s", "system.cpu_cores=2",
              "mld-8x8-ring4", "bert-base-image-1k", NULL);
    tu_expect(2, "comp_nodes = 2 is for partition = \"cascade\"", "-s", "system.comp_nodes=2",
              "mld-8x8-ring4", "bert-base-image-1k", NULL);
    char *text = tu_read(tu_src(sys, sizeof sys, "arch/systems/mld-8x8-ring4.cfg"), NULL);
    /* the file's own name is kept (the kind key once overwrote it) */
    char *named = tu_replace(text, "name = \"mld-8x8-ring4\";", "name = \"my-cluster\";");
    tu_write(tu_tmp(sys, sizeof sys, "renamed.cfg"), named);
    tu_run(&r, "-m", "analytical", "-s", "workload.seq_len=256", sys, "bert-base-image-1k", NULL);
    ck_assert_msg(r.status == 0 && strstr(r.out, "system     my-cluster ("), "%s%s", r.out, r.err);
    tu_free(&r);
    free(named);
    /* a device that names nothing is the system file's error, at its line */
    char *nodev = tu_replace(text, "device = \"mld-8x8\";", "device = \"mld-9x9\";");
    tu_write(sys, nodev);
    tu_run(&r, sys, "bert-base-image-1k", NULL);
    ck_assert_int_eq(r.status, 2);
    char where[600];
    snprintf(where, sizeof where, "%s:%d: device = \"mld-9x9\": mld-9x9: no such file", sys,
             tu_line_of(nodev, "device = "));
    ck_assert_msg(strstr(r.err, where), "want %s, got %s", where, r.err);
    tu_free(&r);
    free(nodev);
    /* the link energy: a physical range, at its line; left out, the documented default */
    static const char *const pj_bad[] = {"energy_pj_per_bit = 250.0;", "energy_pj_per_bit = -1.0;"};
    for (size_t i = 0; i < 2; i++) {
        char *pj = tu_replace(text, "energy_pj_per_bit = 1.9;", pj_bad[i]);
        tu_write(tu_tmp(sys, sizeof sys, "bad-link.cfg"), pj);
        tu_run(&r, sys, "bert-base-image-1k", NULL);
        ck_assert_int_eq(r.status, 2);
        snprintf(where, sizeof where, "%s:%d: link.energy_pj_per_bit = %s is out of range", sys,
                 tu_line_of(pj, "energy_pj_per_bit = "), i ? "-1" : "250");
        ck_assert_msg(strstr(r.err, where), "want %s, got %s", where, r.err);
        tu_free(&r);
        free(pj);
    }
    char *nopj = tu_replace(text, "energy_pj_per_bit = 1.9;", "");
    tu_write(sys, nopj);
    tu_run(&r, "-q", "-m", "analytical", "-j", json, "-s", "workload.seq_len=256", sys,
           "bert-base-image-1k", NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    t1 = tu_read(json, NULL);
    ck_assert_msg(strstr(t1, "\"link_energy_pj_per_bit\": 1.9,"), "%s", t1);
    free(t1), free(nopj);
    /* the cascade's node counts must add up to the devices */
    char *casc = tu_replace(text, "devices = 4;",
                            "devices = 4; partition = \"cascade\"; comp_nodes = 2; "
                            "attn_groups = 2;");
    char *casc2 = tu_replace(casc, "partition = \"sequence\";", "");
    free(casc);
    casc = casc2;
    tu_write(tu_tmp(sys, sizeof sys, "bad-system.cfg"), casc);
    tu_run(&r, sys, "bert-base-image-1k", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "devices = 4: the cascade partition has comp_nodes + "
                                "attn_groups^2 = 2 + 4 = 6 devices"),
                  "%s", r.err);
    tu_free(&r);
    free(casc);
    char *bad = tu_replace(text, "devices = 4;", "devices = 0;");
    tu_write(tu_tmp(sys, sizeof sys, "bad-system.cfg"), bad);
    tu_run(&r, sys, "bert-base-image-1k", NULL);
    ck_assert_int_eq(r.status, 2);
    char want[600];
    snprintf(want, sizeof want, "%s:%d: devices = 0: a system without arrays needs partition", sys,
             tu_line_of(bad, "devices = 0"));
    ck_assert_msg(strstr(r.err, want), "want %s, got %s", want, r.err);
    tu_free(&r);
    free(text), free(bad);
    remove(sys), remove(json);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("system");
    TCase *tc = tcase_create("system");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_merge_equals_monolithic);
    tcase_add_test(tc, test_any_order_any_tree);
    tcase_add_test(tc, test_edge_states);
    tcase_add_test(tc, test_shards_cover_tokens);
    tcase_add_test(tc, test_apportion);
    tcase_add_test(tc, test_collectives);
    tcase_add_test(tc, test_sequence_parallel_by_hand);
    tcase_add_test(tc, test_sequence_energy);
    tcase_add_test(tc, test_uneven_shards);
    tcase_add_test(tc, test_system_refusals);
    tcase_add_test(tc, test_decode_by_hand);
    tcase_add_test(tc, test_cascade_by_hand);
    tcase_add_test(tc, test_gpu_and_cpu);
    tcase_add_test(tc, test_arrays_functional);
    tcase_add_test(tc, test_heads_by_hand);
    tcase_add_test(tc, test_system_cli);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
