/* Benchmark (d) reference: getStreamProcessor round trips on libmongoc directly, for
 * comparison with sps:get_info through the Lua module. Like the Lua side it reads the whole
 * reply: every field of the `result` document, nested ones too, as a caller copying the
 * info into its own structures would.
 *
 *   bench_get_info_ref URI PROCESSOR N [BLOCKS]  ->  prints microseconds per round trip, one
 *   line per block of N calls (a busy machine disturbs some blocks; the caller keeps the
 *   best or the median) */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads every key and value below it; returns a checksum so nothing is optimised away. */
static uint64_t read_all(bson_iter_t *it) {
  uint64_t sum = 0;
  while (bson_iter_next(it)) {
    sum += strlen(bson_iter_key(it));
    switch (bson_iter_type(it)) {
      case BSON_TYPE_UTF8: {
        uint32_t len;
        const char *s = bson_iter_utf8(it, &len);
        sum += len + (uint8_t)s[0];
        break;
      }
      case BSON_TYPE_DATE_TIME:
        sum += (uint64_t)bson_iter_date_time(it);
        break;
      case BSON_TYPE_BOOL:
        sum += bson_iter_bool(it);
        break;
      case BSON_TYPE_DOCUMENT:
      case BSON_TYPE_ARRAY: {
        bson_iter_t child;
        if (bson_iter_recurse(it, &child)) sum += read_all(&child);
        break;
      }
      default:
        sum += (uint64_t)bson_iter_as_int64(it);
        break;
    }
  }
  return sum;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: bench_get_info_ref URI PROCESSOR N [BLOCKS]\n");
    return 2;
  }
  long n = atol(argv[3]), blocks = argc == 5 ? atol(argv[4]) : 1;
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
  uint64_t checksum = 0;
  double t0 = 0;
  for (long i = -1; i < n * blocks; i++) { /* round -1 connects, authenticates, warms up */
    if (i % n == 0) {
      double t = now_s();
      if (i > 0) printf("%.2f\n", (t - t0) / (double)n * 1e6);
      t0 = t;
    }
    bson_t reply;
    if (!mongoc_client_command_with_opts(client, "admin", cmd, NULL, NULL, &reply, &error)) {
      fprintf(stderr, "bench_get_info_ref: %s\n", error.message);
      return 1;
    }
    bson_iter_t it, result;
    if (bson_iter_init_find(&it, &reply, "result") && bson_iter_recurse(&it, &result))
      checksum += read_all(&result);
    bson_destroy(&reply);
  }
  printf("%.2f\n", (now_s() - t0) / (double)n * 1e6);
  fprintf(stderr, "bench_get_info_ref: %ld blocks of %ld round trips (checksum %llu)\n", blocks, n,
          (unsigned long long)checksum);
  bson_destroy(cmd);
  mongoc_client_destroy(client);
  mongoc_uri_destroy(uri);
  mongoc_cleanup();
  return 0;
}
