/* $group: groups by the _id expression (one hash table of groups, in the
 * order they first appeared; keys that compare equal, like 1 and 1.0, are one
 * group that keeps the first value seen) and hands on one document per group
 * at flush. */
#include <stdlib.h>
#include <string.h>

#include "engine/accumulators/accumulators.h"
#include "engine/expr/bson_raw.h"
#include "engine/ops/stages.h"

typedef struct {
  aspd_expr_t *id;
  size_t count;
  char **fields;
  aspd_acc_spec_t *accs;
} group_spec_t;

typedef struct {
  bson_t *id; /* {v: <_id>} */
  uint64_t hash;
  aspd_acc_t *accs;
} group_t;

typedef struct {
  aspd_op_t base;
  const group_spec_t *spec;
  group_t *groups; /* in order of appearance */
  size_t count, cap;
  size_t *slots; /* open addressing over groups: index + 1, 0 = empty */
  size_t slot_cap;
  int64_t bytes;
} group_op_t;

void aspd_group_free_spec(void *spec) {
  group_spec_t *g = spec;
  aspd_expr_free(g->id);
  for (size_t i = 0; i < g->count; i++) {
    free(g->fields[i]);
    aspd_acc_spec_free(&g->accs[i]);
  }
  free(g->fields);
  free(g->accs);
  free(g);
}

void *aspd_group_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(value)) {
    aspd_error_set(err, ASPD_E_LOCATION(15947), "a group's fields must be specified in an object");
    return NULL;
  }
  bson_t spec;
  aspd_spec_doc(value, &spec);
  bson_iter_t it;
  if (!bson_iter_init_find(&it, &spec, "_id")) {
    aspd_error_set(err, ASPD_E_LOCATION(15955), "a group specification must specify an _id");
    return NULL;
  }
  group_spec_t *g = calloc(1, sizeof *g);
  g->id = aspd_expr_compile(ctx->cc, bson_iter_value(&it), err);
  bool ok = g->id != NULL;
  size_t n = 0;
  bson_iter_init(&it, &spec);
  while (bson_iter_next(&it)) n++;
  g->fields = calloc(n, sizeof *g->fields);
  g->accs = calloc(n, sizeof *g->accs);
  bson_iter_init(&it, &spec);
  while (ok && bson_iter_next(&it)) {
    const char *field = bson_iter_key(&it);
    if (!strcmp(field, "_id")) continue;
    bson_iter_t acc;
    if (strchr(field, '.')) {
      aspd_error_set(err, ASPD_E_LOCATION(40235), "The field name '%s' cannot contain '.'", field);
      ok = false;
    } else if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &acc) ||
               !bson_iter_next(&acc)) {
      aspd_error_set(err, ASPD_E_LOCATION(40234), "The field '%s' must be an accumulator object",
                     field);
      ok = false;
    } else {
      bson_iter_t extra = acc;
      if (bson_iter_next(&extra)) {
        aspd_error_set(err, ASPD_E_LOCATION(40238), "The field '%s' must specify one accumulator",
                       field);
        ok = false;
      } else {
        ok = aspd_acc_spec_compile(ctx->cc, bson_iter_key(&acc), bson_iter_value(&acc),
                                   &g->accs[g->count], err);
        g->fields[g->count++] = strdup(field);
      }
    }
  }
  if (!ok) {
    aspd_group_free_spec(g);
    return NULL;
  }
  return g;
}

/* The group key held as {v: <_id>}. */
static bson_value_t id_of(const bson_t *holder) {
  bson_value_t whole = aspd_doc_value(holder), v = {.value_type = BSON_TYPE_EOD};
  aspd_raw_get(&whole, "v", 1, &v);
  return v;
}

static void rehash(group_op_t *g) {
  free(g->slots);
  g->slot_cap = g->slot_cap ? g->slot_cap * 2 : 64;
  g->slots = calloc(g->slot_cap, sizeof *g->slots);
  for (size_t i = 0; i < g->count; i++) {
    size_t s = g->groups[i].hash & (g->slot_cap - 1);
    while (g->slots[s]) s = (s + 1) & (g->slot_cap - 1);
    g->slots[s] = i + 1;
  }
}

