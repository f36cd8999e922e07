/* The processor record and its persisted form. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/error.h"
#include "engine/runtime/engine_internal.h"

int64_t aspd_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *aspd_state_name(aspd_state_t state) {
  switch (state) {
    case ASPD_STATE_CREATED:
      return "CREATED";
    case ASPD_STATE_STARTED:
      return "STARTED";
    case ASPD_STATE_STOPPED:
      return "STOPPED";
    default:
      return "FAILED";
  }
}

aspd_processor_t *aspd_processor_find(aspd_engine_t *e, const char *name) {
  for (aspd_processor_t *p = e->processors; p; p = p->next) {
    if (!strcmp(p->name, name)) return p;
  }
  return NULL;
}

void aspd_processor_free(aspd_processor_t *p) {
  if (!p) return;
  aspd_taps_free(p);
  if (p->source) p->source->row->close(p->source); /* still running at shutdown or drop */
  aspd_pipeline_free(&p->ops);
  aspd_eval_free(&p->ev);
  aspd_plan_free(p->plan);
  free(p->name);
  free(p->error_msg);
  free(p->operator_stats);
  bson_destroy(p->pipeline);
  bson_destroy(p->options);
  if (p->checkpoint) bson_destroy(p->checkpoint);
  if (p->batched_checkpoint) bson_destroy(p->batched_checkpoint);
  if (p->operators) bson_destroy(p->operators);
  if (p->operators_taken) bson_destroy(p->operators_taken);
  free(p);
}

bson_t *aspd_processor_checkpoint(const aspd_processor_t *p) {
  if (p->source && p->source->row->checkpoint) {
    bson_t *out = bson_new();
    p->source->row->checkpoint(p->source, out);
    return out;
  }
  return p->checkpoint ? bson_copy(p->checkpoint) : NULL;
}

static void counters_to_bson(const aspd_counters_t *c, bson_t *out) {
  BSON_APPEND_INT64(out, "inputMessageCount", c->input_count);
  BSON_APPEND_DOUBLE(out, "inputMessageSize", c->input_size);
  BSON_APPEND_INT64(out, "outputMessageCount", c->output_count);
  BSON_APPEND_DOUBLE(out, "outputMessageSize", c->output_size);
  BSON_APPEND_INT64(out, "dlqMessageCount", c->dlq_count);
  BSON_APPEND_DOUBLE(out, "dlqMessageSize", c->dlq_size);
}

static void counters_from_bson(bson_iter_t *doc, aspd_counters_t *c) {
  bson_iter_t f;
  bson_iter_recurse(doc, &f);
  while (bson_iter_next(&f)) {
    const char *k = bson_iter_key(&f);
    if (!BSON_ITER_HOLDS_NUMBER(&f)) continue;
    if (!strcmp(k, "inputMessageCount")) c->input_count = bson_iter_as_int64(&f);
    if (!strcmp(k, "inputMessageSize")) c->input_size = bson_iter_as_double(&f);
    if (!strcmp(k, "outputMessageCount")) c->output_count = bson_iter_as_int64(&f);
    if (!strcmp(k, "outputMessageSize")) c->output_size = bson_iter_as_double(&f);
    if (!strcmp(k, "dlqMessageCount")) c->dlq_count = bson_iter_as_int64(&f);
    if (!strcmp(k, "dlqMessageSize")) c->dlq_size = bson_iter_as_double(&f);
  }
}

void aspd_processor_to_bson(const aspd_processor_t *p, bson_t *out) {
  BSON_APPEND_UTF8(out, "name", p->name);
  BSON_APPEND_UTF8(out, "id", p->id);
  BSON_APPEND_ARRAY(out, "pipeline", p->pipeline);
  BSON_APPEND_DOCUMENT(out, "options", p->options);
  BSON_APPEND_UTF8(out, "state", aspd_state_name(p->state));
  BSON_APPEND_UTF8(out, "errorMsg", p->error_msg ? p->error_msg : "");
  BSON_APPEND_DATE_TIME(out, "created", p->created_ms);
  BSON_APPEND_DATE_TIME(out, "lastModified", p->last_modified_ms);
  BSON_APPEND_DATE_TIME(out, "lastStateChange", p->last_state_change_ms);
  BSON_APPEND_BOOL(out, "hasStarted", p->has_started);
  BSON_APPEND_INT32(out, "workers", p->workers);
  BSON_APPEND_INT64(out, "checkpointEpoch", p->checkpoint_epoch);
  bson_t *checkpoint = aspd_processor_checkpoint(p);
  if (checkpoint) {
    BSON_APPEND_DOCUMENT(out, "checkpoint", checkpoint);
    bson_destroy(checkpoint);
  }
  bson_t totals, ops;
  BSON_APPEND_DOCUMENT_BEGIN(out, "totals", &totals);
  counters_to_bson(&p->totals, &totals);
  bson_append_document_end(out, &totals);
  BSON_APPEND_ARRAY_BEGIN(out, "operatorStats", &ops);
  for (size_t i = 0; i < p->operator_count; i++) {
    char key[16];
    const char *k;
    bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    bson_t op;
    BSON_APPEND_DOCUMENT_BEGIN(&ops, k, &op);
    counters_to_bson(&p->operator_stats[i], &op);
    bson_append_document_end(&ops, &op);
  }
  bson_append_array_end(out, &ops);
}

