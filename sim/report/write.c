/* write.c: writes result files whole or not at all (atomic replacement, locked CSV rows),
 * and formats CSV fields. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stdio.h>

#include "../util/util.h"
#include "internal.h"

/* readlink into a buffer that grows until the whole target fits (malloc'd; NULL on
 * error). */
static char *read_link(const char *path)
{
    for (size_t cap = 256; cap <= (1u << 20); cap *= 2) {
        char *buf = malloc(cap);
        if (!buf)
            return NULL;
        ssize_t n = readlink(path, buf, cap);
        if (n >= 0 && (size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
        if (n < 0)
            return NULL;
    }
    return NULL;
}

/* Where a symbolic link at path points (malloc'd), or NULL when path is no link: its
 * resolved target, or for a link whose target does not exist yet, that target relative to
 * the link's folder. */
static char *link_target(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISLNK(sb.st_mode))
        return NULL;
    char *real = realpath(path, NULL);
    if (real)
        return real;
    char *to = read_link(path);
    if (!to)
        return NULL;
    const char *slash = strrchr(path, '/');
    int dir = to[0] == '/' || !slash ? 0 : (int)(slash - path + 1);
    size_t len = (size_t)dir + strlen(to) + 1;
    char *t = malloc(len);
    if (t)
        snprintf(t, len, "%.*s%s", dir, path, to);
    free(to);
    return t;
}

/* When path is the plain file this process's standard output or error goes to
 * (--json /dev/stdout > out.txt): a duplicate of that descriptor, its stream flushed
 * first, so that writes share its offset and follow what was printed (a rename would
 * replace the file, and a descriptor of its own would write over the summary). -1 when
 * path is no such file, -2 when the duplicate fails (errno says why). */
static int std_file_fd(const char *path)
{
    struct stat sb, fd;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return -1;
    for (int k = 1; k <= 2; k++)
        if (fstat(k, &fd) == 0 && fd.st_dev == sb.st_dev && fd.st_ino == sb.st_ino) {
            fflush(k == 1 ? stdout : stderr);
            int d = dup(k);
            return d >= 0 ? d : -2;
        }
    return -1;
}

/* How target is opened when a rename cannot be used: a device or a pipe (/dev/null, a
 * FIFO a plotter reads) in place, standard output's or error's file through its
 * descriptor. NULL with *in_place false means: through a temporary file. */
static FILE *open_in_place(const char *target, bool *in_place)
{
    struct stat sb;
    int d = std_file_fd(target);
    *in_place = d != -1 || (stat(target, &sb) == 0 && !S_ISREG(sb.st_mode));
    if (!*in_place)
        return NULL;
    if (d == -1)
        return fopen(target, "w");
    FILE *f = d >= 0 ? fdopen(d, "w") : NULL;
    if (!f && d >= 0)
        close(d);
    return f;
}

/* The mode a new file gets: target's when it exists, else 0666 less the umask. */
static mode_t mode_for(const char *target)
{
    struct stat sb;
    if (stat(target, &sb) == 0)
        return sb.st_mode & 07777;
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

/* A temporary file beside target (mkstemp: a fresh name, created exclusively, so a link
 * planted under a guessable name is never followed); *tmp gets its name. */
static FILE *open_temp(const char *target, char **tmp)
{
    size_t len = strlen(target) + 16;
    if (!(*tmp = malloc(len)))
        return NULL;
    snprintf(*tmp, len, "%s.XXXXXX", target);
    int d = mkstemp(*tmp);
    if (d < 0)
        return NULL;
    FILE *f = fdopen(d, "w");
    if (!f || fchmod(d, mode_for(target)) != 0) {
        if (f)
            fclose(f);
        else
            close(d);
        unlink(*tmp);
        return NULL;
    }
    return f;
}

/* fsync of the folder holding path, so that a rename into it survives a crash. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path + (slash == path)) : 1,
             slash ? path : ".");
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d >= 0) {
        fsync(d);
        close(d);
    }
}

int rep_write_file(const char *path, void (*fn)(FILE *, const void *), const void *ctx, char *err,
                   size_t errlen)
{
    rep_stream s;
    int rc = rep_stream_open(&s, path, true, err, errlen);
    if (rc)
        return rc;
    fn(s.f, ctx);
    return rep_stream_close(&s, true, path, err, errlen);
}

int rep_stream_open(rep_stream *s, const char *path, bool hold, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->target = link_target(path);
    const char *target = s->target ? s->target : path;
    bool in_place;
    /* in place (a FIFO may wait for its reader): not held, so an interrupt still ends the
     * run; a FIFO or device cannot be left half-replaced */
    s->f = open_in_place(target, &in_place);
    if (!in_place) {
        if ((s->holding = hold))
            util_signals_hold(&s->held);
        s->f = open_temp(target, &s->tmp);
    }
    if (!s->f) {
        int e = errno;
        if (s->holding)
            util_signals_release(&s->held);
        free(s->tmp), free(s->target);
        memset(s, 0, sizeof *s);
        return util_fail(UTIL_ERUN, err, errlen, "%s: cannot write: %s", path, strerror(e));
    }
    return UTIL_OK;
}

int rep_stream_close(rep_stream *s, bool keep, const char *path, char *err, size_t errlen)
{
    if (!s->f)
        return UTIL_OK;
    const char *target = s->target ? s->target : path;
    util_sigmask held;
    util_signals_hold(&held);
    bool ok = fflush(s->f) == 0 && !ferror(s->f);
    ok = ok && (!s->tmp || fsync(fileno(s->f)) == 0);
    ok = (fclose(s->f) == 0) && ok;
    int e = errno, rc = UTIL_OK;
    if (s->tmp) {
        if (keep && ok && rename(s->tmp, target) == 0) {
            sync_dir(target);
        } else {
            if (keep && ok) /* the rename failed */
                e = errno, ok = false;
            unlink(s->tmp);
        }
    }
    if (keep && !ok)
        rc = util_fail(UTIL_ERUN, err, errlen, "%s: cannot write: %s", path, strerror(e));
    util_signals_release(&held);
    if (s->holding)
        util_signals_release(&s->held);
    free(s->tmp), free(s->target);
    memset(s, 0, sizeof *s);
    return rc;
}

static bool write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* Appends to an open, locked CSV file: header and row in one write when it is empty. */
static int append_locked(int fd, const char *path, const char *header, const char *row,
                         const char *what, char *err, size_t errlen)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return util_fail(UTIL_ERUN, err, errlen, "%s: %s", path, strerror(errno));
    size_t hl = strlen(header), rl = strlen(row);
    if (sb.st_size == 0) {
        char *both = malloc(hl + 1 + rl);
        bool ok = both != NULL;
        if (ok) {
            memcpy(both, header, hl);
            both[hl] = '\n';
            memcpy(both + hl + 1, row, rl);
            ok = write_all(fd, both, hl + 1 + rl);
        }
        free(both);
        return ok ? UTIL_OK
                  : util_fail(UTIL_ERUN, err, errlen, "%s: write failed: %s", path,
                              strerror(errno));
    }
    /* Refuse to mix rows of a different layout into an existing file. */
    char *head = malloc(hl + 1);
    ssize_t got = head ? pread(fd, head, hl + 1, 0) : -1;
    bool same = got == (ssize_t)hl + 1 && memcmp(head, header, hl) == 0 && head[hl] == '\n';
    free(head);
    if (!same)
        return util_fail(UTIL_ERUN, err, errlen,
                         "%s: existing file has a different header; not appending (this run "
                         "writes %s)",
                         path, what);
    if (!write_all(fd, row, rl))
        return util_fail(UTIL_ERUN, err, errlen, "%s: write failed: %s", path, strerror(errno));
    return UTIL_OK;
}

