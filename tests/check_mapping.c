/* check_mapping.c: --dump-mapping and --mapping: round trips, edits that take effect, and errors.
 */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define ARCH "arch/mld-4x4.cfg"
#define MODEL                                                                                      \
    "kind = \"model\";\n"                                                                          \
    "seq_len = 32;\n"                                                                              \
    "hidden = 32;\n"                                                                               \
    "heads = 2;\n"                                                                                 \
    "ffn = 64;\n"                                                                                  \
    "blocks = (\n"                                                                                 \
    "  { mixer = \"attention\"; proj = \"dense\"; ffn = \"dense\"; },\n"                           \
    "  { mixer = \"fft\"; proj = \"butterfly\"; ffn = \"dense\"; }\n"                              \
    ");\n"

typedef struct files {
    char arch[512], model[512], map[512];
} files;

static void setup(files *f)
{
    tu_src(f->arch, sizeof f->arch, ARCH);
    tu_write(tu_tmp(f->model, sizeof f->model, "model.cfg"), MODEL);
    tu_tmp(f->map, sizeof f->map, "map.cfg");
}

/* The "cycles" line of a summary. */
static char *cycles_line(const char *out)
{
    const char *c = strstr(out, "\ncycles ");
    ck_assert_ptr_nonnull(c);
    const char *e = strchr(c + 1, '\n');
    size_t n = (size_t)(e - c - 1);
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, c + 1, n);
    s[n] = '\0';
    return s;
}

/* Every op on its own (--no-fuse): the dumped per-op mapping reloads to the same run. */
START_TEST(test_round_trip)
{
    files f;
    setup(&f);
    tu_result a, b;
    tu_run(&a, "--no-fuse", "--dump-mapping", f.map, f.arch, f.model, NULL);
    ck_assert_msg(a.status == 0, "%s", a.err);
    size_t n;
    char *doc = tu_read(f.map, &n);
    ck_assert_ptr_nonnull(strstr(doc, "op = \"q-proj\"; chain_pes = "));
    /* attention is fused here (its estimate beats the three ops apart) */
    ck_assert_ptr_nonnull(strstr(doc, "op = \"attention\"; chain_pes = "));
    ck_assert_ptr_null(strstr(doc, "op = \"softmax\""));
    /* the transforms of block 1 keep their intermediates on chip, and the SPM keeps their
     * weights across blocks (the mixer's two groups block differently: no one block_rows;
     * its sequence FFTs take units of all 32 features, whole lines) */
    ck_assert_ptr_nonnull(strstr(doc, "{ block = 1; op = \"mix\"; intermediates = \"spm\"; "
                                      "weights = \"kept\"; unit_columns = 32; }"));
    ck_assert_ptr_nonnull(strstr(doc, "{ block = 1; op = \"o-proj\"; intermediates = \"spm\"; "
                                      "block_rows = 32; weights = \"kept\"; }"));
    ck_assert_ptr_nonnull(strstr(doc, "\nfuse = \"off\";\n"));
    /* loading the dumped mapping reproduces the run exactly */
    tu_run(&b, "--mapping", f.map, f.arch, f.model, NULL);
    ck_assert_msg(b.status == 0, "%s", b.err);
    char *ca = cycles_line(a.out), *cb = cycles_line(b.out);
    ck_assert_str_eq(ca, cb);
    free(ca), free(cb), free(doc);
    tu_free(&a), tu_free(&b);
}
END_TEST

