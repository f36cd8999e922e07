/* The $source row: the sample generator, inline documents or a topic. */
#include <stdlib.h>
#include <string.h>

#include "engine/plan/plan_internal.h"
#include "engine/sinks/topics.h"

#define DEFAULT_TS_FIELD "_ts"

/* config.auto_offset_reset: Kafka's names for the oldest message; anything else
 * (Kafka's default "latest", "end", "largest") starts at the end. */
static bool auto_offset_earliest(const bson_t *spec) {
  static const char *const earliest[] = {"earliest", "beginning", "smallest"};
  bson_iter_t it;
  if (!bson_iter_init(&it, spec) ||
      !bson_iter_find_descendant(&it, "config.auto_offset_reset", &it) ||
      !BSON_ITER_HOLDS_UTF8(&it)) {
    return false;
  }
  for (size_t i = 0; i < sizeof earliest / sizeof earliest[0]; i++) {
    if (!strcmp(bson_iter_utf8(&it, NULL), earliest[i])) return true;
  }
  return false;
}

static bool plan_documents_source(aspd_source_spec_t *src, const bson_iter_t *docs,
                                  aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_ARRAY(docs)) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                   "The documents list expression does not evaluate to an array.");
    return false;
  }
  bson_iter_t each;
  bson_iter_recurse(docs, &each);
  while (bson_iter_next(&each)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&each)) {
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                     "The documents list expression does not evaluate to an array of objects.");
      return false;
    }
  }
  const uint8_t *data;
  uint32_t len;
  bson_iter_array(docs, &len, &data);
  src->row = aspd_source_row(ASPD_SOURCE_DOCUMENTS);
  src->documents = bson_new_from_data(data, len);
  bson_iter_t each_copy;
  bson_iter_init(&each_copy, src->documents);
  while (bson_iter_next(&each_copy)) src->document_count++;
  size_t n = src->document_count ? src->document_count : 1;
  src->document_data = calloc(n, sizeof *src->document_data);
  src->document_len = calloc(n, sizeof *src->document_len);
  bson_iter_init(&each_copy, src->documents);
  for (size_t i = 0; bson_iter_next(&each_copy); i++) {
    bson_iter_document(&each_copy, &src->document_len[i], &src->document_data[i]);
  }
  return true;
}

int32_t aspd_plan_kafka_partitions(const aspd_connection_t *conn, aspd_error_t *err) {
  /* The key has dots: looked up by hand, not as a path. */
  bson_iter_t config, it;
  if (!conn->definition || !bson_iter_init_find(&config, conn->definition, "config") ||
      !BSON_ITER_HOLDS_DOCUMENT(&config) || !bson_iter_recurse(&config, &it) ||
      !bson_iter_find(&it, "num.partitions")) {
    return 1;
  }
  char *end = NULL;
  long n = BSON_ITER_HOLDS_UTF8(&it) ? strtol(bson_iter_utf8(&it, NULL), &end, 10) : 0;
  if (!end || *end || n < 1 || n > ASPD_TOPIC_MAX_PARTITIONS) {
    aspd_plan_invalid(err,
                      "config \"num.partitions\" of Kafka connection %s must be a string holding "
                      "a number from 1 to %d",
                      conn->name, ASPD_TOPIC_MAX_PARTITIONS);
    return 0;
  }
  return (int32_t)n;
}

/* partitionIdleTimeout {size, unit}: milliseconds, 0 when absent; -1 with err. */
static int64_t idle_timeout_ms(const bson_t *spec, aspd_error_t *err) {
  static const char *const units[] = {"ms", "second", "minute", "hour", "day"};
  static const int64_t unit_ms[] = {1, 1000, 60000, 3600000, 86400000};
  bson_iter_t it, size, unit;
  if (!bson_iter_init_find(&it, spec, "partitionIdleTimeout")) return 0;
  int64_t n = 0;
  if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &size) &&
      bson_iter_find(&size, "size") && aspd_value_as_integral(bson_iter_value(&size), &n) &&
      n > 0 && bson_iter_recurse(&it, &unit) && bson_iter_find(&unit, "unit") &&
      BSON_ITER_HOLDS_UTF8(&unit)) {
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
      if (strcmp(bson_iter_utf8(&unit, NULL), units[i])) continue;
      int64_t ms;
      if (!__builtin_mul_overflow(n, unit_ms[i], &ms)) return ms;
      aspd_plan_invalid(err, "%s", "$source.partitionIdleTimeout is too large");
      return -1;
    }
  }
  aspd_plan_invalid(err, "%s",
                    "$source.partitionIdleTimeout must be {size: <positive integer>, unit: \"ms\", "
                    "\"second\", \"minute\", \"hour\" or \"day\"}");
  return -1;
}

