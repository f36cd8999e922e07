/* Framing: the pure parser on crafted bytes, then malformed messages on a raw
 * TLS stream. Each bad message closes that connection only: the server keeps
 * serving the next client. */
#include <arpa/inet.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../src/aspd/net/wire.c"
#include "aspd_harness.h"
#include "check_msg.h"
#include "raw_tls.h"

typedef struct {
  uint8_t bytes[8192];
  size_t len;
} frame_t;

static void put(frame_t *f, const void *data, size_t len) {
  memcpy(f->bytes + f->len, data, len);
  f->len += len;
}

static void put_i32(frame_t *f, int32_t v) {
  uint8_t b[4];
  write_i32(b, v);
  put(f, b, 4);
}

static void put_doc(frame_t *f, const bson_t *doc) {
  put(f, bson_get_data(doc), doc->len);
}

/* Starts a frame with a header; finish() writes the real length. */
static void start(frame_t *f, int32_t request_id, int32_t opcode) {
  f->len = 0;
  put_i32(f, 0);
  put_i32(f, request_id);
  put_i32(f, 0);
  put_i32(f, opcode);
}

static void finish(frame_t *f) {
  write_i32(f->bytes, (int32_t)f->len);
}

static void op_msg(frame_t *f, uint32_t flags, const bson_t *body) {
  start(f, 1, ASPD_OP_MSG);
  put_i32(f, (int32_t)flags);
  uint8_t kind = 0;
  put(f, &kind, 1);
  put_doc(f, body);
}

static bool parses(const frame_t *f, aspd_wire_request_t *req, char *err) {
  return aspd_wire_parse_message(f->bytes, f->len, req, err, 256);
}

static void expect_rejected(const frame_t *f, const char *what) {
  aspd_wire_request_t req;
  char err[256] = "";
  bool ok = parses(f, &req, err);
  CHECK(!ok, "parser accepted %s", what);
  if (ok) aspd_wire_request_destroy(&req);
}

