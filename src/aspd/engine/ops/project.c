/* $project and $unset: a projection compiled into a tree of path components.
 * Inclusion copies the included fields in document order, then appends the
 * computed ones in spec order; exclusion copies all but the excluded. Arrays on
 * a path are projected element by element. */
#include <stdlib.h>
#include <string.h>

#include "engine/expr/bson_raw.h"
#include "engine/ops/stages.h"

typedef enum { P_INCLUDE, P_EXCLUDE, P_EXPR, P_TREE } pnode_kind_t;

typedef struct pnode {
  char *name;
  size_t name_len;
  pnode_kind_t kind;
  aspd_expr_t *expr;
  struct pnode **children;
  size_t count;
} pnode_t;

typedef struct {
  pnode_t root; /* P_TREE */
  bool inclusion;
} projection_t;

static pnode_t *child_named(const pnode_t *parent, const char *name, size_t len) {
  for (size_t i = 0; i < parent->count; i++) {
    const pnode_t *c = parent->children[i];
    if (c->name_len == len && (len == 0 || c->name[0] == name[0]) && !memcmp(c->name, name, len)) {
      return parent->children[i];
    }
  }
  return NULL;
}

static pnode_t *add_child(pnode_t *parent, const char *name, size_t len) {
  pnode_t *n = calloc(1, sizeof *n);
  n->name = strndup(name, len);
  n->name_len = len;
  n->kind = P_TREE;
  parent->children = realloc(parent->children, (parent->count + 1) * sizeof *parent->children);
  parent->children[parent->count++] = n;
  return n;
}

static void pnode_free(pnode_t *n) {
  for (size_t i = 0; i < n->count; i++) {
    pnode_free(n->children[i]);
    free(n->children[i]);
  }
  free(n->children);
  free(n->name);
  aspd_expr_free(n->expr);
}

static void projection_free(projection_t *p) {
  pnode_free(&p->root);
  free(p);
}

static bool path_collision(aspd_error_t *err, const char *path) {
  aspd_error_set(err, ASPD_E_LOCATION(31250),
                 "Invalid $project :: caused by :: Path collision at %s", path);
  return false;
}

/* Adds the leaf for a dotted path; *leaf is the new node. */
static bool add_path(pnode_t *root, const char *path, pnode_t **leaf, aspd_error_t *err) {
  pnode_t *at = root;
  for (const char *p = path;;) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    pnode_t *next = child_named(at, p, len);
    if (!dot) {
      if (next) return path_collision(err, path);
      *leaf = add_child(at, p, len);
      return true;
    }
    if (next && next->kind != P_TREE) return path_collision(err, path);
    at = next ? next : add_child(at, p, len);
    p = dot + 1;
  }
}

typedef struct {
  bool include, exclude;
  bool exclusion_first; /* the mode the spec set first decides which error text applies */
  const char *included, *excluded;
} modes_t;

static bool compile_spec(pnode_t *tree, const bson_value_t *spec, const char *prefix, bool top,
                         modes_t *m, aspd_stage_ctx_t *ctx, aspd_error_t *err);

static bool compile_field(pnode_t *tree, const char *key, const bson_value_t *v, bool top,
                          modes_t *m, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  pnode_t *leaf;
  bool is_id = top && !strcmp(key, "_id");
  if (v->value_type == BSON_TYPE_DOCUMENT) {
    bson_iter_t it;
    bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
    bool any = bson_iter_next(&it);
    if (!any) {
      aspd_error_set(err, ASPD_E_LOCATION(51270),
                     "Invalid $project :: caused by :: An empty sub-projection is not a valid "
                     "value. Found empty object at path");
      return false;
    }
    if (bson_iter_key(&it)[0] != '$') {
      /* A nested projection: {a: {b: 1}} is a.b. */
      if (!add_path(tree, key, &leaf, err)) return false;
      return compile_spec(leaf, v, key, false, m, ctx, err);
    }
  }
  if (!add_path(tree, key, &leaf, err)) return false;
  bool flag = v->value_type == BSON_TYPE_BOOL || aspd_value_is_number(v);
  if (flag) {
    leaf->kind = aspd_value_truthy(v) ? P_INCLUDE : P_EXCLUDE;
    if (!is_id && leaf->kind == P_INCLUDE && !m->include) m->include = true, m->included = key;
    if (!is_id && leaf->kind == P_EXCLUDE && !m->exclude) {
      m->exclusion_first = !m->include;
      m->exclude = true;
      m->excluded = key;
    }
    return true;
  }
  leaf->kind = P_EXPR;
  leaf->expr = aspd_expr_compile(ctx->cc, v, err);
  if (!leaf->expr) return false;
  if (!m->include) m->include = true, m->included = key;
  return true;
}

