/* check_cli.c: options, exit statuses, and the JSON and CSV outputs of the command line. */
#define _DEFAULT_SOURCE /* usleep */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

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
    /* every option the parser takes, the gpu. override prefix, the exit statuses and
     * where bugs go */
    static const char *const opts[] = {
        "--set",         "--json",         "--csv",       "--functional",    "--quiet",
        "--list-keys",   "--inject-fault", "--help",      "--version",       "--model",
        "--mapping",     "--dump-mapping", "--accelergy", "--explain",       "--no-chain",
        "--no-fuse",     "--objective",    "--baseline",  "--gpu-calibrate", "--progress",
        "--no-progress", "'gpu'",          "Exit status", " 130, 143",       "Report bugs"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        ck_assert_msg(strstr(r.out, opts[i]), "--help lacks %s", opts[i]);
    ck_assert(strncmp(r.out, "Usage: bflysim [OPTION]... ARCH WORKLOAD\n", 41) == 0);
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
        {"--inject-fault=lane", NULL, NULL, "the faults are 'twiddle'"},
        {"--no", NULL, NULL,
         "option '--no' is ambiguous; possibilities: '--no-chain' "
         "'--no-fuse' '--no-progress'"},
        {"-qZ", NULL, NULL, "invalid option -- 'Z'"},
        {"-qj", NULL, NULL, "option requires an argument -- 'j'"},
        {"--qui=1", NULL, NULL, "option '--quiet' doesn't allow an argument"},
        {"--=x", NULL, NULL, "unrecognized option '--=x'\n"},
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

/* getopt_long's conventions: bundled short options, an option's value attached or next,
 * unambiguous long prefixes, options after the operands, and -- ending the options. */
START_TEST(test_gnu_option_syntax)
{
    char a[512], w[512], j1[512], j2[512];
    tu_src(a, sizeof a, ARCH);
    tu_src(w, sizeof w, WL);
    tu_tmp(j1, sizeof j1, "one.json");
    tu_tmp(j2, sizeof j2, "two.json");
    tu_result r;
    /* -qfj FILE: quiet, functional and the JSON file, in one word */
    tu_run(&r, "-qfj", j1, a, w, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "");
    tu_free(&r);
    char *one = tu_read(j1, NULL);
    ck_assert_msg(strstr(one, "\"functional\": {"), "no functional check in the JSON");
    /* the same run spelled with long prefixes, the options after the operands */
    tu_run(&r, a, w, "--qui", "--func", "--js", j2, NULL);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "");
    tu_free(&r);
    char *two = tu_read(j2, NULL);
    /* the records differ only in the command line they quote */
    char *inv1 = strstr(one, "\"invocation\""), *inv2 = strstr(two, "\"invocation\"");
    ck_assert_ptr_nonnull(inv1);
    ck_assert_ptr_nonnull(inv2);
    char *end1 = strchr(inv1, ']'), *end2 = strchr(inv2, ']');
    ck_assert_str_eq(end1, end2);
    free(one);
    free(two);
    /* JSON holds only text: a byte of the command line that is not UTF-8 (a file name in
     * another encoding) is written as U+FFFD, never as itself */
    char odd[600];
    snprintf(odd, sizeof odd, "%s\xff.json", j1);
    tu_run(&r, "-q", "-j", odd, a, w, NULL);
    ck_assert_int_eq(r.status, 0);
    tu_free(&r);
    char *t = tu_read(odd, NULL);
    ck_assert_msg(strstr(t, ".json\\ufffd.json\"") || strstr(t, "\\ufffd.json\""),
                  "no U+FFFD in the invocation");
    for (const char *c = t; *c; c++)
        ck_assert_msg((unsigned char)*c < 0x80, "a non-ASCII byte in the JSON");
    free(t);
    remove(odd);
    /* after --, a word starting with '-' is an operand */
    tu_expect(2, "-q: no such file", "-q", "--", a, "-q", NULL);
    remove(j1);
    remove(j2);
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

/* Entries of path's folder whose names start with path's file name. */
static int count_prefixed(const char *path)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    const char *base = slash + 1;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c '^%s'", dir, base);
    FILE *p = popen(cmd, "r");
    int n = -1;
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

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
    /* no temporary file is left behind: nothing else in the folder starts with the name */
    ck_assert_int_eq(count_prefixed(json), 1);
    /* the file keeps its mode: a private result stays private */
    ck_assert_int_eq(chmod(json, 0600), 0);
    tu_run(&r, "-q", "--json", json, a, w, NULL);
    ck_assert_int_eq(r.status, 0);
    tu_free(&r);
    struct stat sb;
    ck_assert_int_eq(stat(json, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    /* a link planted where the old writer put its temporary file (PATH.tmp.PID) is not
     * followed: its target is left as it was */
    char victim[512], planted[600];
    tu_write(tu_tmp(victim, sizeof victim, "victim"), "untouched");
    snprintf(planted, sizeof planted, "%s.tmp.%ld", json, (long)getpid());
    ck_assert_int_eq(symlink(victim, planted), 0);
    tu_run(&r, "-q", "--json", json, a, w, NULL);
    ck_assert_int_eq(r.status, 0);
    tu_free(&r);
    char *v = tu_read(victim, NULL);
    ck_assert_str_eq(v, "untouched");
    free(v);
    remove(planted);
    remove(victim);
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
/* A link whose target is a long path (past the 511 bytes the old writer kept) still
 * leads to its target, which does not exist yet. */
START_TEST(test_long_link_target)
{
    char a[512], w[512], link[512], target[512], to[1200] = "";
    tu_src(a, sizeof a, ARCH);
    tu_src(w, sizeof w, WL);
    tu_tmp(link, sizeof link, "link.json");
    remove(tu_tmp(target, sizeof target, "far.json"));
    while (strlen(to) < 900)
        strcat(to, "./");
    strcat(to, strrchr(target, '/') + 1);
    remove(link);
    ck_assert_int_eq(symlink(to, link), 0);
    tu_result r;
    tu_run(&r, "-q", "--json", link, a, w, NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    tu_free(&r);
    struct stat sb;
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    char *text = tu_read(target, NULL);
    ck_assert(text[0] == '{');
    free(text);
    remove(link);
    remove(target);
}
END_TEST

/* Whether a CSV file is whole: a header and at least one row (a run creates the file to
 * write a row), every line ending in a newline with the header's fields. */
static bool csv_whole(const char *text)
{
    const char *nl = strchr(text, '\n');
    if (!nl || !nl[1])
        return false;
    int fields = 1;
    for (const char *p = text; p < nl; p++)
        fields += *p == ',';
    for (const char *p = nl + 1; *p;) {
        const char *e = strchr(p, '\n');
        if (!e)
            return false;
        int f = 1;
        for (const char *q = p; q < e; q++)
            f += *q == ',';
        if (f != fields)
            return false;
        p = e + 1;
    }
    return true;
}

/* Runs the command in a child killed by sig after delay_us (none: 0); its wait status. */
static int run_killed(const char *const *argv, int argc, int sig, useconds_t delay_us)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* as bflysim starts: Check's own handlers (which kill the test's process group)
         * are not inherited by a real run */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        FILE *null = fopen("/dev/null", "w");
        _exit(cli_main(argc, (char **)argv, null, null));
    }
    if (sig) {
        usleep(delay_us);
        kill(pid, sig);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

/* SIGINT or SIGTERM at any moment ends the run with that signal (the shell reports 130
 * or 143) and leaves each output whole or absent, with no temporary file behind. */
START_TEST(test_interrupt_leaves_outputs_whole)
{
    char a[512], w[512], json[512], csv[512], map[512];
    tu_src(a, sizeof a, "arch/mld-8x8.cfg");
    tu_src(w, sizeof w, "workloads/fabnet-image-1k.cfg");
    tu_tmp(json, sizeof json, "int.json");
    tu_tmp(csv, sizeof csv, "int.csv");
    tu_tmp(map, sizeof map, "int.map");
    const char *argv[] = {"bflysim", "-q", "-m", "analytical",     "-j",
                          json,      "-c", csv,  "--dump-mapping", map,
                          a,         w,    NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int st = run_killed(argv, argc, 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    double run_us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
    int killed = 0;
    for (int k = 0; k < 12; k++) {
        remove(json), remove(map);
        int sig = k % 2 ? SIGTERM : SIGINT;
        /* delays over the whole run, the last ones near its end, where it writes */
        st = run_killed(argv, argc, sig, (useconds_t)(run_us * (0.5 + 0.05 * k)));
        ck_assert_msg((WIFSIGNALED(st) && WTERMSIG(st) == sig) ||
                          (WIFEXITED(st) && WEXITSTATUS(st) == 0),
                      "delay %d: wait status %#x", k, st);
        killed += WIFSIGNALED(st);
        const char *const outs[] = {json, csv, map};
        for (int i = 0; i < 3; i++)
            ck_assert_msg(count_prefixed(outs[i]) <= 1, "a temporary file beside %s", outs[i]);
        if (access(json, F_OK) == 0) {
            size_t n;
            char *text = tu_read(json, &n);
            ck_assert_msg(n > 2 && text[0] == '{' && !strcmp(text + n - 2, "}\n"),
                          "a half-written JSON after delay %d", k);
            free(text);
        }
        if (access(csv, F_OK) == 0) {
            char *text = tu_read(csv, NULL);
            ck_assert_msg(csv_whole(text), "a half-written CSV after delay %d:\n%s", k, text);
            free(text);
        }
    }
    ck_assert_int_gt(killed, 0);
    remove(json), remove(csv), remove(map);
    /* a JSON bound for a FIFO nobody reads waits in open(), with signals not held: SIGTERM
     * still ends the run (held, it would wait forever) */
    char fifo[512];
    remove(tu_tmp(fifo, sizeof fifo, "int.fifo"));
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    const char *to_fifo[] = {"bflysim", "-q", "-m", "analytical", "-j", fifo, a, w, NULL};
    st = run_killed(to_fifo, 8, SIGTERM, (useconds_t)(run_us * 1.5 + 200000));
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "wait status %#x", st);
    remove(fifo);
}
END_TEST

/* ARCH and WORKLOAD may be preset names, looked up in $BFLYSIM_DATADIR first; an unknown
 * name lists the presets and the nearest. */
START_TEST(test_preset_names)
{
    tu_result r;
    tu_run(&r, "mld-4x4", "butterfly-linear-64", NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "4x4 PEs"), "got: %s", r.out);
    tu_free(&r);
    tu_run(&r, "mld-4x4", "fabnet-txt-4k", NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "fabnet-txt-4k: no such file, and no workload preset of that "
                                "name") &&
                      strstr(r.err, "did you mean 'fabnet-text-4k'?"),
                  "got: %s", r.err);
    tu_free(&r);
    /* a data directory of one's own comes first: its arch/tiny.cfg is found by name */
    char dir[512], sub[600], cfg[700], src[512];
    tu_tmp(dir, sizeof dir, "data");
    remove(dir);
    snprintf(sub, sizeof sub, "%s/arch", dir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(cfg, sizeof cfg, "%s/tiny.cfg", sub);
    char *text = tu_read(tu_src(src, sizeof src, ARCH), NULL);
    char *named = tu_replace(text, "name = \"mld-4x4\"", "name = \"tiny\"");
    /* (no energy table: the folder has none) */
    char *edited = tu_replace(named, "table = \"energy/12nm.cfg\";", "");
    free(named);
    tu_write(cfg, edited);
    free(text);
    free(edited);
    char *old = getenv("BFLYSIM_DATADIR") ? strdup(getenv("BFLYSIM_DATADIR")) : NULL;
    setenv("BFLYSIM_DATADIR", dir, 1);
    char wl[512];
    tu_run(&r, "--baseline", "none", "tiny", tu_src(wl, sizeof wl, WL), NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "arch       tiny (tiny)"), "got: %s", r.out);
    tu_free(&r);
    if (old)
        setenv("BFLYSIM_DATADIR", old, 1);
    free(old);
    remove(cfg), remove(sub), remove(dir);
}
END_TEST

/* --progress prints a line per step on stderr (not a terminal here: whole lines), ending
 * with every step done; without it a non-terminal gets none. Nothing of it reaches stdout
 * or the JSON. */
START_TEST(test_progress_line)
{
    char a[512], w[512], json[512];
    tu_src(a, sizeof a, "arch/mld-8x8.cfg");
    tu_src(w, sizeof w, "workloads/fabnet-image-1k.cfg");
    tu_tmp(json, sizeof json, "p.json");
    tu_result r, quiet;
    tu_run(&r, "--progress", "-m", "analytical", "-s", "workload.seq_len=256", "-j", json, a, w,
           NULL);
    ck_assert_msg(r.status == 0, "%s", r.err);
    unsigned long long done, total;
    const char *last = strstr(r.err, "bflysim: "), *p;
    ck_assert_ptr_nonnull(last);
    while ((p = strstr(last + 1, "bflysim: ")))
        last = p;
    ck_assert_int_eq(sscanf(last, "bflysim: %llu of %llu steps", &done, &total), 2);
    ck_assert_uint_eq(done, total);
    ck_assert_uint_gt(total, 0);
    char *text = tu_read(json, NULL);
    ck_assert_ptr_null(strstr(text, "cycles/s"));
    free(text);
    tu_run(&quiet, "-m", "analytical", "-s", "workload.seq_len=256", "-j", json, a, w, NULL);
    ck_assert_int_eq(quiet.status, 0);
    ck_assert_str_eq(quiet.err, "");
    ck_assert_str_eq(quiet.out, r.out);
    tu_free(&r);
    tu_free(&quiet);
    remove(json);
}
END_TEST

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
    /* a model far past the limit is refused from its activations alone, before mapping */
    tu_expect(2,
              "--functional keeps the whole DRAM image in memory: this model "
              "needs at least",
              "-q", "-f", "mld-8x8", "fabnet-16k", NULL);
}
END_TEST

/* Counts a Ramulator2 LoadStoreTrace's lines, checking each is "LD 0x..." or "ST 0x..."
 * with a burst-aligned address below `limit` bytes, and that the file ends in a newline. */
static void count_trace(const char *path, uint64_t burst, uint64_t limit, uint64_t *ld,
                        uint64_t *st)
{
    size_t len;
    char *text = tu_read(path, &len);
    *ld = *st = 0;
    ck_assert(len > 0 && text[len - 1] == '\n');
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        unsigned long long addr;
        char kind[3], rest;
        ck_assert_msg(sscanf(line, "%2s 0x%llx%c", kind, &addr, &rest) == 2, "line: %s", line);
        ck_assert_msg(!strcmp(kind, "LD") || !strcmp(kind, "ST"), "line: %s", line);
        ck_assert_msg(addr % burst == 0 && addr < limit, "address 0x%llx", addr);
        *(kind[0] == 'L' ? ld : st) += 1;
    }
    free(text);
}

