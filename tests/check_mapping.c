/* check_mapping.c: --dump-mapping and --mapping: round trips, edits that take effect, and errors.
 */
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

START_TEST(test_round_trip)
{
    files f;
    setup(&f);
    tu_result a, b;
    tu_run(&a, "--dump-mapping", f.map, f.arch, f.model, NULL);
    ck_assert_msg(a.status == 0, "%s", a.err);
    size_t n;
    char *doc = tu_read(f.map, &n);
    ck_assert_ptr_nonnull(strstr(doc, "op = \"q-proj\"; chain_pes = "));
    /* attention is fused here (its estimate beats the three ops apart) */
    ck_assert_ptr_nonnull(strstr(doc, "op = \"attention\"; chain_pes = "));
    ck_assert_ptr_null(strstr(doc, "op = \"softmax\""));
    ck_assert_ptr_nonnull(strstr(doc, "{ block = 1; op = \"mix\"; }"));
    /* loading the dumped mapping reproduces the run exactly */
    tu_run(&b, "--mapping", f.map, f.arch, f.model, NULL);
    ck_assert_msg(b.status == 0, "%s", b.err);
    char *ca = cycles_line(a.out), *cb = cycles_line(b.out);
    ck_assert_str_eq(ca, cb);
    free(ca), free(cb), free(doc);
    tu_free(&a), tu_free(&b);
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
    char doc[512], prefix[600];
    snprintf(doc, sizeof doc, "mapping = (\n  { block = 0; op = \"k-proj\"; },\n%s\n);\n", entry);
    tu_write(f.map, doc);
    tu_result r;
    tu_run(&r, "-q", "--mapping", f.map, f.arch, f.model, NULL);
    ck_assert_int_eq(r.status, 2);
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
                 "the mapping of a fft-mix op cannot be set yet");
    expect_error("  { op = \"q-proj\"; }", 3, "missing required key 'mapping[1].block'");
    expect_error("  { block = 0; op = \"k-proj\"; segments = 2; }", 3,
                 "op \"k-proj\" is mapped twice (first at");
    expect_error("  { block = 0; op = \"attention\"; chain_pes = 3; }", 3,
                 "chain_pes = 3, rows_per_tag = 0 is not a feasible plan on this array");
    expect_error("  { block = 0; op = \"attention\"; segments = 2; }", 3,
                 "fused attention takes chain_pes and rows_per_tag only");
    expect_error("  { block = 0; op = \"scores\"; },\n  { block = 0; op = \"attention\"; }", 4,
                 "\"attention\" fuses scores, softmax and context");
    expect_error("  { block = 1; op = \"attention\"; }", 3, "is not an op of block 1");
}
END_TEST

START_TEST(test_options_need_a_model)
{
    char arch[512], wl[512];
    tu_expect(2, "are for models", "--dump-mapping", "/dev/null", tu_src(arch, sizeof arch, ARCH),
              tu_src(wl, sizeof wl, "workloads/butterfly-linear-64.cfg"), NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mapping");
    TCase *tc = tcase_create("mapping");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_edit_takes_effect);
    tcase_add_test(tc, test_attention_entries);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_options_need_a_model);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
