/* check_cli.c: options, exit statuses, and the JSON and CSV outputs of the command line. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../sim/cli/cli.h"
#include "../sim/report/report.h"
#include "testutil.h"

#define ARCH "arch/mld-4x4.cfg"
#define WL "workloads/butterfly-linear-64.cfg"

START_TEST(test_help_and_version)
{
    tu_result r;
    tu_run(&r, "--help", NULL);
    ck_assert_int_eq(r.status, 0);
    static const char *const opts[] = {"--set",     "--json",      "--csv",          "--functional",
                                       "--quiet",   "--list-keys", "--inject-fault", "--help",
                                       "--version", "Exit status"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        ck_assert_msg(strstr(r.out, opts[i]), "--help lacks %s", opts[i]);
    ck_assert(strncmp(r.out, "Usage: bflysim [OPTION]... ARCH.cfg WORKLOAD.cfg", 48) == 0);
    tu_free(&r);
    tu_run(&r, "-V", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert(strncmp(r.out, "bflysim ", 8) == 0);
    tu_free(&r);
    tu_run(&r, "--list-keys", NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert(strstr(r.out, "arch.array.rows") && strstr(r.out, "workload.n "));
    ck_assert(strstr(r.out, "arch.noc.skip") && strstr(r.out, "default []"));
    tu_free(&r);
}
END_TEST

START_TEST(test_usage_errors_exit_2)
{
    char a[512], w[512];
    tu_src(a, sizeof a, ARCH);
    tu_src(w, sizeof w, WL);
    const char *const cases[][4] = {
        {"--frobnicate", NULL, NULL, "unrecognized option '--frobnicate'\n"},
        {"--chain", NULL, NULL, "unrecognized option '--chain'; did you mean '--no-chain'?"},
        {"--jsno=x", NULL, NULL, "unrecognized option '--jsno=x'; did you mean '--json'?"},
        {a, NULL, NULL, "expected ARCH.cfg and WORKLOAD.cfg"},
        {a, w, "extra.cfg", "unexpected argument 'extra.cfg'"},
        {"--json", NULL, NULL, "option '--json' requires an argument"},
        {"--quiet=yes", NULL, NULL, "option '--quiet' doesn't allow an argument"},
        {"--inject-fault=lane", NULL, NULL, "the only fault is 'twiddle'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_result r;
        const char *argv[3];
        int n = 0;
        for (int k = 0; k < 3 && cases[i][k]; k++)
            argv[n++] = cases[i][k];
        tu_runv(&r, n, argv);
        ck_assert_int_eq(r.status, 2);
        ck_assert_msg(strstr(r.err, cases[i][3]), "case %zu: %s", i, r.err);
        tu_free(&r);
    }
    tu_result r;
    tu_run(&r, "--inject-fault=twiddle", a, w, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert(strstr(r.err, "--inject-fault needs --functional"));
    tu_free(&r);
}
END_TEST

START_TEST(test_summary_and_quiet)
{
    char a[512], w[512];
    tu_src(a, sizeof a, ARCH);
    tu_src(w, sizeof w, WL);
    tu_result r;
    tu_run(&r, a, w, NULL);
    ck_assert_int_eq(r.status, 0);
    static const char *const lines[] = {"arch ",   "workload ", "mapping ", "cycles ", "PE util ",
                                        "bounds ", "DRAM ",     "SPM ",     "NoC "};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        ck_assert_msg(strstr(r.out, lines[i]), "summary lacks %s", lines[i]);
    ck_assert_str_eq(r.err, "");
    tu_free(&r);
    tu_run(&r, "-q", a, w, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "");
    tu_free(&r);
}
END_TEST

START_TEST(test_csv_appends_with_one_header)
{
    char a[512], w[512], csv[512];
    tu_src(a, sizeof a, ARCH);
    tu_src(w, sizeof w, WL);
    tu_tmp(csv, sizeof csv, "runs.csv");
    remove(csv); /* a new file */
    for (int i = 0; i < 3; i++) {
        char set[64];
        snprintf(set, sizeof set, "workload.rows=%d", 4 << i);
        tu_result r;
        tu_run(&r, "-q", "--csv", csv, "--set", set, a, w, NULL);
        ck_assert_int_eq(r.status, 0);
        tu_free(&r);
    }
    char *text = tu_read(csv, NULL);
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 4);
    size_t hl = strlen(rep_csv_header());
    ck_assert(strncmp(text, rep_csv_header(), hl) == 0 && text[hl] == '\n');
    ck_assert(strncmp(text, "arch,workload,kind,mode,n,rows,", 31) == 0);
    ck_assert(strstr(text, "\nmld-4x4,butterfly-linear-64,butterfly-linear,cycle,64,4,fp16,"));
    ck_assert(strstr(text, "\nmld-4x4,butterfly-linear-64,butterfly-linear,cycle,64,16,fp16,"));
    /* every row has as many fields as the header */
    int header_commas = 0, commas = 0;
    for (const char *p = text; *p != '\n'; p++)
        header_commas += *p == ',';
    for (const char *p = text; *p; p++)
        commas += *p == ',';
    ck_assert_int_eq(commas, 4 * header_commas);
    free(text);
    /* A file with another header is refused and left as it was. */
    tu_write(csv, "something,else\n1,2\n");
    tu_result r;
    tu_run(&r, "-q", "--csv", csv, a, w, NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert(strstr(r.err, "existing file has a different header"));
    tu_free(&r);
    text = tu_read(csv, NULL);
    ck_assert_str_eq(text, "something,else\n1,2\n");
    free(text);
    remove(csv);
}
END_TEST

