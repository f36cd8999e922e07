/* Reshaping stages and expressions: $addFields/$set, $project, $unset,
 * $replaceRoot/$replaceWith, $source.timeField, and the DLQ for documents an
 * operator cannot handle. */
#include <stdlib.h>

#include "workspace_test_util.h"

/* Runs an interactive processor over two inline documents followed by `stages`,
 * with `options` (JSON or NULL), and collects its output. */
static uint32_t run_with(mongoc_client_t *c, const char *stages, const char *options, bson_t *out) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"_id\": 1, \"a\": 2, "
           "\"b\": {\"x\": 3, \"y\": \"s\"}, \"t\": \"2024-08-12T21:41:01.788+00:00\", \"arr\": "
           "[5, 6, 7]}, {\"_id\": 2, \"a\": 0, \"b\": {\"x\": 1}, \"t\": \"bad\"}]}}%s]%s%s}",
           stages, options ? ", \"options\": " : "", options ? options : "");
  return wt_process(c, cmd, out);
}

static uint32_t run(mongoc_client_t *c, const char *stages, bson_t *out) {
  return run_with(c, stages, NULL, out);
}

static bool has(const bson_t *doc, const char *path) {
  bson_iter_t it, f;
  return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &f);
}

static void add_fields(mongoc_client_t *c) {
  bson_t d = BSON_INITIALIZER;
  char s[128];
  bson_type_t t;
  CHECK(run(c,
            ", {\"$addFields\": {\"sum\": {\"$add\": [\"$a\", \"$b.x\", 1]}, \"b.z\": "
            "{\"$concat\": [\"$b.y\", \"!\"]}, \"half\": {\"$divide\": [\"$a\", 4]}, \"big\": "
            "{\"$cond\": {\"if\": {\"$gt\": [\"$a\", 1]}, \"then\": \"yes\", \"else\": \"no\"}}, "
            "\"n\": {\"$size\": {\"$ifNull\": [\"$arr\", []]}}, \"lit\": {\"$literal\": "
            "\"$a\"}}}, {\"$set\": {\"second\": {\"$arrayElemAt\": [\"$arr\", 1]}, \"up\": "
            "{\"$toUpper\": \"$b.y\"}, \"str\": {\"$toString\": \"$a\"}}}",
            &d) == 2);
  CHECK(wt_int(&d, "0.sum", &t) == 6 && t == BSON_TYPE_INT32);
  CHECK(!strcmp(wt_str(&d, "0.b.z", s, sizeof s), "s!"));
  CHECK(wt_int(&d, "0.b.x", NULL) == 3); /* existing sub-fields stay */
  CHECK(wt_double(&d, "0.half") == 0.5);
  CHECK(!strcmp(wt_str(&d, "0.big", s, sizeof s), "yes"));
  CHECK(!strcmp(wt_str(&d, "1.big", s, sizeof s), "no"));
  CHECK(wt_int(&d, "0.n", NULL) == 3 && wt_int(&d, "1.n", NULL) == 0);
  CHECK(!strcmp(wt_str(&d, "0.lit", s, sizeof s), "$a"));
  CHECK(wt_int(&d, "0.second", NULL) == 6);
  CHECK(has(&d, "1.second") && wt_int(&d, "1.second", NULL) == -1); /* null: no array */
  CHECK(!strcmp(wt_str(&d, "0.up", s, sizeof s), "S"));
  CHECK(!strcmp(wt_str(&d, "1.b.z", s, sizeof s), "") && wt_array_len(&d, "1.b") == 0);
  CHECK(!strcmp(wt_str(&d, "0.str", s, sizeof s), "2"));
  bson_destroy(&d);
}

