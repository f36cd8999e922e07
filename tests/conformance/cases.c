/* Reading the case files and the known-gaps list. A malformed case is a test bug and
 * stops the run with the file and the id, so that a typo never silently drops a case. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

static bool fail(char *err, size_t len, const char *fmt, ...) BSON_GNUC_PRINTF(3, 4);

static bool fail(char *err, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
  return false;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = bson_malloc(cap);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) buf = bson_realloc(buf, cap *= 2);
  }
  fclose(f);
  *len = n;
  return buf;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Points out at the sub-document or array under key; false when it is absent or of
 * another type. */
static bool child(const bson_t *doc, const char *key, bson_type_t type, bson_t *out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key) || bson_iter_type(&it) != type) return false;
  const uint8_t *data;
  uint32_t len;
  if (type == BSON_TYPE_ARRAY) {
    bson_iter_array(&it, &len, &data);
  } else {
    bson_iter_document(&it, &len, &data);
  }
  return bson_init_static(out, data, len);
}

static const char *string_field(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return NULL;
  return bson_iter_utf8(&it, NULL);
}

static bool bool_field(const bson_t *doc, const char *key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
}

static const char *const KNOWN_KEYS[] = {
    "id",       "source",   "note",  "input",     "sourceOptions",   "options",
    "pipeline", "expected", "error", "unordered", "unorderedArrays", "tolerance"};

static bool parse_case(const bson_t *rec, char *file, conf_case_t *c, char *err, size_t len) {
  memset(c, 0, sizeof *c);
  c->file = file;
  c->id = string_field(rec, "id");
  if (!c->id || !*c->id) return fail(err, len, "%s: a case without a string id", file);
  bson_iter_t it;
  bson_iter_init(&it, rec);
  while (bson_iter_next(&it)) {
    bool known = false;
    for (size_t i = 0; i < sizeof KNOWN_KEYS / sizeof KNOWN_KEYS[0]; i++) {
      known = known || !strcmp(KNOWN_KEYS[i], bson_iter_key(&it));
    }
    if (!known)
      return fail(err, len, "%s: %s: unknown field '%s'", file, c->id, bson_iter_key(&it));
  }
  const char *source = string_field(rec, "source");
  if (!source || strncmp(source, "https://www.mongodb.com/docs/", 29) != 0) {
    return fail(err, len, "%s: %s: 'source' must be the MongoDB docs page it comes from", file,
                c->id);
  }
  if (!child(rec, "input", BSON_TYPE_ARRAY, &c->input)) {
    return fail(err, len, "%s: %s: 'input' must be an array of documents", file, c->id);
  }
  if (!child(rec, "pipeline", BSON_TYPE_ARRAY, &c->pipeline)) {
    return fail(err, len, "%s: %s: 'pipeline' must be an array of stages", file, c->id);
  }
  if (!child(rec, "sourceOptions", BSON_TYPE_DOCUMENT, &c->source_options)) {
    bson_init(&c->source_options);
  }
  if (!child(rec, "options", BSON_TYPE_DOCUMENT, &c->options)) bson_init(&c->options);
  c->has_expected = child(rec, "expected", BSON_TYPE_ARRAY, &c->expected);
  bson_t error;
  c->has_error = child(rec, "error", BSON_TYPE_DOCUMENT, &error);
  if (c->has_expected == c->has_error) {
    return fail(err, len, "%s: %s: give exactly one of 'expected' (array) or 'error' (object)",
                file, c->id);
  }
  if (c->has_error) {
    if (bson_iter_init_find(&it, &error, "code") && BSON_ITER_HOLDS_INT32(&it)) {
      c->err_code = bson_iter_int32(&it);
    }
    c->err_message = string_field(&error, "message");
    if (!c->err_code && !c->err_message) {
      return fail(err, len, "%s: %s: 'error' needs a code or a message", file, c->id);
    }
  }
  c->unordered = bool_field(rec, "unordered");
  c->unordered_arrays = bool_field(rec, "unorderedArrays");
  if (bson_iter_init_find(&it, rec, "tolerance") && BSON_ITER_HOLDS_NUMBER(&it)) {
    c->tolerance = bson_iter_as_double(&it);
  }
  return true;
}

