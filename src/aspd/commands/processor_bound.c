#include "commands/processor_bound.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "commands/reply.h"

/* Upper bounds of what a reply adds to a processor's definition (name, pipeline, options):
 * ids, state, tier, dates, keys, and an errorMsg of up to 1 KiB once it fails; in JSON
 * also the Admin API's non-verbose stats. */
#define BSON_FIXED 2048
#define JSON_FIXED 4096
/* getStreamProcessorStats repeats the name and adds ns (at most 512 bytes) and counters;
 * verbose adds one entry per operator (pipeline stages + 2), about 300 bytes each. */
#define STATS_FIXED 3072
#define OPERATOR_STATS 320

/* Creates and modifications of every workspace: a check and its change are one step. */
static pthread_mutex_t bound_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t list_bound = ASPD_REPLY_MAX - ASPD_REPLY_ENVELOPE;

void aspd_list_reply_bound_set(size_t bytes) {
  list_bound =
      bytes < ASPD_REPLY_MAX - ASPD_REPLY_ENVELOPE ? bytes : ASPD_REPLY_MAX - ASPD_REPLY_ENVELOPE;
}

size_t aspd_list_reply_bound(void) {
  return list_bound;
}

/* What the replies grow with. */
typedef struct {
  size_t bson;  /* listStreamProcessors entry, getStreamProcessor */
  size_t json;  /* an Admin API item */
  size_t stats; /* getStreamProcessorStats, verbose */
} footprint_t;

/* def is {name, pipeline, option fields...}. */
static footprint_t footprint_of(const bson_t *def) {
  footprint_t f = {0};
  size_t json_len = 0;
  char *json = bson_as_relaxed_extended_json(def, &json_len);
  bson_free(json);
  bson_iter_t it, stage;
  size_t stages = 0, pipeline = 0, name = 0;
  if (bson_iter_init_find(&it, def, "pipeline")) {
    pipeline = bson_iter_value(&it)->value.v_doc.data_len;
    if (bson_iter_recurse(&it, &stage)) {
      while (bson_iter_next(&stage)) stages++;
    }
  }
  if (bson_iter_init_find(&it, def, "name")) name = bson_iter_value(&it)->value.v_utf8.len;
  f.bson = def->len + BSON_FIXED;
  f.json = json_len + JSON_FIXED;
  f.stats = 2 * name + pipeline + STATS_FIXED + (stages + 2) * OPERATOR_STATS;
  return f;
}

/* The definition of an existing processor from getStreamProcessor's document. */
static bool existing_definition(aspd_engine_t *e, const char *name, bson_t *def) {
  static const char *const fields[] = {"name", "pipeline", "dlq", "streamMetaFieldName",
                                       "failoverEnabled"};
  bson_t info = BSON_INITIALIZER;
  aspd_error_t ignored = {0};
  bool found = aspd_engine_describe(e, name, &info, &ignored);
  bson_iter_t it;
  for (size_t i = 0; found && i < sizeof fields / sizeof fields[0]; i++) {
    if (bson_iter_init_find(&it, &info, fields[i])) {
      bson_append_value(def, fields[i], -1, bson_iter_value(&it));
    }
  }
  bson_destroy(&info);
  return found;
}

