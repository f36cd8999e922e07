/* Runs processors: pulls documents from the source at its rate, passes them
 * through the operators, writes them to the sink and offers them to taps. */
#include <stdlib.h>
#include <string.h>

#include "commands/reply.h"
#include "engine/engine_internal.h"
#include "engine/match.h"
#include "engine/transform.h"

/* Documents one processor may produce per slice, so that every processor gets
 * its turn even when a source runs unlimited. A processor also ends its turn
 * early when the engine thread is due to let waiting commands in. */
#define MAX_PER_SLICE 512
/* ...but only after this many, so that a stream of commands cannot stop it. */
#define MIN_PER_TURN 16

static const char *const earliest_names[] = {"earliest", "beginning", "smallest"};

static int64_t initial_topic_offset(aspd_engine_t *e, const aspd_processor_t *p) {
  aspd_dataset_t *set =
      aspd_memstore_dataset(e->memstore, p->plan->source_connection, NULL, p->plan->source_topic);
  bson_iter_t it;
  bson_t stage;
  const uint8_t *data;
  uint32_t len;
  /* $source.config.auto_offset_reset, Kafka's default being "latest". */
  if (bson_iter_init(&it, p->pipeline) && bson_iter_next(&it) && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    bson_iter_document(&it, &len, &data);
    bson_init_static(&stage, data, len);
    bson_iter_t reset;
    if (bson_iter_init(&reset, &stage) &&
        bson_iter_find_descendant(&reset, "$source.config.auto_offset_reset", &reset) &&
        BSON_ITER_HOLDS_UTF8(&reset)) {
      for (size_t i = 0; i < 3; i++) {
        if (!strcmp(bson_iter_utf8(&reset, NULL), earliest_names[i])) return set->first_offset;
      }
    }
  }
  return aspd_dataset_end_offset(set);
}

bool aspd_run_begin(aspd_engine_t *e, aspd_processor_t *p, aspd_error_t *err) {
  aspd_plan_t *plan = aspd_plan_build(e->registry, p->pipeline, p->options, p->ephemeral, err);
  if (!plan) return false;
  aspd_plan_free(p->plan);
  p->plan = plan;
  size_t n = aspd_plan_operator_count(plan);
  if (p->operator_count != n) {
    free(p->operator_stats);
    p->operator_stats = calloc(n, sizeof *p->operator_stats);
    p->operator_count = n;
  }
  aspd_rng_seed(&p->rng, (uint64_t)aspd_now_ms() ^ (uint64_t)(uintptr_t)p);
  p->run_started_ms = aspd_now_ms();
  p->generated_this_run = 0;
  p->source_exhausted = false;
  p->last_input_ms = 0;
  aspd_window_state_free(p->window_state);
  p->window_state = plan->has_window ? aspd_window_state_new() : NULL;
  if (p->source_offset < 0) {
    p->source_offset = plan->source == ASPD_SOURCE_TOPIC ? initial_topic_offset(e, p) : 0;
  }
  return true;
}

void aspd_run_end(aspd_processor_t *p) {
  /* Open windows are not checkpointed: a stopped processor starts them afresh. */
  aspd_window_state_free(p->window_state);
  p->window_state = NULL;
  aspd_plan_free(p->plan);
  p->plan = NULL;
  aspd_taps_end_input(p);
}

static void count(aspd_counters_t *c, bool input, size_t size) {
  if (input) {
    c->input_count++;
    c->input_size += (double)size;
  } else {
    c->output_count++;
    c->output_size += (double)size;
  }
}

