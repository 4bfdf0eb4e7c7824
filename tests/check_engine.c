/* check_engine.c: hand-built programs: validation errors, link serialisation, credit limits. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/config/config.h"
#include "../sim/engine/engine.h"
#include "../sim/engine/internal.h" /* white-box tests of the NoC and SPM models */
#include "testutil.h"

/* A two-stage program on the 1x2 test array: SPM -> I0 on PE (0,0) -> I1 on PE (0,1)
 * -> SPM, L elements per tag, `split` transfers between the two instructions. */
typedef struct prog {
    eng_instr instr[2];
    eng_xfer xfer[4];
    eng_phase phase;
    eng_program program;
    uint64_t L;
} prog;

static void tag_dma(const void *ctx, uint64_t tag, eng_tag_io *io)
{
    const prog *p = ctx;
    eng_tag_single(io, (eng_pattern){tag * p->L, p->L, p->L, 1},
                   (eng_pattern){(tag + 16) * p->L, p->L, p->L, 1});
}

static void build(prog *p, uint32_t L, uint32_t split, uint64_t tags)
{
    memset(p, 0, sizeof *p);
    p->L = L;
    for (int i = 0; i < 2; i++)
        p->instr[i] = (eng_instr){.pe = (uint32_t)i,
                                  .op = ENG_OP_BFLY,
                                  .vec_ops[ARCH_FU_MAC] = 2 * L / 2,
                                  .lane_ops = 2 * L,
                                  .local_elems = L,
                                  .param = 0,
                                  .weight_elems = 2 * L,
                                  .weight_addr = (uint64_t)(48 + 2 * i) * L};
    uint32_t n = 0;
    p->xfer[n++] = (eng_xfer){-1, 0, 0, L, {0, L, L, 1}, NULL, NULL};
    for (uint32_t k = 0; k < split; k++)
        p->xfer[n++] = (eng_xfer){0, 1, 0, L / split, {0, 0, 0, 0}, NULL, NULL};
    p->xfer[n++] = (eng_xfer){1, -1, 1, L, {0, L, L, 1}, NULL, NULL};
    p->phase = (eng_phase){.n_instr = 2,
                           .instr = p->instr,
                           .n_xfer = n,
                           .xfer = p->xfer,
                           .n_tags = tags,
                           .repeats = 1,
                           .tag_elems = L,
                           .in_slots = 2,
                           .out_slots = 2,
                           .tag_dma = tag_dma,
                           .tag_ctx = p};
    p->program = (eng_program){UTIL_FP16, 1, &p->phase, 96 * (uint64_t)L, 0, 0, 0, 0};
}