/* --dram-trace: every DRAM burst the engine counts is a line (the counters' read and
 * write bursts, exactly; a model's timing run simulates one instance of each block
 * entry, which its counters count repeat times), the same run writes the same file, and
 * the runs that issue no bursts (the estimate, a system) are refused before anything is
 * written. */
START_TEST(test_dram_trace)
{
    char trace[512], json[512], again[512];
    tu_tmp(trace, sizeof trace, "dram.trace");
    tu_tmp(json, sizeof json, "dram.json");
    tu_tmp(again, sizeof again, "dram2.trace");
    static const char *const runs[][4] = {
        {"mld-8x8", "butterfly-linear-64", "workload.rows=16", "1"},
        {"mld-4x4", "bert-base-image-1k", "workload.seq_len=32", "12"},
    };
    for (size_t i = 0; i < 2; i++) {
        tu_result r;
        tu_run(&r, "-q", "--dram-trace", trace, "-j", json, "-s", runs[i][2], runs[i][0],
               runs[i][1], NULL);
        ck_assert_msg(r.status == 0, "%s", r.err);
        tu_free(&r);
        char *js = tu_read(json, NULL);
        double rd = tu_json_num(js, "\"dram\"", "read_bursts"),
               wr = tu_json_num(js, "\"dram\"", "write_bursts");
        free(js);
        uint64_t ld, st, rep = (uint64_t)atoi(runs[i][3]);
        count_trace(trace, 64, UINT64_C(1) << 40, &ld, &st);
        ck_assert_msg((double)(ld * rep) == rd && (double)(st * rep) == wr,
                      "%s: %llu LD, %llu ST x %llu, counters %g and %g", runs[i][1],
                      (unsigned long long)ld, (unsigned long long)st, (unsigned long long)rep, rd,
                      wr);
        ck_assert(ld > 0 && st > 0);
        tu_run(&r, "-q", "--dram-trace", again, "-s", runs[i][2], runs[i][0], runs[i][1], NULL);
        ck_assert_int_eq(r.status, 0);
        tu_free(&r);
        char *t1 = tu_read(trace, NULL), *t2 = tu_read(again, NULL);
        ck_assert_msg(strcmp(t1, t2) == 0, "run to run");
        free(t1), free(t2);
    }
    remove(trace);
    tu_expect(2, "--dram-trace needs --model=cycle", "-q", "-m", "analytical", "--dram-trace",
              trace, "mld-8x8", "butterfly-linear-64", NULL);
    tu_expect(2, "--dram-trace is not supported for system runs", "-q", "--dram-trace", trace,
              "mld-8x8-ring4", "bert-base-image-1k", NULL);
    struct stat sb;
    ck_assert_msg(stat(trace, &sb) != 0, "a refused run wrote its trace");
    remove(json), remove(again);
}
END_TEST

