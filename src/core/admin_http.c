/* One HTTP exchange with libcurl: TLS verified (against ca_file when given), HTTPS only,
 * Digest, Basic (token endpoint) or Bearer authentication, the reply body and the
 * Retry-After header captured. Transport failures become network or tls errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "admin_private.h"
#include "version.h"

/* Replies larger than this are refused: an Admin API page is at most 500 small objects. */
#define MAX_REPLY_BYTES (64u * 1024u * 1024u)
#define CONNECT_TIMEOUT_MS 10000

typedef struct {
  asp_admin_response_t *r;
  size_t cap;
  bool too_large;
} sink_t;

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
  sink_t *s = ud;
  size_t len = size * n;
  if (s->r->len + len + 1 > MAX_REPLY_BYTES) {
    s->too_large = true;
    return 0; /* libcurl stops with CURLE_WRITE_ERROR */
  }
  if (s->r->len + len + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->r->len + len + 1) cap *= 2;
    s->r->body = bson_realloc(s->r->body, cap);
    s->cap = cap;
  }
  memcpy(s->r->body + s->r->len, data, len);
  s->r->len += len;
  s->r->body[s->r->len] = '\0';
  return len;
}

/* Each status line is one exchange (a Digest challenge's 401 comes before the answer), and
 * only the final reply's Retry-After counts. */
static size_t on_header(char *line, size_t size, size_t n, void *ud) {
  asp_admin_response_t *r = ud;
  size_t len = size * n;
  static const char name[] = "retry-after:";
  if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
    r->retry_after_s = -1;
    r->exchanges++;
  } else if (len > sizeof name - 1 && strncasecmp(line, name, sizeof name - 1) == 0) {
    char buf[32];
    size_t v = len - (sizeof name - 1);
    if (v >= sizeof buf) v = sizeof buf - 1;
    memcpy(buf, line + sizeof name - 1, v);
    buf[v] = '\0';
    char *end;
    long long secs = strtoll(buf, &end, 10);
    while (*end == ' ' || *end == '\r' || *end == '\n' || *end == '\t') end++;
    /* The HTTP-date form is not honoured: the caller's own backoff applies then. */
    if (end != buf && *end == '\0' && secs >= 0) r->retry_after_s = secs;
  }
  return len;
}

void asp_admin_response_free(asp_admin_response_t *r) {
  bson_free(r->body);
  r->body = NULL;
  r->len = 0;
}

static asp_domain_t domain_of(CURLcode rc) {
  switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
      return ASP_DOMAIN_TLS;
    default:
      return ASP_DOMAIN_NETWORK;
  }
}

/* A child after fork() must not use the parent's connections, nor close them (that would
 * send TLS close_notify on sockets the parent still uses): the child leaves the old handle
 * alone and starts a fresh one. */
static bool fresh_after_fork(asp_admin_t *a, asp_error_t *err) {
  pid_t pid = getpid();
  if (pid == a->pid && a->curl) return true;
  a->curl = curl_easy_init();
  a->pid = pid;
  if (!a->curl) asp_error_set(err, ASP_DOMAIN_NETWORK, 0, "Admin API: out of memory");
  return a->curl != NULL;
}

static void set_auth(asp_admin_t *a, const asp_admin_request_t *req) {
  CURL *c = a->curl;
  if (req->bearer) {
    curl_easy_setopt(c, CURLOPT_USERNAME, NULL);
    curl_easy_setopt(c, CURLOPT_PASSWORD, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
    curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, req->bearer);
    return;
  }
  curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, NULL);
  curl_easy_setopt(c, CURLOPT_HTTPAUTH,
                   req->basic_auth ? (long)CURLAUTH_BASIC : (long)CURLAUTH_DIGEST);
  curl_easy_setopt(c, CURLOPT_USERNAME, a->user);
  curl_easy_setopt(c, CURLOPT_PASSWORD, a->secret);
}

static void set_method(CURL *c, const asp_admin_request_t *req) {
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
  if (strcmp(req->method, "GET") == 0) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    return;
  }
  /* POST, PATCH and DELETE all carry a body (possibly empty) from memory, so libcurl can
   * send it again after a Digest challenge. */
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
  if (strcmp(req->method, "POST") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
}

static struct curl_slist *headers_for(const asp_admin_request_t *req) {
  char line[160];
  struct curl_slist *h = NULL;
  snprintf(line, sizeof line, "Accept: %s", req->media_type);
  h = curl_slist_append(h, line);
  if (req->body || strcmp(req->method, "GET") != 0) {
    snprintf(line, sizeof line, "Content-Type: %s",
             req->content_type ? req->content_type : req->media_type);
    h = curl_slist_append(h, line);
  }
  /* No "Expect: 100-continue" round trip for large bodies. */
  return curl_slist_append(h, "Expect:");
}

bool asp_admin_exchange(asp_admin_t *a, const asp_admin_request_t *req, asp_admin_response_t *r,
                        asp_error_t *err) {
  memset(r, 0, sizeof *r);
  r->retry_after_s = -1;
  if (!fresh_after_fork(a, err)) return false;
  CURL *c = a->curl;
  sink_t sink = {r, 0, false};
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *headers = headers_for(req);

  curl_easy_setopt(c, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  /* Only when given: a NULL would also drop libcurl's default CA bundle. */
  if (a->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, a->ca_file);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)a->timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)(a->timeout_ms < CONNECT_TIMEOUT_MS ? a->timeout_ms : CONNECT_TIMEOUT_MS));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "lua-asp/" ASP_VERSION);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  set_auth(a, req);
  set_method(c, req);

  CURLcode rc = curl_easy_perform(c);
  a->sent += r->exchanges ? r->exchanges : 1;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  /* Nothing on the handle may point at this frame after the call. */
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, NULL);
  curl_slist_free_all(headers);
  if (rc == CURLE_OK) return true;

  const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (sink.too_large) {
    asp_error_set(err, ASP_DOMAIN_NETWORK, (int32_t)rc,
                  "Admin API %s: the reply is larger than %u bytes", req->method, MAX_REPLY_BYTES);
  } else if (rc == CURLE_SSL_CACERT_BADFILE) {
    asp_error_set(err, ASP_DOMAIN_TLS, (int32_t)rc,
                  "Admin API %s: cannot read the CA file '%s': %s", req->method,
                  a->ca_file ? a->ca_file : "(system default)", why);
  } else if (rc == CURLE_OPERATION_TIMEDOUT) {
    asp_error_set(err, ASP_DOMAIN_NETWORK, (int32_t)rc,
                  "Admin API %s: no reply within timeout_ms = %d: %s", req->method,
                  (int)a->timeout_ms, why);
  } else {
    asp_error_set(err, domain_of(rc), (int32_t)rc, "Admin API %s: %s", req->method, why);
  }
  asp_admin_response_free(r);
  return false;
}
