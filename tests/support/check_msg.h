/* CHECK(cond, fmt, ...) for tests whose failures need an explanation: each failure is
 * counted and printed with file:line and the message; main() ends with
 * `return check_msg_report("name");`. */
#ifndef CHECK_MSG_H
#define CHECK_MSG_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
      failures++;                                          \
    }                                                      \
  } while (0)

static inline int check_msg_report(const char *name) {
  if (failures) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}

#endif
