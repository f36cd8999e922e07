/* $https: one HTTPS request per document to the URL of an Https connection,
 * through libcurl, with the response set at `as`.
 *
 * Requests run off the engine thread: each operator instance has a worker
 * thread driving a libcurl multi handle (up to HTTPS_MAX_ACTIVE transfers at
 * once). push builds the request on the engine thread (the expressions need
 * the evaluation context) and queues it with its document; the documents are
 * handed on in arrival order by later pushes and by flushes (the runner
 * flushes a pipeline with $https every turn) as their responses arrive. So a
 * slow endpoint never holds the engine thread, except in two bounded cases:
 * HTTPS_MAX_QUEUED documents waiting (the oldest is then awaited), and the end
 * of a finite input or of a window (what is in flight is awaited). Both waits
 * are bounded by the request's timeouts. */
#include <ctype.h>
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/ops/stages.h"
#include "engine/plan/plan_internal.h"

#define HTTPS_MAX_ACTIVE 8
#define HTTPS_MAX_QUEUED 1024
#define HTTPS_MAX_RESPONSE (16 * 1024 * 1024)
#define HTTPS_MAX_HEADERS 64

typedef enum { ON_ERROR_DLQ, ON_ERROR_IGNORE, ON_ERROR_FAIL } on_error_t;

typedef struct {
  char *name;
  aspd_expr_t *value;
} named_expr_t;

typedef struct {
  char *url;                       /* the connection's */
  struct curl_slist *conn_headers; /* the connection's, "Name: value" */
  aspd_expr_t *path;               /* NULL: none */
  named_expr_t *params, *headers;
  size_t param_count, header_count;
  char *method;
  bool send_body; /* POST, PUT, PATCH */
  char *as;
  on_error_t on_error;
  aspd_planned_stage_t *payload; /* the body's pipeline; NULL: the whole document */
  size_t payload_count;
  long connect_timeout_s, request_timeout_s;
  bool parse_json_strings;
} https_spec_t;

static void free_named(named_expr_t *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(list[i].name);
    aspd_expr_free(list[i].value);
  }
  free(list);
}

void aspd_https_free_spec(void *spec) {
  https_spec_t *s = spec;
  if (!s) return;
  free(s->url);
  curl_slist_free_all(s->conn_headers);
  aspd_expr_free(s->path);
  free_named(s->params, s->param_count);
  free_named(s->headers, s->header_count);
  free(s->method);
  free(s->as);
  aspd_planned_stages_free(s->payload, s->payload_count);
  free(s);
}

/* --- planning ------------------------------------------------------------ */

static void *refuse(https_spec_t *s) {
  aspd_https_free_spec(s);
  return NULL;
}

/* A header name is an RFC 9110 token; a value has no control characters but tab. */
static bool header_name_ok(const char *s) {
  if (!*s) return false;
  for (; *s; s++) {
    if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s)) return false;
  }
  return true;
}

static bool header_value_ok(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

/* The Https connection: its url and its headers (sent with every request). */
static bool connection(https_spec_t *s, const char *name, aspd_stage_ctx_t *ctx,
                       aspd_error_t *err) {
  const aspd_connection_t *conn = aspd_registry_find(ctx->registry, name);
  if (!conn) {
    aspd_plan_missing_connection(err, name);
    return false;
  }
  if (strcmp(conn->type, "Https")) {
    aspd_plan_invalid(err, "%s", "Only https connection type is currently supported for $https");
    return false;
  }
  const char *url = aspd_plan_utf8(conn->definition, "url");
  if (!url || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7))) {
    aspd_plan_invalid(err, "connection %s has no http(s) url", name);
    return false;
  }
  s->url = strdup(url);
  bson_iter_t it, h;
  if (bson_iter_init_find(&it, conn->definition, "headers") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
      bson_iter_recurse(&it, &h)) {
    while (bson_iter_next(&h)) {
      uint32_t len;
      const char *v = BSON_ITER_HOLDS_UTF8(&h) ? bson_iter_utf8(&h, &len) : NULL;
      if (!v || !header_name_ok(bson_iter_key(&h)) || !header_value_ok(v, len)) continue;
      char *line = bson_strdup_printf("%s: %s", bson_iter_key(&h), v);
      s->conn_headers = curl_slist_append(s->conn_headers, line);
      bson_free(line);
    }
  }
  return true;
}

