/* Processors over HTTPS: /groups/{g}/streams/{t}/processor[/{name}[:start|:startWith|:stop]]
 * and /processors. The same engine and processors as the wire commands. */
#include <string.h>

#include "commands/command_args.h"
#include "commands/processor_bound.h"
#include "engine/engine.h"
#include "http/api.h"
#include "workspace.h"

/* The fields a body may have, by name; anything else is a 400. */
static bool only_fields(const bson_t *doc, const char *const *allowed, const char *path,
                        aspd_http_reply_t *reply) {
  bson_iter_t it;
  bson_iter_init(&it, doc);
  while (bson_iter_next(&it)) {
    bool known = false;
    for (const char *const *a = allowed; *a && !known; a++) known = !strcmp(*a, bson_iter_key(&it));
    if (!known) {
      aspd_http_error(reply, 400, "INVALID_JSON_ATTRIBUTE", NULL,
                      "Invalid attribute %s%s specified.", path, bson_iter_key(&it));
      return false;
    }
  }
  return true;
}

/* A sub-document of doc as a static view; absent is fine (*present false). */
static bool sub_doc(const bson_t *doc, const char *key, bool array, bool *present, bson_t *out,
                    aspd_http_reply_t *reply) {
  bson_iter_t it;
  *present = bson_iter_init_find(&it, doc, key) && !BSON_ITER_HOLDS_NULL(&it);
  if (!*present) return true;
  if (array ? !BSON_ITER_HOLDS_ARRAY(&it) : !BSON_ITER_HOLDS_DOCUMENT(&it)) {
    aspd_http_error(reply, 400, "INVALID_ATTRIBUTE", NULL,
                    "Invalid attribute %s specified: expected %s.", key,
                    array ? "an array" : "an object");
    return false;
  }
  const uint8_t *data;
  uint32_t len;
  if (array) {
    bson_iter_array(&it, &len, &data);
  } else {
    bson_iter_document(&it, &len, &data);
  }
  return bson_init_static(out, data, len);
}

static bool string_field(const bson_t *doc, const char *key, const char **out,
                         aspd_http_reply_t *reply) {
  bson_iter_t it;
  *out = NULL;
  if (!bson_iter_init_find(&it, doc, key) || BSON_ITER_HOLDS_NULL(&it)) return true;
  if (!BSON_ITER_HOLDS_UTF8(&it)) {
    aspd_http_error(reply, 400, "INVALID_ATTRIBUTE", NULL,
                    "Invalid attribute %s specified: expected a string.", key);
    return false;
  }
  *out = bson_iter_utf8(&it, NULL);
  return true;
}

/* The tier field, checked like the wire commands check it. */
static bool tier_field(const bson_t *doc, const char **out, aspd_http_reply_t *reply) {
  aspd_error_t err = {0};
  if (!string_field(doc, "tier", out, reply)) return false;
  if (aspd_arg_tier(*out, &err)) return true;
  aspd_http_error(reply, 400, "INVALID_ATTRIBUTE", NULL, "Invalid attribute tier specified: %s.",
                  err.message);
  return false;
}

static bool bool_field(const bson_t *doc, const char *key, bool *present, bool *out,
                       aspd_http_reply_t *reply) {
  bson_iter_t it;
  *present = bson_iter_init_find(&it, doc, key) && !BSON_ITER_HOLDS_NULL(&it);
  if (!*present) return true;
  if (!BSON_ITER_HOLDS_BOOL(&it)) {
    aspd_http_error(reply, 400, "INVALID_ATTRIBUTE", NULL,
                    "Invalid attribute %s specified: expected a boolean.", key);
    return false;
  }
  *out = bson_iter_bool(&it);
  return true;
}

static void not_found(const aspd_http_request_t *req, const char *name, aspd_http_reply_t *reply) {
  const char *params[] = {name, NULL};
  aspd_http_error(reply, 404, "STREAM_PROCESSOR_NOT_FOUND", params,
                  "Stream processor with name %s for project %s and name %s not found.", name,
                  req->params[0], req->params[1]);
}

/* An engine refusal: Atlas's generic processor error with the reason. */
static void failed(const char *name, const aspd_error_t *err, aspd_http_reply_t *reply) {
  const char *params[] = {name, err->message, NULL};
  aspd_http_error(reply, 400, "STREAM_PROCESSOR_GENERIC_ERROR", params,
                  "Streams Processor with this name (%s) had a problem occur: %s", name,
                  err->message);
}

