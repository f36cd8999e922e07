/* update, delete and drop on the collections behind Cluster connections. Writes
 * are ordered (the first failing statement stops the rest, unless ordered is
 * false) and reported as mongod does: {n, nModified, upserted, writeErrors}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/asp_commands.h"
#include "commands/command_args.h"
#include "commands/crud.h"
#include "commands/reply.h"

/* One statement's outcome, appended to writeErrors when it failed. */
typedef struct {
  bson_t errors;
  uint32_t count;
} write_errors_t;

static void add_write_error(write_errors_t *w, uint32_t index, const aspd_error_t *err) {
  char key[16];
  const char *k;
  bson_uint32_to_string(w->count++, &k, key, sizeof key);
  bson_t item;
  BSON_APPEND_DOCUMENT_BEGIN(&w->errors, k, &item);
  BSON_APPEND_INT32(&item, "index", (int32_t)index);
  BSON_APPEND_INT32(&item, "code", err->code);
  BSON_APPEND_UTF8(&item, "codeName", err->code_name);
  BSON_APPEND_UTF8(&item, "errmsg", err->message);
  bson_append_document_end(&w->errors, &item);
}

static void finish_write_errors(write_errors_t *w, bson_t *reply) {
  if (w->count) BSON_APPEND_ARRAY(reply, "writeErrors", &w->errors);
  bson_destroy(&w->errors);
}

/* The statements array (updates, deletes) and `ordered`. */
static bool statements(const bson_t *cmd, const char *key, bson_iter_t *list, bool *ordered,
                       aspd_error_t *err) {
  bson_iter_t it;
  *ordered = true;
  if (!aspd_arg_bool(cmd, "ordered", ordered, err)) return false;
  if (!bson_iter_init_find(&it, cmd, key) || !BSON_ITER_HOLDS_ARRAY(&it)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "the command requires '%s', an array", key);
    return false;
  }
  bson_iter_recurse(&it, list);
  return true;
}

/* A statement's `q` (absent or {}: everything) as a static view; *filter NULL for all. */
static bool statement_filter(const bson_t *stmt, bson_t *view, const bson_t **filter,
                             aspd_error_t *err) {
  bool present = false;
  if (!aspd_arg_doc(stmt, "q", false, &present, view, err)) return false;
  *filter = present && !bson_empty(view) ? view : NULL;
  return true;
}

static bool statement_doc(const bson_iter_t *it, bson_t *out, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "each statement must be a document");
    return false;
  }
  const uint8_t *data;
  uint32_t len;
  bson_iter_t copy = *it;
  bson_iter_document(&copy, &len, &data);
  bson_init_static(out, data, len);
  return true;
}

typedef struct {
  const aspd_registry_t *registry;
  bson_iter_t update;
} update_ctx_t;

static aspd_edit_t edit_update(void *arg, const bson_t *doc, bson_t *replacement,
                               aspd_error_t *err) {
  update_ctx_t *u = arg;
  if (!aspd_update_apply(u->registry, doc, &u->update, false, replacement, err)) {
    return ASPD_EDIT_FAIL;
  }
  /* An update that changes nothing is not counted in nModified. */
  bool same = replacement->len == doc->len &&
              !memcmp(bson_get_data(replacement), bson_get_data(doc), doc->len);
  if (same) return ASPD_EDIT_KEEP;
  /* A document without operators replaces; operators and pipelines update. */
  bson_iter_t first;
  bool whole = BSON_ITER_HOLDS_DOCUMENT(&u->update) && bson_iter_recurse(&u->update, &first) &&
               (!bson_iter_next(&first) || bson_iter_key(&first)[0] != '$');
  return whole ? ASPD_EDIT_REPLACE : ASPD_EDIT_UPDATE;
}

