/* Object and scope operators: $mergeObjects, $getField, $setField, $unsetField,
 * $switch and $let. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/operators.h"

/* ---- $mergeObjects ------------------------------------------------------------ */

/* Appends every field of src to the fields gathered so far; a field already there
 * takes the new value in its old place. */
typedef struct {
  const char **keys;
  bson_value_t *vals;
  size_t n, cap;
} fields_t;

static void fields_put(aspd_eval_t *ev, fields_t *f, const char *key, const bson_value_t *v) {
  for (size_t i = 0; i < f->n; i++) {
    if (!strcmp(f->keys[i], key)) {
      f->vals[i] = *v;
      return;
    }
  }
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 16;
    const char **keys = aspd_eval_alloc(ev, cap * sizeof *keys);
    bson_value_t *vals = aspd_eval_alloc(ev, cap * sizeof *vals);
    if (f->n) {
      memcpy(keys, f->keys, f->n * sizeof *keys);
      memcpy(vals, f->vals, f->n * sizeof *vals);
    }
    f->keys = keys;
    f->vals = vals;
    f->cap = cap;
  }
  f->keys[f->n] = key;
  f->vals[f->n++] = *v;
}

static void fields_result(aspd_eval_t *ev, const fields_t *f, bson_value_t *out) {
  bson_t doc = BSON_INITIALIZER;
  for (size_t i = 0; i < f->n; i++)
    aspd_append_value(&doc, f->keys[i], strlen(f->keys[i]), &f->vals[i]);
  aspd_eval_bson(ev, &doc, false, out);
  bson_destroy(&doc);
}

static bool eval_merge_objects(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  fields_t f = {0};
  for (size_t i = 0; i < e->nargs; i++) {
    bson_value_t d;
    if (!aspd_expr_eval(e->args[i], ev, &d)) return false;
    if (aspd_value_is_nullish(&d)) continue;
    if (d.value_type != BSON_TYPE_DOCUMENT) {
      return aspd_eval_fail(ev, "$mergeObjects requires object inputs, but input %s is of type %s",
                            aspd_eval_json(ev, &d), aspd_value_type_name(&d));
    }
    bson_iter_t it;
    bson_iter_init_from_data(&it, d.value.v_doc.data, d.value.v_doc.data_len);
    while (bson_iter_next(&it)) fields_put(ev, &f, bson_iter_key(&it), bson_iter_value(&it));
  }
  fields_result(ev, &f, out);
  return true;
}

/* ---- $getField, $setField, $unsetField ------------------------------------------- */

/* args: field (a constant string), input (NULL: $$CURRENT), value. */
static const char *const NAMES_FIELD[] = {"field", "input", "value"};

static bool check_field(const aspd_expr_t *e, aspd_error_t *err) {
  if (!aspd_expr_is_constant(e->args[0]) || e->args[0]->value.value_type != BSON_TYPE_UTF8) {
    aspd_error_set(err, ASPD_E_LOCATION(5654602),
                   "%s requires 'field' to evaluate to a constant "
                   "of type String",
                   e->name);
    return false;
  }
  return true;
}

static bool compile_get_field(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                              aspd_error_t *err) {
  if (operand->value_type != BSON_TYPE_DOCUMENT) {
    /* The short form: {$getField: "name"} reads the current document. */
    e->args = calloc(3, sizeof *e->args);
    e->nargs = 3;
    e->args[0] = aspd_expr_compile(cc, operand, err);
    return e->args[0] && check_field(e, err);
  }
  return aspd_expr_compile_named(cc, operand, e, NAMES_FIELD, 2, 1, err) && check_field(e, err);
}

static bool compile_set_field(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                              aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_FIELD, 3, 7, err) && check_field(e, err);
}

static bool compile_unset_field(aspd_expr_compiler_t *cc, const bson_value_t *operand,
                                aspd_expr_t *e, aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_FIELD, 2, 3, err) && check_field(e, err);
}

/* The input object: false on error; *null when it is nullish. */
static bool field_input(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *in, bool *null) {
  if (e->args[1]) {
    if (!aspd_expr_eval(e->args[1], ev, in)) return false;
  } else if (ev->root) {
    in->value_type = BSON_TYPE_DOCUMENT;
    in->value.v_doc.data = aspd_bytes(bson_get_data(ev->root));
    in->value.v_doc.data_len = ev->root->len;
  } else {
    in->value_type = BSON_TYPE_EOD;
  }
  *null = aspd_value_is_nullish(in);
  if (!*null && in->value_type != BSON_TYPE_DOCUMENT) {
    return aspd_eval_fail(ev, "%s requires 'input' to evaluate to type Object, but got %s", e->name,
                          aspd_value_type_name(in));
  }
  return true;
}