/* Appends StreamsProcessorWithStats {_id, name, pipeline, state, tier, options, stats}. */
static bool describe(aspd_engine_t *e, const char *name, bool with_stats, bson_t *out) {
  aspd_error_t err = {0};
  bson_t info = BSON_INITIALIZER, stats_reply = BSON_INITIALIZER;
  bool ok = aspd_engine_describe(e, name, &info, &err) &&
            (!with_stats || aspd_engine_stats(e, name, false, 1, &stats_reply, &err));
  if (ok) {
    static const char *const copied[] = {"_id", "name", "pipeline", "state", "tier"};
    bson_iter_t it;
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
      if (bson_iter_init_find(&it, &info, copied[i])) {
        bson_append_value(out, copied[i], -1, bson_iter_value(&it));
      }
    }
    bson_t options;
    BSON_APPEND_DOCUMENT_BEGIN(out, "options", &options);
    if (bson_iter_init_find(&it, &info, "dlq"))
      bson_append_value(&options, "dlq", -1, bson_iter_value(&it));
    bson_append_document_end(out, &options);
    if (with_stats && bson_iter_init_find(&it, &stats_reply, "stats")) {
      bson_append_value(out, "stats", -1, bson_iter_value(&it));
    }
  }
  bson_destroy(&info);
  bson_destroy(&stats_reply);
  return ok;
}

/* The engine of the workspace, and whether the named processor exists (404 if not). */
static aspd_engine_t *engine_for(const aspd_http_request_t *req, const char *name,
                                 aspd_http_reply_t *reply) {
  aspd_engine_t *e = aspd_workspace_engine(req->workspace);
  if (name) {
    bson_t probe = BSON_INITIALIZER;
    aspd_error_t err = {0};
    bool exists = aspd_engine_describe(e, name, &probe, &err);
    bson_destroy(&probe);
    if (!exists) {
      not_found(req, name, reply);
      return NULL;
    }
  }
  return e;
}

void aspd_http_processor_create(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  static const char *const fields[] = {
      "_id", "name", "pipeline", "options", "tier", "failoverEnabled", NULL};
  static const char *const option_fields[] = {"dlq", NULL};
  aspd_engine_t *e = engine_for(req, NULL, reply);
  const bson_t *body = e ? aspd_http_body(req, reply) : NULL;
  const char *name, *tier;
  bson_t pipeline, options;
  bool has_pipeline, has_options, has_failover, failover;
  if (!body || !only_fields(body, fields, "", reply) || !string_field(body, "name", &name, reply) ||
      !tier_field(body, &tier, reply) ||
      !sub_doc(body, "pipeline", true, &has_pipeline, &pipeline, reply) ||
      !sub_doc(body, "options", false, &has_options, &options, reply) ||
      (has_options && !only_fields(&options, option_fields, "options.", reply)) ||
      !bool_field(body, "failoverEnabled", &has_failover, &failover, reply)) {
    return;
  }
  if (!name || !*name || !has_pipeline) {
    aspd_http_error(reply, 400, "MISSING_ATTRIBUTE", NULL,
                    "The required attribute %s was not specified.",
                    !name || !*name ? "name" : "pipeline");
    return;
  }
  bson_t engine_options = BSON_INITIALIZER;
  bson_iter_t it;
  if (has_options && bson_iter_init_find(&it, &options, "dlq")) {
    bson_append_value(&engine_options, "dlq", -1, bson_iter_value(&it));
  }
  if (tier) BSON_APPEND_UTF8(&engine_options, "tier", tier);
  if (has_failover) BSON_APPEND_BOOL(&engine_options, "failover", failover);
  aspd_error_t err = {0};
  if (aspd_bounded_processor_create(e, name, &pipeline, &engine_options, &err)) {
    describe(e, name, false, &reply->body);
  } else {
    failed(name, &err, reply);
  }
  bson_destroy(&engine_options);
}

void aspd_http_processor_get(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  aspd_engine_t *e = engine_for(req, req->params[2], reply);
  if (e && !describe(e, req->params[2], true, &reply->body)) not_found(req, req->params[2], reply);
}

void aspd_http_processors_list(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  aspd_engine_t *e = engine_for(req, NULL, reply);
  size_t per_page, page;
  if (!e || !aspd_http_page_args(req, reply, &per_page, &page)) return;
  const char *count = req->query(req, "includeCount");
  if (count && strcmp(count, "true") != 0 && strcmp(count, "false") != 0) {
    const char *params[] = {"includeCount", count, NULL};
    aspd_http_error(reply, 400, "INVALID_QUERY_PARAMETER", params,
                    "Invalid value %s for query parameter includeCount: expected true or false.",
                    count);
    return;
  }
  bson_t all = BSON_INITIALIZER, results;
  aspd_error_t err = {0};
  aspd_engine_list(e, NULL, &all, &err);
  size_t total = 0;
  uint32_t n = 0;
  bson_iter_t it, name;
  BSON_APPEND_ARRAY_BEGIN(&reply->body, "results", &results);
  bson_iter_init(&it, &all);
  while (bson_iter_next(&it)) {
    if (total++ < (page - 1) * per_page || n >= per_page) continue;
    if (!bson_iter_recurse(&it, &name) || !bson_iter_find(&name, "name")) continue;
    char key[16];
    const char *k;
    bson_uint32_to_string(n, &k, key, sizeof key);
    bson_t item;
    BSON_APPEND_DOCUMENT_BEGIN(&results, k, &item);
    /* A processor dropped since the list was taken leaves an empty item out. */
    bool found = describe(e, bson_iter_utf8(&name, NULL), true, &item);
    bson_append_document_end(&results, &item);
    if (found) n++;
  }
  bson_append_array_end(&reply->body, &results);
  bson_destroy(&all);
  aspd_http_page_finish(req, reply, per_page, page, total, !count || !strcmp(count, "true"));
}

