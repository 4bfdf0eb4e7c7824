/* util.h: small shared helpers (status codes, error text, FP16 rounding, seeded RNG, integer math).
 */
#ifndef BFLY_UTIL_H
#define BFLY_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Status codes double as the program's exit status. */
enum {
    UTIL_OK = 0,
    UTIL_ERUN = 1,     /* the run failed (infeasible mapping, I/O error, internal error) */
    UTIL_ECONFIG = 2,  /* usage or configuration error */
    UTIL_EMISMATCH = 3 /* functional output differs from the reference */
};

/* Writes a formatted message into err (if err is non-NULL) and returns code. */
int util_fail(int code, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int util_vfail(int code, char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Element data types of the simulated datapath. */
typedef enum { UTIL_FP16 = 0, UTIL_FP32 = 1, UTIL_DTYPE_COUNT } util_dtype;
const char *util_dtype_name(util_dtype t);
uint32_t util_dtype_bytes(util_dtype t);
/* Unit roundoff of the type: 2^-11 for FP16, 2^-24 for FP32. */
double util_dtype_unit_roundoff(util_dtype t);

/* Rounds a float to the nearest IEEE binary16 value (ties to even), returned as float.
 * Overflow gives +-inf, tiny values become subnormal or signed zero, NaN stays NaN. */
float util_round_fp16(float x);
float util_round_dtype(util_dtype t, float x);

/* Seeded generator (splitmix64): the same seed gives the same stream on every host. */
typedef struct util_rng {
    uint64_t state;
} util_rng;
void util_rng_seed(util_rng *rng, uint64_t seed);
uint64_t util_rng_next(util_rng *rng);
/* Uniform double in [0, 1) with 53 random bits. */
double util_rng_uniform(util_rng *rng);

bool util_is_pow2(uint64_t x);
/* The small helpers below are inline: the engine's and the estimate's hot paths call them
 * across files millions of times a run (5% of an analytical run's time in calls). */

/* floor(log2(x)) for x > 0 (0 for 0). */
static inline uint32_t util_log2(uint64_t x)
{
    return x ? 63u - (uint32_t)__builtin_clzll(x) : 0;
}
static inline uint64_t util_ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}
/* Returns false when a*b overflows 64 bits. */
bool util_mul_u64(uint64_t a, uint64_t b, uint64_t *out);
/* Inserts bit value v at position pos of x (bits at and above pos move up one). */
uint64_t util_insert_bit(uint64_t x, uint32_t pos, uint32_t v);
/* Removes the bit at position pos of x (bits above move down one). */
uint64_t util_remove_bit(uint64_t x, uint32_t pos);
/* The low `bits` bits set (all 64 for bits >= 64). */
uint64_t util_low_mask(uint32_t bits);
/* The low `bits` bits of x in reverse order. */
uint64_t util_bit_reverse(uint64_t x, uint32_t bits);
/* The bits of x at the set bits of mask, packed low first. */
static inline uint64_t util_extract_bits(uint64_t x, uint64_t mask)
{
    uint64_t y = 0;
    for (uint32_t k = 0; mask; mask &= mask - 1, k++)
        if (x & mask & (~mask + 1))
            y |= UINT64_C(1) << k;
    return y;
}
/* The low bits of x, lowest first, placed at the set bits of mask. */
static inline uint64_t util_deposit_bits(uint64_t x, uint64_t mask)
{
    uint64_t y = 0;
    for (; mask; mask &= mask - 1, x >>= 1)
        if (x & 1)
            y |= mask & (~mask + 1);
    return y;
}
/* Set bits of x. */
uint32_t util_popcount(uint64_t x);

/* Levenshtein distance between two short strings (capped at 255 characters each). */
size_t util_edit_distance(const char *a, const char *b);
/* The first of the n candidates nearest to name within limit edits (for "did you
 * mean"); NULL when none is. */
const char *util_closest(const char *name, const char *const *cands, size_t n, size_t limit);

/* Bytes of the valid UTF-8 sequence at s (1 to 4; *cp its code point when cp is set), 0
 * when s starts with an invalid byte or the terminator. */
size_t util_utf8_seq(const char *s, uint32_t *cp);
/* Whether s is valid UTF-8 with no control characters (C0, DEL or C1): safe in a name
 * that goes into JSON, YAML, CSV and a terminal. */
bool util_printable_utf8(const char *s);

/* Opens path read-only when it is a regular file of at most max_bytes (0: any size),
 * refusing a directory, FIFO, device or socket without blocking on it; *size gets its
 * size. Errors (UTIL_ECONFIG) name the file and the reason. */
int util_open_regular(const char *path, uint64_t max_bytes, int *fd, uint64_t *size, char *err,
                      size_t errlen);
/* Reads such a file whole into a NUL-terminated buffer (caller frees). */
int util_read_regular(const char *path, uint64_t max_bytes, char **text, size_t *len, char *err,
                      size_t errlen);

/* The signals that end a run from outside (SIGINT, SIGTERM, SIGHUP) held back while a
 * file is replaced or a row appended, so that an interrupt leaves it whole or absent:
 * hold saves the mask before, release restores it (a held signal then arrives). */
typedef struct util_sigmask {
    unsigned char saved[256]; /* a sigset_t, kept opaque so util.h needs no POSIX types */
} util_sigmask;
void util_signals_hold(util_sigmask *m);
void util_signals_release(const util_sigmask *m);

/* calloc with an overflow-checked size; NULL on overflow or exhaustion. */
void *util_calloc(size_t n, size_t size);
/* Grows *buf (element size elem) to hold at least need elements; doubles capacity. */
int util_reserve(void **buf, size_t *cap, size_t need, size_t elem);

#endif
