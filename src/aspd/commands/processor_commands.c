/* createStreamProcessor, start, stop, drop, modify, getStreamProcessor,
 * getStreamProcessorStats and listStreamProcessors. */
#include <string.h>

#include "commands/asp_commands.h"
#include "commands/command_args.h"
#include "commands/processor_bound.h"
#include "commands/reply.h"

static void answer(bson_t *reply, bool ok, const aspd_error_t *err) {
  if (ok) {
    aspd_reply_ok(reply);
  } else {
    aspd_reply_from_error(reply, err);
  }
}

/* Every field of options has to have the type the drivers send. */
static bool check_create_options(const bson_t *cmd, aspd_error_t *err) {
  bool present;
  bson_t doc;
  const char *s = NULL;
  bool b;
  return aspd_arg_doc(cmd, "dlq", false, &present, &doc, err) &&
         aspd_arg_utf8(cmd, "streamMetaFieldName", &s, err) &&
         aspd_arg_utf8(cmd, "tier", &s, err) && aspd_arg_tier(s, err) &&
         aspd_arg_bool(cmd, "failover", &b, err);
}

void aspd_cmd_create(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *name;
  bson_t pipeline, options;
  bool has_pipeline = false, has_options = false;
  bson_iter_t it;
  bool ok = aspd_arg_name(cmd, &name, &err) && aspd_arg_options(cmd, &has_options, &options, &err);
  if (ok && !(bson_iter_init_find(&it, cmd, "pipeline") && BSON_ITER_HOLDS_ARRAY(&it))) {
    aspd_error_set(&err, ASPD_E_FAILED_TO_PARSE,
                   "createStreamProcessor requires 'pipeline' as an array of stages");
    ok = false;
  }
  if (ok) ok = aspd_arg_doc(cmd, "pipeline", true, &has_pipeline, &pipeline, &err);
  if (ok && has_options) ok = check_create_options(&options, &err);
  if (ok) {
    ok = aspd_bounded_processor_create(ctx->engine, name, &pipeline, has_options ? &options : NULL,
                                       &err);
  }
  answer(reply, ok, &err);
}

void aspd_cmd_start(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *name;
  aspd_start_options_t opts = {0};
  bson_t opts_doc, doc;
  bool has_opts, present, b;
  int64_t workers = 0;
  bson_iter_t it;
  bool ok = aspd_arg_name(cmd, &name, &err) && aspd_arg_options(cmd, &has_opts, &opts_doc, &err) &&
            aspd_arg_bool(cmd, "clearCheckpoints", &opts.clear_checkpoints, &err) &&
            aspd_arg_utf8(cmd, "tier", &opts.tier, &err) && aspd_arg_tier(opts.tier, &err) &&
            aspd_arg_int64(cmd, "workers", &present, &workers, &err) &&
            aspd_arg_bool(cmd, "enableAutoScaling", &b, &err) &&
            aspd_arg_bool(cmd, "resumeFromCheckpoint", &b, &err) &&
            aspd_arg_doc(cmd, "autoscaling", false, &present, &doc, &err) &&
            aspd_arg_doc(cmd, "startAfter", false, &present, &doc, &err);
  if (ok && present && aspd_arg_find(cmd, "startAtOperationTime", &it)) {
    aspd_error_set(&err, ASPD_E_INVALID_OPTIONS,
                   "startAfter and startAtOperationTime cannot both be set");
    ok = false;
  }
  if (ok && aspd_arg_find(cmd, "startAtOperationTime", &it) && !BSON_ITER_HOLDS_TIMESTAMP(&it) &&
      !BSON_ITER_HOLDS_DATE_TIME(&it)) {
    aspd_error_set(&err, ASPD_E_FAILED_TO_PARSE,
                   "field 'startAtOperationTime' must be a timestamp or a date");
    ok = false;
  }
  /* failover: a document {region, mode?, dryRun?} (drivers) or a bool, at the top level or in
   * options. */
  if (ok && aspd_arg_find(cmd, "failover", &it) && !BSON_ITER_HOLDS_DOCUMENT(&it) &&
      !BSON_ITER_HOLDS_BOOL(&it)) {
    aspd_error_set(&err, ASPD_E_FAILED_TO_PARSE, "field 'failover' must be an object");
    ok = false;
  }
  if (ok && (workers < 0 || workers > 64)) {
    aspd_error_set(&err, ASPD_E_INVALID_OPTIONS, "workers must be between 1 and 64");
    ok = false;
  }
  opts.workers = (int32_t)workers;
  if (ok) ok = aspd_engine_start(ctx->engine, name, &opts, &err);
  answer(reply, ok, &err);
}

