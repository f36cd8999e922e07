/* One builder per ASP command: validation first, then the fields in the order of the
 * protocol reference §2 (command name first), option placement as the drivers' majority.
 * The reserved startAfter is never sent. */
#include <string.h>

#include "asp.h"

static void append_tristate(bson_t *doc, const char *key, asp_tristate_t v) {
  if (v != ASP_UNSET) bson_append_bool(doc, key, -1, v == ASP_TRUE);
}

static bool failover_wanted(const asp_start_opts_t *o) {
  return o->failover_region || o->failover_mode || o->failover_dry_run != ASP_UNSET;
}

static bool validate_start(const asp_start_opts_t *o, asp_error_t *err) {
  if (o->has_workers && o->workers <= 0) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "workers: must be greater than 0");
    return false;
  }
  if (o->tier && !asp_validate_tier(o->tier, "tier", err)) return false;
  if (!failover_wanted(o)) return true;
  if (!o->failover_region || !*o->failover_region) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "failover.region: required when failover is given");
    return false;
  }
  if (o->failover_mode && strcmp(o->failover_mode, "GRACEFUL") != 0 &&
      strcmp(o->failover_mode, "FORCED") != 0) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "failover.mode: expected GRACEFUL or FORCED, got '%s'",
                  o->failover_mode);
    return false;
  }
  return true;
}

bool asp_build_create(const char *name, const bson_t *pipeline, const asp_create_opts_t *o,
                      bson_t *cmd, asp_error_t *err) {
  bson_init(cmd);
  static const asp_create_opts_t none;
  if (!o) o = &none;
  if (!asp_validate_name(name, "createStreamProcessor", err) ||
      !asp_validate_pipeline(pipeline, err))
    return false;
  if (o->tier && !asp_validate_tier(o->tier, "tier", err)) return false;
  BSON_APPEND_UTF8(cmd, "createStreamProcessor", name);
  BSON_APPEND_ARRAY(cmd, "pipeline", pipeline);
  if (o->dlq || o->stream_meta_field_name || o->tier || o->failover != ASP_UNSET) {
    bson_t options;
    BSON_APPEND_DOCUMENT_BEGIN(cmd, "options", &options);
    if (o->dlq) BSON_APPEND_DOCUMENT(&options, "dlq", o->dlq);
    if (o->stream_meta_field_name)
      BSON_APPEND_UTF8(&options, "streamMetaFieldName", o->stream_meta_field_name);
    if (o->tier) BSON_APPEND_UTF8(&options, "tier", o->tier);
    append_tristate(&options, "failover", o->failover);
    bson_append_document_end(cmd, &options);
  }
  return true;
}

bool asp_build_start(const char *name, const asp_start_opts_t *o, bson_t *cmd, asp_error_t *err) {
  bson_init(cmd);
  static const asp_start_opts_t none;
  if (!o) o = &none;
  if (!asp_validate_name(name, "startStreamProcessor", err) || !validate_start(o, err))
    return false;
  BSON_APPEND_UTF8(cmd, "startStreamProcessor", name);
  if (o->has_workers) BSON_APPEND_INT32(cmd, "workers", o->workers);
  if (o->clear_checkpoints != ASP_UNSET || o->has_start_at_operation_time || o->tier ||
      o->enable_auto_scaling != ASP_UNSET) {
    bson_t options;
    BSON_APPEND_DOCUMENT_BEGIN(cmd, "options", &options);
    append_tristate(&options, "clearCheckpoints", o->clear_checkpoints);
    if (o->has_start_at_operation_time)
      BSON_APPEND_TIMESTAMP(&options, "startAtOperationTime", o->start_at_t, o->start_at_i);
    if (o->tier) BSON_APPEND_UTF8(&options, "tier", o->tier);
    append_tristate(&options, "enableAutoScaling", o->enable_auto_scaling);
    bson_append_document_end(cmd, &options);
  }
  if (failover_wanted(o)) {
    bson_t failover;
    BSON_APPEND_DOCUMENT_BEGIN(cmd, "failover", &failover);
    BSON_APPEND_UTF8(&failover, "region", o->failover_region);
    if (o->failover_mode) BSON_APPEND_UTF8(&failover, "mode", o->failover_mode);
    append_tristate(&failover, "dryRun", o->failover_dry_run);
    bson_append_document_end(cmd, &failover);
  }
  return true;
}

static bool build_name_only(const char *command, const char *name, bson_t *cmd, asp_error_t *err) {
  bson_init(cmd);
  if (!asp_validate_name(name, command, err)) return false;
  BSON_APPEND_UTF8(cmd, command, name);
  return true;
}

bool asp_build_stop(const char *name, bson_t *cmd, asp_error_t *err) {
  return build_name_only("stopStreamProcessor", name, cmd, err);
}

bool asp_build_drop(const char *name, bson_t *cmd, asp_error_t *err) {
  return build_name_only("dropStreamProcessor", name, cmd, err);
}

bool asp_build_get_info(const char *name, bson_t *cmd, asp_error_t *err) {
  return build_name_only("getStreamProcessor", name, cmd, err);
}