static void project(mongoc_client_t *c) {
  bson_t d = BSON_INITIALIZER;
  char s[64];
  CHECK(run(c, ", {\"$project\": {\"a\": 1, \"b.x\": 1, \"twice\": {\"$multiply\": [\"$a\", 2]}}}",
            &d) == 2);
  bson_iter_t it;
  CHECK(bson_iter_init(&it, &d) && bson_iter_find_descendant(&it, "0", &it) &&
        bson_iter_recurse(&it, &it) && bson_iter_next(&it) && !strcmp(bson_iter_key(&it), "_id"));
  CHECK(wt_int(&d, "0.a", NULL) == 2 && wt_int(&d, "0.b.x", NULL) == 3);
  CHECK(!has(&d, "0.b.y") && !has(&d, "0.t") && !has(&d, "0._ts"));
  CHECK(wt_int(&d, "0.twice", NULL) == 4);
  bson_destroy(&d);
  bson_init(&d);
  CHECK(run(c, ", {\"$project\": {\"_id\": 0, \"b\": 0, \"_stream_meta\": 0}}", &d) == 2);
  CHECK(!has(&d, "0._id") && !has(&d, "0.b") && has(&d, "0.a") && has(&d, "0._ts"));
  bson_destroy(&d);
  bson_init(&d);
  CHECK(run(c, ", {\"$replaceRoot\": {\"newRoot\": \"$b\"}}", &d) == 2);
  CHECK(wt_int(&d, "0.x", NULL) == 3 && !strcmp(wt_str(&d, "0.y", s, sizeof s), "s"));
  CHECK(!has(&d, "0.a"));
  bson_destroy(&d);
  bson_init(&d);
  CHECK(run(c, ", {\"$replaceWith\": {\"k\": \"$_id\", \"v\": \"$a\"}}", &d) == 2);
  CHECK(wt_int(&d, "1.k", NULL) == 2 && wt_int(&d, "1.v", NULL) == 0);
  bson_destroy(&d);
}

/* Documents an operator cannot handle go to the DLQ; sample shows them as _dlqMessage. */
static void dead_letters(mongoc_client_t *c) {
  bson_t d = BSON_INITIALIZER;
  char s[256];
  CHECK(run(c, ", {\"$addFields\": {\"q\": {\"$divide\": [10, \"$a\"]}}}", &d) == 2);
  CHECK(wt_double(&d, "0.q") == 5.0);
  CHECK(!strcmp(wt_str(&d, "1._dlqMessage.errInfo.reason", s, sizeof s), "can't $divide by zero"));
  CHECK(!strcmp(wt_str(&d, "1._dlqMessage.operatorName", s, sizeof s), "AddFieldsOperator"));
  CHECK(wt_int(&d, "1._dlqMessage.doc._id", NULL) == 2);
  bson_destroy(&d);
}

/* timeField: the event time comes from the document; "bad" and 5 are no dates. */
static void time_field(mongoc_client_t *c) {
  char cmd[2048], name[128], s[256];
  snprintf(cmd, sizeof cmd, "%s",
           "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"t\": "
           "\"2024-08-12T21:41:01.788+00:00\"}, {\"t\": \"bad\"}, {\"t\": 5}], \"timeField\": "
           "{\"$dateFromString\": {\"dateString\": \"$t\"}}}}]}");
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, cmd, &reply, &error));
  int64_t id = wt_int(&reply, "cursorId", NULL);
  wt_str(&reply, "name", name, sizeof name);
  bson_destroy(&reply);
  snprintf(cmd, sizeof cmd, "{\"getMoreSampleStreamProcessor\": \"%s\", \"cursorId\": %lld}", name,
           (long long)id);
  for (int i = 0; i < 50; i++) {
    CHECK(wt_run(c, cmd, &reply, &error));
    if (wt_array_len(&reply, "messages") == 3) break;
    bson_destroy(&reply);
    usleep(20000);
  }
  bson_iter_t it;
  CHECK(bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "messages.0._ts", &it) &&
        BSON_ITER_HOLDS_DATE_TIME(&it) && bson_iter_date_time(&it) == 1723498861788LL);
  CHECK(strstr(wt_str(&reply, "messages.1._dlqMessage.errInfo.reason", s, sizeof s),
               "Error parsing date string 'bad'") != NULL);
  CHECK(strstr(wt_str(&reply, "messages.2._dlqMessage.errInfo.reason", s, sizeof s),
               "$dateFromString requires that 'dateString' be a string, found: int with value 5") !=
        NULL);
  bson_destroy(&reply);
}

