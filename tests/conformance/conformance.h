/* The conformance suite: cases (JSON records under cases/), the exact comparison of
 * what aspd produced with what MongoDB documents, and the list of known gaps. */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

/* One case as read from its file; the bson_t members point into the file's document. */
typedef struct {
  const char *id;
  char *file;            /* the case file's name, for messages (shared by its cases) */
  bson_t input;          /* array of documents for the inline $source */
  bson_t source_options; /* merged into $source (timeField, tsFieldName, ...); may be empty */
  bson_t options;        /* processStreamProcessor options; may be empty */
  bson_t pipeline;       /* the stages after $source */
  bool has_expected;
  bson_t expected;         /* array: documents, or {$dlq: "text"} for a dead letter */
  bool has_error;          /* a planner error, or else every output dead-lettered */
  int32_t err_code;        /* 0 = any */
  const char *err_message; /* NULL = any; else a substring of the error text */
  bool unordered;          /* compare the outputs as a multiset */
  bool unordered_arrays;   /* compare every array as a multiset (set operators) */
  double tolerance;        /* relative tolerance for doubles; 0 = exact */
  bool known_gap;          /* listed in known_gaps.txt */
  /* results */
  bool passed;
  char *diff; /* why it failed (bson_malloc'd) */
} conf_case_t;

typedef struct {
  conf_case_t **cases; /* each allocated on its own (see cases.c) */
  size_t n, cap;
  bson_t **files; /* the parsed files, owning the cases' bson data */
  size_t n_files;
} conf_suite_t;

/* Loads every dir/cases/ *.json file (in name order); false with a message in err on a
 * malformed file or case (missing field, duplicate id). */
bool conf_load(conf_suite_t *suite, const char *dir, char *err, size_t err_len);

/* Reads dir/known_gaps.txt ("<id> <reason>" lines, # comments) and marks those cases; an id
 * that names no case is an error. */
bool conf_load_gaps(conf_suite_t *suite, const char *dir, char *err, size_t err_len);

void conf_free(conf_suite_t *suite);

/* Compares the collected outputs (an array document) with the case's expectation; on a
 * mismatch returns false with a bson_malloc'd explanation in *diff. */
bool conf_compare_outputs(const conf_case_t *c, const bson_t *outputs, char **diff);

/* Compares a planner error (the command failed) with the case's expectation. */
bool conf_compare_error(const conf_case_t *c, uint32_t code, const char *message, char **diff);

#endif
