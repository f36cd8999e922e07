/* $lookup: a left outer join of each document with a collection of a Cluster
 * connection (`from: {connectionName, db, coll}`; inside a $lookup's pipeline
 * `from: "<coll>"` names one on the same connection and database). Three forms,
 * as in MongoDB: equality (localField/foreignField), let + pipeline, and both
 * (the equality filter first, then the pipeline). The collection is read where
 * `find` reads it, under the engine lock, so what $merge or insert wrote is
 * visible to the next document. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/query.h"
#include "engine/ops/lookup_index.h"
#include "engine/ops/stages.h"
#include "engine/plan/plan_internal.h"
#include "engine/sinks/memstore.h"

/* The joined documents of one input may not exceed a BSON document. */
#define LOOKUP_MAX_BYTES (16 * 1024 * 1024)

typedef struct {
  char *connection, *db, *coll;
  char *local, *foreign; /* equality form, or NULL */
  char *as;
  size_t let_count;
  aspd_expr_t **let_exprs; /* evaluated on the input document */
  int *let_slots;          /* where the pipeline reads them */
  bool has_pipeline;
  aspd_planned_stage_t *stages;
  size_t stage_count;
} lookup_spec_t;

void aspd_lookup_free_spec(void *spec) {
  lookup_spec_t *s = spec;
  if (!s) return;
  free(s->connection);
  free(s->db);
  free(s->coll);
  free(s->local);
  free(s->foreign);
  free(s->as);
  for (size_t i = 0; i < s->let_count; i++) aspd_expr_free(s->let_exprs[i]);
  free(s->let_exprs);
  free(s->let_slots);
  aspd_planned_stages_free(s->stages, s->stage_count);
  free(s);
}

static void *fail(lookup_spec_t *s, aspd_error_t *err, const char *fmt, ...) BSON_GNUC_PRINTF(3, 4);
static void *fail(lookup_spec_t *s, aspd_error_t *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char text[512];
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s", text);
  aspd_lookup_free_spec(s);
  return NULL;
}

/* `from`: {connectionName, db, coll} of a Cluster connection, or inside a
 * $lookup's pipeline a collection name on the enclosing one's connection. */
static bool parse_from(lookup_spec_t *s, const bson_iter_t *it, aspd_stage_ctx_t *ctx,
                       aspd_error_t *err) {
  if (BSON_ITER_HOLDS_UTF8(it) && ctx->lookup_connection) {
    s->connection = strdup(ctx->lookup_connection);
    s->db = strdup(ctx->lookup_db);
    s->coll = strdup(bson_iter_utf8(it, NULL));
    return true;
  }
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) {
    aspd_plan_invalid(err,
                      "$lookup.from must be a document {connectionName, db, coll}, found %s "
                      "(a collection name alone is only valid in a nested $lookup)",
                      aspd_type_name(bson_iter_type(it)));
    return false;
  }
  bson_t from;
  aspd_spec_doc(it, &from);
  const char *name = aspd_plan_utf8(&from, "connectionName");
  const char *db = aspd_plan_utf8(&from, "db"), *coll = aspd_plan_utf8(&from, "coll");
  if (!name || !db || !coll || !*db || !*coll) {
    aspd_plan_invalid(err, "%s",
                      "$lookup.from must contain string fields connectionName, db and coll");
    return false;
  }
  const aspd_connection_t *conn = aspd_registry_find(ctx->registry, name);
  if (!conn) {
    aspd_plan_invalid(err, "Unknown connection name %s", name);
    return false;
  }
  if (conn->kind != ASPD_CONN_CLUSTER) {
    aspd_plan_invalid(err, "%s", "Only atlas connection type is currently supported for $lookup");
    return false;
  }
  s->connection = strdup(name);
  s->db = strdup(db);
  s->coll = strdup(coll);
  return true;
}

/* The pipeline, planned with the let variables in scope: the stages a window's
 * pipeline may hold (a $lookup's pipeline is a batch too), nested $lookup
 * included; stream stages are MongoDB's error 51047. */
