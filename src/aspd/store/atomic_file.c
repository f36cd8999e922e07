#include "store/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool fail(char *err, size_t err_len, const char *what, const char *path) {
  snprintf(err, err_len, "%s %s: %s", what, path, strerror(errno));
  return false;
}

/* Cleans up after a failed write, keeping errno: callers report its cause. */
static bool abandon(int fd, const char *tmp) {
  int cause = errno;
  if (fd >= 0) close(fd);
  unlink(tmp);
  errno = cause;
  return false;
}

static bool sync_parent_dir(const char *path, char *err, size_t err_len) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  const char *dir = dirname(copy);
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return fail(err, err_len, "open directory", dir);
  bool ok = fsync(fd) == 0;
  if (!ok) fail(err, err_len, "fsync directory", dir);
  close(fd);
  return ok;
}

bool aspd_atomic_writev(const char *path, const struct iovec *pieces, size_t count, char *err,
                        size_t err_len) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) return fail(err, err_len, "create", tmp);
  for (size_t i = 0; i < count; i++) {
    const char *p = pieces[i].iov_base;
    size_t left = pieces[i].iov_len;
    while (left > 0) {
      ssize_t n = write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        fail(err, err_len, "write", tmp);
        return abandon(fd, tmp);
      }
      p += n;
      left -= (size_t)n;
    }
  }
  if (fsync(fd) != 0) {
    fail(err, err_len, "fsync", tmp);
    return abandon(fd, tmp);
  }
  close(fd);
  if (rename(tmp, path) != 0) {
    fail(err, err_len, "rename onto", path);
    return abandon(-1, tmp);
  }
  return sync_parent_dir(path, err, err_len);
}

bool aspd_atomic_write(const char *path, const void *data, size_t len, char *err, size_t err_len) {
  struct iovec piece = {.iov_base = (void *)(uintptr_t)data, .iov_len = len};
  return aspd_atomic_writev(path, &piece, 1, err, err_len);
}

char *aspd_read_file(const char *path, size_t *len, bool *missing, char *err, size_t err_len) {
  *missing = false;
  FILE *f = fopen(path, "rb");
  if (!f) {
    *missing = errno == ENOENT;
    fail(err, err_len, "open", path);
    return NULL;
  }
  size_t cap = 4096, used = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (used + 1 >= cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
    size_t n = fread(buf + used, 1, cap - used - 1, f);
    used += n;
    if (n == 0) break;
  }
  if (ferror(f)) {
    fail(err, err_len, "read", path);
    fclose(f);
    free(buf);
    return NULL;
  }
  fclose(f);
  buf[used] = '\0';
  if (len) *len = used;
  return buf;
}

bool aspd_make_dirs(const char *path, char *err, size_t err_len) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  for (char *p = copy + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(copy, 0700) != 0 && errno != EEXIST) return fail(err, err_len, "mkdir", copy);
    *p = '/';
  }
  if (mkdir(copy, 0700) != 0 && errno != EEXIST) return fail(err, err_len, "mkdir", copy);
  return true;
}
