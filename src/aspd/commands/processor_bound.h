/* No reply may exceed maxBsonObjectSize, and the replies that list processors grow with
 * the definitions users give. So a processor is refused when it is created or modified if
 * it would make one of those replies too large, instead of the list failing later for
 * good. The wire commands and the Admin API both create and modify through these
 * functions, which check and apply under one lock. */
#ifndef ASPD_PROCESSOR_BOUND_H
#define ASPD_PROCESSOR_BOUND_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"

/* The largest reply body aspd sends, BSON or JSON: maxBsonObjectSize. */
#define ASPD_REPLY_MAX 16777216
/* Room in every such reply for what is not a definition (ok, links, totalCount, keys). */
#define ASPD_REPLY_ENVELOPE (64 * 1024)

/* How many bytes of definitions a list reply may carry (--max-list-reply-bytes): at most,
 * and by default, ASPD_REPLY_MAX - ASPD_REPLY_ENVELOPE. Set once at start-up. */
void aspd_list_reply_bound_set(size_t bytes);
size_t aspd_list_reply_bound(void);
/* The most items an Admin API list page holds (itemsPerPage). */
#define ASPD_PAGE_MAX_ITEMS 500

/* aspd_engine_create / aspd_engine_modify, unless the processor would make
 * listStreamProcessors, getStreamProcessor, getStreamProcessorStats (verbose) or an Admin
 * API page of processors carry more than aspd_list_reply_bound() bytes of definitions: then
 * BSONObjectTooLarge (10334) naming the sizes, and nothing is changed. */
bool aspd_bounded_processor_create(aspd_engine_t *e, const char *name, const bson_t *pipeline,
                                   const bson_t *options, aspd_error_t *err);
bool aspd_bounded_processor_modify(aspd_engine_t *e, const char *name, const aspd_modify_t *m,
                                   aspd_error_t *err);

#endif