static bool add_file(conf_suite_t *s, const char *dir, const char *name, char *err, size_t len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/cases/%s", dir, name);
  size_t n;
  char *text = read_file(path, &n);
  if (!text) return fail(err, len, "cannot read %s", path);
  bson_error_t jerr;
  bson_t *doc = bson_new_from_json((const uint8_t *)text, (ssize_t)n, &jerr);
  bson_free(text);
  if (!doc) return fail(err, len, "%s: not JSON: %s", path, jerr.message);
  s->files = bson_realloc(s->files, (s->n_files + 1) * sizeof *s->files);
  s->files[s->n_files++] = doc;
  bson_t cases;
  if (!child(doc, "cases", BSON_TYPE_ARRAY, &cases)) {
    return fail(err, len, "%s: the file must be {\"cases\": [...]}", path);
  }
  bson_iter_t it;
  bson_iter_init(&it, &cases);
  char *file = bson_strdup(name);
  /* The name is owned by the first case (freed in conf_free); a file without cases frees
   * it here. */
  bool owned = false;
  while (bson_iter_next(&it)) {
    bson_t rec;
    const uint8_t *data;
    uint32_t dlen;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) return fail(err, len, "%s: a case is not an object", path);
    bson_iter_document(&it, &dlen, &data);
    bson_init_static(&rec, data, dlen);
    if (s->n == s->cap) {
      s->cap = s->cap ? s->cap * 2 : 256;
      s->cases = bson_realloc(s->cases, s->cap * sizeof *s->cases);
    }
    /* Each case has its own allocation: a static bson_t points into itself, so a case
     * must never move. */
    s->cases[s->n] = bson_malloc0(sizeof **s->cases);
    if (!parse_case(&rec, file, s->cases[s->n], err, len)) {
      bson_free(s->cases[s->n]);
      if (!owned) bson_free(file);
      return false;
    }
    for (size_t i = 0; i < s->n; i++) {
      if (!strcmp(s->cases[i]->id, s->cases[s->n]->id)) {
        bson_free(s->cases[s->n]);
        if (!owned) bson_free(file);
        return fail(err, len, "%s: duplicate case id %s (also in %s)", name, s->cases[i]->id,
                    s->cases[i]->file);
      }
    }
    s->n++;
    owned = true;
  }
  if (!owned) bson_free(file);
  return true;
}

bool conf_load(conf_suite_t *s, const char *dir, char *err, size_t len) {
  memset(s, 0, sizeof *s);
  char path[1024];
  snprintf(path, sizeof path, "%s/cases", dir);
  DIR *d = opendir(path);
  if (!d) return fail(err, len, "cannot open %s", path);
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l > 5 && !strcmp(e->d_name + l - 5, ".json")) {
      names = bson_realloc(names, (n + 1) * sizeof *names);
      names[n++] = bson_strdup(e->d_name);
    }
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  bool ok = true;
  for (size_t i = 0; i < n; i++) {
    if (ok) ok = add_file(s, dir, names[i], err, len);
    bson_free(names[i]);
  }
  bson_free(names);
  return ok;
}

bool conf_load_gaps(conf_suite_t *s, const char *dir, char *err, size_t len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/known_gaps.txt", dir);
  size_t n;
  char *text = read_file(path, &n);
  if (!text) return fail(err, len, "cannot read %s", path);
  text = bson_realloc(text, n + 1);
  text[n] = '\0';
  bool ok = true;
  int line_no = 0;
  for (char *line = text, *next; ok && line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    line_no++;
    line += strspn(line, " \t");
    if (!*line || *line == '#') continue;
    size_t idlen = strcspn(line, " \t");
    bool found = false;
    for (size_t i = 0; i < s->n; i++) {
      if (strlen(s->cases[i]->id) == idlen && !strncmp(s->cases[i]->id, line, idlen)) {
        if (s->cases[i]->known_gap) {
          ok = fail(err, len, "%s:%d: %.*s is listed twice", path, line_no, (int)idlen, line);
        }
        s->cases[i]->known_gap = true;
        found = true;
      }
    }
    if (ok && !found) {
      ok = fail(err, len, "%s:%d: no case has the id %.*s", path, line_no, (int)idlen, line);
    }
    if (ok && !line[idlen + strspn(line + idlen, " \t")]) {
      ok = fail(err, len, "%s:%d: %.*s needs a reason", path, line_no, (int)idlen, line);
    }
  }
  bson_free(text);
  return ok;
}

void conf_free(conf_suite_t *s) {
  const char *last = NULL;
  for (size_t i = 0; i < s->n; i++) {
    if (s->cases[i]->file != last) {
      last = s->cases[i]->file;
      bson_free(s->cases[i]->file);
    }
    bson_free(s->cases[i]->diff);
    bson_free(s->cases[i]);
  }
  for (size_t i = 0; i < s->n_files; i++) bson_destroy(s->files[i]);
  bson_free(s->files);
  bson_free(s->cases);
}
