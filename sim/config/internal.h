/* internal.h: the config text reader (source.c) and the schema (schema.c), shared with the
 * validator (config.c). */
#ifndef BFLY_CONFIG_INTERNAL_H
#define BFLY_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits that bound a config's parse time: libconfig checks each new setting against its
 * group's others, so a group of n settings costs n^2 (100,000 took a minute). */
#define CFG_MAX_GROUP_KEYS 4096
#define CFG_MAX_SETTINGS 65536
#define CFG_MAX_NESTING 32
#define CFG_MAX_INCLUDE_DEPTH 10
#define CFG_MAX_FILES 64

/* Lines first .. of the expanded text come from line `line` on of file `file`. */
typedef struct cfg_span {
    unsigned first, line;
    uint32_t file;
} cfg_span;

/* A config file as libconfig will parse it: its @include directives replaced by the
 * included files' text (each read under the same checks), integer literals widened. */
typedef struct cfg_source {
    char *text;
    size_t len, cap;
    char *files[CFG_MAX_FILES];
    uint32_t n_files;
    cfg_span *span;
    size_t n_span, cap_span;
    unsigned lines;    /* lines of text so far */
    uint64_t settings; /* assignments counted so far */
} cfg_source;

/* Reads file and what it includes (relative paths resolve next to the including file).
 * Errors (UTIL_ECONFIG) name FILE:LINE; *s is to be freed either way. */
int cfg_source_read(cfg_source *s, const char *file, char *err, size_t errlen);
/* name (its first len bytes) as a path: as it is when absolute or when file has no
 * folder, else in file's folder (an @include, an energy table, a system's device). False
 * when it does not fit outlen. */
bool cfg_path_beside(const char *file, const char *name, size_t len, char *out, size_t outlen);
/* The file and line of line `line` (1-based) of the expanded text. */
void cfg_source_where(const cfg_source *s, unsigned line, const char **file, unsigned *file_line);
void cfg_source_free(cfg_source *s);

/* libconfig 1.5 silently wraps integer literals beyond 32 bits (4294967297 reads as 1):
 * copies src with such literals marked 64-bit (an L suffix), refusing literals beyond 63
 * bits, control characters other than tab and newline, and a string or block comment
 * still open at the end. Errors name origin (with ":LINE" when lines is set). *out is
 * NUL-terminated. (The group limits above are checked on the whole expanded text.) */
int cfg_widen(const char *origin, bool lines, const char *src, size_t n, char **out,
              size_t *out_len, char *err, size_t errlen);

/* ---------------------------------------------------------------- schema.c */

typedef enum {
    K_GROUP,
    K_U32,
    K_U64,
    K_F64,
    K_STR,
    K_ENUM,
    K_U32_LIST,
    K_ENUM_MASK,
    K_GROUP_LIST /* a list of groups ( {...}, {...} ) stored in an array of structs */
} key_type;

enum {
    F_REQ = 1u << 0,  /* must be present */
    F_POW2 = 1u << 1, /* integer must be a power of two */
    F_GT = 1u << 2    /* float must be strictly greater than min */
};

typedef struct key_def {
    const char *name;
    key_type type;
    unsigned flags;
    size_t offset;       /* field in the target struct */
    size_t size;         /* K_STR: buffer size; K_U32_LIST, K_GROUP_LIST: capacity */
    size_t count_offset; /* K_U32_LIST, K_GROUP_LIST: uint32_t element count */
    double min, max;     /* inclusive range of numbers (and of list elements) */
    uint32_t scale;      /* stored value = given value * scale (0 means 1); K_GROUP_LIST:
                          * bytes per element struct (children's offsets lie inside one) */
    const char *const *enums;
    const struct key_def *children;
    const char *def; /* default as a libconfig literal; NULL when required */
    const char *unit;
    const char *doc;
} key_def;

#define END_KEYS                                                                                   \
    {                                                                                              \
        NULL, K_GROUP, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL                           \
    }

/* The top-level schemas of each file kind. */
extern const key_def cfg_arch_keys[], cfg_energy_file_keys[], cfg_energy_keys[], cfg_wl_keys[],
    cfg_model_keys[], cfg_gemm_keys[], cfg_mapping_keys[], cfg_gpu_keys[], cfg_system_keys[],
    cfg_peer_keys[], cfg_area_keys[];

/* topology.c: a SCALE-Sim topology CSV (GEMM "Layer, M, N, K" or convolution rows) as a
 * gemm workload; errors name FILE:LINE. */
int cfg_load_topology(const char *file, wl_desc *out, char *err, size_t errlen);
/* Whether a GEMM's MACs (m x n x k x count) stay within CFG_MAX_GEMM_MACS, so that every
 * count and byte figure derived from them fits 64 bits. */
#define CFG_MAX_GEMM_MACS (UINT64_C(1) << 58)
bool cfg_gemm_fits(const wl_gemm *g);

#endif
