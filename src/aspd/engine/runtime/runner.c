/* Runs processors: pulls documents from the source at its rate, passes them
 * through the operators, writes them to the sink and offers them to taps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime/engine_internal.h"
#include "engine/sinks/changes.h"

/* Documents one processor may produce per slice, so that every processor gets
 * its turn even when a source runs unlimited. A processor also ends its turn
 * early when the engine thread is due to let waiting commands in. */
#define MAX_PER_SLICE 512
/* ...but only after this many, so that a stream of commands cannot stop it. */
#define MIN_PER_TURN 16

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
  p->source_exhausted = false;
  p->last_input_ms = 0;
  p->emit.topic.count = 0; /* the topic may have been planned anew */
  aspd_pipeline_make(plan->stages, plan->stage_count, &p->ops);
  aspd_operators_restore(p); /* open windows and other operator state, from the checkpoint */
  aspd_eval_free(&p->ev);
  aspd_eval_init(&p->ev, plan->meta_field);
  p->ev.collections = e->memstore;
  const aspd_source_row_t *row = plan->source.row;
  aspd_source_env_t env = {e->memstore, (uint64_t)aspd_now_ms() ^ (uint64_t)(uintptr_t)p};
  p->source = row->open(&plan->source, &env, p->checkpoint);
  p->source->row = row;
  p->stamp_in_place = !plan->time_field && row->may_have_field &&
                      !row->may_have_field(plan->ts_field) &&
                      !(plan->meta_field && row->may_have_field(plan->meta_field));
  return true;
}