static void test_parser(void) {
  bson_t *ping = BCON_NEW("ping", BCON_INT32(1), "$db", BCON_UTF8("admin"));
  bson_t *d1 = BCON_NEW("a", BCON_INT32(1));
  bson_t *d2 = BCON_NEW("a", BCON_INT32(2));
  frame_t f;
  aspd_wire_request_t req;
  char err[256];

  /* kind-0 body plus a kind-1 sequence folded in as an array */
  op_msg(&f, 0, ping);
  uint8_t kind = 1;
  put(&f, &kind, 1);
  size_t size_at = f.len;
  put_i32(&f, 0);
  put(&f, "documents", 10);
  put_doc(&f, d1);
  put_doc(&f, d2);
  write_i32(f.bytes + size_at, (int32_t)(f.len - size_at));
  finish(&f);
  CHECK(parses(&f, &req, err), "OP_MSG with sequence: %s", err);
  bson_iter_t it;
  CHECK(bson_iter_init(&it, &req.command) && bson_iter_find_descendant(&it, "documents.1.a", &it) &&
            bson_iter_int32(&it) == 2,
        "sequence not folded into the body");
  CHECK(!req.more_to_come, "moreToCome set");
  aspd_wire_request_destroy(&req);

  /* checksumPresent: 4 trailing bytes are skipped; moreToCome is reported */
  op_msg(&f, 1u | 2u, ping);
  put_i32(&f, 0x12345678);
  finish(&f);
  CHECK(parses(&f, &req, err) && req.more_to_come, "checksum + moreToCome: %s", err);
  aspd_wire_request_destroy(&req);

  /* exhaustAllowed (bit 16) is optional: accepted and ignored */
  op_msg(&f, 1u << 16, ping);
  finish(&f);
  CHECK(parses(&f, &req, err), "exhaustAllowed: %s", err);
  aspd_wire_request_destroy(&req);

  /* OP_QUERY with a $query wrapper on <db>.$cmd */
  bson_t *wrapped = BCON_NEW("$query", "{", "isMaster", BCON_INT32(1), "}");
  start(&f, 9, ASPD_OP_QUERY);
  put_i32(&f, 0);
  put(&f, "admin.$cmd", 11);
  put_i32(&f, 0);
  put_i32(&f, -1);
  put_doc(&f, wrapped);
  finish(&f);
  CHECK(parses(&f, &req, err), "OP_QUERY: %s", err);
  CHECK(bson_iter_init(&it, &req.command) && bson_iter_next(&it) &&
            strcmp(bson_iter_key(&it), "isMaster") == 0 && strcmp(req.database, "admin") == 0,
        "OP_QUERY unwrap");
  aspd_wire_request_destroy(&req);

  /* Builders round-trip through the parser's header check */
  size_t len;
  uint8_t *built = aspd_wire_build_op_msg(5, 77, ping, &len);
  aspd_wire_header_t header;
  CHECK(aspd_wire_parse_header(built, &header, err, sizeof err) && header.response_to == 77 &&
            header.opcode == ASPD_OP_MSG && (size_t)header.message_length == len,
        "built OP_MSG header");
  CHECK(
      aspd_wire_parse_message(built, len, &req, err, sizeof err) && bson_equal(&req.command, ping),
      "built OP_MSG body: %s", err);
  aspd_wire_request_destroy(&req);
  bson_free(built);
  built = aspd_wire_build_op_reply(6, 78, ping, &len);
  CHECK(read_i32(built + 12) == ASPD_OP_REPLY && read_i32(built + 8) == 78 &&
            read_i32(built + 32) == 1 && len == 36 + ping->len,
        "built OP_REPLY");
  bson_free(built);

  /* Malformed */
  start(&f, 1, ASPD_OP_MSG);
  write_i32(f.bytes, 8);
  CHECK(!aspd_wire_parse_header(f.bytes, &header, err, sizeof err), "length < 16 accepted");
  write_i32(f.bytes, ASPD_WIRE_MAX_MESSAGE + 1);
  CHECK(!aspd_wire_parse_header(f.bytes, &header, err, sizeof err), "oversized accepted");

  start(&f, 1, 9999);
  put_doc(&f, ping);
  finish(&f);
  expect_rejected(&f, "an unknown opcode");

  op_msg(&f, 0, ping);
  f.len -= 3; /* body document cut short */
  finish(&f);
  expect_rejected(&f, "a truncated body document");

  op_msg(&f, 0, ping);
  f.bytes[16 + 4 + 1 + 4] = 0x77; /* first element type byte: not a BSON type */
  finish(&f);
  expect_rejected(&f, "invalid BSON");

  bson_t *bad_utf8 = bson_new();
  bson_append_utf8(bad_utf8, "ping", -1, "\xff\xfe", 2);
  op_msg(&f, 0, bad_utf8);
  finish(&f);
  expect_rejected(&f, "invalid UTF-8");
  bson_destroy(bad_utf8);

  op_msg(&f, 0, ping);
  kind = 7;
  put(&f, &kind, 1);
  finish(&f);
  expect_rejected(&f, "an unknown section kind");

  op_msg(&f, 0, ping);
  kind = 0;
  put(&f, &kind, 1);
  put_doc(&f, ping);
  finish(&f);
  expect_rejected(&f, "two kind-0 sections");

  op_msg(&f, 1u << 5, ping);
  finish(&f);
  expect_rejected(&f, "an unknown required flag bit");

  start(&f, 1, ASPD_OP_MSG);
  put_i32(&f, 0);
  finish(&f);
  expect_rejected(&f, "an OP_MSG without a body");

  op_msg(&f, 0, ping);
  finish(&f);
  write_i32(f.bytes, (int32_t)f.len + 10);
  expect_rejected(&f, "a length that does not match");

  start(&f, 1, ASPD_OP_QUERY);
  put_i32(&f, 0);
  put(&f, "admin.things", 13);
  put_i32(&f, 0);
  put_i32(&f, -1);
  put_doc(&f, ping);
  finish(&f);
  expect_rejected(&f, "OP_QUERY outside $cmd");

  /* Nesting far beyond what any command needs is refused without recursing. */
  bson_t *deep = bson_new();
  bson_t *levels[300];
  levels[0] = deep;
  for (int i = 1; i < 300; i++) {
    levels[i] = bson_new();
  }
  for (int i = 299; i > 0; i--) {
    bson_append_document(levels[i - 1], "d", 1, levels[i]);
  }
  op_msg(&f, 0, deep);
  finish(&f);
  expect_rejected(&f, "300 levels of nesting");
  for (int i = 0; i < 300; i++) bson_destroy(levels[i]);

  bson_destroy(ping);
  bson_destroy(d1);
  bson_destroy(d2);
  bson_destroy(wrapped);
}

