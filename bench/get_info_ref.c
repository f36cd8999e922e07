/* Benchmark (d) reference: getStreamProcessor round trips on libmongoc directly, the reply
 * read as asp's get_info reads it (the `result` document), for comparison with
 * sps:get_info through the Lua module.
 *
 *   bench_get_info_ref URI PROCESSOR N  ->  prints microseconds per round trip */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: bench_get_info_ref URI PROCESSOR N\n");
    return 2;
  }
  long n = atol(argv[3]);
  mongoc_init();
  bson_error_t error;
  mongoc_uri_t *uri = mongoc_uri_new_with_error(argv[1], &error);
  if (!uri) {
    fprintf(stderr, "bench_get_info_ref: %s\n", error.message);
    return 1;
  }
  mongoc_client_t *client = mongoc_client_new_from_uri(uri);
  mongoc_client_set_error_api(client, 2);
  bson_t *cmd = BCON_NEW("getStreamProcessor", BCON_UTF8(argv[2]));
  long states = 0;
  double t0 = 0;
  for (long i = -1; i < n; i++) { /* round -1 connects, authenticates, warms up */
    if (i == 0) t0 = now_s();
    bson_t reply;
    if (!mongoc_client_command_with_opts(client, "admin", cmd, NULL, NULL, &reply, &error)) {
      fprintf(stderr, "bench_get_info_ref: %s\n", error.message);
      return 1;
    }
    bson_iter_t it;
    if (bson_iter_init_find(&it, &reply, "result") && BSON_ITER_HOLDS_DOCUMENT(&it)) states++;
    bson_destroy(&reply);
  }
  double elapsed = now_s() - t0;
  printf("%.1f\n", elapsed / (double)n * 1e6);
  fprintf(stderr, "bench_get_info_ref: %ld round trips in %.3f s (%ld replies)\n", n, elapsed,
          states);
  bson_destroy(cmd);
  mongoc_client_destroy(client);
  mongoc_uri_destroy(uri);
  mongoc_cleanup();
  return 0;
}