/* An interrupt during a traced run (SIGINT or SIGTERM, sent while the engine runs) stops
 * the engine, finishes the trace's gzip stream (zlib reads it whole: complete rows, the
 * op row of the unit cut short last), leaves no temporary file and no JSON, and ends
 * with 128 + the signal. */
START_TEST(test_trace_interrupted)
{
    char a[512], w[512], trace[512], json[512];
    tu_src(a, sizeof a, "arch/mld-8x8.cfg");
    tu_src(w, sizeof w, "workloads/fabnet-text-4k.cfg");
    tu_tmp(trace, sizeof trace, "cut.csv.gz");
    tu_tmp(json, sizeof json, "cut.json");
    const char *argv[] = {"bflysim", "-q", "--trace", trace, "-j", json, a, w, NULL};
    int cut = 0;
    for (int k = 0; k < 4; k++) {
        remove(trace), remove(json);
        int sig = k % 2 ? SIGTERM : SIGINT;
        int st = run_killed(argv, 8, sig, (useconds_t)(200000 + 100000 * k));
        ck_assert_msg(WIFEXITED(st), "wait status %#x", st);
        ck_assert_int_eq(count_prefixed(trace), 1);
        if (WEXITSTATUS(st) == 0)
            continue; /* it finished first */
        ck_assert_int_eq(WEXITSTATUS(st), 128 + sig);
        ck_assert_msg(access(json, F_OK) != 0, "an interrupted run wrote its JSON");
        gzFile gz = gzopen(trace, "rb");
        ck_assert_ptr_nonnull(gz);
        char line[512], last[512] = "";
        while (gzgets(gz, line, sizeof line)) {
            ck_assert_msg(line[strlen(line) - 1] == '\n', "a cut row: %s", line);
            snprintf(last, sizeof last, "%s", line);
        }
        ck_assert_int_eq(gzclose(gz), Z_OK);
        ck_assert_msg(strstr(last, ",op,op,"), "the last row: %s", last);
        cut++;
    }
    ck_assert_int_gt(cut, 0);
    remove(trace), remove(json);
}
END_TEST