/* ---- live server ---- */

static bool send_frame(mongoc_stream_t *s, const uint8_t *bytes, size_t len) {
  struct iovec iov = {.iov_base = (void *)(uintptr_t)bytes, .iov_len = len};
  return mongoc_stream_writev(s, &iov, 1, 5000) == (ssize_t)len;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* True when the server closed the stream (EOF well before the 5 s read timeout). */
static bool closed_by_server(mongoc_stream_t *s) {
  uint8_t byte;
  double start_time = now_s();
  ssize_t n = mongoc_stream_read(s, &byte, 1, 1, 5000);
  return n <= 0 && now_s() - start_time < 4.0;
}

static bool ping(const aspd_instance_t *inst) {
  mongoc_client_t *client = mongoc_client_new(inst->uri);
  bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
  bson_error_t error;
  bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, NULL, &error);
  if (!ok) fprintf(stderr, "ping: %s\n", error.message);
  bson_destroy(cmd);
  mongoc_client_destroy(client);
  return ok;
}

/* Sends bytes (then optionally hangs up) and checks the server survives. */
static void send_bad(const aspd_instance_t *inst, const char *what, const uint8_t *bytes,
                     size_t len, bool hang_up) {
  mongoc_stream_t *s = raw_tls_connect(inst);
  CHECK(s != NULL, "%s: connect", what);
  if (!s) return;
  CHECK(send_frame(s, bytes, len), "%s: send", what);
  if (!hang_up) CHECK(closed_by_server(s), "%s: the server kept the connection open", what);
  mongoc_stream_destroy(s);
  CHECK(ping(inst), "%s: server not answering afterwards", what);
}

static void test_live(const aspd_instance_t *inst) {
  bson_t *ping_cmd = BCON_NEW("ping", BCON_INT32(1), "$db", BCON_UTF8("admin"));
  frame_t f;

  op_msg(&f, 0, ping_cmd);
  finish(&f);
  send_bad(inst, "truncated header", f.bytes, 9, true);

  write_i32(f.bytes, 12);
  send_bad(inst, "length < 16", f.bytes, 16, false);

  write_i32(f.bytes, 48000001);
  send_bad(inst, "length > 48 MB", f.bytes, 16, false);

  op_msg(&f, 0, ping_cmd);
  finish(&f);
  write_i32(f.bytes + 12, 4242);
  send_bad(inst, "garbage opcode", f.bytes, f.len, false);

  op_msg(&f, 0, ping_cmd);
  finish(&f);
  f.bytes[16 + 4 + 1 + 4] = 0x77;
  send_bad(inst, "invalid BSON", f.bytes, f.len, false);

  op_msg(&f, 0, ping_cmd);
  uint8_t kind = 9;
  put(&f, &kind, 1);
  finish(&f);
  send_bad(inst, "unknown section kind", f.bytes, f.len, false);

  op_msg(&f, 0, ping_cmd);
  finish(&f);
  send_bad(inst, "truncated body then close", f.bytes, f.len - 7, true);

  /* A good message still works on a fresh raw connection. */
  mongoc_stream_t *s = raw_tls_connect(inst);
  op_msg(&f, 0, ping_cmd);
  finish(&f);
  uint8_t header[16];
  CHECK(s && send_frame(s, f.bytes, f.len) && mongoc_stream_read(s, header, 16, 16, 5000) == 16 &&
            read_i32(header + 12) == ASPD_OP_MSG,
        "well-formed OP_MSG after the bad ones");
  mongoc_stream_destroy(s);
  bson_destroy(ping_cmd);
}

int main(void) {
  mongoc_init();
  test_parser();
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, NULL)) return 1;
  test_live(&inst);
  CHECK(aspd_harness_stop(&inst) == 0, "aspd did not exit 0");
  mongoc_cleanup();
  return check_msg_report("frames");
}
