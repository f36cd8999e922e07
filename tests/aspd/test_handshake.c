/* Handshake commands over libmongoc (which starts with OP_QUERY) and over a raw
 * TLS stream: OP_QUERY/OP_REPLY, OP_MSG with a kind-1 sequence, moreToCome, checksum. */
#include <arpa/inet.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aspd_harness.h"
#include "check_msg.h"
#include "raw_tls.h"

static bool run(mongoc_client_t *client, const char *json, bson_t *reply, bson_error_t *error) {
  bson_error_t parse_error;
  bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &parse_error);
  if (!cmd) {
    fprintf(stderr, "bad test JSON %s: %s\n", json, parse_error.message);
    bson_init(reply);
    return false;
  }
  bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, reply, error);
  bson_destroy(cmd);
  return ok;
}

static const char *utf8_field(const bson_t *doc, const char *key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL)
                                                                         : "";
}

static bool has(const bson_t *doc, const char *key) {
  return bson_has_field(doc, key);
}

static int64_t int_field(const bson_t *doc, const char *key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it)
                                                                           : -1;
}

static bool bool_field(const bson_t *doc, const char *key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, key) && bson_iter_as_bool(&it);
}

static void check_standalone(const bson_t *reply, const char *primary_field) {
  char *text = bson_as_relaxed_extended_json(reply, NULL);
  CHECK(bool_field(reply, primary_field), "%s not true in %s", primary_field, text);
  CHECK(int_field(reply, "maxWireVersion") >= 6, "maxWireVersion in %s", text);
  CHECK(int_field(reply, "minWireVersion") == 0, "minWireVersion in %s", text);
  CHECK(int_field(reply, "maxBsonObjectSize") == 16777216, "maxBsonObjectSize in %s", text);
  CHECK(int_field(reply, "maxMessageSizeBytes") == 48000000, "maxMessageSizeBytes in %s", text);
  CHECK(int_field(reply, "maxWriteBatchSize") == 100000, "maxWriteBatchSize in %s", text);
  CHECK(has(reply, "localTime") && has(reply, "connectionId"), "localTime/connectionId in %s",
        text);
  CHECK(has(reply, "readOnly") && !bool_field(reply, "readOnly"), "readOnly in %s", text);
  CHECK(!has(reply, "setName") && !has(reply, "serviceId") && !has(reply, "msg"),
        "replica-set/mongos fields in %s", text);
  bson_free(text);
}

static void check_command_not_found(mongoc_client_t *client, const char *json, const char *name) {
  bson_t reply;
  bson_error_t error;
  bool ok = run(client, json, &reply, &error);
  char expected[128];
  snprintf(expected, sizeof expected, "no such command: '%s'", name);
  CHECK(!ok && error.code == 59 && strcmp(error.message, expected) == 0,
        "%s: expected 59 \"%s\", got ok=%d code=%u \"%s\"", name, expected, ok, error.code,
        error.message);
  CHECK(strcmp(utf8_field(&reply, "codeName"), "CommandNotFound") == 0, "%s: codeName", name);
  bson_destroy(&reply);
}

static void test_driver_commands(const aspd_instance_t *inst) {
  mongoc_client_t *client = mongoc_client_new(inst->uri);
  mongoc_client_set_error_api(client, 2);
  bson_t reply;
  bson_error_t error;

  CHECK(run(client, "{\"hello\": 1}", &reply, &error), "hello: %s", error.message);
  check_standalone(&reply, "isWritablePrimary");
  bson_destroy(&reply);
  CHECK(run(client, "{\"isMaster\": 1, \"helloOk\": true}", &reply, &error), "isMaster: %s",
        error.message);
  check_standalone(&reply, "ismaster");
  CHECK(bool_field(&reply, "helloOk"), "helloOk not echoed");
  bson_destroy(&reply);
  CHECK(run(client, "{\"ismaster\": 1}", &reply, &error), "ismaster: %s", error.message);
  check_standalone(&reply, "ismaster");
  CHECK(!has(&reply, "helloOk"), "helloOk without being asked");
  bson_destroy(&reply);

  CHECK(run(client, "{\"hello\": 1, \"saslSupportedMechs\": \"admin.asp-dev\"}", &reply, &error),
        "hello saslSupportedMechs: %s", error.message);
  char *text = bson_as_relaxed_extended_json(&reply, NULL);
  CHECK(strstr(text, "\"saslSupportedMechs\" : [ \"SCRAM-SHA-1\", \"SCRAM-SHA-256\" ]"),
        "saslSupportedMechs in %s", text);
  bson_free(text);
  bson_destroy(&reply);

  CHECK(run(client, "{\"ping\": 1}", &reply, &error), "ping: %s", error.message);
  CHECK(int_field(&reply, "ok") == 1, "ping ok");
  bson_destroy(&reply);

  CHECK(run(client, "{\"buildInfo\": 1}", &reply, &error), "buildInfo: %s", error.message);
  CHECK(strcmp(utf8_field(&reply, "version"), "7.0.0") == 0, "buildInfo version");
  text = bson_as_relaxed_extended_json(&reply, NULL);
  CHECK(strstr(text, "\"versionArray\" : [ 7, 0, 0, 0 ]"), "versionArray in %s", text);
  bson_free(text);
  bson_destroy(&reply);

  CHECK(run(client,
            "{\"endSessions\": [{\"id\": {\"$binary\": {\"base64\": "
            "\"AAAAAAAAAAAAAAAAAAAAAA==\", \"subType\": \"04\"}}}]}",
            &reply, &error),
        "endSessions: %s", error.message);
  bson_destroy(&reply);

  /* Generic fields drivers add are accepted and ignored. */
  CHECK(run(client,
            "{\"ping\": 1, \"$readPreference\": {\"mode\": \"primaryPreferred\"}, "
            "\"$clusterTime\": {\"clusterTime\": {\"$timestamp\": {\"t\": 1, \"i\": 1}}}, "
            "\"apiVersion\": \"1\", \"apiStrict\": false, \"comment\": \"hi\", "
            "\"maxTimeMS\": 1000}",
            &reply, &error),
        "ping with generic fields: %s", error.message);
  bson_destroy(&reply);

  check_command_not_found(client, "{\"atlasVersion\": 1}", "atlasVersion");
  check_command_not_found(client, "{\"getParameter\": 1, \"featureCompatibilityVersion\": 1}",
                          "getParameter");
  check_command_not_found(client, "{\"replSetGetStatus\": 1}", "replSetGetStatus");
  check_command_not_found(client, "{\"noSuchThingAtAll\": 1}", "noSuchThingAtAll");
  mongoc_client_destroy(client);
}