bool asp_build_modify(const char *name, const asp_modify_opts_t *o, bson_t *cmd, asp_error_t *err) {
  bson_init(cmd);
  static const asp_modify_opts_t none;
  if (!o) o = &none;
  if (!asp_validate_name(name, "modifyStreamProcessor", err)) return false;
  if (o->pipeline && !asp_validate_pipeline(o->pipeline, err)) return false;
  if (o->new_name && !asp_validate_name(o->new_name, "name", err)) return false;
  if (o->tier && !asp_validate_tier(o->tier, "tier", err)) return false;
  if (!o->pipeline && !o->new_name && !o->dlq && o->resume_from_checkpoint == ASP_UNSET &&
      !o->tier) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "modifyStreamProcessor: nothing to modify");
    return false;
  }
  /* mongosh's order: the pipeline right after the name, then the user's fields. */
  BSON_APPEND_UTF8(cmd, "modifyStreamProcessor", name);
  if (o->pipeline) BSON_APPEND_ARRAY(cmd, "pipeline", o->pipeline);
  if (o->new_name) BSON_APPEND_UTF8(cmd, "name", o->new_name);
  if (o->dlq) BSON_APPEND_DOCUMENT(cmd, "dlq", o->dlq);
  append_tristate(cmd, "resumeFromCheckpoint", o->resume_from_checkpoint);
  if (o->tier) BSON_APPEND_UTF8(cmd, "tier", o->tier);
  return true;
}

bool asp_build_stats(const char *name, const asp_stats_opts_t *o, bson_t *cmd, asp_error_t *err) {
  bson_init(cmd);
  static const asp_stats_opts_t none;
  if (!o) o = &none;
  if (!asp_validate_name(name, "getStreamProcessorStats", err)) return false;
  if (o->has_scale && o->scale <= 0) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "scale: must be greater than 0");
    return false;
  }
  BSON_APPEND_UTF8(cmd, "getStreamProcessorStats", name);
  if (o->verbose != ASP_UNSET || o->has_scale) {
    bson_t options;
    BSON_APPEND_DOCUMENT_BEGIN(cmd, "options", &options);
    append_tristate(&options, "verbose", o->verbose);
    if (o->has_scale) BSON_APPEND_INT32(&options, "scale", o->scale);
    bson_append_document_end(cmd, &options);
  }
  return true;
}

static bool build_list(const char *command, const bson_t *filter, bson_t *cmd) {
  bson_init(cmd);
  BSON_APPEND_INT32(cmd, command, 1);
  if (filter) BSON_APPEND_DOCUMENT(cmd, "filter", filter);
  return true;
}

bool asp_build_list_processors(const bson_t *filter, bson_t *cmd, asp_error_t *err) {
  (void)err;
  return build_list("listStreamProcessors", filter, cmd);
}

bool asp_build_list_connections(const bson_t *filter, bson_t *cmd, asp_error_t *err) {
  (void)err;
  return build_list("listStreamConnections", filter, cmd);
}

bool asp_build_workspace_defaults(bson_t *cmd, asp_error_t *err) {
  (void)err;
  return build_list("listWorkspaceDefaults", NULL, cmd);
}

bool asp_build_process(const bson_t *pipeline, const bson_t *dlq, bson_t *cmd, asp_error_t *err) {
  bson_init(cmd);
  if (!asp_validate_pipeline(pipeline, err)) return false;
  BSON_APPEND_ARRAY(cmd, "processStreamProcessor", pipeline);
  if (dlq) {
    bson_t options;
    BSON_APPEND_DOCUMENT_BEGIN(cmd, "options", &options);
    BSON_APPEND_DOCUMENT(&options, "dlq", dlq);
    bson_append_document_end(cmd, &options);
  }
  return true;
}

bool asp_build_sample_start(const char *name, const asp_sample_start_opts_t *o, bson_t *cmd,
                            asp_error_t *err) {
  bson_init(cmd);
  if (!asp_validate_name(name, "startSampleStreamProcessor", err)) return false;
  if (o && o->has_limit && o->limit < 0) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "limit: must be 0 or more");
    return false;
  }
  BSON_APPEND_UTF8(cmd, "startSampleStreamProcessor", name);
  if (o && o->has_limit) BSON_APPEND_INT32(cmd, "limit", o->limit);
  return true;
}

bool asp_build_sample_get_more(const char *name, int64_t cursor_id, int32_t batch_size, bson_t *cmd,
                               asp_error_t *err) {
  bson_init(cmd);
  if (!asp_validate_name(name, "getMoreSampleStreamProcessor", err)) return false;
  if (cursor_id <= 0) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                  "cursor_id: a continuation needs the id of an open cursor (greater than 0)");
    return false;
  }
  BSON_APPEND_UTF8(cmd, "getMoreSampleStreamProcessor", name);
  BSON_APPEND_INT64(cmd, "cursorId", cursor_id);
  if (batch_size >= 0) BSON_APPEND_INT32(cmd, "batchSize", batch_size);
  return true;
}
