/* util.c: shared helpers used by every layer of the simulator. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int util_vfail(int code, char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen > 0)
        vsnprintf(err, errlen, fmt, ap);
    return code;
}

int util_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    util_vfail(code, err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

const char *util_dtype_name(util_dtype t)
{
    return t == UTIL_FP32 ? "fp32" : "fp16";
}

uint32_t util_dtype_bytes(util_dtype t)
{
    return t == UTIL_FP32 ? 4u : 2u;
}

double util_dtype_unit_roundoff(util_dtype t)
{
    return t == UTIL_FP32 ? ldexp(1.0, -24) : ldexp(1.0, -11);
}

float util_round_fp16(float x)
{
    if (isnan(x) || isinf(x) || x == 0.0f)
        return x;
    float ax = fabsf(x);
    /* Values at or beyond 65520 round to infinity (65504 is the largest finite). */
    if (ax >= 65520.0f)
        return copysignf(INFINITY, x);
    int e;
    frexpf(ax, &e); /* ax = f * 2^e with f in [0.5, 1) */
    /* binary16 keeps 11 significant bits for normals (e >= -13); below that the
     * spacing is fixed at 2^-24 (subnormals). */
    int quantum_exp = (e >= -13) ? e - 11 : -24;
    double q = ldexp(1.0, quantum_exp);
    double scaled = (double)ax / q; /* exact: ax has 24 bits, q a power of two */
    double r = nearbyint(scaled);   /* default rounding mode: ties to even */
    return copysignf((float)(r * q), x);
}

float util_round_dtype(util_dtype t, float x)
{
    return t == UTIL_FP16 ? util_round_fp16(x) : x;
}

void util_rng_seed(util_rng *rng, uint64_t seed)
{
    rng->state = seed;
}

uint64_t util_rng_next(util_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double util_rng_uniform(util_rng *rng)
{
    return (double)(util_rng_next(rng) >> 11) * 0x1.0p-53;
}

bool util_is_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

bool util_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

uint64_t util_insert_bit(uint64_t x, uint32_t pos, uint32_t v)
{
    uint64_t low = x & ((UINT64_C(1) << pos) - 1);
    return ((x >> pos) << (pos + 1)) | ((uint64_t)(v & 1u) << pos) | low;
}

uint64_t util_remove_bit(uint64_t x, uint32_t pos)
{
    uint64_t low = x & ((UINT64_C(1) << pos) - 1);
    return ((x >> (pos + 1)) << pos) | low;
}

uint64_t util_low_mask(uint32_t bits)
{
    return bits >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
}

uint64_t util_bit_reverse(uint64_t x, uint32_t bits)
{
    uint64_t y = 0;
    for (uint32_t i = 0; i < bits; i++, x >>= 1)
        y = (y << 1) | (x & 1);
    return y;
}

uint32_t util_popcount(uint64_t x)
{
    uint32_t n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

size_t util_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 255)
        la = 255;
    if (lb > 255)
        lb = 255;
    size_t prev[256], cur[256];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t m = sub < del ? sub : del;
            cur[j] = m < ins ? m : ins;
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

const char *util_closest(const char *name, const char *const *cands, size_t n, size_t limit)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = util_edit_distance(name, cands[i]);
        if (d <= limit && d < best_d)
            best_d = d, best = cands[i];
    }
    return best;
}

void *util_calloc(size_t n, size_t size)
{
    if (n == 0 || size == 0)
        return calloc(1, 1);
    if (n > SIZE_MAX / size)
        return NULL;
    return calloc(n, size);
}

int util_reserve(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return UTIL_OK;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return UTIL_ERUN;
        ncap *= 2;
    }
    void *p = realloc(*buf, ncap * elem);
    if (!p)
        return UTIL_ERUN;
    *buf = p;
    *cap = ncap;
    return UTIL_OK;
}

size_t util_utf8_seq(const char *s, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0];
    size_t n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2
                          : c >= 0xf0 && c < 0xf5 ? 3 : 4;
    if (c == 0 || n == 4)
        return 0;
    uint32_t v = n ? c & (0x3fu >> n) : c;
    for (size_t i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3fu);
    }
    /* overlong forms, surrogates and code points past U+10FFFF */
    static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
    if (v < min_cp[n] || (v >= 0xd800 && v < 0xe000) || v > 0x10ffff)
        return 0;
    if (cp)
        *cp = v;
    return n + 1;
}

bool util_printable_utf8(const char *s)
{
    while (*s) {
        uint32_t cp;
        size_t n = util_utf8_seq(s, &cp);
        if (!n || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) /* C0, DEL and C1 controls */
            return false;
        s += n;
    }
    return true;
}

_Static_assert(sizeof(sigset_t) <= sizeof(((util_sigmask *)0)->saved), "util_sigmask too small");

void util_signals_hold(util_sigmask *m)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    memcpy(m->saved, &old, sizeof old);
}

void util_signals_release(const util_sigmask *m)
{
    sigset_t old;
    memcpy(&old, m->saved, sizeof old);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* What a file that is not regular is, for messages. */
static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

int util_open_regular(const char *path, uint64_t max_bytes, int *fd, uint64_t *size, char *err,
                      size_t errlen)
{
    /* O_NONBLOCK: opening a FIFO with no writer must not wait; fstat then refuses it. */
    int d = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (d < 0)
        return util_fail(UTIL_ECONFIG, err, errlen, "%s: cannot read: %s", path, strerror(errno));
    struct stat st;
    int rc = UTIL_OK;
    if (fstat(d, &st) != 0)
        rc = util_fail(UTIL_ECONFIG, err, errlen, "%s: cannot read: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = util_fail(UTIL_ECONFIG, err, errlen, "%s: cannot read: %s, not a regular file", path,
                       file_kind(st.st_mode));
    else if (max_bytes && (uint64_t)st.st_size > max_bytes)
        rc = util_fail(UTIL_ECONFIG, err, errlen, "%s: file is %lld bytes; at most %llu are read",
                       path, (long long)st.st_size, (unsigned long long)max_bytes);
    else if (fcntl(d, F_SETFL, 0) != 0)
        rc = util_fail(UTIL_ECONFIG, err, errlen, "%s: cannot read: %s", path, strerror(errno));
    if (rc) {
        close(d);
        return rc;
    }
    *fd = d;
    *size = (uint64_t)st.st_size;
    return UTIL_OK;
}

int util_read_regular(const char *path, uint64_t max_bytes, char **text, size_t *len, char *err,
                      size_t errlen)
{
    int fd;
    uint64_t size;
    int rc = util_open_regular(path, max_bytes, &fd, &size, err, errlen);
    if (rc)
        return rc;
    char *buf = malloc((size_t)size + 1);
    size_t n = 0;
    int read_errno = 0;
    while (buf && n < size) {
        ssize_t got = read(fd, buf + n, (size_t)size - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            read_errno = errno;
        if (got <= 0) /* an error, or the file shrank: stop at what is there */
            break;
        n += (size_t)got;
    }
    close(fd);
    if (!buf)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory");
    if (read_errno) {
        free(buf);
        return util_fail(UTIL_ECONFIG, err, errlen, "%s: cannot read: %s", path,
                         strerror(read_errno));
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return UTIL_OK;
}