/* parameters / headers: {name: expression}. */
static bool named_exprs(const bson_iter_t *it, const char *field, aspd_stage_ctx_t *ctx,
                        named_expr_t **out, size_t *count, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) {
    aspd_plan_invalid(err, "$https.%s must be a document", field);
    return false;
  }
  bson_iter_t f;
  bson_iter_recurse(it, &f);
  while (bson_iter_next(&f)) {
    aspd_expr_t *e = aspd_expr_compile(ctx->cc, bson_iter_value(&f), err);
    if (!e) return false;
    *out = realloc(*out, (*count + 1) * sizeof **out);
    (*out)[(*count)++] = (named_expr_t){strdup(bson_iter_key(&f)), e};
  }
  return true;
}

static bool config(https_spec_t *s, const bson_iter_t *it, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) {
    aspd_plan_invalid(err, "%s", "$https.config must be a document");
    return false;
  }
  bson_iter_t f;
  bson_iter_recurse(it, &f);
  while (bson_iter_next(&f)) {
    const char *key = bson_iter_key(&f);
    int64_t n = 0;
    bool timeout = !strcmp(key, "connectionTimeoutSec") || !strcmp(key, "requestTimeoutSec");
    if (timeout) {
      if (!BSON_ITER_HOLDS_NUMBER(&f) || !aspd_value_as_integral(bson_iter_value(&f), &n) ||
          n < 1 || n > 3600) {
        aspd_plan_invalid(err, "$https.config.%s must be an integer from 1 to 3600", key);
        return false;
      }
      *(key[0] == 'c' ? &s->connect_timeout_s : &s->request_timeout_s) = (long)n;
    } else if (!strcmp(key, "parseJsonStrings")) {
      if (!BSON_ITER_HOLDS_BOOL(&f)) {
        aspd_plan_invalid(err, "%s", "$https.config.parseJsonStrings must be a boolean");
        return false;
      }
      s->parse_json_strings = bson_iter_bool(&f);
    } else {
      aspd_error_set(err, ASPD_E_LOCATION(40415),
                     "BSON field '$https.config.%s' is an unknown field.", key);
      return false;
    }
  }
  return true;
}

/* The payload pipeline: reshaping stages only, as on Atlas. */
static bool payload(https_spec_t *s, const bson_iter_t *it, aspd_stage_ctx_t *ctx,
                    aspd_error_t *err) {
  static const char *const allowed[] = {"$project", "$addFields", "$set", "$replaceRoot",
                                        "$replaceWith"};
  if (!BSON_ITER_HOLDS_ARRAY(it)) {
    aspd_plan_invalid(err, "%s", "$https.payload must be an array of stages");
    return false;
  }
  bson_iter_t stage;
  bson_iter_recurse(it, &stage);
  s->payload = calloc(1, sizeof *s->payload);
  while (bson_iter_next(&stage)) {
    const char *name;
    bson_iter_t value;
    if (!aspd_stage_parts(&stage, &name, &value, err)) return false;
    const aspd_stage_t *row = aspd_stage_find(name);
    bool ok = false;
    for (size_t i = 0; row && i < sizeof allowed / sizeof allowed[0]; i++) {
      ok = ok || !strcmp(allowed[i], name);
    }
    if (!row) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "Unsupported stage: %s", name);
      return false;
    }
    if (!ok) {
      aspd_plan_invalid(err,
                        "%s stage is not permitted in the payload (inner pipeline) of an https "
                        "stage",
                        name);
      return false;
    }
    aspd_stage_ctx_t inner = *ctx;
    if (!aspd_plan_add_stage(row, &value, &inner, &s->payload, &s->payload_count, err)) {
      return false;
    }
  }
  return true;
}

