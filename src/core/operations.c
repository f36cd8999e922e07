/* Every ASP operation: build (validating), run on admin, unwrap. Only getStreamProcessor and
 * getStreamProcessorStats are retryable reads. */
#include "asp_private.h"

bool asp_run_unwrapped(asp_client_t *c, const bson_t *cmd, bool retryable_read, bson_t *out,
                       asp_error_t *err) {
  bson_t reply;
  bool ok = asp_client_run(c, cmd, retryable_read, &reply, err);
  if (ok) {
    asp_reply_unwrap(&reply, out);
  } else {
    bson_init(out);
  }
  bson_destroy(&reply);
  return ok;
}

/* Builds with `built`, then runs and discards the reply (acknowledgement-only commands). */
static bool run_ack(asp_client_t *c, bool built, bson_t *cmd, asp_error_t *err) {
  bson_t reply;
  bool ok = built && asp_client_run(c, cmd, false, &reply, err);
  if (built) bson_destroy(&reply);
  bson_destroy(cmd);
  return ok;
}

bool asp_processor_create(asp_client_t *c, const char *name, const bson_t *pipeline,
                          const asp_create_opts_t *opts, asp_error_t *err) {
  bson_t cmd;
  return run_ack(c, asp_build_create(name, pipeline, opts, &cmd, err), &cmd, err);
}

bool asp_processor_start(asp_client_t *c, const char *name, const asp_start_opts_t *opts,
                         asp_error_t *err) {
  bson_t cmd;
  return run_ack(c, asp_build_start(name, opts, &cmd, err), &cmd, err);
}

bool asp_processor_stop(asp_client_t *c, const char *name, asp_error_t *err) {
  bson_t cmd;
  return run_ack(c, asp_build_stop(name, &cmd, err), &cmd, err);
}

bool asp_processor_drop(asp_client_t *c, const char *name, asp_error_t *err) {
  bson_t cmd;
  return run_ack(c, asp_build_drop(name, &cmd, err), &cmd, err);
}

bool asp_processor_modify(asp_client_t *c, const char *name, const asp_modify_opts_t *opts,
                          asp_error_t *err) {
  bson_t cmd;
  return run_ack(c, asp_build_modify(name, opts, &cmd, err), &cmd, err);
}

/* Builds with `built`, runs, and leaves the unwrapped payload in out (always initialised). */
static bool run_payload(asp_client_t *c, bool built, bson_t *cmd, bool retryable, bson_t *out,
                        asp_error_t *err) {
  bool ok = built ? asp_run_unwrapped(c, cmd, retryable, out, err) : (bson_init(out), false);
  bson_destroy(cmd);
  return ok;
}

bool asp_processor_info(asp_client_t *c, const char *name, bson_t *info, asp_error_t *err) {
  bson_t cmd;
  return run_payload(c, asp_build_get_info(name, &cmd, err), &cmd, true, info, err);
}

bool asp_processor_stats(asp_client_t *c, const char *name, const asp_stats_opts_t *opts,
                         bson_t *stats, asp_error_t *err) {
  bson_t cmd;
  return run_payload(c, asp_build_stats(name, opts, &cmd, err), &cmd, true, stats, err);
}

bool asp_list_processors(asp_client_t *c, const bson_t *filter, bson_t *reply, asp_error_t *err) {
  bson_t cmd;
  return run_payload(c, asp_build_list_processors(filter, &cmd, err), &cmd, false, reply, err);
}

bool asp_list_connections(asp_client_t *c, const bson_t *filter, bson_t *reply, asp_error_t *err) {
  bson_t cmd;
  return run_payload(c, asp_build_list_connections(filter, &cmd, err), &cmd, false, reply, err);
}

bool asp_workspace_defaults(asp_client_t *c, bson_t *defaults, asp_error_t *err) {
  bson_t cmd;
  return run_payload(c, asp_build_workspace_defaults(&cmd, err), &cmd, false, defaults, err);
}

bool asp_command(asp_client_t *c, const char *db, const bson_t *cmd, bson_t *reply,
                 asp_error_t *err) {
  return asp_client_run_on(c, db ? db : "admin", cmd, reply, err);
}
