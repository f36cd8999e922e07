/* The processor state machine (as Atlas runs it) and the
 * read-only views of processors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/error.h"
#include "engine/match.h"
#include "engine/runtime/engine_internal.h"
#include "engine/sinks/topics.h"

#define DEFAULT_TIER "SP10"
/* Interactive processors run for at most 10 minutes (Atlas). */
#define EPHEMERAL_LIFETIME_MS (10 * 60 * 1000)

static bool not_found(aspd_error_t *err, const char *name) {
  aspd_error_set(err, ASPD_E_COMMAND_FAILED, "stream processor does not exist: %s", name);
  return false;
}

static bool wrong_state(aspd_error_t *err, const aspd_processor_t *p, const char *command,
                        const char *allowed) {
  aspd_error_set(err, ASPD_E_COMMAND_FAILED,
                 "cannot %s stream processor %s: it is %s, and %s needs %s", command, p->name,
                 aspd_state_name(p->state), command, allowed);
  return false;
}

static void set_state(aspd_processor_t *p, aspd_state_t state) {
  p->state = state;
  p->last_state_change_ms = aspd_now_ms();
}

void aspd_processor_fail(aspd_engine_t *e, aspd_processor_t *p) {
  free(p->error_msg);
  p->error_msg = strdup(p->ev.failure);
  aspd_run_end(p);
  set_state(p, ASPD_STATE_FAILED);
  e->processors_dirty = true;
}

/* Lock, find by name, and fail when missing. */
static aspd_processor_t *locked_find(aspd_engine_t *e, const char *name, aspd_error_t *err) {
  aspd_engine_lock(e);
  aspd_processor_t *p = aspd_processor_find(e, name);
  if (!p) {
    not_found(err, name);
    pthread_mutex_unlock(&e->lock);
  }
  return p;
}

/* Unlocks. A command that changes a processor has committed the change to
 * the store before it applied it, and before it is acknowledged. */
static bool finish(aspd_engine_t *e, bool ok) {
  pthread_mutex_unlock(&e->lock);
  return ok;
}

/* Commits p as it would be in `state`, leaving p as it is. */
static bool save_in_state(aspd_engine_t *e, aspd_processor_t *p, aspd_state_t state,
                          aspd_error_t *err) {
  aspd_state_t was = p->state;
  int64_t changed = p->last_state_change_ms;
  p->state = state;
  p->last_state_change_ms = aspd_now_ms();
  bool ok = aspd_engine_save_processor(e, p, NULL, err);
  p->state = was;
  p->last_state_change_ms = changed;
  return ok;
}

static bool validate_pipeline(aspd_engine_t *e, const bson_t *pipeline, const bson_t *options,
                              aspd_error_t *err) {
  /* An empty pipeline may be created (mongosh, the C driver); start refuses it. */
  if (bson_empty(pipeline)) return true;
  aspd_plan_t *plan = aspd_plan_build(e->registry, pipeline, options, false, err);
  aspd_plan_free(plan);
  return plan != NULL;
}

static aspd_processor_t *new_processor(const char *name, const bson_t *pipeline,
                                       const bson_t *options) {
  aspd_processor_t *p = calloc(1, sizeof *p);
  p->name = strdup(name);
  bson_oid_t oid;
  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, p->id);
  p->pipeline = bson_copy(pipeline);
  p->options = options ? bson_copy(options) : bson_new();
  p->created_ms = p->last_modified_ms = p->last_state_change_ms = aspd_now_ms();
  p->state = ASPD_STATE_CREATED;
  return p;
}

bool aspd_engine_create(aspd_engine_t *e, const char *name, const bson_t *pipeline,
                        const bson_t *options, aspd_error_t *err) {
  aspd_engine_lock(e);
  if (aspd_processor_find(e, name)) {
    aspd_error_set(err, ASPD_E_COMMAND_FAILED, "stream processor name already exists: %s", name);
    pthread_mutex_unlock(&e->lock);
    return false;
  }
  if (!validate_pipeline(e, pipeline, options, err)) {
    pthread_mutex_unlock(&e->lock);
    return false;
  }
  aspd_processor_t *p = new_processor(name, pipeline, options);
  if (!aspd_engine_save_processor(e, p, NULL, err)) {
    aspd_processor_free(p);
    return finish(e, false);
  }
  aspd_processor_t **tail = &e->processors;
  while (*tail) tail = &(*tail)->next;
  *tail = p;
  return finish(e, true);
}

