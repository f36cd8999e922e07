/* Exact comparison of aspd's outputs with a case's expectation: the same BSON types
 * (int32, int64, double and decimal are all different), the same field order, doubles
 * bit for bit (NaN equals NaN; -0 is not 0) unless the case gives a tolerance.
 *
 * The source stamps `_ts` and `_stream_meta` on every document; they are dropped from
 * the top level of an output unless some expected document has them. A dead letter
 * ({_dlqMessage: {errInfo: {reason}}}) is expected as {$dlq: "text"} or
 * {$dlq: {message, code}}: the reason must contain the text, and the code must match
 * when the dead letter carries one (errInfo.code). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conformance.h"

typedef struct {
  bool unordered_arrays;
  double tolerance;
  char *diff; /* the first difference found */
} cmp_t;

static char *json_of_value(const bson_value_t *v) {
  bson_t holder = BSON_INITIALIZER;
  bson_append_value(&holder, "v", 1, v);
  char *full = bson_as_canonical_extended_json(&holder, NULL);
  bson_destroy(&holder);
  /* Strip the {"v" : ...} wrapper. */
  char *inner = bson_strdup(full + strlen("{ \"v\" : "));
  bson_free(full);
  size_t n = strlen(inner);
  if (n >= 2) inner[n - 2] = '\0';
  return inner;
}

static bool differ(cmp_t *c, const char *path, const bson_value_t *want, const bson_value_t *got,
                   const char *why) {
  if (c->diff) return false;
  char *w = want ? json_of_value(want) : bson_strdup("(missing)");
  char *g = got ? json_of_value(got) : bson_strdup("(missing)");
  c->diff = bson_strdup_printf("at %s: %s: wanted %s, got %s", *path ? path : "(top)", why, w, g);
  bson_free(w);
  bson_free(g);
  return false;
}

static bool value_equal(cmp_t *c, const char *path, const bson_value_t *a, const bson_value_t *b);

static void iter_of(const bson_value_t *v, bson_iter_t *it) {
  bson_iter_init_from_data(it, v->value.v_doc.data, v->value.v_doc.data_len);
}

static bool document_equal(cmp_t *c, const char *path, const bson_value_t *a,
                           const bson_value_t *b) {
  bson_iter_t ia, ib;
  iter_of(a, &ia);
  iter_of(b, &ib);
  for (;;) {
    bool na = bson_iter_next(&ia), nb = bson_iter_next(&ib);
    if (!na && !nb) return true;
    if (!na || !nb || strcmp(bson_iter_key(&ia), bson_iter_key(&ib)) != 0) {
      char *why = bson_strdup_printf("fields differ (next wanted '%s', got '%s')",
                                     na ? bson_iter_key(&ia) : "end of document",
                                     nb ? bson_iter_key(&ib) : "end of document");
      differ(c, path, a, b, why);
      bson_free(why);
      return false;
    }
    char *sub = bson_strdup_printf("%s%s%s", path, *path ? "." : "", bson_iter_key(&ia));
    bool eq = value_equal(c, sub, bson_iter_value(&ia), bson_iter_value(&ib));
    bson_free(sub);
    if (!eq) return false;
  }
}

static bool array_equal(cmp_t *c, const char *path, const bson_value_t *a, const bson_value_t *b) {
  bson_value_t va[512], vb[512];
  size_t na = 0, nb = 0;
  bson_iter_t it;
  iter_of(a, &it);
  while (bson_iter_next(&it) && na < 512) va[na++] = *bson_iter_value(&it);
  iter_of(b, &it);
  while (bson_iter_next(&it) && nb < 512) vb[nb++] = *bson_iter_value(&it);
  if (na != nb) return differ(c, path, a, b, "array lengths differ");
  if (!c->unordered_arrays) {
    for (size_t i = 0; i < na; i++) {
      char *sub = bson_strdup_printf("%s[%zu]", path, i);
      bool eq = value_equal(c, sub, &va[i], &vb[i]);
      bson_free(sub);
      if (!eq) return false;
    }
    return true;
  }
  bool used[512] = {false};
  for (size_t i = 0; i < na; i++) {
    bool found = false;
    for (size_t j = 0; j < nb && !found; j++) {
      if (used[j]) continue;
      cmp_t probe = {c->unordered_arrays, c->tolerance, NULL};
      found = value_equal(&probe, path, &va[i], &vb[j]);
      bson_free(probe.diff);
      if (found) used[j] = true;
    }
    if (!found) return differ(c, path, a, b, "arrays differ as sets");
  }
  return true;
}

static bool double_equal(const cmp_t *c, double a, double b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  if (c->tolerance > 0 && isfinite(a) && isfinite(b)) {
    return fabs(a - b) <= c->tolerance * fmax(fabs(a), fabs(b));
  }
  return a == b && signbit(a) == signbit(b);
}

