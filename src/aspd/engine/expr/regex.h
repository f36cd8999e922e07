/* Regular expressions through PCRE2, compiled once (at plan time) with
 * MongoDB's options: i (case-insensitive), m (multi-line anchors), s (dot
 * matches newlines), x (extended: whitespace and # comments ignored) and u
 * (Unicode character properties). Patterns are always UTF-8. A compiled
 * expression keeps its match data: use it from one thread at a time. */
#ifndef ASPD_REGEX_H
#define ASPD_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/error.h"

typedef struct aspd_regex aspd_regex_t;

/* NULL with err (BadValue or code 51108) on a bad pattern or option. */
aspd_regex_t *aspd_regex_compile(const char *pattern, const char *options, aspd_error_t *err);
bool aspd_regex_match(aspd_regex_t *re, const char *subject, size_t len);
/* The first match at or after byte `start`: false when none. spans[0..1] get the
 * match's byte range, spans[2k..2k+1] capture k's (both -1 when the group did not
 * take part); *groups gets the number of capture groups (at most max_groups). */
bool aspd_regex_find(aspd_regex_t *re, const char *subject, size_t len, size_t start, long *spans,
                     int max_groups, int *groups);
void aspd_regex_free(aspd_regex_t *re);

#endif