static bool compile_spec(pnode_t *tree, const bson_value_t *spec, const char *prefix, bool top,
                         modes_t *m, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  (void)prefix;
  bson_iter_t it;
  bson_iter_init_from_data(&it, spec->value.v_doc.data, spec->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (key[0] == '$') {
      aspd_error_set(err, ASPD_E_LOCATION(16410),
                     "Invalid $project :: caused by :: FieldPath field names may not start with "
                     "'$'. Consider using $getField or $setField.");
      return false;
    }
    if (!compile_field(tree, key, bson_iter_value(&it), top, m, ctx, err)) return false;
  }
  return true;
}

void *aspd_project_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(value)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s specification must be an object", ctx->name);
    return NULL;
  }
  bson_iter_t copy = *value;
  const bson_value_t *spec = bson_iter_value(&copy);
  if (spec->value.v_doc.data_len <= 5) {
    aspd_error_set(
        err, ASPD_E_LOCATION(51272),
        "Invalid $project :: caused by :: projection specification must have at least one field");
    return NULL;
  }
  projection_t *p = calloc(1, sizeof *p);
  modes_t m = {0};
  if (!compile_spec(&p->root, spec, "", true, &m, ctx, err)) {
    projection_free(p);
    return NULL;
  }
  if (m.include && m.exclude && m.exclusion_first) {
    aspd_error_set(err, ASPD_E_LOCATION(31253),
                   "Invalid $project :: caused by :: Cannot do inclusion on field %s in exclusion "
                   "projection",
                   m.included);
    projection_free(p);
    return NULL;
  }
  if (m.include && m.exclude) {
    aspd_error_set(err, ASPD_E_LOCATION(31254),
                   "Invalid $project :: caused by :: Cannot do exclusion on field %s in inclusion "
                   "projection",
                   m.excluded);
    projection_free(p);
    return NULL;
  }
  pnode_t *id = child_named(&p->root, "_id", 3);
  /* {_id: 1} alone is an inclusion of _id; {_id: 0} alone an exclusion. */
  p->inclusion = m.include || (!m.exclude && id && id->kind == P_INCLUDE);
  if (p->inclusion && !id) add_child(&p->root, "_id", 3)->kind = P_INCLUDE;
  return p;
}

/* $unset: a string or an array of strings, an exclusion projection. */
void *aspd_unset_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  (void)ctx;
  projection_t *p = calloc(1, sizeof *p);
  bool ok = true;
  pnode_t *leaf;
  if (BSON_ITER_HOLDS_UTF8(value)) {
    ok = add_path(&p->root, bson_iter_utf8(value, NULL), &leaf, err);
    if (ok) leaf->kind = P_EXCLUDE;
  } else if (BSON_ITER_HOLDS_ARRAY(value)) {
    bson_iter_t each;
    bson_iter_recurse(value, &each);
    while (ok && bson_iter_next(&each)) {
      if (!BSON_ITER_HOLDS_UTF8(&each)) {
        ok = false;
        aspd_error_set(err, ASPD_E_LOCATION(31120),
                       "$unset specification must be a string or an array containing only "
                       "string values");
      } else {
        ok = add_path(&p->root, bson_iter_utf8(&each, NULL), &leaf, err);
        if (ok) leaf->kind = P_EXCLUDE;
      }
    }
    if (ok && p->root.count == 0) {
      ok = false;
      aspd_error_set(err, ASPD_E_LOCATION(31119),
                     "$unset specification must be a string or an array with at least one field");
    }
  } else {
    ok = false;
    aspd_error_set(err, ASPD_E_LOCATION(31002),
                   "$unset specification must be a string or an array");
  }
  if (!ok) {
    projection_free(p);
    return NULL;
  }
  return p;
}

static bool project_doc(const pnode_t *tree, const bson_value_t *doc, bool inclusion,
                        aspd_eval_t *ev, aspd_raw_out_t *out);

/* The projection of one value below a P_TREE node: documents recurse, arrays map. */
static bool project_value(const pnode_t *tree, const bson_value_t *v, bool inclusion,
                          aspd_eval_t *ev, aspd_raw_out_t *out, const char *key, size_t key_len) {
  if (v->value_type == BSON_TYPE_DOCUMENT) {
    uint32_t child = aspd_raw_open(out, BSON_TYPE_DOCUMENT, key, key_len);
    bool ok = project_doc(tree, v, inclusion, ev, out);
    aspd_raw_close(out, child);
    return ok;
  }
  if (v->value_type == BSON_TYPE_ARRAY) {
    aspd_raw_iter_t it;
    uint32_t i = 0;
    uint32_t child = aspd_raw_open(out, BSON_TYPE_ARRAY, key, key_len);
    aspd_raw_init(&it, v->value.v_doc.data, v->value.v_doc.data_len);
    while (aspd_raw_next(&it)) {
      bson_value_t el;
      aspd_raw_value(&it, &el);
      char ikey[16];
      const char *k;
      size_t klen = bson_uint32_to_string(i, &k, ikey, sizeof ikey);
      if (el.value_type == BSON_TYPE_DOCUMENT || el.value_type == BSON_TYPE_ARRAY) {
        if (!project_value(tree, &el, inclusion, ev, out, k, klen)) return false;
        i++;
      } else if (!inclusion) {
        aspd_raw_put_value(out, k, klen, &el);
        i++;
      }
    }
    aspd_raw_close(out, child);
    return true;
  }
  if (!inclusion) aspd_raw_put_value(out, key, key_len, v);
  return true;
}

