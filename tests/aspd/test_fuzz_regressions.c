/* Inputs the fuzzers once failed on (fuzz/regressions/), each checked through the wire:
 * the server answers with a clear error and keeps serving. fuzz.<target> also replays the
 * raw inputs under the sanitizers. */
#include "workspace_test_util.h"

int main(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);

  /* fuzz_pipeline/window_size_overflow.json: a window size whose milliseconds overflow
   * int64 (or a double no int64 holds) was multiplied without a check. */
  WT_ERR(
      c,
      "{\"createStreamProcessor\": \"w1\", \"pipeline\": ["
      "{\"$source\": {\"connectionName\": \"sample_stream_solar\"}},"
      "{\"$tumblingWindow\": {\"interval\": {\"size\": {\"$numberLong\": \"3299790783457817031\"},"
      " \"unit\": \"second\"}, \"pipeline\": [{\"$group\": {\"_id\": null, \"n\": {\"$sum\": "
      "1}}}]}},"
      "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
      420, "interval size is too large");
  WT_ERR(c,
         "{\"createStreamProcessor\": \"w2\", \"pipeline\": ["
         "{\"$source\": {\"connectionName\": \"sample_stream_solar\"}},"
         "{\"$tumblingWindow\": {\"interval\": {\"size\": 2.0e26, \"unit\": \"second\"},"
         " \"pipeline\": [{\"$group\": {\"_id\": null, \"n\": {\"$sum\": 1}}}]}},"
         "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
         420, "interval size is too large");
  /* fuzz_pipeline/switch_duplicate_case.json: a $switch branch naming "case" twice leaked
   * the first expression (LeakSanitizer reports it when aspd exits under sanitize.asan). */
  WT_OK(c,
        "{\"createStreamProcessor\": \"s1\", \"pipeline\": ["
        "{\"$source\": {\"connectionName\": \"sample_stream_solar\"}},"
        "{\"$addFields\": {\"x\": {\"$switch\": {\"branches\": ["
        "{\"case\": true, \"case\": false, \"then\": 1, \"then\": 2}], \"default\": 0}}}},"
        "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"ping\": 1}");

  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;
  return wt_finish("fuzz_regressions");
}
