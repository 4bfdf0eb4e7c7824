/* dramtrace.c: a run's DRAM bursts as a Ramulator2 LoadStoreTrace: one line per burst. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "report.h"

/* Ramulator2's LoadStoreTrace front end reads one request per line, "LD 0xADDR" or
 * "ST 0xADDR" (frontend/impl/memory_trace/loadstore_trace.cpp). */
static void burst_line(void *ctx, uint64_t cycle, uint64_t byte_addr, bool write)
{
    rep_dram_trace *t = ctx;
    (void)cycle;
    if (fprintf(t->out.f, "%s 0x%" PRIx64 "\n", write ? "ST" : "LD", byte_addr) < 0)
        t->failed = true;
    *(write ? &t->writes : &t->reads) += 1;
}

int rep_dram_trace_open(rep_dram_trace *t, const char *path, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    int rc = rep_stream_open(&t->out, path, false, err, errlen);
    t->obs = (eng_observer){.dram_burst = burst_line, .ctx = t};
    return rc;
}

int rep_dram_trace_close(rep_dram_trace *t, bool keep, const char *path, char *err, size_t errlen)
{
    return rep_stream_close(&t->out, keep && !t->failed, path, err, errlen);
}