static void load_tiny(arch_desc *a)
{
    char path[512], err[512];
    int rc = cfg_load_arch(tu_src(path, sizeof path, "tests/data/tiny-1x2.cfg"), NULL, 0, a, err,
                           sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
}

/* The program is refused with a message containing phrase. */
static void expect_refused(const arch_desc *a, const eng_program *program, const char *phrase)
{
    char err[512];
    eng_stats st;
    ck_assert_int_eq(eng_run(a, program, NULL, &st, err, sizeof err), UTIL_ERUN);
    ck_assert_msg(strstr(err, phrase), "%s", err);
}

START_TEST(test_program_runs)
{
    arch_desc a;
    char err[512];
    load_tiny(&a);
    prog p;
    build(&p, 16, 1, 3);
    eng_stats st;
    ck_assert_msg(eng_run(&a, &p.program, NULL, &st, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(st.tags, 3);
    ck_assert_uint_eq(st.pe_total.fires, 6);
    ck_assert_uint_eq(st.lane_ops, 6 * 32);
    eng_stats_free(&st);
}
END_TEST

/* Each tag's input in two halves far apart in DRAM (as a fused group reads a row and its
 * residual): the DMA issues one descriptor per part, moves the same bytes as one part
 * would, and the estimate counts the same bytes. */
static void tag_dma_halves(const void *ctx, uint64_t tag, eng_tag_io *io)
{
    const prog *p = ctx;
    uint64_t h = p->L / 2;
    eng_tag_single(io, (eng_pattern){tag * p->L, h, h, 1},
                   (eng_pattern){(tag + 16) * p->L, p->L, p->L, 1});
    io->n_in = 2;
    io->in[1] = (eng_pattern){(tag + 32) * p->L + h, h, h, 1};
}

START_TEST(test_tag_in_parts)
{
    arch_desc a;
    char err[512];
    load_tiny(&a);
    prog one, two;
    build(&one, 64, 1, 8);
    build(&two, 64, 1, 8);
    two.phase.tag_dma = tag_dma_halves;
    eng_stats s1, s2;
    ck_assert_msg(eng_run(&a, &one.program, NULL, &s1, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(eng_run(&a, &two.program, NULL, &s2, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(s2.tags, 8);
    ck_assert_uint_eq(s2.dma.descriptors, s1.dma.descriptors + 8);
    ck_assert_uint_eq(s2.dram.read_bytes, s1.dram.read_bytes);
    ck_assert_uint_eq(s2.dma.bytes, s1.dma.bytes);
    eng_estimate_total e;
    ck_assert_msg(eng_estimate(&a, &two.program, NULL, &e, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(e.dram_read_bytes, s2.dram.read_bytes);
    eng_stats_free(&s1), eng_stats_free(&s2);
}
END_TEST

/* Splitting one transfer into two messages that share the injection port and the link
 * must not let the last flit arrive earlier: both messages serialise on the same link
 * (one message of 2F flits and two of F reach the consumer at the same cycle). */
START_TEST(test_messages_serialise_on_links)
{
    arch_desc a;
    char err[512];
    load_tiny(&a);
    prog one, two;
    build(&one, 64, 1, 1);
    build(&two, 64, 2, 1);
    eng_stats s1, s2;
    ck_assert_int_eq(eng_run(&a, &one.program, NULL, &s1, err, sizeof err), 0);
    ck_assert_int_eq(eng_run(&a, &two.program, NULL, &s2, err, sizeof err), 0);
    ck_assert_uint_eq(s2.noc.messages, s1.noc.messages + 1);
    ck_assert_uint_eq(s2.noc.flits, s1.noc.flits);
    ck_assert_uint_eq(s2.cycles, s1.cycles);
    eng_stats_free(&s1);
    eng_stats_free(&s2);
}
END_TEST

/* With one tag slot per instruction a producer waits for the consumer's credit, so
 * tags cannot overlap as much: never faster than with four slots. */
START_TEST(test_credits_limit_overlap)
{
    arch_desc a;
    char err[512];
    load_tiny(&a);
    a.pe.buffer_bytes = 4096;
    prog p;
    build(&p, 64, 1, 16);
    eng_stats wide, narrow;
    a.pe.tags = 4;
    ck_assert_int_eq(eng_run(&a, &p.program, NULL, &wide, err, sizeof err), 0);
    a.pe.tags = 1;
    ck_assert_int_eq(eng_run(&a, &p.program, NULL, &narrow, err, sizeof err), 0);
    ck_assert_uint_gt(narrow.cycles, wide.cycles);
    ck_assert_uint_eq(narrow.lane_ops, wide.lane_ops);
    eng_stats_free(&wide);
    eng_stats_free(&narrow);
}
END_TEST

/* Infeasible programs are refused with a message, never run. */
START_TEST(test_validation_errors)
{
    arch_desc a;
    load_tiny(&a);
    prog p;
    build(&p, 16, 1, 1);
    p.instr[1].pe = 9;
    expect_refused(&a, &p.program, "instruction 1 is on PE 9, but the array has 2 PEs");
    build(&p, 16, 1, 1);
    p.instr[1].pe = 0; /* two instructions, pe.istore = 1 */
    expect_refused(&a, &p.program, "PE 0 needs 2 instruction-store entries, pe.istore = 1");
    build(&p, 512, 1, 1); /* 2 tags x 512 + 1024 weights, x 2 bytes > 1 KiB */
    expect_refused(&a, &p.program, "pe.buffer_kb holds 1024");
    build(&p, 16, 1, 1);
    p.phase.tag_elems = 1u << 20;
    expect_refused(&a, &p.program, "the SPM has 2048");
    build(&p, 16, 1, 1);
    p.xfer[1].elems = 0;
    expect_refused(&a, &p.program, "transfer 1 is malformed");
    build(&p, 16, 1, 1);
    p.xfer[1].elems = 32;
    expect_refused(&a, &p.program,
                   "instruction 1 receives 32 elements per tag, its buffer holds 16");
    build(&p, 16, 1, 1);
    p.xfer[2].spm_port = 7;
    expect_refused(&a, &p.program, "transfer 2 is malformed");
}
END_TEST

/* ---------------------------------------------------------------- white-box components */

/* A simulator on a 1 x cols mesh whose components are driven by hand. */
static eng_sim *bare_sim(arch_desc *a, uint32_t cols, prog *p)
{
    char err[512];
    load_tiny(a);
    a->array.cols = cols;
    build(p, 16, 1, 1);
    eng_sim *s;
    ck_assert_msg(eng_sim_create(a, &p->program, NULL, &s, err, sizeof err) == 0, "%s", err);
    return s;
}

static void send(eng_sim *s, uint32_t src, uint32_t dst, uint32_t flits, uint64_t head_at)
{
    msg *m = eng_msg_alloc(s);
    ck_assert_ptr_nonnull(m);
    m->kind = MSG_DATA;
    m->src_node = src;
    m->dst_node = dst;
    m->flits = flits;
    s->now = head_at - 1;
    eng_noc_send(s, &s->pes[src].base, m, head_at);
}

/* Runs one component until it has nothing left. */
static void drain(eng_sim *s, comp *c)
{
    for (uint64_t t; (t = eng_sim_next(s, c->id)) != UINT64_MAX;)
        eng_sim_step(s, c->id, t);
}

/* Sorted cycles of the events waiting in a component's inbox. */
static void inbox_times(const comp *c, uint64_t *t, size_t n)
{
    ck_assert_uint_eq(c->inbox.n, n);
    for (size_t i = 0; i < n; i++)
        t[i] = c->inbox.v[i].time;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && t[j] < t[j - 1]; j--) {
            uint64_t x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
}

/* 1x3 mesh, hop latency 1, 4-flit messages; a message's tail reaches its PE F cycles
 * after its head enters the ejection link.
 * A: PE0 -> PE2, head at router (0,0) at 10: link E(0,0) [10,14), head at (0,1) at 11,
 *    link E(0,1) [11,15), head at (0,2) at 12, ejection [12,16): delivered at 16.
 * B: PE1 -> PE2, head at router (0,1) at 11, together with A's head: A's hop was queued
 *    first, so B gets E(0,1) at 15 (waits 4), head at (0,2) at 16, ejection [16,20). */
START_TEST(test_noc_link_contention)
{
    arch_desc a;
    prog p;
    uint64_t t[2];
    eng_sim *s = bare_sim(&a, 3, &p);
    send(s, 0, 2, 4, 10);
    drain(s, &s->noc_c);
    inbox_times(&s->pes[2].base, t, 1);
    ck_assert_uint_eq(t[0], 16);
    ck_assert_uint_eq(s->st.noc.wait_cycles, 0);
    eng_sim_destroy(s);

    s = bare_sim(&a, 3, &p);
    send(s, 0, 2, 4, 10);
    send(s, 1, 2, 4, 11);
    s->now = 9;
    drain(s, &s->noc_c);
    inbox_times(&s->pes[2].base, t, 2);
    ck_assert_uint_eq(t[0], 16);
    ck_assert_uint_eq(t[1], 20);
    ck_assert_uint_eq(s->st.noc.wait_cycles, 4);
    ck_assert_uint_eq(s->st.noc.flit_hops, 4 * 3);
    ck_assert_uint_eq(s->st.noc.router_traversals, 4 * 5);
    eng_sim_destroy(s);
}
END_TEST

/* 1x5 mesh, 4 flits from PE0 to PE4, head at (0,0) at 10. Plain mesh: 4 hops, head at
 * (0,4) at 14, delivered 18. With skip links of 2: 2 hops (0,0)->(0,2)->(0,4), head at
 * (0,4) at 12, delivered 16, and every flit-hop is on a skip link. */
START_TEST(test_noc_skip_links)
{
    arch_desc a;
    prog p;
    uint64_t t[1];
    eng_sim *s = bare_sim(&a, 5, &p);
    send(s, 0, 4, 4, 10);
    drain(s, &s->noc_c);
    inbox_times(&s->pes[4].base, t, 1);
    ck_assert_uint_eq(t[0], 18);
    ck_assert_uint_eq(s->st.noc.flit_hops, 16);
    /* the cut lies between columns 1 and 2: the hop 1 -> 2 crosses it */
    ck_assert_uint_eq(s->st.noc.bisection_flits, 4);
    eng_sim_destroy(s);

    load_tiny(&a);
    a.array.cols = 5;
    a.noc.n_skip = 1;
    a.noc.skip[0] = 2;
    char err[512];
    build(&p, 16, 1, 1);
    ck_assert_int_eq(eng_sim_create(&a, &p.program, NULL, &s, err, sizeof err), 0);
    send(s, 0, 4, 4, 10);
    drain(s, &s->noc_c);
    inbox_times(&s->pes[4].base, t, 1);
    ck_assert_uint_eq(t[0], 16);
    ck_assert_uint_eq(s->st.noc.flit_hops, 8);
    ck_assert_uint_eq(s->st.noc.skip_flit_hops, 8);
    /* the skip hop 0 -> 2 crosses the cut; 2 -> 4 does not */
    ck_assert_uint_eq(s->st.noc.bisection_flits, 4);
    /* links across the cut, one direction: the mesh link 1 -> 2 and the skip links
     * 0 -> 2 and 1 -> 3 */
    ck_assert_uint_eq(arch_bisection_links(&a), 3);
    eng_sim_destroy(s);
}
END_TEST

/* Two 16-byte writes to the 2-bank, 4-byte-word SPM arrive together at cycle 20; each
 * puts 2 words in each bank. The first holds both banks [20,22); the second waits for
 * them: [22,24). Conflicts: its 4 words, 2 cycles in each of the 2 banks. With 2 ports
 * per bank each write needs one cycle: [20,21) and [21,22). */
START_TEST(test_spm_bank_conflicts)
{
    for (uint32_t ports = 1; ports <= 2; ports++) {
        arch_desc a;
        prog p;
        eng_sim *s = bare_sim(&a, 2, &p);
        a.spm.ports = ports;
        s->now = 19;
        for (int k = 0; k < 2; k++) {
            spm_req *r = eng_spm_req_alloc(s);
            dma_desc *d = eng_dma_alloc(s);
            ck_assert(r && d);
            r->write = true;
            r->after = SPM_AFTER_DMA;
            r->base = 16 * (uint64_t)k;
            r->pat = (eng_pattern){0, 8, 8, 1}; /* 8 FP16 elements = 16 bytes */
            r->d = d;
            eng_spm_submit(s, &s->dma_c, r);
        }
        drain(s, &s->spm_c);
        uint64_t t[2];
        inbox_times(&s->dma_c, t, 2);
        ck_assert_uint_eq(t[0], ports == 1 ? 22 : 21);
        ck_assert_uint_eq(t[1], ports == 1 ? 24 : 22);
        ck_assert_uint_eq(s->st.spm.writes, 8);
        ck_assert_uint_eq(s->st.spm.conflicts, 4);
        ck_assert_uint_eq(s->st.spm.conflict_cycles, ports == 1 ? 4 : 2);
        eng_sim_destroy(s);
    }
}
END_TEST

/* One MAC unit accepts one vector operation per cycle: 64 tags of 64 vector operations
 * each on PE0 take at least 64 x 64 cycles, however fast memory and links are, and
 * however many tags and results may be in flight. */
START_TEST(test_function_unit_occupancy)
{
    arch_desc a;
    char err[512];
    load_tiny(&a);
    a.pe.tags = 4;
    a.pe.out_slots = 4;
    a.noc.link_bits = 256;
    a.spm.banks = 32;
    a.dram.bandwidth_gbs = 1000;
    a.pe.buffer_bytes = 8192;
    a.spm.bank_bytes = 65536;
    prog p;
    build(&p, 64, 1, 64);
    eng_stats st;
    ck_assert_int_eq(eng_run(&a, &p.program, NULL, &st, err, sizeof err), 0);
    ck_assert_uint_eq(st.pe[0].fu_busy[ARCH_FU_MAC], 64 * 64);
    ck_assert_uint_ge(st.cycles, 64 * 64);
    eng_stats_free(&st);
}
END_TEST

/* A kernel instruction on two units: the MAC does 16 vector operations (1 cycle each), the
 * exp unit 4 (1 lane per cycle on 2 lanes: 2 cycles each). They stream together, so the
 * result is ready after max(15 x 1, 3 x 2) = 15 cycles plus both latencies (2 + 1), one
 * cycle later than the MAC alone ((16 - 1) + 2); everything after it shifts by that cycle. */
static void kern_double(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag,
                        float *buf, const float *w, util_dtype t)
{
    (void)ctx, (void)w, (void)t, (void)repeat, (void)tag;
    for (uint32_t j = 0; j < in->local_elems; j++)
        buf[j] = 2 * buf[j];
}

static void kern_tag(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag,
                     float *buf, const float *w, util_dtype t)
{
    (void)ctx, (void)w, (void)t;
    for (uint32_t j = 0; j < in->local_elems; j++)
        buf[j] += (float)(100 * repeat + tag);
}

START_TEST(test_kernel_instructions)
{
    arch_desc a;
    char err[512];
    load_tiny(&a);
    prog base, kern;
    build(&base, 16, 1, 1);
    build(&kern, 16, 1, 1);
    kern.instr[0].op = ENG_OP_KERNEL;
    kern.instr[0].kernel = kern_double;
    kern.instr[0].vec_ops[ARCH_FU_EXP] = 4;
    kern.instr[1].op = ENG_OP_KERNEL;
    kern.instr[1].kernel = kern_tag;
    eng_stats sb, sk;
    ck_assert_int_eq(eng_run(&a, &base.program, NULL, &sb, err, sizeof err), 0);
    ck_assert_msg(eng_run(&a, &kern.program, NULL, &sk, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(sk.cycles, sb.cycles + 1);
    ck_assert_uint_eq(sk.pe[0].fu_busy[ARCH_FU_EXP], 8);
    ck_assert_uint_eq(sk.pe[0].fu_vec_ops[ARCH_FU_EXP], 4);
    ck_assert_uint_eq(sk.pe[0].fu_busy[ARCH_FU_MAC], 16);
    eng_stats_free(&sb);
    eng_stats_free(&sk);

    /* Functional: values pass both kernels: y = 2 x + tag. */
    build(&kern, 16, 1, 3);
    kern.instr[0].op = kern.instr[1].op = ENG_OP_KERNEL;
    kern.instr[0].kernel = kern_double;
    kern.instr[1].kernel = kern_tag;
    float *image = calloc(96 * 16, sizeof *image);
    for (uint32_t j = 0; j < 3 * 16; j++)
        image[j] = (float)j;
    ck_assert_msg(eng_run(&a, &kern.program, image, &sk, err, sizeof err) == 0, "%s", err);
    for (uint32_t j = 0; j < 3 * 16; j++)
        ck_assert_float_eq(image[16 * 16 + j], 2.0f * (float)j + (float)(j / 16));
    eng_stats_free(&sk);
    free(image);

    /* A tag whose DRAM pattern runs past the image is a mapping bug the run reports: the
     * weights end at element (50 + 2) x 16 = 832, but the output of tag 37 of 40 ends at
     * (37 + 16 + 1) x 16 = 864, past an image of 848. */
    build(&kern, 16, 1, 40);
    kern.program.dram_elems = 53 * 16;
    ck_assert_int_eq(eng_run(&a, &kern.program, NULL, &sk, err, sizeof err), UTIL_ERUN);
    ck_assert_msg(strstr(err, "the image has 848"), "%s", err);

    /* A kernel instruction without its kernel is malformed. */
    kern.instr[1].op = ENG_OP_KERNEL;
    kern.instr[1].kernel = NULL;
    ck_assert_int_eq(eng_validate(&a, &kern.program, err, sizeof err), UTIL_ERUN);
    ck_assert_ptr_nonnull(strstr(err, "malformed"));
}
END_TEST

/* Two passes: the first reads tags from DRAM (elements 0..) and writes them to elements
 * 16 L..; the second reads those and writes 32 L... With that middle region on chip,
 * the intermediates never touch DRAM (DRAM moves exactly the first pass's input and the
 * second pass's output), the run is faster, and the values still arrive. */
static void tag_dma_second(const void *ctx, uint64_t tag, eng_tag_io *io)
{
    const prog *p = ctx;
    eng_tag_single(io, (eng_pattern){(tag + 16) * p->L, p->L, p->L, 1},
                   (eng_pattern){(tag + 32) * p->L, p->L, p->L, 1});
}

/* Two passes of two doubling instructions over 8 tags of 16 elements: rows 0..7 -> rows
 * 16..23 -> rows 32..39 of the image (two[] holds the phases). */
static void doubling_passes(prog *p, eng_phase two[2])
{
    build(p, 16, 1, 8);
    for (int i = 0; i < 2; i++)
        p->instr[i].op = ENG_OP_KERNEL, p->instr[i].kernel = kern_double;
    two[0] = two[1] = p->phase;
    two[1].tag_dma = tag_dma_second;
    p->program.phases = two;
    p->program.n_phases = 2;
}

START_TEST(test_onchip_intermediates)
{
    arch_desc a;
    char err[512];
    load_tiny(&a);
    prog p;
    eng_stats via_dram, on_chip;
    for (int k = 0; k < 2; k++) {
        eng_phase two[2];
        doubling_passes(&p, two);
        p.program.onchip_first = k ? 16 * 16 : 0;
        p.program.onchip_elems = k ? 16 * 16 : 0;
        float *image = calloc(96 * 16, sizeof *image);
        for (uint32_t j = 0; j < 8 * 16; j++)
            image[j] = (float)(j % 16) / 16.0f;
        eng_stats *st = k ? &on_chip : &via_dram;
        ck_assert_msg(eng_run(&a, &p.program, image, st, err, sizeof err) == 0, "%s", err);
        /* two passes of two doubling instructions: 16 x */
        for (uint32_t j = 0; j < 8 * 16; j++)
            ck_assert_float_eq(image[32 * 16 + j], 16.0f * (float)(j % 16) / 16.0f);
        free(image);
    }
    uint64_t bytes = 8 * 16 * 2; /* 8 tags of 16 FP16 elements, with 4-byte bursts */
    ck_assert_uint_eq(via_dram.dram.read_bytes, 2 * bytes + 4 * 2 * 16 * 2);
    ck_assert_uint_eq(on_chip.dram.read_bytes, bytes + 4 * 2 * 16 * 2);
    ck_assert_uint_eq(via_dram.dram.write_bytes, 2 * bytes);
    ck_assert_uint_eq(on_chip.dram.write_bytes, bytes);
    ck_assert_uint_lt(on_chip.cycles, via_dram.cycles);
    ck_assert_uint_gt(on_chip.spm.reads, via_dram.spm.reads);
    eng_stats_free(&via_dram);
    eng_stats_free(&on_chip);
}
END_TEST

/* Weight staging buffers: with one, the second instruction's configuration waits for the
 * first's to leave its buffer, so the run takes more cycles than with two (the default,
 * 0; 257 against 245 when written); more than ENG_STAGE_MAX is refused. */
START_TEST(test_stage_slots)
{
    arch_desc a;
    char err[512];
    load_tiny(&a);
    prog p;
    eng_stats st[3];
    uint32_t slots[3] = {1, 0, 2};
    for (int k = 0; k < 3; k++) {
        build(&p, 16, 1, 4);
        p.phase.stage_slots = slots[k];
        ck_assert_msg(eng_run(&a, &p.program, NULL, &st[k], err, sizeof err) == 0, "%s", err);
    }
    ck_assert_uint_gt(st[0].cycles, st[1].cycles);
    ck_assert_uint_eq(st[1].cycles, st[2].cycles);
    for (int k = 0; k < 3; k++)
        eng_stats_free(&st[k]);
    build(&p, 16, 1, 4);
    p.phase.stage_slots = ENG_STAGE_MAX + 1;
    expect_refused(&a, &p.program, "weight staging buffers");
}
END_TEST

/* The tiny array with room for two phases' instructions on each PE. */
static void load_tiny_for_two(arch_desc *a)
{
    load_tiny(a);
    a->pe.istore = 2;
    a->pe.buffer_bytes = 4096;
}

/* Runs the doubling passes (functional): the output rows must be 16 x the input, whatever
 * the intermediate rows held before (NaN here: a consumer reading a row before its
 * producer stored it would carry it to the output). */
static void run_doubling(const arch_desc *a, const eng_program *program, eng_stats *st)
{
    char err[512];
    float *image = calloc(96 * 16, sizeof *image);
    for (uint32_t j = 0; j < 8 * 16; j++)
        image[j] = (float)(j % 16) / 16.0f, image[16 * 16 + j] = NAN;
    ck_assert_msg(eng_run(a, program, image, st, err, sizeof err) == 0, "%s", err);
    for (uint32_t j = 0; j < 8 * 16; j++)
        ck_assert_float_eq(image[32 * 16 + j], 16.0f * (float)(j % 16) / 16.0f);
    free(image);
}

/* Weights the program keeps: both passes configure the same two instructions, so with
 * their weights (elements 48 x 16 .. 52 x 16) kept, the second pass reads them from the
 * SPM: DRAM reads drop by exactly one load of both (2 x 32 FP16 elements), the values are
 * the same, and the estimate counts the same DRAM bytes as the engine either way. */
START_TEST(test_kept_weights)
{
    arch_desc a;
    char err[512];
    load_tiny(&a);
    prog p;
    eng_stats st[2];
    eng_estimate_total est[2];
    for (int k = 0; k < 2; k++) {
        eng_phase two[2];
        doubling_passes(&p, two);
        p.program.kept_first = k ? 48 * 16 : 0;
        p.program.kept_elems = k ? 4 * 16 : 0;
        run_doubling(&a, &p.program, &st[k]);
        ck_assert(eng_estimate(&a, &p.program, NULL, &est[k], err, sizeof err) == 0);
        ck_assert_uint_eq(est[k].dram_read_bytes, st[k].dram.read_bytes);
    }
    ck_assert_uint_eq(st[1].dram.read_bytes, st[0].dram.read_bytes - 2 * 32 * 2);
    ck_assert_uint_eq(st[1].dram.write_bytes, st[0].dram.write_bytes);
    ck_assert_uint_gt(st[1].spm.reads, st[0].spm.reads);
    ck_assert_uint_le(st[1].cycles, st[0].cycles);
    ck_assert_uint_eq(st[1].pe_total.configs, st[0].pe_total.configs);
    eng_stats_free(&st[0]);
    eng_stats_free(&st[1]);
    /* kept weights must lie in the image and fit the SPM */
    eng_phase two[2];
    doubling_passes(&p, two);
    p.program.kept_first = 90 * 16, p.program.kept_elems = 8 * 16;
    expect_refused(&a, &p.program, "kept weights");
    p.program.kept_first = 0, p.program.kept_elems = 96 * 16;
    a.spm.banks = 1, a.spm.bank_bytes = 64;
    expect_refused(&a, &p.program, "kept weights");
}
END_TEST

/* A chained phase runs beside its producer: the same values, in fewer cycles than the
 * two one after the other but never fewer than either alone; through a FIFO ring the
 * intermediate rows never touch DRAM (the DRAM bytes of test_onchip_intermediates'
 * on-chip run: 8 x 16 FP16 elements each way plus 4 x 2 x 16 of weights, in 4-byte
 * bursts). The two phases share each PE's store: two entries each. */
START_TEST(test_chained_phases)
{
    arch_desc a;
    char err[512];
    load_tiny_for_two(&a);
    prog p;
    eng_phase two[2];
    doubling_passes(&p, two);
    eng_stats apart, alone[2], chained, ring;
    run_doubling(&a, &p.program, &apart);
    for (int k = 0; k < 2; k++) {
        eng_program one = p.program;
        one.phases = &two[k], one.n_phases = 1;
        ck_assert_int_eq(eng_run(&a, &one, NULL, &alone[k], err, sizeof err), 0);
    }
    ck_assert_uint_eq(apart.cycles, alone[0].cycles + alone[1].cycles);
    two[1].chained = true;
    run_doubling(&a, &p.program, &chained);
    ck_assert_uint_lt(chained.cycles, apart.cycles);
    ck_assert_uint_ge(chained.cycles, alone[0].cycles);
    ck_assert_uint_ge(chained.cycles, alone[1].cycles);
    ck_assert_uint_eq(chained.lane_ops, apart.lane_ops);
    ck_assert_uint_eq(chained.dram.read_bytes, apart.dram.read_bytes);
    ck_assert_uint_eq(chained.tags, 16);
    two[1].fifo_tags = 2, two[1].fifo_first = 16 * 16, two[1].fifo_elems = 8 * 16;
    run_doubling(&a, &p.program, &ring);
    uint64_t bytes = 8 * 16 * 2;
    ck_assert_uint_eq(ring.dram.read_bytes, bytes + 4 * 2 * 16 * 2);
    ck_assert_uint_eq(ring.dram.write_bytes, bytes);
    ck_assert_uint_eq(chained.dram.write_bytes, 2 * bytes);
    ck_assert_uint_le(ring.cycles, chained.cycles);
    /* the estimate sees the overlap too: below the phases' sum */
    eng_estimate_total est_apart, est_ring;
    eng_phase seq[2] = {two[0], two[1]};
    seq[1].chained = false, seq[1].fifo_tags = 0, seq[1].fifo_elems = seq[1].fifo_first = 0;
    p.program.phases = seq;
    ck_assert_int_eq(eng_estimate(&a, &p.program, NULL, &est_apart, err, sizeof err), 0);
    p.program.phases = two;
    ck_assert_int_eq(eng_estimate(&a, &p.program, NULL, &est_ring, err, sizeof err), 0);
    ck_assert_uint_lt(est_ring.cycles, est_apart.cycles);
    ck_assert_uint_eq(est_ring.dram_write_bytes, bytes);
    eng_stats *all[] = {&apart, &alone[0], &alone[1], &chained, &ring};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        eng_stats_free(all[k]);
}
END_TEST

/* Rows 16..23 in place: a tag reads and writes the same rows. */
static void tag_dma_inplace(const void *ctx, uint64_t tag, eng_tag_io *io)
{
    const prog *p = ctx;
    eng_pattern rows = {(tag + 16) * p->L, p->L, p->L, 1};
    eng_tag_single(io, rows, rows);
}

/* A FIFO ring serves its two ends only, the producer's stores and the consumer's loads,
 * in the engine as in the estimate. Over rows 16..23 (the ring's tensor) of the chained
 * doubling passes: a consumer storing in place writes DRAM (the rows read 16 x), and a
 * producer reading in place reads DRAM. Either way DRAM moves 8 x 16 FP16 elements each
 * way plus 4 x 2 x 16 of weights (test_chained_phases' ring run), and the estimate
 * counts the same bytes. */
START_TEST(test_ring_serves_its_ends)
{
    arch_desc a;
    char err[512];
    load_tiny_for_two(&a);
    uint64_t bytes = 8 * 16 * 2, weights = 4 * 2 * 16 * 2;
    for (int producer_in_place = 0; producer_in_place < 2; producer_in_place++) {
        prog p;
        eng_phase two[2];
        doubling_passes(&p, two);
        two[1].chained = true;
        two[1].fifo_tags = 2, two[1].fifo_first = 16 * 16, two[1].fifo_elems = 8 * 16;
        (producer_in_place ? &two[0] : &two[1])->tag_dma = tag_dma_inplace;
        float *image = calloc(96 * 16, sizeof *image);
        uint32_t from = producer_in_place ? 16 * 16 : 0, to = producer_in_place ? 32 * 16 : 16 * 16;
        for (uint32_t j = 0; j < 8 * 16; j++)
            image[from + j] = (float)(j % 16) / 16.0f;
        eng_stats st;
        ck_assert_msg(eng_run(&a, &p.program, image, &st, err, sizeof err) == 0, "%s", err);
        for (uint32_t j = 0; j < 8 * 16; j++)
            ck_assert_float_eq(image[to + j], 16.0f * (float)(j % 16) / 16.0f);
        free(image);
        ck_assert_uint_eq(st.dram.read_bytes, bytes + weights);
        ck_assert_uint_eq(st.dram.write_bytes, bytes);
        eng_estimate_total est;
        ck_assert_int_eq(eng_estimate(&a, &p.program, NULL, &est, err, sizeof err), 0);
        ck_assert_uint_eq(est.dram_read_bytes, bytes + weights);
        ck_assert_uint_eq(est.dram_write_bytes, bytes);
        eng_stats_free(&st);
    }
}
END_TEST

/* Chaining that cannot work is refused before anything runs. */
START_TEST(test_chaining_errors)
{
    arch_desc a;
    load_tiny_for_two(&a);
    prog p;
    eng_phase two[2];
    doubling_passes(&p, two);
    two[0].chained = true;
    expect_refused(&a, &p.program, "phase 0 is chained, but no phase precedes it");
    doubling_passes(&p, two);
    two[1].chained = true, two[1].repeats = 2;
    expect_refused(&a, &p.program, "must stream its tags once (repeats 2");
    doubling_passes(&p, two);
    two[1].chained = true, two[1].fifo_tags = 1, two[1].fifo_first = 256, two[1].fifo_elems = 128;
    expect_refused(&a, &p.program,
                   "a FIFO ring of 1 producer tags cannot hold what one of its tags "
                   "reads plus one (2)");
    two[1].fifo_tags = 2, two[1].fifo_first = 96 * 16 - 64;
    expect_refused(&a, &p.program, "must lie in the image");
    /* a ring of 2 x 16 elements from element 248: tag 1's output (272..287) starts at
     * ring position 24 and would run 8 elements past its end */
    two[1].fifo_first = 248, two[1].fifo_elems = 136;
    expect_refused(&a, &p.program,
                   "phase 0: producer tag 1's output (elements 272..287) wraps around the FIFO "
                   "ring of 32 elements over elements 248..383");
    /* a tensor from element 264: tag 0's output (256..271) is half in it */
    two[1].fifo_first = 264, two[1].fifo_elems = 120;
    expect_refused(&a, &p.program,
                   "phase 0: producer tag 0's output (elements 256..271) lies partly outside "
                   "the FIFO ring of 32 elements over elements 264..383");
    doubling_passes(&p, two);
    two[1].fifo_tags = 2, two[1].fifo_first = 256, two[1].fifo_elems = 128;
    expect_refused(&a, &p.program, "phase 1 has a FIFO ring but is not chained");
    /* two phases on the same PEs need two store entries each PE */
    a.pe.istore = 1;
    doubling_passes(&p, two);
    two[1].chained = true;
    expect_refused(&a, &p.program,
                   "chained phases up to 1: PE 0 needs 2 instruction-store entries");
}
END_TEST

/* Streamed weights: the same two butterfly instructions with their weights (32 elements
 * each) resident, then streamed in 2 and 4 parts per tag over 8 tags. Streaming moves the
 * same values (bit for bit: each tag's parts carry the weights the resident run loads
 * once), reads every weight again for every tag (DRAM reads grow by exactly 7 more loads
 * of 2 x 32 FP16 elements, 4-byte bursts), writes them into the PE buffers 8 times, and
 * cannot be faster. Kept in the SPM, the streamed weights come from DRAM once: the DRAM
 * reads fall back to the resident run's. A streamed instruction holds two parts in its
 * buffer, not all its weights. */
START_TEST(test_streamed_weights)
{
    arch_desc a;
    char err[512];
    load_tiny(&a);
    const uint32_t T = 8;
    eng_stats st[3];
    float *out[3];
    for (int k = 0; k < 3; k++) {
        prog p;
        build(&p, 16, 1, T);
        if (k) {
            p.instr[0].weight_parts = 2;
            p.instr[1].weight_parts = 4;
        }
        if (k == 2)
            p.program.kept_first = 48 * 16, p.program.kept_elems = 4 * 16;
        float *image = calloc(96 * 16, sizeof *image);
        for (uint32_t j = 0; j < T * 16; j++)
            image[j] = (float)(j % 13) / 8.0f;
        for (uint32_t j = 48 * 16; j < 52 * 16; j++)
            image[j] = (float)(j % 7) / 4.0f - 0.75f;
        ck_assert_msg(eng_run(&a, &p.program, image, &st[k], err, sizeof err) == 0, "%s", err);
        out[k] = image;
        eng_estimate_total est;
        ck_assert(eng_estimate(&a, &p.program, NULL, &est, err, sizeof err) == 0);
        ck_assert_uint_eq(est.dram_read_bytes, st[k].dram.read_bytes);
    }
    bool nonzero = false;
    for (uint32_t j = 16 * 16; j < (16 + T) * 16; j++) {
        ck_assert_float_eq(out[1][j], out[0][j]);
        ck_assert_float_eq(out[2][j], out[0][j]);
        nonzero |= out[0][j] != 0.0f;
    }
    ck_assert(nonzero);
    ck_assert_uint_eq(st[1].dram.read_bytes, st[0].dram.read_bytes + (T - 1) * 2 * 32 * 2);
    ck_assert_uint_eq(st[2].dram.read_bytes, st[0].dram.read_bytes);
    ck_assert_uint_eq(st[1].pe[0].weight_elems, T * 32);
    ck_assert_uint_eq(st[1].pe[1].weight_elems, T * 32);
    ck_assert_uint_eq(st[0].pe[1].weight_elems, 32);
    ck_assert_uint_ge(st[1].cycles, st[0].cycles);
    /* the MAC work is the same, split over the steps */
    ck_assert_uint_eq(st[1].pe[1].fu_busy[ARCH_FU_MAC], st[0].pe[1].fu_busy[ARCH_FU_MAC]);
    for (int k = 0; k < 3; k++) {
        eng_stats_free(&st[k]);
        free(out[k]);
    }
    /* buffers: 2 tags x 16 operands + 32 weights do not fit 96 bytes; two parts of 8 do */
    prog p;
    build(&p, 16, 1, T);
    a.pe.buffer_bytes = (2 * 16 + 16) * 2;
    expect_refused(&a, &p.program, "buffer");
    p.instr[0].weight_parts = p.instr[1].weight_parts = 4;
    ck_assert_msg(eng_validate(&a, &p.program, err, sizeof err) == 0, "%s", err);
    /* parts must divide the weights */
    p.instr[1].weight_parts = 3;
    expect_refused(&a, &p.program, "streamed weights of instruction 1 are malformed");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 60); /* a hang guard for loaded machines, not a speed target */
    tcase_add_test(tc, test_program_runs);
    tcase_add_test(tc, test_tag_in_parts);
    tcase_add_test(tc, test_kernel_instructions);
    tcase_add_test(tc, test_onchip_intermediates);
    tcase_add_test(tc, test_chained_phases);
    tcase_add_test(tc, test_chaining_errors);
    tcase_add_test(tc, test_ring_serves_its_ends);
    tcase_add_test(tc, test_messages_serialise_on_links);
    tcase_add_test(tc, test_credits_limit_overlap);
    tcase_add_test(tc, test_validation_errors);
    tcase_add_test(tc, test_noc_link_contention);
    tcase_add_test(tc, test_noc_skip_links);
    tcase_add_test(tc, test_spm_bank_conflicts);
    tcase_add_test(tc, test_function_unit_occupancy);
    tcase_add_test(tc, test_kept_weights);
    tcase_add_test(tc, test_streamed_weights);
    tcase_add_test(tc, test_stage_slots);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
