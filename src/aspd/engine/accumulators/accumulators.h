/* $group's accumulators: one table of {name, compile, step, finish, save,
 * load}. A group holds one aspd_acc_t per accumulated field; step sees each
 * document's value (BSON_TYPE_EOD when missing) and finish appends the result;
 * save writes the running state into a checkpoint and load rebuilds it, each
 * family for the fields it uses. */
#ifndef ASPD_ACCUMULATORS_H
#define ASPD_ACCUMULATORS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/error.h"
#include "engine/expr/expr.h"

typedef struct aspd_accumulator aspd_accumulator_t;

/* A field's accumulator as planned: the row and its compiled arguments. */
typedef struct {
  const aspd_accumulator_t *row;
  aspd_expr_t *input;  /* the value each document contributes */
  aspd_expr_t *n;      /* the N operators' n (evaluated once per group) */
  bson_t *sort_by;     /* $top/$bottom(N): the sort specification */
  double *percentiles; /* $percentile's p list; NULL for $median */
  size_t percentile_count;
} aspd_acc_spec_t;

/* The running state of one accumulator in one group. */
typedef struct {
  int64_t count;
  int64_t isum; /* integral part of $sum while it fits */
  double dsum;
  bool any_long, any_double, overflow;
  double mean, m2; /* $stdDev*: Welford's running moments */
  bson_t *value;   /* {v: ...}: $min $max $first $last, $mergeObjects' document */
  bson_t *items;   /* $push, $addToSet, the N operators: {0: ..., 1: ...} */
  uint32_t item_count;
  double *samples; /* $median, $percentile */
  size_t sample_count, sample_cap;
  int64_t limit; /* the N operators' n, 0 until the first document */
  bool seen;
} aspd_acc_t;

struct aspd_accumulator {
  const char *name;
  /* Compiles the operand into spec (input, n, sortBy...). NULL: the operand is the input
   * expression. */
  bool (*compile)(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_acc_spec_t *spec,
                  aspd_error_t *err);
  /* v: the input's value for one document (root is ev->root). False with ev->reason. */
  bool (*step)(const aspd_acc_spec_t *spec, aspd_acc_t *a, const bson_value_t *v, aspd_eval_t *ev);
  void (*finish)(const aspd_acc_spec_t *spec, aspd_acc_t *a, bson_t *out, const char *field);
  /* Appends the state's fields to out. */
  void (*save)(const aspd_acc_t *a, bson_t *out);
  /* Rebuilds a cleared state from what save wrote; false when in is not that. */
  bool (*load)(aspd_acc_t *a, const bson_t *in);
};

/* The row of an accumulator name, or NULL. */
const aspd_accumulator_t *aspd_accumulator_find(const char *name);

/* Plan time: {$op: operand} into spec; false with the server's error. */
bool aspd_acc_spec_compile(aspd_expr_compiler_t *cc, const char *name, const bson_value_t *operand,
                           aspd_acc_spec_t *spec, aspd_error_t *err);
void aspd_acc_spec_free(aspd_acc_spec_t *spec);

/* One document: evaluates the input and steps the state. */
bool aspd_acc_step(const aspd_acc_spec_t *spec, aspd_acc_t *a, aspd_eval_t *ev);
void aspd_acc_finish(const aspd_acc_spec_t *spec, aspd_acc_t *a, bson_t *out, const char *field);
void aspd_acc_clear(aspd_acc_t *a);
/* The state into a checkpoint, and back into a cleared state (false: malformed). */
void aspd_acc_save(const aspd_acc_spec_t *spec, const aspd_acc_t *a, bson_t *out);
bool aspd_acc_load(const aspd_acc_spec_t *spec, aspd_acc_t *a, const bson_t *in);
/* Bytes held (stats' stateSize). */
int64_t aspd_acc_bytes(const aspd_acc_t *a);

/* Appends v to an {0:..,1:..} list. */
void aspd_acc_list_append(aspd_acc_t *a, const bson_value_t *v);
/* Replaces the held value. */
void aspd_acc_hold(aspd_acc_t *a, const bson_value_t *v);
/* The held value, or NULL. */
const bson_value_t *aspd_acc_held(const aspd_acc_t *a, bson_iter_t *it);

/* For the families' save and load: the held value ("held", with `seen`) and the
 * item list ("items"). */
void aspd_acc_save_held(const aspd_acc_t *a, bson_t *out);
bool aspd_acc_load_held(aspd_acc_t *a, const bson_t *in);
void aspd_acc_save_items(const aspd_acc_t *a, bson_t *out);
bool aspd_acc_load_items(aspd_acc_t *a, const bson_t *in);
/* The field key of in when it has the type; false otherwise. */
bool aspd_acc_field(const bson_t *in, const char *key, bson_type_t type, bson_iter_t *it);

#endif
