/* Compiling expressions into node trees, and the evaluation context they run in. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/bson_raw.h"
#include "engine/expr/expr.h"
#include "engine/expr/operators.h"

/* --- the arena ------------------------------------------------------------- */

#define ARENA_BLOCK 4096

struct aspd_arena_block {
  aspd_arena_block_t *next;
  size_t used, cap;
  max_align_t data[];
};

void *aspd_eval_alloc(aspd_eval_t *ev, size_t n) {
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  aspd_arena_block_t *b = ev->arena.head;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    aspd_arena_block_t *nb = malloc(sizeof *nb + cap);
    nb->used = 0;
    nb->cap = cap;
    nb->next = b;
    ev->arena.head = b = nb;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  return p;
}

void aspd_eval_init(aspd_eval_t *ev, const char *meta_field) {
  memset(ev, 0, sizeof *ev);
  ev->meta_field = meta_field;
}

void aspd_eval_reset(aspd_eval_t *ev) {
  /* Keep one block: most documents need no more. */
  aspd_arena_block_t *b = ev->arena.head;
  if (!b) return;
  aspd_arena_block_t *rest = b->next;
  b->next = NULL;
  b->used = 0;
  while (rest) {
    aspd_arena_block_t *next = rest->next;
    free(rest);
    rest = next;
  }
}

/* Larger documents are freed: a spare keeps its buffer. */
#define SPARE_MAX_LEN 65536

bson_t *aspd_doc_new(aspd_eval_t *ev) {
  return ev->spare_count ? ev->spare[--ev->spare_count] : bson_new();
}

void aspd_doc_release(aspd_eval_t *ev, bson_t *doc) {
  if (ev->spare_count == ASPD_EVAL_SPARE_DOCS || doc->len > SPARE_MAX_LEN) {
    bson_destroy(doc);
    return;
  }
  bson_reinit(doc);
  ev->spare[ev->spare_count++] = doc;
}

void aspd_eval_free(aspd_eval_t *ev) {
  while (ev->spare_count) bson_destroy(ev->spare[--ev->spare_count]);
  aspd_eval_reset(ev);
  free(ev->arena.head);
  ev->arena.head = NULL;
  free(ev->failure);
  ev->failure = NULL;
}

bool aspd_eval_fail(aspd_eval_t *ev, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ev->reason, sizeof ev->reason, fmt, ap);
  va_end(ap);
  return false;
}

void aspd_eval_string(aspd_eval_t *ev, const char *s, size_t len, bson_value_t *out) {
  char *copy = aspd_eval_alloc(ev, len + 1);
  memcpy(copy, s, len);
  copy[len] = '\0';
  out->value_type = BSON_TYPE_UTF8;
  out->value.v_utf8.str = copy;
  out->value.v_utf8.len = (uint32_t)len;
}

void aspd_eval_bson(aspd_eval_t *ev, const bson_t *b, bool array, bson_value_t *out) {
  uint8_t *copy = aspd_eval_alloc(ev, b->len);
  memcpy(copy, bson_get_data(b), b->len);
  out->value_type = array ? BSON_TYPE_ARRAY : BSON_TYPE_DOCUMENT;
  out->value.v_doc.data = copy;
  out->value.v_doc.data_len = b->len;
}

const char *aspd_eval_json(aspd_eval_t *ev, const bson_value_t *v) {
  if (v->value_type == BSON_TYPE_EOD) return "missing";
  bson_t holder = BSON_INITIALIZER;
  bson_append_value(&holder, "v", 1, v);
  char *json = bson_as_relaxed_extended_json(&holder, NULL);
  /* `{ "v" : x }`: the value sits between the first 8 and the last 2 characters. */
  size_t len = strlen(json);
  bson_value_t s;
  aspd_eval_string(ev, json + 8, len > 10 ? len - 10 : 0, &s);
  bson_free(json);
  bson_destroy(&holder);
  return s.value.v_utf8.str;
}

void aspd_append_value(bson_t *out, const char *key, size_t key_len, const bson_value_t *v) {
  if (v->value_type != BSON_TYPE_EOD) bson_append_value(out, key, (int)key_len, v);
}

bool aspd_expr_eval_root(const aspd_expr_t *e, aspd_eval_t *ev, const bson_t *doc,
                         bson_value_t *out) {
  ev->root = doc;
  return e->eval(e, ev, out);
}

/* --- evaluators of the built-in node kinds ---------------------------------- */

static bool eval_constant(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  (void)ev;
  *out = e->value;
  return true;
}

/* A path below `v`; through arrays it maps over the elements (documents give
 * their field, nested arrays recurse, other values drop out). */