/* {source: {type[, topic, partition, offset]}}; offset < 0 when not a topic message. */
static void append_source_meta(const aspd_plan_t *plan, int64_t offset, bson_t *out,
                               const char *key) {
  bson_t meta, source;
  bson_append_document_begin(out, key, -1, &meta);
  BSON_APPEND_DOCUMENT_BEGIN(&meta, "source", &source);
  BSON_APPEND_UTF8(&source, "type", plan->source == ASPD_SOURCE_TOPIC ? "kafka" : "generated");
  if (plan->source == ASPD_SOURCE_TOPIC && offset >= 0) {
    BSON_APPEND_UTF8(&source, "topic", plan->source_topic);
    BSON_APPEND_INT32(&source, "partition", 0); /* in-memory topics have one partition */
    BSON_APPEND_INT64(&source, "offset", offset);
  }
  bson_append_document_end(&meta, &source);
  bson_append_document_end(out, &meta);
}

/* Adds the fields the source stamps: the event time (timeField, else ingestion
 * time) and the stream metadata. False when timeField yields no date. */
static bool stamp(const aspd_plan_t *plan, const bson_t *body, int64_t offset, int64_t now_ms,
                  bson_t *out, char *reason, size_t reason_len) {
  int64_t ts = now_ms;
  if (plan->time_field) {
    bson_iter_t expr, v;
    bson_t holder = BSON_INITIALIZER;
    bson_iter_init_find(&expr, plan->time_field, "v");
    aspd_expr_result_t r =
        aspd_expr_append(bson_iter_value(&expr), body, &holder, "v", reason, reason_len);
    bool ok = r == ASPD_EXPR_VALUE && bson_iter_init_find(&v, &holder, "v") &&
              BSON_ITER_HOLDS_DATE_TIME(&v);
    if (ok) ts = bson_iter_date_time(&v);
    if (!ok && r != ASPD_EXPR_ERROR) {
      char *json = bson_as_relaxed_extended_json(&holder, NULL);
      snprintf(reason, reason_len,
               "Failed to extract timestamp from document, extracted timestampVal: %s", json);
      bson_free(json);
    }
    bson_destroy(&holder);
    if (!ok) return false;
  }
  bson_iter_t it;
  bson_iter_init(&it, body);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    if (!strcmp(k, plan->ts_field) || (plan->meta_field && !strcmp(k, plan->meta_field))) continue;
    bson_append_value(out, k, -1, bson_iter_value(&it));
  }
  BSON_APPEND_DATE_TIME(out, plan->ts_field, ts);
  if (plan->meta_field) append_source_meta(plan, offset, out, plan->meta_field);
  return true;
}

/* A document an operator could not handle: counted, written to the processor's
 * DLQ collection when it has one, and shown to sample cursors as _dlqMessage. */
static void dead_letter(aspd_engine_t *e, aspd_processor_t *p, size_t op_index, const bson_t *doc,
                        const char *reason, int64_t now_ms) {
  const aspd_plan_t *plan = p->plan;
  p->totals.dlq_count++;
  p->totals.dlq_size += doc->len;
  p->operator_stats[op_index].dlq_count++;
  p->operator_stats[op_index].dlq_size += doc->len;
  bson_t *letter = bson_new(), err_info;
  append_source_meta(plan, -1, letter, "_stream_meta");
  BSON_APPEND_DOCUMENT_BEGIN(letter, "errInfo", &err_info);
  BSON_APPEND_UTF8(&err_info, "reason", reason);
  bson_append_document_end(letter, &err_info);
  BSON_APPEND_DOCUMENT(letter, "doc", doc);
  BSON_APPEND_UTF8(letter, "processorName", p->name);
  BSON_APPEND_UTF8(letter, "operatorName", aspd_plan_operator_name(plan, op_index));
  BSON_APPEND_DATE_TIME(letter, "dlqTime", now_ms);
  if (plan->dlq_connection) {
    aspd_dataset_t *set =
        aspd_memstore_dataset(e->memstore, plan->dlq_connection, plan->dlq_db, plan->dlq_coll);
    bson_t *stored = bson_new();
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    BSON_APPEND_OID(stored, "_id", &oid);
    bson_concat(stored, letter);
    aspd_dataset_append(set, stored);
    bson_destroy(stored);
  }
  bson_t *wrapped = BCON_NEW("_dlqMessage", BCON_DOCUMENT(letter));
  aspd_taps_offer(p, wrapped);
  bson_destroy(wrapped);
  bson_destroy(letter);
}