static bool method(https_spec_t *s, const bson_iter_t *it, aspd_error_t *err) {
  static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  const char *m = BSON_ITER_HOLDS_UTF8(it) ? bson_iter_utf8(it, NULL) : "";
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    if (!strcasecmp(m, methods[i])) {
      free(s->method);
      s->method = strdup(methods[i]);
      s->send_body = i >= 1 && i <= 3;
      return true;
    }
  }
  aspd_plan_invalid(err, "$https.method must be one of GET, POST, PUT, PATCH or DELETE, found: %s",
                    BSON_ITER_HOLDS_UTF8(it) ? m : aspd_type_name(bson_iter_type(it)));
  return false;
}

static bool on_error(https_spec_t *s, const bson_iter_t *it, aspd_error_t *err) {
  static const char *const modes[] = {"dlq", "ignore", "fail"};
  const char *m = BSON_ITER_HOLDS_UTF8(it) ? bson_iter_utf8(it, NULL) : "";
  for (size_t i = 0; i < 3; i++) {
    if (!strcasecmp(m, modes[i])) {
      s->on_error = (on_error_t)i;
      return true;
    }
  }
  aspd_plan_invalid(err, "$https.onError must be one of dlq, ignore or fail, found: %s",
                    BSON_ITER_HOLDS_UTF8(it) ? m : aspd_type_name(bson_iter_type(it)));
  return false;
}

void *aspd_https_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(value)) {
    return aspd_plan_invalid(err, "%s", "$https stage specification must be an object");
  }
  https_spec_t *s = calloc(1, sizeof *s);
  s->method = strdup("GET");
  s->connect_timeout_s = 30;
  s->request_timeout_s = 60;
  bson_t spec;
  aspd_spec_doc(value, &spec);
  const char *name = aspd_plan_utf8(&spec, "connectionName");
  if (!name) {
    aspd_error_set(err, ASPD_E_LOCATION(40414),
                   "BSON field '$https.connectionName' is missing but a required field");
    return refuse(s);
  }
  if (!connection(s, name, ctx, err)) return refuse(s);
  bson_iter_t it;
  bson_iter_init(&it, &spec);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    bool ok = true;
    if (!strcmp(key, "connectionName")) {
      continue;
    } else if (!strcmp(key, "path")) {
      ok = (s->path = aspd_expr_compile(ctx->cc, bson_iter_value(&it), err)) != NULL;
    } else if (!strcmp(key, "parameters")) {
      ok = named_exprs(&it, key, ctx, &s->params, &s->param_count, err);
    } else if (!strcmp(key, "headers")) {
      ok = named_exprs(&it, key, ctx, &s->headers, &s->header_count, err);
    } else if (!strcmp(key, "method")) {
      ok = method(s, &it, err);
    } else if (!strcmp(key, "as")) {
      if (!BSON_ITER_HOLDS_UTF8(&it) || !*bson_iter_utf8(&it, NULL)) {
        aspd_plan_invalid(err, "%s", "$https.as must be a non-empty string");
        ok = false;
      } else {
        s->as = strdup(bson_iter_utf8(&it, NULL));
      }
    } else if (!strcmp(key, "onError")) {
      ok = on_error(s, &it, err);
    } else if (!strcmp(key, "payload")) {
      ok = payload(s, &it, ctx, err);
    } else if (!strcmp(key, "config")) {
      ok = config(s, &it, err);
    } else {
      aspd_error_set(err, ASPD_E_LOCATION(40415), "BSON field '$https.%s' is an unknown field.",
                     key);
      ok = false;
    }
    if (!ok) return refuse(s);
  }
  if (!s->as) {
    aspd_error_set(err, ASPD_E_LOCATION(40414),
                   "BSON field '$https.as' is missing but a required field");
    return refuse(s);
  }
  ctx->plan->needs_flush = true;
  return s;
}

/* --- the worker ------------------------------------------------------------ */

typedef struct job {
  struct job *next;
  bson_t *doc;      /* the input document, owned */
  char *url;        /* with the query string */
  size_t shown_len; /* the URL without the query string, for the metadata and reasons */
  struct curl_slist *headers;
  char *body;
  /* Set by the worker; read by the engine thread once done. */
  bool started, done;
  CURL *easy;
  CURLcode code;
  long status;
  char *content_type;
  char *response;
  size_t response_len;
  bool too_large;
  int64_t elapsed_ms;
  char error[CURL_ERROR_SIZE];
} job_t;

