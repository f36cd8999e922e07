/* Durable file primitives for the state directory. */
#ifndef ASPD_ATOMIC_FILE_H
#define ASPD_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/* Writes data to path atomically: temporary file in the same directory, fsync,
 * rename over path, fsync of the directory. A crash leaves the old or the new file.
 * On failure err names the file (for the log) and errno says why. */
bool aspd_atomic_write(const char *path, const void *data, size_t len, char *err, size_t err_len);
/* The same with the content in pieces, written one after the other. */
bool aspd_atomic_writev(const char *path, const struct iovec *pieces, size_t count, char *err,
                        size_t err_len);

/* Reads a whole file into a NUL-terminated malloc'd buffer (free with free()).
 * Returns NULL on error; *missing is set to true when the file does not exist. */
char *aspd_read_file(const char *path, size_t *len, bool *missing, char *err, size_t err_len);

/* mkdir -p with mode 0700. */
bool aspd_make_dirs(const char *path, char *err, size_t err_len);

#endif