/* Runs one operator; false when the document stops here: filtered out, or
 * (*failed) to be dead-lettered with reason. */
static bool apply(const aspd_op_t *op, bson_t **doc, char *reason, size_t reason_len,
                  bool *failed) {
  *failed = false;
  if (op->kind == ASPD_OP_MATCH) return aspd_match(*doc, op->spec);
  if (op->kind == ASPD_OP_VALIDATE) {
    bson_iter_t it;
    const uint8_t *data;
    uint32_t len;
    bson_iter_init_find(&it, op->spec, "validator");
    bson_iter_document(&it, &len, &data);
    bson_t validator;
    bson_init_static(&validator, data, len);
    if (aspd_match(*doc, &validator)) return true;
    bson_iter_init_find(&it, op->spec, "dlq");
    *failed = bson_iter_bool(&it); /* otherwise discarded */
    snprintf(reason, reason_len, "Input document found to be invalid in $validate stage");
    return false;
  }
  bson_t *out = bson_new();
  bool ok = true;
  bson_iter_t it;
  switch (op->kind) {
    case ASPD_OP_UNSET: {
      bson_iter_init_find(&it, op->spec, "fields");
      const uint8_t *data;
      uint32_t len;
      bson_iter_array(&it, &len, &data);
      bson_t paths;
      bson_init_static(&paths, data, len);
      aspd_remove_paths(*doc, &paths, out);
      break;
    }
    case ASPD_OP_ADD_FIELDS:
      ok = aspd_add_fields(*doc, op->spec, out, reason, reason_len);
      break;
    case ASPD_OP_PROJECT:
      ok = aspd_project(*doc, op->spec, out, reason, reason_len);
      break;
    default:
      bson_iter_init_find(&it, op->spec, "newRoot");
      ok = aspd_replace_root(*doc, bson_iter_value(&it), out, reason, reason_len);
  }
  if (!ok) {
    bson_destroy(out);
    *failed = true;
    return false;
  }
  bson_destroy(*doc);
  *doc = out;
  return true;
}

static void write_sink(aspd_engine_t *e, const aspd_plan_t *plan, const bson_t *doc) {
  if (plan->sink == ASPD_SINK_TOPIC) {
    aspd_dataset_t *set =
        aspd_memstore_dataset(e->memstore, plan->sink_connection, NULL, plan->sink_name);
    aspd_dataset_append(set, doc);
  } else if (plan->sink == ASPD_SINK_COLLECTION) {
    aspd_dataset_t *set =
        aspd_memstore_dataset(e->memstore, plan->sink_connection, plan->sink_db, plan->sink_name);
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id")) {
      aspd_dataset_append(set, doc);
      return;
    }
    /* Like a collection insert: the server assigns an ObjectId. */
    bson_t with_id = BSON_INITIALIZER;
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    BSON_APPEND_OID(&with_id, "_id", &oid);
    bson_concat(&with_id, doc);
    aspd_dataset_append(set, &with_id);
    bson_destroy(&with_id);
  }
}

static const char *source_type(const aspd_plan_t *plan) {
  return plan->source == ASPD_SOURCE_TOPIC ? "kafka" : "generated";
}

/* Event time of a document reaching a window: the source timestamp field. */
static int64_t event_time(const aspd_plan_t *plan, const bson_t *doc, int64_t now_ms) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, plan->ts_field) && BSON_ITER_HOLDS_DATE_TIME(&it)) {
    return bson_iter_date_time(&it);
  }
  return now_ms;
}

typedef struct {
  aspd_engine_t *engine;
  aspd_processor_t *processor;
  size_t next_op;
  int64_t now_ms;
} window_output_t;

static void on_window_output(const bson_t *doc, void *arg);

static void run_chain(aspd_engine_t *e, aspd_processor_t *p, bson_t *doc, size_t first,
                      int64_t now_ms);