/* Appends node n as a new document of its computed fields (nothing when it has none). */
static bool computed_subtree(const pnode_t *n, aspd_eval_t *ev, aspd_raw_out_t *out) {
  bool computed = false;
  for (size_t j = 0; j < n->count && !computed; j++) computed = n->children[j]->kind == P_EXPR;
  if (!computed) return true;
  static const uint8_t empty_doc[5] = {5, 0, 0, 0, 0};
  bson_value_t empty = {.value_type = BSON_TYPE_DOCUMENT};
  empty.value.v_doc.data = aspd_bytes(empty_doc);
  empty.value.v_doc.data_len = 5;
  uint32_t child = aspd_raw_open(out, BSON_TYPE_DOCUMENT, n->name, n->name_len);
  bool ok = project_doc(n, &empty, true, ev, out);
  aspd_raw_close(out, child);
  return ok;
}

static bool project_doc(const pnode_t *tree, const bson_value_t *doc, bool inclusion,
                        aspd_eval_t *ev, aspd_raw_out_t *out) {
  aspd_raw_iter_t it;
  aspd_raw_init(&it, doc->value.v_doc.data, doc->value.v_doc.data_len);
  while (aspd_raw_next(&it)) {
    const pnode_t *n = child_named(tree, it.key, it.key_len);
    if (!n) {
      if (!inclusion) aspd_raw_put_elem(out, &it);
      continue;
    }
    switch (n->kind) {
      case P_INCLUDE:
        aspd_raw_put_elem(out, &it);
        break;
      case P_EXCLUDE:
        break;
      case P_TREE: {
        bool nested = it.type == BSON_TYPE_DOCUMENT || it.type == BSON_TYPE_ARRAY;
        if (inclusion && !nested) {
          /* A scalar under computed fields: they make a new document in its place. */
          if (!computed_subtree(n, ev, out)) return false;
          break;
        }
        bson_value_t v;
        aspd_raw_value(&it, &v);
        if (!project_value(n, &v, inclusion, ev, out, it.key, it.key_len)) return false;
        break;
      }
      default: /* computed: appended below */
        break;
    }
  }
  if (!inclusion) return true;
  for (size_t i = 0; i < tree->count; i++) {
    const pnode_t *n = tree->children[i];
    if (n->kind == P_EXPR) {
      bson_value_t v;
      if (!aspd_expr_eval(n->expr, ev, &v)) return false;
      aspd_raw_put_value(out, n->name, n->name_len, &v);
    } else if (n->kind == P_TREE) {
      bson_value_t found;
      /* Computed fields below a path the document lacks create it. */
      if (!aspd_raw_get(doc, n->name, n->name_len, &found) && !computed_subtree(n, ev, out)) {
        return false;
      }
    }
  }
  return true;
}

static void push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  const projection_t *p = ((aspd_stateless_op_t *)op)->spec;
  aspd_raw_out_t w;
  aspd_raw_out_init(&w);
  bson_value_t v = aspd_doc_value(doc);
  flow->ev->root = doc;
  if (!project_doc(&p->root, &v, p->inclusion, flow->ev, &w)) {
    aspd_raw_out_free(&w);
    aspd_flow_reject(flow, doc, flow->ev->reason);
  } else {
    bson_t *out = aspd_doc_new(flow->ev);
    aspd_raw_finish(&w, out);
    aspd_flow_emit(flow, out);
  }
  aspd_doc_release(flow->ev, doc);
}

static const aspd_op_vtable_t vt = {.push = push, .free = aspd_stateless_free};

aspd_op_t *aspd_project_make(const void *spec) {
  return aspd_stateless_make(&vt, spec);
}

void aspd_project_free_spec(void *spec) {
  projection_free(spec);
}

aspd_op_t *aspd_unset_make(const void *spec) {
  return aspd_stateless_make(&vt, spec);
}

void aspd_unset_free_spec(void *spec) {
  projection_free(spec);
}
