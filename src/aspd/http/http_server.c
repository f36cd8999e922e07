/* libmicrohttpd glue: TLS, keep-alive, request bodies, Digest and Bearer
 * authentication, the OAuth2 token endpoint's form. Everything about HTTP itself is
 * the library's; this file turns its requests into aspd_http_request_t. */
#include "http/http_server.h"

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands/processor_bound.h"
#include "http/api.h"
#include "log.h"
#include "store/atomic_file.h"

#define MAX_BODY (4 * 1024 * 1024)
#define NONCE_TIMEOUT_SECONDS 300
#define IDLE_TIMEOUT_SECONDS 60
#define TOKEN_PATH "/api/oauth/token"

struct aspd_http_server {
  struct MHD_Daemon *daemon;
  aspd_http_config_t config;
  char *cert_pem, *key_pem;
  uint8_t nonce_seed[32];
  char opaque[33];
};

/* One request's state across the library's calls. */
typedef struct {
  char *body;
  size_t len;
  bool too_large;
  struct MHD_PostProcessor *form; /* the token endpoint's form */
  char grant_type[64], client_id[256], client_secret[256];
} request_state_t;

static const char *query(const aspd_http_request_t *req, const char *name) {
  return MHD_lookup_connection_value(req->library_request, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, const aspd_http_reply_t *reply,
                                  bool challenge, bool stale, const aspd_http_server_t *server) {
  char *json = NULL;
  size_t len = 0;
  if (reply->has_body) json = bson_as_relaxed_extended_json(&reply->body, &len);
  unsigned status = reply->status;
  /* No reply is larger than the wire's limit either. Definitions are refused when they would
   * make a list too large, so this is a last resort. */
  if (len > ASPD_REPLY_MAX) {
    aspd_http_reply_t refusal = {.status = 200, .has_body = true};
    bson_init(&refusal.body);
    aspd_http_error(&refusal, 500, "UNEXPECTED_ERROR", NULL,
                    "Unexpected error. Reason: the reply would be %zu bytes, more than the limit "
                    "of %d bytes; ask for less (a smaller itemsPerPage).",
                    len, ASPD_REPLY_MAX);
    aspd_log("Admin API: a %zu-byte reply refused (more than %d bytes)", len, ASPD_REPLY_MAX);
    bson_free(json);
    json = bson_as_relaxed_extended_json(&refusal.body, &len);
    status = refusal.status;
    bson_destroy(&refusal.body);
  }
  static char empty[] = "";
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, json ? json : empty, MHD_RESPMEM_MUST_COPY);
  bson_free(json);
  if (reply->has_body) {
    char type[96] = "application/json";
    if (reply->version) {
      snprintf(type, sizeof type, "application/vnd.atlas.%s+json;charset=utf-8", reply->version);
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  }
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  enum MHD_Result r;
  if (challenge) {
    r = MHD_queue_auth_fail_response2(conn, ASPD_API_REALM, server->opaque, resp, stale ? 1 : 0,
                                      MHD_DIGEST_ALG_MD5);
  } else {
    r = MHD_queue_response(conn, status, resp);
  }
  MHD_destroy_response(resp);
  return r;
}

/* The caller's role from a Bearer token or a Digest response; NONE when neither checks
 * out (*stale: a good response to a nonce the server no longer knows). */
static aspd_api_role_t authenticate(struct MHD_Connection *conn, const aspd_http_server_t *server,
                                    bool *stale) {
  *stale = false;
  const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  if (auth && !strncasecmp(auth, "Bearer ", 7)) {
    return aspd_api_keys_bearer(server->config.keys, auth + 7);
  }
  char *user = MHD_digest_auth_get_username(conn);
  if (!user) return ASPD_API_ROLE_NONE;
  uint8_t ha1[16];
  aspd_api_role_t role;
  aspd_api_keys_digest(server->config.keys, user, ha1, &role);
  int r = MHD_digest_auth_check_digest2(conn, ASPD_API_REALM, user, ha1, sizeof ha1,
                                        NONCE_TIMEOUT_SECONDS, MHD_DIGEST_ALG_MD5);
  MHD_free(user);
  *stale = r == MHD_INVALID_NONCE;
  return r == MHD_YES ? role : ASPD_API_ROLE_NONE;
}

static enum MHD_Result on_form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *filename, const char *content_type,
                                     const char *transfer_encoding, const char *data, uint64_t off,
                                     size_t size) {
  request_state_t *state = cls;
  char *field = !strcmp(key, "grant_type")      ? state->grant_type
                : !strcmp(key, "client_id")     ? state->client_id
                : !strcmp(key, "client_secret") ? state->client_secret
                                                : NULL;
  /* Fields longer than the buffers cannot be valid credentials: they are cut and fail. */
  if (field && off < 255) {
    size_t have = strlen(field), room = 255 - have;
    size_t n = size < room ? size : room;
    memcpy(field + have, data, n);
    field[have + n] = '\0';
  }
  return MHD_YES;
}

