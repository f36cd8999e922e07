/* Shared by the planner's files. */
#ifndef ASPD_PLAN_INTERNAL_H
#define ASPD_PLAN_INTERNAL_H

#include "engine/plan/plan.h"

/* The rows of the source and the sinks (source.c, sinks.c): they fill the plan
 * and return it as their spec. */
void *aspd_source_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err);
void *aspd_merge_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err);
void *aspd_emit_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err);

/* Reads a stage document's single key and its value; fails unless there is exactly one. */
bool aspd_stage_parts(const bson_iter_t *stage_it, const char **name, bson_iter_t *value,
                      aspd_error_t *err);
/* Runs the row's check and appends the planned stage. */
bool aspd_plan_add_stage(const aspd_stage_t *row, const bson_iter_t *value, aspd_stage_ctx_t *ctx,
                         aspd_planned_stage_t **stages, size_t *count, aspd_error_t *err);

/* Planner errors are StreamProcessorInvalidOptions (420), as on Atlas. NULL. */
void *aspd_plan_invalid(aspd_error_t *err, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);
void *aspd_plan_missing_connection(aspd_error_t *err, const char *name);
const char *aspd_plan_utf8(const bson_t *spec, const char *key);
/* The partition count of topics a Kafka connection creates: its
 * config["num.partitions"] (1 to ASPD_TOPIC_MAX_PARTITIONS), default 1; 0 with err. */
int32_t aspd_plan_kafka_partitions(const aspd_connection_t *conn, aspd_error_t *err);

#endif