/* config.<key>: a string among names (index), the first one when absent; -1 with err. */
static int config_choice(const bson_t *spec, const char *key, const char *const *names, size_t n,
                         aspd_error_t *err) {
  bson_iter_t config, it;
  if (!bson_iter_init_find(&config, spec, "config") || !BSON_ITER_HOLDS_DOCUMENT(&config) ||
      !bson_iter_recurse(&config, &it) || !bson_iter_find(&it, key)) {
    return 0;
  }
  for (size_t i = 0; BSON_ITER_HOLDS_UTF8(&it) && i < n; i++) {
    if (!strcmp(bson_iter_utf8(&it, NULL), names[i])) return (int)i;
  }
  aspd_plan_invalid(err, "$source.config.%s must be one of %s%s%s%s%s%s%s", key, names[0],
                    n > 1 ? ", " : "", n > 1 ? names[1] : "", n > 2 ? ", " : "",
                    n > 2 ? names[2] : "", n > 3 ? ", " : "", n > 3 ? names[3] : "");
  return -1;
}

/* A change stream: db (or none: every database), coll (a string or an array; needs db),
 * config.fullDocument, fullDocumentBeforeChange, fullDocumentOnly, startAfter. */
static bool plan_change_stream(aspd_source_spec_t *src, const bson_t *spec, aspd_error_t *err) {
  static const char *const full[] = {"default", "updateLookup", "required", "whenAvailable"};
  static const char *const before[] = {"off", "whenAvailable", "required"};
  src->row = aspd_source_row(ASPD_SOURCE_CHANGE_STREAM);
  src->start_after = -1;
  bson_iter_t it, each;
  const char *db = aspd_plan_utf8(spec, "db");
  bool has_coll = bson_iter_init_find(&it, spec, "coll");
  if (bson_iter_init_find(&each, spec, "db") && (!db || !*db)) {
    return aspd_plan_invalid(err, "%s",
                             "Cannot specify an empty database name to $source when configuring "
                             "a change stream");
  }
  if (has_coll && !db) {
    return aspd_plan_invalid(err, "%s", "If coll is specified, db must be specified.");
  }
  if (db) src->db = strdup(db);
  if (has_coll) {
    bool array = BSON_ITER_HOLDS_ARRAY(&it);
    if (array) bson_iter_recurse(&it, &each);
    for (bool more = array ? bson_iter_next(&each) : true; more;
         more = array ? bson_iter_next(&each) : false) {
      bson_iter_t *cur = array ? &each : &it;
      if (!BSON_ITER_HOLDS_UTF8(cur) || !*bson_iter_utf8(cur, NULL)) {
        return aspd_plan_invalid(err, "%s",
                                 "$source.coll must be a collection name or an array of them");
      }
      src->colls = realloc(src->colls, (src->coll_count + 1) * sizeof *src->colls);
      src->colls[src->coll_count++] = strdup(bson_iter_utf8(cur, NULL));
    }
  }
  int f = config_choice(spec, "fullDocument", full, 4, err);
  int b = f < 0 ? -1 : config_choice(spec, "fullDocumentBeforeChange", before, 3, err);
  if (f < 0 || b < 0) return false;
  src->full_document = f > 0;
  src->before_change = b > 0;
  bson_iter_t config;
  if (bson_iter_init_find(&config, spec, "config") && BSON_ITER_HOLDS_DOCUMENT(&config)) {
    bson_iter_t only, after, at;
    bool has_after = bson_iter_recurse(&config, &after) && bson_iter_find(&after, "startAfter");
    bool has_at = bson_iter_recurse(&config, &at) && bson_iter_find(&at, "startAtOperationTime");
    if (has_after && has_at) {
      return aspd_plan_invalid(err, "%s", "startAfter and startAtOperationTime cannot both be set");
    }
    if (has_at) {
      return aspd_plan_invalid(err, "%s",
                               "config.startAtOperationTime is not supported by aspd yet: use "
                               "config.startAfter with a resume token");
    }
    if (has_after) {
      bson_iter_t data;
      char *end = NULL;
      if (BSON_ITER_HOLDS_DOCUMENT(&after) && bson_iter_recurse(&after, &data) &&
          bson_iter_find(&data, "_data") && BSON_ITER_HOLDS_UTF8(&data)) {
        src->start_after = (int64_t)strtoull(bson_iter_utf8(&data, NULL), &end, 16);
      }
      if (!end || *end || src->start_after < 0) {
        return aspd_plan_invalid(err, "%s",
                                 "config.startAfter must be a resume token {_data: ...} of aspd");
      }
    }
    if (bson_iter_recurse(&config, &only) && bson_iter_find(&only, "fullDocumentOnly") &&
        BSON_ITER_HOLDS_BOOL(&only) && bson_iter_bool(&only)) {
      if (f != 1 && f != 2) {
        return aspd_plan_invalid(err, "%s",
                                 "fullDocumentOnly requires fullDocument to be updateLookup or "
                                 "required");
      }
      if (src->before_change) {
        return aspd_plan_invalid(err, "%s",
                                 "fullDocumentOnly cannot be used with fullDocumentBeforeChange");
      }
      src->full_document_only = true;
    }
  }
  return true;
}

