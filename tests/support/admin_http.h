/* A libcurl client of aspd's Admin API for the C tests: HTTPS with certificate
 * verification against the instance's CA, Digest or Bearer authentication, one handle
 * per client so requests reuse the connection (keep-alive). */
#ifndef ADMIN_HTTP_H
#define ADMIN_HTTP_H

#include <bson/bson.h>
#include <stdbool.h>

#include "aspd_harness.h"

typedef struct admin_http admin_http_t;

typedef struct {
  long status;                /* 0 when the request failed below HTTP */
  bson_t *body;               /* the JSON body, or NULL (empty or not JSON) */
  char *text;                 /* the raw body, NUL-terminated ("" when empty) */
  char content_type[256];     /* Content-Type of the reply */
  char www_authenticate[512]; /* WWW-Authenticate of the reply */
  long new_connections;       /* TCP connections libcurl opened for this request */
} admin_reply_t;

/* A client with the instance's dev API key. */
admin_http_t *admin_http_new(const aspd_instance_t *inst);
void admin_http_free(admin_http_t *c);

/* Credentials for the next requests: a key pair (Digest), a token (Bearer), or none. */
void admin_http_use_key(admin_http_t *c, const char *public_key, const char *private_key);
void admin_http_use_token(admin_http_t *c, const char *token);
void admin_http_use_nothing(admin_http_t *c);

/* Sends one request. url: absolute, or "ws:" + a path relative to the workspace's base
 * URL, e.g. "ws:/connections". accept: the Accept header (NULL:
 * none). body: JSON (NULL: none). Fills *reply, which must start zeroed (static or {0}):
 * a reply can be reused, each request frees what the previous one left in it; free the
 * last with admin_reply_free. */
long admin_http_request(admin_http_t *c, const char *method, const char *url, const char *accept,
                        const char *body, admin_reply_t *reply);
void admin_reply_free(admin_reply_t *reply);

/* POSTs the OAuth2 client-credentials grant, the credentials as HTTP Basic (basic) or as
 * form fields; returns the HTTP status, the token in token ("" on failure). */
long admin_http_token(admin_http_t *c, const char *client_id, const char *secret, bool basic,
                      char *token, size_t token_len, admin_reply_t *reply);

/* A string at a dotted path of the reply body ("" when missing). */
const char *admin_str(const admin_reply_t *reply, const char *path);
/* An integer at a dotted path of the reply body (-1 when missing). */
int64_t admin_int(const admin_reply_t *reply, const char *path);
/* Whether the reply body has anything at the dotted path. */
bool admin_has(const admin_reply_t *reply, const char *path);

#define ACCEPT_2023 "application/vnd.atlas.2023-02-01+json"
#define ACCEPT_2024 "application/vnd.atlas.2024-05-30+json"
#define ACCEPT_2025 "application/vnd.atlas.2025-03-12+json"

#endif