void aspd_http_processor_update(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  static const char *const fields[] = {"name", "pipeline",        "options",
                                       "tier", "failoverEnabled", NULL};
  static const char *const option_fields[] = {"dlq", "resumeFromCheckpoint", NULL};
  const char *name = req->params[2];
  aspd_engine_t *e = engine_for(req, name, reply);
  const bson_t *body = e ? aspd_http_body(req, reply) : NULL;
  aspd_modify_t m = {.resume_from_checkpoint = true};
  bson_t pipeline, options, dlq;
  bool has_pipeline, has_options, has_dlq = false, has_resume = false, has_failover, failover;
  if (!body || !only_fields(body, fields, "", reply) ||
      !string_field(body, "name", &m.new_name, reply) || !tier_field(body, &m.tier, reply) ||
      !sub_doc(body, "pipeline", true, &has_pipeline, &pipeline, reply) ||
      !sub_doc(body, "options", false, &has_options, &options, reply) ||
      (has_options && (!only_fields(&options, option_fields, "options.", reply) ||
                       !sub_doc(&options, "dlq", false, &has_dlq, &dlq, reply) ||
                       !bool_field(&options, "resumeFromCheckpoint", &has_resume,
                                   &m.resume_from_checkpoint, reply))) ||
      !bool_field(body, "failoverEnabled", &has_failover, &failover, reply)) {
    return;
  }
  m.pipeline = has_pipeline ? &pipeline : NULL;
  m.dlq = has_dlq ? &dlq : NULL;
  aspd_error_t err = {0};
  if (!aspd_bounded_processor_modify(e, name, &m, &err)) {
    failed(name, &err, reply);
    return;
  }
  describe(e, m.new_name ? m.new_name : name, true, &reply->body);
}

void aspd_http_processor_delete(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  const char *name = req->params[2];
  aspd_engine_t *e = engine_for(req, name, reply);
  aspd_error_t err = {0};
  if (!e) return;
  if (!aspd_engine_drop(e, name, &err)) {
    failed(name, &err, reply);
    return;
  }
  reply->status = 204;
  reply->has_body = false;
}

static void start(const aspd_http_request_t *req, const aspd_start_options_t *opts,
                  aspd_http_reply_t *reply) {
  const char *name = req->params[2];
  aspd_engine_t *e = engine_for(req, name, reply);
  aspd_error_t err = {0};
  if (!e) return;
  if (!aspd_engine_start(e, name, opts, &err)) {
    failed(name, &err, reply);
    return;
  }
  reply->has_body = false;
}

void aspd_http_processor_start(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  aspd_start_options_t opts = {0};
  start(req, &opts, reply);
}

void aspd_http_processor_start_with(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  static const char *const fields[] = {"resumeFromCheckpoint", "startAtOperationTime", "tier",
                                       "failover", NULL};
  static const char *const failover_fields[] = {"region", "mode", "dryRun", "clearCheckpoint",
                                                NULL};
  aspd_start_options_t opts = {0};
  bool has_resume, resume = true, has_failover, has_clear, clear = false;
  const char *at;
  bson_t failover;
  const bson_t *body = req->body;
  bson_t empty = BSON_INITIALIZER;
  if (!body) body = &empty;
  if (!only_fields(body, fields, "", reply) ||
      !bool_field(body, "resumeFromCheckpoint", &has_resume, &resume, reply) ||
      !string_field(body, "startAtOperationTime", &at, reply) ||
      !tier_field(body, &opts.tier, reply) ||
      !sub_doc(body, "failover", false, &has_failover, &failover, reply) ||
      (has_failover && (!only_fields(&failover, failover_fields, "failover.", reply) ||
                        !bool_field(&failover, "clearCheckpoint", &has_clear, &clear, reply)))) {
    return;
  }
  /* Not resuming from the checkpoint is starting without it. */
  opts.clear_checkpoints = !resume || clear;
  start(req, &opts, reply);
}

void aspd_http_processor_stop(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  const char *name = req->params[2];
  aspd_engine_t *e = engine_for(req, name, reply);
  aspd_error_t err = {0};
  if (!e) return;
  if (!aspd_engine_stop(e, name, &err)) {
    failed(name, &err, reply);
    return;
  }
  reply->has_body = false;
}