/* Where the documents an $unwind produces go on. */
typedef struct {
  aspd_engine_t *engine;
  aspd_processor_t *processor;
  size_t next_op;
  int64_t now_ms;
} unwound_t;

static void on_unwound(bson_t *doc, void *arg) {
  unwound_t *u = arg;
  count(&u->processor->operator_stats[u->next_op], false, doc->len);
  run_chain(u->engine, u->processor, doc, u->next_op, u->now_ms);
}

/* Closes the windows the watermark passed; when `at_rest`, all of them once the source is done
 * (inline documents) or has been idle for the window's idleTimeout. */
static void close_windows(aspd_engine_t *e, aspd_processor_t *p, int64_t now_ms, bool at_rest) {
  const aspd_plan_t *plan = p->plan;
  for (size_t i = 0; i < plan->op_count; i++) {
    const aspd_window_spec_t *spec = plan->ops[i].window;
    if (!spec) continue;
    bool idle =
        spec->idle_ms > 0 && p->last_input_ms > 0 && now_ms - p->last_input_ms >= spec->idle_ms;
    window_output_t out = {e, p, i + 1, now_ms};
    aspd_window_close(spec, p->window_state, at_rest && (p->source_exhausted || idle),
                      plan->meta_field, source_type(plan), on_window_output, &out);
  }
}

/* Runs doc (owned) through the operators from index `first` on, then the sink. */
static void run_chain(aspd_engine_t *e, aspd_processor_t *p, bson_t *doc, size_t first,
                      int64_t now_ms) {
  const aspd_plan_t *plan = p->plan;
  char reason[512];
  for (size_t i = first; i < plan->op_count; i++) {
    aspd_counters_t *st = &p->operator_stats[i + 1];
    count(st, true, doc->len);
    if (plan->ops[i].kind == ASPD_OP_WINDOW) {
      if (!aspd_window_add(plan->ops[i].window, p->window_state, doc,
                           event_time(plan, doc, now_ms))) {
        dead_letter(e, p, i + 1, doc, "Input document arrived late.", now_ms);
      }
      bson_destroy(doc);
      /* The watermark may have moved past some windows. */
      close_windows(e, p, now_ms, false);
      return;
    }
    if (plan->ops[i].kind == ASPD_OP_UNWIND) {
      unwound_t next = {e, p, i + 1, now_ms};
      aspd_unwind(doc, plan->ops[i].spec, on_unwound, &next);
      bson_destroy(doc);
      return;
    }
    bool failed;
    if (!apply(&plan->ops[i], &doc, reason, sizeof reason, &failed)) {
      if (failed) dead_letter(e, p, i + 1, doc, reason, now_ms);
      bson_destroy(doc);
      return;
    }
    count(st, false, doc->len);
  }
  aspd_counters_t *sink = &p->operator_stats[plan->op_count + 1];
  count(sink, true, doc->len);
  write_sink(e, plan, doc);
  count(sink, false, doc->len);
  count(&p->totals, false, doc->len);
  aspd_taps_offer(p, doc);
  bson_destroy(doc);
}

/* Runs one source document (at `offset` of a topic, else -1) through the chain. */
static void process_one(aspd_engine_t *e, aspd_processor_t *p, const bson_t *body, int64_t offset,
                        int64_t now_ms) {
  const aspd_plan_t *plan = p->plan;
  char reason[512];
  bson_t *doc = bson_new();
  bool stamped = stamp(plan, body, offset, now_ms, doc, reason, sizeof reason);
  p->last_input_ms = now_ms;
  count(&p->totals, true, body->len);
  count(&p->operator_stats[0], true, body->len);
  if (!stamped) {
    dead_letter(e, p, 0, body, reason, now_ms);
    bson_destroy(doc);
    return;
  }
  count(&p->operator_stats[0], false, doc->len);
  run_chain(e, p, doc, 0, now_ms);
}

static void on_window_output(const bson_t *doc, void *arg) {
  window_output_t *out = arg;
  aspd_counters_t *st = &out->processor->operator_stats[out->next_op];
  count(st, false, doc->len);
  run_chain(out->engine, out->processor, bson_copy(doc), out->next_op, out->now_ms);
}