static enum MHD_Result token_endpoint(struct MHD_Connection *conn, aspd_http_server_t *server,
                                      request_state_t *state, aspd_http_reply_t *reply) {
  char *password = NULL;
  char *user = MHD_basic_auth_get_username_password(conn, &password);
  const char *id = user ? user : state->client_id;
  const char *secret = user && password ? password : state->client_secret;
  char token[ASPD_API_TOKEN_LEN + 1];
  int expires_in = 0;
  aspd_api_role_t role;
  if (!*state->grant_type) {
    reply->status = 400;
    BSON_APPEND_UTF8(&reply->body, "error", "invalid_request");
    BSON_APPEND_UTF8(&reply->body, "error_description", "grant_type is required");
  } else if (strcmp(state->grant_type, "client_credentials") != 0) {
    reply->status = 400;
    BSON_APPEND_UTF8(&reply->body, "error", "unsupported_grant_type");
    BSON_APPEND_UTF8(&reply->body, "error_description", "only client_credentials is supported");
  } else if (!*id || !aspd_api_keys_issue_token(server->config.keys, id, secret, token, &expires_in,
                                                &role)) {
    reply->status = 401;
    BSON_APPEND_UTF8(&reply->body, "error", "invalid_client");
    BSON_APPEND_UTF8(&reply->body, "error_description", "unknown client or wrong secret");
  } else {
    BSON_APPEND_UTF8(&reply->body, "access_token", token);
    BSON_APPEND_INT32(&reply->body, "expires_in", expires_in);
    BSON_APPEND_UTF8(&reply->body, "token_type", "Bearer");
    OPENSSL_cleanse(token, sizeof token);
  }
  if (password) {
    OPENSSL_cleanse(password, strlen(password));
    MHD_free(password);
  }
  MHD_free(user);
  return send_reply(conn, reply, false, false, server);
}

/* Parses a request body; NULL with *why set when it is not a JSON object. */
static bson_t *parse_body(const request_state_t *state, bson_error_t *error, const char **why) {
  const char *p = state->body;
  while (p < state->body + state->len && strchr(" \t\r\n", *p)) p++;
  if (p == state->body + state->len) return NULL;
  if (*p != '{') {
    *why = "expected a JSON object";
    return NULL;
  }
  bson_t *doc = bson_new_from_json((const uint8_t *)state->body, (ssize_t)state->len, error);
  if (!doc) *why = error->message;
  return doc;
}