static bool value_equal(cmp_t *c, const char *path, const bson_value_t *a, const bson_value_t *b) {
  if (a->value_type != b->value_type) return differ(c, path, a, b, "types differ");
  switch (a->value_type) {
    case BSON_TYPE_DOCUMENT:
      return document_equal(c, path, a, b);
    case BSON_TYPE_ARRAY:
      return array_equal(c, path, a, b);
    case BSON_TYPE_DOUBLE:
      return double_equal(c, a->value.v_double, b->value.v_double) ||
             differ(c, path, a, b, "doubles differ");
    default: {
      /* Every other type is equal exactly when its canonical Extended JSON is. */
      char *ja = json_of_value(a), *jb = json_of_value(b);
      bool eq = !strcmp(ja, jb);
      bson_free(ja);
      bson_free(jb);
      return eq || differ(c, path, a, b, "values differ");
    }
  }
}

/* An output as the comparison sees it: a document (stamps dropped) or a dead letter. */
typedef struct {
  bool dlq;
  const char *reason;
  int32_t code;
  bson_t doc; /* owned */
} output_t;

static bool has_top_key(const bson_t *expected, const char *key) {
  bson_iter_t it, doc;
  bson_iter_init(&it, expected);
  while (bson_iter_next(&it)) {
    if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &doc) &&
        bson_iter_find(&doc, key)) {
      return true;
    }
  }
  return false;
}

static void read_output(const bson_value_t *v, bool keep_ts, bool keep_meta, output_t *o) {
  memset(o, 0, sizeof *o);
  bson_init(&o->doc);
  if (v->value_type != BSON_TYPE_DOCUMENT) return;
  bson_t in;
  bson_init_static(&in, v->value.v_doc.data, v->value.v_doc.data_len);
  bson_iter_t it, r;
  if (bson_iter_init_find(&it, &in, "_dlqMessage")) {
    o->dlq = true;
    o->reason = "";
    if (bson_iter_init(&r, &in) &&
        bson_iter_find_descendant(&r, "_dlqMessage.errInfo.reason", &r) &&
        BSON_ITER_HOLDS_UTF8(&r)) {
      o->reason = bson_iter_utf8(&r, NULL);
    }
    if (bson_iter_init(&r, &in) && bson_iter_find_descendant(&r, "_dlqMessage.errInfo.code", &r) &&
        BSON_ITER_HOLDS_INT32(&r)) {
      o->code = bson_iter_int32(&r);
    }
    return;
  }
  bson_iter_init(&it, &in);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    if ((!keep_ts && !strcmp(k, "_ts")) || (!keep_meta && !strcmp(k, "_stream_meta"))) continue;
    bson_append_value(&o->doc, k, -1, bson_iter_value(&it));
  }
}

/* {$dlq: "text"} or {$dlq: {message, code}}: true and the parts when want is one. */
static bool wanted_dlq(const bson_value_t *want, const char **message, int32_t *code) {
  *message = NULL;
  *code = 0;
  if (want->value_type != BSON_TYPE_DOCUMENT) return false;
  bson_iter_t it, sub;
  iter_of(want, &it);
  if (!bson_iter_next(&it) || strcmp(bson_iter_key(&it), "$dlq") != 0) return false;
  if (BSON_ITER_HOLDS_UTF8(&it)) {
    *message = bson_iter_utf8(&it, NULL);
  } else if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &sub)) {
    while (bson_iter_next(&sub)) {
      if (!strcmp(bson_iter_key(&sub), "message") && BSON_ITER_HOLDS_UTF8(&sub)) {
        *message = bson_iter_utf8(&sub, NULL);
      } else if (!strcmp(bson_iter_key(&sub), "code") && BSON_ITER_HOLDS_INT32(&sub)) {
        *code = bson_iter_int32(&sub);
      }
    }
  }
  return true;
}

static bool dlq_matches(const output_t *o, const char *message, int32_t code) {
  return o->dlq && (!message || strstr(o->reason, message)) &&
         (!code || !o->code || o->code == code);
}

static bool output_matches(cmp_t *c, const char *path, const bson_value_t *want,
                           const output_t *o) {
  const char *message;
  int32_t code;
  if (wanted_dlq(want, &message, &code)) {
    if (dlq_matches(o, message, code)) return true;
    if (!c->diff && o->dlq) {
      c->diff = bson_strdup_printf(
          "at %s: wanted a dead letter with \"%s\" (code %d), got one "
          "with \"%s\" (code %d)",
          path, message ? message : "", code, o->reason, o->code);
    } else if (!c->diff) {
      char *g = bson_as_canonical_extended_json(&o->doc, NULL);
      c->diff = bson_strdup_printf("at %s: wanted a dead letter with \"%s\", got %s", path,
                                   message ? message : "", g);
      bson_free(g);
    }
    return false;
  }
  if (o->dlq) {
    if (!c->diff) {
      char *w = json_of_value(want);
      c->diff = bson_strdup_printf("at %s: wanted %s, got a dead letter: %s", path, w, o->reason);
      bson_free(w);
    }
    return false;
  }
  bson_value_t got = {.value_type = BSON_TYPE_DOCUMENT};
  got.value.v_doc.data = (uint8_t *)(uintptr_t)bson_get_data(&o->doc);
  got.value.v_doc.data_len = o->doc.len;
  return value_equal(c, path, want, &got);
}

