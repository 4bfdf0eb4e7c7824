/* traces.h: the trace files of one run (--trace, --timeline, --dram-trace), for cli.c. */
#ifndef BFLY_CLI_TRACES_H
#define BFLY_CLI_TRACES_H

#include <signal.h>

#include "../report/report.h"
#include "../run/run.h"
#include "internal.h"

typedef struct cli_traces {
    rep_trace ev;
    rep_timeline tl;
    rep_dram_trace dram;
    rep_fanout fan;          /* the open ones */
    struct bsc_engine *sc;   /* --engine=systemc (with --vcd's waveforms) */
    eng_runner runner;       /* its runner */
    bool trapped;            /* SIGINT and SIGTERM stop the run (a trace is open) */
    struct sigaction old[2]; /* SIGINT's and SIGTERM's handlers before the run */
} cli_traces;

/* Opens the traces o asks for (none: nothing to do) and the SystemC engine where asked;
 * with a trace, SIGINT and SIGTERM stop the run at its next event until
 * cli_traces_close. */
int cli_traces_open(const options *o, const arch_desc *a, cli_traces *t, char *msg, size_t len);
/* Who the engine tells (NULL: no trace). */
const eng_observer *cli_traces_observer(const cli_traces *t);
/* Who simulates (NULL: the native engine). */
const eng_runner *cli_traces_engine(const cli_traces *t);
/* Sets a model run's observer, unit hook and engine. */
void cli_traces_unit(cli_traces *t, run_progress *rp);
/* Closes them, kept when the run (status rc) ended well or was interrupted: returns rc,
 * a trace's failure when rc was OK, or 128 + the signal that interrupted the run (msg
 * says which). */
int cli_traces_close(const options *o, cli_traces *t, int rc, char *msg, size_t len);

#endif
