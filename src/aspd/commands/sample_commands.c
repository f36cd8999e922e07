/* processStreamProcessor and the two sample cursor commands. */
#include "commands/asp_commands.h"
#include "commands/command_args.h"
#include "commands/reply.h"

void aspd_cmd_process(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  bson_iter_t it;
  if (!bson_iter_init(&it, cmd) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_ARRAY(&it)) {
    aspd_error_set(&err, ASPD_E_FAILED_TO_PARSE,
                   "processStreamProcessor requires the pipeline as an array of stages");
    aspd_reply_from_error(reply, &err);
    return;
  }
  const uint8_t *data;
  uint32_t len;
  bson_iter_array(&it, &len, &data);
  bson_t pipeline, options;
  bson_init_static(&pipeline, data, len);
  bool has_options;
  char name[128];
  int64_t cursor = 0;
  bool ok = aspd_arg_options(cmd, &has_options, &options, &err) &&
            aspd_engine_process(ctx->engine, &pipeline, has_options ? &options : NULL, name,
                                sizeof name, &cursor, &err);
  if (!ok) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  aspd_reply_ok(reply);
  BSON_APPEND_UTF8(reply, "name", name);
  BSON_APPEND_INT64(reply, "cursorId", cursor);
}

void aspd_cmd_sample_start(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *name;
  bool has_limit = false;
  int64_t limit = -1, cursor = 0;
  bool ok =
      aspd_arg_name(cmd, &name, &err) && aspd_arg_int64(cmd, "limit", &has_limit, &limit, &err);
  if (ok && has_limit && limit < 0) {
    aspd_error_set(&err, ASPD_E_INVALID_OPTIONS, "limit must be >= 0");
    ok = false;
  }
  if (ok) ok = aspd_engine_sample_start(ctx->engine, name, has_limit ? limit : -1, &cursor, &err);
  if (!ok) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  /* The live server returns only the id: documents come with getMore. */
  aspd_reply_ok(reply);
  BSON_APPEND_INT64(reply, "cursorId", cursor);
}

void aspd_cmd_sample_more(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *name;
  bool has_cursor = false, has_batch = false;
  int64_t cursor = 0, batch = 0, next = 0;
  bool ok = aspd_arg_name(cmd, &name, &err) &&
            aspd_arg_int64(cmd, "cursorId", &has_cursor, &cursor, &err) &&
            aspd_arg_int64(cmd, "batchSize", &has_batch, &batch, &err);
  if (ok && (!has_cursor || cursor <= 0)) {
    aspd_error_set(&err, ASPD_E_FAILED_TO_PARSE,
                   "getMoreSampleStreamProcessor requires 'cursorId', a positive integer");
    ok = false;
  }
  if (ok && (batch < 0 || batch > INT32_MAX)) {
    aspd_error_set(&err, ASPD_E_INVALID_OPTIONS, "batchSize must be >= 0");
    ok = false;
  }
  bson_t messages = BSON_INITIALIZER;
  if (ok) {
    ok = aspd_engine_sample_more(ctx->engine, name, cursor, (int32_t)batch, &messages, &next, &err);
  }
  if (ok) {
    aspd_reply_ok(reply);
    BSON_APPEND_INT64(reply, "cursorId", next);
    BSON_APPEND_ARRAY(reply, "messages", &messages);
  } else {
    aspd_reply_from_error(reply, &err);
  }
  bson_destroy(&messages);
}
