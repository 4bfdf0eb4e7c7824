/* systemc.h: the engine under the SystemC kernel, for C callers (the command line). */
#ifndef BFLY_SYSTEMC_H
#define BFLY_SYSTEMC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../arch/arch.h"
#include "../engine/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One SystemC simulation for runs on arch a (one per process: SystemC has one kernel).
 * With vcd (NULL: none), the waveforms of every run go to that VCD file, over cycles lo
 * .. hi of the runs one after another (hi 0: to the end); the file appears at bsc_close
 * with keep set. A run stops at its next event once *stop (NULL: never) turns nonzero. */
typedef struct bsc_engine bsc_engine;
int bsc_open(const arch_desc *a, const char *vcd, uint64_t lo, uint64_t hi,
             const volatile sig_atomic_t *stop, bsc_engine **out, char *err, size_t errlen);
/* The runner that simulates each program with e's kernel (eng_run_with). */
eng_runner bsc_runner(bsc_engine *e);
/* Ends the simulation: finishes the VCD file (kept or removed) and frees e. */
int bsc_close(bsc_engine *e, bool keep, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