static bool plan_pipeline(lookup_spec_t *s, const bson_iter_t *pipeline, const bson_t *let,
                          aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  bson_iter_t it;
  size_t pushed = 0;
  bool ok = true;
  if (let && bson_iter_init(&it, let)) {
    while (ok && bson_iter_next(&it)) {
      int slot = aspd_expr_scope_push(ctx->cc, bson_iter_key(&it), err);
      if (slot < 0) {
        ok = false;
        break;
      }
      s->let_slots[pushed++] = slot;
    }
  }
  aspd_stage_ctx_t inner = *ctx;
  inner.in_window = true;
  inner.lookup_connection = s->connection;
  inner.lookup_db = s->db;
  bson_iter_recurse(pipeline, &it);
  while (ok && bson_iter_next(&it)) {
    const char *name;
    bson_iter_t value;
    if (!aspd_stage_parts(&it, &name, &value, err)) {
      ok = false;
      break;
    }
    const aspd_stage_t *row = aspd_stage_find(name);
    if (!row) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "Unsupported stage: %s", name);
      ok = false;
    } else if (!(row->where & ASPD_IN_WINDOW) || !strcmp(name, "$https")) {
      aspd_error_set(err, ASPD_E_LOCATION(51047),
                     "%s is not allowed within a $lookup's sub-pipeline", name);
      ok = false;
    } else {
      ok = aspd_plan_add_stage(row, &value, &inner, &s->stages, &s->stage_count, err);
    }
  }
  while (pushed--) aspd_expr_scope_pop(ctx->cc);
  return ok;
}

/* `let`: each expression compiled in the enclosing scope (it reads the input document). */
static bool compile_let(lookup_spec_t *s, const bson_t *let, aspd_stage_ctx_t *ctx,
                        aspd_error_t *err) {
  bson_iter_t it;
  size_t n = 0;
  bson_iter_init(&it, let);
  while (bson_iter_next(&it)) n++;
  s->let_exprs = calloc(n ? n : 1, sizeof *s->let_exprs);
  s->let_slots = calloc(n ? n : 1, sizeof *s->let_slots);
  bson_iter_init(&it, let);
  while (bson_iter_next(&it)) {
    const char *name = bson_iter_key(&it);
    if (!aspd_expr_valid_var_name(name)) {
      aspd_error_set(err, ASPD_E_LOCATION(16870),
                     "'%s' starts with an invalid character for a user variable name", name);
      return false;
    }
    aspd_expr_t *e = aspd_expr_compile(ctx->cc, bson_iter_value(&it), err);
    if (!e) return false;
    s->let_exprs[s->let_count++] = e;
  }
  return true;
}

