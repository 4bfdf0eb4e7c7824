/* check_config.c: every class of config error exits 2 and names FILE:LINE, the key and the value.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../sim/config/config.h"
#include "../sim/util/util.h"
#include "testutil.h"

#define ARCH "arch/mld-4x4.cfg"
#define WL "workloads/butterfly-linear-64.cfg"

/* Writes a copy of a shipped file with one text replaced, runs bflysim on it, and
 * checks exit status 2 and a message "bflysim: FILE:LINE: ..." containing each phrase.
 * line 0 means: the line of the replacement text. */
static void expect_error(const char *rel, const char *old, const char *new_text, int line,
                         const char *phrase1, const char *phrase2)
{
    char src[512], tmp[512], other[512], prefix[600];
    char *text = tu_read(tu_src(src, sizeof src, rel), NULL);
    char *edited = tu_replace(text, old, new_text);
    tu_write(tu_tmp(tmp, sizeof tmp, "edited.cfg"), edited);
    bool is_arch = strncmp(rel, "arch/", 5) == 0;
    tu_src(other, sizeof other, is_arch ? WL : ARCH);
    tu_result r;
    if (is_arch)
        tu_run(&r, "-q", tmp, other, NULL);
    else
        tu_run(&r, "-q", other, tmp, NULL);
    if (line == 0)
        line = tu_line_of(edited, new_text);
    snprintf(prefix, sizeof prefix, "bflysim: %s:%d: ", tmp, line);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strncmp(r.err, prefix, strlen(prefix)) == 0, "expected '%s' at the start of: %s",
                  prefix, r.err);
    ck_assert_msg(strstr(r.err, phrase1), "'%s' missing from: %s", phrase1, r.err);
    if (phrase2)
        ck_assert_msg(strstr(r.err, phrase2), "'%s' missing from: %s", phrase2, r.err);
    ck_assert_str_eq(r.out, "");
    tu_free(&r);
    remove(tmp);
    free(edited);
    free(text);
}

START_TEST(test_unknown_key)
{
    expect_error(ARCH, "  cols = 4;", "  colz = 4;", 0, "unknown key 'array.colz'",
                 "did you mean 'array.cols'?");
    /* A key that belongs to another group is pointed at its place. */
    expect_error(ARCH, "tech_nm = 12;", "tech_nm = 12; lanes = 8;", 0, "unknown key 'lanes'",
                 "did you mean 'pe.lanes'?");
    /* Nothing close: no suggestion, a pointer to --list-keys. */
    expect_error(WL, "seed = 1;", "seed = 1; frobnicator = 3;", 0, "unknown key 'frobnicator'",
                 "--list-keys");
}
END_TEST

START_TEST(test_wrong_type)
{
    expect_error(ARCH, "  rows = 4;", "  rows = \"four\";", 0, "array.rows: wrong type",
                 "expected an integer 1..64, in PEs, found the string \"four\"");
    expect_error(ARCH, "  lanes = 8;", "  lanes = 8.5;", 0, "pe.lanes: wrong type",
                 "found the number 8.5");
    expect_error(ARCH, "  link_bits = 128;", "  link_bits = { x = 1; };", 0,
                 "noc.link_bits: wrong type", "found a group");
    expect_error(WL, "dtype = \"fp16\";", "dtype = 16;", 0, "dtype: wrong type",
                 "found the integer 16");
}
END_TEST

START_TEST(test_out_of_range)
{
    expect_error(ARCH, "  rows = 4;", "  rows = 0;", 0, "array.rows = 0 is out of range",
                 "allowed 1..64");
    expect_error(ARCH, "  cols = 4;", "  cols = 0;", 0, "array.cols = 0 is out of range", NULL);
    expect_error(ARCH, "bandwidth_gbs = 51.2;", "bandwidth_gbs = -25.6;", 0,
                 "dram.bandwidth_gbs = -25.6 is out of range", "allowed >= 0.01");
    /* physically meaningless values that once ran (1e-20 GB/s gave fewer cycles than 51.2,
     * and below 1e-15 the cycle count overflowed) */
    expect_error(ARCH, "bandwidth_gbs = 51.2;", "bandwidth_gbs = 1e-20;", 0,
                 "dram.bandwidth_gbs = 1e-20 is out of range", "allowed >= 0.01");
    expect_error(ARCH, "clock_ghz = 1.0;", "clock_ghz = 1e-9;", 0,
                 "clock_ghz = 1e-09 is out of range", "allowed >= 0.001");
    expect_error(WL, "n = 64;", "n = 1000;", 0, "n = 1000 must be a power of two", "512 or 1024");
    expect_error(ARCH, "  lanes = 8;", "  lanes = 12;", 0, "pe.lanes = 12 must be a power of two",
                 NULL);
    /* A function unit wider than the SIMD datapath. */
    expect_error(ARCH, "exp = { latency = 8; lanes_per_cycle = 2; };",
                 "exp = { latency = 8; lanes_per_cycle = 16; };", 0,
                 "pe.fu.exp.lanes_per_cycle = 16 exceeds pe.lanes = 8", NULL);
    expect_error(WL, "init = \"random\";", "init = \"randon\";", 0,
                 "init = \"randon\" is not allowed", "did you mean \"random\"?");
}
END_TEST

