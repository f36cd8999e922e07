/* Processors over the Admin API (reference §3.5), driven with libcurl: create, get,
 * list, modify, start, startWith, stop, delete; they are the wire protocol's processors. */
#include "admin_test_util.h"
#include "workspace_test_util.h"

#define P(h, m, u, b, want) CALL(h, m, u, ACCEPT_2024, b, want)

static const char *const PIPELINE =
    "[{\"$source\": {\"connectionName\": \"fast_solar\"}}, {\"$match\": {\"obs.watts\": {\"$gt\": "
    "0}}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]";

int main(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  admin_http_t *h = admin_http_new(&inst);
  mongoc_client_t *c = wt_client(&inst);
  char body[2048], s[64];

  /* Create over HTTPS, seen over the wire. */
  snprintf(body, sizeof body,
           "{\"name\": \"solar\", \"pipeline\": %s, \"options\": {\"dlq\": {\"connectionName\": "
           "\"cluster0\", \"db\": \"d\", \"coll\": \"dlq\"}}, \"tier\": \"SP30\"}",
           PIPELINE);
  CHECK(P(h, "POST", "ws:/processor", body, 200));
  CHECK(!strcmp(admin_str(&r, "name"), "solar") && strlen(admin_str(&r, "_id")) == 24);
  CHECK(!strcmp(admin_str(&r, "pipeline.0.$source.connectionName"), "fast_solar"));
  CHECK(!strcmp(admin_str(&r, "options.dlq.coll"), "dlq") &&
        !strcmp(admin_str(&r, "tier"), "SP30"));
  CHECK(strstr(r.content_type, "2024-05-30") != NULL);
  CHECK(!strcmp(wt_state(c, "solar", s, sizeof s), "CREATED"));
  CHECK(P(h, "POST", "ws:/processor", body, 400));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "STREAM_PROCESSOR_GENERIC_ERROR"));
  /* Created over the wire, seen over HTTPS. */
  WT_OK(c,
        "{\"createStreamProcessor\": \"wired\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"fast_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  CHECK(P(h, "GET", "ws:/processor/wired", NULL, 200));
  CHECK(!strcmp(admin_str(&r, "state"), "CREATED") && admin_has(&r, "stats"));

  /* Bad bodies and names. */
  CHECK(P(h, "POST", "ws:/processor", "{\"name\": \"x\"}", 400));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "MISSING_ATTRIBUTE"));
  CHECK(P(h, "POST", "ws:/processor", "{\"name\": \"x\", \"pipeline\": [], \"colour\": 1}", 400));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "INVALID_JSON_ATTRIBUTE"));
  CHECK(P(h, "POST", "ws:/processor", "{\"name\": \"x\", \"pipeline\": {}}", 400));
  CHECK(P(h, "POST", "ws:/processor",
          "{\"name\": \"x\", \"pipeline\": [{\"$source\": {\"connectionName\": \"nope\"}}, "
          "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
          400));
  CHECK(
      strstr(admin_str(&r, "detail"), "Streams Processor with this name (x) had a problem occur") &&
      strstr(admin_str(&r, "detail"), "nope"));
  CHECK(P(h, "GET", "ws:/processor/nope", NULL, 404));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "STREAM_PROCESSOR_NOT_FOUND"));
  CHECK(P(h, "POST", "ws:/processor/nope:start", NULL, 404));
  CHECK(P(h, "POST", "ws:/processor/nope:stop", NULL, 404));
  CHECK(P(h, "DELETE", "ws:/processor/nope", NULL, 404));
  CHECK(P(h, "PATCH", "ws:/processor/nope", "{\"tier\": \"SP10\"}", 404));
  /* Processors need the 2024-05-30 version; connections' 2023-02-01 is too early. */
  CHECK(CALL(h, "GET", "ws:/processor/solar", ACCEPT_2023, NULL, 406));
  CHECK(CALL(h, "POST", "ws:/processor/solar:startWith", ACCEPT_2024, "{}", 406));

  /* start over HTTPS, observed over the wire; stop over the wire, observed over HTTPS. */
  CHECK(P(h, "POST", "ws:/processor/solar:start", NULL, 200));
  CHECK(r.text[0] == '\0');
  CHECK(!strcmp(wt_state(c, "solar", s, sizeof s), "STARTED"));
  CHECK(P(h, "POST", "ws:/processor/solar:start", NULL, 400));
  CHECK(P(h, "PATCH", "ws:/processor/solar", "{\"tier\": \"SP10\"}", 400));
  int64_t in = 0;
  for (int i = 0; i < 100 && in < 5; i++) {
    usleep(50000);
    CHECK(P(h, "GET", "ws:/processor/solar", NULL, 200));
    in = admin_int(&r, "stats.inputMessageCount");
  }
  CHECK(in >= 5 && !strcmp(admin_str(&r, "state"), "STARTED"));
  WT_OK(c, "{\"stopStreamProcessor\": \"solar\"}");
  CHECK(P(h, "GET", "ws:/processor/solar", NULL, 200));
  CHECK(!strcmp(admin_str(&r, "state"), "STOPPED"));
  CHECK(P(h, "POST", "ws:/processor/solar:stop", NULL, 400));

  /* Modify: rename, new pipeline, options; reply is the processor with stats. */
  CHECK(P(h, "PATCH", "ws:/processor/solar",
          "{\"name\": \"solar2\", \"pipeline\": [{\"$source\": {\"connectionName\": "
          "\"fast_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}], \"options\": "
          "{\"resumeFromCheckpoint\": false}}",
          200));
  CHECK(!strcmp(admin_str(&r, "name"), "solar2") && admin_has(&r, "stats") &&
        !admin_has(&r, "pipeline.1.$emit") == false);
  CHECK(P(h, "PATCH", "ws:/processor/solar2", "{\"options\": {\"checkpoint\": 1}}", 400));
  CHECK(P(h, "GET", "ws:/processor/solar", NULL, 404));

  /* startWith (2025-03-12) */
  CHECK(CALL(h, "POST", "ws:/processor/solar2:startWith", ACCEPT_2025,
             "{\"resumeFromCheckpoint\": false, \"tier\": \"SP10\"}", 200));
  CHECK(!strcmp(wt_state(c, "solar2", s, sizeof s), "STARTED"));
  CHECK(CALL(h, "POST", "ws:/processor/solar2:stop", ACCEPT_2024, NULL, 200));
  CHECK(CALL(h, "POST", "ws:/processor/solar2:startWith", ACCEPT_2025, "{\"bogus\": true}", 400));
  CHECK(
      CALL(h, "POST", "ws:/processor/solar2:startWith", ACCEPT_2025, "{\"tier\": \"SP99\"}", 400));

  /* List: both, paginated, includeCount. */
  for (int i = 0; i < 5; i++) {
    snprintf(body, sizeof body, "{\"name\": \"p%d\", \"pipeline\": %s}", i, PIPELINE);
    CHECK(P(h, "POST", "ws:/processor", body, 200));
  }
  CHECK(P(h, "GET", "ws:/processors", NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 7 && wt_array_len(r.body, "results") == 7);
  CHECK(admin_has(&r, "results.0.stats") && admin_has(&r, "results.0.state"));
  CHECK(P(h, "GET", "ws:/processors?itemsPerPage=3&pageNum=3", NULL, 200));
  CHECK(wt_array_len(r.body, "results") == 1 && !strcmp(admin_str(&r, "links.1.rel"), "previous"));
  CHECK(P(h, "GET", "ws:/processors?includeCount=false", NULL, 200));
  CHECK(!admin_has(&r, "totalCount"));
  CHECK(P(h, "GET", "ws:/processors?includeCount=maybe", NULL, 400));

  /* Delete: 204, gone over the wire too. */
  CHECK(P(h, "DELETE", "ws:/processor/wired", NULL, 204));
  CHECK(r.text[0] == '\0');
  WT_ERR(c, "{\"getStreamProcessor\": \"wired\"}", 125, "does not exist");
  CHECK(P(h, "GET", "ws:/processors", NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 6);

  admin_reply_free(&r);
  mongoc_client_destroy(c);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
  if (wt_failures) {
    fprintf(stderr, "test_admin_processors: %d failure(s)\n", wt_failures);
    return 1;
  }
  printf("test_admin_processors: all checks passed\n");
  return 0;
}