/* Loads the mapping file f->map and asserts the run gives the cycles line of out. */
static void reloads_same(const files *f, const char *out)
{
    tu_result r;
    tu_run(&r, "--mapping", f->map, f->arch, f->model, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    char *want = cycles_line(out), *got = cycles_line(r.out);
    ck_assert_str_eq(want, got);
    free(want), free(got);
    tu_free(&r);
}

/* A chained run's mapping reloads to the same chains and cycles; --no-chain writes
 * chain = "off", which reloads unchained and slower; chain takes "auto" or "off" only. */
START_TEST(test_chain_round_trip)
{
    files f;
    setup(&f);
    tu_result a, c;
    /* (chains join ops mapped on their own) */
    tu_run(&a, "--no-fuse", "--functional", "--dump-mapping", f.map, f.arch, f.model, NULL);
    ck_assert_msg(a.status == 0, "%s", a.err);
    ck_assert_ptr_nonnull(strstr(a.out, "chained with the next"));
    ck_assert_ptr_nonnull(strstr(a.out, "functional pass"));
    size_t n;
    char *doc = tu_read(f.map, &n);
    ck_assert_ptr_null(strstr(doc, "\nchain = "));
    reloads_same(&f, a.out);
    tu_run(&c, "--no-fuse", "--no-chain", "--dump-mapping", f.map, f.arch, f.model, NULL);
    ck_assert_msg(c.status == 0, "%s", c.err);
    ck_assert_ptr_nonnull(strstr(c.out, "\ncycles "));
    ck_assert_ptr_null(strstr(c.out, "chained"));
    ck_assert_int_lt(atoll(strstr(a.out, "\ncycles ") + 8), atoll(strstr(c.out, "\ncycles ") + 8));
    char *off = tu_read(f.map, &n);
    ck_assert_ptr_nonnull(strstr(off, "\nchain = \"off\";\n"));
    reloads_same(&f, c.out);
    char *edited = tu_replace(off, "chain = \"off\";", "chain = 1;");
    tu_write(f.map, edited);
    tu_expect(2, "chain", "--mapping", f.map, f.arch, f.model, NULL);
    free(doc), free(off), free(edited);
    tu_free(&a), tu_free(&c);
}
END_TEST

/* An edited entry takes effect (the description and the cycles change) and the values
 * still come out right under it. */
START_TEST(test_edit_takes_effect)
{
    files f;
    setup(&f);
    tu_write(f.map, "mapping = (\n"
                    "  { block = 0; op = \"ffn1\"; chain_pes = 16; rows_per_tag = 1; },\n"
                    "  { block = 0; op = \"ln1\"; segments = 4; rows_per_chain = 2; }\n"
                    ");\n");
    tu_result a, b;
    tu_run(&a, f.arch, f.model, NULL);
    tu_run(&b, "--mapping", f.map, "--functional", f.arch, f.model, NULL);
    ck_assert_msg(b.status == 0, "%s", b.err);
    ck_assert_ptr_nonnull(strstr(b.out, "1 chains of 16 PEs, 1 rows x"));
    ck_assert_ptr_nonnull(strstr(b.out, "in 4 segments of 8 on PE chains, 4 chains x 2 rows per "
                                        "tag (from the mapping file)"));
    ck_assert_ptr_nonnull(strstr(b.out, "functional pass"));
    char *ca = cycles_line(a.out), *cb = cycles_line(b.out);
    ck_assert_str_ne(ca, cb);
    free(ca), free(cb);
    tu_free(&a), tu_free(&b);
}
END_TEST

/* Fused groups dump as fused_through entries with their pipeline and reload to the same
 * run; edited pipelines take effect (one PE per stage; a folded one, 23 PE groups on the
 * 16 PEs) and still compute the right values. */
START_TEST(test_fused_round_trip)
{
    files f;
    setup(&f);
    tu_result a, b, c;
    tu_run(&a, "--functional", "--dump-mapping", f.map, f.arch, f.model, NULL);
    ck_assert_msg(a.status == 0, "%s", a.err);
    ck_assert_ptr_nonnull(strstr(a.out, "in the fused group of o-proj"));
    ck_assert_ptr_nonnull(strstr(a.out, "functional pass"));
    size_t n;
    char *doc = tu_read(f.map, &n);
    ck_assert_ptr_nonnull(strstr(doc, "{ block = 0; op = \"o-proj\"; fused_through = \"ln2\"; "
                                      "rows_per_tag = "));
    ck_assert_ptr_nonnull(strstr(doc, "stage_pes = ["));
    ck_assert_ptr_null(strstr(doc, "op = \"ffn1\""));
    reloads_same(&f, a.out);
    tu_write(f.map,
             "mapping = (\n"
             "  { block = 0; op = \"o-proj\"; fused_through = \"ln2\"; rows_per_tag = 1; "
             "fold = 1; stage_pes = [1, 1, 1, 1, 1]; stage_steps = [1, 1, 1, 1, 1]; },\n"
             "  { block = 1; op = \"o-proj\"; fused_through = \"ln2\"; rows_per_tag = 2; "
             "fold = 2; stage_pes = [2, 2, 1, 8, 8, 2]; stage_steps = [3, 2, 1, 1, 1, 1]; }\n"
             ");\n");
    tu_run(&b, "--functional", "--mapping", f.map, f.arch, f.model, NULL);
    ck_assert_msg(b.status == 0, "%s", b.err);
    ck_assert_ptr_nonnull(strstr(b.out, "fused: 1 row per tag, 5 PEs, 2 segments: o-proj 1, "
                                        "add1+ln1 1 | ffn1 1, ffn2 1, add2+ln2 1"));
    ck_assert_ptr_nonnull(strstr(b.out, "fused: 2 rows per tag, 23 PEs folded, 2 segments: "
                                        "o-proj 2x3+2x2, add1+ln1 1 | ffn1 8, ffn2 8, add2+ln2 2"));
    ck_assert_ptr_nonnull(strstr(b.out, "functional pass"));
    /* block 0's FFN on one PE per layer instead of the search's several: slower */
    ck_assert_int_gt(atoll(strstr(b.out, "\ncycles ") + 8), atoll(strstr(a.out, "\ncycles ") + 8));
    /* a fused group is no request to fuse when fusing is off */
    tu_run(&c, "--no-fuse", "--mapping", f.map, f.arch, f.model, NULL);
    ck_assert_int_eq(c.status, 2);
    ck_assert_ptr_nonnull(strstr(c.err, "fused_through = \"ln2\" asks for a fused group, and "
                                        "fusing is off"));
    free(doc);
    tu_free(&a), tu_free(&b), tu_free(&c);
}
END_TEST

/* A transform's intermediates go to DRAM when the entry says so: the description loses
 * its on-chip blocks, the op moves more DRAM bytes, and the values still come out right
 * (ops unchained, so that the row holds the op's own bytes). */
START_TEST(test_transform_entry)
{
    files f;
    setup(&f);
    tu_write(f.map, "chain = \"off\";\nfuse = \"off\";\nmapping = ( { block = 1; op = \"o-proj\"; "
                    "intermediates = \"dram\"; } );\n");
    tu_result a, b;
    tu_run(&a, "--no-chain", "--no-fuse", f.arch, f.model, NULL);
    tu_run(&b, "--mapping", f.map, "--functional", f.arch, f.model, NULL);
    ck_assert_msg(b.status == 0, "%s", b.err);
    const char *ra = strstr(a.out, "  o-proj   butterfly"),
               *rb = strstr(b.out, "  o-proj   butterfly");
    ck_assert_ptr_nonnull(ra);
    ck_assert_ptr_nonnull(rb);
    ck_assert_ptr_nonnull(strstr(ra, "multilayer: blocks of 32 lines on chip"));
    const char *eol = strchr(rb, '\n');
    ck_assert_ptr_null(memmem(rb, (size_t)(eol - rb), "multilayer", 10));
    /* columns: op, kind, cycles, useful ops, util, DRAM bytes */
    unsigned long long da = 0, db = 0;
    ck_assert_int_eq(sscanf(ra, "%*s %*s %*u %*u %*s %llu", &da), 1);
    ck_assert_int_eq(sscanf(rb, "%*s %*s %*u %*u %*s %llu", &db), 1);
    ck_assert_uint_eq(db - da, 2 * 32 * 32 * 2); /* an intermediate written and read back */
    ck_assert_ptr_nonnull(strstr(b.out, "functional pass"));
    tu_free(&a), tu_free(&b);
}
END_TEST

/* A sequence FFT's shape fixed by hand: units of 16 of the 32 features (32 elements,
 * complex), tags of parts of 8 of the 32 tokens, weights reloaded in every block. The
 * description shows it, the values are right, and the run's dump reloads to it. */
START_TEST(test_sequence_entry)
{
    files f;
    setup(&f);
    tu_write(f.map, "mapping = ( { block = 1; op = \"mix-seq\"; unit_columns = 16; "
                    "part_units = 8; weights = \"reloaded\"; } );\n");
    char dump[512];
    tu_tmp(dump, sizeof dump, "dump.cfg");
    tu_result a;
    tu_run(&a, "--mapping", f.map, "--functional", "--dump-mapping", dump, f.arch, f.model, NULL);
    ck_assert_msg(a.status == 0, "%s", a.err);
    const char *row = strstr(a.out, "  mix-seq  fft-seq");
    ck_assert_ptr_nonnull(row);
    const char *eol = strchr(row, '\n');
    ck_assert_ptr_nonnull(
        memmem(row, (size_t)(eol - row), "tags of parts of 8 of 32-unit lines x 32", 39));
    ck_assert_ptr_null(memmem(row, (size_t)(eol - row), "weights kept", 12));
    ck_assert_ptr_nonnull(strstr(a.out, "functional pass"));
    size_t n;
    char *doc = tu_read(dump, &n);
    ck_assert_ptr_nonnull(strstr(doc, "unit_columns = 16; part_units = 8; }"));
    free(doc);
    memcpy(f.map, dump, sizeof dump);
    reloads_same(&f, a.out);
    tu_free(&a);
}
END_TEST

/* Naming softmax keeps attention unfused; naming attention fixes the fused plan. Both
 * still compute the right values. */
START_TEST(test_attention_entries)
{
    files f;
    setup(&f);
    tu_result r;
    tu_write(f.map, "mapping = ( { block = 0; op = \"softmax\"; } );\n");
    tu_run(&r, "--mapping", f.map, "--functional", f.arch, f.model, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "  softmax "));
    ck_assert_ptr_nonnull(strstr(r.out, "  scores "));
    ck_assert_ptr_null(strstr(r.out, "fused attention"));
    ck_assert_ptr_nonnull(strstr(r.out, "functional pass"));
    tu_free(&r);
    tu_write(
        f.map,
        "mapping = ( { block = 0; op = \"attention\"; chain_pes = 2; rows_per_tag = 1; } );\n");
    tu_run(&r, "--mapping", f.map, "--functional", f.arch, f.model, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "chains of 2 PEs, 1 rows per tag"));
    ck_assert_ptr_null(strstr(r.out, "  softmax "));
    ck_assert_ptr_nonnull(strstr(r.out, "functional pass"));
    tu_free(&r);
}
END_TEST