/* Replaces (or with value NULL removes) one top-level field of a document. */
static void set_option(bson_t **doc, const char *key, const bson_value_t *value) {
  bson_t *out = bson_new();
  bson_iter_t it;
  bson_iter_init(&it, *doc);
  while (bson_iter_next(&it)) {
    if (strcmp(bson_iter_key(&it), key)) {
      bson_append_value(out, bson_iter_key(&it), -1, bson_iter_value(&it));
    }
  }
  if (value) bson_append_value(out, key, -1, value);
  bson_destroy(*doc);
  *doc = out;
}

static void set_option_utf8(bson_t **doc, const char *key, const char *s) {
  bson_value_t v = {.value_type = BSON_TYPE_UTF8};
  v.value.v_utf8.str = (char *)(uintptr_t)s;
  v.value.v_utf8.len = (uint32_t)strlen(s);
  set_option(doc, key, &v);
}

bool aspd_engine_start(aspd_engine_t *e, const char *name, const aspd_start_options_t *opts,
                       aspd_error_t *err) {
  aspd_processor_t *p = locked_find(e, name, err);
  if (!p) return false;
  if (p->state == ASPD_STATE_STARTED) {
    return finish(e, wrong_state(err, p, "start", "CREATED, STOPPED or FAILED"));
  }
  /* Applied to a copy of what is persisted first: the record as started. */
  bson_t *options = bson_copy(p->options);
  int32_t workers = p->workers;
  bson_t *checkpoint = p->checkpoint ? bson_copy(p->checkpoint) : NULL;
  bool has_started = p->has_started;
  char *error_msg = p->error_msg;
  if (opts->tier) set_option_utf8(&p->options, "tier", opts->tier);
  if (opts->workers > 0) p->workers = opts->workers;
  int64_t epoch = p->checkpoint_epoch;
  if (opts->clear_checkpoints || !p->has_started) {
    if (p->checkpoint) bson_destroy(p->checkpoint);
    p->checkpoint = NULL;
    p->checkpoint_epoch++;
  }
  p->has_started = true;
  p->error_msg = NULL;
  bool begun = aspd_run_begin(e, p, err);
  if (!begun || !save_in_state(e, p, ASPD_STATE_STARTED, err)) {
    if (begun) aspd_run_end(p);
    bson_destroy(p->options);
    p->options = options;
    p->workers = workers;
    if (p->checkpoint) bson_destroy(p->checkpoint);
    p->checkpoint = checkpoint;
    p->checkpoint_epoch = epoch;
    p->has_started = has_started;
    p->error_msg = error_msg;
    return finish(e, false);
  }
  bson_destroy(options);
  if (checkpoint) bson_destroy(checkpoint);
  free(error_msg);
  set_state(p, ASPD_STATE_STARTED);
  pthread_cond_signal(&e->wake);
  return finish(e, true);
}

bool aspd_engine_stop(aspd_engine_t *e, const char *name, aspd_error_t *err) {
  aspd_processor_t *p = locked_find(e, name, err);
  if (!p) return false;
  if (p->state != ASPD_STATE_STARTED) return finish(e, wrong_state(err, p, "stop", "STARTED"));
  if (!save_in_state(e, p, ASPD_STATE_STOPPED, err)) return finish(e, false);
  aspd_run_end(p);
  set_state(p, ASPD_STATE_STOPPED);
  return finish(e, true);
}

bool aspd_engine_drop(aspd_engine_t *e, const char *name, aspd_error_t *err) {
  aspd_processor_t *p = locked_find(e, name, err);
  if (!p) return false;
  if (!p->ephemeral && !aspd_engine_delete_processor(e, p->name, err)) return finish(e, false);
  aspd_run_end(p);
  aspd_engine_unlink(e, p);
  aspd_processor_free(p);
  return finish(e, true);
}

static bool same_first_stage(const bson_t *a, const bson_t *b) {
  bson_iter_t x, y;
  if (!bson_iter_init(&x, a) || !bson_iter_next(&x)) return false;
  if (!bson_iter_init(&y, b) || !bson_iter_next(&y)) return false;
  const bson_value_t *vx = bson_iter_value(&x), *vy = bson_iter_value(&y);
  return vx->value_type == vy->value_type && vx->value_type == BSON_TYPE_DOCUMENT &&
         vx->value.v_doc.data_len == vy->value.v_doc.data_len &&
         !memcmp(vx->value.v_doc.data, vy->value.v_doc.data, vx->value.v_doc.data_len);
}