START_TEST(test_sizes_overflow)
{
    /* 1024 banks x 64 MiB = 64 GiB of SPM overflows the 32-bit address space; the
     * message points at bank_kb, the line after banks. */
    char src[512];
    char *text = tu_read(tu_src(src, sizeof src, ARCH), NULL);
    int banks_line = tu_line_of(text, "  banks = 16;");
    free(text);
    expect_error(ARCH, "  banks = 16;           # ASSUMPTION\n  bank_kb = 16;",
                 "  banks = 1024;\n  bank_kb = 65536;", banks_line + 1,
                 "spm.banks x spm.bank_kb = 67108864 KiB overflows the 4 GiB address space", NULL);
    /* rows x n = 2^18 x 2^24 = 2^42 elements, beyond the 2^40 allowed; named at rows. */
    text = tu_read(tu_src(src, sizeof src, WL), NULL);
    int n_line = tu_line_of(text, "n = 64;");
    free(text);
    expect_error(WL,
                 "n = 64;              # butterfly size (elements per vector, a power of two)\n"
                 "rows = 16;",
                 "n = 16777216;\nrows = 262144;", n_line + 1,
                 "rows x n = 262144 x 16777216 elements exceeds the maximum 2^40", NULL);
    /* libconfig alone would wrap 2^32 + 1 to 1; bflysim keeps the value and rejects it. */
    expect_error(WL, "rows = 16;", "rows = 4294967297;", 0, "rows = 4294967297 is out of range",
                 NULL);
    expect_error(WL, "rows = 16;", "rows = 99999999999999999999;", 0,
                 "integer 99999999999999999999 does not fit in 64 bits", NULL);
}
END_TEST

START_TEST(test_missing_required_key)
{
    /* The message points at the group that lacks the key. */
    char src[512];
    char *text = tu_read(tu_src(src, sizeof src, ARCH), NULL);
    int pe_line = tu_line_of(text, "pe = {");
    free(text);
    expect_error(ARCH, "  lanes = 8; ", "  ", pe_line, "missing required key 'pe.lanes'",
                 "an integer 1..256, a power of two");
    expect_error(WL, "n = 64;", "", 1, "missing required key 'n'", NULL);
}
END_TEST

START_TEST(test_unreadable_file)
{
    char arch[512], missing[512], dir[512];
    tu_src(arch, sizeof arch, ARCH);
    tu_src(missing, sizeof missing, "workloads/no-such-file.cfg");
    tu_src(dir, sizeof dir, "workloads");
    tu_result r;
    /* A file that cannot be read has no line: the message names the file and why. */
    tu_run(&r, arch, missing, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "no-such-file.cfg: cannot read: No such file or directory"),
                  "got: %s", r.err);
    tu_free(&r);
    tu_run(&r, arch, dir, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "workloads: cannot read: a directory, not a regular file"),
                  "got: %s", r.err);
    tu_free(&r);
    /* A FIFO with no writer and a device would block or never end: both are refused at
     * once, before anything is read. */
    char fifo[512];
    remove(tu_tmp(fifo, sizeof fifo, "fifo.cfg"));
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    tu_run(&r, arch, fifo, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "fifo.cfg: cannot read: a FIFO, not a regular file"), "got: %s",
                  r.err);
    tu_free(&r);
    remove(fifo);
    tu_run(&r, arch, "/dev/zero", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "/dev/zero: cannot read: a character device"), "got: %s", r.err);
    tu_free(&r);
}
END_TEST

/* Writes text to a temporary file named name and returns its path in buf. */
static const char *tmp_file(char *buf, size_t len, const char *name, const char *text)
{
    tu_write(tu_tmp(buf, len, name), text);
    return buf;
}