static void walk(aspd_eval_t *ev, const bson_value_t *v, char *const *path, size_t n,
                 bson_value_t *out) {
  if (n == 0) {
    *out = *v;
    return;
  }
  bson_iter_t it;
  if (v->value_type == BSON_TYPE_DOCUMENT) {
    bson_value_t field;
    if (aspd_raw_get(v, path[0], strlen(path[0]), &field)) {
      walk(ev, &field, path + 1, n - 1, out);
    } else {
      out->value_type = BSON_TYPE_EOD;
    }
    return;
  }
  if (v->value_type != BSON_TYPE_ARRAY) {
    out->value_type = BSON_TYPE_EOD;
    return;
  }
  bson_t list = BSON_INITIALIZER;
  uint32_t i = 0;
  bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const bson_value_t *el = bson_iter_value(&it);
    if (el->value_type != BSON_TYPE_DOCUMENT && el->value_type != BSON_TYPE_ARRAY) continue;
    bson_value_t r;
    walk(ev, el, path, n, &r);
    if (r.value_type == BSON_TYPE_EOD) continue;
    char key[16];
    const char *k;
    size_t klen = bson_uint32_to_string(i++, &k, key, sizeof key);
    bson_append_value(&list, k, (int)klen, &r);
  }
  aspd_eval_bson(ev, &list, true, out);
  bson_destroy(&list);
}

static bool eval_path(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t start;
  if (e->var < 0) {
    if (!ev->root) {
      out->value_type = BSON_TYPE_EOD;
      return true;
    }
    if (e->path_len && ev->root_index && ev->root_index->doc == ev->root) {
      const aspd_raw_iter_t *field =
          aspd_raw_index_find(ev->root_index, e->path[0], strlen(e->path[0]));
      if (!field) {
        out->value_type = BSON_TYPE_EOD;
        return true;
      }
      aspd_raw_value(field, &start);
      walk(ev, &start, e->path + 1, e->path_len - 1, out);
      return true;
    }
    start.value_type = BSON_TYPE_DOCUMENT;
    start.value.v_doc.data = aspd_bytes(bson_get_data(ev->root));
    start.value.v_doc.data_len = ev->root->len;
  } else {
    start = ev->vars[e->var];
  }
  walk(ev, &start, e->path, e->path_len, out);
  return true;
}

static bool eval_object(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_t doc = BSON_INITIALIZER;
  for (size_t i = 0; i < e->nargs; i++) {
    bson_value_t v;
    if (!aspd_expr_eval(e->args[i], ev, &v)) {
      bson_destroy(&doc);
      return false;
    }
    aspd_append_value(&doc, e->keys[i], strlen(e->keys[i]), &v);
  }
  aspd_eval_bson(ev, &doc, false, out);
  bson_destroy(&doc);
  return true;
}

static bool eval_array(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_t list = BSON_INITIALIZER;
  for (size_t i = 0; i < e->nargs; i++) {
    bson_value_t v;
    if (!aspd_expr_eval(e->args[i], ev, &v)) {
      bson_destroy(&list);
      return false;
    }
    char key[16];
    const char *k;
    size_t klen = bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    if (v.value_type == BSON_TYPE_EOD) {
      bson_append_null(&list, k, (int)klen);
    } else {
      bson_append_value(&list, k, (int)klen, &v);
    }
  }
  aspd_eval_bson(ev, &list, true, out);
  bson_destroy(&list);
  return true;
}

/* --- compiling -------------------------------------------------------------- */

void aspd_expr_compiler_init(aspd_expr_compiler_t *cc) {
  memset(cc, 0, sizeof *cc);
}

int aspd_expr_scope_push(aspd_expr_compiler_t *cc, const char *name, aspd_error_t *err) {
  if (cc->depth == ASPD_EXPR_MAX_VARS || cc->next_slot == ASPD_EXPR_MAX_VARS) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "too many variables in one pipeline (at most %d)",
                   ASPD_EXPR_MAX_VARS);
    return -1;
  }
  cc->names[cc->depth] = name;
  cc->slots[cc->depth] = cc->next_slot++;
  return cc->slots[cc->depth++];
}

void aspd_expr_scope_pop(aspd_expr_compiler_t *cc) {
  cc->depth--;
}

static aspd_expr_t *node_new(aspd_expr_eval_fn eval) {
  aspd_expr_t *e = calloc(1, sizeof *e);
  e->eval = eval;
  e->var = -1;
  return e;
}

bool aspd_expr_is_constant(const aspd_expr_t *e) {
  return e->eval == eval_constant;
}

static aspd_expr_t *constant(const bson_value_t *v) {
  aspd_expr_t *e = node_new(eval_constant);
  if (v->value_type == BSON_TYPE_EOD) return e;
  /* Keep a copy: the spec the value came from may not outlive the plan. */
  e->owned = bson_new();
  bson_append_value(e->owned, "v", 1, v);
  bson_iter_t it;
  bson_iter_init_find(&it, e->owned, "v");
  e->value = *bson_iter_value(&it);
  return e;
}

