#include "engine/sinks/merge.h"

#include "engine/sinks/changes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void aspd_merge_spec_free(aspd_merge_spec_t *m) {
  if (!m) return;
  for (size_t i = 0; i < m->on_count; i++) free(m->on[i]);
  free(m->on);
  aspd_planned_stages_free(m->stages, m->stage_count);
  for (size_t i = 0; i < m->let_count; i++) aspd_expr_free(m->let[i]);
  aspd_expr_free(m->when_matched_expr);
  aspd_expr_free(m->when_not_matched_expr);
  free(m);
}

static bool value_at(const bson_t *doc, const char *path, bson_value_t *out) {
  bson_iter_t it, found;
  if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &found)) return false;
  *out = *bson_iter_value(&found);
  return true;
}

/* The offset of the first document whose `on` fields equal doc's, or -1. */
static int64_t find_match(const aspd_dataset_t *set, const aspd_merge_spec_t *m,
                          const bson_value_t *keys) {
  for (int64_t off = set->first_offset; off < aspd_dataset_end_offset(set); off++) {
    const bson_t *cand = aspd_dataset_at(set, off);
    bool all = !aspd_dataset_is_deleted(cand);
    for (size_t i = 0; i < m->on_count && all; i++) {
      bson_value_t v;
      all = value_at(cand, m->on[i], &v) && aspd_value_equal(&v, &keys[i]);
    }
    if (all) return off;
  }
  return -1;
}

/* Top-level fields of incoming overwrite or extend existing. */
static void merge_docs(const bson_t *existing, const bson_t *incoming, bson_t *out) {
  bson_iter_t it, over;
  bson_iter_init(&it, existing);
  while (bson_iter_next(&it)) {
    if (bson_iter_init_find(&over, incoming, bson_iter_key(&it))) {
      bson_append_value(out, bson_iter_key(&it), -1, bson_iter_value(&over));
    } else {
      bson_append_value(out, bson_iter_key(&it), -1, bson_iter_value(&it));
    }
  }
  bson_iter_init(&it, incoming);
  while (bson_iter_next(&it)) {
    if (!bson_iter_init_find(&over, existing, bson_iter_key(&it))) {
      bson_append_value(out, bson_iter_key(&it), -1, bson_iter_value(&it));
    }
  }
}

/* The whenMatched pipeline's output: its one document. */
typedef struct {
  aspd_pipeline_out_t base;
  bson_t *result;
  char *reason;
  size_t reason_len;
  bool failed;
} capture_t;

static void capture(aspd_pipeline_out_t *self, bson_t *doc) {
  capture_t *c = (capture_t *)self;
  if (c->result) bson_destroy(c->result);
  c->result = doc;
}

static void capture_reject(aspd_pipeline_out_t *self, size_t index, const bson_t *doc,
                           const char *reason) {
  (void)index;
  (void)doc;
  capture_t *c = (capture_t *)self;
  c->failed = true;
  snprintf(c->reason, c->reason_len, "%s", reason);
}

static bool run_pipeline(const aspd_merge_spec_t *m, const bson_t *existing, const bson_t *incoming,
                         aspd_eval_t *ev, bson_t *out, char *reason, size_t reason_len) {
  aspd_pipeline_t p;
  aspd_pipeline_make(m->stages, m->stage_count, &p);
  capture_t c = {{capture, capture_reject, NULL, ev, 0}, NULL, reason, reason_len, false};
  /* The let variables are evaluated on the incoming document, before the pipeline runs. */
  bson_value_t lets[ASPD_EXPR_MAX_VARS];
  for (size_t i = 0; i < m->let_count; i++) {
    if (!aspd_expr_eval_root(m->let[i], ev, incoming, &lets[i])) {
      snprintf(reason, reason_len, "%s", ev->reason);
      aspd_pipeline_free(&p);
      return false;
    }
  }
  for (size_t i = 0; i < m->let_count; i++) ev->vars[m->let_slots[i]] = lets[i];
  bson_value_t saved = ev->vars[m->new_slot];
  ev->vars[m->new_slot].value_type = BSON_TYPE_DOCUMENT;
  ev->vars[m->new_slot].value.v_doc.data = aspd_bytes(bson_get_data(incoming));
  ev->vars[m->new_slot].value.v_doc.data_len = incoming->len;
  aspd_pipeline_push(&p, 0, bson_copy(existing), &c.base);
  ev->vars[m->new_slot] = saved;
  aspd_pipeline_free(&p);
  if (c.failed || !c.result) {
    if (c.result) bson_destroy(c.result);
    return false;
  }
  bson_concat(out, c.result);
  bson_destroy(c.result);
  return true;
}

static const char *const matched_names[] = {"merge", "replace", "keepExisting", "delete"};
static const aspd_when_matched_t matched_modes[] = {ASPD_MERGE_MERGE, ASPD_MERGE_REPLACE,
                                                    ASPD_MERGE_KEEP, ASPD_MERGE_DELETE};

/* The index in names of what e yields for doc; -1 with reason when it is none of them
 * (`listed` names them for the message). */