static size_t count_elements(const bson_t *array) {
  size_t n = 0;
  bson_iter_t it;
  bson_iter_init(&it, array);
  while (bson_iter_next(&it)) n++;
  return n;
}

static char *all_outputs(const bson_t *outputs) {
  return bson_as_canonical_extended_json(outputs, NULL);
}

bool conf_compare_outputs(const conf_case_t *k, const bson_t *outputs, char **diff) {
  *diff = NULL;
  size_t n = count_elements(outputs);
  output_t *got = bson_malloc0((n + 1) * sizeof *got);
  bool keep_ts = k->has_expected && has_top_key(&k->expected, "_ts");
  bool keep_meta = k->has_expected && has_top_key(&k->expected, "_stream_meta");
  bson_iter_t it;
  bson_iter_init(&it, outputs);
  for (size_t i = 0; bson_iter_next(&it); i++)
    read_output(bson_iter_value(&it), keep_ts, keep_meta, &got[i]);
  cmp_t c = {k->unordered_arrays, k->tolerance, NULL};
  bool ok = true;
  if (k->has_error) {
    /* The planner accepted it: then every document must have been dead-lettered. */
    ok = n > 0;
    for (size_t i = 0; i < n && ok; i++) ok = dlq_matches(&got[i], k->err_message, k->err_code);
    if (!ok) {
      char *all = all_outputs(outputs);
      c.diff = bson_strdup_printf(
          "wanted error %d \"%s\" (at planning, or a dead letter for "
          "every document), got outputs %s",
          k->err_code, k->err_message ? k->err_message : "", all);
      bson_free(all);
    }
  } else if (n != count_elements(&k->expected)) {
    ok = false;
  } else if (!k->unordered) {
    bson_iter_init(&it, &k->expected);
    for (size_t i = 0; ok && bson_iter_next(&it); i++) {
      char path[32];
      snprintf(path, sizeof path, "output[%zu]", i);
      ok = output_matches(&c, path, bson_iter_value(&it), &got[i]);
    }
  } else {
    bool *used = bson_malloc0(n + 1);
    bson_iter_init(&it, &k->expected);
    for (size_t i = 0; ok && bson_iter_next(&it); i++) {
      bool found = false;
      for (size_t j = 0; j < n && !found; j++) {
        if (used[j]) continue;
        cmp_t probe = {c.unordered_arrays, c.tolerance, NULL};
        found = output_matches(&probe, "output", bson_iter_value(&it), &got[j]);
        bson_free(probe.diff);
        used[j] = found;
      }
      if (!found) {
        char *w = json_of_value(bson_iter_value(&it));
        c.diff = bson_strdup_printf("wanted output %s is not among the outputs", w);
        bson_free(w);
        ok = false;
      }
    }
    bson_free(used);
  }
  if (!ok) {
    char *all = all_outputs(outputs);
    char *want = k->has_expected ? bson_as_canonical_extended_json(&k->expected, NULL) : NULL;
    if (want) {
      *diff = bson_strdup_printf("%s%s%zu outputs, %zu expected\n    wanted: %s\n    got:    %s",
                                 c.diff ? c.diff : "", c.diff ? "\n    " : "", n,
                                 count_elements(&k->expected), want, all);
    } else {
      *diff = bson_strdup(c.diff);
    }
    bson_free(want);
    bson_free(all);
  }
  bson_free(c.diff);
  for (size_t i = 0; i < n; i++) bson_destroy(&got[i].doc);
  bson_free(got);
  return ok;
}

bool conf_compare_error(const conf_case_t *k, uint32_t code, const char *message, char **diff) {
  if (k->has_error && (!k->err_code || (uint32_t)k->err_code == code) &&
      (!k->err_message || strstr(message, k->err_message))) {
    *diff = NULL;
    return true;
  }
  if (k->has_error) {
    *diff = bson_strdup_printf("wanted error %d \"%s\", got error %u \"%s\"", k->err_code,
                               k->err_message ? k->err_message : "", code, message);
  } else {
    *diff = bson_strdup_printf("the pipeline was refused: error %u \"%s\"", code, message);
  }
  return false;
}