static int larger_first(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Checks that the processors of e, with `replaced` (NULL: none) left out and `candidate`
 * added, fit every reply that lists them. */
static bool fits(aspd_engine_t *e, const char *replaced, const footprint_t *candidate,
                 aspd_error_t *err) {
  bson_t all = BSON_INITIALIZER;
  aspd_engine_list(e, NULL, &all, err);
  size_t count = 0, capacity = 16;
  size_t *json = malloc(capacity * sizeof *json);
  size_t bson_total = candidate->bson;
  json[count++] = candidate->json;
  bson_iter_t it, field;
  bson_iter_init(&it, &all);
  while (bson_iter_next(&it)) {
    if (!bson_iter_recurse(&it, &field) || !bson_iter_find(&field, "name")) continue;
    const char *name = bson_iter_utf8(&field, NULL);
    if (replaced && !strcmp(name, replaced)) continue;
    bson_t def = BSON_INITIALIZER;
    if (existing_definition(e, name, &def)) { /* dropped meanwhile: nothing to count */
      footprint_t f = footprint_of(&def);
      bson_total += f.bson;
      if (count == capacity) json = realloc(json, (capacity *= 2) * sizeof *json);
      json[count++] = f.json;
    }
    bson_destroy(&def);
  }
  bson_destroy(&all);
  /* The fullest Admin API page holds the largest items. */
  qsort(json, count, sizeof *json, larger_first);
  size_t page = 0;
  for (size_t i = 0; i < count && i < ASPD_PAGE_MAX_ITEMS; i++) page += json[i];
  free(json);
  const size_t room = list_bound;
  const char *reply = NULL;
  size_t size = 0;
  if (bson_total > room) {
    reply = "listStreamProcessors";
    size = bson_total;
  } else if (page > room) {
    reply = "an Admin API page of processors";
    size = page;
  } else if (candidate->stats > room) {
    reply = "getStreamProcessorStats (verbose)";
    size = candidate->stats;
  }
  if (!reply) return true;
  aspd_error_set(err, ASPD_E_BSON_TOO_LARGE,
                 "the processor is too large: with it, the reply to %s would carry up to %zu "
                 "bytes of definitions, more than the limit of %zu bytes (maxBsonObjectSize %d "
                 "less room for the rest of the reply, or --max-list-reply-bytes); nothing was "
                 "changed",
                 reply, size, room, ASPD_REPLY_MAX);
  return false;
}

bool aspd_bounded_processor_create(aspd_engine_t *e, const char *name, const bson_t *pipeline,
                                   const bson_t *options, aspd_error_t *err) {
  bson_t def = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&def, "name", name);
  BSON_APPEND_ARRAY(&def, "pipeline", pipeline);
  if (options) bson_concat(&def, options);
  footprint_t f = footprint_of(&def);
  bson_destroy(&def);
  pthread_mutex_lock(&bound_lock);
  bool ok = fits(e, NULL, &f, err) && aspd_engine_create(e, name, pipeline, options, err);
  pthread_mutex_unlock(&bound_lock);
  return ok;
}

bool aspd_bounded_processor_modify(aspd_engine_t *e, const char *name, const aspd_modify_t *m,
                                   aspd_error_t *err) {
  pthread_mutex_lock(&bound_lock);
  bson_t old = BSON_INITIALIZER;
  bool ok;
  if (!existing_definition(e, name, &old)) {
    /* The engine has the error for an unknown processor. */
    ok = aspd_engine_modify(e, name, m, err);
  } else {
    bson_t def = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&def, "name", m->new_name ? m->new_name : name);
    bson_iter_t it;
    if (m->pipeline) {
      BSON_APPEND_ARRAY(&def, "pipeline", m->pipeline);
    } else if (bson_iter_init_find(&it, &old, "pipeline")) {
      bson_append_value(&def, "pipeline", -1, bson_iter_value(&it));
    }
    if (m->dlq) {
      if (!bson_empty(m->dlq)) BSON_APPEND_DOCUMENT(&def, "dlq", m->dlq);
    } else if (bson_iter_init_find(&it, &old, "dlq")) {
      bson_append_value(&def, "dlq", -1, bson_iter_value(&it));
    }
    static const char *const kept[] = {"streamMetaFieldName", "failoverEnabled"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
      if (bson_iter_init_find(&it, &old, kept[i])) {
        bson_append_value(&def, kept[i], -1, bson_iter_value(&it));
      }
    }
    footprint_t f = footprint_of(&def);
    bson_destroy(&def);
    ok = fits(e, name, &f, err) && aspd_engine_modify(e, name, m, err);
  }
  bson_destroy(&old);
  pthread_mutex_unlock(&bound_lock);
  return ok;
}
