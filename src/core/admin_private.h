/* Internals shared by the Admin API client's files (admin_*.c); not public (asp_admin.h). */
#ifndef ASP_ADMIN_PRIVATE_H
#define ASP_ADMIN_PRIVATE_H

#include <curl/curl.h>
#include <sys/types.h>

#include "asp_admin.h"

typedef enum { ASP_ADMIN_AUTH_DIGEST, ASP_ADMIN_AUTH_SERVICE_ACCOUNT } asp_admin_auth_t;

struct asp_admin_t {
  char *base_url; /* no trailing slash */
  char *group_id;
  asp_admin_auth_t auth;
  char *user;   /* public key or client id */
  char *secret; /* private key or client secret */
  char *ca_file;
  int32_t timeout_ms;
  int32_t retries;
  CURL *curl;                  /* one handle: its connection stays alive between calls */
  pid_t pid;                   /* the process that made curl's connections (see admin_http.c) */
  char *token;                 /* service accounts: the cached access token, or NULL */
  int64_t token_refresh_at_us; /* monotonic time after which the token is renewed */
  uint64_t sent;
  uint64_t tokens;
};

/* The reply of one exchange. body is NUL-terminated (len bytes before it). */
typedef struct {
  long status;
  char *body;
  size_t len;
  int64_t retry_after_s; /* -1 when absent */
  unsigned exchanges;    /* replies received: 2 when a Digest challenge came first */
} asp_admin_response_t;

void asp_admin_response_free(asp_admin_response_t *r);

typedef struct {
  const char *method; /* GET, POST, PATCH, DELETE */
  const char *url;
  const char *media_type;   /* Accept, and Content-Type unless content_type is set */
  const char *content_type; /* NULL: media_type */
  const char *body;         /* NULL: none */
  size_t body_len;
  bool basic_auth;    /* the token endpoint: user:secret as HTTP Basic */
  const char *bearer; /* a token to send instead of Digest */
} asp_admin_request_t;

/* One HTTP exchange on the handle (no retry). A transport failure sets err (network or
 * tls) and returns false; any HTTP status is a success here. r is always initialised. */
bool asp_admin_exchange(asp_admin_t *a, const asp_admin_request_t *req, asp_admin_response_t *r,
                        asp_error_t *err);

/* Service accounts: the access token to send, fetched when none is cached or it is about
 * to expire. NULL with err set when the token endpoint refuses or cannot be reached. */
const char *asp_admin_token(asp_admin_t *a, asp_error_t *err);

/* Replaces every occurrence of the handle's secret and token in err's message. */
void asp_admin_scrub(const asp_admin_t *a, asp_error_t *err);

/* Monotonic clock in microseconds. */
int64_t asp_admin_now_us(void);

#endif
