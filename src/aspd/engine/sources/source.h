/* Sources: one interface {open, pull, checkpoint, close} and one table of
 * kinds (sources.c). The planner fills a source spec from `$source` (its row
 * and what the kind needs); at start the runner opens the row's source from
 * the spec and the processor's checkpoint, pulls batches from it, and asks it
 * for its checkpoint (the position to resume from) whenever the processor is
 * saved. Adding a source kind is one row plus its file. */
#ifndef ASPD_SOURCE_H
#define ASPD_SOURCE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/expr/bson_raw.h"
#include "engine/sinks/memstore.h"

typedef enum {
  ASPD_SOURCE_SAMPLE,
  ASPD_SOURCE_DOCUMENTS,
  ASPD_SOURCE_TOPIC,
  ASPD_SOURCE_CHANGE_STREAM
} aspd_source_kind_t;

typedef struct aspd_source_row aspd_source_row_t;

/* What the planner read from `$source`; owned by the plan. */
typedef struct {
  const aspd_source_row_t *row;
  double docs_per_second; /* sample: 0 = unlimited */
  /* documents: the array, and where each document sits in it (O(1) by position;
   * a malloc'd array of bson_t would miss bson_t's 128-byte alignment) */
  bson_t *documents;
  const uint8_t **document_data;
  uint32_t *document_len;
  size_t document_count;
  char *connection, *topic; /* topic */
  bool earliest;            /* config.auto_offset_reset earliest (else latest) */
  int32_t partitions;       /* of the topic when the source creates it */
  int64_t idle_timeout_ms;  /* partitionIdleTimeout (0: none) */
  /* change stream: the database (NULL: all) and collections (none: all) it watches */
  char *db;
  char **colls;
  size_t coll_count;
  bool full_document;      /* the post-image on updates too (fullDocument other than default) */
  bool before_change;      /* fullDocumentBeforeChange whenAvailable or required */
  bool full_document_only; /* the post-image alone, not the event */
  int64_t start_after;     /* config.startAfter's position, -1: none */
} aspd_source_spec_t;

/* One message as a source hands it over. */
typedef struct {
  /* The body: a finished document, or (open) one still being written, which the
   * receiver takes over (it may append fields in place, then finishes or frees it). */
  const bson_t *body;
  aspd_raw_out_t *open;
  int32_t partition; /* topics; offset < 0 for other sources */
  int64_t offset;
  const bson_t *record; /* topics: the whole record (key, headers) */
} aspd_source_msg_t;

/* Where a pull hands its messages. */
typedef struct aspd_source_out {
  void (*message)(struct aspd_source_out *self, const aspd_source_msg_t *m);
  /* True when the pull must stop before another message (the turn is over, or a
   * consumer cannot take more); `pulled` counts this pull's messages so far. */
  bool (*stop)(struct aspd_source_out *self, int pulled);
} aspd_source_out_t;

typedef struct {
  int pulled;
  bool more;      /* more is ready at once (an unlimited rate, a backlog) */
  bool exhausted; /* nothing will ever come again */
} aspd_pull_t;

/* A source instance: each kind's struct begins with it. */
typedef struct aspd_source {
  const aspd_source_row_t *row;
  const aspd_source_spec_t *spec;
} aspd_source_t;

/* What sources may read: topics live in the memstore. */
typedef struct {
  aspd_memstore_t *memstore;
  uint64_t seed; /* generators */
} aspd_source_env_t;

struct aspd_source_row {
  aspd_source_kind_t kind;
  const char *operator_name; /* as the real worker names it in operatorStats */
  const char *meta_type;     /* _stream_meta.source.type */
  /* Opens at checkpoint (NULL: from the start the spec says). NULL open: a kind
   * aspd does not run (refused by the planner). */
  aspd_source_t *(*open)(const aspd_source_spec_t *spec, const aspd_source_env_t *env,
                         const bson_t *checkpoint);
  /* Hands over at most max messages. */
  aspd_pull_t (*pull)(aspd_source_t *s, int64_t now_ms, int max, aspd_source_out_t *out);
  /* Appends the position to resume from (nothing when the kind has none). */
  void (*checkpoint)(const aspd_source_t *s, bson_t *out);
  /* Appends the fields of _stream_meta.source after `type` for message m. */
  void (*put_meta)(const aspd_source_t *s, const aspd_source_msg_t *m, aspd_raw_out_t *w);
  /* Appends the kind's own fields of getStreamProcessorStats (NULL: none). */
  void (*stats)(const aspd_source_t *s, int64_t now_ms, bson_t *stats);
  /* True when a message of this kind may have a top-level field called name
   * (NULL: any field): when neither stamp can clash, stamps are appended in place. */
  bool (*may_have_field)(const char *name);
  void (*close)(aspd_source_t *s);
};

/* The row of a kind. */
const aspd_source_row_t *aspd_source_row(aspd_source_kind_t kind);
void aspd_source_spec_free(aspd_source_spec_t *spec);

/* The kinds' rows (one file each). */
extern const aspd_source_row_t aspd_source_sample_row, aspd_source_documents_row,
    aspd_source_topic_row, aspd_source_change_stream_row;

#endif
