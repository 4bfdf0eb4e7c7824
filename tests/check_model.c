/* check_model.c: model configs, closed-form op counts, functional model runs, bounds, determinism.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/config/config.h"
#include "../sim/gpu/gpu.h"
#include "../sim/ref/ref.h"
#include "../sim/run/run.h"
#include "../sim/workload/workload.h"
#include "testutil.h"

#define ARCH "arch/mld-4x4.cfg"
#define TINY_MODEL                                                                                 \
    "kind = \"model\";\n"                                                                          \
    "seq_len = 16;\n"                                                                              \
    "hidden = 16;\n"                                                                               \
    "heads = 2;\n"                                                                                 \
    "ffn = 32;\n"                                                                                  \
    "dtype = \"fp16\";\n"                                                                          \
    "blocks = (\n"                                                                                 \
    "  { mixer = \"attention\"; proj = \"dense\"; ffn = \"dense\"; }\n"                            \
    ");\n"

/* Runs bflysim on ARCH and a model file with `old` replaced by `new_text`, and returns
 * the result; the model file is written to path. */
static void run_edited(tu_result *r, char *path, size_t len, const char *old, const char *new_text,
                       const char *extra)
{
    char arch[512];
    char *edited = tu_replace(TINY_MODEL, old, new_text);
    tu_write(tu_tmp(path, len, "model.cfg"), edited);
    if (extra)
        tu_run(r, "-q", extra, tu_src(arch, sizeof arch, ARCH), path, NULL);
    else
        tu_run(r, "-q", tu_src(arch, sizeof arch, ARCH), path, NULL);
    free(edited);
}

/* A config error: exit 2, "bflysim: FILE:LINE: " with the line of new_text, and phrases. */
static void expect_error(const char *old, const char *new_text, const char *phrase1,
                         const char *phrase2)
{
    char path[512], prefix[600];
    tu_result r;
    run_edited(&r, path, sizeof path, old, new_text, NULL);
    char *edited = tu_replace(TINY_MODEL, old, new_text);
    int line = tu_line_of(edited, new_text);
    free(edited);
    snprintf(prefix, sizeof prefix, "bflysim: %s:%d: ", path, line);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strncmp(r.err, prefix, strlen(prefix)) == 0, "expected '%s' at the start of: %s",
                  prefix, r.err);
    ck_assert_msg(strstr(r.err, phrase1), "'%s' missing from: %s", phrase1, r.err);
    if (phrase2)
        ck_assert_msg(strstr(r.err, phrase2), "'%s' missing from: %s", phrase2, r.err);
    tu_free(&r);
    remove(path);
}

START_TEST(test_model_config_errors)
{
    expect_error("heads = 2;", "heads = 3;", "heads = 3 does not divide hidden = 16", NULL);
    expect_error("mixer = \"attention\"", "mixr = \"attention\"", "unknown key 'blocks[0].mixr'",
                 "did you mean 'blocks[0].mixer'?");
    expect_error("mixer = \"attention\"", "mixer = \"atention\"", "\"atention\" is not allowed",
                 "did you mean \"attention\"?");
    expect_error("proj = \"dense\"", "proj = \"none\"", "proj = \"none\" is not allowed",
                 "mixer = \"attention\"");
    expect_error("ffn = \"dense\"; }", "ffn = \"block-butterfly\"; block_size = 16; }",
                 "block_size = 16 leaves no butterfly stage", "allowed 1..8");
    expect_error("ffn = \"dense\"; }", "ffn = \"dense\"; block_size = 6; }",
                 "block_size = 6 must be a power of two", NULL);
    expect_error("mixer = \"attention\"", "mixer = \"fft-compress\"; chunk = 32",
                 "chunk = 32 exceeds seq_len = 16", NULL);
    expect_error("mixer = \"attention\"", "mixer = \"fft-compress\"; keep = 1.5",
                 "keep = 1.5 is out of range", NULL);
    expect_error("  { mixer = \"attention\"; proj = \"dense\"; ffn = \"dense\"; }\n", "  5\n",
                 "wrong type: expected a group", NULL);
    expect_error("seq_len = 16;", "seq_len = 0;", "seq_len = 0 is out of range", NULL);
    expect_error("hidden = 16;", "hidden = \"wide\";", "wrong type", NULL);
    /* a decode step: new_tokens and kv_len instead of seq_len */
    expect_error("seq_len = 16;", "seq_len = 16; new_tokens = 2;",
                 "new_tokens = 2 and seq_len = 16: give seq_len", "not both");
    expect_error("seq_len = 16;", "seq_len = 16; kv_len = 8;", "kv_len = 8 needs new_tokens", NULL);
    expect_error("seq_len = 16;", "new_tokens = 1; kv_len = 8; batch = 2;",
                 "batch = 2: a decode step runs one sequence", "allowed: 1");
    /* (a Fourier mixer needs the whole sequence: named at the override that set it) */
    char path[512];
    tu_result r;
    run_edited(&r, path, sizeof path, "seq_len = 16;", "new_tokens = 1; kv_len = 8;",
               "--set=workload.blocks.0.mixer=fft");
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "bflysim: --set workload.blocks.0.mixer=fft: blocks[0].mixer = "
                                "\"fft\" cannot run a decode step"),
                  "%s", r.err);
    tu_free(&r);
    remove(path);
}
END_TEST

START_TEST(test_model_missing_and_empty)
{
    char path[512];
    tu_result r;
    /* a block without its mixer: reported at the block's line */
    run_edited(&r, path, sizeof path, "mixer = \"attention\"; ", "", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, ":8: missing required key 'blocks[0].mixer'"));
    tu_free(&r);
    run_edited(&r, path, sizeof path,
               "  { mixer = \"attention\"; proj = \"dense\"; ffn = \"dense\"; }\n", "", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "blocks has 0 entries (allowed 1..16)"));
    tu_free(&r);
    remove(path);
}
END_TEST

START_TEST(test_model_set_overrides)
{
    char path[512];
    tu_result r;
    run_edited(&r, path, sizeof path, "dtype = \"fp16\";", "dtype = \"fp16\";",
               "--set=workload.blocks.0.mixer=fft");
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    /* the override took effect: the block now mixes with an FFT */
    char arch[512];
    tu_run(&r, "--no-fuse", "--set=workload.blocks.0.mixer=fft", tu_src(arch, sizeof arch, ARCH),
           path, NULL);
    ck_assert_ptr_nonnull(strstr(r.out, "mixer fft"));
    ck_assert_ptr_nonnull(strstr(r.out, "fft-mix"));
    tu_free(&r);
    run_edited(&r, path, sizeof path, "dtype = \"fp16\";", "dtype = \"fp16\";",
               "--set=workload.blocks.3.mixer=fft");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "is a list of 1 groups; set 'workload.blocks.INDEX.KEY' "
                                        "with INDEX 0..0"));
    tu_free(&r);
    run_edited(&r, path, sizeof path, "dtype = \"fp16\";", "dtype = \"fp16\";",
               "--set=workload.blocks.0.mixer=conv");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--set workload.blocks.0.mixer=conv"));
    tu_free(&r);
    remove(path);
}
END_TEST