/* ---- raw wire ---- */

static void put_i32(uint8_t *p, int32_t v) {
  uint32_t u = (uint32_t)v;
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(u >> (8 * i));
}

static int32_t get_i32(const uint8_t *p) {
  return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                   (uint32_t)p[3] << 24);
}

static bool send_bytes(mongoc_stream_t *s, const uint8_t *data, size_t len) {
  struct iovec iov = {.iov_base = (void *)(uintptr_t)data, .iov_len = len};
  return mongoc_stream_writev(s, &iov, 1, 5000) == (ssize_t)len;
}

/* Reads one message: returns its opcode (or -1) and the first document of its body. */
static int32_t receive(mongoc_stream_t *s, int32_t *response_to, bson_t *doc) {
  uint8_t header[16];
  bson_init(doc);
  if (mongoc_stream_read(s, header, 16, 16, 5000) != 16) return -1;
  int32_t len = get_i32(header);
  if (len < 16 || len > 1 << 24) return -1;
  uint8_t *body = bson_malloc((size_t)len - 16);
  if (mongoc_stream_read(s, body, (size_t)len - 16, (size_t)len - 16, 5000) != len - 16) {
    bson_free(body);
    return -1;
  }
  int32_t opcode = get_i32(header + 12);
  *response_to = get_i32(header + 8);
  size_t offset = opcode == 1 ? 20 : 5; /* OP_REPLY prefix / OP_MSG flags + kind byte */
  bson_t view;
  if ((size_t)len - 16 > offset &&
      bson_init_static(&view, body + offset, (size_t)len - 16 - offset)) {
    bson_destroy(doc);
    bson_copy_to(&view, doc);
  }
  bson_free(body);
  return opcode;
}

/* OP_MSG: header, flags, kind 0 body, optional kind 1 sequence, optional checksum. */
static size_t build_op_msg(uint8_t *out, int32_t request_id, uint32_t flags, const bson_t *body,
                           const char *seq_id, const bson_t *const *seq_docs, int seq_count) {
  size_t pos = 16;
  put_i32(out + pos, (int32_t)flags);
  pos += 4;
  out[pos++] = 0;
  memcpy(out + pos, bson_get_data(body), body->len);
  pos += body->len;
  if (seq_id) {
    out[pos++] = 1;
    size_t size_at = pos;
    pos += 4;
    memcpy(out + pos, seq_id, strlen(seq_id) + 1);
    pos += strlen(seq_id) + 1;
    for (int i = 0; i < seq_count; i++) {
      memcpy(out + pos, bson_get_data(seq_docs[i]), seq_docs[i]->len);
      pos += seq_docs[i]->len;
    }
    put_i32(out + size_at, (int32_t)(pos - size_at));
  }
  if (flags & 1u) {
    put_i32(out + pos, 0); /* checksum: aspd skips it */
    pos += 4;
  }
  put_i32(out, (int32_t)pos);
  put_i32(out + 4, request_id);
  put_i32(out + 8, 0);
  put_i32(out + 12, 2013);
  return pos;
}

static size_t build_op_query(uint8_t *out, int32_t request_id, const char *ns, const bson_t *q) {
  size_t pos = 16;
  put_i32(out + pos, 0);
  pos += 4;
  memcpy(out + pos, ns, strlen(ns) + 1);
  pos += strlen(ns) + 1;
  put_i32(out + pos, 0);
  put_i32(out + pos + 4, -1);
  pos += 8;
  memcpy(out + pos, bson_get_data(q), q->len);
  pos += q->len;
  put_i32(out, (int32_t)pos);
  put_i32(out + 4, request_id);
  put_i32(out + 8, 0);
  put_i32(out + 12, 2004);
  return pos;
}