void *aspd_lookup_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(value)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "the $lookup specification must be an Object");
    return NULL;
  }
  lookup_spec_t *s = calloc(1, sizeof *s);
  bson_t spec, let = BSON_INITIALIZER;
  aspd_spec_doc(value, &spec);
  bson_iter_t it, from, pipeline;
  bool has_from = false, has_let = false;
  bson_iter_init(&it, &spec);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (!strcmp(key, "from")) {
      from = it;
      has_from = true;
    } else if (!strcmp(key, "pipeline")) {
      if (!BSON_ITER_HOLDS_ARRAY(&it)) {
        return fail(s, err, "%s", "'pipeline' option must be specified as an array");
      }
      pipeline = it;
      s->has_pipeline = true;
    } else if (!strcmp(key, "let")) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
        return fail(s, err, "$lookup argument 'let' must be an object, is type %s",
                    aspd_type_name(bson_iter_type(&it)));
      }
      aspd_spec_doc(&it, &let);
      has_let = true;
    } else if (!strcmp(key, "parallelism")) {
      int64_t n;
      if (!BSON_ITER_HOLDS_NUMBER(&it) || !aspd_value_as_integral(bson_iter_value(&it), &n) ||
          n < 1 || n > 16) {
        aspd_lookup_free_spec(s);
        return aspd_plan_invalid(err, "%s",
                                 "$lookup.parallelism must be an integer between 1 and 16");
      }
    } else if (!strcmp(key, "partitionBy")) {
      /* Documents are joined one at a time in arrival order: partitions change nothing. */
    } else if (!strcmp(key, "as") || !strcmp(key, "localField") || !strcmp(key, "foreignField")) {
      if (!BSON_ITER_HOLDS_UTF8(&it)) {
        return fail(s, err, "$lookup argument '%s' must be a string, found %s", key,
                    aspd_type_name(bson_iter_type(&it)));
      }
      char **slot = !strcmp(key, "as")           ? &s->as
                    : !strcmp(key, "localField") ? &s->local
                                                 : &s->foreign;
      free(*slot);
      *slot = strdup(bson_iter_utf8(&it, NULL));
    } else {
      return fail(s, err, "unknown argument to $lookup: %s", key);
    }
  }
  if (!has_from) {
    /* aspd has no $documents stage, so a collection-less pipeline has no input. */
    return fail(s, err, "%s",
                "$lookup stage without explicit collection must have a pipeline with $documents "
                "as first stage");
  }
  if (!parse_from(s, &from, ctx, err)) {
    aspd_lookup_free_spec(s);
    return NULL;
  }
  if (!s->as || !*s->as) return fail(s, err, "%s", "must specify 'as' field for a $lookup");
  bool local = s->local && *s->local, foreign = s->foreign && *s->foreign;
  if (s->has_pipeline && local != foreign) {
    return fail(s, err, "%s",
                "$lookup requires both or neither of 'localField' and 'foreignField' to be "
                "specified");
  }
  if (!s->has_pipeline && (!local || !foreign)) {
    return fail(s, err, "%s",
                "$lookup requires either 'pipeline' or both 'localField' and 'foreignField' to "
                "be specified");
  }
  if (!s->has_pipeline && has_let) {
    return fail(s, err, "%s", "$lookup with a 'let' argument must also specify 'pipeline'");
  }
  if (!local) {
    free(s->local);
    free(s->foreign);
    s->local = s->foreign = NULL;
  }
  if (!compile_let(s, &let, ctx, err) ||
      (s->has_pipeline && !plan_pipeline(s, &pipeline, &let, ctx, err))) {
    aspd_lookup_free_spec(s);
    return NULL;
  }
  return s;
}

/* --- running ------------------------------------------------------------- */

/* Appends to out every value at path in doc as MongoDB's $lookup collects
 * them: arrays along the path are walked, and an array at the end gives its
 * elements. */
static void values_at(const bson_iter_t *it, const char *path, bson_t *out, uint32_t *n) {
  const char *dot = strchr(path, '.');
  size_t len = dot ? (size_t)(dot - path) : strlen(path);
  bson_iter_t field = *it;
  while (bson_iter_next(&field)) {
    if (strlen(bson_iter_key(&field)) != len || memcmp(bson_iter_key(&field), path, len)) continue;
    bson_iter_t child;
    char key[16];
    const char *k;
    if (!dot) {
      if (BSON_ITER_HOLDS_ARRAY(&field) && bson_iter_recurse(&field, &child)) {
        while (bson_iter_next(&child)) {
          bson_uint32_to_string((*n)++, &k, key, sizeof key);
          bson_append_value(out, k, -1, bson_iter_value(&child));
        }
      } else {
        bson_uint32_to_string((*n)++, &k, key, sizeof key);
        bson_append_value(out, k, -1, bson_iter_value(&field));
      }
    } else if (BSON_ITER_HOLDS_DOCUMENT(&field) && bson_iter_recurse(&field, &child)) {
      values_at(&child, dot + 1, out, n);
    } else if (BSON_ITER_HOLDS_ARRAY(&field) && bson_iter_recurse(&field, &child)) {
      while (bson_iter_next(&child)) {
        bson_iter_t elem;
        if (BSON_ITER_HOLDS_DOCUMENT(&child) && bson_iter_recurse(&child, &elem)) {
          values_at(&elem, dot + 1, out, n);
        }
      }
    }
    return;
  }
}

