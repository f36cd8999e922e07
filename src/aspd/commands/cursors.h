/* Query cursors of find and aggregate: the rest of a result, handed out by
 * getMore and dropped by killCursors or when exhausted. Thread-safe. */
#ifndef ASPD_CURSORS_H
#define ASPD_CURSORS_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/engine.h"

typedef struct aspd_cursors aspd_cursors_t;

aspd_cursors_t *aspd_cursors_new(void);
void aspd_cursors_free(aspd_cursors_t *cursors);

/* Appends {firstBatch: [...], id, ns} to reply as "cursor": at most batch
 * documents (<= 0: 101) of result, whose documents it takes over; the rest
 * stays under a new id (0 when nothing is left). */
void aspd_cursors_open(aspd_cursors_t *cursors, const char *ns, aspd_docs_t *result, int64_t batch,
                       bson_t *reply);
/* Appends {nextBatch: [...], id, ns} as "cursor"; false when id is unknown. */
bool aspd_cursors_more(aspd_cursors_t *cursors, int64_t id, int64_t batch, bson_t *reply);
/* True when the cursor existed. */
bool aspd_cursors_kill(aspd_cursors_t *cursors, int64_t id);

#endif
