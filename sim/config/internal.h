/* internal.h: the config text reader (source.c), shared with the validator (config.c). */
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
/* The file and line of line `line` (1-based) of the expanded text. */
void cfg_source_where(const cfg_source *s, unsigned line, const char **file, unsigned *file_line);
void cfg_source_free(cfg_source *s);

/* libconfig 1.5 silently wraps integer literals beyond 32 bits (4294967297 reads as 1):
 * copies src with such literals marked 64-bit (an L suffix), refusing literals beyond 63
 * bits, control characters other than tab and newline, and groups past the limits above.
 * Errors name origin (with ":LINE" when lines is set). *out is NUL-terminated. */
int cfg_widen(const char *origin, bool lines, const char *src, size_t n, char **out,
              size_t *out_len, uint64_t *settings, char *err, size_t errlen);

#endif