typedef struct {
  aspd_op_t base;
  const https_spec_t *spec;
  char *ca_file; /* ASPD_HTTPS_CA_FILE: trusted instead of the system's CAs */
  aspd_pipeline_t payload;
  pthread_mutex_t lock; /* guards the queue and the jobs' worker fields */
  pthread_cond_t done;  /* a job finished */
  pthread_t thread;
  bool thread_running, stopping;
  CURLM *multi;
  job_t *head, *tail; /* in arrival order */
  size_t queued, active;
  int64_t queued_bytes;
  bool failed; /* onError "fail" or an unexpected status: nothing more is handed on */
} https_op_t;

static size_t on_data(char *data, size_t size, size_t n, void *arg) {
  job_t *j = arg;
  size_t len = size * n;
  if (j->response_len + len > HTTPS_MAX_RESPONSE) {
    j->too_large = true;
    return 0;
  }
  j->response = realloc(j->response, j->response_len + len + 1);
  memcpy(j->response + j->response_len, data, len);
  j->response_len += len;
  j->response[j->response_len] = '\0';
  return len;
}

static void start_transfer(https_op_t *op, job_t *j) {
  const https_spec_t *s = op->spec;
  CURL *c = curl_easy_init();
  j->easy = c;
  curl_easy_setopt(c, CURLOPT_URL, j->url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s->connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, s->request_timeout_s);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, s->method);
  if (!strcmp(s->method, "GET")) curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  if (j->body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, j->headers);
  if (op->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, op->ca_file);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, j->error);
  curl_easy_setopt(c, CURLOPT_PRIVATE, j);
  curl_multi_add_handle(op->multi, c);
}

static void finish_transfer(https_op_t *op, CURL *c, CURLcode code) {
  job_t *j;
  curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&j);
  long status = 0;
  char *type = NULL;
  curl_off_t us = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
  curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &us);
  pthread_mutex_lock(&op->lock);
  j->code = code;
  j->status = status;
  j->content_type = type ? strdup(type) : NULL;
  j->elapsed_ms = (int64_t)(us / 1000);
  curl_multi_remove_handle(op->multi, c);
  curl_easy_cleanup(c);
  j->easy = NULL;
  j->done = true;
  op->active--;
  pthread_cond_broadcast(&op->done);
  pthread_mutex_unlock(&op->lock);
}

static void *worker(void *arg) {
  https_op_t *op = arg;
  pthread_mutex_lock(&op->lock);
  while (!op->stopping) {
    for (job_t *j = op->head; j && op->active < HTTPS_MAX_ACTIVE; j = j->next) {
      if (j->started) continue;
      j->started = true;
      op->active++;
      start_transfer(op, j);
    }
    pthread_mutex_unlock(&op->lock);
    int running, left;
    curl_multi_perform(op->multi, &running);
    CURLMsg *m;
    while ((m = curl_multi_info_read(op->multi, &left))) {
      if (m->msg == CURLMSG_DONE) finish_transfer(op, m->easy_handle, m->data.result);
    }
    /* Woken by curl_multi_wakeup when a job is queued or the operator stops. */
    curl_multi_poll(op->multi, NULL, 0, 1000, NULL);
    pthread_mutex_lock(&op->lock);
  }
  pthread_mutex_unlock(&op->lock);
  return NULL;
}

static void job_free(job_t *j) {
  free(j->url);
  curl_slist_free_all(j->headers);
  free(j->body);
  free(j->content_type);
  free(j->response);
  free(j);
}

/* --- building a request (engine thread) ------------------------------------ */

/* A number as the shortest text that reads back as the same double. */
static void number_text(double d, char *out, size_t len) {
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(out, len, "%.*g", digits, d);
    if (strtod(out, NULL) == d) return;
  }
}