/* Loads workload text (with n overrides): the status, and the message in err. */
static int load_wl_text(const char *text, const char *const *sets, size_t n, wl_desc *d, char *err,
                        size_t errlen)
{
    char path[512];
    cfg_override ov[4];
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(cfg_parse_override(sets[i], &ov[i], err, errlen), 0);
    int rc = cfg_load_workload(tmp_file(path, sizeof path, "wl.cfg", text), ov, n, d, err, errlen);
    remove(path);
    return rc;
}

#define LINEAR "name = \"w\"; kind = \"butterfly-linear\"; n = 64;\n"

/* libconfig wraps literals past 32 bits; every path in (file, @include, --set) must keep the
 * value or refuse it. */
START_TEST(test_wide_integers)
{
    wl_desc d;
    char err[1024];
    const char *max[] = {"workload.rows=4294967296"}; /* the documented maximum */
    ck_assert_int_eq(load_wl_text(LINEAR "rows = 16;", max, 1, &d, err, sizeof err), 0);
    ck_assert_uint_eq(d.rows, UINT64_C(4294967296));
    const char *seed[] = {"workload.seed=5000000000"};
    ck_assert_int_eq(load_wl_text(LINEAR "rows = 16;", seed, 1, &d, err, sizeof err), 0);
    ck_assert_uint_eq(d.seed, UINT64_C(5000000000));
    const char *past[] = {"workload.rows=4294967297"};
    ck_assert_int_eq(load_wl_text(LINEAR "rows = 16;", past, 1, &d, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "--set workload.rows=4294967297: rows = 4294967297 is out of range"),
                  "got: %s", err);
    const char *huge[] = {"workload.seed=9223372036854775808"};
    ck_assert_int_eq(load_wl_text(LINEAR "rows = 16;", huge, 1, &d, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "--set workload.seed=9223372036854775808: integer "
                              "9223372036854775808 does not fit in 64 bits"),
                  "got: %s", err);
    /* in an included file: 4294967304 would wrap to 8 */
    char inc[512], text[700];
    tmp_file(inc, sizeof inc, "rows.cfg", "\n\nrows = 4294967304;\n");
    snprintf(text, sizeof text, LINEAR "@include \"%s\"\n", inc);
    ck_assert_int_eq(load_wl_text(text, NULL, 0, &d, err, sizeof err), 2);
    char want[600];
    snprintf(want, sizeof want, "%s:3: rows = 4294967304 is out of range", inc);
    ck_assert_msg(strstr(err, want), "want %s, got: %s", want, err);
    remove(inc);
}
END_TEST

/* Included files are read under the top file's checks, and errors name the right file and
 * line: lines after an @include keep their own numbers. */
