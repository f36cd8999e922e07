/* $literal, and $meta: the stream metadata ("stream[.path]"), with the window
 * bounds of the window an inner pipeline runs in. */
#include <stdlib.h>
#include <string.h>

#include "engine/expr/operators.h"

static bool eval_literal(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  (void)ev;
  *out = e->value;
  return true;
}

static bool compile_literal(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                            aspd_error_t *err) {
  (void)cc;
  (void)err;
  e->owned = bson_new();
  bson_append_value(e->owned, "v", 1, operand);
  bson_iter_t it;
  bson_iter_init_find(&it, e->owned, "v");
  e->value = *bson_iter_value(&it);
  return true;
}

/* e->path: the components after "stream". */
static bool eval_meta(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  out->value_type = BSON_TYPE_EOD;
  if (ev->in_window && e->path_len == 2 && !strcmp(e->path[0], "window")) {
    if (!strcmp(e->path[1], "start") || !strcmp(e->path[1], "end")) {
      out->value_type = BSON_TYPE_DATE_TIME;
      out->value.v_datetime = e->path[1][0] == 's' ? ev->window_start : ev->window_end;
      return true;
    }
    if (!strcmp(e->path[1], "partition") && ev->window_partition) {
      *out = *ev->window_partition;
      return true;
    }
  }
  bson_iter_t it, found;
  if (!ev->meta_field || !ev->root || !bson_iter_init_find(&it, ev->root, ev->meta_field)) {
    return true;
  }
  for (size_t i = 0; i < e->path_len; i++) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &found) ||
        !bson_iter_find(&found, e->path[i])) {
      return true;
    }
    it = found;
  }
  *out = *bson_iter_value(&it);
  return true;
}

static bool compile_meta(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                         aspd_error_t *err) {
  (void)cc;
  const char *s = operand->value_type == BSON_TYPE_UTF8 ? operand->value.v_utf8.str : NULL;
  if (!s || strncmp(s, "stream", 6) || (s[6] && s[6] != '.')) {
    aspd_error_set(err, ASPD_E_LOCATION(17308), "Unsupported argument to $meta: %s",
                   s ? s : "(not a string)");
    return false;
  }
  for (const char *p = s[6] ? s + 7 : s + 6; *p;) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    e->path = realloc(e->path, (e->path_len + 1) * sizeof *e->path);
    e->path[e->path_len++] = strndup(p, len);
    p += len + (dot ? 1 : 0);
  }
  return true;
}

static const aspd_expr_op_t ops[] = {
    {"$literal", 0, 0, eval_literal, compile_literal},
    {"$meta", 0, 0, eval_meta, compile_meta},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_special_ops = {ops};