void *aspd_source_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  aspd_plan_t *plan = ctx->plan;
  if (!BSON_ITER_HOLDS_DOCUMENT(value))
    return aspd_plan_invalid(err, "%s", "$source must be an object");
  bson_t spec;
  aspd_spec_doc(value, &spec);
  const char *ts = aspd_plan_utf8(&spec, "tsFieldName");
  if (!ts) ts = aspd_plan_utf8(&spec, "tsFieldOverride");
  if (ts && strchr(ts, '.')) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "'tsFieldOverride' cannot be a dotted path");
    return NULL;
  }
  plan->ts_field = strdup(ts ? ts : DEFAULT_TS_FIELD);
  bson_iter_t time_field;
  if (bson_iter_init_find(&time_field, &spec, "timeField")) {
    plan->time_field = aspd_expr_compile(ctx->cc, bson_iter_value(&time_field), err);
    if (!plan->time_field) return NULL;
  }

  bson_iter_t docs;
  if (bson_iter_init_find(&docs, &spec, "documents")) {
    if (bson_iter_init_find(&time_field, &spec, "connectionName")) {
      return aspd_plan_invalid(err, "%s",
                               "$source cannot specify both 'documents' and 'connectionName'");
    }
    return plan_documents_source(&plan->source, &docs, err) ? plan : NULL;
  }
  const char *name = aspd_plan_utf8(&spec, "connectionName");
  if (!name)
    return aspd_plan_invalid(err, "%s", "$source must contain 'connectionName' field in it");
  const aspd_connection_t *conn = aspd_registry_find(ctx->registry, name);
  if (!conn) return aspd_plan_missing_connection(err, name);
  switch (conn->kind) {
    case ASPD_CONN_SAMPLE:
      plan->source.row = aspd_source_row(ASPD_SOURCE_SAMPLE);
      plan->source.docs_per_second = conn->docs_per_second;
      return plan;
    case ASPD_CONN_KAFKA: {
      const char *topic = aspd_plan_utf8(&spec, "topic");
      if (!topic) {
        return aspd_plan_invalid(err, "%s",
                                 "$source.topic must be a string for aspd's in-memory topics");
      }
      plan->source.row = aspd_source_row(ASPD_SOURCE_TOPIC);
      plan->source.connection = strdup(name);
      plan->source.topic = strdup(topic);
      plan->source.earliest = auto_offset_earliest(&spec);
      plan->source.partitions = aspd_plan_kafka_partitions(conn, err);
      plan->source.idle_timeout_ms = idle_timeout_ms(&spec, err);
      return plan->source.partitions && plan->source.idle_timeout_ms >= 0 ? plan : NULL;
    }
    case ASPD_CONN_CLUSTER:
      plan->source.connection = strdup(name);
      return plan_change_stream(&plan->source, &spec, err) ? plan : NULL;
    default:
      return aspd_plan_invalid(
          err, "%s", "Only kafka, sample_solar, and atlas source connection type is supported");
  }
}