START_TEST(test_includes)
{
    wl_desc d;
    char err[1024], inc[512], text[900], want[700], dir[512];
    tmp_file(inc, sizeof inc, "part.cfg", "# a comment\nrows = 16;\n");
    snprintf(text, sizeof text, LINEAR "@include \"%s\"\n\nseed = \"x\";\n", inc);
    ck_assert_int_eq(load_wl_text(text, NULL, 0, &d, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "wl.cfg:4: seed: wrong type"), "got: %s", err);
    /* the include itself works */
    snprintf(text, sizeof text, LINEAR "  @include \"%s\"  # rows\n", inc);
    ck_assert_int_eq(load_wl_text(text, NULL, 0, &d, err, sizeof err), 0);
    ck_assert_uint_eq(d.rows, 16);
    /* a directory, a NUL byte, a cycle, a malformed directive */
    snprintf(dir, sizeof dir, "%s", inc);
    *strrchr(dir, '/') = '\0';
    snprintf(text, sizeof text, LINEAR "rows = 1;\n@include \"%s\"\n", dir);
    ck_assert_int_eq(load_wl_text(text, NULL, 0, &d, err, sizeof err), 2);
    snprintf(want, sizeof want, "wl.cfg:3: @include: %s: cannot read: a directory", dir);
    ck_assert_msg(strstr(err, want), "want %s, got: %s", want, err);
    FILE *f = fopen(inc, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite("rows = 1;\0\n", 1, 11, f);
    fclose(f);
    snprintf(text, sizeof text, LINEAR "@include \"%s\"\n", inc);
    ck_assert_int_eq(load_wl_text(text, NULL, 0, &d, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "binary data (a NUL byte)"), "got: %s", err);
    snprintf(text, sizeof text, "@include \"%s\"\n", inc);
    tu_write(inc, text); /* includes itself */
    ck_assert_int_eq(load_wl_text(text, NULL, 0, &d, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "includes nested more than 10 deep"), "got: %s", err);
    ck_assert_int_eq(load_wl_text(LINEAR "@include part.cfg\n", NULL, 0, &d, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "wl.cfg:2: malformed @include"), "got: %s", err);
    /* an included file that ends inside a block comment would swallow the includer's
     * next lines (a duplicate key here) */
    tu_write(inc, "rows = 16;\n/* a note\n");
    snprintf(text, sizeof text, LINEAR "@include \"%s\"\nrows = 99;\n", inc);
    ck_assert_int_eq(load_wl_text(text, NULL, 0, &d, err, sizeof err), 2);
    snprintf(want, sizeof want, "%s:2: the block comment begun here does not end", inc);
    ck_assert_msg(strstr(err, want), "want %s, got: %s", want, err);
    remove(inc);
}
END_TEST

/* libconfig checks each new setting against its group's others: a huge group would take
 * minutes, so groups are capped (and the cap's error comes at once). */
START_TEST(test_settings_capped)
{
    size_t cap = 5000 * 16 + 200, o = 0;
    char *text = malloc(cap);
    o += (size_t)snprintf(text + o, cap - o, LINEAR "rows = 16;\ng = {\n");
    for (int i = 0; i < 5000; i++)
        o += (size_t)snprintf(text + o, cap - o, "k%d = 1;\n", i);
    snprintf(text + o, cap - o, "};\n");
    wl_desc d;
    char err[1024];
    ck_assert_int_eq(load_wl_text(text, NULL, 0, &d, err, sizeof err), 2);
    /* line 3 opens the group; its 4097th setting is on line 3 + 4097 */
    ck_assert_msg(strstr(err, "wl.cfg:4100: more than 4096 settings in one group"), "got: %s", err);
    free(text);
    /* the same group filled by two included files of 3,000 settings each: the limit is
     * the group's, wherever its settings come from (the 4097th is line 1097 of the
     * second file) */
    char a[512], b[512], *part = malloc(3000 * 16);
    size_t m = 0;
    for (int i = 0; i < 3000; i++)
        m += (size_t)snprintf(part + m, 3000 * 16 - m, "k%d = 1;\n", i);
    tmp_file(a, sizeof a, "a.cfg", part);
    for (char *k = strstr(part, "k"); k; k = strstr(k + 1, "\nk"))
        k[k[0] == '\n' ? 1 : 0] = 'j'; /* other names */
    tmp_file(b, sizeof b, "b.cfg", part);
    char top[1400];
    snprintf(top, sizeof top, LINEAR "rows = 16;\ng = {\n@include \"%s\"\n@include \"%s\"\n};\n", a,
             b);
    ck_assert_int_eq(load_wl_text(top, NULL, 0, &d, err, sizeof err), 2);
    char want[600];
    snprintf(want, sizeof want, "%s:1097: more than 4096 settings in one group", b);
    ck_assert_msg(strstr(err, want), "want %s, got: %s", want, err);
    remove(a), remove(b);
    free(part);
}
END_TEST

/* Names go into JSON, YAML, CSV and the terminal: control characters and invalid UTF-8
 * are refused, other text is kept as it is. */
START_TEST(test_names_printable)
{
    wl_desc d;
    char err[1024];
    static const char *const bad[] = {"name = \"a\\nb\";", "name = \"a\xff\";",
                                      "name = \"a\xc0\xaf\";", "name = \"a\\x1b[2J\";"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[200];
        snprintf(text, sizeof text, "kind = \"butterfly-linear\"; n = 64; rows = 16;\n%s\n",
                 bad[i]);
        ck_assert_int_eq(load_wl_text(text, NULL, 0, &d, err, sizeof err), 2);
        ck_assert_msg(strstr(err, "wl.cfg:2: name must be printable UTF-8"), "case %zu: %s", i,
                      err);
    }
    ck_assert_int_eq(load_wl_text("kind = \"butterfly-linear\"; n = 64; rows = 16;\n"
                                  "name = \"caf\xc3\xa9\";\n",
                                  NULL, 0, &d, err, sizeof err),
                     0);
    ck_assert_str_eq(d.name, "caf\xc3\xa9");
    /* a line break in a --set value would hand libconfig a directive of its own */
    cfg_override ov;
    ck_assert_int_eq(
        cfg_parse_override("workload.name=\"a\"\n@include \"/tmp\"", &ov, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "a value is one line"), "got: %s", err);
    /* a digit after a '-' inside a name stays part of it */
    ck_assert_int_eq(
        load_wl_text(LINEAR "rows = 16;\nfoo-3000000000 = 1;\n", NULL, 0, &d, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "unknown key 'foo-3000000000'"), "got: %s", err);
    const char *ctl[] = {"workload.name=a\tb"};
    ck_assert_int_eq(load_wl_text(LINEAR "rows = 16;", ctl, 1, &d, err, sizeof err), 2);
    ck_assert_msg(strstr(err, "--set workload.name=a\tb: name must be printable UTF-8"), "got: %s",
                  err);
}
END_TEST

START_TEST(test_malformed_file)
{
    expect_error(ARCH, "  rows = 4;", "  rows = ;", 0, "malformed file: syntax error", NULL);
    expect_error(WL, "n = 64;", "n = 64; n = 32;", 0, "malformed file", "duplicate");
    expect_error(ARCH, "array = {", "array = {{", 0, "malformed file", NULL);
}
END_TEST

START_TEST(test_set_overrides)
{
    char arch[512], wl[512];
    tu_src(arch, sizeof arch, ARCH);
    tu_src(wl, sizeof wl, WL);
    tu_result r;
    /* Valid overrides change the run. */
    tu_run(&r, "--set", "arch.array.rows=2", "--set=workload.rows=4", "-j", "/dev/null", arch, wl,
           NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "2x4 PEs"), "got: %s", r.out);
    ck_assert_msg(strstr(r.out, "rows=4 "), "got: %s", r.out);
    tu_free(&r);
    /* Unknown paths, bad values and malformed arguments are usage errors naming them. */
    static const char *const cases[][2] = {
        {"arch.array.rowz=4", "--set arch.array.rowz=4: unknown key 'arch.array.rowz'; did you "
                              "mean 'arch.array.rows'?"},
        {"arch.array.rows=0", "--set arch.array.rows=0: array.rows = 0 is out of range"},
        {"arch.array.rows=four", "--set arch.array.rows=four: cannot parse the value 'four'"},
        {"arch.array=4", "--set arch.array=4: 'arch.array' is a group"},
        {"workload.dtype=fp8", "--set workload.dtype=fp8: dtype = \"fp8\" is not allowed"},
        {"model.rows=4", "--set model.rows=4: the key path must start with 'arch.', "
                         "'workload.', 'gpu.' or 'system.'"},
        {"workload.rows", "--set workload.rows: expected FILE.KEY=VALUE"},
        {"workload.n=1;x=2", "--set workload.n=1;x=2: cannot parse the value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_run(&r, "--set", cases[i][0], arch, wl, NULL);
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, cases[i][1]), "case %zu: got: %s", i, r.err);
        tu_free(&r);
    }
}
END_TEST