/* A parameter's value as query text; false when it is not a number, string or bool. */
static bool param_text(const bson_value_t *v, char *buf, size_t len, const char **text) {
  switch (v->value_type) {
    case BSON_TYPE_UTF8:
      *text = v->value.v_utf8.str;
      return true;
    case BSON_TYPE_INT32:
      snprintf(buf, len, "%d", v->value.v_int32);
      break;
    case BSON_TYPE_INT64:
      snprintf(buf, len, "%lld", (long long)v->value.v_int64);
      break;
    case BSON_TYPE_DOUBLE:
      if (!isfinite(v->value.v_double)) return false;
      number_text(v->value.v_double, buf, len);
      break;
    case BSON_TYPE_BOOL:
      snprintf(buf, len, "%s", v->value.v_bool ? "true" : "false");
      break;
    default:
      return false;
  }
  *text = buf;
  return true;
}

typedef struct {
  aspd_pipeline_out_t base;
  bson_t *result;
  char reason[ASPD_EXPR_REASON_LEN];
} body_out_t;

static void body_emit(aspd_pipeline_out_t *self, bson_t *doc) {
  body_out_t *b = (body_out_t *)self;
  if (b->result) bson_destroy(b->result);
  b->result = doc;
}

static void body_reject(aspd_pipeline_out_t *self, size_t index, const bson_t *doc,
                        const char *reason) {
  (void)index;
  (void)doc;
  body_out_t *b = (body_out_t *)self;
  if (!b->reason[0]) snprintf(b->reason, sizeof b->reason, "%s", reason);
}

/* The request for doc; false with a reason (the document is dead-lettered). */
static bool build(https_op_t *op, const bson_t *doc, aspd_flow_t *flow, job_t *j, char *reason,
                  size_t reason_len) {
  const https_spec_t *s = op->spec;
  aspd_eval_t *ev = flow->ev;
  bson_value_t v;
  bson_string_t *url = bson_string_new(s->url);
  if (s->path) {
    if (!aspd_expr_eval_root(s->path, ev, doc, &v)) {
      snprintf(reason, reason_len, "%s", ev->reason);
      bson_string_free(url, true);
      return false;
    }
    if (v.value_type != BSON_TYPE_UTF8) {
      snprintf(reason, reason_len, "$https.path must evaluate to a string, found %s",
               aspd_value_type_name(&v));
      bson_string_free(url, true);
      return false;
    }
    const char *p = v.value.v_utf8.str;
    bool slash = url->len && url->str[url->len - 1] == '/';
    if (slash && *p == '/') p++;
    if (!slash && *p && *p != '/') bson_string_append_c(url, '/');
    bson_string_append(url, p);
  }
  j->shown_len = url->len;
  for (size_t i = 0; i < s->param_count; i++) {
    char buf[64];
    const char *text;
    if (!aspd_expr_eval_root(s->params[i].value, ev, doc, &v)) {
      snprintf(reason, reason_len, "%s", ev->reason);
      bson_string_free(url, true);
      return false;
    }
    if (!param_text(&v, buf, sizeof buf, &text)) {
      snprintf(reason, reason_len,
               "$https parameter '%s' must evaluate to a number, string or boolean, found %s",
               s->params[i].name, aspd_value_type_name(&v));
      bson_string_free(url, true);
      return false;
    }
    char *k = curl_easy_escape(NULL, s->params[i].name, 0), *t = curl_easy_escape(NULL, text, 0);
    bson_string_append_printf(url, "%c%s=%s", i ? '&' : (strchr(url->str, '?') ? '&' : '?'), k, t);
    curl_free(k);
    curl_free(t);
  }
  j->url = bson_string_free(url, false);
  for (const struct curl_slist *h = s->conn_headers; h; h = h->next) {
    j->headers = curl_slist_append(j->headers, h->data);
  }
  for (size_t i = 0; i < s->header_count; i++) {
    if (!aspd_expr_eval_root(s->headers[i].value, ev, doc, &v) || v.value_type != BSON_TYPE_UTF8) {
      snprintf(reason, reason_len, "$https header '%s' must evaluate to a string",
               s->headers[i].name);
      return false;
    }
    /* Invalid names and values are not sent, as on Atlas. */
    if (!header_name_ok(s->headers[i].name) ||
        !header_value_ok(v.value.v_utf8.str, v.value.v_utf8.len)) {
      continue;
    }
    char *line = bson_strdup_printf("%s: %s", s->headers[i].name, v.value.v_utf8.str);
    j->headers = curl_slist_append(j->headers, line);
    bson_free(line);
  }
  if (!s->send_body) return true;
  j->headers = curl_slist_append(j->headers, "Content-Type: application/json");
  if (!s->payload) {
    j->body = bson_as_relaxed_extended_json(doc, NULL);
    return true;
  }
  body_out_t out = {{body_emit, body_reject, NULL, ev, flow->out->now_ms}, NULL, ""};
  aspd_pipeline_push(&op->payload, 0, bson_copy(doc), &out.base);
  if (out.reason[0] || !out.result) {
    snprintf(reason, reason_len, "%s", out.reason[0] ? out.reason : "$https payload is empty");
    if (out.result) bson_destroy(out.result);
    return false;
  }
  j->body = bson_as_relaxed_extended_json(out.result, NULL);
  bson_destroy(out.result);
  return true;
}