/* A persistent processor counts DLQ traffic and writes its DLQ collection. */
static void dlq_counters(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"d\", \"pipeline\": [{\"$source\": {\"documents\": "
        "[{\"v\": 1}, {\"v\": \"x\"}, {\"v\": 2}]}}, {\"$set\": {\"w\": {\"$multiply\": "
        "[\"$v\", 10]}}}, {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\", \"db\": "
        "\"d\", \"coll\": \"out\"}}}], \"options\": {\"dlq\": {\"connectionName\": "
        "\"cluster0\", \"db\": \"d\", \"coll\": \"dlq\"}}}");
  WT_OK(c, "{\"startStreamProcessor\": \"d\"}");
  usleep(200000);
  bson_t reply;
  bson_error_t error;
  char s[64];
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"d\", \"options\": {\"verbose\": true}}", &reply,
               &error));
  CHECK(wt_int(&reply, "stats.inputMessageCount", NULL) == 3);
  CHECK(wt_int(&reply, "stats.outputMessageCount", NULL) == 2);
  CHECK(wt_int(&reply, "stats.dlqMessageCount", NULL) == 1);
  CHECK(wt_double(&reply, "stats.dlqMessageSize") > 0);
  CHECK(!strcmp(wt_str(&reply, "stats.operatorStats.1.name", s, sizeof s), "AddFieldsOperator"));
  CHECK(wt_int(&reply, "stats.operatorStats.1.dlqMessageCount", NULL) == 1);
  bson_destroy(&reply);
}

/* $unwind: one document per element; doc 2 has no array. */
static void unwind(mongoc_client_t *c) {
  bson_t d = BSON_INITIALIZER;
  CHECK(run(c, ", {\"$unwind\": \"$arr\"}", &d) == 3);
  CHECK(wt_int(&d, "0.arr", NULL) == 5 && wt_int(&d, "2.arr", NULL) == 7);
  CHECK(wt_int(&d, "2._id", NULL) == 1);
  bson_destroy(&d);
  bson_init(&d);
  CHECK(run(c,
            ", {\"$unwind\": {\"path\": \"$arr\", \"includeArrayIndex\": \"i\", "
            "\"preserveNullAndEmptyArrays\": true}}, {\"$project\": {\"arr\": 1, \"i\": 1}}",
            &d) == 4);
  CHECK(wt_int(&d, "1.i", NULL) == 1 && wt_int(&d, "1.arr", NULL) == 6);
  CHECK(wt_int(&d, "3._id", NULL) == 2 && !has(&d, "3.arr"));
  bson_destroy(&d);
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$unwind\": "
         "\"arr\"}]}",
         28818, "path option to $unwind stage should be prefixed with a '$': arr");
}

/* $validate: failing documents are discarded, or dead-lettered with validationAction dlq. */
static void validate(mongoc_client_t *c) {
  bson_t d = BSON_INITIALIZER;
  char s[128];
  CHECK(run(c, ", {\"$validate\": {\"validator\": {\"a\": {\"$gt\": 1}}}}", &d) == 1);
  CHECK(wt_int(&d, "0._id", NULL) == 1);
  bson_destroy(&d);
  bson_init(&d);
  CHECK(run_with(c,
                 ", {\"$validate\": {\"validator\": {\"a\": {\"$gt\": 1}}, "
                 "\"validationAction\": \"dlq\"}}",
                 "{\"dlq\": {\"connectionName\": \"cluster0\", \"db\": \"d\", \"coll\": \"dlq\"}}",
                 &d) == 2);
  CHECK(!strcmp(wt_str(&d, "1._dlqMessage.errInfo.reason", s, sizeof s),
                "Input document found to be invalid in $validate stage"));
  CHECK(!strcmp(wt_str(&d, "1._dlqMessage.operatorName", s, sizeof s), "ValidateOperator"));
  bson_destroy(&d);
  /* $meta reads the stream metadata. */
  bson_init(&d);
  CHECK(run(c, ", {\"$project\": {\"kind\": {\"$meta\": \"stream.source.type\"}}}", &d) == 2);
  CHECK(!strcmp(wt_str(&d, "0.kind", s, sizeof s), "generated"));
  bson_destroy(&d);
}

static void plan_errors(mongoc_client_t *c) {
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$validate\": "
         "{\"validator\": {\"a\": 1}, \"validationAction\": \"dlq\"}}]}",
         420, "DLQ must be specified if validation action is dlq.");
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$validate\": "
         "{\"validator\": {\"$jsonSchema\": {\"$ref\": \"#/x\"}}}}]}",
         420, "failed to parse validator: ");
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$project\": "
         "{\"x\": {\"$meta\": \"searchScore\"}}}]}",
         17308, "Unsupported argument to $meta: searchScore");
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$addFields\": "
         "{\"x\": {\"$bogus\": 1}}}]}",
         168, "Unrecognized expression '$bogus'");
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$project\": "
         "{\"a\": 1, \"b\": 0}}]}",
         31254, "Cannot do exclusion on field b in inclusion projection");
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$replaceRoot\": "
         "{}}]}",
         40231, "no newRoot specified");
  WT_ERR(c, "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$set\": {}}]}",
         40177, "specification must have at least one field");
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$addFields\": "
         "{\"x\": {\"$subtract\": [1]}}}]}",
         16020, "Expression $subtract takes exactly 2 arguments. 1 were passed in.");
}