static void test_raw_wire(const aspd_instance_t *inst) {
  mongoc_stream_t *s = raw_tls_connect(inst);
  CHECK(s != NULL, "raw TLS connect");
  if (!s) return;
  uint8_t buf[4096];
  bson_t reply;
  int32_t response_to;

  /* OP_QUERY isMaster -> OP_REPLY */
  bson_t *q = BCON_NEW("isMaster", BCON_INT32(1), "helloOk", BCON_BOOL(true));
  size_t n = build_op_query(buf, 101, "admin.$cmd", q);
  CHECK(send_bytes(s, buf, n), "send OP_QUERY");
  int32_t opcode = receive(s, &response_to, &reply);
  CHECK(opcode == 1 && response_to == 101, "OP_QUERY answered by opcode %d responseTo %d", opcode,
        response_to);
  CHECK(bool_field(&reply, "ismaster") && bool_field(&reply, "helloOk"), "OP_REPLY document");
  bson_destroy(&reply);
  bson_destroy(q);

  /* OP_QUERY wrapped in $query, on another database's $cmd */
  q = BCON_NEW("$query", "{", "ping", BCON_INT32(1), "}", "$readPreference", "{", "mode",
               BCON_UTF8("primary"), "}");
  n = build_op_query(buf, 102, "test.$cmd", q);
  CHECK(send_bytes(s, buf, n), "send wrapped OP_QUERY");
  opcode = receive(s, &response_to, &reply);
  CHECK(opcode == 1 && response_to == 102 && int_field(&reply, "ok") == 1,
        "wrapped OP_QUERY ping: opcode %d", opcode);
  bson_destroy(&reply);
  bson_destroy(q);

  /* OP_MSG with a kind-1 document sequence: still a well-formed command */
  bson_t *body = BCON_NEW("ping", BCON_INT32(1), "$db", BCON_UTF8("admin"));
  bson_t *d1 = BCON_NEW("a", BCON_INT32(1));
  bson_t *d2 = BCON_NEW("a", BCON_INT32(2));
  const bson_t *docs[] = {d1, d2};
  n = build_op_msg(buf, 103, 0, body, "documents", docs, 2);
  CHECK(send_bytes(s, buf, n), "send OP_MSG with sequence");
  opcode = receive(s, &response_to, &reply);
  CHECK(opcode == 2013 && response_to == 103 && int_field(&reply, "ok") == 1,
        "OP_MSG with kind-1 sequence: opcode %d responseTo %d", opcode, response_to);
  bson_destroy(&reply);

  /* moreToCome: no reply to 104; the next reply answers 105 */
  n = build_op_msg(buf, 104, 2u, body, NULL, NULL, 0);
  CHECK(send_bytes(s, buf, n), "send moreToCome");
  n = build_op_msg(buf, 105, 1u, body, NULL, NULL, 0); /* with checksum */
  CHECK(send_bytes(s, buf, n), "send checksummed OP_MSG");
  opcode = receive(s, &response_to, &reply);
  CHECK(opcode == 2013 && response_to == 105, "after moreToCome got responseTo %d", response_to);
  bson_destroy(&reply);

  /* An unknown command over raw OP_MSG */
  bson_t *unknown = BCON_NEW("atlasVersion", BCON_INT32(1), "$db", BCON_UTF8("admin"));
  n = build_op_msg(buf, 106, 0, unknown, NULL, NULL, 0);
  CHECK(send_bytes(s, buf, n), "send unknown");
  opcode = receive(s, &response_to, &reply);
  CHECK(opcode == 2013 && int_field(&reply, "code") == 59, "unknown command over OP_MSG");
  bson_destroy(&reply);

  bson_destroy(unknown);
  bson_destroy(body);
  bson_destroy(d1);
  bson_destroy(d2);
  mongoc_stream_destroy(s);
}

int main(void) {
  mongoc_init();
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, NULL)) return 1;
  test_driver_commands(&inst);
  test_raw_wire(&inst);
  /* SIGINT stops it cleanly too. WNOWAIT leaves the reaping to the harness. */
  kill(inst.pid, SIGINT);
  siginfo_t info = {0};
  for (int i = 0; i < 100 && info.si_pid == 0; i++) {
    waitid(P_PID, (id_t)inst.pid, &info, WEXITED | WNOHANG | WNOWAIT);
    if (info.si_pid == 0) usleep(50 * 1000);
  }
  CHECK(info.si_pid == inst.pid && info.si_code == CLD_EXITED && info.si_status == 0,
        "aspd did not exit 0 on SIGINT (code %d status %d)", info.si_code, info.si_status);
  aspd_harness_stop(&inst);
  mongoc_cleanup();
  return check_msg_report("handshake");
}