/* ---------------------------------------------------------------- op counts */

static wl_desc model(uint64_t N, uint64_t H, uint64_t heads, uint64_t F, uint64_t batch,
                     wl_mixer mix, wl_linear proj, wl_linear ffn, uint64_t bs)
{
    wl_desc d;
    memset(&d, 0, sizeof d);
    d.kind = WL_KIND_MODEL;
    d.seq_len = N, d.hidden = H, d.heads = heads, d.ffn = F, d.batch = batch;
    d.dtype = UTIL_FP16;
    d.seed = 1;
    d.n_blocks = 1;
    d.blocks[0] = (wl_block){1, mix, proj, ffn, bs, 64, 0.5};
    return d;
}

static const wl_op *find(const wl_op *ops, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    ck_abort_msg("no op %s", name);
    return NULL;
}

/* The closed forms, written out with the numbers of BERT-base at 4K tokens. */
START_TEST(test_op_counts_dense)
{
    wl_desc d = model(4096, 768, 12, 3072, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    wl_op ops[WL_MAX_BLOCK_OPS];
    uint32_t n = wl_block_ops(&d, 0, ops);
    ck_assert_uint_eq(n, 14);
    /* QK^T and PV: N^2 d_head multiply-adds per head: 12 x 4096^2 x 64 */
    ck_assert_uint_eq(find(ops, n, "scores")->macs, UINT64_C(12884901888));
    ck_assert_uint_eq(find(ops, n, "context")->macs, UINT64_C(12884901888));
    /* a projection: tokens x hidden x hidden = 4096 x 768 x 768 */
    ck_assert_uint_eq(find(ops, n, "q-proj")->macs, UINT64_C(2415919104));
    ck_assert_uint_eq(find(ops, n, "q-proj")->flops, UINT64_C(4831838208));
    ck_assert_uint_eq(find(ops, n, "ffn1")->macs, UINT64_C(9663676416));
    ck_assert_uint_eq(find(ops, n, "ffn1")->weights, 768 * 3072);
    /* softmax: 5 flops on each of the 12 x 4096^2 scores */
    ck_assert_uint_eq(find(ops, n, "softmax")->flops, UINT64_C(1006632960));
    wl_totals t;
    wl_model_totals(&d, &t);
    /* 4 projections + 2 FFN layers + QK^T + PV */
    ck_assert_uint_eq(t.macs, 4 * UINT64_C(2415919104) + 2 * UINT64_C(9663676416) +
                                  2 * UINT64_C(12884901888));
}
END_TEST

START_TEST(test_op_counts_butterfly)
{
    /* hidden 768 pads to a 1024-point butterfly: 2 n log2 n = 20480 multiplies per vector */
    wl_desc d = model(4096, 768, 12, 3072, 1, WL_MIX_FFT, WL_LIN_BUTTERFLY, WL_LIN_BUTTERFLY, 1);
    wl_op ops[WL_MAX_BLOCK_OPS];
    uint32_t n = wl_block_ops(&d, 0, ops);
    const wl_op *o = find(ops, n, "o-proj");
    ck_assert_uint_eq(o->n, 1024);
    ck_assert_uint_eq(o->macs, UINT64_C(4096) * 20480);
    ck_assert_uint_eq(o->flops, UINT64_C(4096) * 30720); /* 6 flops per pair: 3 n log2 n */
    ck_assert_uint_eq(o->weights, 2 * 1024 * 10);
    /* FFN 768 -> 3072 is a 4096-point butterfly: 2 x 4096 x 12 per vector */
    ck_assert_uint_eq(find(ops, n, "ffn1")->macs, UINT64_C(4096) * 98304);
    /* Fourier mixing: 5 n log2 n per FFT: 4096 rows of 1024 points, 768 columns of 4096 */
    ck_assert_uint_eq(find(ops, n, "mix")->flops,
                      UINT64_C(4096) * 5 * 1024 * 10 + UINT64_C(768) * 5 * 4096 * 12);
    /* block butterfly, tile 8 on 1024: 2 n B log2(n/B) = 2 x 1024 x 8 x 7 per vector */
    d.blocks[0].proj = WL_LIN_BLOCK_BUTTERFLY;
    d.blocks[0].block_size = 8;
    n = wl_block_ops(&d, 0, ops);
    ck_assert_uint_eq(find(ops, n, "o-proj")->macs, UINT64_C(4096) * 114688);
    /* butterfly along the sequence: per feature column 2 x 4096 x 12 */
    d.blocks[0].mixer = WL_MIX_BUTTERFLY;
    n = wl_block_ops(&d, 0, ops);
    ck_assert_uint_eq(find(ops, n, "mix")->macs, UINT64_C(768) * 98304);
    /* fft-compress, chunks of 64: sequence FFTs cost 5 n log2 64 */
    d.blocks[0].mixer = WL_MIX_FFT_COMPRESS;
    n = wl_block_ops(&d, 0, ops);
    ck_assert_uint_eq(find(ops, n, "mix")->flops,
                      UINT64_C(4096) * 5 * 1024 * 10 + UINT64_C(768) * 5 * 4096 * 6);
}
END_TEST

START_TEST(test_reduction_against_dense)
{
    /* a dense model is its own counterpart; a FABNet-style one is far cheaper */
    wl_desc d = model(4096, 768, 12, 3072, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    wl_desc dense;
    wl_dense_counterpart(&d, &dense);
    wl_totals a, b;
    wl_model_totals(&d, &a);
    wl_model_totals(&dense, &b);
    ck_assert_uint_eq(a.flops, b.flops);
    d.blocks[0] = (wl_block){1, WL_MIX_FFT, WL_LIN_BUTTERFLY, WL_LIN_BUTTERFLY, 1, 64, 0.5};
    wl_dense_counterpart(&d, &dense);
    wl_model_totals(&d, &a);
    wl_model_totals(&dense, &b);
    ck_assert_uint_eq(b.macs, 4 * UINT64_C(2415919104) + 2 * UINT64_C(9663676416) +
                                  2 * UINT64_C(12884901888));
    ck_assert(b.flops > 10 * a.flops);
}
END_TEST

/* ---------------------------------------------------------------- functional runs */

/* A functional run on array a (under the forced entries, if any) passes, and fails with
 * a planted fault; the passing run is left in *r (run_free it). */
static void functional_run(const arch_desc *a, const char *arch_rel, wl_desc *d,
                           const map_forced *forced, run_result *r)
{
    char err[512];
    run_result bad;
    ck_assert_msg(run_model(a, d, forced, true, NULL, NULL, r, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(r->check.pass, "%s on %s: max error %g > tolerance %g", d->name, arch_rel,
                  r->check.max_abs_err, r->check.tolerance);
    /* every block instance is checked */
    uint64_t instances = 0;
    for (uint32_t b = 0; b < d->n_blocks; b++)
        instances += d->blocks[b].repeat;
    ck_assert_uint_eq(r->check.count, instances * d->batch * d->seq_len * d->hidden);
    ck_assert_uint_lt(r->check.instance, instances);
    /* the check is live: a planted wrong weight fails it */
    ck_assert_msg(run_model(a, d, forced, true, "", NULL, &bad, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(!bad.check.pass, "%s: a planted fault went unnoticed", d->name);
    run_free(&bad);
}

/* functional_run; returns the first block's mapping of op `name` in desc (when
 * non-NULL). */
static void functional_forced(const arch_desc *a, const char *arch_rel, wl_desc *d,
                              const map_forced *forced, const char *name, char *desc, size_t len)
{
    run_result r;
    functional_run(a, arch_rel, d, forced, &r);
    for (uint32_t i = 0; name && i < r.blocks[0].n_ops; i++)
        if (strcmp(r.blocks[0].ops[i].op.name, name) == 0)
            snprintf(desc, len, "%s", r.blocks[0].ops[i].desc);
    run_free(&r);
}

static void functional_on(const arch_desc *a, const char *arch_rel, wl_desc *d, const char *name,
                          char *desc, size_t len)
{
    functional_forced(a, arch_rel, d, NULL, name, desc, len);
}

static void functional(const char *arch_rel, wl_desc *d)
{
    arch_desc a;
    tu_load_arch(arch_rel, &a);
    functional_on(&a, arch_rel, d, NULL, NULL, 0);
}

/* A mapping that names block 0's softmax, which keeps its attention unfused. */
static const map_forced *unfused(void)
{
    static map_forced f;
    f.n = 1;
    f.f[0] = (map_force){.block = 0, .op = "softmax", .where = "test"};
    return &f;
}

/* Rows too long for a one-pass softmax on a PE buffer of 512 bytes (256 FP16 elements):
 * one pass over 16 segments of 16 needs 4 tags x (3 x 16 + 4 + 2 x 17) = 344 elements;
 * the statistics pass needs 4 x (16 + 2 + 34) = 208 and the scaling pass 4 x 18. */
START_TEST(test_functional_long_rows)
{
    arch_desc a;
    tu_load_arch("arch/mld-4x4.cfg", &a);
    a.pe.buffer_bytes = 512;
    wl_desc d = model(256, 16, 2, 32, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    snprintf(d.name, sizeof d.name, "long rows");
    char desc[MAP_DESC_MAX] = "";
    functional_forced(&a, "mld-4x4 with 512-byte PE buffers", &d, unfused(), "softmax", desc,
                      sizeof desc);
    ck_assert_msg(strstr(desc, "two passes"), "one-pass softmax: %s", desc);
    d.mask = WL_MASK_CAUSAL;
    d.dtype = UTIL_FP32;
    a.pe.buffer_bytes = 1024; /* the same element budget in FP32 */
    functional_forced(&a, "mld-4x4 with 1024-byte PE buffers", &d, unfused(), "softmax", desc,
                      sizeof desc);
    ck_assert_msg(strstr(desc, "two passes"), "one-pass softmax: %s", desc);
}
END_TEST

/* A mapping that fuses block 0's attention, optionally with a fixed plan. */
static const map_forced *fused(uint32_t chain_pes, uint32_t rows_per_tag)
{
    static map_forced f;
    f.n = 1;
    f.f[0] = (map_force){.block = 0,
                         .op = "attention",
                         .chain_pes = chain_pes,
                         .rows_per_tag = rows_per_tag,
                         .where = "test"};
    return &f;
}

/* Fused attention (online softmax on PE chains) matches the reference: in one pass; in
 * passes over key ranges with the state carried through DRAM (PE buffers of 512 bytes
 * hold 3 keys of 16 features beside 4 tags of one row: 4 x (2 x 16 + 2 + 3) + 3 x 32 =
 * 244 of 256 elements, so chains of 4 cover 12 keys and 40 keys take 4 passes); with a
 * causal mask, where whole key ranges are masked for the first queries; over two batch
 * items; and with rows that do not fill the last tag. */
START_TEST(test_functional_fused_attention)
{
    arch_desc a;
    tu_load_arch("arch/mld-4x4.cfg", &a);
    wl_desc d = model(40, 32, 2, 64, 2, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    snprintf(d.name, sizeof d.name, "fused");
    char desc[MAP_DESC_MAX] = "";
    functional_forced(&a, "arch/mld-4x4.cfg", &d, fused(0, 0), "attention", desc, sizeof desc);
    ck_assert_msg(strstr(desc, "fused attention") && strstr(desc, "1 pass,"), "%s", desc);
    functional_forced(&a, "arch/mld-4x4.cfg", &d, fused(2, 8), "attention", desc, sizeof desc);
    ck_assert_msg(strstr(desc, "2 PEs, 8 rows per tag"), "%s", desc);
    d.mask = WL_MASK_CAUSAL;
    a.pe.buffer_bytes = 512;
    functional_forced(&a, "mld-4x4 with 512-byte PE buffers", &d, fused(4, 1), "attention", desc,
                      sizeof desc);
    ck_assert_msg(strstr(desc, "3 keys per PE, 4 passes"), "%s", desc);
    d.dtype = UTIL_FP32;
    a.pe.buffer_bytes = 1024; /* the same element budget in FP32 */
    functional_forced(&a, "mld-4x4 with 1024-byte PE buffers", &d, fused(4, 1), "attention", desc,
                      sizeof desc);
    ck_assert_msg(strstr(desc, "4 passes"), "%s", desc);
}
END_TEST

/* A decode step: new tokens against a seeded K/V cache (wl_kv_cache), whose values the
 * reference and the engine's image both hold. The check compares the array's output with
 * attention over [cache; new] keys, so an engine that ignored the cache, or put the new
 * keys elsewhere, or masked the cache, would fail it (the cache is random: nothing else
 * gives the same output). Fused attention (one and several passes over the keys) and the
 * three ops apart, causal and unmasked, one new token and several, on two arrays. */
START_TEST(test_functional_decode)
{
    static const struct {
        const char *arch;
        uint64_t new_tokens, kv_len;
        wl_mask mask;
        bool unfuse;
        uint32_t buffer; /* PE buffer bytes, 0: the arch's */
    } cases[] = {
        {"arch/mld-4x4.cfg", 1, 63, WL_MASK_CAUSAL, false, 0},
        {"arch/mld-4x4.cfg", 5, 40, WL_MASK_CAUSAL, false, 512},
        {"arch/mld-8x8.cfg", 4, 60, WL_MASK_NONE, false, 0},
        {"arch/mld-8x8.cfg", 3, 29, WL_MASK_CAUSAL, true, 0},
        {"arch/mld-4x4.cfg", 2, 0, WL_MASK_CAUSAL, false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        arch_desc a;
        tu_load_arch(cases[i].arch, &a);
        if (cases[i].buffer)
            a.pe.buffer_bytes = cases[i].buffer;
        wl_desc d = model(cases[i].new_tokens, 32, 2, 64, 1, WL_MIX_ATTENTION, WL_LIN_DENSE,
                          WL_LIN_DENSE, 1);
        d.new_tokens = cases[i].new_tokens, d.kv_len = cases[i].kv_len;
        d.mask = cases[i].mask;
        d.blocks[0].repeat = 2; /* each instance its own cache */
        snprintf(d.name, sizeof d.name, "decode case %zu", i);
        char desc[MAP_DESC_MAX] = "";
        functional_forced(&a, cases[i].arch, &d, cases[i].unfuse ? unfused() : NULL,
                          cases[i].unfuse ? "scores" : "attention", desc, sizeof desc);
        ck_assert_msg(strstr(desc, cases[i].unfuse ? "GEMM" : "fused attention"), "%s", desc);
        if (cases[i].buffer)
            ck_assert_msg(!strstr(desc, " 1 pass,"), "one pass over the keys: %s", desc);
    }
}
END_TEST

/* A decode step's counts and traffic, by hand for BERT-base decoding 1 token against a
 * 2,047-token cache (2,048 keys): scores and context are heads x 1 x 2048 x 64 MACs each;
 * attention reads at least the whole K and V cache, 2 x 2048 x 768 x 2 bytes = 6 MiB per
 * block; the GPU reads it too. */
START_TEST(test_decode_counts)
{
    wl_desc d = model(1, 768, 12, 3072, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    d.new_tokens = 1, d.kv_len = 2047;
    wl_op ops[WL_MAX_BLOCK_OPS];
    uint32_t n = wl_block_ops(&d, 0, ops);
    const wl_op *s = find(ops, n, "scores"), *c = find(ops, n, "context");
    ck_assert_uint_eq(s->macs, 12ull * 1 * 2048 * 64);
    ck_assert_uint_eq(c->macs, 12ull * 1 * 2048 * 64);
    ck_assert_uint_eq(s->n, 2048);
    ck_assert_uint_eq(s->nq, 1);
    ck_assert_uint_eq(wl_tensor_elems(&d, WL_T_K), 2048ull * 768);
    ck_assert_uint_eq(wl_tensor_elems(&d, WL_T_S), 12ull * 2048);
    ck_assert_uint_eq(find(ops, n, "ffn1")->macs, 768ull * 3072);
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    run_result r;
    char err[512];
    ck_assert_msg(run_model_analytical(&a, &d, NULL, NULL, &r, err, sizeof err) == 0, "%s", err);
    const run_op *att = NULL;
    for (uint32_t i = 0; i < r.blocks[0].n_ops; i++)
        if (strcmp(r.blocks[0].ops[i].op.name, "attention") == 0)
            att = &r.blocks[0].ops[i];
    ck_assert_ptr_nonnull(att);
    ck_assert_uint_ge(att->dram_read_bytes, 2ull * 2048 * 768 * 2);
    run_free(&r);
    gpu_desc g;
    char path[512];
    ck_assert_msg(cfg_load_gpu(tu_src(path, sizeof path, "arch/gpu/xavier-nx-15w.cfg"), NULL, 0, &g,
                               err, sizeof err) == 0,
                  "%s", err);
    wl_op fa;
    wl_fused_attention(s, &fa);
    gpu_kernel k[GPU_MAX_OP_KERNELS];
    uint32_t nk = gpu_op_kernels(&g, &fa, UTIL_FP16, k);
    double bytes = 0;
    for (uint32_t i = 0; i < nk; i++)
        bytes += k[i].bytes;
    ck_assert_double_ge(bytes, 2.0 * 2048 * 768 * 2);
}
END_TEST

/* Where the mapper fuses attention (its estimate beats the three ops apart), the engine
 * confirms it: fewer cycles and less DRAM traffic than scores, softmax and context
 * apart, for BERT-base shapes at 256 tokens on mld-8x8. The fused op never moves S or P
 * (12 x 256 x 256 x 2 bytes = 1.5 MiB each) but must read Q, K and V and write C
 * (4 x 256 x 768 x 2 bytes). */
START_TEST(test_fused_attention_faster)
{
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    wl_desc d = model(256, 768, 12, 3072, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    char err[512];
    run_result f, s;
    ck_assert_msg(run_model(&a, &d, NULL, false, NULL, NULL, &f, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(run_model(&a, &d, unfused(), false, NULL, NULL, &s, err, sizeof err) == 0, "%s",
                  err);
    uint64_t fc = 0, fd = 0, sc = 0, sd = 0;
    for (uint32_t i = 0; i < f.blocks[0].n_ops; i++) {
        const run_op *o = &f.blocks[0].ops[i];
        if (o->op.kind == WL_OP_ATTENTION)
            fc = o->cycles, fd = o->dram_read_bytes + o->dram_write_bytes;
    }
    for (uint32_t i = 0; i < s.blocks[0].n_ops; i++) {
        const run_op *o = &s.blocks[0].ops[i];
        ck_assert(o->op.kind != WL_OP_ATTENTION);
        if (o->op.kind == WL_OP_SCORES || o->op.kind == WL_OP_SOFTMAX ||
            o->op.kind == WL_OP_CONTEXT)
            sc += o->cycles, sd += o->dram_read_bytes + o->dram_write_bytes;
    }
    ck_assert_msg(fc > 0 && fc < sc, "fused %llu cycles, apart %llu", (unsigned long long)fc,
                  (unsigned long long)sc);
    ck_assert_uint_lt(fd, sd);
    ck_assert_uint_ge(fd, 4ull * 256 * 768 * 2);
    ck_assert_uint_ge(sd, fd + 2ull * 12 * 256 * 256 * 2);
    ck_assert_uint_lt(f.total.cycles, s.total.cycles);
    run_free(&f);
    run_free(&s);
}
END_TEST

/* Chaining (the default): consecutive ops run as producer and consumer side by side.
 * On small blocks of every mixer and linear kind, on two arrays: the values are exactly
 * those of the ops run apart (--no-chain; same maximum error, same planted-fault
 * detection), the cycle-level cycles are never more on these blocks, and strictly fewer
 * on the attention block on mld-4x4; some ops read their producer through an SPM ring.
 * (Not a law, but it held at all 60 points of the wider sweep in BENCHMARKS.md.) */
START_TEST(test_functional_chained)
{
    static const char *arches[] = {"arch/mld-4x4.cfg", "arch/mld-8x8.cfg"};
    const wl_desc shapes[] = {
        model(64, 64, 4, 128, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1),
        model(64, 64, 4, 128, 1, WL_MIX_FFT, WL_LIN_BUTTERFLY, WL_LIN_BUTTERFLY, 1),
        model(64, 64, 4, 128, 1, WL_MIX_BUTTERFLY, WL_LIN_NONE, WL_LIN_BLOCK_BUTTERFLY, 4),
    };
    /* (chains join ops mapped on their own) */
    map_forced per_op = {.fusing = MAP_FUSE_OFF};
    map_forced unchained = {.chaining = MAP_CHAIN_OFF, .fusing = MAP_FUSE_OFF};
    char err[512];
    bool faster = false, ring = false;
    for (int k = 0; k < 2; k++) {
        arch_desc a;
        tu_load_arch(arches[k], &a);
        for (size_t m = 0; m < sizeof shapes / sizeof shapes[0]; m++) {
            wl_desc d = shapes[m];
            snprintf(d.name, sizeof d.name, "chained %zu", m);
            run_result apart, chained;
            functional_run(&a, arches[k], &d, &per_op, &chained);
            ck_assert_msg(
                run_model(&a, &d, &unchained, true, NULL, NULL, &apart, err, sizeof err) == 0, "%s",
                err);
            ck_assert(chained.check.max_abs_err == apart.check.max_abs_err);
            ck_assert_uint_le(chained.total.cycles, apart.total.cycles);
            ck_assert_uint_eq(chained.total.lane_ops, apart.total.lane_ops);
            uint32_t covered = 0;
            for (uint32_t i = 0; i < chained.blocks[0].n_ops; i++) {
                const run_op *o = &chained.blocks[0].ops[i];
                covered += o->chained_ops;
                ring |= o->fifo_tags > 0;
            }
            ck_assert_uint_eq(covered, chained.blocks[0].n_ops);
            if (k == 0 && m == 0)
                faster = chained.total.cycles < apart.total.cycles;
            run_free(&apart);
            run_free(&chained);
        }
    }
    ck_assert(faster);
    ck_assert(ring);
}
END_TEST

/* The GELU fused into ffn1 (applied by the dense chain's last position, or by the last
 * column of the butterfly's last pass, only on the kept outputs' useful count) gives the
 * reference's values. */
START_TEST(test_functional_gelu_epilogue)
{
    arch_desc a;
    tu_load_arch("arch/mld-4x4.cfg", &a);
    const wl_linear ffn[] = {WL_LIN_DENSE, WL_LIN_BUTTERFLY, WL_LIN_BLOCK_BUTTERFLY};
    for (int k = 0; k < 3; k++) {
        wl_desc d = model(32, 32, 2, 96, 1, WL_MIX_FFT, WL_LIN_NONE, ffn[k], 4);
        snprintf(d.name, sizeof d.name, "gelu epilogue %d", k);
        char desc[MAP_DESC_MAX] = "";
        static const map_forced per_op = {.fusing = MAP_FUSE_OFF};
        functional_forced(&a, "arch/mld-4x4.cfg", &d, &per_op, "ffn1", desc, sizeof desc);
        ck_assert_msg(strstr(desc, "GELU fused on the way out"), "%s", desc);
    }
}
END_TEST

START_TEST(test_functional_dense)
{
    wl_desc d = model(16, 16, 2, 32, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    snprintf(d.name, sizeof d.name, "dense");
    functional("arch/mld-4x4.cfg", &d);
    d.mask = WL_MASK_CAUSAL;
    functional("arch/mld-8x8.cfg", &d);
    d.dtype = UTIL_FP32;
    d.seq_len = 12; /* not a power of two; a partial last tag */
    d.batch = 2;
    functional("arch/mld-4x4.cfg", &d);
    d.mask = WL_MASK_NONE;
    d.blocks[0].repeat = 2;
    functional("arch/mld-8x8.cfg", &d);
}
END_TEST

START_TEST(test_functional_butterfly)
{
    /* FABNet-style: Fourier mixing, butterfly projections and FFN; hidden 12 pads to 16 */
    wl_desc d = model(16, 12, 2, 24, 1, WL_MIX_FFT, WL_LIN_BUTTERFLY, WL_LIN_BUTTERFLY, 1);
    snprintf(d.name, sizeof d.name, "all-butterfly");
    functional("arch/mld-4x4.cfg", &d);
    d.blocks[0].mixer = WL_MIX_BUTTERFLY;
    d.blocks[0].proj = WL_LIN_NONE;
    d.blocks[0].ffn = WL_LIN_BLOCK_BUTTERFLY;
    d.blocks[0].block_size = 2;
    d.dtype = UTIL_FP32;
    functional("arch/mld-8x8.cfg", &d);
}
END_TEST

/* A deep Fourier stack: twelve FABNet blocks end about 200 u from the exact model (the
 * rounding of each block amplified by the ones after it), which once failed an
 * end-to-end check although the math was right. Each block instance is checked from the
 * input the array gave it, so the stack passes in FP16 and FP32, with a tolerance still
 * far below a wrong value: under 100 unit roundoffs of the unit-scale output (measured 70
 * in FP16, 45 in FP32), where the planted fault is off by about 50,000. */
START_TEST(test_functional_deep_fourier)
{
    wl_desc d = model(64, 64, 4, 128, 1, WL_MIX_FFT, WL_LIN_BUTTERFLY, WL_LIN_BUTTERFLY, 1);
    snprintf(d.name, sizeof d.name, "fabnet-12");
    d.blocks[0].repeat = 12;
    for (int t = 0; t < UTIL_DTYPE_COUNT; t++) {
        d.dtype = (util_dtype)t;
        arch_desc a;
        tu_load_arch("arch/mld-8x8.cfg", &a);
        run_result r;
        functional_run(&a, "arch/mld-8x8.cfg", &d, NULL, &r);
        ck_assert_double_le(r.check.tolerance,
                            100 * util_dtype_unit_roundoff(d.dtype) * fmax(1, r.check.rms_want));
        ck_assert_double_gt(r.check.max_abs_err, 0); /* the check saw rounding */
        run_free(&r);
    }
}
END_TEST

START_TEST(test_functional_hybrid)
{
    wl_desc d = model(16, 16, 2, 32, 1, WL_MIX_FFT_COMPRESS, WL_LIN_BUTTERFLY, WL_LIN_DENSE, 1);
    snprintf(d.name, sizeof d.name, "hybrid");
    d.blocks[0].chunk = 8;
    d.blocks[0].keep = 0.5;
    d.n_blocks = 2;
    d.blocks[1] = (wl_block){1, WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, WL_LIN_BUTTERFLY, 1, 64, 0.5};
    functional("arch/mld-4x4.cfg", &d);
    d.mask = WL_MASK_CAUSAL;
    functional("arch/mld-8x8.cfg", &d);
    d.dtype = UTIL_FP32;
    functional("arch/mld-4x4.cfg", &d);
}
END_TEST

/* ---------------------------------------------------------------- timing */

/* Per op (per chain: its first op carries the chain's figures) and for the model: cycles
 * >= useful lane ops / (PEs x lanes), >= DRAM bytes / DRAM bytes per cycle and >= the
 * flits over the bisection / its links (no op can beat its own compute or traffic); an op
 * run alone does every multiply of its closed form and reads and writes its tensors at
 * least once. With chaining (forced NULL) and without. */
static void check_bounds_as(const char *arch_rel, const wl_desc *d, const map_forced *forced)
{
    arch_desc a;
    tu_load_arch(arch_rel, &a);
    char err[512];
    run_result r;
    ck_assert_msg(run_model(&a, d, forced, false, NULL, NULL, &r, err, sizeof err) == 0, "%s", err);
    double peak = tu_lane_ops_per_cycle(&a, d->dtype);
    double bpc = arch_dram_bytes_per_cycle(&a);
    /* every flit that crosses the bisection uses one of its links for a cycle */
    double cut = 2.0 * arch_bisection_links(&a);
    uint64_t sum = 0;
    for (uint32_t b = 0; b < r.n_blocks; b++) {
        for (uint32_t i = 0; i < r.blocks[b].n_ops; i++) {
            const run_op *o = &r.blocks[b].ops[i];
            if (o->chained_ops == 0)
                continue; /* its chain's first op has the figures */
            ck_assert_msg((double)o->cycles >= (double)o->lane_ops / peak, "%s: compute bound",
                          o->op.name);
            ck_assert_msg((double)o->cycles >=
                              (double)(o->dram_read_bytes + o->dram_write_bytes) / bpc,
                          "%s: DRAM bound", o->op.name);
            ck_assert_msg((double)o->cycles >= (double)o->bisection_flits / cut,
                          "%s: NoC bisection bound", o->op.name);
            if (o->chained_ops > 1)
                continue; /* the figures are the chain's, the closed forms one op's */
            /* every useful multiply of the closed form is done on the array */
            if (o->op.kind == WL_OP_DENSE || o->op.kind == WL_OP_SCORES ||
                o->op.kind == WL_OP_CONTEXT || o->op.kind == WL_OP_BUTTERFLY ||
                o->op.kind == WL_OP_ATTENTION)
                ck_assert_uint_ge(o->lane_ops, o->op.macs);
            /* an op reads each of its inputs and writes its output at least once */
            uint64_t w = util_dtype_bytes(d->dtype), in = wl_tensor_elems(d, o->op.src0);
            if (o->op.src1 != o->op.src0)
                in += wl_tensor_elems(d, o->op.src1);
            ck_assert_msg(o->dram_read_bytes >= (in + o->op.weights) * w, "%s reads too little",
                          o->op.name);
            ck_assert_msg(o->dram_write_bytes >= wl_tensor_elems(d, o->op.dst) * w,
                          "%s writes too little", o->op.name);
        }
        sum += r.blocks[b].cycles * r.blocks[b].repeat;
    }
    ck_assert_uint_eq(r.total.cycles, sum);
    ck_assert((double)r.total.cycles >= (double)r.total.lane_ops / peak);
    ck_assert((double)r.total.cycles >=
              (double)(r.total.dram.read_bytes + r.total.dram.write_bytes) / bpc);
    ck_assert((double)r.total.cycles >= (double)r.total.noc.bisection_flits / cut);
    ck_assert_uint_gt(r.total.noc.bisection_flits, 0);
    run_free(&r);
}

static void check_bounds(const char *arch_rel, const wl_desc *d)
{
    static const map_forced unchained = {.chaining = MAP_CHAIN_OFF};
    check_bounds_as(arch_rel, d, NULL);
    check_bounds_as(arch_rel, d, &unchained);
}

START_TEST(test_bounds)
{
    static const char *arches[] = {"arch/mld-4x4.cfg", "arch/mld-8x8.cfg", "arch/mld-16x16.cfg"};
    for (int k = 0; k < 3; k++) {
        wl_desc d = model(256, 128, 4, 512, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
        d.n_blocks = 2;
        d.blocks[0] = (wl_block){2, WL_MIX_FFT, WL_LIN_BUTTERFLY, WL_LIN_BUTTERFLY, 1, 64, 0.5};
        check_bounds(arches[k], &d);
        d.blocks[0] =
            (wl_block){1, WL_MIX_BUTTERFLY, WL_LIN_BLOCK_BUTTERFLY, WL_LIN_DENSE, 4, 64, 0.5};
        d.mask = WL_MASK_CAUSAL;
        check_bounds(arches[k], &d);
    }
}
END_TEST

START_TEST(test_json_deterministic)
{
    char arch[512], wl[512], j1[512];
    tu_src(arch, sizeof arch, "arch/mld-8x8.cfg");
    tu_src(wl, sizeof wl, "workloads/hybrid-fourier-image-1k.cfg");
    tu_tmp(j1, sizeof j1, "a.json");
    tu_result r;
    /* the same command twice (the JSON quotes it), the first file read before the second
     * run replaces it */
    size_t n1, n2;
    tu_run(&r, "-q", "--json", j1, "--set=workload.seq_len=256", arch, wl, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    char *a = tu_read(j1, &n1);
    tu_run(&r, "-q", "--json", j1, "--set=workload.seq_len=256", arch, wl, NULL);
    ck_assert_int_eq(r.status, 0);
    tu_free(&r);
    char *b = tu_read(j1, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(a, b, n1) == 0);
    ck_assert_ptr_nonnull(strstr(a, "\"flop_reduction\""));
    ck_assert_ptr_nonnull(strstr(a, "\"name\": \"attention\""));
    free(a);
    free(b);
    remove(j1);
}
END_TEST

START_TEST(test_cli_functional_exit_status)
{
    char path[512];
    tu_result r;
    run_edited(&r, path, sizeof path, "dtype", "dtype", "--functional");
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    char arch[512];
    tu_run(&r, "-q", "--functional", "--inject-fault=twiddle", tu_src(arch, sizeof arch, ARCH),
           path, NULL);
    ck_assert_int_eq(r.status, 3);
    ck_assert_ptr_nonnull(strstr(r.err, "functional mismatch"));
    tu_free(&r);
    /* one op's weight only: an op in the middle of a fused group is caught too */
    tu_run(&r, "-q", "--functional", "--inject-fault=twiddle:ffn2", arch, path, NULL);
    ck_assert_int_eq(r.status, 3);
    ck_assert_ptr_nonnull(strstr(r.err, "functional mismatch"));
    tu_free(&r);
    /* an op the first block lacks, or one without weights, is a usage error */
    static const char *const bad[] = {"--inject-fault=twiddle:ffn3", "--inject-fault=twiddle:add1",
                                      "--inject-fault=twiddle:"};
    static const char *const why[] = {
        "twiddle:ffn3: the first block has no op of that name with weights (ops with weights: ",
        "--inject-fault=twiddle:add1: the first block has no op of that name",
        "the faults are 'twiddle' (or 'twiddle:OP', one op of a model) and 'merge'"};
    for (int i = 0; i < 3; i++) {
        tu_run(&r, "-q", "--functional", bad[i], arch, path, NULL);
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, why[i]), "%s: %s", bad[i], r.err);
        tu_free(&r);
    }
    remove(path);
}
END_TEST

/* Row ops whose rows fit one PE (one segment) do exactly the lane operations of their
 * kernels: add 1 per element; GELU 11 (5 multiplies, 3 multiply-adds, exp, add,
 * reciprocal: 14 flops, a multiply-add counting two); layernorm 6 (sum and
 * square-accumulate, then subtract, two scalings and the beta add: 7 flops) plus 4 per row
 * in its reducer (mean, variance, 1/sqrt, one combine); softmax 5 (max; subtract, exp,
 * sum; scale) plus 2 per row (one max and one sum-reciprocal combine). */
START_TEST(test_row_op_lane_ops)
{
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    wl_desc d = model(64, 64, 2, 128, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    char err[512];
    uint64_t T = 64, H = 64, F = 128, G = 2, N = 64;
    /* as the mapper chooses (the GELU fused into ffn1 here), then with the softmax and the
     * GELU named in a mapping, which keeps them apart */
    /* (each op alone: the closed forms are one op's) */
    static map_forced alone = {.chaining = MAP_CHAIN_OFF, .fusing = MAP_FUSE_OFF};
    static map_forced apart = {.n = 2,
                               .f = {{.block = 0, .op = "softmax", .where = "test"},
                                     {.block = 0, .op = "gelu", .where = "test"}},
                               .chaining = MAP_CHAIN_OFF,
                               .fusing = MAP_FUSE_OFF};
    const map_forced *runs[2] = {&alone, &apart};
    for (int k = 0; k < 2; k++) {
        run_result r;
        ck_assert_msg(run_model(&a, &d, runs[k], false, NULL, NULL, &r, err, sizeof err) == 0, "%s",
                      err);
        uint32_t row_ops = 0, gelu_fused = 0;
        for (uint32_t i = 0; i < r.blocks[0].n_ops; i++) {
            const run_op *o = &r.blocks[0].ops[i];
            switch (o->op.kind) {
            case WL_OP_ADD:
                ck_assert_uint_eq(o->lane_ops, T * H);
                break;
            case WL_OP_GELU:
                ck_assert_uint_eq(o->lane_ops, 11 * T * F);
                ck_assert_uint_eq(o->op.flops, 14 * T * F);
                row_ops++;
                break;
            case WL_OP_LAYERNORM:
                ck_assert_uint_eq(o->lane_ops, 6 * T * H + 4 * T);
                ck_assert_uint_eq(o->op.flops, 7 * T * H);
                break;
            case WL_OP_SOFTMAX:
                ck_assert_uint_eq(o->lane_ops, 5 * G * N * N + 2 * G * N);
                row_ops++;
                break;
            case WL_OP_DENSE:
            case WL_OP_SCORES:
            case WL_OP_CONTEXT:
                /* one lane operation per multiply-accumulate, plus the GELU's 11 per output
                 * where it is fused in */
                if (strstr(o->desc, "GELU fused")) {
                    ck_assert_uint_eq(o->lane_ops, o->op.macs + 11 * T * F);
                    gelu_fused++;
                } else {
                    ck_assert_uint_eq(o->lane_ops, o->op.macs);
                }
                break;
            default:
                break;
            }
        }
        ck_assert_uint_eq(row_ops, k ? 2 : 0);
        ck_assert_uint_eq(gelu_fused, k ? 0 : 1);
        run_free(&r);
    }
}
END_TEST

/* The seeded weights of op `name` (instance 0) as doubles. */
static void weights_of(const wl_desc *d, const wl_op *ops, uint32_t n, const char *name, float *w,
                       double *wd)
{
    const wl_op *op = find(ops, n, name);
    uint64_t count = wl_op_weights(d, op, 0, w);
    for (uint64_t i = 0; i < count; i++)
        wd[i] = w[i];
}

/* run_reference against one dense block written out here with sim/ref calls, so that a
 * wiring mistake in the op list (an op reading the wrong tensor) cannot hide behind the
 * simulator and the reference sharing wl_block_ops. */
START_TEST(test_reference_wiring)
{
    wl_desc d = model(8, 8, 2, 16, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    d.dtype = UTIL_FP32;
    d.mask = WL_MASK_CAUSAL;
    enum { N = 8, H = 8, F = 16, DH = 4 };
    wl_op ops[WL_MAX_BLOCK_OPS];
    uint32_t n = wl_block_ops(&d, 0, ops);
    float xin[N * H], w[F * H * 2];
    wl_model_inputs(&d, xin);
    double x[N * H], q[N * H], k[N * H], v[N * H], c[N * H], a[N * H], x1[N * H], f1[N * F],
        f2[N * H], y[N * H], s[N * N], wd[F * H * 2], qh[N * DH], kh[N * DH], ch[N * DH];
    for (int i = 0; i < N * H; i++)
        x[i] = xin[i];
    /* projections: y = x W with W [in x out] from wl_op_weights */
    double *proj_out[4] = {q, k, v, a};
    const char *proj_name[4] = {"q-proj", "k-proj", "v-proj", "o-proj"};
    for (int p = 0; p < 3; p++) {
        weights_of(&d, ops, n, proj_name[p], w, wd);
        ref_gemm(N, H, H, x, wd, proj_out[p]);
    }
    for (int h = 0; h < 2; h++) {
        for (int r = 0; r < N; r++)
            for (int j = 0; j < DH; j++)
                qh[r * DH + j] = q[r * H + h * DH + j], kh[r * DH + j] = k[r * H + h * DH + j];
        ref_scores(N, N, DH, qh, kh, 1.0 / 2.0, true, 0, s);
        ref_softmax_rows(N, N, s);
        for (int r = 0; r < N; r++)
            for (int j = 0; j < DH; j++)
                kh[r * DH + j] = v[r * H + h * DH + j];
        ref_gemm(N, N, DH, s, kh, ch);
        for (int r = 0; r < N; r++)
            for (int j = 0; j < DH; j++)
                c[r * H + h * DH + j] = ch[r * DH + j];
    }
    weights_of(&d, ops, n, "o-proj", w, wd);
    ref_gemm(N, H, H, c, wd, a);
    ref_add(N * H, x, a, x1);
    weights_of(&d, ops, n, "ln1", w, wd);
    ref_layernorm_rows(N, H, x1, WL_LN_EPS, wd, wd + H, x1);
    weights_of(&d, ops, n, "ffn1", w, wd);
    ref_gemm(N, H, F, x1, wd, f1);
    ref_gelu_vec(N * F, f1, f1);
    weights_of(&d, ops, n, "ffn2", w, wd);
    ref_gemm(N, F, H, f1, wd, f2);
    ref_add(N * H, x1, f2, y);
    weights_of(&d, ops, n, "ln2", w, wd);
    ref_layernorm_rows(N, H, y, WL_LN_EPS, wd, wd + H, y);
    double got[N * H];
    char err[256];
    ck_assert_int_eq(run_reference(&d, 0, UINT64_MAX, xin, got, NULL, err, sizeof err), 0);
    for (int i = 0; i < N * H; i++)
        ck_assert_msg(fabs(got[i] - y[i]) <= 1e-12, "element %d: %g vs %g", i, got[i], y[i]);
}
END_TEST

/* Found by review: d_head above seq_len, batch x heads above 64 groups, and the kind
 * changed by --set. */
START_TEST(test_review_cases)
{
    wl_desc d = model(4, 64, 1, 64, 1, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    d.dtype = UTIL_FP32;
    snprintf(d.name, sizeof d.name, "short");
    functional("arch/mld-4x4.cfg", &d);
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    char err[512];
    wl_desc many = model(32, 64, 16, 64, 8, WL_MIX_ATTENTION, WL_LIN_DENSE, WL_LIN_DENSE, 1);
    run_result r;
    ck_assert_msg(run_model(&a, &many, NULL, false, NULL, NULL, &r, err, sizeof err) == 0, "%s",
                  err);
    run_free(&r);
    char arch[512], wl[512];
    tu_expect(2, "unknown key 'n'", "-q", "--set=workload.kind=model",
              tu_src(arch, sizeof arch, ARCH),
              tu_src(wl, sizeof wl, "workloads/butterfly-linear-64.cfg"), NULL);
}
END_TEST

/* Every shipped model maps on every shipped array at its full size. */
START_TEST(test_presets_map)
{
    static const char *arches[] = {"arch/mld-4x4.cfg", "arch/mld-8x8.cfg", "arch/mld-16x16.cfg"};
    static const char *models[] = {"bert-base", "fabnet", "hybrid-fourier", "hybrid-butterfly"};
    static const char *tasks[] = {"listops-2k", "text-4k", "retrieval-4k", "image-1k",
                                  "pathfinder-1k"};
    char path[512], rel[128], err[512];
    for (int k = 0; k < 3; k++) {
        arch_desc a;
        tu_load_arch(arches[k], &a);
        for (int m = 0; m < 4 + 5; m++) {
            for (int t = 0; t < (m < 4 ? 5 : 1); t++) {
                static const char *single[] = {"vit-b16", "vit-b16-image-1k",
                                               "vit-b16-pathfinder-1k", "fabnet-16k",
                                               "hybrid-compress-16k"};
                if (m < 4)
                    snprintf(rel, sizeof rel, "workloads/%s-%s.cfg", models[m], tasks[t]);
                else
                    snprintf(rel, sizeof rel, "workloads/%s.cfg", single[m - 4]);
                wl_desc d;
                int rc =
                    cfg_load_workload(tu_src(path, sizeof path, rel), NULL, 0, &d, err, sizeof err);
                ck_assert_msg(rc == 0, "%s", err);
                rc = run_map_all(&a, &d, err, sizeof err);
                ck_assert_msg(rc == 0, "%s on %s: %s", rel, arches[k], err);
            }
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    /* a guard against hangs, not a speed target: mapping every preset on three arrays takes
     * 40 s of CPU, and CI machines may run several suites on each core */
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_model_config_errors);
    tcase_add_test(tc, test_model_missing_and_empty);
    tcase_add_test(tc, test_model_set_overrides);
    tcase_add_test(tc, test_op_counts_dense);
    tcase_add_test(tc, test_op_counts_butterfly);
    tcase_add_test(tc, test_reduction_against_dense);
    tcase_add_test(tc, test_functional_dense);
    tcase_add_test(tc, test_functional_chained);
    tcase_add_test(tc, test_functional_butterfly);
    tcase_add_test(tc, test_functional_hybrid);
    tcase_add_test(tc, test_functional_deep_fourier);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_json_deterministic);
    tcase_add_test(tc, test_cli_functional_exit_status);
    tcase_add_test(tc, test_row_op_lane_ops);
    tcase_add_test(tc, test_reference_wiring);
    tcase_add_test(tc, test_review_cases);
    tcase_add_test(tc, test_presets_map);
    tcase_add_test(tc, test_functional_long_rows);
    tcase_add_test(tc, test_functional_fused_attention);
    tcase_add_test(tc, test_functional_gelu_epilogue);
    tcase_add_test(tc, test_fused_attention_faster);
    tcase_add_test(tc, test_functional_decode);
    tcase_add_test(tc, test_decode_counts);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
