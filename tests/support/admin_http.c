#include "admin_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct admin_http {
  CURL *curl;
  char ca_file[512];
  char base[1024]; /* the workspace's base URL */
  char user[128], password[128];
  long auth; /* CURLAUTH_DIGEST, or CURLAUTH_BASIC for the token endpoint */
  char token[256];
};

typedef struct {
  admin_reply_t *reply;
  size_t used;
} sink_t;

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  sink_t *s = arg;
  size_t len = size * n;
  s->reply->text = realloc(s->reply->text, s->used + len + 1);
  memcpy(s->reply->text + s->used, data, len);
  s->used += len;
  s->reply->text[s->used] = '\0';
  return len;
}

/* Copies the value of header line data into out when its name is name (with ':'). */
static void take_header(const char *data, size_t len, const char *name, char *out, size_t cap) {
  size_t nl = strlen(name);
  if (len <= nl || strncasecmp(data, name, nl) != 0) return;
  const char *v = data + nl;
  size_t vl = len - nl;
  while (vl && *v == ' ') v++, vl--;
  while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n')) vl--;
  snprintf(out, cap, "%.*s", (int)vl, v);
}

static size_t on_header(char *data, size_t size, size_t n, void *arg) {
  admin_reply_t *r = arg;
  size_t len = size * n;
  take_header(data, len, "content-type:", r->content_type, sizeof r->content_type);
  take_header(data, len, "www-authenticate:", r->www_authenticate, sizeof r->www_authenticate);
  return len;
}

admin_http_t *admin_http_new(const aspd_instance_t *inst) {
  static bool initialised;
  if (!initialised) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    initialised = true;
  }
  admin_http_t *c = calloc(1, sizeof *c);
  c->curl = curl_easy_init();
  snprintf(c->ca_file, sizeof c->ca_file, "%s", inst->ca_file);
  snprintf(c->base, sizeof c->base, "%s", inst->admin_url);
  admin_http_use_key(c, inst->admin_public_key, inst->admin_private_key);
  return c;
}

void admin_http_free(admin_http_t *c) {
  if (!c) return;
  curl_easy_cleanup(c->curl);
  free(c);
}

void admin_http_use_key(admin_http_t *c, const char *public_key, const char *private_key) {
  snprintf(c->user, sizeof c->user, "%s", public_key);
  snprintf(c->password, sizeof c->password, "%s", private_key);
  c->auth = CURLAUTH_DIGEST;
  c->token[0] = '\0';
}

void admin_http_use_token(admin_http_t *c, const char *token) {
  c->user[0] = '\0';
  snprintf(c->token, sizeof c->token, "%s", token);
}

void admin_http_use_nothing(admin_http_t *c) {
  c->user[0] = c->token[0] = '\0';
}

static long perform(admin_http_t *c, const char *method, const char *url,
                    struct curl_slist *headers, const char *body, admin_reply_t *reply) {
  admin_reply_free(reply); /* a reply is reused: what the previous request left goes */
  memset(reply, 0, sizeof *reply);
  reply->text = calloc(1, 1);
  CURL *h = c->curl;
  curl_easy_reset(h);
  char full[2048];
  if (!strncmp(url, "ws:", 3)) {
    snprintf(full, sizeof full, "%s%s", c->base, url + 3);
  } else {
    snprintf(full, sizeof full, "%s", url);
  }
  sink_t sink = {reply, 0};
  curl_easy_setopt(h, CURLOPT_URL, full);
  curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, reply);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (!strcmp(method, "HEAD")) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (body) curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  if (c->user[0]) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, c->auth);
    curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
  }
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    fprintf(stderr, "admin_http: %s %s: %s\n", method, full, curl_easy_strerror(rc));
    return 0;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &reply->new_connections);
  bson_error_t error;
  if (sink.used) reply->body = bson_new_from_json((const uint8_t *)reply->text, -1, &error);
  return reply->status;
}

long admin_http_request(admin_http_t *c, const char *method, const char *url, const char *accept,
                        const char *body, admin_reply_t *reply) {
  struct curl_slist *headers = NULL;
  char line[512];
  if (accept) {
    snprintf(line, sizeof line, "Accept: %s", accept);
    headers = curl_slist_append(headers, line);
  }
  if (body) {
    snprintf(line, sizeof line, "Content-Type: %s", accept ? accept : "application/json");
    headers = curl_slist_append(headers, line);
  }
  if (c->token[0]) {
    snprintf(line, sizeof line, "Authorization: Bearer %s", c->token);
    headers = curl_slist_append(headers, line);
  }
  long status = perform(c, method, url, headers, body, reply);
  curl_slist_free_all(headers);
  return status;
}

long admin_http_token(admin_http_t *c, const char *client_id, const char *secret, bool basic,
                      char *token, size_t token_len, admin_reply_t *reply) {
  char url[1024];
  const char *api = strstr(c->base, "/api/atlas/v2/");
  snprintf(url, sizeof url, "%.*s/api/oauth/token", (int)(api - c->base), c->base);
  admin_http_t saved = *c;
  struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
  headers = curl_slist_append(headers, "Content-Type: application/x-www-form-urlencoded");
  char form[600] = "grant_type=client_credentials";
  c->token[0] = '\0';
  if (basic) {
    snprintf(c->user, sizeof c->user, "%s", client_id);
    snprintf(c->password, sizeof c->password, "%s", secret);
    c->auth = CURLAUTH_BASIC;
  } else {
    c->user[0] = '\0';
    snprintf(form, sizeof form, "grant_type=client_credentials&client_id=%s&client_secret=%s",
             client_id, secret);
  }
  long status = perform(c, "POST", url, headers, form, reply);
  curl_slist_free_all(headers);
  *c = saved;
  if (token) snprintf(token, token_len, "%s", admin_str(reply, "access_token"));
  return status;
}

void admin_reply_free(admin_reply_t *reply) {
  bson_destroy(reply->body);
  free(reply->text);
  reply->body = NULL;
  reply->text = NULL;
}

static bool find(const admin_reply_t *reply, const char *path, bson_iter_t *found) {
  bson_iter_t it;
  return reply->body && bson_iter_init(&it, reply->body) &&
         bson_iter_find_descendant(&it, path, found);
}

const char *admin_str(const admin_reply_t *reply, const char *path) {
  bson_iter_t found;
  if (find(reply, path, &found) && BSON_ITER_HOLDS_UTF8(&found)) {
    return bson_iter_utf8(&found, NULL);
  }
  return "";
}

int64_t admin_int(const admin_reply_t *reply, const char *path) {
  bson_iter_t found;
  if (find(reply, path, &found) && BSON_ITER_HOLDS_NUMBER(&found)) {
    return bson_iter_as_int64(&found);
  }
  return -1;
}

bool admin_has(const admin_reply_t *reply, const char *path) {
  bson_iter_t found;
  return find(reply, path, &found);
}
