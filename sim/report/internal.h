/* internal.h: report's file writers (write.c), shared by the result formats (report.c). */
#ifndef BFLY_REPORT_INTERNAL_H
#define BFLY_REPORT_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

/* Writes a document (fn(f, ctx)) to path so that it is whole or absent whatever happens:
 * through a temporary file in path's directory (mkstemp), given path's mode when it
 * exists, synced and renamed into place, with SIGINT, SIGTERM and SIGHUP held meanwhile.
 * A symbolic link keeps pointing where it did (its target is replaced); a device, a FIFO
 * or the file standard output goes to is written in place. */
int rep_write_file(const char *path, void (*fn)(FILE *, const void *), const void *ctx, char *err,
                   size_t errlen);

/* Appends row (ending in a newline) to the CSV file path under an exclusive lock, the
 * header line first when the file is new or empty; refuses a file whose first line is
 * another header (what names the layout in that message). Signals are held as above, so a
 * row is whole or absent. */
int rep_append_row(const char *path, const char *header, const char *row, const char *what,
                   char *err, size_t errlen);

#endif