void aspd_expr_free(aspd_expr_t *e) {
  if (!e) return;
  for (size_t i = 0; i < e->nargs; i++) aspd_expr_free(e->args[i]);
  free(e->args);
  if (e->owned) bson_destroy(e->owned);
  for (size_t i = 0; i < e->path_len; i++) free(e->path[i]);
  free(e->path);
  if (e->keys) {
    for (size_t i = 0; i < e->nargs; i++) free(e->keys[i]);
    free(e->keys);
  }
  if (e->free_data) e->free_data(e->data);
  free(e);
}

static void add_arg(aspd_expr_t *e, aspd_expr_t *arg) {
  e->args = realloc(e->args, (e->nargs + 1) * sizeof *e->args);
  e->args[e->nargs++] = arg;
}

/* Evaluates a node whose arguments are all constant once, at plan time. */
static aspd_expr_t *fold(aspd_expr_t *e) {
  for (size_t i = 0; i < e->nargs; i++) {
    if (!aspd_expr_is_constant(e->args[i])) return e;
  }
  aspd_eval_t ev;
  aspd_eval_init(&ev, NULL);
  bson_value_t v;
  aspd_expr_t *folded = e;
  if (e->eval(e, &ev, &v)) {
    folded = constant(&v);
    aspd_expr_free(e);
  }
  aspd_eval_free(&ev);
  return folded;
}

static bool split_path(aspd_expr_t *e, const char *path, aspd_error_t *err) {
  const char *p = path;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    if (len == 0 || (dot && !dot[1])) {
      aspd_error_set(err, ASPD_E_LOCATION(15998),
                     "FieldPath field names may not be empty strings.");
      return false;
    }
    if (*p == '$') {
      aspd_error_set(err, ASPD_E_LOCATION(16410), "FieldPath field names may not start with '$'.");
      return false;
    }
    e->path = realloc(e->path, (e->path_len + 1) * sizeof *e->path);
    e->path[e->path_len++] = strndup(p, len);
    p += len + (dot ? 1 : 0);
  }
  return true;
}

static aspd_expr_t *compile_string(aspd_expr_compiler_t *cc, const bson_value_t *spec,
                                   aspd_error_t *err) {
  const char *s = spec->value.v_utf8.str;
  if (s[0] != '$') return constant(spec);
  if (s[1] != '$') {
    if (!s[1]) {
      aspd_error_set(err, ASPD_E_LOCATION(16872), "'$' by itself is not a valid FieldPath");
      return NULL;
    }
    aspd_expr_t *e = node_new(eval_path);
    if (!split_path(e, s + 1, err)) {
      aspd_expr_free(e);
      return NULL;
    }
    return e;
  }
  const char *name = s + 2, *dot = strchr(name, '.');
  size_t len = dot ? (size_t)(dot - name) : strlen(name);
  aspd_expr_t *e = node_new(eval_path);
  bool known = false;
  if ((len == 4 && !strncmp(name, "ROOT", 4)) || (len == 7 && !strncmp(name, "CURRENT", 7))) {
    known = true;
  } else if (len == 6 && !strncmp(name, "REMOVE", 6)) {
    aspd_expr_free(e);
    return node_new(eval_constant); /* missing */
  } else if ((len == 5 && !strncmp(name, "PRUNE", 5)) || (len == 4 && !strncmp(name, "KEEP", 4)) ||
             (len == 7 && !strncmp(name, "DESCEND", 7))) {
    /* $redact's verdicts are these names as strings. */
    aspd_expr_free(e);
    return constant(spec);
  } else {
    for (int i = cc->depth - 1; i >= 0 && !known; i--) {
      if (strlen(cc->names[i]) == len && !strncmp(cc->names[i], name, len)) {
        e->var = cc->slots[i];
        known = true;
      }
    }
  }
  if (!known) {
    aspd_error_set(err, ASPD_E_LOCATION(17276), "Use of undefined variable: %.*s", (int)len, name);
    aspd_expr_free(e);
    return NULL;
  }
  if (dot && !split_path(e, dot + 1, err)) {
    aspd_expr_free(e);
    return NULL;
  }
  return e;
}

