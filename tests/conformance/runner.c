/* The conformance runner: one live aspd, every case sent through
 * processStreamProcessor with an inline `documents` $source, the output read back
 * through the sample cursor and compared exactly (compare.c).
 *
 *   conformance_runner [-v] [-j N] [-f TEXT]... [--gaps] [DIR]
 *
 * DIR defaults to this directory and the aspd binary to the one built with the runner
 * ($ASPD_BIN overrides it). -f runs only the cases whose id
 * or file name contains TEXT; -v also prints why each known gap fails; -j sets the
 * number of concurrent connections (4); --gaps prints a known_gaps.txt line for each
 * failing case instead of judging.
 *
 * Fails on a case that fails and is not in known_gaps.txt, and on a listed case that
 * passes (so that the list only shrinks). */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "conformance.h"
#include "workspace_test_util.h"

#define CASE_DEADLINE_MS 30000

typedef struct {
  conf_suite_t *suite;
  const aspd_instance_t *aspd;
  atomic_size_t next;
  char **filters;
  size_t n_filters;
} run_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool selected(const run_t *r, const conf_case_t *c) {
  if (!r->n_filters) return true;
  for (size_t i = 0; i < r->n_filters; i++) {
    if (strstr(c->id, r->filters[i]) || strstr(c->file, r->filters[i])) return true;
  }
  return false;
}

static void append_command(const conf_case_t *c, bson_t *cmd) {
  bson_t pipeline, stage, source;
  BSON_APPEND_ARRAY_BEGIN(cmd, "processStreamProcessor", &pipeline);
  BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "0", &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&stage, "$source", &source);
  BSON_APPEND_ARRAY(&source, "documents", &c->input);
  bson_concat(&source, &c->source_options);
  bson_append_document_end(&stage, &source);
  bson_append_document_end(&pipeline, &stage);
  bson_iter_t it;
  bson_iter_init(&it, &c->pipeline);
  for (unsigned i = 1; bson_iter_next(&it); i++) {
    char key[16];
    snprintf(key, sizeof key, "%u", i);
    bson_append_value(&pipeline, key, -1, bson_iter_value(&it));
  }
  bson_append_array_end(cmd, &pipeline);
  if (!bson_empty(&c->options)) BSON_APPEND_DOCUMENT(cmd, "options", &c->options);
}

/* getMores until the cursor ends; false (with *diff) on an error or at the deadline. */
static bool collect(mongoc_client_t *client, const char *name, int64_t id, bson_t *out,
                    char **diff) {
  uint32_t n = 0;
  int64_t deadline = now_ms() + CASE_DEADLINE_MS;
  useconds_t pause = 500;
  while (id > 0) {
    if (now_ms() > deadline) {
      *diff = bson_strdup_printf("the sample cursor did not end within %d ms", CASE_DEADLINE_MS);
      return false;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "{\"getMoreSampleStreamProcessor\": \"%s\", \"cursorId\": {\"$numberLong\": "
             "\"%lld\"}, \"batchSize\": 1000}",
             name, (long long)id);
    bson_t reply;
    bson_error_t error;
    if (!wt_run(client, cmd, &reply, &error)) {
      *diff = bson_strdup_printf("getMoreSampleStreamProcessor failed: %s", error.message);
      bson_destroy(&reply);
      return false;
    }
    id = wt_int(&reply, "cursorId", NULL);
    bson_iter_t it, msg;
    uint32_t before = n;
    if (bson_iter_init_find(&it, &reply, "messages") && bson_iter_recurse(&it, &msg)) {
      while (bson_iter_next(&msg)) {
        char key[16];
        snprintf(key, sizeof key, "%u", n++);
        bson_append_value(out, key, -1, bson_iter_value(&msg));
      }
    }
    bson_destroy(&reply);
    if (id > 0 && n == before) {
      usleep(pause);
      if (pause < 20000) pause *= 2;
    }
  }
  return true;
}

static void run_case(mongoc_client_t *client, conf_case_t *c) {
  bson_t cmd = BSON_INITIALIZER, reply;
  append_command(c, &cmd);
  bson_error_t error;
  bool ok = mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, &error);
  bson_destroy(&cmd);
  if (!ok) {
    bson_destroy(&reply);
    c->passed = conf_compare_error(c, error.code, error.message, &c->diff);
    return;
  }
  char name[128];
  int64_t id = wt_int(&reply, "cursorId", NULL);
  wt_str(&reply, "name", name, sizeof name);
  bson_destroy(&reply);
  bson_t outputs = BSON_INITIALIZER;
  if (collect(client, name, id, &outputs, &c->diff)) {
    c->passed = conf_compare_outputs(c, &outputs, &c->diff);
  }
  bson_destroy(&outputs);
}

