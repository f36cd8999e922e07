/* Aggregation expressions, compiled once at plan time into a tree of nodes
 * that each carry the function evaluating them; evaluating a document does
 * no name lookups.
 *
 * Adding an operator is one function and one table row:
 *   1. an evaluator  bool my_op(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out)
 *      that evaluates its arguments with aspd_expr_eval(e->args[i], ev, &v), writes
 *      its result into *out (scalars directly; strings, documents and arrays
 *      through aspd_eval_string / aspd_eval_bson so they live in the evaluation's
 *      arena) and returns aspd_eval_fail(ev, "text") on an error;
 *   2. a row {"$myOp", min_args, max_args, my_op, NULL} in a family's table
 *      (aspd_expr_family_t, listed in operators.c). With compile == NULL the
 *      operand is an argument list (an array, or one value standing for a
 *      one-element list) checked against min/max and compiled into e->args.
 *      Operators with named arguments ({input, as, in}) give a compile function,
 *      usually one call of aspd_expr_compile_named.
 * A missing value (a path that does not exist, $$REMOVE) is a bson_value_t
 * whose value_type is BSON_TYPE_EOD. */
#ifndef ASPD_EXPR_H
#define ASPD_EXPR_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"
#include "engine/expr/values.h"

#define ASPD_EXPR_MAX_VARS 32
#define ASPD_EXPR_REASON_LEN 512
#define ASPD_EVAL_SPARE_DOCS 8

typedef struct aspd_expr aspd_expr_t;
typedef struct aspd_eval aspd_eval_t;
typedef struct aspd_expr_compiler aspd_expr_compiler_t;

typedef bool (*aspd_expr_eval_fn)(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out);

struct aspd_expr {
  aspd_expr_eval_fn eval;
  const char *name;   /* operator name, for messages */
  aspd_expr_t **args; /* compiled arguments (NULL entries: optional ones left out) */
  size_t nargs;
  bson_value_t value; /* constants: the value (its data lives in `owned`) */
  bson_t *owned;
  char **path; /* field paths: the components after the variable or "$" */
  size_t path_len;
  int var;     /* variable slot, -1 for the document */
  char **keys; /* object expressions: the field names of args */
  void *data;  /* operator-specific compiled state, freed with free_data */
  void (*free_data)(void *data);
};

/* A block allocator for the values an evaluation produces; reset per document. */
typedef struct aspd_arena_block aspd_arena_block_t;
typedef struct {
  aspd_arena_block_t *head;
} aspd_arena_t;

/* Where an evaluation happens. One per running pipeline; aspd_eval_reset
 * between documents. */
struct aspd_raw_index;
struct aspd_memstore;

struct aspd_eval {
  const bson_t *root; /* $$ROOT and $$CURRENT */
  /* Root's top-level fields when an operator indexed them for its expressions
   * (used only while root_index->doc is root); NULL otherwise. */
  const struct aspd_raw_index *root_index;
  bson_value_t vars[ASPD_EXPR_MAX_VARS];
  const char *meta_field; /* the stream metadata field, NULL when disabled */
  bool in_window;         /* a window's inner pipeline: window bounds below */
  int64_t window_start, window_end;
  const bson_value_t *window_partition; /* $sessionWindow, else NULL */
  /* The collections $lookup reads (the engine's, under its lock); NULL where a
   * pipeline runs without them. */
  struct aspd_memstore *collections;
  /* Why an operator failed the processor ($https), malloc'd; the runner fails it. */
  char *failure;
  aspd_arena_t arena;
  /* Emptied documents kept for reuse: most operators make one document per
   * input and the engine would otherwise allocate and free one per stage. */
  bson_t *spare[ASPD_EVAL_SPARE_DOCS];
  size_t spare_count;
  char reason[ASPD_EXPR_REASON_LEN];
};