/* A bad entry: exit 2 and "bflysim: FILE:LINE: ..." with the phrase. */
static void expect_error(const char *entry, int line, const char *phrase)
{
    files f;
    setup(&f);
    char doc[1024], prefix[600];
    snprintf(doc, sizeof doc, "mapping = (\n  { block = 0; op = \"k-proj\"; },\n%s\n);\n", entry);
    tu_write(f.map, doc);
    tu_result r;
    tu_run(&r, "-q", "--mapping", f.map, f.arch, f.model, NULL);
    ck_assert_msg(r.status == 2, "exit status %d for: %s", r.status, entry);
    snprintf(prefix, sizeof prefix, "bflysim: %s:%d: ", f.map, line);
    ck_assert_msg(strncmp(r.err, prefix, strlen(prefix)) == 0, "expected '%s' in: %s", prefix,
                  r.err);
    ck_assert_msg(strstr(r.err, phrase), "'%s' missing from: %s", phrase, r.err);
    tu_free(&r);
}

START_TEST(test_errors)
{
    expect_error("  { block = 0; op = \"q-proj\"; chain_pe = 4; }", 3,
                 "did you mean 'mapping[1].chain_pes'?");
    expect_error("  { block = 0; op = \"qproj\"; }", 3, "did you mean \"q-proj\"?");
    expect_error("  { block = 2; op = \"q-proj\"; }", 3, "the model has 2 block entries");
    expect_error("  { block = 0; op = \"q-proj\"; chain_pes = 3; }", 3,
                 "chain_pes = 3 is not allowed (a divisor of the 16 PEs");
    expect_error("  { block = 0; op = \"ffn1\"; chain_pes = 1; columns_per_chain = 4000; }", 3,
                 "columns_per_chain = 4000 exceeds the 64 output columns over 16 chains");
    expect_error("  { block = 0; op = \"ffn2\"; chain_pes = 1; rows_per_tag = 32; }", 3,
                 "bytes of PE buffer (the PE has 16384)");
    expect_error("  { block = 0; op = \"softmax\"; segments = 64; }", 3,
                 "segments = 64 is not allowed");
    expect_error("  { block = 1; op = \"mix\"; segments = 2; }", 3,
                 "mix: segments does not apply to an op of FFTs along the sequence (it takes "
                 "intermediates, block_rows, unit_columns, part_units, weights)");
    /* a sequence FFT's shape and weights (the fused plan's mix-seq) */
    expect_error("  { block = 1; op = \"mix-seq\"; unit_columns = 5; }", 3,
                 "mix-seq: unit_columns = 5: no plan takes that shape: a unit's columns divide "
                 "the 32 features");
    expect_error("  { block = 1; op = \"mix-seq\"; part_units = 12; }", 3,
                 "mix-seq: part_units = 12: no plan takes that shape");
    expect_error("  { block = 1; op = \"mix-seq\"; intermediates = \"dram\"; weights = \"kept\"; }",
                 3, "weights = \"kept\" is for intermediates in the SPM");
    expect_error("  { block = 1; op = \"mix-seq\"; weights = \"sometimes\"; }", 3,
                 "weights = \"sometimes\" is not allowed (one of \"any\", \"kept\", \"reloaded\", "
                 "\"resident\")");
    expect_error("  { block = 1; op = \"mix-seq\"; weights = \"resident\"; }", 3,
                 "mix-seq: weights = \"resident\" is for fused groups; a butterfly or FFT op "
                 "takes \"kept\", \"reloaded\" or \"any\"");
    expect_error("  { block = 1; op = \"ffn1\"; unit_columns = 16; }", 3,
                 "ffn1: unit_columns does not apply to a GEMM");
    expect_error("  { block = 1; op = \"o-proj\"; part_units = 16; }", 3,
                 "o-proj: part_units does not apply to a butterfly or FFT op (it takes "
                 "intermediates, block_rows, weights)");
    expect_error("  { block = 0; op = \"softmax\"; chain_pes = 2; }", 3,
                 "softmax: chain_pes does not apply to a row op (it takes segments, "
                 "rows_per_chain)");
    expect_error("  { block = 0; op = \"q-proj\"; layer_pes = 2; }", 3,
                 "q-proj: layer_pes does not apply to a GEMM");
    expect_error("  { block = 1; op = \"o-proj\"; block_rows = 3; }", 3,
                 "block_rows = 3: a block must divide the 32 lines in whole tags of 32 lines, "
                 "and at most 32 lines fit the SPM");
    expect_error("  { block = 1; op = \"o-proj\"; intermediates = \"dram\"; block_rows = 32; }", 3,
                 "block_rows = 32 is for intermediates in the SPM");
    expect_error("  { block = 1; op = \"o-proj\"; intermediates = \"disk\"; }", 3,
                 "intermediates = \"disk\" is not allowed (one of \"any\", \"dram\", \"spm\")");
    /* block defaults to 0: this entry names k-proj of block 0 a second time */
    expect_error("  { op = \"k-proj\"; }", 3, "op \"k-proj\" is mapped twice");
    expect_error("  { block = 0; op = \"k-proj\"; segments = 2; }", 3,
                 "op \"k-proj\" is mapped twice (first at");
    expect_error("  { block = 0; op = \"attention\"; chain_pes = 3; }", 3,
                 "chain_pes = 3, rows_per_tag = 0 is not a feasible plan on this array");
    expect_error("  { block = 0; op = \"attention\"; segments = 2; }", 3,
                 "segments does not apply to fused attention (it takes chain_pes, "
                 "rows_per_tag)");
    expect_error("  { block = 0; op = \"scores\"; },\n  { block = 0; op = \"attention\"; }", 4,
                 "\"attention\" fuses scores, softmax and context");
    expect_error("  { block = 1; op = \"attention\"; }", 3, "is not an op of block 1");
    /* fused groups */
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"q-proj\"; }", 3,
                 "fused_through = \"q-proj\" does not follow op \"o-proj\" in block 0");
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"lnx\"; }", 3,
                 "fused_through = \"lnx\" is not an op of block 0; did you mean \"ln1\"?");
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"ln2\"; },\n"
                 "  { block = 0; op = \"ffn1\"; chain_pes = 1; }",
                 4, "block 0 op \"ffn1\" is in the fused group o-proj..ln2");
    expect_error("  { block = 0; op = \"attention\"; fused_through = \"ln2\"; }", 3,
                 "attention..ln2 cannot run as one fused group (an op that is not row-local");
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"ln2\"; fold = 3; }", 3,
                 "fold = 3 is out of range (allowed 0..2)");
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"ln2\"; rows_per_tag = 64; }", 3,
                 "no plan of the fused group o-proj..ln2 with this entry's keys fits");
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"ln2\"; stage_steps = [1]; }", 3,
                 "stage_steps has 1 entries and stage_pes 0: give both");
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"ln2\"; "
                 "stage_pes = [2, 1, 4, 40, 1]; stage_steps = [1, 1, 1, 1, 1]; }",
                 3,
                 "ffn2: stage_steps = 1, stage_pes = 40: a dense layer is one pipeline stage "
                 "of stage_pes (1..16) PEs");
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"ln2\"; "
                 "stage_pes = [2, 40, 4, 4, 1]; stage_steps = [1, 1, 1, 1, 1]; }",
                 3,
                 "add1+ln1: stage_steps = 1, stage_pes = 40: a norm is one pipeline stage "
                 "(stage_steps 1) of 1..32 row segments");
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"ln2\"; "
                 "stage_pes = [2, 1, 4, 6, 1]; stage_steps = [1, 1, 1, 4, 1]; }",
                 3, "ffn2: stage_steps = 4, stage_pes = 6: a dense layer");
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"ln2\"; "
                 "stage_pes = [2, 1, 4, 4, 1, 1]; stage_steps = [1, 1, 1, 1, 1, 1]; }",
                 3, "stage_pes lists 6 pipeline stages, the group's ops take 5");
    expect_error("  { block = 1; op = \"o-proj\"; fused_through = \"ln2\"; "
                 "stage_pes = [2, 1, 4, 4, 1]; stage_steps = [5, 1, 1, 1, 1]; }",
                 3,
                 "o-proj stages 0-4: stage_steps = 5 must stay within its 5 stages and "
                 "stage_pes = 2 must be a power of two up to 1");
    expect_error("  { block = 0; op = \"o-proj\"; fused_through = \"ln2\"; chain_pes = 2; }", 3,
                 "o-proj: chain_pes does not apply to a fused group");
}
END_TEST