START_TEST(test_dtype_not_supported)
{
    char arch[512], wl[512], prefix[600];
    tu_src(arch, sizeof arch, ARCH);
    tu_src(wl, sizeof wl, WL);
    char *text = tu_read(wl, NULL);
    int line = tu_line_of(text, "dtype = ");
    free(text);
    tu_result r;
    tu_run(&r, "--set", "arch.pe.dtypes=[\"fp16\"]", "--set", "workload.dtype=fp32", arch, wl,
           NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "dtype = \"fp32\" is not supported by arch mld-4x4"), "got: %s",
                  r.err);
    tu_free(&r);
    /* Without the override the message names the workload file's line. */
    char tmp[512];
    char *orig = tu_read(wl, NULL);
    char *edited = tu_replace(orig, "dtype = \"fp16\"", "dtype = \"fp32\"");
    free(orig);
    tu_write(tu_tmp(tmp, sizeof tmp, "fp32.cfg"), edited);
    tu_run(&r, "--set", "arch.pe.dtypes=[\"fp16\"]", arch, tmp, NULL);
    snprintf(prefix, sizeof prefix, "bflysim: %s:%d: ", tmp, line);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strncmp(r.err, prefix, strlen(prefix)) == 0, "got: %s", r.err);
    tu_free(&r);
    remove(tmp);
    free(edited);
}
END_TEST

/* Seeded random edits of a preset (byte flips, deletions, truncation) must give a valid
 * description or exit status 2, never a crash: each iteration loads the result. */