static group_t *find_or_add(group_op_t *g, const bson_t *id) {
  bson_value_t key = id_of(id);
  uint64_t h = aspd_value_hash(&key);
  if (g->slot_cap) {
    for (size_t s = h & (g->slot_cap - 1); g->slots[s]; s = (s + 1) & (g->slot_cap - 1)) {
      group_t *c = &g->groups[g->slots[s] - 1];
      if (c->hash != h) continue;
      bson_value_t cand = id_of(c->id);
      if (aspd_value_equal(&cand, &key)) return c;
    }
  }
  if (g->count == g->cap) {
    g->cap = g->cap ? g->cap * 2 : 16;
    g->groups = realloc(g->groups, g->cap * sizeof *g->groups);
  }
  group_t *n = &g->groups[g->count++];
  n->id = bson_copy(id);
  n->hash = h;
  n->accs = calloc(g->spec->count ? g->spec->count : 1, sizeof *n->accs);
  g->bytes += id->len + (int64_t)(g->spec->count * sizeof *n->accs);
  if (g->count * 2 > g->slot_cap) {
    rehash(g);
  } else {
    size_t s = h & (g->slot_cap - 1);
    while (g->slots[s]) s = (s + 1) & (g->slot_cap - 1);
    g->slots[s] = g->count;
  }
  return n;
}

static void push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  group_op_t *g = (group_op_t *)op;
  const group_spec_t *spec = g->spec;
  bson_value_t id;
  if (!aspd_expr_eval_root(spec->id, flow->ev, doc, &id)) {
    aspd_flow_reject(flow, doc, flow->ev->reason);
    bson_destroy(doc);
    return;
  }
  bson_t key = BSON_INITIALIZER;
  if (id.value_type == BSON_TYPE_EOD) {
    bson_append_null(&key, "v", 1);
  } else {
    bson_append_value(&key, "v", 1, &id);
  }
  group_t *grp = find_or_add(g, &key);
  bson_destroy(&key);
  for (size_t i = 0; i < spec->count; i++) {
    if (!aspd_acc_step(&spec->accs[i], &grp->accs[i], flow->ev)) {
      aspd_flow_reject(flow, doc, flow->ev->reason);
      break;
    }
  }
  aspd_doc_release(flow->ev, doc);
}

static void flush(aspd_op_t *op, const aspd_flush_t *why, aspd_flow_t *flow) {
  (void)why;
  group_op_t *g = (group_op_t *)op;
  size_t count = g->count;
  group_t *groups = g->groups;
  g->groups = NULL;
  g->count = g->cap = 0;
  free(g->slots);
  g->slots = NULL;
  g->slot_cap = 0;
  g->bytes = 0;
  for (size_t i = 0; i < count; i++) {
    bson_t *out = bson_new();
    bson_iter_t idv;
    bson_iter_init_find(&idv, groups[i].id, "v");
    bson_append_value(out, "_id", 3, bson_iter_value(&idv));
    for (size_t a = 0; a < g->spec->count; a++) {
      aspd_acc_finish(&g->spec->accs[a], &groups[i].accs[a], out, g->spec->fields[a]);
      aspd_acc_clear(&groups[i].accs[a]);
    }
    free(groups[i].accs);
    bson_destroy(groups[i].id);
    aspd_flow_emit(flow, out);
  }
  free(groups);
}

static int64_t state_bytes(const aspd_op_t *op) {
  const group_op_t *g = (const group_op_t *)op;
  int64_t total = g->bytes;
  for (size_t i = 0; i < g->count; i++) {
    for (size_t a = 0; a < g->spec->count; a++) total += aspd_acc_bytes(&g->groups[i].accs[a]);
  }
  return total;
}

