/* The Admin API handle: options and their defaults (the Atlas CLI's environment variables),
 * the credentials it keeps, and what it reports about itself (never a secret). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "admin_private.h"
#include "asp_private.h"

/* curl_global_init is not safe to race with other threads' curl use on every libcurl
 * version: once per process, never cleaned up (another library may still use it). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void init_curl(void) {
  curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int64_t asp_admin_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool is_group_id(const char *s) {
  size_t n = 0;
  for (; s[n]; n++) {
    if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n])) return false;
  }
  return n == 24;
}

static const char *nonempty(const char *s) {
  return s && *s ? s : NULL;
}

/* The credential pair to use: the options' own, else the environment's. */
static bool pick_credentials(const asp_admin_opts_t *o, asp_admin_auth_t *auth, const char **user,
                             const char **secret, asp_error_t *err) {
  bool key = o->public_key || o->private_key, account = o->client_id || o->client_secret;
  if (key && account) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                  "admin.connect: give either public_key/private_key or client_id/client_secret, "
                  "not both");
    return false;
  }
  if (!key && !account) {
    o = NULL;
    const char *pub = nonempty(getenv("MONGODB_ATLAS_PUBLIC_KEY"));
    const char *priv = nonempty(getenv("MONGODB_ATLAS_PRIVATE_KEY"));
    const char *id = nonempty(getenv("MONGODB_ATLAS_CLIENT_ID"));
    const char *sec = nonempty(getenv("MONGODB_ATLAS_CLIENT_SECRET"));
    if (pub && priv) {
      *auth = ASP_ADMIN_AUTH_DIGEST, *user = pub, *secret = priv;
      return true;
    }
    if (id && sec) {
      *auth = ASP_ADMIN_AUTH_SERVICE_ACCOUNT, *user = id, *secret = sec;
      return true;
    }
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                  "admin.connect: no credentials: give public_key and private_key, or client_id "
                  "and client_secret, or set MONGODB_ATLAS_PUBLIC_KEY/MONGODB_ATLAS_PRIVATE_KEY "
                  "or MONGODB_ATLAS_CLIENT_ID/MONGODB_ATLAS_CLIENT_SECRET");
    return false;
  }
  const char *u = key ? o->public_key : o->client_id, *s = key ? o->private_key : o->client_secret;
  if (!nonempty(u) || !nonempty(s)) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "admin.connect: '%s' is required with '%s'",
                  key ? (nonempty(u) ? "private_key" : "public_key")
                      : (nonempty(u) ? "client_secret" : "client_id"),
                  key ? (nonempty(u) ? "public_key" : "private_key")
                      : (nonempty(u) ? "client_id" : "client_secret"));
    return false;
  }
  *auth = key ? ASP_ADMIN_AUTH_DIGEST : ASP_ADMIN_AUTH_SERVICE_ACCOUNT;
  *user = u, *secret = s;
  return true;
}

static bool check_opts(const asp_admin_opts_t *o, const char *base, asp_error_t *err) {
  if (strncasecmp(base, "https://", 8) != 0 || !base[8]) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                  "admin.connect: base_url must be an https:// URL, got '%s'", base);
    return false;
  }
  if (strpbrk(base + 8, "@?#")) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                  "admin.connect: base_url takes no credentials, query or fragment");
    return false;
  }
  if (!o->group_id || !is_group_id(o->group_id)) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                  "admin.connect: group_id must be a project id of 24 lowercase hexadecimal "
                  "digits, got '%s'",
                  o->group_id ? o->group_id : "nothing");
    return false;
  }
  if (o->timeout_ms < 0) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "admin.connect: timeout_ms must be >= 0");
    return false;
  }
  if (o->has_retries && (o->retries < 0 || o->retries > 10)) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "admin.connect: retries must be in 0..10");
    return false;
  }
  return true;
}

asp_admin_t *asp_admin_new(const asp_admin_opts_t *o, asp_error_t *err) {
  static const asp_admin_opts_t none = {0};
  if (!o) o = &none;
  const char *base = o->base_url ? o->base_url : ASP_ADMIN_DEFAULT_BASE_URL;
  asp_admin_auth_t auth;
  const char *user, *secret;
  if (!check_opts(o, base, err) || !pick_credentials(o, &auth, &user, &secret, err)) return NULL;
  pthread_once(&curl_once, init_curl);
  if (curl_init_result != CURLE_OK) {
    asp_error_set(err, ASP_DOMAIN_NETWORK, (int32_t)curl_init_result,
                  "admin.connect: libcurl could not be initialised: %s",
                  curl_easy_strerror(curl_init_result));
    return NULL;
  }
  CURL *curl = curl_easy_init();
  if (!curl) {
    asp_error_set(err, ASP_DOMAIN_NETWORK, 0, "admin.connect: out of memory");
    return NULL;
  }
  asp_admin_t *a = bson_malloc0(sizeof *a);
  size_t base_len = strlen(base);
  while (base_len > 8 && base[base_len - 1] == '/') base_len--;
  a->base_url = bson_strndup(base, base_len);
  a->group_id = bson_strdup(o->group_id);
  a->auth = auth;
  a->user = bson_strdup(user);
  a->secret = bson_strdup(secret);
  a->ca_file = o->ca_file ? bson_strdup(o->ca_file) : NULL;
  a->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : ASP_ADMIN_DEFAULT_TIMEOUT_MS;
  a->retries = o->has_retries ? o->retries : ASP_ADMIN_DEFAULT_RETRIES;
  a->curl = curl;
  a->pid = getpid();
  return a;
}

/* Overwrites a secret before its memory goes back to the allocator. */
static void free_secret(char *s) {
  if (!s) return;
  volatile char *p = s;
  while (*p) *p++ = '\0';
  bson_free(s);
}

void asp_admin_destroy(asp_admin_t *a) {
  if (!a) return;
  /* After a fork the connections belong to the parent too: closing them here would send
   * TLS close_notify on the parent's sockets (admin_http.c drops the handle instead). */
  if (a->curl) curl_easy_cleanup(a->curl);
  bson_free(a->base_url);
  bson_free(a->group_id);
  bson_free(a->user);
  free_secret(a->secret);
  free_secret(a->token);
  bson_free(a->ca_file);
  bson_free(a);
}

void asp_admin_settings(const asp_admin_t *a, bson_t *out) {
  bson_init(out);
  BSON_APPEND_UTF8(out, "base_url", a->base_url);
  BSON_APPEND_UTF8(out, "group_id", a->group_id);
  bool digest = a->auth == ASP_ADMIN_AUTH_DIGEST;
  BSON_APPEND_UTF8(out, "auth", digest ? "digest" : "service_account");
  BSON_APPEND_UTF8(out, digest ? "public_key" : "client_id", a->user);
  if (a->ca_file) BSON_APPEND_UTF8(out, "ca_file", a->ca_file);
  BSON_APPEND_INT32(out, "timeout_ms", a->timeout_ms);
  BSON_APPEND_INT32(out, "retries", a->retries);
}

uint64_t asp_admin_requests_sent(const asp_admin_t *a) {
  return a->sent;
}

uint64_t asp_admin_tokens_fetched(const asp_admin_t *a) {
  return a->tokens;
}

void asp_admin_expire_token(asp_admin_t *a) {
  a->token_refresh_at_us = 0;
}

void asp_admin_scrub(const asp_admin_t *a, asp_error_t *err) {
  asp_error_scrub(err, a->secret);
  asp_error_scrub(err, a->token);
}