START_TEST(test_mutated_files_never_crash)
{
    char src[512], tmp[512];
    size_t len;
    char *text = tu_read(tu_src(src, sizeof src, ARCH), &len);
    tu_tmp(tmp, sizeof tmp, "mutant.cfg");
    util_rng rng;
    util_rng_seed(&rng, 2024);
    static const char alphabet[] = "{}[]();=\"#/*,.-L0123456789xe \n";
    int ok = 0, rejected = 0;
    for (int it = 0; it < 400; it++) {
        char *m = malloc(len + 1);
        memcpy(m, text, len + 1);
        size_t n = len;
        int edits = 1 + (int)(util_rng_next(&rng) % 4);
        for (int e = 0; e < edits && n > 0; e++) {
            size_t at = util_rng_next(&rng) % n;
            switch (util_rng_next(&rng) % 3) {
            case 0:
                m[at] = alphabet[util_rng_next(&rng) % (sizeof alphabet - 1)];
                break;
            case 1:
                memmove(m + at, m + at + 1, n - at);
                n--;
                break;
            default:
                m[at] = '\0';
                n = at;
                break;
            }
        }
        m[n] = '\0';
        tu_write(tmp, m);
        arch_desc a;
        char err[1024] = "";
        int rc = cfg_load_arch(tmp, NULL, 0, &a, err, sizeof err);
        ck_assert_msg(rc == UTIL_OK || rc == UTIL_ECONFIG, "iteration %d: status %d", it, rc);
        if (rc) {
            ck_assert_msg(strncmp(err, tmp, strlen(tmp)) == 0, "iteration %d: %s", it, err);
            rejected++;
        } else {
            ok++;
        }
        free(m);
    }
    /* Most mutants break the file; a few (in comments) leave it valid. */
    ck_assert_int_eq(ok + rejected, 400);
    ck_assert_int_gt(rejected, 100);
    remove(tmp);
    free(text);
}
END_TEST

/* Inputs of tests/data/fuzz/ that crashed, hung or exited the loader (docs/FUZZING.md):
 * each is now a config error naming FILE:LINE, from the loader and from bflysim. */
START_TEST(test_fuzz_regressions)
{
    static const struct {
        const char *file, *kind;
        const char *at; /* the file the message names (NULL: file) and its line */
        int line;
        const char *phrase;
    } cases[] = {
        {"tests/data/fuzz/include-dir.cfg", "workload", NULL, 4, "malformed @include"},
        {"tests/data/fuzz/include-nested.cfg", "workload", "tests/data/fuzz/include-dir.cfg", 4,
         "malformed @include"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], at[512], other[512], prefix[600], err[1024] = "";
        bool arch = strcmp(cases[i].kind, "arch") == 0;
        tu_src(path, sizeof path, cases[i].file);
        tu_src(at, sizeof at, cases[i].at ? cases[i].at : cases[i].file);
        tu_src(other, sizeof other, arch ? WL : ARCH); /* the file it is run with */
        snprintf(prefix, sizeof prefix, "%s:%d: ", at, cases[i].line);
        arch_desc a;
        wl_desc w;
        int rc = arch ? cfg_load_arch(path, NULL, 0, &a, err, sizeof err)
                      : cfg_load_workload(path, NULL, 0, &w, err, sizeof err);
        ck_assert_msg(rc == UTIL_ECONFIG, "%s: status %d", cases[i].file, rc);
        ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, cases[i].phrase),
                      "%s: expected '%s' ... '%s', got: %s", cases[i].file, prefix, cases[i].phrase,
                      err);
        tu_result r;
        tu_run(&r, "-q", arch ? path : other, arch ? other : path, NULL);
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, prefix) && strstr(r.err, cases[i].phrase), "%s: got: %s",
                      cases[i].file, r.err);
        tu_free(&r);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_unknown_key);
    tcase_add_test(tc, test_wrong_type);
    tcase_add_test(tc, test_out_of_range);
    tcase_add_test(tc, test_sizes_overflow);
    tcase_add_test(tc, test_missing_required_key);
    tcase_add_test(tc, test_unreadable_file);
    tcase_add_test(tc, test_malformed_file);
    tcase_add_test(tc, test_wide_integers);
    tcase_add_test(tc, test_includes);
    tcase_add_test(tc, test_settings_capped);
    tcase_add_test(tc, test_names_printable);
    tcase_add_test(tc, test_set_overrides);
    tcase_add_test(tc, test_dtype_not_supported);
    tcase_add_test(tc, test_mutated_files_never_crash);
    tcase_add_test(tc, test_fuzz_regressions);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