/* An interactive processor exists for its cursor: a finite or replayable source
 * waits for a full cursor instead of skipping documents. */
static bool must_wait_for_cursor(const aspd_processor_t *p) {
  return p->ephemeral && p->plan->source != ASPD_SOURCE_SAMPLE && aspd_taps_full(p);
}

/* A turn ends early when waiting commands are due to get the lock. */
static bool turn_over(aspd_engine_t *e, int produced) {
  return produced >= MIN_PER_TURN && aspd_engine_yield_due(e);
}

/* Returns true when the processor could produce more right away. */
static bool run_processor(aspd_engine_t *e, aspd_processor_t *p, int64_t now_ms) {
  const aspd_plan_t *plan = p->plan;
  int produced = 0;
  switch (plan->source) {
    case ASPD_SOURCE_SAMPLE: {
      int64_t budget = MAX_PER_SLICE;
      if (plan->docs_per_second > 0) {
        int64_t due =
            (int64_t)((double)(now_ms - p->run_started_ms) * plan->docs_per_second / 1000.0) + 1;
        budget = due - p->generated_this_run;
        if (budget > MAX_PER_SLICE) budget = MAX_PER_SLICE;
      }
      for (int64_t i = 0; i < budget && !turn_over(e, produced); i++) {
        bson_t body = BSON_INITIALIZER;
        aspd_solar_generate(&p->rng, now_ms, &body);
        process_one(e, p, &body, -1, now_ms);
        bson_destroy(&body);
        p->generated_this_run++;
        produced++;
      }
      return (plan->docs_per_second <= 0 && produced > 0) || produced < budget;
    }
    case ASPD_SOURCE_DOCUMENTS: {
      bool more = true;
      while (produced < MAX_PER_SLICE && !must_wait_for_cursor(p)) {
        if (turn_over(e, produced)) return true;
        more = p->source_offset < (int64_t)plan->document_count;
        if (!more) break;
        bson_t body;
        bson_init_static(&body, plan->document_data[p->source_offset],
                         plan->document_len[p->source_offset]);
        process_one(e, p, &body, -1, now_ms);
        p->source_offset++;
        produced++;
      }
      if (!more) p->source_exhausted = true;
      return produced == MAX_PER_SLICE;
    }
    default: {
      aspd_dataset_t *set =
          aspd_memstore_dataset(e->memstore, plan->source_connection, NULL, plan->source_topic);
      if (p->source_offset < set->first_offset) p->source_offset = set->first_offset;
      while (produced < MAX_PER_SLICE && !must_wait_for_cursor(p)) {
        if (turn_over(e, produced)) return true;
        const bson_t *body = aspd_dataset_at(set, p->source_offset);
        if (!body) break;
        process_one(e, p, body, p->source_offset, now_ms);
        p->source_offset++;
        produced++;
      }
      return produced == MAX_PER_SLICE;
    }
  }
}

bool aspd_run_slice(aspd_engine_t *e, int64_t now_ms) {
  bool busy = false;
  uint64_t slice = ++e->slice;
  aspd_processor_t *next;
  for (aspd_processor_t *p = e->processors; p; p = next) {
    next = p->next;
    if (p->state != ASPD_STATE_STARTED || !p->plan || p->slice == slice) continue;
    p->slice = slice;
    int64_t before = p->totals.input_count;
    busy = run_processor(e, p, now_ms) || busy;
    if (p->window_state) close_windows(e, p, now_ms, true);
    /* Nothing more will ever come (after the last windows): sample cursors can end. */
    if (p->source_exhausted) aspd_taps_end_input(p);
    if (p->totals.input_count != before && !p->ephemeral) e->processors_dirty = true;
    if (aspd_engine_yield_due(e)) {
      /* Commands may drop processors meanwhile: start over, skipping those that had their turn. */
      aspd_engine_yield(e);
      next = e->processors;
    }
  }
  return busy;
}
