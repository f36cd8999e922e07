/* Resource bounds (docs/aspd.md, "Resource bounds"): the connection cap and the cap on
 * unauthenticated connections per address refuse at once; before authentication a large
 * declared message closes the connection; a message must arrive whole within the message
 * timeout even when its bytes trickle in; an idle connection is closed; a reply larger
 * than maxBsonObjectSize is never sent. Meanwhile other clients are served. */
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "aspd_harness.h"
#include "check_msg.h"
#include "tls_probe.h"

static bool ping(const aspd_instance_t *inst, const char *padding) {
  mongoc_client_t *client = mongoc_client_new(inst->uri);
  mongoc_client_set_error_api(client, 2);
  bson_t *cmd = BCON_NEW("ping", BCON_INT32(1), "comment", BCON_UTF8(padding ? padding : ""));
  bson_error_t error;
  bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, NULL, &error);
  if (!ok) fprintf(stderr, "ping: %s\n", error.message);
  bson_destroy(cmd);
  mongoc_client_destroy(client);
  return ok;
}

/* A header declaring `length` bytes of OP_MSG. */
static void header(uint8_t out[16], int32_t length) {
  int32_t fields[4] = {length, 7, 0, 2013};
  memcpy(out, fields, sizeof fields); /* little-endian host, as the harness machines are */
}

static void test_caps(void) {
  const char *args[] = {"--max-connections", "6", "--max-unauthenticated-per-peer", "3", NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, args)) exit(1);

  tls_probe_t held[6];
  for (int i = 0; i < 3; i++) CHECK(tls_probe_open(&held[i], &inst), "unauthenticated conn %d", i);
  double t0 = tls_probe_now();
  tls_probe_t extra;
  CHECK(!tls_probe_open(&extra, &inst), "a 4th unauthenticated connection was accepted");
  CHECK(tls_probe_now() - t0 < 3.0, "refusal took %.1f s", tls_probe_now() - t0);

  /* A slot comes back when its connection ends (the server notices the close). */
  tls_probe_close(&held[0]);
  bool reopened = false;
  for (int i = 0; i < 50 && !reopened; i++) {
    reopened = tls_probe_open(&held[0], &inst);
    if (!reopened) usleep(100 * 1000);
  }
  CHECK(reopened, "the freed unauthenticated slot was not given back");
  tls_probe_close(&held[0]);

  /* Authenticated connections hold no unauthenticated slot: three clients authenticate
   * one after the other while two unauthenticated connections stay open. */
  mongoc_client_t *clients[3];
  for (int i = 0; i < 3; i++) {
    /* Retried: the server gives the last probe's slot back once it has seen the close. */
    bool ok = false;
    bson_error_t error;
    for (int attempt = 0; attempt < 50 && !ok; attempt++) {
      if (attempt) usleep(100 * 1000);
      clients[i] = mongoc_client_new(inst.uri);
      bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
      ok = mongoc_client_command_simple(clients[i], "admin", cmd, NULL, NULL, &error);
      bson_destroy(cmd);
      if (!ok) mongoc_client_destroy(clients[i]);
    }
    CHECK(ok, "authenticated client %d: %s", i, error.message);
    if (!ok) clients[i] = NULL;
  }
  /* Now 5 open (2 unauthenticated + 3 authenticated): one more fits, then the cap. */
  CHECK(tls_probe_open(&held[0], &inst), "6th connection (the cap) refused");
  t0 = tls_probe_now();
  CHECK(!tls_probe_open(&extra, &inst), "a 7th connection was accepted over the cap of 6");
  CHECK(tls_probe_now() - t0 < 3.0, "refusal over the cap took %.1f s", tls_probe_now() - t0);
  for (int i = 0; i < 3; i++) mongoc_client_destroy(clients[i]); /* NULL is fine */
  for (int i = 0; i < 3; i++) tls_probe_close(&held[i]);
  /* The closes above free their slots once the server has seen them: retried. */
  bool served = false;
  for (int i = 0; i < 50 && !served; i++) {
    if (i) usleep(100 * 1000);
    served = ping(&inst, NULL);
  }
  CHECK(served, "server not answering after the caps");
  CHECK(aspd_harness_stop(&inst) == 0, "aspd did not exit 0");
}