bool aspd_engine_modify(aspd_engine_t *e, const char *name, const aspd_modify_t *m,
                        aspd_error_t *err) {
  aspd_processor_t *p = locked_find(e, name, err);
  if (!p) return false;
  if (p->state != ASPD_STATE_STOPPED) return finish(e, wrong_state(err, p, "modify", "STOPPED"));
  if (m->new_name && strcmp(m->new_name, name) && aspd_processor_find(e, m->new_name)) {
    aspd_error_set(err, ASPD_E_COMMAND_FAILED, "stream processor name already exists: %s",
                   m->new_name);
    return finish(e, false);
  }
  bson_t *options = bson_copy(p->options);
  if (m->dlq) {
    bson_value_t v = {.value_type = BSON_TYPE_DOCUMENT};
    v.value.v_doc.data = (uint8_t *)(uintptr_t)bson_get_data(m->dlq);
    v.value.v_doc.data_len = m->dlq->len;
    set_option(&options, "dlq", bson_empty(m->dlq) ? NULL : &v);
  }
  if (m->tier) set_option_utf8(&options, "tier", m->tier);
  const bson_t *pipeline = m->pipeline ? m->pipeline : p->pipeline;
  if (m->pipeline && m->resume_from_checkpoint && p->has_started &&
      !same_first_stage(m->pipeline, p->pipeline)) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                   "resumeFromCheckpoint must be false to modify a stream processor's $source "
                   "stage");
    bson_destroy(options);
    return finish(e, false);
  }
  if (!validate_pipeline(e, pipeline, options, err)) {
    bson_destroy(options);
    return finish(e, false);
  }
  /* The modified processor is committed first; on failure p is put back. */
  aspd_processor_t was = *p;
  if (m->pipeline) p->pipeline = bson_copy(m->pipeline);
  p->options = options;
  if (m->new_name) p->name = strdup(m->new_name);
  if (!m->resume_from_checkpoint) {
    /* Starting over: only the summary counters are kept. */
    p->checkpoint = NULL;
    p->checkpoint_epoch++;
    p->operator_stats = NULL;
    p->operator_count = 0;
  }
  p->last_modified_ms = aspd_now_ms();
  if (!aspd_engine_save_processor(e, p, was.name, err)) {
    if (p->pipeline != was.pipeline) bson_destroy(p->pipeline);
    bson_destroy(p->options);
    if (p->name != was.name) free(p->name);
    *p = was;
    return finish(e, false);
  }
  if (p->pipeline != was.pipeline) bson_destroy(was.pipeline);
  bson_destroy(was.options);
  if (p->name != was.name) free(was.name);
  if (p->operator_stats != was.operator_stats) free(was.operator_stats);
  if (p->checkpoint != was.checkpoint && was.checkpoint) bson_destroy(was.checkpoint);
  return finish(e, true);
}

static void append_option(bson_t *out, const bson_t *options, const char *key, const char *as) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, options, key)) bson_append_value(out, as, -1, bson_iter_value(&it));
}

static const char *tier_of(const aspd_processor_t *p) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, p->options, "tier") && BSON_ITER_HOLDS_UTF8(&it)) {
    return bson_iter_utf8(&it, NULL);
  }
  return DEFAULT_TIER;
}

bool aspd_engine_describe(aspd_engine_t *e, const char *name, bson_t *out, aspd_error_t *err) {
  aspd_processor_t *p = locked_find(e, name, err);
  if (!p) return false;
  BSON_APPEND_UTF8(out, "_id", p->id);
  BSON_APPEND_UTF8(out, "name", p->name);
  BSON_APPEND_UTF8(out, "state", aspd_state_name(p->state));
  BSON_APPEND_ARRAY(out, "pipeline", p->pipeline);
  BSON_APPEND_UTF8(out, "tier", tier_of(p));
  append_option(out, p->options, "dlq", "dlq");
  append_option(out, p->options, "streamMetaFieldName", "streamMetaFieldName");
  append_option(out, p->options, "failover", "failoverEnabled");
  if (p->workers > 0) BSON_APPEND_INT32(out, "workers", p->workers);
  BSON_APPEND_BOOL(out, "hasStarted", p->has_started);
  BSON_APPEND_UTF8(out, "errorMsg", p->error_msg ? p->error_msg : "");
  BSON_APPEND_DATE_TIME(out, "lastStateChange", p->last_state_change_ms);
  BSON_APPEND_DATE_TIME(out, "lastModified", p->last_modified_ms);
  pthread_mutex_unlock(&e->lock);
  return true;
}