/* Sums of one trace's rows: per PE the MAC busy cycles, all NoC flits and DRAM bytes,
 * rows per kind; checks the header and that no component's cycles go backwards. */
typedef struct trace_sums {
    double pe_busy[64], flits, dram_bytes, spm_words, dma_bytes;
    double op_cycles; /* the op rows' durations: the units' cycles */
    uint64_t rows[6]; /* pe, noc, dram, op, spm, dma */
    uint64_t lo, hi;  /* the events' (not the ops') first and last cycle */
} trace_sums;

static void read_trace(const char *path, trace_sums *t)
{
    memset(t, 0, sizeof *t);
    t->lo = UINT64_MAX;
    gzFile gz = gzopen(path, "rb");
    ck_assert_ptr_nonnull(gz);
    char line[512], comps[256][32];
    uint64_t last[256];
    uint32_t n_comps = 0;
    ck_assert(gzgets(gz, line, sizeof line) && strncmp(line, "# bflysim trace 1:", 18) == 0);
    ck_assert(gzgets(gz, line, sizeof line) &&
              strcmp(line, "cycle,component,kind,tag,op,duration,amount\n") == 0);
    static const char *const kinds[] = {"pe", "noc", "dram", "op", "spm", "dma"};
    while (gzgets(gz, line, sizeof line)) {
        unsigned long long cycle, dur, amount;
        char comp[32], kind[8], tag[24], op[64];
        ck_assert_msg(sscanf(line, "%llu,%31[^,],%7[^,],%23[^,],%63[^,],%llu,%llu", &cycle, comp,
                             kind, tag, op, &dur, &amount) == 7 ||
                          sscanf(line, "%llu,%31[^,],%7[^,],,%63[^,],%llu,%llu", &cycle, comp, kind,
                                 op, &dur, &amount) == 6,
                      "row: %s", line);
        uint32_t c = 0;
        while (c < n_comps && strcmp(comps[c], comp))
            c++;
        if (c == n_comps) {
            ck_assert(n_comps < 256);
            snprintf(comps[n_comps], sizeof comps[0], "%s", comp);
            last[n_comps++] = 0;
        }
        ck_assert_msg(cycle >= last[c], "%s went back from %llu to %llu", comp,
                      (unsigned long long)last[c], cycle);
        last[c] = cycle;
        int k = 0;
        while (k < 6 && strcmp(kind, kinds[k]))
            k++;
        ck_assert_msg(k < 6, "kind %s", kind);
        t->rows[k]++;
        t->spm_words += k == 4 ? (double)amount : 0;
        t->dma_bytes += k == 5 ? (double)amount : 0;
        t->op_cycles += k == 3 ? (double)dur : 0;
        if (k != 3)
            t->lo = cycle < t->lo ? cycle : t->lo, t->hi = cycle > t->hi ? cycle : t->hi;
        if (k == 0) {
            int pe = atoi(comp + 2);
            ck_assert(pe >= 0 && pe < 64);
            t->pe_busy[pe] += (double)amount;
        }
        t->flits += k == 1 ? (double)amount : 0;
        t->dram_bytes += k == 2 ? (double)amount : 0;
    }
    ck_assert_int_eq(gzclose(gz), Z_OK);
}