static bool eval_get_field(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t in;
  bool null;
  if (!field_input(e, ev, &in, &null)) return false;
  if (null) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  bson_iter_t it;
  out->value_type = BSON_TYPE_EOD;
  bson_iter_init_from_data(&it, in.value.v_doc.data, in.value.v_doc.data_len);
  const char *field = e->args[0]->value.value.v_utf8.str;
  while (bson_iter_next(&it)) {
    if (!strcmp(bson_iter_key(&it), field)) *out = *bson_iter_value(&it);
  }
  return true;
}

/* $setField with value missing (also $$REMOVE) and $unsetField remove the field. */
static bool set_field(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool unset) {
  bson_value_t in, value = {.value_type = BSON_TYPE_EOD};
  bool null;
  if (!field_input(e, ev, &in, &null)) return false;
  if (!unset && !aspd_expr_eval(e->args[2], ev, &value)) return false;
  if (null) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  const char *field = e->args[0]->value.value.v_utf8.str;
  bson_t doc = BSON_INITIALIZER;
  bool placed = false;
  bson_iter_t it;
  bson_iter_init_from_data(&it, in.value.v_doc.data, in.value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    if (strcmp(bson_iter_key(&it), field) != 0) {
      bson_append_value(&doc, bson_iter_key(&it), -1, bson_iter_value(&it));
    } else if (!placed) {
      aspd_append_value(&doc, field, strlen(field), &value);
      placed = true;
    }
  }
  if (!placed) aspd_append_value(&doc, field, strlen(field), &value);
  aspd_eval_bson(ev, &doc, false, out);
  bson_destroy(&doc);
  return true;
}

static bool eval_set_field(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return set_field(e, ev, out, false);
}

static bool eval_unset_field(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return set_field(e, ev, out, true);
}

/* ---- $switch ------------------------------------------------------------------------ */

/* args: case0, then0, case1, then1, ..., default (NULL when absent). */
static bool compile_switch(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                           aspd_error_t *err) {
  if (operand->value_type != BSON_TYPE_DOCUMENT) {
    aspd_error_set(err, ASPD_E_LOCATION(40060),
                   "$switch requires an object as an argument, "
                   "found: %s",
                   aspd_value_type_name(operand));
    return false;
  }
  bson_iter_t it, br, fields;
  /* Copies: bson_iter_value points into the iterator, which moves on. */
  bson_value_t branches_v, def_v;
  const bson_value_t *branches = NULL, *def = NULL;
  bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    if (!strcmp(bson_iter_key(&it), "branches")) {
      if (!BSON_ITER_HOLDS_ARRAY(&it)) {
        aspd_error_set(err, ASPD_E_LOCATION(40061),
                       "$switch expected an array for 'branches', "
                       "found: %s",
                       aspd_value_type_name(bson_iter_value(&it)));
        return false;
      }
      branches_v = *bson_iter_value(&it);
      branches = &branches_v;
    } else if (!strcmp(bson_iter_key(&it), "default")) {
      def_v = *bson_iter_value(&it);
      def = &def_v;
    } else {
      aspd_error_set(err, ASPD_E_LOCATION(40067), "$switch found an unknown argument: %s",
                     bson_iter_key(&it));
      return false;
    }
  }
  size_t n = 0;
  if (branches) {
    bson_iter_init_from_data(&br, branches->value.v_doc.data, branches->value.v_doc.data_len);
    while (bson_iter_next(&br)) n++;
  }
  if (n == 0) {
    aspd_error_set(err, ASPD_E_LOCATION(40068), "$switch requires at least one branch.");
    return false;
  }
  e->nargs = 2 * n + 1;
  e->args = calloc(e->nargs, sizeof *e->args);
  size_t i = 0;
  bson_iter_init_from_data(&br, branches->value.v_doc.data, branches->value.v_doc.data_len);
  while (bson_iter_next(&br)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&br)) {
      aspd_error_set(err, ASPD_E_LOCATION(40062),
                     "$switch expected each branch to be an object, "
                     "found: %s",
                     aspd_value_type_name(bson_iter_value(&br)));
      return false;
    }
    bson_iter_recurse(&br, &fields);
    while (bson_iter_next(&fields)) {
      const char *k = bson_iter_key(&fields);
      size_t slot = !strcmp(k, "case") ? i : !strcmp(k, "then") ? i + 1 : SIZE_MAX;
      if (slot == SIZE_MAX) {
        aspd_error_set(err, ASPD_E_LOCATION(40063),
                       "$switch found an unknown argument to a "
                       "branch: %s",
                       k);
        return false;
      }
      /* A branch naming case or then twice: the last one counts, the first is freed. */
      aspd_expr_free(e->args[slot]);
      e->args[slot] = aspd_expr_compile(cc, bson_iter_value(&fields), err);
      if (!e->args[slot]) return false;
    }
    if (!e->args[i]) {
      aspd_error_set(err, ASPD_E_LOCATION(40064),
                     "$switch requires each branch have a 'case' "
                     "expression");
      return false;
    }
    if (!e->args[i + 1]) {
      aspd_error_set(err, ASPD_E_LOCATION(40065),
                     "$switch requires each branch have a 'then' "
                     "expression.");
      return false;
    }
    i += 2;
  }
  if (def) {
    e->args[e->nargs - 1] = aspd_expr_compile(cc, def, err);
    if (!e->args[e->nargs - 1]) return false;
  }
  return true;
}

