/* config.h: libconfig files -> validated arch and workload descriptions; errors name FILE:LINE. */
#ifndef BFLY_CONFIG_H
#define BFLY_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "../arch/arch.h"
#include "../gpu/gpu.h"
#include "../mapper/mapper.h"
#include "../workload/workload.h"

/* Largest config file read (bigger files are an error, not an allocation). */
#define CFG_MAX_FILE_BYTES (16u << 20)

/* One --set FILE.PATH=VALUE argument, e.g. "arch.array.rows=16", "gpu.launch_us=12". */
typedef struct cfg_override {
    char arg[256];   /* the argument as given, for messages */
    char file[16];   /* "arch", "workload" or "gpu" */
    char path[128];  /* dotted key path inside that file */
    char value[128]; /* libconfig literal (strings may omit the quotes) */
} cfg_override;

/* Splits "arch.array.rows=16"; a malformed argument is a usage error. */
int cfg_parse_override(const char *arg, cfg_override *out, char *err, size_t errlen);

/* Loads and validates both files, applies the overrides, and checks that they fit
 * together (the workload's data type must be one the PEs support). */
int cfg_load(const char *arch_file, const char *wl_file, const cfg_override *ov, size_t n_ov,
             arch_desc *arch, wl_desc *wl, char *err, size_t errlen);

int cfg_load_arch(const char *file, const cfg_override *ov, size_t n_ov, arch_desc *out, char *err,
                  size_t errlen);
int cfg_load_workload(const char *file, const cfg_override *ov, size_t n_ov, wl_desc *out,
                      char *err, size_t errlen);

/* Loads a GPU baseline preset (a file of arch/gpu/, docs/GPU.md) with the "gpu" overrides.
 * Negative powers, a zero bandwidth or peak and efficiencies outside (0, 1] are errors
 * naming FILE:LINE. */
int cfg_load_gpu(const char *file, const cfg_override *ov, size_t n_ov, gpu_desc *out, char *err,
                 size_t errlen);
/* The file of a GPU preset given by name ("xavier-nx-15w": gpu/NAME.cfg in the shipped
 * presets' directories) or by path (anything with a '/' or ".cfg", taken as it is). */
int cfg_gpu_preset_path(const char *name, char *path, size_t len, char *err, size_t errlen);

/* Loads a mapping file (--mapping): a list of per-op entries ( { block = 0; op = "q-proj";
 * chain_pes = 4; ... }, ... ), each validated like any config, with its FILE:LINE kept
 * for the mapper's messages. Whether an entry names a real op is checked by the run. */
int cfg_load_mapping(const char *file, map_forced *out, char *err, size_t errlen);

/* Prints every key of every file kind: type, range, default and meaning. */
void cfg_print_keys(FILE *f);

#endif