static const char *status_of(aspd_state_t s) {
  switch (s) {
    case ASPD_STATE_CREATED:
      return "created";
    case ASPD_STATE_STARTED:
      return "running";
    case ASPD_STATE_STOPPED:
      return "stopped";
    default:
      return "error";
  }
}

static void append_counters(bson_t *out, const aspd_counters_t *c, double state_size,
                            double scale) {
  BSON_APPEND_INT64(out, "inputMessageCount", c->input_count);
  BSON_APPEND_DOUBLE(out, "inputMessageSize", c->input_size / scale);
  BSON_APPEND_INT64(out, "outputMessageCount", c->output_count);
  BSON_APPEND_DOUBLE(out, "outputMessageSize", c->output_size / scale);
  BSON_APPEND_INT64(out, "dlqMessageCount", c->dlq_count);
  BSON_APPEND_DOUBLE(out, "dlqMessageSize", c->dlq_size / scale);
  BSON_APPEND_DOUBLE(out, "stateSize", state_size / scale);
}

static void append_operator_stats(aspd_engine_t *e, const aspd_processor_t *p, double scale,
                                  bson_t *stats) {
  aspd_plan_t *owned = NULL;
  const aspd_plan_t *plan = p->plan;
  aspd_error_t ignored;
  if (!plan)
    plan = owned = aspd_plan_build(e->registry, p->pipeline, p->options, p->ephemeral, &ignored);
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(stats, "operatorStats", &list);
  size_t n = plan ? aspd_plan_operator_count(plan) : 0;
  for (size_t i = 0; i < n; i++) {
    char key[16];
    const char *k;
    bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    bson_t op;
    aspd_counters_t zero = {0};
    BSON_APPEND_DOCUMENT_BEGIN(&list, k, &op);
    BSON_APPEND_UTF8(&op, "name", aspd_plan_operator_name(plan, i));
    bool running = p->plan && i > 0 && i <= p->ops.count;
    aspd_op_t *o = running ? p->ops.ops[i - 1] : NULL;
    double state = o && o->vt->state_bytes ? (double)o->vt->state_bytes(o) : 0.0;
    append_counters(&op, i < p->operator_count ? &p->operator_stats[i] : &zero, state, scale);
    BSON_APPEND_DOUBLE(&op, "maxMemoryUsage", 0.0);
    BSON_APPEND_INT64(&op, "executionTimeMillis", 0);
    bson_append_document_end(&list, &op);
  }
  bson_append_array_end(stats, &list);
  aspd_plan_free(owned);
}

/* An aspd extension: documents the processor's sink collection or topic
 * dropped past --sink-max-docs since start-up (whoever wrote them). */
static void append_sink_dropped(aspd_engine_t *e, const aspd_processor_t *p, bson_t *stats) {
  const aspd_plan_t *plan = p->plan;
  if (!plan || (plan->sink != ASPD_SINK_COLLECTION && plan->sink != ASPD_SINK_TOPIC)) return;
  /* A $merge whose target is an expression writes to many collections. */
  if (!plan->sink_name || (plan->sink == ASPD_SINK_COLLECTION && !plan->sink_db)) return;
  int64_t dropped = 0;
  aspd_topic_t topic;
  if (plan->sink == ASPD_SINK_TOPIC) {
    /* Every partition of the topic. */
    if (aspd_topic_open(e->memstore, plan->sink_connection, plan->sink_name, 0, &topic)) {
      for (int32_t i = 0; i < topic.count; i++) dropped += topic.parts[i]->dropped;
    }
  } else {
    const aspd_dataset_t *set =
        aspd_memstore_find(e->memstore, plan->sink_connection, plan->sink_db, plan->sink_name);
    dropped = set ? set->dropped : 0;
  }
  BSON_APPEND_INT64(stats, "sinkDroppedMessageCount", dropped);
}

/* An aspd extension: how far the committed checkpoint (source position, window state)
 * lags the processor's state: about one flusher delay when commits succeed, growing
 * while they fail. Interactive processors have none. */
static void append_checkpoint_age(const aspd_processor_t *p, bson_t *stats) {
  if (p->ephemeral || !p->checkpoint_current_ms) return;
  BSON_APPEND_DATE_TIME(stats, "lastCheckpointCurrent", p->checkpoint_current_ms);
  BSON_APPEND_INT64(stats, "checkpointAgeMs", aspd_now_ms() - p->checkpoint_current_ms);
}