/* The document an upsert inserts; its _id into upserted (at index). */
static bool upsert(aspd_command_ctx_t *ctx, const char *db, const char *coll, const bson_t *filter,
                   update_ctx_t *u, uint32_t index, bson_t *upserted, uint32_t *upserted_count,
                   bson_t **inserted, aspd_error_t *err) {
  char connection[256];
  bson_t seed = BSON_INITIALIZER, made = BSON_INITIALIZER, doc = BSON_INITIALIZER;
  aspd_update_seed(filter, &seed);
  bool ok = aspd_crud_first_cluster(ctx->registry, db, connection, sizeof connection, err) &&
            aspd_update_apply(ctx->registry, &seed, &u->update, true, &made, err);
  bson_iter_t id;
  if (ok && !bson_iter_init_find(&id, &made, "_id")) {
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    BSON_APPEND_OID(&doc, "_id", &oid);
  }
  bson_concat(&doc, &made);
  const bson_t *one = &doc;
  ok = ok && aspd_engine_insert(ctx->engine, connection, db, coll, &one, 1, err);
  if (ok && bson_iter_init_find(&id, &doc, "_id")) {
    char key[16];
    const char *k;
    bson_uint32_to_string((*upserted_count)++, &k, key, sizeof key);
    bson_t item;
    BSON_APPEND_DOCUMENT_BEGIN(upserted, k, &item);
    BSON_APPEND_INT32(&item, "index", (int32_t)index);
    bson_append_value(&item, "_id", 3, bson_iter_value(&id));
    bson_append_document_end(upserted, &item);
  }
  if (ok && inserted) *inserted = bson_copy(&doc);
  bson_destroy(&seed);
  bson_destroy(&made);
  bson_destroy(&doc);
  return ok;
}

/* One statement of update: {q, u, upsert, multi}. */
static bool update_one(aspd_command_ctx_t *ctx, const char *db, const char *coll,
                       const bson_iter_t *item, uint32_t index, int64_t *n, int64_t *modified,
                       bson_t *upserted, uint32_t *upserted_count, aspd_error_t *err) {
  bson_t stmt, filter_view;
  const bson_t *filter;
  bool multi = false, do_upsert = false;
  update_ctx_t u = {.registry = ctx->registry};
  if (!statement_doc(item, &stmt, err) || !statement_filter(&stmt, &filter_view, &filter, err) ||
      !aspd_arg_bool(&stmt, "multi", &multi, err) ||
      !aspd_arg_bool(&stmt, "upsert", &do_upsert, err)) {
    return false;
  }
  if (!bson_iter_init_find(&u.update, &stmt, "u")) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "each update needs 'u'");
    return false;
  }
  if (!aspd_update_check(&u.update, err)) return false;
  bson_t probe;
  bson_iter_t copy = u.update;
  if (multi && BSON_ITER_HOLDS_DOCUMENT(&copy)) {
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&copy, &len, &data);
    bson_init_static(&probe, data, len);
    bson_iter_t first;
    if (bson_iter_init(&first, &probe) && bson_iter_next(&first) &&
        bson_iter_key(&first)[0] != '$') {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                     "multi update is not supported for replacement-style update");
      return false;
    }
  }
  int64_t matched = 0, changed = 0;
  bool ok = aspd_engine_edit(ctx->engine, db, coll, filter, multi ? 0 : 1, edit_update, &u,
                             &matched, &changed, err);
  *n += matched;
  *modified += changed;
  if (ok && matched == 0 && do_upsert) {
    ok = upsert(ctx, db, coll, filter, &u, index, upserted, upserted_count, NULL, err);
    if (ok) ++*n;
  }
  return ok;
}

void aspd_cmd_update(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll;
  bson_iter_t list;
  bool ordered;
  if (!aspd_crud_target(cmd, &db, &coll, &err) ||
      !statements(cmd, "updates", &list, &ordered, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  int64_t n = 0, modified = 0;
  bson_t upserted = BSON_INITIALIZER;
  uint32_t upserted_count = 0, index = 0;
  write_errors_t w = {BSON_INITIALIZER, 0};
  while (bson_iter_next(&list)) {
    aspd_error_t one = {0};
    if (!update_one(ctx, db, coll, &list, index, &n, &modified, &upserted, &upserted_count, &one)) {
      add_write_error(&w, index, &one);
      if (ordered) break;
    }
    index++;
  }
  BSON_APPEND_INT32(reply, "n", (int32_t)n);
  BSON_APPEND_INT32(reply, "nModified", (int32_t)modified);
  if (upserted_count) BSON_APPEND_ARRAY(reply, "upserted", &upserted);
  bson_destroy(&upserted);
  finish_write_errors(&w, reply);
  aspd_reply_ok(reply);
}

static aspd_edit_t edit_delete(void *arg, const bson_t *doc, bson_t *replacement,
                               aspd_error_t *err) {
  (void)arg;
  (void)doc;
  (void)replacement;
  (void)err;
  return ASPD_EDIT_DELETE;
}

/* One statement of delete: {q, limit} with limit 0 (all) or 1. */
static bool delete_one(aspd_command_ctx_t *ctx, const char *db, const char *coll,
                       const bson_iter_t *item, int64_t *n, aspd_error_t *err) {
  bson_t stmt, filter_view;
  const bson_t *filter;
  int64_t limit = 0;
  bool present = false;
  if (!statement_doc(item, &stmt, err) || !statement_filter(&stmt, &filter_view, &filter, err) ||
      !aspd_arg_int64(&stmt, "limit", &present, &limit, err)) {
    return false;
  }
  if (limit != 0 && limit != 1) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "The limit field in delete objects must be 0 or 1. Got %lld", (long long)limit);
    return false;
  }
  int64_t matched = 0, changed = 0;
  bool ok = aspd_engine_edit(ctx->engine, db, coll, filter, limit, edit_delete, NULL, &matched,
                             &changed, err);
  *n += changed;
  return ok;
}

