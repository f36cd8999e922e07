/* Tiny assertion helpers for the core's C tests. */
#ifndef CORE_CHECK_H
#define CORE_CHECK_H

#include <bson/bson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      check_failures++;                                                        \
    }                                                                          \
  } while (0)

#define CHECK_STR(got, want)                                                                  \
  do {                                                                                        \
    const char *g_ = (got), *w_ = (want);                                                     \
    if (!g_ || strcmp(g_, w_) != 0) {                                                         \
      fprintf(stderr, "%s:%d: got  %s\n%*swant %s\n", __FILE__, __LINE__, g_ ? g_ : "(null)", \
              (int)strlen(__FILE__) + 6, "", w_);                                             \
      check_failures++;                                                                       \
    }                                                                                         \
  } while (0)

/* Compares a document with canonical Extended JSON: key order and BSON types included. */
#define CHECK_BSON(doc, want_json)                           \
  do {                                                       \
    char *j_ = bson_as_canonical_extended_json((doc), NULL); \
    CHECK_STR(j_, want_json);                                \
    bson_free(j_);                                           \
  } while (0)

#define CHECK_SUBSTR(hay, needle)                                                                  \
  do {                                                                                             \
    if (!strstr((hay), (needle))) {                                                                \
      fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__, (hay), (needle)); \
      check_failures++;                                                                            \
    }                                                                                              \
  } while (0)

static inline int check_report(const char *name) {
  if (check_failures) {
    fprintf(stderr, "%s: %d failure(s)\n", name, check_failures);
    return 1;
  }
  printf("%s: ok\n", name);
  return 0;
}

/* A document from relaxed JSON, for test inputs. */
static inline bson_t *json_doc(const char *json) {
  bson_error_t e;
  bson_t *b = bson_new_from_json((const uint8_t *)json, -1, &e);
  if (!b) {
    fprintf(stderr, "bad test JSON %s: %s\n", json, e.message);
    exit(2);
  }
  return b;
}

#endif
