/* Benchmark (c) reference: the sample loop of asp's Lua iterator done in C on libmongoc
 * directly. startSampleStreamProcessor, then getMoreSampleStreamProcessor until N
 * documents arrived, reading obs.watts from each (the Lua side decodes each document into
 * a table and reads the same field), sleeping poll_ms after an empty batch.
 *
 *   bench_sample_ref URI PROCESSOR N BATCH_SIZE POLL_MS
 *     -> prints documents per second, then the process's CPU microseconds per document */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool run(mongoc_client_t *client, const bson_t *cmd, bson_t *reply) {
  bson_error_t error;
  if (mongoc_client_command_with_opts(client, "admin", cmd, NULL, NULL, reply, &error)) return true;
  fprintf(stderr, "bench_sample_ref: %s\n", error.message);
  return false;
}

static int64_t cursor_id_of(const bson_t *reply) {
  bson_iter_t it;
  return bson_iter_init_find(&it, reply, "cursorId") ? bson_iter_as_int64(&it) : 0;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: bench_sample_ref URI PROCESSOR N BATCH_SIZE POLL_MS\n");
    return 2;
  }
  const char *name = argv[2];
  long want = atol(argv[3]);
  int32_t batch_size = atoi(argv[4]);
  double poll_s = atof(argv[5]) / 1000.0;
  mongoc_init();
  bson_error_t error;
  mongoc_uri_t *uri = mongoc_uri_new_with_error(argv[1], &error);
  if (!uri) {
    fprintf(stderr, "bench_sample_ref: %s\n", error.message);
    return 1;
  }
  mongoc_client_t *client = mongoc_client_new_from_uri(uri);
  mongoc_client_set_error_api(client, 2);

  bson_t reply;
  bson_t *start = BCON_NEW("startSampleStreamProcessor", BCON_UTF8(name));
  if (!run(client, start, &reply)) return 1;
  int64_t id = cursor_id_of(&reply);
  bson_destroy(&reply);
  bson_destroy(start);

  long got = 0;
  int64_t watts = 0, id_bytes = 0;
  double t0 = now_s(), c0 = cpu_s();
  while (got < want && id != 0) {
    bson_t *more = BCON_NEW("getMoreSampleStreamProcessor", BCON_UTF8(name), "cursorId",
                            BCON_INT64(id), "batchSize", BCON_INT32(batch_size));
    if (!run(client, more, &reply)) return 1;
    bson_destroy(more);
    id = cursor_id_of(&reply);
    bson_iter_t it, batch, field;
    long before = got;
    if (bson_iter_init_find(&it, &reply, "messages") && bson_iter_recurse(&it, &batch)) {
      while (bson_iter_next(&batch) && got < want) {
        bson_iter_t doc;
        if (bson_iter_recurse(&batch, &doc) && bson_iter_find_descendant(&doc, "obs.watts", &field))
          watts += bson_iter_as_int64(&field);
        if (bson_iter_recurse(&batch, &doc) && bson_iter_find(&doc, "device_id") &&
            BSON_ITER_HOLDS_UTF8(&doc)) {
          uint32_t len;
          bson_iter_utf8(&doc, &len);
          id_bytes += len;
        }
        got++;
      }
    }
    bson_destroy(&reply);
    if (got == before && poll_s > 0) {
      struct timespec ts = {(time_t)poll_s, (long)((poll_s - (double)(time_t)poll_s) * 1e9)};
      nanosleep(&ts, NULL);
    }
  }
  double elapsed = now_s() - t0, cpu = cpu_s() - c0;
  printf("%.0f %.4f\n", (double)got / elapsed, cpu / (double)got * 1e6);
  fprintf(stderr, "bench_sample_ref: %ld documents in %.3f s (watts sum %lld, %lld id bytes)\n",
          got, elapsed, (long long)watts, (long long)id_bytes);
  mongoc_client_destroy(client);
  mongoc_uri_destroy(uri);
  mongoc_cleanup();
  return got > 0 ? 0 : 1; /* a session may end early (40 MB cap): the rate still counts */
}