/* --- handing documents on (engine thread) ---------------------------------- */

static bool status_follows_on_error(long status) {
  static const long codes[] = {400, 404, 410, 413, 414, 431};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    if (codes[i] == status) return true;
  }
  return false;
}

/* Strings holding JSON documents or arrays become values (config.parseJsonStrings). */
static void parse_json_strings(const bson_t *in, bson_t *out) {
  bson_iter_t it;
  bson_iter_init(&it, in);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (BSON_ITER_HOLDS_UTF8(&it)) {
      uint32_t len;
      const char *str = bson_iter_utf8(&it, &len);
      char *wrapped = bson_strdup_printf("{\"v\": %s}", str);
      bson_t *parsed = (*str == '{' || *str == '[')
                           ? bson_new_from_json((const uint8_t *)wrapped, -1, NULL)
                           : NULL;
      bson_free(wrapped);
      bson_iter_t v;
      if (parsed && bson_iter_init_find(&v, parsed, "v")) {
        bson_t inner, fixed = BSON_INITIALIZER;
        const uint8_t *data;
        uint32_t dlen;
        bson_iter_document(&v, &dlen, &data);
        bson_init_static(&inner, data, dlen);
        parse_json_strings(&inner, &fixed);
        if (BSON_ITER_HOLDS_ARRAY(&v)) {
          bson_append_array(out, key, -1, &fixed);
        } else {
          bson_append_document(out, key, -1, &fixed);
        }
        bson_destroy(&fixed);
        bson_destroy(parsed);
        continue;
      }
      if (parsed) bson_destroy(parsed);
    } else if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) {
      bson_t inner, fixed = BSON_INITIALIZER;
      const uint8_t *data;
      uint32_t dlen;
      if (BSON_ITER_HOLDS_ARRAY(&it)) {
        bson_iter_array(&it, &dlen, &data);
      } else {
        bson_iter_document(&it, &dlen, &data);
      }
      bson_init_static(&inner, data, dlen);
      parse_json_strings(&inner, &fixed);
      if (BSON_ITER_HOLDS_ARRAY(&it)) {
        bson_append_array(out, key, -1, &fixed);
      } else {
        bson_append_document(out, key, -1, &fixed);
      }
      bson_destroy(&fixed);
      continue;
    }
    bson_append_iter(out, key, -1, &it);
  }
}

/* The response body as the value of `as` in values (under key); false with a reason. */
static bool response_value(const https_spec_t *s, const job_t *j, bson_t *values, char *reason,
                           size_t reason_len) {
  const char *type = j->content_type;
  bool text = type && !strncasecmp(type, "text/plain", 10);
  if (type && !text && strncasecmp(type, "application/json", 16)) {
    snprintf(reason, reason_len, "$https response has an unsupported Content-Type: %.100s", type);
    return false;
  }
  if (text) {
    if (!bson_utf8_validate(j->response, j->response_len, false)) {
      snprintf(reason, reason_len, "%s", "$https response is not valid UTF-8 text");
      return false;
    }
    bson_append_utf8(values, s->as, -1, j->response, (int)j->response_len);
    return true;
  }
  char *wrapped = bson_strdup_printf("{\"v\": %s}", j->response);
  bson_error_t error;
  bson_t *parsed = bson_new_from_json((const uint8_t *)wrapped, -1, &error);
  bson_free(wrapped);
  bson_iter_t v;
  if (!parsed || !bson_iter_init_find(&v, parsed, "v")) {
    snprintf(reason, reason_len, "$https response is not valid JSON");
    if (parsed) bson_destroy(parsed);
    return false;
  }
  if (s->parse_json_strings) {
    bson_t fixed = BSON_INITIALIZER;
    parse_json_strings(parsed, &fixed);
    bson_iter_init_find(&v, &fixed, "v");
    bson_append_iter(values, s->as, -1, &v);
    bson_destroy(&fixed);
  } else {
    bson_append_iter(values, s->as, -1, &v);
  }
  bson_destroy(parsed);
  return true;
}

