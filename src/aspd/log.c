#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void aspd_log(const char *fmt, ...) {
  /* Format into one buffer so lines from concurrent connections never interleave. */
  char line[1024];
  struct timespec now;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  int n =
      snprintf(line, sizeof line, "aspd %04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", line);
}

void aspd_log_persist_failure(const char *what, const char *detail, int why, char *out,
                              size_t out_len) {
  aspd_log("could not persist %s: %s", what, detail);
  snprintf(out, out_len, "could not persist the change: %s; nothing was changed", strerror(why));
}
