/* cli.h: the bflysim command line as a library call, so tests can run it in-process. */
#ifndef BFLY_CLI_H
#define BFLY_CLI_H

#include <stdio.h>

/* Runs bflysim with argv (argv[0] is the program name), printing results to out and
 * diagnostics to err. Returns the exit status: 0 ok, 1 run failure, 2 usage or
 * config error, 3 functional mismatch. */
int cli_main(int argc, char **argv, FILE *out, FILE *err);

#endif