/* {<meta>.https: {url, method, httpStatusCode, responseTimeMs}} ($meta "stream.https"). */
static void append_meta(const https_spec_t *s, const job_t *j, const aspd_eval_t *ev,
                        bson_t *values) {
  if (!ev->meta_field) return;
  char key[256];
  snprintf(key, sizeof key, "%s.https", ev->meta_field);
  bson_t meta;
  bson_append_document_begin(values, key, -1, &meta);
  bson_append_utf8(&meta, "url", -1, j->url, (int)j->shown_len);
  BSON_APPEND_UTF8(&meta, "method", s->method);
  BSON_APPEND_INT32(&meta, "httpStatusCode", (int32_t)j->status);
  BSON_APPEND_INT64(&meta, "responseTimeMs", j->elapsed_ms);
  bson_append_document_end(values, &meta);
}

static void emit_with(aspd_flow_t *flow, bson_t *doc, const bson_t *values) {
  bson_t *out = aspd_doc_new(flow->ev);
  aspd_set_paths(doc, values, out);
  aspd_doc_release(flow->ev, doc);
  aspd_flow_emit(flow, out);
}

/* Hands on, dead-letters or fails on a finished job's document (taken). */
static void deliver(https_op_t *op, job_t *j, aspd_flow_t *flow) {
  const https_spec_t *s = op->spec;
  bson_t *doc = j->doc;
  j->doc = NULL;
  if (op->failed) {
    aspd_doc_release(flow->ev, doc);
    return;
  }
  char reason[ASPD_EXPR_REASON_LEN];
  bson_t values = BSON_INITIALIZER;
  bool ok = false, fail = false;
  if (j->code != CURLE_OK) {
    snprintf(reason, sizeof reason, "$https request to %.*s failed: %s", (int)j->shown_len, j->url,
             j->too_large ? "the response is larger than 16777216 bytes"
                          : (j->error[0] ? j->error : curl_easy_strerror(j->code)));
  } else if (j->status >= 200 && j->status < 300) {
    ok = !j->response_len || response_value(s, j, &values, reason, sizeof reason);
  } else {
    snprintf(reason, sizeof reason, "$https request to %.*s failed with HTTP status %ld",
             (int)j->shown_len, j->url, j->status);
    fail = !status_follows_on_error(j->status);
  }
  if (ok || (!fail && s->on_error == ON_ERROR_IGNORE)) {
    if (j->code == CURLE_OK) append_meta(s, j, flow->ev, &values);
    emit_with(flow, doc, &values);
  } else if (!fail && s->on_error == ON_ERROR_DLQ) {
    aspd_flow_reject(flow, doc, reason);
    aspd_doc_release(flow->ev, doc);
  } else {
    op->failed = true;
    aspd_flow_fail(flow, reason);
    aspd_doc_release(flow->ev, doc);
  }
  bson_destroy(&values);
}

/* Hands on the finished jobs at the head of the queue; with `all`, waits for every job. */
static void drain(https_op_t *op, aspd_flow_t *flow, bool all) {
  pthread_mutex_lock(&op->lock);
  while (op->head) {
    job_t *j = op->head;
    if (!j->done) {
      if (!all) break;
      pthread_cond_wait(&op->done, &op->lock);
      continue;
    }
    op->head = j->next;
    if (!op->head) op->tail = NULL;
    op->queued--;
    op->queued_bytes -= j->doc->len;
    pthread_mutex_unlock(&op->lock);
    deliver(op, j, flow);
    job_free(j);
    pthread_mutex_lock(&op->lock);
  }
  pthread_mutex_unlock(&op->lock);
}