static bson_t *copy_container(bson_iter_t *it) {
  const uint8_t *data;
  uint32_t len;
  if (BSON_ITER_HOLDS_ARRAY(it)) {
    bson_iter_array(it, &len, &data);
  } else {
    bson_iter_document(it, &len, &data);
  }
  return bson_new_from_data(data, len);
}

static bool parse_state(const char *s, aspd_state_t *out) {
  static const aspd_state_t all[] = {ASPD_STATE_CREATED, ASPD_STATE_STARTED, ASPD_STATE_STOPPED,
                                     ASPD_STATE_FAILED};
  for (size_t i = 0; i < 4; i++) {
    if (!strcmp(s, aspd_state_name(all[i]))) {
      *out = all[i];
      return true;
    }
  }
  return false;
}

aspd_processor_t *aspd_processor_from_bson(const bson_t *doc, aspd_error_t *err) {
  aspd_processor_t *p = calloc(1, sizeof *p);
  bool have_state = false;
  bson_iter_t f;
  bson_iter_init(&f, doc);
  while (bson_iter_next(&f)) {
    const char *k = bson_iter_key(&f);
    if (!strcmp(k, "name") && BSON_ITER_HOLDS_UTF8(&f)) p->name = strdup(bson_iter_utf8(&f, NULL));
    if (!strcmp(k, "id") && BSON_ITER_HOLDS_UTF8(&f)) {
      snprintf(p->id, sizeof p->id, "%s", bson_iter_utf8(&f, NULL));
    }
    if (!strcmp(k, "pipeline") && BSON_ITER_HOLDS_ARRAY(&f)) p->pipeline = copy_container(&f);
    if (!strcmp(k, "options") && BSON_ITER_HOLDS_DOCUMENT(&f)) p->options = copy_container(&f);
    if (!strcmp(k, "state") && BSON_ITER_HOLDS_UTF8(&f)) {
      have_state = parse_state(bson_iter_utf8(&f, NULL), &p->state);
    }
    if (!strcmp(k, "errorMsg") && BSON_ITER_HOLDS_UTF8(&f) && *bson_iter_utf8(&f, NULL)) {
      p->error_msg = strdup(bson_iter_utf8(&f, NULL));
    }
    if (!strcmp(k, "created") && BSON_ITER_HOLDS_DATE_TIME(&f))
      p->created_ms = bson_iter_date_time(&f);
    if (!strcmp(k, "lastModified") && BSON_ITER_HOLDS_DATE_TIME(&f)) {
      p->last_modified_ms = bson_iter_date_time(&f);
    }
    if (!strcmp(k, "lastStateChange") && BSON_ITER_HOLDS_DATE_TIME(&f)) {
      p->last_state_change_ms = bson_iter_date_time(&f);
    }
    if (!strcmp(k, "hasStarted") && BSON_ITER_HOLDS_BOOL(&f)) p->has_started = bson_iter_bool(&f);
    if (!strcmp(k, "workers") && BSON_ITER_HOLDS_NUMBER(&f))
      p->workers = (int32_t)bson_iter_as_int64(&f);
    if (!strcmp(k, "checkpointEpoch") && BSON_ITER_HOLDS_NUMBER(&f)) {
      p->checkpoint_epoch = bson_iter_as_int64(&f);
    }
    if (!strcmp(k, "checkpoint") && BSON_ITER_HOLDS_DOCUMENT(&f)) {
      if (p->checkpoint) bson_destroy(p->checkpoint);
      p->checkpoint = copy_container(&f);
    }
    /* Earlier versions kept only the position of inline documents or a topic. */
    if (!strcmp(k, "sourceOffset") && BSON_ITER_HOLDS_NUMBER(&f) && bson_iter_as_int64(&f) >= 0 &&
        !p->checkpoint) {
      p->checkpoint = BCON_NEW("offset", BCON_INT64(bson_iter_as_int64(&f)));
    }
    if (!strcmp(k, "totals") && BSON_ITER_HOLDS_DOCUMENT(&f)) counters_from_bson(&f, &p->totals);
    if (!strcmp(k, "operatorStats") && BSON_ITER_HOLDS_ARRAY(&f)) {
      bson_iter_t ops;
      bson_iter_recurse(&f, &ops);
      while (bson_iter_next(&ops)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&ops)) continue;
        p->operator_stats =
            realloc(p->operator_stats, (p->operator_count + 1) * sizeof(aspd_counters_t));
        memset(&p->operator_stats[p->operator_count], 0, sizeof(aspd_counters_t));
        counters_from_bson(&ops, &p->operator_stats[p->operator_count++]);
      }
    }
  }
  if (!p->name || strlen(p->id) != 24 || !p->pipeline || !p->options || !have_state) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "a processor entry lacks name, id, pipeline, options or a known state");
    aspd_processor_free(p);
    return NULL;
  }
  return p;
}