/* The equality form's filter for doc, as MongoDB builds it: {foreign: {$eq: v}} for
 * one value (null when there is none), {foreign: {$in: [...]}} for several, or an
 * $or of $eq when one of them is a regular expression (which $in would apply as a
 * pattern rather than compare). */
static void local_values(const lookup_spec_t *s, const bson_t *doc, bson_t *values) {
  uint32_t n = 0;
  bson_iter_t it;
  bson_iter_init(&it, doc);
  values_at(&it, s->local, values, &n);
  if (n == 0) BSON_APPEND_NULL(values, "0");
}

static void equality_filter(const lookup_spec_t *s, const bson_t *values, bson_t *filter) {
  uint32_t n = bson_count_keys(values);
  bson_iter_t it;
  bool regex = false;
  bson_iter_init(&it, values);
  while (bson_iter_next(&it)) regex = regex || BSON_ITER_HOLDS_REGEX(&it);
  bson_t cond, list, each;
  if (n > 1 && regex) {
    BSON_APPEND_ARRAY_BEGIN(filter, "$or", &list);
    bson_iter_init(&it, values);
    while (bson_iter_next(&it)) {
      bson_append_document_begin(&list, bson_iter_key(&it), -1, &each);
      BSON_APPEND_DOCUMENT_BEGIN(&each, s->foreign, &cond);
      BSON_APPEND_VALUE(&cond, "$eq", bson_iter_value(&it));
      bson_append_document_end(&each, &cond);
      bson_append_document_end(&list, &each);
    }
    bson_append_array_end(filter, &list);
  } else {
    BSON_APPEND_DOCUMENT_BEGIN(filter, s->foreign, &cond);
    if (n > 1) {
      BSON_APPEND_ARRAY(&cond, "$in", values);
    } else {
      bson_iter_init(&it, values);
      bson_iter_next(&it);
      BSON_APPEND_VALUE(&cond, "$eq", bson_iter_value(&it));
    }
    bson_append_document_end(filter, &cond);
  }
}

/* Where the pipeline's results go: the `as` array being built. */
typedef struct {
  aspd_pipeline_out_t base;
  bson_t *array;
  uint32_t count;
  bool too_large;
  char reason[ASPD_EXPR_REASON_LEN]; /* the first document the pipeline rejected */
} joined_t;

static void add_joined(joined_t *j, const bson_t *doc) {
  if (j->too_large) return;
  if (j->array->len + doc->len > LOOKUP_MAX_BYTES) {
    j->too_large = true;
    return;
  }
  char key[16];
  const char *k;
  bson_uint32_to_string(j->count++, &k, key, sizeof key);
  bson_append_document(j->array, k, -1, doc);
}

static void collect(aspd_pipeline_out_t *self, bson_t *doc) {
  add_joined((joined_t *)self, doc);
  aspd_doc_release(self->ev, doc);
}

static void refuse(aspd_pipeline_out_t *self, size_t index, const bson_t *doc, const char *reason) {
  (void)index;
  (void)doc;
  joined_t *j = (joined_t *)self;
  if (!j->reason[0]) snprintf(j->reason, sizeof j->reason, "%s", reason);
}

/* One foreign document: filtered by the equality form, then joined or run through the
 * pipeline (a fresh instance per input document). */
typedef struct {
  const aspd_query_t *filter;
  joined_t *joined;
  aspd_pipeline_t *pipe;
} visit_t;

static bool visit(void *ctx, const bson_t *doc) {
  visit_t *v = ctx;
  if (v->filter && !aspd_query_matches(v->filter, doc, NULL)) return true;
  if (v->pipe) {
    aspd_pipeline_push(v->pipe, 0, bson_copy(doc), &v->joined->base);
  } else {
    add_joined(v->joined, doc);
  }
  return !v->joined->too_large && !v->joined->reason[0];
}

/* An instance: the spec, and the equality form's index of the collection. */
typedef struct {
  aspd_op_t base;
  const lookup_spec_t *spec;
  aspd_lookup_index_t *index;
} lookup_op_t;

