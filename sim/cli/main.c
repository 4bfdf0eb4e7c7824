/* main.c: the bflysim program entry point. */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv, stdout, stderr);
}

/* libsystemc has a main() of its own that calls sc_main: bflysim's main() is used
 * instead, so this is never called, but the library needs it defined. */
int sc_main(int argc, char **argv);
int sc_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    return 1;
}
