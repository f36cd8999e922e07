/* Runs processors: pulls documents from the source at its rate, passes them
 * through the operators, writes them to the sink and offers them to taps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime/engine_internal.h"

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
  aspd_pipeline_free(&p->ops);
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
  /* Open windows are not checkpointed: a started processor begins them afresh. */
  aspd_pipeline_make(plan->stages, plan->stage_count, &p->ops);
  aspd_eval_free(&p->ev);
  aspd_eval_init(&p->ev, plan->meta_field);
  p->ev.collections = e->memstore;
  if (p->source_offset < 0) {
    p->source_offset = plan->source == ASPD_SOURCE_TOPIC ? initial_topic_offset(e, p) : 0;
  }
  return true;
}

void aspd_run_end(aspd_processor_t *p) {
  aspd_pipeline_free(&p->ops);
  aspd_eval_free(&p->ev);
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

/* The same as append_source_meta, into a raw writer. */
static void put_source_meta(const aspd_plan_t *plan, int64_t offset, aspd_raw_out_t *w) {
  static const char generated[] = "generated", kafka[] = "kafka";
  bool topic = plan->source == ASPD_SOURCE_TOPIC;
  uint32_t meta = aspd_raw_open(w, BSON_TYPE_DOCUMENT, plan->meta_field, plan->meta_field_len);
  uint32_t source = aspd_raw_open(w, BSON_TYPE_DOCUMENT, "source", 6);
  bson_value_t v = {.value_type = BSON_TYPE_UTF8};
  v.value.v_utf8.str = (char *)(uintptr_t)(topic ? kafka : generated);
  v.value.v_utf8.len = topic ? sizeof kafka - 1 : sizeof generated - 1;
  aspd_raw_put_value(w, "type", 4, &v);
  if (topic && offset >= 0) {
    v.value.v_utf8.str = plan->source_topic;
    v.value.v_utf8.len = (uint32_t)strlen(plan->source_topic);
    aspd_raw_put_value(w, "topic", 5, &v);
    v = (bson_value_t){.value_type = BSON_TYPE_INT32, .value.v_int32 = 0};
    aspd_raw_put_value(w, "partition", 9, &v); /* in-memory topics have one partition */
    v = (bson_value_t){.value_type = BSON_TYPE_INT64, .value.v_int64 = offset};
    aspd_raw_put_value(w, "offset", 6, &v);
  }
  aspd_raw_close(w, source);
  aspd_raw_close(w, meta);
}

/* The fields the source stamps, after the body's. */
static void put_stamps(const aspd_plan_t *plan, int64_t offset, int64_t ts, aspd_raw_out_t *w) {
  aspd_raw_put_date(w, plan->ts_field, plan->ts_field_len, ts);
  if (plan->meta_field) put_source_meta(plan, offset, w);
}

/* Adds the fields the source stamps: the event time (timeField, else ingestion
 * time) and the stream metadata; the body's own fields of those names give way.
 * False when timeField yields no date. */
static bool stamp(const aspd_plan_t *plan, aspd_eval_t *ev, const bson_t *body, int64_t offset,
                  int64_t now_ms, bson_t *out, char *reason, size_t reason_len) {
  int64_t ts = now_ms;
  if (plan->time_field) {
    bson_value_t v;
    if (!aspd_expr_eval_root(plan->time_field, ev, body, &v)) {
      snprintf(reason, reason_len, "%s", ev->reason);
      return false;
    }
    if (v.value_type != BSON_TYPE_DATE_TIME) {
      bson_t holder = BSON_INITIALIZER;
      aspd_append_value(&holder, "v", 1, &v);
      char *json = bson_as_relaxed_extended_json(&holder, NULL);
      snprintf(reason, reason_len,
               "Failed to extract timestamp from document, extracted timestampVal: %s", json);
      bson_free(json);
      bson_destroy(&holder);
      return false;
    }
    ts = v.value.v_datetime;
  }
  aspd_raw_out_t w;
  aspd_raw_out_init(&w);
  aspd_raw_iter_t it;
  aspd_raw_init(&it, bson_get_data(body), body->len);
  size_t ts_len = plan->ts_field_len, meta_len = plan->meta_field_len;
  while (aspd_raw_next(&it)) {
    if ((it.key_len == ts_len && !memcmp(it.key, plan->ts_field, ts_len)) ||
        (meta_len && it.key_len == meta_len && !memcmp(it.key, plan->meta_field, meta_len))) {
      continue;
    }
    aspd_raw_put_elem(&w, &it);
  }
  put_stamps(plan, offset, ts, &w);
  aspd_raw_finish(&w, out);
  return true;
}

/* A document an operator could not handle: counted (at its operator too when
 * count_operator; the pipeline runner counts its own), written to the
 * processor's DLQ collection when it has one, and shown to sample cursors as
 * _dlqMessage. */
static void dead_letter(aspd_engine_t *e, aspd_processor_t *p, size_t op_index, const bson_t *doc,
                        const char *reason, int64_t now_ms, bool count_operator) {
  const aspd_plan_t *plan = p->plan;
  p->totals.dlq_count++;
  p->totals.dlq_size += doc->len;
  if (count_operator) {
    p->operator_stats[op_index].dlq_count++;
    p->operator_stats[op_index].dlq_size += doc->len;
  }
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

/* The sink's target for doc: its literal db/coll (or topic) or their expressions' strings. */
static bool sink_target(const aspd_plan_t *plan, aspd_eval_t *ev, const bson_t *doc,
                        const char **db, const char **name, char *reason, size_t reason_len) {
  *db = plan->sink_db;
  *name = plan->sink_name;
  const aspd_expr_t *exprs[2] = {plan->sink_db_expr, plan->sink_name_expr};
  const char **out[2] = {db, name};
  for (int i = 0; i < 2; i++) {
    if (!exprs[i]) continue;
    bson_value_t v;
    char type_error[64];
    const char *why = NULL;
    if (!aspd_expr_eval_root(exprs[i], ev, doc, &v)) {
      why = ev->reason;
    } else if (v.value_type != BSON_TYPE_UTF8) {
      snprintf(type_error, sizeof type_error, "Expected string, but got %s",
               aspd_value_type_name(&v));
      why = type_error;
    } else if (!v.value.v_utf8.len) {
      why = "Expected a non-empty string";
    }
    if (why) {
      snprintf(reason, reason_len, "Failed to evaluate target %s in %s :: caused by :: %.300s",
               plan->sink == ASPD_SINK_TOPIC ? "topic" : "namespace",
               aspd_plan_operator_name(plan, plan->stage_count + 1), why);
      return false;
    }
    *out[i] = v.value.v_utf8.str;
  }
  return true;
}

/* Writes doc to the sink; false with reason when it cannot (a dead letter).
 * *written is false when the sink left it out ($merge's discard, keepExisting). */
static bool write_sink(aspd_engine_t *e, aspd_processor_t *p, const bson_t *doc, char *reason,
                       size_t reason_len, bool *written) {
  const aspd_plan_t *plan = p->plan;
  *written = true;
  if (plan->sink == ASPD_SINK_NONE || plan->sink == ASPD_SINK_LOG) return true;
  const char *db, *name;
  if (!sink_target(plan, &p->ev, doc, &db, &name, reason, reason_len)) return false;
  if (plan->sink == ASPD_SINK_TOPIC) {
    aspd_dataset_t *set = aspd_memstore_dataset(e->memstore, plan->sink_connection, NULL, name);
    aspd_dataset_append(set, doc);
  } else if (plan->merge) {
    return aspd_merge_write(e->memstore, plan->sink_connection, db, name, plan->merge, doc, &p->ev,
                            reason, reason_len, written);
  } else {
    aspd_dataset_t *set = aspd_memstore_dataset(e->memstore, plan->sink_connection, db, name);
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id")) {
      aspd_dataset_append(set, doc);
      return true;
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
  return true;
}

/* The end of the main pipeline: the sink, the totals and the sample taps. */
typedef struct {
  aspd_pipeline_out_t base;
  aspd_engine_t *engine;
  aspd_processor_t *processor;
} processor_out_t;

static void to_sink(aspd_pipeline_out_t *self, bson_t *doc) {
  processor_out_t *out = (processor_out_t *)self;
  aspd_processor_t *p = out->processor;
  size_t sink_index = p->plan->stage_count + 1;
  aspd_counters_t *sink = &p->operator_stats[sink_index];
  char reason[ASPD_EXPR_REASON_LEN];
  bool written;
  count(sink, true, doc->len);
  if (!write_sink(out->engine, p, doc, reason, sizeof reason, &written)) {
    dead_letter(out->engine, p, sink_index, doc, reason, self->now_ms, true);
    bson_destroy(doc);
    return;
  }
  /* The sink's output counts what it wrote; the processor's, what left the pipeline. */
  if (written) count(sink, false, doc->len);
  count(&p->totals, false, doc->len);
  aspd_taps_offer(p, doc);
  aspd_doc_release(&p->ev, doc);
}

static void to_dead_letters(aspd_pipeline_out_t *self, size_t index, const bson_t *doc,
                            const char *reason) {
  processor_out_t *out = (processor_out_t *)self;
  /* The pipeline counted it at its operator (index + 1 among the stats). */
  dead_letter(out->engine, out->processor, index + 1, doc, reason, self->now_ms, false);
}

static processor_out_t processor_out(aspd_engine_t *e, aspd_processor_t *p, int64_t now_ms) {
  return (processor_out_t){{to_sink, to_dead_letters, &p->operator_stats[1], &p->ev, now_ms}, e, p};
}

/* Runs a stamped document (from a body of body_len bytes) through the pipeline. */
static void run_stamped(aspd_engine_t *e, aspd_processor_t *p, uint32_t body_len, bson_t *doc,
                        int64_t now_ms) {
  p->last_input_ms = now_ms;
  count(&p->totals, true, body_len);
  count(&p->operator_stats[0], true, body_len);
  count(&p->operator_stats[0], false, doc->len);
  processor_out_t out = processor_out(e, p, now_ms);
  aspd_pipeline_push(&p->ops, 0, doc, &out.base);
  aspd_eval_reset(&p->ev);
}

/* Runs one source document (at `offset` of a topic, else -1) through the pipeline. */
static void process_one(aspd_engine_t *e, aspd_processor_t *p, const bson_t *body, int64_t offset,
                        int64_t now_ms) {
  const aspd_plan_t *plan = p->plan;
  char reason[512];
  bson_t *doc = aspd_doc_new(&p->ev);
  if (stamp(plan, &p->ev, body, offset, now_ms, doc, reason, sizeof reason)) {
    run_stamped(e, p, body->len, doc, now_ms);
    return;
  }
  p->last_input_ms = now_ms;
  count(&p->totals, true, body->len);
  count(&p->operator_stats[0], true, body->len);
  dead_letter(e, p, 0, body, reason, now_ms, true);
  aspd_doc_release(&p->ev, doc);
  aspd_eval_reset(&p->ev);
}

/* Generates one solar message and runs it through the pipeline. When the stamps
 * cannot clash with its fields (no timeField, no field of the stamps' names),
 * they are appended where the message is generated: no copy of the body. */
static void process_solar(aspd_engine_t *e, aspd_processor_t *p, bool in_place, int64_t now_ms) {
  aspd_raw_out_t w;
  aspd_raw_out_init(&w);
  aspd_solar_generate(&p->rng, now_ms, &w);
  if (in_place) {
    uint32_t body_len = w.len + 1; /* with the final byte the body would have */
    put_stamps(p->plan, -1, now_ms, &w);
    bson_t *doc = aspd_doc_new(&p->ev);
    aspd_raw_finish(&w, doc);
    run_stamped(e, p, body_len, doc, now_ms);
    return;
  }
  bson_t body;
  aspd_raw_view(&w, &body);
  process_one(e, p, &body, -1, now_ms);
  aspd_raw_out_free(&w);
}

/* Lets blocking operators (windows) hand on what the watermark, an idle source or the end
 * of the input releases. */
static void flush_pipeline(aspd_engine_t *e, aspd_processor_t *p, int64_t now_ms) {
  processor_out_t out = processor_out(e, p, now_ms);
  aspd_flush_t why = {now_ms, p->last_input_ms, p->source_exhausted};
  aspd_pipeline_flush(&p->ops, &why, &out.base);
  aspd_eval_reset(&p->ev);
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
      bool in_place = !plan->time_field && !aspd_solar_field(plan->ts_field) &&
                      !(plan->meta_field && aspd_solar_field(plan->meta_field));
      for (int64_t i = 0; i < budget && !turn_over(e, produced); i++) {
        process_solar(e, p, in_place, now_ms);
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
    if (p->plan->has_window || p->plan->needs_flush) flush_pipeline(e, p, now_ms);
    if (p->ev.failure) aspd_processor_fail(e, p);
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
