/* config.h: libconfig files -> validated arch and workload descriptions; errors name FILE:LINE. */
#ifndef BFLY_CONFIG_H
#define BFLY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../arch/arch.h"
#include "../gpu/gpu.h"
#include "../mapper/mapper.h"
#include "../peer/peer.h"
#include "../system/system.h"
#include "../workload/workload.h"

/* Largest config file read (bigger files are an error, not an allocation). */
#define CFG_MAX_FILE_BYTES (16u << 20)

/* One --set FILE.PATH=VALUE argument, e.g. "arch.array.rows=16", "gpu.launch_us=12". */
typedef struct cfg_override {
    char arg[256];   /* the argument as given, for messages */
    char file[16];   /* "arch", "workload", "gpu" or "system" */
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

/* ---------------------------------------------------------------- presets (presets.c) */

#define CFG_DIR_MAX 1024
#define CFG_NAME_MAX 64
#define CFG_DATA_DIRS 4

/* The data directories presets are looked up in, in order: $BFLYSIM_DATADIR, the
 * installed layout next to the running program (BINDIR/../share/bflysim, so a moved
 * install still works), the program's own folder when it holds arch/ (a build tree), and
 * the configured pkgdatadir. Returns how many exist (at most max). */
uint32_t cfg_data_dirs(char dirs[][CFG_DIR_MAX], uint32_t max);
/* Looks for rel ("arch/energy/12nm.cfg") in the data directories; true with path set when
 * one has it, else each path tried is added to tried. */
bool cfg_find_data(const char *rel, char *path, size_t len, char *tried, size_t tried_len);

typedef enum {
    CFG_PRESET_ARCH,
    CFG_PRESET_WORKLOAD,
    CFG_PRESET_GPU,
    CFG_PRESET_SYSTEM,
    CFG_PRESET_PEER,
    CFG_PRESET_COUNT
} cfg_preset_kind;
/* The file of an ARCH, WORKLOAD or --baseline argument: a file as it is (anything that
 * exists, holds a '/' or ".cfg"), else the shipped preset of that name
 * (arch/NAME.cfg, workloads/NAME.cfg, arch/gpu/NAME.cfg, arch/systems/NAME.cfg,
 * arch/peers/NAME.cfg in the first data directory
 * that has it). Unknown names are errors listing the presets, with the nearest. */
int cfg_preset_path(cfg_preset_kind kind, const char *name, char *path, size_t len, char *err,
                    size_t errlen);
/* The names of a kind's presets (sorted; at most max) and the folder they are in. */
int cfg_list_presets(cfg_preset_kind kind, char names[][CFG_NAME_MAX], uint32_t max, char *dir,
                     size_t dir_len);

/* Loads a GPU baseline preset (a file of arch/gpu/, docs/GPU.md) with the "gpu" overrides.
 * Negative powers, a zero bandwidth or peak and efficiencies outside (0, 1] are errors
 * naming FILE:LINE. */
int cfg_load_gpu(const char *file, const cfg_override *ov, size_t n_ov, gpu_desc *out, char *err,
                 size_t errlen);

/* Loads a system file (arch/systems/, docs/SYSTEM.md) with the "system" overrides. */
int cfg_load_system(const char *file, const cfg_override *ov, size_t n_ov, sys_desc *out, char *err,
                    size_t errlen);
/* Whether file reads as a system file (kind = "system"); false for anything else, errors
 * included (loading it then says what is wrong). */
bool cfg_is_system(const char *file);

/* Loads a peer accelerator's preset (arch/peers/, kind = "peer"); --set arch.KEY=VALUE
 * overrides its keys. */
int cfg_load_peer(const char *file, const cfg_override *ov, size_t n_ov, peer_desc *out, char *err,
                  size_t errlen);
/* Whether file (an ARCH argument) is a peer accelerator's preset. */
bool cfg_is_peer(const char *file);

/* A design-space sweep (docs/SWEEPS.md): the arch and workload, fixed overrides, and axes
 * of --set values, expanded into points (the product of the axes, zipped axes advancing
 * together, the last axis fastest). */
#define CFG_SWEEP_MAX_AXES 16
#define CFG_SWEEP_MAX_VALUES 256
#define CFG_SWEEP_MAX_SETS 32
#define CFG_SWEEP_MAX_POINTS 1000000
#define CFG_SWEEP_VALUE_MAX 64
#define CFG_SWEEP_SET_MAX 256
typedef struct cfg_sweep_axis {
    char key[160]; /* "arch.array.rows" */
    uint32_t n_values;
    char values[CFG_SWEEP_MAX_VALUES][CFG_SWEEP_VALUE_MAX]; /* --set literals */
    uint32_t zip;                                           /* its zip group + 1 (0: none) */
} cfg_sweep_axis;
typedef struct cfg_sweep {
    char arch[CFG_DIR_MAX], workload[CFG_DIR_MAX], output[CFG_DIR_MAX], baseline[128];
    bool analytical;
    uint32_t n_sets;
    cfg_override sets[CFG_SWEEP_MAX_SETS]; /* every point's */
    uint32_t n_axes;
    cfg_sweep_axis axes[CFG_SWEEP_MAX_AXES];
} cfg_sweep;
/* Loads and validates a sweep spec (errors name FILE:LINE, UTIL_ECONFIG). */
int cfg_load_sweep(const char *file, cfg_sweep *out, char *err, size_t errlen);
/* The number of points (more than CFG_SWEEP_MAX_POINTS when it overflows). */
uint64_t cfg_sweep_points(const cfg_sweep *s);
/* Point k's overrides: the fixed sets, then one per axis ("FILE.KEY=VALUE"). */
void cfg_sweep_point(const cfg_sweep *s, uint64_t k, char out[][CFG_SWEEP_SET_MAX]);
/* A point's id: 16 hex digits of FNV-1a over its overrides in order, each ended by a
 * newline, so the same overrides give the same id in every run. */
void cfg_point_id(const char *const *sets, size_t n, char id[17]);

/* Loads a mapping file (--mapping): a list of per-op entries ( { block = 0; op = "q-proj";
 * chain_pes = 4; ... }, ... ), each validated like any config, with its FILE:LINE kept
 * for the mapper's messages. Whether an entry names a real op is checked by the run. */
int cfg_load_mapping(const char *file, map_forced *out, char *err, size_t errlen);

/* Prints every key of every file kind: type, range, default and meaning. */
void cfg_print_keys(FILE *f);

#endif
