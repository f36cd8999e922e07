/* Service accounts: the OAuth2 client-credentials grant. The access token is cached on the
 * handle and renewed shortly before it expires; admin_endpoints.c also drops it after a
 * 401 so that the next call fetches a new one. */
#include <stdio.h>
#include <string.h>

#include "admin_private.h"

#define TOKEN_PATH "/api/oauth/token"
/* Renew this long before expiry (or after nine tenths of a short lifetime). */
#define REFRESH_MARGIN_S 60

static int64_t refresh_margin_s(int64_t expires_in) {
  int64_t tenth = expires_in / 10;
  return tenth < REFRESH_MARGIN_S ? tenth : REFRESH_MARGIN_S;
}

static const char *utf8_field(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
    return bson_iter_utf8(&it, NULL);
  return NULL;
}

/* The token endpoint's refusal ({error, error_description} per RFC 6749) as an admin error. */
static void token_refused(asp_admin_t *a, const asp_admin_response_t *r, const bson_t *reply,
                          asp_error_t *err) {
  const char *code = utf8_field(reply, "error");
  const char *why = utf8_field(reply, "error_description");
  if (!why) why = utf8_field(reply, "detail");
  asp_error_set(err, ASP_DOMAIN_ADMIN, (int32_t)r->status,
                "Admin API token endpoint: %s (HTTP %ld)",
                why ? why : "the client credentials were refused", r->status);
  if (code) snprintf(err->code_name, sizeof err->code_name, "%s", code);
  asp_admin_scrub(a, err);
}

static bool fetch(asp_admin_t *a, asp_error_t *err) {
  char *url = bson_strdup_printf("%s%s", a->base_url, TOKEN_PATH);
  static const char form[] = "grant_type=client_credentials";
  asp_admin_request_t req = {.method = "POST",
                             .url = url,
                             .media_type = "application/json",
                             .content_type = "application/x-www-form-urlencoded",
                             .body = form,
                             .body_len = sizeof form - 1,
                             .basic_auth = true};
  asp_admin_response_t r;
  int64_t asked_at = asp_admin_now_us();
  bool ok = asp_admin_exchange(a, &req, &r, err);
  bson_free(url);
  if (!ok) {
    asp_admin_scrub(a, err);
    return false;
  }
  bson_t reply;
  bson_error_t jerr;
  if (r.len == 0 || !bson_init_from_json(&reply, r.body, (ssize_t)r.len, &jerr)) bson_init(&reply);
  bson_iter_t it;
  const char *token = utf8_field(&reply, "access_token");
  int64_t expires_in = 3600;
  if (bson_iter_init_find(&it, &reply, "expires_in") && BSON_ITER_HOLDS_NUMBER(&it))
    expires_in = bson_iter_as_int64(&it);
  if (r.status != 200 || !token || !*token || expires_in <= 0) {
    if (r.status == 200) {
      asp_error_set(err, ASP_DOMAIN_ADMIN, 200,
                    "Admin API token endpoint: the reply has no access_token and positive "
                    "expires_in");
    } else {
      token_refused(a, &r, &reply, err);
    }
    bson_destroy(&reply);
    asp_admin_response_free(&r);
    return false;
  }
  if (a->token) {
    memset(a->token, 0, strlen(a->token));
    bson_free(a->token);
  }
  a->token = bson_strdup(token);
  a->token_refresh_at_us = asked_at + (expires_in - refresh_margin_s(expires_in)) * 1000000;
  a->tokens++;
  memset(r.body, 0, r.len); /* the reply held the token */
  bson_destroy(&reply);
  asp_admin_response_free(&r);
  return true;
}

const char *asp_admin_token(asp_admin_t *a, asp_error_t *err) {
  if (a->token && asp_admin_now_us() < a->token_refresh_at_us) return a->token;
  return fetch(a, err) ? a->token : NULL;
}