void aspd_cmd_delete(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll;
  bson_iter_t list;
  bool ordered;
  if (!aspd_crud_target(cmd, &db, &coll, &err) ||
      !statements(cmd, "deletes", &list, &ordered, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  int64_t n = 0;
  uint32_t index = 0;
  write_errors_t w = {BSON_INITIALIZER, 0};
  while (bson_iter_next(&list)) {
    aspd_error_t one = {0};
    if (!delete_one(ctx, db, coll, &list, &n, &one)) {
      add_write_error(&w, index, &one);
      if (ordered) break;
    }
    index++;
  }
  BSON_APPEND_INT32(reply, "n", (int32_t)n);
  finish_write_errors(&w, reply);
  aspd_reply_ok(reply);
}

void aspd_cmd_drop_collection(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll;
  bool existed = false;
  if (!aspd_crud_target(cmd, &db, &coll, &err) ||
      !aspd_engine_drop_collection(ctx->engine, db, coll, &existed, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  /* Like mongod 7: dropping a collection that does not exist succeeds. */
  char ns[512];
  snprintf(ns, sizeof ns, "%s.%s", db, coll);
  if (existed) {
    BSON_APPEND_INT32(reply, "nIndexesWas", 1);
    BSON_APPEND_UTF8(reply, "ns", ns);
  }
  aspd_reply_ok(reply);
}

/* What findAndModify's edit saw and made. */
typedef struct {
  update_ctx_t update; /* update.update unset: remove */
  bool remove;
  bson_t *before, *after;
} find_modify_ctx_t;

static aspd_edit_t edit_find_modify(void *arg, const bson_t *doc, bson_t *replacement,
                                    aspd_error_t *err) {
  find_modify_ctx_t *f = arg;
  f->before = bson_copy(doc);
  if (f->remove) return ASPD_EDIT_DELETE;
  aspd_edit_t outcome = edit_update(&f->update, doc, replacement, err);
  if (outcome != ASPD_EDIT_FAIL)
    f->after = bson_copy(outcome == ASPD_EDIT_KEEP ? doc : replacement);
  return outcome;
}

/* The query findAndModify edits: with a sort, the _id of the first document in that
 * order (*by_id, owned); else the query itself. */
static bool target_filter(aspd_command_ctx_t *ctx, const char *db, const char *coll,
                          const bson_t *query, const bson_t *sort, bson_t **by_id,
                          aspd_error_t *err) {
  *by_id = NULL;
  if (!sort) return true;
  aspd_docs_t docs = {0};
  bson_t pipeline = BSON_INITIALIZER, stage, limit;
  BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "0", &stage);
  BSON_APPEND_DOCUMENT(&stage, "$sort", sort);
  bson_append_document_end(&pipeline, &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "1", &limit);
  BSON_APPEND_INT32(&limit, "$limit", 1);
  bson_append_document_end(&pipeline, &limit);
  bool ok = aspd_engine_find(ctx->engine, db, coll, query, 0, 0, &docs, err) &&
            aspd_engine_run_batch(ctx->registry, NULL, NULL, &pipeline, &docs, err);
  bson_destroy(&pipeline);
  bson_iter_t id;
  if (ok && docs.count == 1 && bson_iter_init_find(&id, docs.docs[0], "_id")) {
    *by_id = bson_new();
    bson_append_value(*by_id, "_id", 3, bson_iter_value(&id));
  }
  aspd_docs_free(&docs);
  return ok;
}

/* The document findAndModify returns, through `fields` (a projection) when given. */
static bool returned(aspd_command_ctx_t *ctx, const bson_t *doc, const bson_t *fields,
                     bson_t *reply, aspd_error_t *err) {
  if (!doc) {
    BSON_APPEND_NULL(reply, "value");
    return true;
  }
  if (!fields) {
    BSON_APPEND_DOCUMENT(reply, "value", doc);
    return true;
  }
  aspd_docs_t docs = {0};
  docs.docs = malloc(sizeof *docs.docs);
  docs.docs[docs.count++] = bson_copy(doc);
  bson_t pipeline = BSON_INITIALIZER, stage;
  BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "0", &stage);
  BSON_APPEND_DOCUMENT(&stage, "$project", fields);
  bson_append_document_end(&pipeline, &stage);
  bool ok = aspd_engine_run_batch(ctx->registry, NULL, NULL, &pipeline, &docs, err);
  if (ok) BSON_APPEND_DOCUMENT(reply, "value", docs.docs[0]);
  bson_destroy(&pipeline);
  aspd_docs_free(&docs);
  return ok;
}

/* Optional document argument: NULL when absent or empty. */
static bool doc_arg(const bson_t *cmd, const char *key, bson_t *view, const bson_t **out,
                    aspd_error_t *err) {
  bool present = false;
  *out = NULL;
  if (!aspd_arg_doc(cmd, key, false, &present, view, err)) return false;
  if (present && !bson_empty(view)) *out = view;
  return true;
}

void aspd_cmd_find_and_modify(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll;
  bson_t query_view, sort_view, fields_view;
  const bson_t *query, *sort, *fields;
  find_modify_ctx_t f = {.update = {.registry = ctx->registry}};
  bool want_new = false, do_upsert = false, has_update;
  if (!aspd_crud_target(cmd, &db, &coll, &err) ||
      !doc_arg(cmd, "query", &query_view, &query, &err) ||
      !doc_arg(cmd, "sort", &sort_view, &sort, &err) ||
      !doc_arg(cmd, "fields", &fields_view, &fields, &err) ||
      !aspd_arg_bool(cmd, "remove", &f.remove, &err) ||
      !aspd_arg_bool(cmd, "new", &want_new, &err) ||
      !aspd_arg_bool(cmd, "upsert", &do_upsert, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  has_update = bson_iter_init_find(&f.update.update, cmd, "update");
  if (f.remove == has_update) {
    aspd_reply_error(reply, ASPD_E_FAILED_TO_PARSE,
                     "Either an update or remove=true must be specified");
    return;
  }
  if (has_update && !aspd_update_check(&f.update.update, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  bson_t *by_id = NULL;
  int64_t matched = 0, changed = 0;
  bool ok = target_filter(ctx, db, coll, query, sort, &by_id, &err) &&
            (sort && !by_id ? true
                            : aspd_engine_edit(ctx->engine, db, coll, by_id ? by_id : query, 1,
                                               edit_find_modify, &f, &matched, &changed, &err));
  bson_t upserted = BSON_INITIALIZER;
  uint32_t upserted_count = 0;
  if (ok && matched == 0 && do_upsert && has_update) {
    ok = upsert(ctx, db, coll, query, &f.update, 0, &upserted, &upserted_count, &f.after, &err);
  }
  if (ok) {
    bson_t last;
    BSON_APPEND_DOCUMENT_BEGIN(reply, "lastErrorObject", &last);
    BSON_APPEND_INT32(&last, "n", (int32_t)(matched + upserted_count));
    if (has_update) BSON_APPEND_BOOL(&last, "updatedExisting", matched > 0);
    bson_iter_t id;
    if (upserted_count && bson_iter_init(&id, &upserted) &&
        bson_iter_find_descendant(&id, "0._id", &id)) {
      bson_append_value(&last, "upserted", -1, bson_iter_value(&id));
    }
    bson_append_document_end(reply, &last);
    /* An upsert's new document is only shown when asked for (new: true). */
    ok = returned(ctx, want_new ? f.after : f.before, fields, reply, &err);
  }
  if (ok) {
    aspd_reply_ok(reply);
  } else {
    bson_reinit(reply);
    aspd_reply_from_error(reply, &err);
  }
  bson_destroy(&upserted);
  bson_destroy(by_id);
  bson_destroy(f.before);
  bson_destroy(f.after);
}