void aspd_cmd_stop(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *name;
  bool ok = aspd_arg_name(cmd, &name, &err) && aspd_engine_stop(ctx->engine, name, &err);
  answer(reply, ok, &err);
}

void aspd_cmd_drop(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *name;
  bool ok = aspd_arg_name(cmd, &name, &err) && aspd_engine_drop(ctx->engine, name, &err);
  answer(reply, ok, &err);
}

void aspd_cmd_modify(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *name;
  aspd_modify_t m = {.resume_from_checkpoint = true};
  bson_t pipeline, dlq;
  bool has_pipeline = false, has_dlq = false;
  bool ok = aspd_arg_name(cmd, &name, &err) &&
            aspd_arg_doc(cmd, "pipeline", true, &has_pipeline, &pipeline, &err) &&
            aspd_arg_doc(cmd, "dlq", false, &has_dlq, &dlq, &err) &&
            aspd_arg_utf8(cmd, "name", &m.new_name, &err) &&
            aspd_arg_utf8(cmd, "tier", &m.tier, &err) && aspd_arg_tier(m.tier, &err) &&
            aspd_arg_bool(cmd, "resumeFromCheckpoint", &m.resume_from_checkpoint, &err);
  if (ok && m.new_name && !*m.new_name) {
    aspd_error_set(&err, ASPD_E_FAILED_TO_PARSE, "field 'name' must be a non-empty string");
    ok = false;
  }
  m.pipeline = has_pipeline ? &pipeline : NULL;
  m.dlq = has_dlq ? &dlq : NULL;
  if (ok) ok = aspd_bounded_processor_modify(ctx->engine, name, &m, &err);
  answer(reply, ok, &err);
}

void aspd_cmd_get(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *name;
  bson_t result = BSON_INITIALIZER;
  bool ok =
      aspd_arg_name(cmd, &name, &err) && aspd_engine_describe(ctx->engine, name, &result, &err);
  if (ok) {
    /* The live server wraps the processor in `result`. */
    aspd_reply_ok(reply);
    BSON_APPEND_DOCUMENT(reply, "result", &result);
  } else {
    aspd_reply_from_error(reply, &err);
  }
  bson_destroy(&result);
}

void aspd_cmd_stats(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *name;
  bool verbose = false, has_scale = false;
  int64_t scale = 1;
  bson_t opts;
  bool has_opts;
  bool ok = aspd_arg_name(cmd, &name, &err) && aspd_arg_options(cmd, &has_opts, &opts, &err) &&
            aspd_arg_bool(cmd, "verbose", &verbose, &err) &&
            aspd_arg_int64(cmd, "scale", &has_scale, &scale, &err);
  if (ok && has_scale && scale <= 0) {
    aspd_error_set(&err, ASPD_E_INVALID_OPTIONS, "scale must be a positive integer");
    ok = false;
  }
  bson_t body = BSON_INITIALIZER;
  if (ok) ok = aspd_engine_stats(ctx->engine, name, verbose, has_scale ? scale : 1, &body, &err);
  if (ok) {
    aspd_reply_ok(reply);
    bson_concat(reply, &body);
  } else {
    aspd_reply_from_error(reply, &err);
  }
  bson_destroy(&body);
}

void aspd_cmd_list(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  bson_t view;
  const bson_t *filter;
  if (!aspd_arg_filter(cmd, &view, &filter, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  bson_t items = BSON_INITIALIZER;
  aspd_engine_list(ctx->engine, filter, &items, &err);
  aspd_reply_ok(reply);
  BSON_APPEND_ARRAY(reply, "streamProcessors", &items);
  bson_destroy(&items);
}