static aspd_expr_t *compile_operator(aspd_expr_compiler_t *cc, const char *name,
                                     const bson_value_t *operand, aspd_error_t *err) {
  const aspd_expr_op_t *op = aspd_expr_find_op(name);
  if (!op) {
    aspd_error_set(err, ASPD_E_INVALID_PIPELINE_OPERATOR, "Unrecognized expression '%s'", name);
    return NULL;
  }
  aspd_expr_t *e = node_new(op->eval);
  e->name = op->name;
  if (op->compile) {
    if (!op->compile(cc, operand, e, err)) {
      aspd_expr_free(e);
      return NULL;
    }
    return e;
  }
  size_t n = 0;
  if (operand->value_type == BSON_TYPE_ARRAY) {
    bson_iter_t it;
    bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
    while (bson_iter_next(&it)) {
      aspd_expr_t *arg = aspd_expr_compile(cc, bson_iter_value(&it), err);
      if (!arg) {
        aspd_expr_free(e);
        return NULL;
      }
      add_arg(e, arg);
    }
    n = e->nargs;
  } else {
    aspd_expr_t *arg = aspd_expr_compile(cc, operand, err);
    if (!arg) {
      aspd_expr_free(e);
      return NULL;
    }
    add_arg(e, arg);
    n = 1;
  }
  int min = op->min_args, max = op->max_args;
  if ((int)n < min || (max >= 0 && (int)n > max)) {
    if (min == max) {
      aspd_error_set(err, ASPD_E_LOCATION(16020),
                     "Expression %s takes exactly %d arguments. %zu were passed in.", name, min, n);
    } else if (max < 0) {
      aspd_error_set(err, ASPD_E_LOCATION(16020),
                     "Expression %s takes at least %d arguments. %zu were passed in.", name, min,
                     n);
    } else {
      aspd_error_set(err, ASPD_E_LOCATION(16020),
                     "Expression %s takes at least %d arguments, and at most %d, but %zu were "
                     "passed in.",
                     name, min, max, n);
    }
    aspd_expr_free(e);
    return NULL;
  }
  return fold(e);
}

static aspd_expr_t *compile_container(aspd_expr_compiler_t *cc, const bson_value_t *spec,
                                      aspd_error_t *err) {
  bool array = spec->value_type == BSON_TYPE_ARRAY;
  bson_iter_t it;
  bson_iter_init_from_data(&it, spec->value.v_doc.data, spec->value.v_doc.data_len);
  size_t fields = 0;
  const char *first = NULL;
  bson_iter_t scan = it;
  while (bson_iter_next(&scan)) {
    if (fields++ == 0) first = bson_iter_key(&scan);
  }
  if (!array && first && first[0] == '$') {
    if (fields > 1) {
      aspd_error_set(err, ASPD_E_LOCATION(15983),
                     "an expression specification must contain exactly one field, the name of "
                     "the expression. Found %zu fields in %s",
                     fields, "the object");
      return NULL;
    }
    bson_iter_next(&it);
    return compile_operator(cc, first, bson_iter_value(&it), err);
  }
  aspd_expr_t *e = node_new(array ? eval_array : eval_object);
  if (!array) e->keys = calloc(fields ? fields : 1, sizeof *e->keys);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (!array && (key[0] == '$' || strchr(key, '.'))) {
      if (key[0] == '$') {
        aspd_error_set(
            err, ASPD_E_LOCATION(16410),
            "FieldPath field names may not start with '$'. Consider using $getField or $setField.");
      } else {
        aspd_error_set(
            err, ASPD_E_LOCATION(16412),
            "FieldPath field names may not contain '.'. Consider using $getField or $setField.");
      }
      aspd_expr_free(e);
      return NULL;
    }
    aspd_expr_t *arg = aspd_expr_compile(cc, bson_iter_value(&it), err);
    if (!arg) {
      aspd_expr_free(e);
      return NULL;
    }
    if (!array) e->keys[e->nargs] = strdup(key);
    add_arg(e, arg);
  }
  return fold(e);
}

aspd_expr_t *aspd_expr_compile(aspd_expr_compiler_t *cc, const bson_value_t *spec,
                               aspd_error_t *err) {
  switch (spec->value_type) {
    case BSON_TYPE_UTF8:
      return compile_string(cc, spec, err);
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
      return compile_container(cc, spec, err);
    default:
      return constant(spec);
  }
}

bool aspd_expr_compile_named(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                             const char *const *names, size_t count, uint32_t required,
                             aspd_error_t *err) {
  if (operand->value_type != BSON_TYPE_DOCUMENT) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s expects an object as its argument", e->name);
    return false;
  }
  e->args = calloc(count, sizeof *e->args);
  e->nargs = count;
  bson_iter_t it;
  bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    size_t i = 0;
    while (i < count && strcmp(names[i], bson_iter_key(&it))) i++;
    if (i == count) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s found an unknown argument: %s", e->name,
                     bson_iter_key(&it));
      return false;
    }
    aspd_expr_free(e->args[i]); /* a name given twice: the last one counts */
    e->args[i] = aspd_expr_compile(cc, bson_iter_value(&it), err);
    if (!e->args[i]) return false;
  }
  for (size_t i = 0; i < count; i++) {
    if ((required & (1u << i)) && !e->args[i]) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "Missing '%s' parameter to %s", names[i],
                     e->name);
      return false;
    }
  }
  return true;
}