/* {groups: [{key: {v: <_id>}, accs: [<state of each accumulator>]}]}, in order of appearance. */
static void checkpoint(const aspd_op_t *op, bson_t *out) {
  const group_op_t *g = (const group_op_t *)op;
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(out, "groups", &list);
  for (size_t i = 0; i < g->count; i++) {
    char key[16];
    const char *k;
    size_t len = bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    bson_t group, accs;
    bson_append_document_begin(&list, k, (int)len, &group);
    BSON_APPEND_DOCUMENT(&group, "key", g->groups[i].id);
    BSON_APPEND_ARRAY_BEGIN(&group, "accs", &accs);
    for (size_t a = 0; a < g->spec->count; a++) {
      bson_t state;
      len = bson_uint32_to_string((uint32_t)a, &k, key, sizeof key);
      bson_append_document_begin(&accs, k, (int)len, &state);
      aspd_acc_save(&g->spec->accs[a], &g->groups[i].accs[a], &state);
      bson_append_document_end(&accs, &state);
    }
    bson_append_array_end(&group, &accs);
    bson_append_document_end(&list, &group);
  }
  bson_append_array_end(out, &list);
}

static bool restore_group(group_op_t *g, bson_iter_t *item) {
  bson_iter_t f, acc;
  if (!BSON_ITER_HOLDS_DOCUMENT(item) || !bson_iter_recurse(item, &f)) return false;
  bson_t key = BSON_INITIALIZER;
  bool have_key = false, have_accs = false;
  while (bson_iter_next(&f)) {
    if (!strcmp(bson_iter_key(&f), "key") && BSON_ITER_HOLDS_DOCUMENT(&f)) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&f, &len, &data);
      bson_iter_t v;
      have_key = bson_init_static(&key, data, len) && bson_iter_init_find(&v, &key, "v");
    } else if (!strcmp(bson_iter_key(&f), "accs") && BSON_ITER_HOLDS_ARRAY(&f)) {
      bson_iter_recurse(&f, &acc);
      have_accs = true;
    }
  }
  if (!have_key || !have_accs) return false;
  size_t before = g->count;
  group_t *grp = find_or_add(g, &key);
  if (g->count == before) return false; /* two groups with one key */
  for (size_t a = 0; a < g->spec->count; a++) {
    if (!bson_iter_next(&acc) || !BSON_ITER_HOLDS_DOCUMENT(&acc)) return false;
    const uint8_t *data;
    uint32_t len;
    bson_t state;
    bson_iter_document(&acc, &len, &data);
    if (!bson_init_static(&state, data, len) ||
        !aspd_acc_load(&g->spec->accs[a], &grp->accs[a], &state)) {
      return false;
    }
  }
  return !bson_iter_next(&acc);
}

static bool restore(aspd_op_t *op, const bson_t *state) {
  group_op_t *g = (group_op_t *)op;
  bson_iter_t it, item;
  if (!bson_iter_init_find(&it, state, "groups") || !BSON_ITER_HOLDS_ARRAY(&it)) return false;
  bson_iter_recurse(&it, &item);
  while (bson_iter_next(&item)) {
    if (!restore_group(g, &item)) return false;
  }
  return true;
}

static void group_free(aspd_op_t *op) {
  group_op_t *g = (group_op_t *)op;
  for (size_t i = 0; i < g->count; i++) {
    for (size_t a = 0; a < g->spec->count; a++) aspd_acc_clear(&g->groups[i].accs[a]);
    free(g->groups[i].accs);
    bson_destroy(g->groups[i].id);
  }
  free(g->groups);
  free(g->slots);
  free(g);
}

static const aspd_op_vtable_t vt = {.push = push,
                                    .flush = flush,
                                    .state_bytes = state_bytes,
                                    .free = group_free,
                                    .checkpoint = checkpoint,
                                    .restore = restore};

aspd_op_t *aspd_group_make(const void *spec) {
  group_op_t *g = calloc(1, sizeof *g);
  g->base.vt = &vt;
  g->spec = spec;
  return &g->base;
}