/* Waits for the oldest job while the queue is full. */
static void make_room(https_op_t *op, aspd_flow_t *flow) {
  for (;;) {
    pthread_mutex_lock(&op->lock);
    bool full = op->queued >= HTTPS_MAX_QUEUED;
    while (full && !op->head->done) pthread_cond_wait(&op->done, &op->lock);
    pthread_mutex_unlock(&op->lock);
    if (!full) return;
    drain(op, flow, false);
  }
}

static void push(aspd_op_t *base, bson_t *doc, aspd_flow_t *flow) {
  https_op_t *op = (https_op_t *)base;
  drain(op, flow, false);
  if (op->failed) {
    aspd_doc_release(flow->ev, doc);
    return;
  }
  if (!op->thread_running) {
    aspd_flow_reject(flow, doc, "$https could not start its worker thread");
    aspd_doc_release(flow->ev, doc);
    return;
  }
  job_t *j = calloc(1, sizeof *j);
  char reason[ASPD_EXPR_REASON_LEN];
  if (!build(op, doc, flow, j, reason, sizeof reason)) {
    /* A request that cannot be built is a configuration error: dead-lettered whatever
     * onError says, as on Atlas. */
    aspd_flow_reject(flow, doc, reason);
    aspd_doc_release(flow->ev, doc);
    job_free(j);
    return;
  }
  make_room(op, flow);
  j->doc = doc;
  pthread_mutex_lock(&op->lock);
  if (op->tail) {
    op->tail->next = j;
  } else {
    op->head = j;
  }
  op->tail = j;
  op->queued++;
  op->queued_bytes += doc->len;
  pthread_mutex_unlock(&op->lock);
  curl_multi_wakeup(op->multi);
}

static void flush(aspd_op_t *base, const aspd_flush_t *why, aspd_flow_t *flow) {
  drain((https_op_t *)base, flow, why->end);
}

static int64_t state_bytes(const aspd_op_t *base) {
  https_op_t *op = (https_op_t *)(uintptr_t)base;
  pthread_mutex_lock(&op->lock);
  int64_t bytes = op->queued_bytes;
  pthread_mutex_unlock(&op->lock);
  return bytes;
}

static void https_free(aspd_op_t *base) {
  https_op_t *op = (https_op_t *)base;
  if (op->thread_running) {
    pthread_mutex_lock(&op->lock);
    op->stopping = true;
    pthread_mutex_unlock(&op->lock);
    curl_multi_wakeup(op->multi);
    pthread_join(op->thread, NULL);
  }
  while (op->head) {
    job_t *j = op->head;
    op->head = j->next;
    if (j->easy) {
      curl_multi_remove_handle(op->multi, j->easy);
      curl_easy_cleanup(j->easy);
    }
    if (j->doc) bson_destroy(j->doc);
    job_free(j);
  }
  curl_multi_cleanup(op->multi);
  aspd_pipeline_free(&op->payload);
  pthread_cond_destroy(&op->done);
  pthread_mutex_destroy(&op->lock);
  free(op->ca_file);
  free(op);
}

/* Documents waiting for their reply are not checkpointed (see docs/aspd-engine.md). */
static const aspd_op_vtable_t vt = {
    .push = push, .flush = flush, .state_bytes = state_bytes, .free = https_free};

static void global_init(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

aspd_op_t *aspd_https_make(const void *spec) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, global_init);
  https_op_t *op = calloc(1, sizeof *op);
  op->base.vt = &vt;
  op->spec = spec;
  const char *ca = getenv("ASPD_HTTPS_CA_FILE");
  op->ca_file = ca && *ca ? strdup(ca) : NULL;
  if (op->spec->payload) {
    aspd_pipeline_make(op->spec->payload, op->spec->payload_count, &op->payload);
  }
  pthread_mutex_init(&op->lock, NULL);
  pthread_cond_init(&op->done, NULL);
  op->multi = curl_multi_init();
  op->thread_running = pthread_create(&op->thread, NULL, worker, op) == 0;
  if (op->thread_running) pthread_setname_np(op->thread, "aspd-https");
  return &op->base;
}