static bool eval_switch(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  for (size_t i = 0; i + 1 < e->nargs; i += 2) {
    bson_value_t c;
    if (!aspd_expr_eval(e->args[i], ev, &c)) return false;
    if (aspd_value_truthy(&c)) return aspd_expr_eval(e->args[i + 1], ev, out);
  }
  if (!e->args[e->nargs - 1]) {
    return aspd_eval_fail(ev,
                          "$switch could not find a matching branch for an input, and no "
                          "default was specified.");
  }
  return aspd_expr_eval(e->args[e->nargs - 1], ev, out);
}

/* ---- $let ----------------------------------------------------------------------------- */

/* args: the variables' expressions, then `in`; data: their slots. */
typedef struct {
  size_t n;
  int slots[ASPD_EXPR_MAX_VARS];
} let_t;

bool aspd_expr_valid_var_name(const char *name) {
  if (!*name) return false;
  unsigned char c = (unsigned char)*name;
  if (!(islower(c) || c >= 0x80)) return false;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    if (!(isalnum(*p) || *p == '_' || *p >= 0x80)) return false;
  }
  return true;
}

static bool compile_let(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                        aspd_error_t *err) {
  if (operand->value_type != BSON_TYPE_DOCUMENT) {
    aspd_error_set(err, ASPD_E_LOCATION(16874), "$let only supports an object as its argument");
    return false;
  }
  bson_iter_t it, vars;
  bson_value_t in_v; /* a copy: bson_iter_value points into the iterator */
  const bson_value_t *in = NULL;
  bool has_vars = false;
  bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    if (!strcmp(bson_iter_key(&it), "vars") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      bson_iter_recurse(&it, &vars);
      has_vars = true;
    } else if (!strcmp(bson_iter_key(&it), "in")) {
      in_v = *bson_iter_value(&it);
      in = &in_v;
    } else {
      aspd_error_set(err, ASPD_E_LOCATION(16875), "Unrecognized parameter to $let: %s",
                     bson_iter_key(&it));
      return false;
    }
  }
  if (!has_vars) {
    aspd_error_set(err, ASPD_E_LOCATION(16876), "Missing 'vars' parameter to $let");
    return false;
  }
  if (!in) {
    aspd_error_set(err, ASPD_E_LOCATION(16877), "Missing 'in' parameter to $let");
    return false;
  }
  let_t *l = calloc(1, sizeof *l);
  e->data = l;
  e->free_data = free;
  e->args = calloc(ASPD_EXPR_MAX_VARS + 1, sizeof *e->args);
  const char *names[ASPD_EXPR_MAX_VARS];
  /* The values are compiled in the outer scope; `in` sees the new names. */
  while (bson_iter_next(&vars)) {
    const char *name = bson_iter_key(&vars);
    if (!aspd_expr_valid_var_name(name)) {
      aspd_error_set(err, ASPD_E_LOCATION(16870),
                     "'%s' starts with an invalid character for a "
                     "user variable name",
                     name);
      return false;
    }
    if (l->n == ASPD_EXPR_MAX_VARS) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "too many variables in $let");
      return false;
    }
    names[l->n] = name;
    e->args[l->n] = aspd_expr_compile(cc, bson_iter_value(&vars), err);
    if (!e->args[l->n++]) return false;
    e->nargs = l->n;
  }
  for (size_t i = 0; i < l->n; i++) {
    l->slots[i] = aspd_expr_scope_push(cc, names[i], err);
    if (l->slots[i] < 0) {
      for (size_t j = 0; j < i; j++) aspd_expr_scope_pop(cc);
      return false;
    }
  }
  e->args[l->n] = aspd_expr_compile(cc, in, err);
  for (size_t i = 0; i < l->n; i++) aspd_expr_scope_pop(cc);
  e->nargs = l->n + 1;
  return e->args[l->n] != NULL;
}

static bool eval_let(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  const let_t *l = e->data;
  bson_value_t vals[ASPD_EXPR_MAX_VARS];
  for (size_t i = 0; i < l->n; i++) {
    if (!aspd_expr_eval(e->args[i], ev, &vals[i])) return false;
  }
  for (size_t i = 0; i < l->n; i++) ev->vars[l->slots[i]] = vals[i];
  return aspd_expr_eval(e->args[l->n], ev, out);
}

static const aspd_expr_op_t ops[] = {
    {"$mergeObjects", 0, -1, eval_merge_objects, NULL},
    {"$getField", 0, 0, eval_get_field, compile_get_field},
    {"$setField", 0, 0, eval_set_field, compile_set_field},
    {"$unsetField", 0, 0, eval_unset_field, compile_unset_field},
    {"$switch", 0, 0, eval_switch, compile_switch},
    {"$let", 0, 0, eval_let, compile_let},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_object_ops = {ops};
