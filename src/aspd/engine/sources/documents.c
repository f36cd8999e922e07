/* The inline documents source: each document once; its checkpoint is the
 * position of the next one. */
#include <stdlib.h>

#include "engine/sources/source.h"

typedef struct {
  aspd_source_t base;
  int64_t next;
} documents_t;

static aspd_source_t *documents_open(const aspd_source_spec_t *spec, const aspd_source_env_t *env,
                                     const bson_t *checkpoint) {
  (void)env;
  documents_t *s = calloc(1, sizeof *s);
  s->base.spec = spec;
  bson_iter_t it;
  if (checkpoint && bson_iter_init_find(&it, checkpoint, "offset") && BSON_ITER_HOLDS_NUMBER(&it)) {
    s->next = bson_iter_as_int64(&it);
  }
  if (s->next < 0) s->next = 0;
  return &s->base;
}

static aspd_pull_t documents_pull(aspd_source_t *base, int64_t now_ms, int max,
                                  aspd_source_out_t *out) {
  (void)now_ms;
  documents_t *s = (documents_t *)base;
  const aspd_source_spec_t *spec = base->spec;
  aspd_pull_t r = {0};
  while (r.pulled < max && !out->stop(out, r.pulled)) {
    if (s->next >= (int64_t)spec->document_count) {
      r.exhausted = true;
      return r;
    }
    bson_t body;
    bson_init_static(&body, spec->document_data[s->next], spec->document_len[s->next]);
    aspd_source_msg_t m = {&body, NULL, 0, -1, NULL};
    out->message(out, &m);
    s->next++;
    r.pulled++;
  }
  r.more = r.pulled == max;
  return r;
}

static void documents_checkpoint(const aspd_source_t *base, bson_t *out) {
  BSON_APPEND_INT64(out, "offset", ((const documents_t *)base)->next);
}

static void documents_close(aspd_source_t *s) {
  free(s);
}

const aspd_source_row_t aspd_source_documents_row = {
    .kind = ASPD_SOURCE_DOCUMENTS,
    .operator_name = "DocumentsDataSourceOperator",
    .meta_type = "generated",
    .open = documents_open,
    .pull = documents_pull,
    .checkpoint = documents_checkpoint,
    .close = documents_close,
};