static void test_timeouts(void) {
  const char *args[] = {"--message-timeout-ms", "1500", "--idle-timeout-ms", "1000", NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, args)) exit(1);
  uint8_t h[16];

  /* Before authentication a declaration above 64 KiB closes at once, body or not. */
  tls_probe_t p;
  CHECK(tls_probe_open(&p, &inst), "connect (oversized)");
  header(h, 48000000);
  CHECK(tls_probe_send(&p, h, sizeof h), "send oversized header");
  CHECK(tls_probe_closed_within(&p, 1000), "48 MB declared before authentication: still open");
  tls_probe_close(&p);

  /* Slowloris: one byte every 200 ms (well inside the idle timeout) never completes the
   * message; the whole-message deadline (1.5 s) cuts it off. */
  tls_probe_t slow[4];
  for (int i = 0; i < 4; i++) {
    CHECK(tls_probe_open(&slow[i], &inst), "connect (slow %d)", i);
    header(h, 1000);
    tls_probe_send(&slow[i], h, sizeof h);
  }
  double t0 = tls_probe_now();
  bool open[4] = {true, true, true, true};
  int still_open = 4;
  double closed_after = 0;
  while (still_open > 0 && tls_probe_now() - t0 < 10.0) {
    for (int i = 0; i < 4; i++) {
      if (!open[i]) continue;
      uint8_t byte = 0;
      if (!tls_probe_send(&slow[i], &byte, 1) || tls_probe_closed_within(&slow[i], 50)) {
        open[i] = false;
        still_open--;
        closed_after = tls_probe_now() - t0;
      }
    }
    CHECK(still_open == 0 || ping(&inst, NULL), "another client not served during slowloris");
    usleep(200 * 1000);
  }
  CHECK(still_open == 0, "%d trickling connections still open after 10 s", still_open);
  CHECK(closed_after >= 1.0 && closed_after < 6.0,
        "trickling connections closed after %.1f s (deadline 1.5 s)", closed_after);
  for (int i = 0; i < 4; i++) tls_probe_close(&slow[i]);

  /* Idle: a connection that says nothing is closed after the idle timeout. */
  CHECK(tls_probe_open(&p, &inst), "connect (idle)");
  t0 = tls_probe_now();
  CHECK(tls_probe_closed_within(&p, 6000), "idle connection still open after 6 s");
  double idle_after = tls_probe_now() - t0;
  CHECK(idle_after >= 0.8, "idle connection closed after only %.2f s (limit 1 s)", idle_after);
  tls_probe_close(&p);

  /* After authentication large messages are fine (1 MB here). */
  char *big = malloc(1 << 20);
  memset(big, 'x', (1 << 20) - 1);
  big[(1 << 20) - 1] = '\0';
  CHECK(ping(&inst, big), "a 1 MB command after authentication was refused");
  free(big);
  CHECK(aspd_harness_stop(&inst) == 0, "aspd did not exit 0");
}

/* A reply whose size the client chooses (find with a batchSize over large documents) never
 * goes out larger than maxBsonObjectSize: the batch is cut short or the command gets a
 * clear error, and the connection carries on. (Lists of definitions are kept within the
 * limit when the definitions are created: test_limits_definitions.) */
static void test_reply_bound(void) {
  aspd_instance_t inst;
  if (!aspd_harness_start_connections(&inst, NULL,
                                      "[{\"name\": \"cluster0\", \"type\": \"Cluster\", "
                                      "\"clusterName\": \"Cluster0\"}]",
                                      NULL)) {
    exit(1);
  }
  mongoc_client_t *client = mongoc_client_new(inst.uri);
  mongoc_client_set_error_api(client, 2);
  size_t pad_len = 3500 * 1000;
  char *pad = malloc(pad_len + 1);
  memset(pad, 'p', pad_len);
  pad[pad_len] = '\0';
  bson_error_t error;
  mongoc_collection_t *coll = mongoc_client_get_collection(client, "d", "big");
  for (int i = 0; i < 5; i++) {
    bson_t *doc = BCON_NEW("i", BCON_INT32(i), "pad", BCON_UTF8(pad));
    CHECK(mongoc_collection_insert_one(coll, doc, NULL, NULL, &error), "insert %d: %s", i,
          error.message);
    bson_destroy(doc);
  }
  mongoc_collection_destroy(coll);
  /* 17.5 MB asked for in one batch. */
  bson_t *find = BCON_NEW("find", BCON_UTF8("big"), "batchSize", BCON_INT32(5));
  bson_t reply;
  bool ok = mongoc_client_command_simple(client, "d", find, NULL, &reply, &error);
  if (ok) {
    bson_iter_t it, batch;
    uint32_t n = 0;
    if (bson_iter_init(&it, &reply) &&
        bson_iter_find_descendant(&it, "cursor.firstBatch", &batch) &&
        bson_iter_recurse(&batch, &it)) {
      while (bson_iter_next(&it)) n++;
    }
    printf("a find of 17.5 MB: the batch was cut to %u documents (%u bytes)\n", n, reply.len);
    CHECK(reply.len <= 16777216 && n < 5, "a find batch of %u documents, %u bytes", n, reply.len);
  } else {
    printf("a find of 17.5 MB: %s\n", error.message);
    CHECK(error.code == 10334 && strstr(error.message, "16777216"),
          "a 17.5 MB find batch: %s (code %u)", error.message, error.code);
  }
  bson_destroy(&reply);
  bson_destroy(find);
  /* The connection is still fine, and a smaller question still gets its answer. */
  bson_t *one = BCON_NEW("find", BCON_UTF8("big"), "batchSize", BCON_INT32(2));
  CHECK(mongoc_client_command_simple(client, "d", one, NULL, &reply, &error),
        "a smaller batch after the large one: %s", error.message);
  bson_destroy(&reply);
  bson_destroy(one);
  free(pad);
  mongoc_client_destroy(client);
  CHECK(aspd_harness_stop(&inst) == 0, "aspd did not exit 0");
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* writes to connections the server closed must fail, not kill */
  mongoc_init();
  test_caps();
  test_timeouts();
  test_reply_bound();
  mongoc_cleanup();
  return check_msg_report("limits");
}