START_TEST(test_json_replaces_atomically)
{
    char a[512], w[512], json[512];
    tu_src(a, sizeof a, ARCH);
    tu_src(w, sizeof w, WL);
    tu_tmp(json, sizeof json, "out.json");
    tu_write(json, "old contents");
    tu_result r;
    tu_run(&r, "-q", "--json", json, a, w, NULL);
    ck_assert_int_eq(r.status, 0);
    tu_free(&r);
    char *text = tu_read(json, NULL);
    ck_assert(text[0] == '{');
    static const char *const keys[] = {"\"arch\"",
                                       "\"workload\"",
                                       "\"mapping\"",
                                       "\"results\"",
                                       "\"counters\"",
                                       "\"pes\"",
                                       "\"cycles\"",
                                       "\"noc\"",
                                       "\"spm\"",
                                       "\"dram\"",
                                       "\"bank_conflicts\"",
                                       "\"flit_hops\"",
                                       "\"fu_busy_cycles\"",
                                       "\"functional\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(strstr(text, keys[i]), "JSON lacks %s", keys[i]);
    free(text);
    /* no temporary file is left behind */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", json, (long)getpid());
    ck_assert_int_ne(access(tmp, F_OK), 0);
    /* an unwritable destination is a run failure with the path in the message */
    tu_run(&r, "-q", "--json", "/nonexistent-dir/x.json", a, w, NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert(strstr(r.err, "/nonexistent-dir/x.json: cannot write"));
    tu_free(&r);
    remove(json);
}
END_TEST

/* A JSON written to a FIFO (a plotter reading the run as it ends) goes through the FIFO,
 * which stays a FIFO; one written to a symbolic link replaces the link's target and
 * leaves the link in place. (Renaming a temporary file over either would put a plain file
 * there instead: over /dev/null, as root, that breaks the machine.) */
START_TEST(test_json_to_fifo_and_link)
{
    char a[512], w[512], fifo[512], copy[512], target[512], link[512];
    tu_src(a, sizeof a, ARCH);
    tu_src(w, sizeof w, WL);
    tu_tmp(fifo, sizeof fifo, "plot.fifo");
    tu_tmp(copy, sizeof copy, "plot.copy");
    remove(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    pid_t reader = fork();
    ck_assert_int_ge(reader, 0);
    if (reader == 0) { /* copies what comes through the FIFO (for 30 s at most) */
        alarm(30);
        FILE *in = fopen(fifo, "r"), *out = fopen(copy, "w");
        int c;
        while (in && out && (c = fgetc(in)) != EOF)
            fputc(c, out);
        _exit(in && out && fclose(out) == 0 ? 0 : 1);
    }
    tu_result r;
    tu_run(&r, "-q", "--json", fifo, a, w, NULL);
    /* a run that never opened the FIFO leaves the reader waiting for a writer: one
     * that opens and closes it at once ends the copy (empty, so the test fails) */
    int unblock = open(fifo, O_WRONLY | O_NONBLOCK);
    if (unblock >= 0)
        close(unblock);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    int st;
    ck_assert_int_eq(waitpid(reader, &st, 0), reader);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct stat sb;
    ck_assert_int_eq(lstat(fifo, &sb), 0);
    ck_assert(S_ISFIFO(sb.st_mode));
    char *text = tu_read(copy, NULL);
    ck_assert(text[0] == '{' && strstr(text, "\"cycles\""));
    free(text);
    remove(fifo);
    remove(copy);

    tu_tmp(target, sizeof target, "latest-target.json");
    tu_tmp(link, sizeof link, "latest.json");
    tu_write(target, "old contents");
    remove(link);
    ck_assert_int_eq(symlink(target, link), 0);
    tu_run(&r, "-q", "--json", link, a, w, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    text = tu_read(target, NULL);
    ck_assert(text[0] == '{' && strstr(text, "\"cycles\""));
    free(text);
    remove(link);
    remove(target);

    /* a link whose target does not exist yet: the target is made, the link stays */
    ck_assert_int_eq(symlink(target, link), 0);
    tu_run(&r, "-q", "--json", link, a, w, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    ck_assert(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode));
    text = tu_read(target, NULL);
    ck_assert(text[0] == '{');
    free(text);
    remove(link);
    remove(target);

    /* --json and --csv /dev/stdout with the output sent to a file: the summary, then the
     * JSON and the CSV (its header and row, as on a fresh stream) */
    char both[512];
    tu_tmp(both, sizeof both, "both.txt");
    pid_t run = fork();
    ck_assert_int_ge(run, 0);
    if (run == 0) {
        int fd = open(both, O_WRONLY | O_TRUNC);
        if (fd < 0 || dup2(fd, 1) < 0)
            _exit(9);
        char *argv[] = {"bflysim", "--json", "/dev/stdout", "--csv", "/dev/stdout", a, w, NULL};
        exit(cli_main(7, argv, stdout, stderr));
    }
    ck_assert_int_eq(waitpid(run, &st, 0), run);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    text = tu_read(both, NULL);
    const char *cycles = strstr(text, "\ncycles "), *json = strstr(text, "\n{\n"),
               *csv = strstr(text, "\narch,workload,");
    ck_assert(cycles && json && cycles < json && strstr(json, "\"counters\""));
    ck_assert(csv && cycles < csv && strstr(csv, "\nmld-4x4,butterfly-linear-64,"));
    free(text);
    remove(both);
}
END_TEST

/* Lanes without a pair to work on count as busy but not useful: the mapper puts a
 * 4-point butterfly on mld-4x4 on two layers of one PE (fewer PEs to configure than
 * 2 rows x 2 columns), so each PE has 2 pairs: 4 MAC vector operations of 8 lanes for
 * 8 useful lane operations, so 2 x 8 = 16 useful lane ops in 2 x 32 = 64 busy
 * lane-cycles. */
START_TEST(test_busy_and_useful_utilization)
{
    char a[512], w[512], json[512];
    tu_src(a, sizeof a, ARCH);
    tu_src(w, sizeof w, WL);
    tu_tmp(json, sizeof json, "u.json");
    tu_result r;
    tu_run(&r, "-q", "-j", json, "--set", "workload.n=4", "--set", "workload.rows=1", a, w, NULL);
    ck_assert_int_eq(r.status, 0);
    tu_free(&r);
    char *text = tu_read(json, NULL);
    ck_assert(strstr(text, "\"useful_ops\": 16,"));
    ck_assert(strstr(text, "\"rows_used\": 1,"));
    ck_assert(strstr(text, "\"busy_lane_cycles\": 64,"));
    free(text);
    remove(json);
}
END_TEST

/* Functional runs hold the whole data set in memory: beyond 2^22 elements that is a
 * usage error (2) before anything is allocated. */
START_TEST(test_functional_limit_is_usage_error)
{
    char a[512], w[512];
    tu_src(a, sizeof a, ARCH);
    tu_src(w, sizeof w, WL);
    tu_result r;
    tu_run(&r, "-q", "-f", "--set", "workload.n=65536", "--set", "workload.rows=128", a, w, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert(strstr(r.err, "--functional handles at most 2^22 elements"));
    tu_free(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_help_and_version);
    tcase_add_test(tc, test_usage_errors_exit_2);
    tcase_add_test(tc, test_summary_and_quiet);
    tcase_add_test(tc, test_csv_appends_with_one_header);
    tcase_add_test(tc, test_json_replaces_atomically);
    tcase_add_test(tc, test_json_to_fifo_and_link);
    tcase_add_test(tc, test_functional_limit_is_usage_error);
    tcase_add_test(tc, test_busy_and_useful_utilization);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