static void *worker(void *arg) {
  run_t *r = arg;
  mongoc_client_t *client = mongoc_client_new(r->aspd->uri);
  if (!client) return NULL;
  mongoc_client_set_error_api(client, 2);
  for (;;) {
    size_t i = atomic_fetch_add(&r->next, 1);
    if (i >= r->suite->n) break;
    conf_case_t *c = r->suite->cases[i];
    if (selected(r, c)) run_case(client, c);
  }
  mongoc_client_destroy(client);
  return NULL;
}

/* The first line of a diff, cut to fit a known_gaps.txt line. */
static void first_line(const char *text, char *out, size_t len) {
  int n = (int)strcspn(text, "\n");
  snprintf(out, len, "%.*s%s", n < 150 ? n : 150, text, n > 150 ? "..." : "");
}

int main(int argc, char **argv) {
  bool verbose = false, gaps = false;
  int threads = 4;
  run_t r = {0};
  r.filters = bson_malloc0((size_t)argc * sizeof *r.filters);
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-v")) {
      verbose = true;
    } else if (!strcmp(argv[i], "--gaps")) {
      gaps = true;
    } else if (!strcmp(argv[i], "-j") && i + 1 < argc) {
      threads = atoi(argv[++i]);
      if (threads < 1 || threads > 32) threads = 4;
    } else if (!strcmp(argv[i], "-f") && i + 1 < argc) {
      r.filters[r.n_filters++] = argv[++i];
    } else {
      dir = argv[i];
    }
  }
  if (!dir) dir = CONFORMANCE_DIR;
  if (!getenv("ASPD_BIN")) setenv("ASPD_BIN", CONFORMANCE_ASPD, 1);
  conf_suite_t suite;
  char err[1024];
  if (!conf_load(&suite, dir, err, sizeof err) || !conf_load_gaps(&suite, dir, err, sizeof err)) {
    fprintf(stderr, "conformance: %s\n", err);
    return 1;
  }
  r.suite = &suite;
  aspd_instance_t aspd;
  wt_start(&aspd, NULL);
  r.aspd = &aspd;
  mongoc_init();
  int64_t started = now_ms();
  pthread_t tids[32];
  for (int i = 0; i < threads; i++) pthread_create(&tids[i], NULL, worker, &r);
  for (int i = 0; i < threads; i++) pthread_join(tids[i], NULL);
  int64_t took = now_ms() - started;

  size_t passed = 0, failed = 0, known = 0, fixed = 0, ran = 0;
  for (size_t i = 0; i < suite.n; i++) {
    conf_case_t *c = suite.cases[i];
    if (!selected(&r, c)) continue;
    ran++;
    char line[200];
    if (gaps) {
      if (!c->passed) {
        first_line(c->diff ? c->diff : "no output", line, sizeof line);
        printf("%s  %s\n", c->id, line);
      }
      continue;
    }
    if (c->passed && c->known_gap) {
      fixed++;
      fprintf(stderr, "UNEXPECTED PASS %s (%s): remove it from known_gaps.txt\n", c->id, c->file);
    } else if (c->passed) {
      passed++;
    } else if (c->known_gap) {
      known++;
      if (verbose) printf("known gap %s (%s): %s\n", c->id, c->file, c->diff ? c->diff : "");
    } else {
      failed++;
      fprintf(stderr, "FAIL %s (%s): %s\n", c->id, c->file, c->diff ? c->diff : "");
    }
  }
  int status = aspd_harness_stop(&aspd);
  mongoc_cleanup();
  conf_free(&suite);
  bson_free(r.filters);
  if (gaps) return 0;
  printf("conformance: %zu cases in %.1f s: %zu passed, %zu failed, %zu known gaps", ran,
         (double)took / 1000, passed + fixed, failed, known);
  if (fixed) printf(" (%zu listed gaps now pass)", fixed);
  printf("\n");
  return failed || fixed || status != 0 ? 1 : 0;
}