/* Compile-time scope: the variables $let, $map, $filter and $reduce bind. */
struct aspd_expr_compiler {
  const char *names[ASPD_EXPR_MAX_VARS];
  int slots[ASPD_EXPR_MAX_VARS];
  int depth;     /* names in scope */
  int next_slot; /* slots handed out (a pipeline's expressions share one eval) */
};

typedef struct {
  const char *name;
  int min_args, max_args; /* max -1 = any; used when compile is NULL */
  aspd_expr_eval_fn eval;
  /* NULL: the operand is an argument list. Otherwise fills e (args, data) from
   * the operand; e->eval is preset to `eval`. */
  bool (*compile)(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                  aspd_error_t *err);
} aspd_expr_op_t;

/* One family of operators (one file): a table ended by a row with name NULL. */
typedef struct {
  const aspd_expr_op_t *ops;
} aspd_expr_family_t;

/* --- compiling ----------------------------------------------------------- */

void aspd_expr_compiler_init(aspd_expr_compiler_t *cc);
/* NULL with err (the server's code and text) when spec is not a valid expression. */
aspd_expr_t *aspd_expr_compile(aspd_expr_compiler_t *cc, const bson_value_t *spec,
                               aspd_error_t *err);
/* Compiles an object-form operand: each field of `names` present in the operand
 * goes to e->args[i] (NULL when absent); `required` lists the mandatory ones by
 * index bit. An unknown field is an error. */
bool aspd_expr_compile_named(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                             const char *const *names, size_t count, uint32_t required,
                             aspd_error_t *err);
/* Binds a variable name for the expressions compiled until the matching pop;
 * returns its slot in aspd_eval_t.vars, or -1 (error set) when out of slots. */
int aspd_expr_scope_push(aspd_expr_compiler_t *cc, const char *name, aspd_error_t *err);
void aspd_expr_scope_pop(aspd_expr_compiler_t *cc);
/* User variable names start with a lower-case letter or a non-ASCII character. */
bool aspd_expr_valid_var_name(const char *name);
/* True when e is a constant (its value is e->value). */
bool aspd_expr_is_constant(const aspd_expr_t *e);
void aspd_expr_free(aspd_expr_t *e);

/* --- evaluating ------------------------------------------------------------ */

void aspd_eval_init(aspd_eval_t *ev, const char *meta_field);
/* An empty heap document (owned by the caller), reusing one aspd_doc_release kept. */
bson_t *aspd_doc_new(aspd_eval_t *ev);
/* Destroys an owned heap document, or keeps it emptied for aspd_doc_new. */
void aspd_doc_release(aspd_eval_t *ev, bson_t *doc);
/* Frees what the evaluations since the last reset allocated. */
void aspd_eval_reset(aspd_eval_t *ev);
void aspd_eval_free(aspd_eval_t *ev);

static inline bool aspd_expr_eval(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return e->eval(e, ev, out);
}
/* Evaluates e against doc ($$ROOT); false with ev->reason on error. */
bool aspd_expr_eval_root(const aspd_expr_t *e, aspd_eval_t *ev, const bson_t *doc,
                         bson_value_t *out);
/* Sets ev->reason (printf-style) and returns false. */
bool aspd_eval_fail(aspd_eval_t *ev, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);
/* Memory that lives until the next aspd_eval_reset. */
void *aspd_eval_alloc(aspd_eval_t *ev, size_t n);
/* out = a copy of the string / of the document or array bson. */
void aspd_eval_string(aspd_eval_t *ev, const char *s, size_t len, bson_value_t *out);
void aspd_eval_bson(aspd_eval_t *ev, const bson_t *b, bool array, bson_value_t *out);
/* v as relaxed Extended JSON (for error texts), in the arena. */
const char *aspd_eval_json(aspd_eval_t *ev, const bson_value_t *v);
/* Appends v under key unless it is missing. */
void aspd_append_value(bson_t *out, const char *key, size_t key_len, const bson_value_t *v);

#endif
