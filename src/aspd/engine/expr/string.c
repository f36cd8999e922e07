/* String operators: $concat, $toLower, $toUpper. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "engine/expr/operators.h"

static bool eval_concat(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t *parts = aspd_eval_alloc(ev, (e->nargs ? e->nargs : 1) * sizeof *parts);
  size_t total = 0;
  bool null = false;
  for (size_t i = 0; i < e->nargs; i++) {
    if (!aspd_expr_eval(e->args[i], ev, &parts[i])) return false;
    if (aspd_value_is_nullish(&parts[i])) {
      null = true;
    } else if (parts[i].value_type != BSON_TYPE_UTF8) {
      return aspd_eval_fail(ev, "$concat only supports strings, not %s",
                            aspd_value_type_name(&parts[i]));
    } else {
      total += parts[i].value.v_utf8.len;
    }
  }
  if (null) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  char *s = aspd_eval_alloc(ev, total + 1);
  size_t at = 0;
  for (size_t i = 0; i < e->nargs; i++) {
    memcpy(s + at, parts[i].value.v_utf8.str, parts[i].value.v_utf8.len);
    at += parts[i].value.v_utf8.len;
  }
  s[at] = '\0';
  out->value_type = BSON_TYPE_UTF8;
  out->value.v_utf8.str = s;
  out->value.v_utf8.len = (uint32_t)at;
  return true;
}

/* $toLower/$toUpper take null as the empty string and numbers as their string
 * form; only ASCII letters change case (as on the server). */
static bool change_case(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool upper) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) {
    aspd_eval_string(ev, "", 0, out);
    return true;
  }
  char buf[32];
  if (v.value_type == BSON_TYPE_INT32 || v.value_type == BSON_TYPE_INT64) {
    snprintf(buf, sizeof buf, "%lld",
             (long long)(v.value_type == BSON_TYPE_INT32 ? v.value.v_int32 : v.value.v_int64));
    aspd_eval_string(ev, buf, strlen(buf), out);
  } else if (v.value_type == BSON_TYPE_DOUBLE) {
    snprintf(buf, sizeof buf, "%g", v.value.v_double);
    aspd_eval_string(ev, buf, strlen(buf), out);
  } else if (v.value_type == BSON_TYPE_UTF8) {
    aspd_eval_string(ev, v.value.v_utf8.str, v.value.v_utf8.len, out);
  } else {
    return aspd_eval_fail(ev, "can't convert from BSON type %s to String",
                          aspd_value_type_name(&v));
  }
  char *s = out->value.v_utf8.str;
  for (uint32_t i = 0; i < out->value.v_utf8.len; i++) {
    if (s[i] & 0x80) continue;
    s[i] = (char)(upper ? toupper((unsigned char)s[i]) : tolower((unsigned char)s[i]));
  }
  return true;
}

static bool eval_to_lower(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return change_case(e, ev, out, false);
}

static bool eval_to_upper(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return change_case(e, ev, out, true);
}

static const aspd_expr_op_t ops[] = {
    {"$concat", 0, -1, eval_concat, NULL},
    {"$toLower", 1, 1, eval_to_lower, NULL},
    {"$toUpper", 1, 1, eval_to_upper, NULL},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_string_ops = {ops};