static enum MHD_Result api_endpoint(struct MHD_Connection *conn, aspd_http_server_t *server,
                                    const char *url, const char *method, request_state_t *state,
                                    aspd_http_reply_t *reply) {
  bool stale;
  aspd_api_role_t role = authenticate(conn, server, &stale);
  if (role == ASPD_API_ROLE_NONE) {
    aspd_http_error(reply, 401, "UNAUTHORIZED", NULL,
                    "You are not authorized for this resource: authenticate with an API key "
                    "(HTTP Digest) or a service account token (Bearer).");
    return send_reply(conn, reply, true, stale, server);
  }
  bson_error_t error;
  aspd_http_request_t req = {.config = &server->config,
                             .method = method,
                             .path = url,
                             .query = query,
                             .library_request = conn};
  bson_t *body = parse_body(state, &error, &req.body_error);
  req.body = body;
  if (state->too_large) req.body_error = "larger than 4 MB";
  const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
  aspd_http_route(&req, accept, role, reply);
  bson_destroy(body);
  return send_reply(conn, reply, false, false, server);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  aspd_http_server_t *server = cls;
  request_state_t *state = *con_cls;
  bool token = !strcmp(url, TOKEN_PATH) && !strcmp(method, "POST");
  if (!state) {
    *con_cls = state = calloc(1, sizeof *state);
    if (token) state->form = MHD_create_post_processor(conn, 1024, on_form_field, state);
    return MHD_YES;
  }
  if (*upload_data_size) {
    if (state->form) {
      MHD_post_process(state->form, upload_data, *upload_data_size);
    } else if (state->len + *upload_data_size > MAX_BODY) {
      state->too_large = true;
    } else if (!token) {
      state->body = realloc(state->body, state->len + *upload_data_size + 1);
      memcpy(state->body + state->len, upload_data, *upload_data_size);
      state->len += *upload_data_size;
      state->body[state->len] = '\0';
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  aspd_http_reply_t reply = {.status = 200, .has_body = true};
  bson_init(&reply.body);
  enum MHD_Result r = token ? token_endpoint(conn, server, state, &reply)
                            : api_endpoint(conn, server, url, method, state, &reply);
  if (server->config.verbose) aspd_log("admin-api: %s %s -> %u", method, url, reply.status);
  bson_destroy(&reply.body);
  return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  request_state_t *state = *con_cls;
  if (!state) return;
  if (state->form) MHD_destroy_post_processor(state->form);
  OPENSSL_cleanse(state->client_secret, sizeof state->client_secret);
  if (state->body) OPENSSL_cleanse(state->body, state->len);
  free(state->body);
  free(state);
  *con_cls = NULL;
}

/* libmicrohttpd hands its own printf format over: the format is the library's. */
__attribute__((format(printf, 2, 0))) static void on_library_log(void *cls, const char *fmt,
                                                                 va_list ap) {
  const aspd_http_server_t *server = cls;
  if (!server->config.verbose) return;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  line[strcspn(line, "\n")] = '\0';
  aspd_log("admin-api: %s", line);
}

static char *read_pem(const char *path, char *err, size_t err_len) {
  size_t len;
  bool missing;
  char read_err[512];
  char *text = aspd_read_file(path, &len, &missing, read_err, sizeof read_err);
  if (!text) snprintf(err, err_len, "Admin API: %s", read_err);
  return text;
}

/* The served chain: the certificate file, completed with the CA file when it holds only
 * the leaf (as the wire port does). */
static char *certificate_chain(const aspd_http_config_t *c, char *err, size_t err_len) {
  char *cert = read_pem(c->tls_cert, err, err_len);
  if (!cert || !c->tls_ca) return cert;
  const char *marker = "-----BEGIN CERTIFICATE-----";
  const char *first = strstr(cert, marker);
  if (first && strstr(first + 1, marker)) return cert;
  char *ca = read_pem(c->tls_ca, err, err_len);
  if (!ca) {
    free(cert);
    return NULL;
  }
  size_t cert_len = strlen(cert), ca_len = strlen(ca);
  char *chain = malloc(cert_len + ca_len + 2);
  memcpy(chain, cert, cert_len);
  chain[cert_len] = '\n';
  memcpy(chain + cert_len + 1, ca, ca_len + 1);
  free(cert);
  free(ca);
  return chain;
}

aspd_http_server_t *aspd_http_start(const aspd_http_config_t *config, char *err, size_t err_len) {
  aspd_http_server_t *s = calloc(1, sizeof *s);
  s->config = *config;
  s->cert_pem = certificate_chain(config, err, err_len);
  s->key_pem = s->cert_pem ? read_pem(config->tls_key, err, err_len) : NULL;
  uint8_t opaque[16];
  if (!s->key_pem || RAND_bytes(s->nonce_seed, sizeof s->nonce_seed) != 1 ||
      RAND_bytes(opaque, sizeof opaque) != 1) {
    if (s->key_pem) snprintf(err, err_len, "Admin API: no randomness for Digest nonces");
    aspd_http_stop(s);
    return NULL;
  }
  for (size_t i = 0; i < sizeof opaque; i++) snprintf(s->opaque + 2 * i, 3, "%02x", opaque[i]);
  s->daemon = MHD_start_daemon(
      MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_TLS,
      0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, config->listen_fd,
      MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
      MHD_OPTION_DIGEST_AUTH_RANDOM, sizeof s->nonce_seed, s->nonce_seed, MHD_OPTION_NONCE_NC_SIZE,
      4096, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)IDLE_TIMEOUT_SECONDS,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, on_library_log, s,
      MHD_OPTION_END);
  if (!s->daemon) {
    snprintf(err, err_len, "Admin API: libmicrohttpd could not start (certificate or key?)");
    aspd_http_stop(s);
    return NULL;
  }
  return s;
}

void aspd_http_stop(aspd_http_server_t *s) {
  if (!s) return;
  if (s->daemon) MHD_stop_daemon(s->daemon);
  if (s->key_pem) OPENSSL_cleanse(s->key_pem, strlen(s->key_pem));
  free(s->key_pem);
  free(s->cert_pem);
  free(s);
}
