/* Admin API calls in the workspace tests (header only: each test is one
 * executable). A test keeps the last reply in `r`; a call that gets another
 * status than the one wanted is a failure, printed with the reply. */
#ifndef ADMIN_TEST_UTIL_H
#define ADMIN_TEST_UTIL_H

#include "admin_http.h"
#include "workspace_test_util.h"

static admin_reply_t r;

static inline bool call_at(admin_http_t *h, const char *method, const char *url, const char *accept,
                           const char *body, long want, const char *file, int line) {
  admin_reply_free(&r);
  long got = admin_http_request(h, method, url, accept, body, &r);
  if (got != want) {
    fprintf(stderr, "FAIL %s:%d: %s %s -> %ld (wanted %ld): %.1000s\n", file, line, method, url,
            got, want, r.text);
    wt_failures++;
    return false;
  }
  return true;
}
#define CALL(h, m, u, a, b, want) call_at(h, m, u, a, b, want, __FILE__, __LINE__)

#endif
