/* Client-side validation: every rule of protocol reference §5 fails before any traffic,
 * in the client domain, with a message naming the argument. */
#include "asp.h"
#include "check.h"

static void expect_refused(bool ok, bson_t *cmd, const asp_error_t *err, const char *needle) {
  CHECK(!ok);
  CHECK(err->domain == ASP_DOMAIN_CLIENT);
  CHECK_SUBSTR(err->message, needle);
  bson_destroy(cmd);
}

int main(void) {
  asp_error_t err;
  bson_t cmd;
  bson_t *pipeline = json_doc("{\"0\": {\"$source\": {\"connectionName\": \"s\"}}}");

  expect_refused(asp_build_create("", pipeline, NULL, &cmd, &err), &cmd, &err, "empty");
  expect_refused(asp_build_create("caf\xe9", pipeline, NULL, &cmd, &err), &cmd, &err, "UTF-8");
  expect_refused(asp_build_create(" \t", pipeline, NULL, &cmd, &err), &cmd, &err, "blank");
  expect_refused(asp_build_create(NULL, pipeline, NULL, &cmd, &err), &cmd, &err, "required");
  expect_refused(asp_build_stop("  ", &cmd, &err), &cmd, &err, "blank");
  expect_refused(asp_build_get_info("", &cmd, &err), &cmd, &err, "getStreamProcessor");

  bson_t *not_array = json_doc("{\"$match\": {}}");
  expect_refused(asp_build_create("p", not_array, NULL, &cmd, &err), &cmd, &err,
                 "must be an array");
  bson_t *scalar_stage = json_doc("{\"0\": 1}");
  expect_refused(asp_build_create("p", scalar_stage, NULL, &cmd, &err), &cmd, &err,
                 "pipeline[1]: a stage must be a document");
  expect_refused(asp_build_process(not_array, NULL, &cmd, &err), &cmd, &err, "must be an array");

  asp_create_opts_t bad_tier = {.tier = "SP3"};
  expect_refused(asp_build_create("p", pipeline, &bad_tier, &cmd, &err), &cmd, &err,
                 "invalid tier 'SP3'");
  for (const char *const *t = (const char *const[]){"SP2", "SP5", "SP10", "SP30", "SP50", NULL}; *t;
       t++) {
    CHECK(asp_validate_tier(*t, "tier", &err));
  }
  CHECK(!asp_validate_tier("sp10", "tier", &err));

  asp_start_opts_t zero_workers = {.has_workers = true, .workers = 0};
  expect_refused(asp_build_start("p", &zero_workers, &cmd, &err), &cmd, &err, "workers");
  asp_start_opts_t neg_workers = {.has_workers = true, .workers = -3};
  expect_refused(asp_build_start("p", &neg_workers, &cmd, &err), &cmd, &err, "workers");
  asp_start_opts_t no_region = {.failover_mode = "FORCED"};
  expect_refused(asp_build_start("p", &no_region, &cmd, &err), &cmd, &err, "failover.region");
  asp_start_opts_t dry_only = {.failover_dry_run = ASP_TRUE};
  expect_refused(asp_build_start("p", &dry_only, &cmd, &err), &cmd, &err, "failover.region");
  asp_start_opts_t bad_mode = {.failover_region = "EU", .failover_mode = "auto"};
  expect_refused(asp_build_start("p", &bad_mode, &cmd, &err), &cmd, &err, "GRACEFUL or FORCED");
  asp_start_opts_t start_tier = {.tier = "XL"};
  expect_refused(asp_build_start("p", &start_tier, &cmd, &err), &cmd, &err, "tier");
  asp_start_opts_t forced = {.failover_region = "EU", .failover_mode = "FORCED"};
  CHECK(asp_build_start("p", &forced, &cmd, &err));
  bson_destroy(&cmd);

  asp_stats_opts_t zero_scale = {.has_scale = true, .scale = 0};
  expect_refused(asp_build_stats("p", &zero_scale, &cmd, &err), &cmd, &err, "scale");

  asp_sample_start_opts_t neg_limit = {.has_limit = true, .limit = -1};
  expect_refused(asp_build_sample_start("p", &neg_limit, &cmd, &err), &cmd, &err, "limit");
  expect_refused(asp_build_sample_get_more("p", 0, -1, &cmd, &err), &cmd, &err, "cursor_id");
  expect_refused(asp_build_sample_get_more("p", -5, -1, &cmd, &err), &cmd, &err, "cursor_id");

  asp_modify_opts_t nothing = {0};
  expect_refused(asp_build_modify("p", &nothing, &cmd, &err), &cmd, &err, "nothing to modify");
  asp_modify_opts_t blank_rename = {.new_name = " "};
  expect_refused(asp_build_modify("p", &blank_rename, &cmd, &err), &cmd, &err, "name");
  asp_modify_opts_t bad_pipeline = {.pipeline = not_array};
  expect_refused(asp_build_modify("p", &bad_pipeline, &cmd, &err), &cmd, &err, "array");

  bson_destroy(scalar_stage);
  bson_destroy(not_array);
  bson_destroy(pipeline);
  return check_report("core.validate");
}