/* --trace: a gzip stream (zlib reads it whole; gzip -t agrees where gzip exists) whose
 * rows add up to the run's counters (each PE's MAC busy cycles, the NoC's flits, the
 * DRAM's bytes) and never go back in time for a component; --trace-events keeps only the
 * kinds asked for; bad kinds and runs without engine events are refused. */
START_TEST(test_event_trace)
{
    char trace[512], json[512], cmd[1200];
    tu_tmp(trace, sizeof trace, "events.csv.gz");
    tu_tmp(json, sizeof json, "events.json");
    static const char *const runs[][4] = {
        {"mld-8x8", "butterfly-linear-64", "workload.rows=16", "workload.rows=16"},
        {"mld-4x4", "bert-base-image-1k", "workload.blocks.0.repeat=1", "workload.seq_len=32"},
    };
    for (size_t i = 0; i < 2; i++) {
        tu_result r;
        tu_run(&r, "-q", "--trace", trace, "-j", json, "-s", runs[i][2], "-s", runs[i][3],
               runs[i][0], runs[i][1], NULL);
        ck_assert_msg(r.status == 0, "%s", r.err);
        tu_free(&r);
        trace_sums t;
        read_trace(trace, &t);
        char *js = tu_read(json, NULL);
        tu_assert_close(t.flits, tu_json_num(js, "\"noc\"", "flits"), 0, "NoC flits");
        tu_assert_close(t.dram_bytes,
                        tu_json_num(js, "\"dram\"", "read_bytes") +
                            tu_json_num(js, "\"dram\"", "write_bytes"),
                        0, "DRAM bytes");
        tu_assert_close(t.spm_words,
                        tu_json_num(js, "\"spm\"", "reads") + tu_json_num(js, "\"spm\"", "writes"),
                        0, "SPM words");
        tu_assert_close(t.dma_bytes, tu_json_num(js, "\"dma\"", "bytes"), 0, "DMA bytes");
        /* one instance of each block (repeat 1): the units' cycles add up to the run's */
        tu_assert_close(t.op_cycles, tu_json_num(js, "\"results\"", "cycles"), 0, "op cycles");
        /* each PE's MAC busy cycles, in the order the JSON lists the PEs */
        const char *at = strstr(js, "\"pes\"");
        int pes = 0;
        while (at && (at = strstr(at, "\"fu_busy_cycles\"")) != NULL && pes < 64) {
            at = strstr(at, "\"mac\": ");
            ck_assert_ptr_nonnull(at);
            tu_assert_close(t.pe_busy[pes++], strtod(at + 7, NULL), 0, "a PE's MAC busy cycles");
        }
        ck_assert_int_eq(pes, i ? 16 : 64);
        free(js);
        ck_assert(t.rows[0] && t.rows[1] && t.rows[2] && t.rows[3] && t.rows[4] && t.rows[5]);
        snprintf(cmd, sizeof cmd, "command -v gzip >/dev/null 2>&1 || exit 0; gzip -t '%s'", trace);
        ck_assert_int_eq(system(cmd), 0);
    }
    /* --trace-sample 4: the first of every 4 events of each kind; --trace-window: only
     * the events from cycle 1000 to 2000 */
    trace_sums all, part;
    tu_result r;
    tu_run(&r, "-q", "--trace", trace, "mld-8x8", "butterfly-linear-64", NULL);
    ck_assert_int_eq(r.status, 0);
    tu_free(&r);
    read_trace(trace, &all);
    tu_run(&r, "-q", "--trace", trace, "--trace-sample", "4", "mld-8x8", "butterfly-linear-64",
           NULL);
    ck_assert_int_eq(r.status, 0);
    tu_free(&r);
    read_trace(trace, &part);
    for (int k = 0; k < 6; k++)
        if (k != 3)
            ck_assert_uint_eq(part.rows[k], (all.rows[k] + 3) / 4);
    ck_assert_uint_eq(part.rows[3], all.rows[3]);
    tu_run(&r, "-q", "--trace", trace, "--trace-window", "1000:2000", "mld-8x8",
           "butterfly-linear-64", NULL);
    ck_assert_int_eq(r.status, 0);
    tu_free(&r);
    read_trace(trace, &part);
    ck_assert(part.lo >= 1000 && part.hi < 2000 && all.lo < 1000 && all.hi >= 2000);
    ck_assert(part.rows[0] + part.rows[1] + part.rows[2] + part.rows[4] + part.rows[5] > 0);
    tu_expect(2, "--trace-window=5:3: expected START:END", "-q", "--trace", trace, "--trace-window",
              "5:3", "mld-8x8", "butterfly-linear-64", NULL);
    tu_expect(2, "--trace-sample=0: expected a whole number", "-q", "--trace", trace,
              "--trace-sample", "0", "mld-8x8", "butterfly-linear-64", NULL);
    tu_run(&r, "-q", "--trace", trace, "--trace-events", "dram,op", "mld-8x8",
           "butterfly-linear-64", NULL);
    ck_assert_int_eq(r.status, 0);
    tu_free(&r);
    trace_sums t;
    read_trace(trace, &t);
    ck_assert(!t.rows[0] && !t.rows[1] && t.rows[2] && t.rows[3] == 1 && !t.rows[4] && !t.rows[5]);
    remove(trace);
    tu_expect(2, "--trace-events=dram,cache: unknown kind 'cache'", "-q", "--trace", trace,
              "--trace-events", "dram,cache", "mld-8x8", "butterfly-linear-64", NULL);
    tu_expect(2, "--trace needs --model=cycle", "-q", "-m", "analytical", "--trace", trace,
              "mld-8x8", "butterfly-linear-64", NULL);
    tu_expect(2, "--trace-events needs --trace FILE", "-q", "--trace-events", "pe", "mld-8x8",
              "butterfly-linear-64", NULL);
    struct stat sb;
    ck_assert_msg(stat(trace, &sb) != 0, "a refused run wrote its trace");
    remove(json);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_help_and_version);
    tcase_add_test(tc, test_usage_errors_exit_2);
    tcase_add_test(tc, test_gnu_option_syntax);
    tcase_add_test(tc, test_long_link_target);
    tcase_add_test(tc, test_preset_names);
    tcase_add_test(tc, test_progress_line);
    tcase_add_test(tc, test_interrupt_leaves_outputs_whole);
    tcase_add_test(tc, test_summary_and_quiet);
    tcase_add_test(tc, test_csv_appends_with_one_header);
    tcase_add_test(tc, test_json_replaces_atomically);
    tcase_add_test(tc, test_json_to_fifo_and_link);
    tcase_add_test(tc, test_functional_limit_is_usage_error);
    tcase_add_test(tc, test_busy_and_useful_utilization);
    tcase_add_test(tc, test_dram_trace);
    tcase_add_test(tc, test_event_trace);
    tcase_add_test(tc, test_trace_interrupted);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
