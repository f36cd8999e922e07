/* Every accumulator's state survives a checkpoint: documents stepped into a
 * state, the state saved, loaded into a fresh one and stepped on gives the
 * same finish() result, byte for byte (so type for type), as an uninterrupted
 * run, at every split point; and a load refuses what save did not write. The
 * engine's expressions and accumulators are compiled into this test. */
#include <bson/bson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_msg.h"
#include "engine/accumulators/accumulators.h"

/* One accumulator of each row, with the operand it is given. */
static const char *const CASES[][2] = {
    {"$sum", "\"$v\""},
    {"$avg", "\"$v\""},
    {"$count", "{}"},
    {"$min", "\"$v\""},
    {"$max", "\"$v\""},
    {"$first", "\"$v\""},
    {"$last", "\"$v\""},
    {"$push", "\"$v\""},
    {"$addToSet", "\"$k\""},
    {"$mergeObjects", "\"$o\""},
    {"$stdDevPop", "\"$v\""},
    {"$stdDevSamp", "\"$v\""},
    {"$median", "{\"input\": \"$v\", \"method\": \"approximate\"}"},
    {"$percentile", "{\"input\": \"$v\", \"p\": [0.1, 0.5, 0.9], \"method\": \"approximate\"}"},
    {"$firstN", "{\"input\": \"$v\", \"n\": 3}"},
    {"$lastN", "{\"input\": \"$v\", \"n\": 3}"},
    {"$maxN", "{\"input\": \"$v\", \"n\": 2}"},
    {"$minN", "{\"input\": \"$v\", \"n\": 2}"},
    {"$top", "{\"sortBy\": {\"v\": 1}, \"output\": \"$k\"}"},
    {"$bottom", "{\"sortBy\": {\"v\": 1}, \"output\": [\"$k\", \"$v\"]}"},
    {"$topN", "{\"n\": 2, \"sortBy\": {\"v\": -1, \"k\": 1}, \"output\": \"$k\"}"},
    {"$bottomN", "{\"n\": 3, \"sortBy\": {\"k\": 1}, \"output\": \"$v\"}"},
};

/* Inputs of every numeric type, missing and null values, repeated keys. */
static const char *const DOCS[] = {
    "{\"k\": \"x\", \"v\": 5, \"o\": {\"a\": 1}}",
    "{\"k\": \"y\", \"v\": {\"$numberLong\": \"9000000000\"}, \"o\": {\"b\": 2}}",
    "{\"k\": \"x\", \"v\": 2.5, \"o\": null}",
    "{\"k\": \"z\"}",
    "{\"k\": \"y\", \"v\": null, \"o\": {\"a\": 3, \"c\": [1, 2]}}",
    "{\"k\": \"w\", \"v\": -7, \"o\": {\"d\": {\"e\": true}}}",
    "{\"k\": \"x\", \"v\": {\"$numberLong\": \"-3\"}}",
    "{\"k\": \"v\", \"v\": 0.125, \"o\": {\"a\": \"s\"}}",
};
#define NDOCS (sizeof DOCS / sizeof DOCS[0])

static bson_t *json(const char *text) {
  bson_error_t error;
  bson_t *doc = bson_new_from_json((const uint8_t *)text, -1, &error);
  if (!doc) {
    fprintf(stderr, "test bug: %s: %s\n", text, error.message);
    exit(2);
  }
  return doc;
}

static void step_all(const aspd_acc_spec_t *spec, aspd_acc_t *a, aspd_eval_t *ev, bson_t **docs,
                     size_t from, size_t to) {
  for (size_t i = from; i < to; i++) {
    ev->root = docs[i];
    CHECK(aspd_acc_step(spec, a, ev), "%s: step %zu: %s", spec->row->name, i, ev->reason);
    aspd_eval_reset(ev);
  }
}

static char *finish_json(const aspd_acc_spec_t *spec, aspd_acc_t *a) {
  bson_t out = BSON_INITIALIZER;
  aspd_acc_finish(spec, a, &out, "r");
  char *text = bson_as_canonical_extended_json(&out, NULL);
  bson_destroy(&out);
  return text;
}

static void round_trip(const char *name, const char *operand_json, bson_t **docs, aspd_eval_t *ev) {
  char holder_json[512];
  snprintf(holder_json, sizeof holder_json, "{\"op\": %s}", operand_json);
  bson_t *holder = json(holder_json);
  bson_iter_t it;
  bson_iter_init_find(&it, holder, "op");
  aspd_expr_compiler_t cc;
  aspd_expr_compiler_init(&cc);
  aspd_acc_spec_t spec;
  aspd_error_t err = {0};
  if (!aspd_acc_spec_compile(&cc, name, bson_iter_value(&it), &spec, &err)) {
    CHECK(false, "%s: %s", name, err.message);
    bson_destroy(holder);
    return;
  }
  aspd_acc_t whole = {0};
  step_all(&spec, &whole, ev, docs, 0, NDOCS);
  char *want = finish_json(&spec, &whole);
  aspd_acc_clear(&whole);
  for (size_t split = 0; split <= NDOCS; split++) {
    aspd_acc_t before = {0}, after = {0};
    step_all(&spec, &before, ev, docs, 0, split);
    bson_t saved = BSON_INITIALIZER;
    aspd_acc_save(&spec, &before, &saved);
    aspd_acc_clear(&before);
    CHECK(aspd_acc_load(&spec, &after, &saved), "%s: load after %zu documents", name, split);
    step_all(&spec, &after, ev, docs, split, NDOCS);
    char *got = finish_json(&spec, &after);
    CHECK(!strcmp(want, got), "%s split at %zu: %s, uninterrupted %s", name, split, got, want);
    bson_free(got);
    aspd_acc_clear(&after);
    bson_destroy(&saved);
  }
  /* What save never writes is refused. */
  const char *const bad[] = {"{}",
                             "{\"count\": \"x\", \"items\": 3, \"samples\": [\"a\"], "
                             "\"seen\": 1, \"limit\": -1, \"mean\": \"m\"}"};
  for (size_t i = 0; i < 2; i++) {
    bson_t *doc = json(bad[i]);
    aspd_acc_t a = {0};
    CHECK(!aspd_acc_load(&spec, &a, doc), "%s loaded %s", name, bad[i]);
    aspd_acc_clear(&a);
    bson_destroy(doc);
  }
  bson_free(want);
  aspd_acc_spec_free(&spec);
  bson_destroy(holder);
}

int main(void) {
  bson_t *docs[NDOCS];
  for (size_t i = 0; i < NDOCS; i++) docs[i] = json(DOCS[i]);
  aspd_eval_t ev;
  aspd_eval_init(&ev, NULL);
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    round_trip(CASES[i][0], CASES[i][1], docs, &ev);
  }
  aspd_eval_free(&ev);
  for (size_t i = 0; i < NDOCS; i++) bson_destroy(docs[i]);
  return check_msg_report("checkpoint_units");
}