/* The butterfly-linear layer: its dumped mapping reloads to the same run; a fixed plan
 * takes effect and still computes the right values; bad entries name FILE:LINE. */
START_TEST(test_layer_mapping)
{
    char arch[512], wl[512], map[512];
    tu_src(arch, sizeof arch, ARCH);
    tu_src(wl, sizeof wl, "workloads/butterfly-linear-64.cfg");
    tu_tmp(map, sizeof map, "layer-map.cfg");
    tu_result a, b;
    tu_run(&a, "--dump-mapping", map, arch, wl, NULL);
    ck_assert_msg(a.status == 0, "%s", a.err);
    size_t n;
    char *doc = tu_read(map, &n);
    ck_assert_ptr_nonnull(strstr(doc, "{ block = 0; op = \"butterfly-linear\"; layer_pes = "));
    free(doc);
    tu_run(&b, "--mapping", map, arch, wl, NULL);
    ck_assert_msg(b.status == 0, "%s", b.err);
    char *ca = cycles_line(a.out), *cb = cycles_line(b.out);
    ck_assert_str_eq(ca, cb);
    free(ca), free(cb);
    tu_free(&a), tu_free(&b);

    /* n = 64: 6 stages; two pipelines of three 1-PE layers, two passes through DRAM */
    tu_write(map, "mapping = ( { op = \"butterfly-linear\"; layer_pes = 1; pipelines = 2;\n"
                  "  stages_per_pass = 3; intermediates = \"dram\"; } );\n");
    tu_run(&a, "--mapping", map, "--functional", "--explain", arch, wl, NULL);
    ck_assert_msg(a.status == 0, "%s", a.err);
    ck_assert_ptr_nonnull(
        strstr(a.out, "2 passes (stages 0-2, 3-5), 2 pipelines of layers of 1 PE"));
    ck_assert_ptr_nonnull(strstr(a.out, "1 candidates scored"));
    ck_assert_ptr_nonnull(strstr(a.out, "functional pass"));
    tu_free(&a);

    tu_write(map, "mapping = (\n  { op = \"butterfly-linear\"; layer_pes = 3; }\n);\n");
    tu_expect(2,
              ":2: layer_pes = 3: a layer takes a power of two of PE rows, at most array.rows = 4",
              "--mapping", map, arch, wl, NULL);
    tu_write(map, "mapping = ( { op = \"butterfly-linear\"; stages_per_pass = 7; } );\n");
    tu_expect(2, ":1: stages_per_pass = 7, but the butterfly has 6 stages", "--mapping", map, arch,
              wl, NULL);
    tu_write(map, "mapping = ( { op = \"butterfly-linear\"; layer_pes = 1; pipelines = 5;\n"
                  "  stages_per_pass = 6; } );\n");
    tu_expect(2, "5 pipelines of 6 stages need 30 layers; the array holds 16 layers of 1 PE",
              "--mapping", map, arch, wl, NULL);
    tu_write(map, "mapping = ( { op = \"butterfly-linear\"; stages_per_pass = 6;\n"
                  "  intermediates = \"spm\"; } );\n");
    tu_expect(2,
              "no mapping of butterfly-linear n=64 x 16 rows fits with stages_per_pass = 6, "
              "intermediates = \"spm\"",
              "--mapping", map, arch, wl, NULL);
    tu_write(map, "mapping = ( { op = \"butterfly-linear\"; segments = 2; } );\n");
    tu_expect(2, "segments does not apply to the butterfly-linear layer", "--mapping", map, arch,
              wl, NULL);
    tu_write(map, "mapping = ( { op = \"q-proj\"; } );\n");
    tu_expect(2, "a butterfly-linear workload has one op, block = 0, op = \"butterfly-linear\"",
              "--mapping", map, arch, wl, NULL);
    tu_write(map,
             "mapping = ( { op = \"butterfly-linear\"; },\n { op = \"butterfly-linear\"; } );\n");
    tu_expect(2, ":2: a butterfly-linear layer takes one mapping entry", "--mapping", map, arch, wl,
              NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mapping");
    TCase *tc = tcase_create("mapping");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_chain_round_trip);
    tcase_add_test(tc, test_fused_round_trip);
    tcase_add_test(tc, test_edit_takes_effect);
    tcase_add_test(tc, test_attention_entries);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_transform_entry);
    tcase_add_test(tc, test_sequence_entry);
    tcase_add_test(tc, test_layer_mapping);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
