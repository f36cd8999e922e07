/* The sample cursor: startSampleStreamProcessor (or processStreamProcessor) returns only a
 * cursor id, then getMoreSampleStreamProcessor returns batches until the id is 0. There is
 * no killCursors: closing only stops asking, except that an ephemeral processor is dropped. */
#include <string.h>

#include "asp_private.h"

struct asp_sample_t {
  asp_client_t *client;
  char *name;
  int64_t cursor_id;
  bool ephemeral;
};

static asp_sample_t *sample_from_reply(asp_client_t *c, const char *name, const bson_t *reply,
                                       bool ephemeral, asp_error_t *err) {
  int64_t id;
  if (!asp_reply_cursor_id(reply, &id)) {
    asp_error_set(err, ASP_DOMAIN_BSON, 0, "the reply to the sample request has no cursorId");
    return NULL;
  }
  asp_sample_t *s = bson_malloc0(sizeof *s);
  s->client = c;
  s->name = bson_strdup(name);
  s->cursor_id = id;
  s->ephemeral = ephemeral;
  return s;
}

static bool append_empty_batch(bson_t *reply, bson_iter_t *batch) {
  bson_t empty;
  BSON_APPEND_ARRAY_BEGIN(reply, "messages", &empty);
  bson_append_array_end(reply, &empty);
  return asp_reply_batch(reply, batch);
}

asp_sample_t *asp_sample_start(asp_client_t *c, const char *name,
                               const asp_sample_start_opts_t *opts, asp_error_t *err) {
  bson_t cmd, reply;
  if (!asp_build_sample_start(name, opts, &cmd, err)) {
    bson_destroy(&cmd);
    return NULL;
  }
  asp_sample_t *s = NULL;
  if (asp_client_run(c, &cmd, false, &reply, err))
    s = sample_from_reply(c, name, &reply, false, err);
  bson_destroy(&cmd);
  bson_destroy(&reply);
  return s;
}

asp_sample_t *asp_sample_process(asp_client_t *c, const bson_t *pipeline, const bson_t *dlq,
                                 asp_error_t *err) {
  bson_t cmd, reply;
  if (!asp_build_process(pipeline, dlq, &cmd, err)) {
    bson_destroy(&cmd);
    return NULL;
  }
  asp_sample_t *s = NULL;
  if (asp_client_run(c, &cmd, false, &reply, err)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, &reply, "name") && BSON_ITER_HOLDS_UTF8(&it)) {
      s = sample_from_reply(c, bson_iter_utf8(&it, NULL), &reply, true, err);
    } else {
      asp_error_set(err, ASP_DOMAIN_BSON, 0, "the reply to processStreamProcessor has no name");
    }
  }
  bson_destroy(&cmd);
  bson_destroy(&reply);
  return s;
}

bool asp_sample_get_more(asp_sample_t *s, int32_t batch_size, bson_t *reply, bson_iter_t *batch,
                         asp_error_t *err) {
  asp_error_clear(err);
  if (s->cursor_id == 0) {
    /* Exhausted: the protocol forbids another getMore; hand back an empty batch. */
    bson_init(reply);
    return append_empty_batch(reply, batch);
  }
  bson_t cmd;
  if (!asp_build_sample_get_more(s->name, s->cursor_id, batch_size, &cmd, err)) {
    bson_destroy(&cmd);
    bson_init(reply);
    return false;
  }
  bool ok = asp_client_run(s->client, &cmd, false, reply, err);
  bson_destroy(&cmd);
  if (!ok) return false;
  int64_t id;
  if (!asp_reply_cursor_id(reply, &id)) {
    asp_error_set(err, ASP_DOMAIN_BSON, 0,
                  "the getMoreSampleStreamProcessor reply has no cursorId");
    return false;
  }
  s->cursor_id = id;
  if (!asp_reply_batch(reply, batch)) {
    /* No batch field at all: an empty batch rather than a failed cursor. */
    return append_empty_batch(reply, batch);
  }
  return true;
}

int64_t asp_sample_cursor_id(const asp_sample_t *s) {
  return s->cursor_id;
}

const char *asp_sample_processor_name(const asp_sample_t *s) {
  return s->name;
}

bool asp_sample_is_ephemeral(const asp_sample_t *s) {
  return s->ephemeral;
}

void asp_sample_destroy(asp_sample_t *s, asp_client_t *client) {
  if (!s) return;
  if (s->ephemeral && client) {
    asp_error_t ignored; /* best effort, as mongosh does: the server times it out anyway */
    asp_processor_drop(client, s->name, &ignored);
  }
  bson_free(s->name);
  bson_free(s);
}