static void push(aspd_op_t *base, bson_t *doc, aspd_flow_t *flow) {
  lookup_op_t *op = (lookup_op_t *)base;
  const lookup_spec_t *s = op->spec;
  aspd_eval_t *ev = flow->ev;
  if (!ev->collections) {
    aspd_flow_reject(flow, doc, "$lookup cannot read collections here");
    aspd_doc_release(ev, doc);
    return;
  }
  for (size_t i = 0; i < s->let_count; i++) {
    bson_value_t v;
    if (!aspd_expr_eval_root(s->let_exprs[i], ev, doc, &v)) {
      aspd_flow_reject(flow, doc, ev->reason);
      aspd_doc_release(ev, doc);
      return;
    }
    ev->vars[s->let_slots[i]] = v;
  }
  aspd_query_t *filter = NULL;
  bson_t values = BSON_INITIALIZER;
  if (s->local) {
    bson_t f = BSON_INITIALIZER;
    aspd_error_t err = {0};
    local_values(s, doc, &values);
    equality_filter(s, &values, &f);
    filter = aspd_query_compile(&f, NULL, &err);
    bson_destroy(&f);
    if (!filter) {
      aspd_flow_reject(flow, doc, err.message);
      aspd_doc_release(ev, doc);
      bson_destroy(&values);
      return;
    }
  }
  bson_t array = BSON_INITIALIZER;
  joined_t joined = {{collect, refuse, NULL, ev, flow->out->now_ms}, &array, 0, false, ""};
  aspd_pipeline_t pipe = {0};
  if (s->has_pipeline) aspd_pipeline_make(s->stages, s->stage_count, &pipe);
  visit_t v = {filter, &joined, s->has_pipeline ? &pipe : NULL};
  /* The index yields a superset of the matches in collection order; the filter decides. */
  if (!filter || !aspd_lookup_index_each(op->index, ev->collections, &values, visit, &v)) {
    aspd_memstore_each_doc(ev->collections, s->db, s->coll, visit, &v);
  }
  bson_destroy(&values);
  if (s->has_pipeline) {
    aspd_flush_t end = {flow->out->now_ms, flow->out->now_ms, true};
    if (!joined.reason[0] && !joined.too_large) aspd_pipeline_flush(&pipe, &end, &joined.base);
    aspd_pipeline_free(&pipe);
  }
  aspd_query_free(filter);
  if (joined.reason[0] || joined.too_large) {
    char reason[ASPD_EXPR_REASON_LEN + 64];
    if (joined.too_large) {
      snprintf(reason, sizeof reason,
               "Total size of documents in %s matching pipeline's $lookup stage exceeds %d "
               "bytes",
               s->coll, LOOKUP_MAX_BYTES);
    } else {
      snprintf(reason, sizeof reason, "%s", joined.reason);
    }
    aspd_flow_reject(flow, doc, reason);
    aspd_doc_release(ev, doc);
    bson_destroy(&array);
    return;
  }
  bson_t as = BSON_INITIALIZER;
  BSON_APPEND_ARRAY(&as, s->as, &array);
  bson_destroy(&array);
  bson_t *out = aspd_doc_new(ev);
  aspd_set_paths(doc, &as, out);
  bson_destroy(&as);
  aspd_doc_release(ev, doc);
  aspd_flow_emit(flow, out);
}

static int64_t state_bytes(const aspd_op_t *base) {
  const lookup_op_t *op = (const lookup_op_t *)base;
  return op->index ? aspd_lookup_index_bytes(op->index) : 0;
}

static void lookup_free(aspd_op_t *base) {
  lookup_op_t *op = (lookup_op_t *)base;
  aspd_lookup_index_free(op->index);
  free(op);
}

static const aspd_op_vtable_t vt = {.push = push, .state_bytes = state_bytes, .free = lookup_free};

aspd_op_t *aspd_lookup_make(const void *spec) {
  const lookup_spec_t *s = spec;
  lookup_op_t *op = calloc(1, sizeof *op);
  op->base.vt = &vt;
  op->spec = s;
  /* The let/pipeline-only form has no key to index: it reads the whole collection. */
  if (s->local) op->index = aspd_lookup_index_new(s->db, s->coll, s->foreign);
  return &op->base;
}