void aspd_run_end(aspd_processor_t *p) {
  if (p->source) {
    /* Where the next run resumes. */
    bson_t *checkpoint = aspd_processor_checkpoint(p);
    if (checkpoint) {
      if (p->checkpoint) bson_destroy(p->checkpoint);
      p->checkpoint = checkpoint;
    }
    p->source->row->close(p->source);
    p->source = NULL;
  }
  aspd_operators_keep(p);
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

/* {source: {type}}, for dead letters (no message position). */
static void append_source_meta(const aspd_plan_t *plan, bson_t *out, const char *key) {
  bson_t meta, source;
  bson_append_document_begin(out, key, -1, &meta);
  BSON_APPEND_DOCUMENT_BEGIN(&meta, "source", &source);
  BSON_APPEND_UTF8(&source, "type", plan->source.row->meta_type);
  bson_append_document_end(&meta, &source);
  bson_append_document_end(out, &meta);
}

/* {source: {type, ...what the source says of m}} into a raw writer. */
static void put_source_meta(const aspd_processor_t *p, const aspd_source_msg_t *m,
                            aspd_raw_out_t *w) {
  const aspd_plan_t *plan = p->plan;
  const aspd_source_row_t *row = plan->source.row;
  uint32_t meta = aspd_raw_open(w, BSON_TYPE_DOCUMENT, plan->meta_field, plan->meta_field_len);
  uint32_t source = aspd_raw_open(w, BSON_TYPE_DOCUMENT, "source", 6);
  bson_value_t v = {.value_type = BSON_TYPE_UTF8};
  v.value.v_utf8.str = (char *)(uintptr_t)row->meta_type;
  v.value.v_utf8.len = (uint32_t)strlen(row->meta_type);
  aspd_raw_put_value(w, "type", 4, &v);
  if (row->put_meta) row->put_meta(p->source, m, w);
  aspd_raw_close(w, source);
  aspd_raw_close(w, meta);
}

/* The fields the source stamps, after the body's. */
static void put_stamps(const aspd_processor_t *p, const aspd_source_msg_t *m, int64_t ts,
                       aspd_raw_out_t *w) {
  const aspd_plan_t *plan = p->plan;
  aspd_raw_put_date(w, plan->ts_field, plan->ts_field_len, ts);
  if (plan->meta_field) put_source_meta(p, m, w);
}

/* Adds the fields the source stamps: the event time (timeField, else ingestion
 * time) and the stream metadata; the body's own fields of those names give way.
 * False when timeField yields no date. */
static bool stamp(aspd_processor_t *p, const bson_t *body, const aspd_source_msg_t *m,
                  int64_t now_ms, bson_t *out, char *reason, size_t reason_len) {
  const aspd_plan_t *plan = p->plan;
  aspd_eval_t *ev = &p->ev;
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
  put_stamps(p, m, ts, &w);
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
  append_source_meta(plan, letter, "_stream_meta");
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
    aspd_changes_record(e->memstore, set, ASPD_CHANGE_INSERT, NULL, stored);
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
    return aspd_emit_write(e->memstore, plan->sink_connection, name, plan->emit, doc, &p->ev,
                           &p->emit, plan->sink_name != NULL, reason, reason_len);
  } else if (plan->merge) {
    return aspd_merge_write(e->memstore, plan->sink_connection, db, name, plan->merge, doc, &p->ev,
                            reason, reason_len, written);
  } else {
    aspd_merge_insert(e->memstore,
                      aspd_memstore_dataset(e->memstore, plan->sink_connection, db, name), doc);
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

/* Runs one source message (a finished body) through the pipeline. */
static void process_one(aspd_engine_t *e, aspd_processor_t *p, const bson_t *body,
                        const aspd_source_msg_t *m, int64_t now_ms) {
  char reason[512];
  bson_t *doc = aspd_doc_new(&p->ev);
  if (stamp(p, body, m, now_ms, doc, reason, sizeof reason)) {
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

/* Where the source hands its messages: the pipeline. */
typedef struct {
  aspd_source_out_t base;
  aspd_engine_t *engine;
  aspd_processor_t *processor;
  int64_t now_ms;
  bool turn_over; /* the pull stopped because waiting commands are due */
} runner_in_t;

/* A message still being written gets the stamps in place when they cannot clash
 * with its fields (no copy of the body). */
static void from_source(aspd_source_out_t *self, const aspd_source_msg_t *m) {
  runner_in_t *in = (runner_in_t *)self;
  aspd_processor_t *p = in->processor;
  if (m->open && p->stamp_in_place) {
    uint32_t body_len = m->open->len + 1; /* with the final byte the body would have */
    put_stamps(p, m, in->now_ms, m->open);
    bson_t *doc = aspd_doc_new(&p->ev);
    aspd_raw_finish(m->open, doc);
    run_stamped(in->engine, p, body_len, doc, in->now_ms);
    return;
  }
  if (m->open) {
    bson_t body;
    aspd_raw_view(m->open, &body);
    process_one(in->engine, p, &body, m, in->now_ms);
    aspd_raw_out_free(m->open);
    return;
  }
  process_one(in->engine, p, m->body, m, in->now_ms);
}

/* An interactive processor exists for its cursor: a finite or replayable source
 * waits for a full cursor instead of skipping documents. A turn ends early when
 * waiting commands are due to get the lock (after MIN_PER_TURN, so that a stream of
 * commands cannot stop it). */
static bool source_stop(aspd_source_out_t *self, int pulled) {
  runner_in_t *in = (runner_in_t *)self;
  aspd_processor_t *p = in->processor;
  if (p->ephemeral && p->plan->source.row->kind != ASPD_SOURCE_SAMPLE && aspd_taps_full(p)) {
    return true;
  }
  in->turn_over = pulled >= MIN_PER_TURN && aspd_engine_yield_due(in->engine);
  return in->turn_over;
}

/* Lets blocking operators (windows) hand on what the watermark, an idle source or the end
 * of the input releases. */
static void flush_pipeline(aspd_engine_t *e, aspd_processor_t *p, int64_t now_ms) {
  processor_out_t out = processor_out(e, p, now_ms);
  aspd_flush_t why = {now_ms, p->last_input_ms, p->source_exhausted};
  aspd_pipeline_flush(&p->ops, &why, &out.base);
  aspd_eval_reset(&p->ev);
}

/* Returns true when the processor could produce more right away. */
static bool run_processor(aspd_engine_t *e, aspd_processor_t *p, int64_t now_ms) {
  runner_in_t in = {{from_source, source_stop}, e, p, now_ms, false};
  aspd_pull_t r = p->source->row->pull(p->source, now_ms, MAX_PER_SLICE, &in.base);
  if (r.exhausted) p->source_exhausted = true;
  return r.more || in.turn_over;
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