static int resolve_mode(const aspd_expr_t *e, const char *field, const char *const *names,
                        size_t count, const char *listed, const bson_t *doc, aspd_eval_t *ev,
                        char *reason, size_t reason_len) {
  bson_value_t v;
  if (!aspd_expr_eval_root(e, ev, doc, &v)) {
    snprintf(reason, reason_len, "Failed to evaluate %s in MergeOperator :: caused by :: %s", field,
             ev->reason);
    return -1;
  }
  for (size_t i = 0; v.value_type == BSON_TYPE_UTF8 && i < count; i++) {
    if (!strcmp(v.value.v_utf8.str, names[i])) return (int)i;
  }
  snprintf(reason, reason_len, "$merge.%s must evaluate to %s, not: %s", field, listed,
           aspd_eval_json(ev, &v));
  return -1;
}

void aspd_merge_insert(aspd_memstore_t *store, aspd_dataset_t *set, const bson_t *doc) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, "_id")) {
    aspd_dataset_append(set, doc);
    aspd_changes_record(store, set, ASPD_CHANGE_INSERT, NULL, doc);
    return;
  }
  bson_t with_id = BSON_INITIALIZER;
  bson_oid_t oid;
  bson_oid_init(&oid, NULL);
  BSON_APPEND_OID(&with_id, "_id", &oid);
  bson_concat(&with_id, doc);
  aspd_dataset_append(set, &with_id);
  aspd_changes_record(store, set, ASPD_CHANGE_INSERT, NULL, &with_id);
  bson_destroy(&with_id);
}

bool aspd_merge_write(aspd_memstore_t *store, const char *connection, const char *db,
                      const char *coll, const aspd_merge_spec_t *m, const bson_t *doc,
                      aspd_eval_t *ev, char *reason, size_t reason_len, bool *written) {
  *written = false;
  aspd_dataset_t *set = aspd_memstore_dataset(store, connection, db, coll);
  bson_value_t keys[ASPD_MERGE_MAX_ON];
  for (size_t i = 0; i < m->on_count; i++) {
    bool present = value_at(doc, m->on[i], &keys[i]);
    if (!present && !strcmp(m->on[i], "_id")) {
      keys[i].value_type = BSON_TYPE_EOD; /* a new _id matches nothing */
      continue;
    }
    if (!present || aspd_value_is_nullish(&keys[i]) || keys[i].value_type == BSON_TYPE_ARRAY) {
      snprintf(reason, reason_len,
               "$merge write error: 'on' field '%s' cannot be missing, null, undefined or an "
               "array",
               m->on[i]);
      return false;
    }
  }
  bool id_missing = false;
  for (size_t i = 0; i < m->on_count; i++)
    id_missing = id_missing || keys[i].value_type == BSON_TYPE_EOD;
  int64_t match = id_missing ? -1 : find_match(set, m, keys);
  if (match < 0) {
    bool insert = m->insert;
    if (m->when_not_matched_expr) {
      static const char *const names[] = {"insert", "discard"};
      int i = resolve_mode(m->when_not_matched_expr, "whenNotMatched", names, 2,
                           "\"insert\" or \"discard\"", doc, ev, reason, reason_len);
      if (i < 0) return false;
      insert = i == 0;
    }
    if (!insert) return true;
    aspd_merge_insert(store, set, doc);
    *written = true;
    return true;
  }
  aspd_when_matched_t mode = m->when_matched;
  if (m->when_matched_expr) {
    int i = resolve_mode(m->when_matched_expr, "whenMatched", matched_names, 4,
                         "\"merge\", \"replace\", \"keepExisting\" or \"delete\"", doc, ev, reason,
                         reason_len);
    if (i < 0) return false;
    mode = matched_modes[i];
  }
  const bson_t *existing = aspd_dataset_at(set, match);
  bson_t out = BSON_INITIALIZER;
  bool ok = true;
  switch (mode) {
    case ASPD_MERGE_KEEP:
      bson_destroy(&out);
      return true;
    case ASPD_MERGE_DELETE:
      bson_destroy(&out);
      aspd_changes_record(store, set, ASPD_CHANGE_DELETE, existing, NULL);
      aspd_dataset_delete(set, match);
      *written = true;
      return true;
    case ASPD_MERGE_MERGE:
      merge_docs(existing, doc, &out);
      break;
    case ASPD_MERGE_REPLACE: {
      /* The existing _id stays when the incoming document has none. */
      bson_iter_t it;
      if (!bson_iter_init_find(&it, doc, "_id") && bson_iter_init_find(&it, existing, "_id")) {
        bson_append_value(&out, "_id", 3, bson_iter_value(&it));
      }
      bson_concat(&out, doc);
      break;
    }
    default:
      ok = run_pipeline(m, existing, doc, ev, &out, reason, reason_len);
  }
  if (ok) {
    aspd_changes_record(store, set,
                        mode == ASPD_MERGE_REPLACE ? ASPD_CHANGE_REPLACE : ASPD_CHANGE_UPDATE,
                        existing, &out);
    aspd_dataset_replace(set, match, &out);
    *written = true;
  }
  bson_destroy(&out);
  return ok;
}