/* MongoDB's rules where aspd used to differ: {_id: 1} projects only _id, $$REMOVE
 * removes, date - number subtracts, dotted paths match through arrays of documents,
 * and a regex honours its m option. */
static void semantics(mongoc_client_t *c) {
  bson_t d = BSON_INITIALIZER;
  CHECK(run(c, ", {\"$project\": {\"_id\": 1}}", &d) == 2);
  CHECK(has(&d, "0._id") && !has(&d, "0.a") && !has(&d, "0.b"));
  bson_destroy(&d);
  bson_init(&d);
  CHECK(run(c,
            ", {\"$addFields\": {\"a\": \"$$REMOVE\", \"b.x\": {\"$cond\": [{\"$eq\": [\"$a\", "
            "2]}, \"$$REMOVE\", \"kept\"]}, \"early\": {\"$subtract\": [{\"$toDate\": "
            "{\"$numberLong\": \"1000\"}}, "
            "10]}}}",
            &d) == 2);
  CHECK(!has(&d, "0.a") && !has(&d, "0.b.x") && has(&d, "0.b.y") && has(&d, "1.b.x"));
  bson_iter_t it;
  CHECK(bson_iter_init(&it, &d) && bson_iter_find_descendant(&it, "0.early", &it) &&
        BSON_ITER_HOLDS_DATE_TIME(&it) && bson_iter_date_time(&it) == 990);
  bson_destroy(&d);
  bson_init(&d);
  uint32_t n = wt_process(
      c,
      "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"k\": 1, \"items\": "
      "[{\"q\": 5}, {\"q\": 9}], \"s\": \"one\\ntwo\"}, {\"k\": 2, \"items\": [{\"q\": 1}], "
      "\"s\": \"two\"}]}}, {\"$match\": {\"items.q\": {\"$gt\": 8}, \"items.0.q\": 5, \"s\": "
      "{\"$regex\": \"^two$\", \"$options\": \"m\"}}}]}",
      &d);
  CHECK(n == 1 && wt_int(&d, "0.k", NULL) == 1);
  bson_destroy(&d);
}

/* $jsonSchema keywords beyond the ASP docs' example: each document but the first breaks one. */
static void json_schema(mongoc_client_t *c) {
  bson_t d = BSON_INITIALIZER;
  uint32_t n = wt_process(
      c,
      "{\"processStreamProcessor\": [{\"$source\": {\"documents\": ["
      "{\"k\": 1, \"s\": \"ab\", \"tags\": [\"x\", \"y\"], \"c\": \"red\"},"
      "{\"k\": 2, \"s\": \"ab\", \"tags\": [\"x\", \"x\"], \"c\": \"red\"},"
      "{\"k\": 3, \"s\": \"zz\", \"tags\": [], \"c\": \"red\"},"
      "{\"k\": 4, \"s\": \"ab\", \"tags\": [\"x\"], \"c\": \"blue\"},"
      "{\"k\": 5, \"s\": \"ab\", \"tags\": [\"x\"], \"c\": \"red\", \"extra\": 1}]}},"
      "{\"$validate\": {\"validator\": {\"$jsonSchema\": {\"bsonType\": \"object\", "
      "\"additionalProperties\": false, \"properties\": {\"_id\": {}, \"_ts\": {}, "
      "\"_stream_meta\": {}, \"k\": {\"bsonType\": \"number\"}, \"s\": {\"pattern\": \"^a\", "
      "\"maxLength\": 2}, \"tags\": {\"items\": {\"type\": \"string\"}, \"uniqueItems\": "
      "true}, \"c\": {\"anyOf\": [{\"enum\": [\"red\"]}, {\"enum\": [\"green\"]}]}}}}}}]}",
      &d);
  CHECK(n == 1 && wt_int(&d, "0.k", NULL) == 1);
  bson_destroy(&d);
}

int main(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  add_fields(c);
  project(c);
  dead_letters(c);
  time_field(c);
  dlq_counters(c);
  validate(c);
  unwind(c);
  plan_errors(c);
  semantics(c);
  json_schema(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.transform");
}