bool aspd_engine_stats(aspd_engine_t *e, const char *name, bool verbose, int64_t scale,
                       bson_t *reply, aspd_error_t *err) {
  aspd_processor_t *p = locked_find(e, name, err);
  if (!p) return false;
  double s = (double)scale;
  char ns[512];
  snprintf(ns, sizeof ns, "aspd.%s.%s", p->id, p->name);
  BSON_APPEND_UTF8(reply, "ns", ns);
  BSON_APPEND_UTF8(reply, "name", p->name);
  BSON_APPEND_UTF8(reply, "state", aspd_state_name(p->state));
  BSON_APPEND_ARRAY(reply, "pipeline", p->pipeline);
  bson_t stats;
  BSON_APPEND_DOCUMENT_BEGIN(reply, "stats", &stats);
  BSON_APPEND_UTF8(&stats, "name", p->name);
  BSON_APPEND_UTF8(&stats, "processorId", p->id);
  BSON_APPEND_UTF8(&stats, "status", status_of(p->state));
  BSON_APPEND_INT64(&stats, "scaleFactor", scale);
  append_counters(&stats, &p->totals, (double)aspd_pipeline_state_bytes(&p->ops), s);
  BSON_APPEND_DOUBLE(&stats, "memoryTrackerBytes", (double)aspd_taps_buffered_bytes(p) / s);
  append_sink_dropped(e, p, &stats);
  append_checkpoint_age(p, &stats);
  if (p->source && p->source->row->stats) p->source->row->stats(p->source, aspd_now_ms(), &stats);
  if (verbose) append_operator_stats(e, p, s, &stats);
  bson_append_document_end(reply, &stats);
  pthread_mutex_unlock(&e->lock);
  return true;
}

bool aspd_engine_list(aspd_engine_t *e, const bson_t *filter, bson_t *out, aspd_error_t *err) {
  if (!aspd_match_validate(filter, err)) return false;
  aspd_engine_lock(e);
  uint32_t n = 0;
  for (aspd_processor_t *p = e->processors; p; p = p->next) {
    if (p->ephemeral) continue;
    bson_t item = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&item, "id", p->id);
    BSON_APPEND_UTF8(&item, "name", p->name);
    BSON_APPEND_ARRAY(&item, "pipeline", p->pipeline);
    BSON_APPEND_UTF8(&item, "state", aspd_state_name(p->state));
    BSON_APPEND_UTF8(&item, "tier", tier_of(p));
    BSON_APPEND_UTF8(&item, "errorMsg", p->error_msg ? p->error_msg : "");
    BSON_APPEND_DATE_TIME(&item, "lastModified", p->last_modified_ms);
    BSON_APPEND_DATE_TIME(&item, "lastStateChange", p->last_state_change_ms);
    /* The filter also sees the options (e.g. "options.dlq.connectionName"). */
    bson_t *subject = bson_copy(&item);
    BSON_APPEND_DOCUMENT(subject, "options", p->options);
    if (aspd_match(subject, filter)) {
      char key[16];
      const char *k;
      bson_uint32_to_string(n++, &k, key, sizeof key);
      bson_append_document(out, k, -1, &item);
    }
    bson_destroy(subject);
    bson_destroy(&item);
  }
  pthread_mutex_unlock(&e->lock);
  return true;
}

bool aspd_engine_process(aspd_engine_t *e, const bson_t *pipeline, const bson_t *options,
                         char *name_out, size_t name_len, int64_t *cursor_id, aspd_error_t *err) {
  aspd_engine_lock(e);
  bson_oid_t oid;
  bson_oid_init(&oid, NULL);
  char hex[25];
  bson_oid_to_string(&oid, hex);
  char name[64];
  snprintf(name, sizeof name, "__process_%s", hex);
  aspd_processor_t *p = new_processor(name, pipeline, options);
  p->ephemeral = true;
  p->expires_ms = aspd_now_ms() + EPHEMERAL_LIFETIME_MS;
  if (!aspd_run_begin(e, p, err)) {
    aspd_processor_free(p);
    pthread_mutex_unlock(&e->lock);
    return false;
  }
  set_state(p, ASPD_STATE_STARTED);
  p->has_started = true;
  *cursor_id = aspd_tap_open(p, -1)->id;
  p->next = e->processors;
  e->processors = p;
  snprintf(name_out, name_len, "%s", name);
  pthread_cond_signal(&e->wake);
  pthread_mutex_unlock(&e->lock);
  return true;
}