int rep_append_row(const char *path, const char *header, const char *row, const char *what,
                   char *err, size_t errlen)
{
    util_sigmask held;
    util_signals_hold(&held);
    int rc = UTIL_OK;
    int d = std_file_fd(path);
    if (d != -1) { /* a stream of its own: the header, then the row */
        bool ok = d >= 0 && write_all(d, header, strlen(header)) && write_all(d, "\n", 1) &&
                  write_all(d, row, strlen(row));
        int e = errno;
        if (d >= 0)
            close(d);
        if (!ok)
            rc = util_fail(UTIL_ERUN, err, errlen, "%s: write failed: %s", path, strerror(e));
    } else {
        int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
        if (fd < 0)
            rc = util_fail(UTIL_ERUN, err, errlen, "%s: cannot open: %s", path, strerror(errno));
        else if (flock(fd, LOCK_EX) != 0)
            rc = util_fail(UTIL_ERUN, err, errlen, "%s: cannot lock: %s", path, strerror(errno));
        else
            rc = append_locked(fd, path, header, row, what, err, errlen);
        if (fd >= 0)
            close(fd);
    }
    util_signals_release(&held);
    return rc;
}

/* ---------------------------------------------------------------- CSV fields */

/* Appends a CSV field, quoted when it holds a comma, quote or newline. */
void csv_field(char *buf, size_t len, size_t *used, const char *s)
{
    if (len == 0)
        return;
    bool quote = strpbrk(s, ",\"\n\r") != NULL;
    /* room kept for the closing quote and the terminator: a field too long is cut, never
     * the buffer left unterminated */
    size_t end = len - 1 - (quote ? 1 : 0);
    if (*used && *used < end)
        buf[(*used)++] = ',';
    if (quote && *used < end)
        buf[(*used)++] = '"';
    for (; *s && *used + (*s == '"' ? 2 : 1) <= end; s++) {
        if (*s == '"')
            buf[(*used)++] = '"';
        buf[(*used)++] = *s;
    }
    if (quote && *used < len - 1)
        buf[(*used)++] = '"';
    buf[*used < len ? *used : len - 1] = '\0';
}

void csv_num(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    csv_field(buf, len, used, tmp);
}

/* The --set overrides, space-separated in the order given: what tells a sweep's rows
 * apart. */
void csv_overrides(char *buf, size_t len, size_t *u, const char *const *ov, size_t n_ov)
{
    char all[REP_CSV_OVERRIDES_MAX] = "";
    size_t n = 0;
    for (size_t i = 0; i < n_ov && n < sizeof all; i++)
        n += (size_t)snprintf(all + n, sizeof all - n, "%s%s", i ? " " : "", ov[i]);
    csv_field(buf, len, u, all);
}
