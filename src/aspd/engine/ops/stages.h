/* The check/make/free functions of the stages that run as operators, one
 * trio per stage (rows of plan/stages.c). */
#ifndef ASPD_OPS_STAGES_H
#define ASPD_OPS_STAGES_H

#include "engine/plan/stage.h"

#define ASPD_STAGE_FUNCS(prefix)                                                            \
  void *prefix##_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err); \
  aspd_op_t *prefix##_make(const void *spec);                                               \
  void prefix##_free_spec(void *spec)

ASPD_STAGE_FUNCS(aspd_match);           /* match.c */
ASPD_STAGE_FUNCS(aspd_validate);        /* validate.c */
ASPD_STAGE_FUNCS(aspd_project);         /* project.c: $project */
ASPD_STAGE_FUNCS(aspd_unset);           /* project.c: $unset */
ASPD_STAGE_FUNCS(aspd_add_fields);      /* add_fields.c: $addFields, $set */
ASPD_STAGE_FUNCS(aspd_replace_root);    /* replace_root.c: $replaceRoot, $replaceWith */
ASPD_STAGE_FUNCS(aspd_unwind);          /* unwind.c */
ASPD_STAGE_FUNCS(aspd_redact);          /* redact.c */
ASPD_STAGE_FUNCS(aspd_set_stream_meta); /* set_stream_meta.c */
ASPD_STAGE_FUNCS(aspd_lookup);          /* lookup.c */
ASPD_STAGE_FUNCS(aspd_https);           /* https.c */
ASPD_STAGE_FUNCS(aspd_group);           /* group.c */
ASPD_STAGE_FUNCS(aspd_sort);            /* sort.c */
ASPD_STAGE_FUNCS(aspd_limit);           /* limit_count.c: $limit */
ASPD_STAGE_FUNCS(aspd_count);           /* limit_count.c: $count */
ASPD_STAGE_FUNCS(aspd_window);          /* windows/window.c: $tumblingWindow, $hoppingWindow */
ASPD_STAGE_FUNCS(aspd_session);         /* windows/session.c: $sessionWindow */

/* An operator whose instance is only its compiled spec (stateless stages). */
typedef struct {
  aspd_op_t base;
  const void *spec;
} aspd_stateless_op_t;

aspd_op_t *aspd_stateless_make(const aspd_op_vtable_t *vt, const void *spec);
void aspd_stateless_free(aspd_op_t *op);

/* Path helpers shared by the reshaping stages (paths.c). */
/* Copies doc with `values` (keys: dotted paths) set: existing fields keep
 * their place, new ones follow in the order of `values`. */
void aspd_set_paths(const bson_t *doc, const bson_t *values, bson_t *out);
/* Copies doc without the dotted paths listed in the array `paths`. */
void aspd_remove_paths(const bson_t *doc, const bson_t *paths, bson_t *out);

#endif
