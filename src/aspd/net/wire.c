#include "wire.h" /* relative: tests compile this file directly */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_MSG_CHECKSUM_PRESENT (1u << 0)
#define OP_MSG_MORE_TO_COME (1u << 1)
/* Bits 0-15 are "required": a receiver must refuse flags it does not know there. */
#define OP_MSG_REQUIRED_MASK 0xffffu

static int32_t read_i32(const uint8_t *p) {
  uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  int32_t out;
  memcpy(&out, &v, sizeof out);
  return out;
}

static void write_i32(uint8_t *p, int32_t value) {
  uint32_t v;
  memcpy(&v, &value, sizeof v);
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static bool fail(char *err, size_t err_len, const char *what) {
  snprintf(err, err_len, "%s", what);
  return false;
}

bool aspd_wire_parse_header(const uint8_t bytes[ASPD_WIRE_HEADER_LEN], aspd_wire_header_t *out,
                            char *err, size_t err_len) {
  out->message_length = read_i32(bytes);
  out->request_id = read_i32(bytes + 4);
  out->response_to = read_i32(bytes + 8);
  out->opcode = read_i32(bytes + 12);
  if (out->message_length < ASPD_WIRE_HEADER_LEN) {
    snprintf(err, err_len, "message length %d is shorter than a header", out->message_length);
    return false;
  }
  if (out->message_length > ASPD_WIRE_MAX_MESSAGE) {
    snprintf(err, err_len, "message length %d exceeds %d bytes", out->message_length,
             ASPD_WIRE_MAX_MESSAGE);
    return false;
  }
  return true;
}

/* Deeper documents are refused before anything recurses into them (mongod allows ~180). */
#define MAX_NESTING 200

/* Walks the document without recursion: checks nesting depth and that every key and
 * string is UTF-8 (bson_validate leaves string values unchecked in some libbson versions). */
static bool check_depth_and_utf8(const bson_t *doc, char *err, size_t err_len) {
  /* Wrapped: bson_iter_t is over-aligned, so a plain array of it is not allowed. */
  struct {
    bson_iter_t it;
  } stack[MAX_NESTING];
  int depth = 0;
  if (!bson_iter_init(&stack[0].it, doc)) return fail(err, err_len, "invalid BSON document");
  for (;;) {
    bson_iter_t *it = &stack[depth].it;
    if (!bson_iter_next(it)) {
      if (it->err_off != 0) return fail(err, err_len, "corrupt BSON document");
      if (depth == 0) return true;
      depth--;
      continue;
    }
    const char *key = bson_iter_key(it);
    if (!bson_utf8_validate(key, strlen(key), false)) {
      return fail(err, err_len, "BSON key is not UTF-8");
    }
    if (BSON_ITER_HOLDS_UTF8(it)) {
      uint32_t len;
      const char *value = bson_iter_utf8(it, &len);
      if (!bson_utf8_validate(value, len, true)) {
        return fail(err, err_len, "BSON string is not UTF-8");
      }
    } else if (BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) {
      if (depth + 1 >= MAX_NESTING) return fail(err, err_len, "BSON nesting too deep");
      if (!bson_iter_recurse(it, &stack[depth + 1].it)) {
        return fail(err, err_len, "corrupt nested BSON document");
      }
      depth++;
    }
  }
}

/* Reads one BSON document at p (at most `avail` bytes) and validates it.
 * Sets *doc_len to its declared length. */
static bool read_document(const uint8_t *p, size_t avail, bson_t *doc, size_t *doc_len, char *err,
                          size_t err_len) {
  if (avail < 5) return fail(err, err_len, "truncated BSON document");
  int32_t n = read_i32(p);
  /* Bounded by the message; commands/dispatch.c answers an oversized one with an error. */
  if (n < 5 || (size_t)n > avail) {
    return fail(err, err_len, "BSON document length out of bounds");
  }
  if (!bson_init_static(doc, p, (size_t)n)) return fail(err, err_len, "invalid BSON document");
  if (!check_depth_and_utf8(doc, err, err_len)) return false;
  size_t offset;
  if (!bson_validate(doc, BSON_VALIDATE_NONE, &offset)) {
    snprintf(err, err_len, "invalid BSON at offset %zu", offset);
    return false;
  }
  *doc_len = (size_t)n;
  return true;
}

/* A kind-1 section: int32 size, C-string identifier, then documents up to size. */
static bool fold_sequence(const uint8_t *p, size_t avail, bson_t *sequences, size_t *used,
                          char *err, size_t err_len) {
  if (avail < 4) return fail(err, err_len, "truncated document sequence");
  int32_t size = read_i32(p);
  if (size < 5 || (size_t)size > avail)
    return fail(err, err_len, "document sequence size out of bounds");
  const uint8_t *end = p + size;
  const uint8_t *q = p + 4;
  const uint8_t *nul = memchr(q, '\0', (size_t)(end - q));
  if (!nul || nul == q) return fail(err, err_len, "document sequence without identifier");
  const char *identifier = (const char *)q;
  q = nul + 1;
  bson_t array;
  bson_append_array_begin(sequences, identifier, -1, &array);
  uint32_t index = 0;
  while (q < end) {
    bson_t doc;
    size_t doc_len;
    if (!read_document(q, (size_t)(end - q), &doc, &doc_len, err, err_len)) {
      bson_append_array_end(sequences, &array);
      return false;
    }
    char key[16];
    const char *key_ptr;
    bson_uint32_to_string(index++, &key_ptr, key, sizeof key);
    bson_append_document(&array, key_ptr, -1, &doc);
    q += doc_len;
  }
  bson_append_array_end(sequences, &array);
  *used = (size_t)size;
  return true;
}

static bool parse_op_msg(const uint8_t *body, size_t len, aspd_wire_request_t *out, char *err,
                         size_t err_len) {
  if (len < 4) return fail(err, err_len, "truncated OP_MSG flags");
  uint32_t flags = (uint32_t)read_i32(body);
  if (flags & OP_MSG_REQUIRED_MASK & ~(OP_MSG_CHECKSUM_PRESENT | OP_MSG_MORE_TO_COME)) {
    snprintf(err, err_len, "unsupported OP_MSG flag bits 0x%x", flags);
    return false;
  }
  out->more_to_come = (flags & OP_MSG_MORE_TO_COME) != 0;
  size_t end = len;
  if (flags & OP_MSG_CHECKSUM_PRESENT) {
    if (end < 8) return fail(err, err_len, "truncated OP_MSG checksum");
    end -= 4; /* CRC-32C trailer: TLS already protects integrity, so it is skipped */
  }
  bson_t sequences = BSON_INITIALIZER;
  bson_t body_doc;
  bool have_body = false;
  size_t pos = 4;
  bool ok = true;
  while (ok && pos < end) {
    uint8_t kind = body[pos++];
    size_t used = 0;
    if (kind == 0) {
      if (have_body) {
        ok = fail(err, err_len, "OP_MSG with two kind-0 sections");
      } else {
        ok = read_document(body + pos, end - pos, &body_doc, &used, err, err_len);
        have_body = ok;
      }
    } else if (kind == 1) {
      ok = fold_sequence(body + pos, end - pos, &sequences, &used, err, err_len);
    } else {
      snprintf(err, err_len, "unknown OP_MSG section kind %u", kind);
      ok = false;
    }
    pos += used;
  }
  if (ok && !have_body) ok = fail(err, err_len, "OP_MSG without a kind-0 section");
  if (ok) {
    bson_copy_to(&body_doc, &out->command);
    bson_concat(&out->command, &sequences);
  }
  bson_destroy(&sequences);
  return ok;
}

/* OP_QUERY: flags, "<db>.$cmd", skip, numberToReturn, query [, fields selector]. */
static bool parse_op_query(const uint8_t *body, size_t len, aspd_wire_request_t *out, char *err,
                           size_t err_len) {
  if (len < 4) return fail(err, err_len, "truncated OP_QUERY flags");
  const uint8_t *name = body + 4;
  const uint8_t *nul = memchr(name, '\0', len - 4);
  if (!nul) return fail(err, err_len, "truncated OP_QUERY collection name");
  size_t name_len = (size_t)(nul - name);
  const char *suffix = ".$cmd";
  size_t suffix_len = strlen(suffix);
  if (name_len <= suffix_len || name_len - suffix_len >= sizeof out->database ||
      memcmp(name + name_len - suffix_len, suffix, suffix_len) != 0) {
    return fail(err, err_len, "OP_QUERY is only supported on <db>.$cmd");
  }
  memcpy(out->database, name, name_len - suffix_len);
  out->database[name_len - suffix_len] = '\0';
  size_t pos = 4 + name_len + 1 + 8; /* skip numberToSkip and numberToReturn */
  if (pos > len) return fail(err, err_len, "truncated OP_QUERY");
  bson_t query;
  size_t used;
  if (!read_document(body + pos, len - pos, &query, &used, err, err_len)) return false;
  pos += used;
  if (pos < len) {
    bson_t selector;
    size_t selector_len;
    if (!read_document(body + pos, len - pos, &selector, &selector_len, err, err_len)) return false;
    pos += selector_len;
  }
  if (pos != len) return fail(err, err_len, "trailing bytes after OP_QUERY");
  /* Drivers may wrap the command as {$query: {...}, $readPreference: ...}. */
  bson_iter_t it;
  if (bson_iter_init(&it, &query) && bson_iter_next(&it) &&
      (strcmp(bson_iter_key(&it), "$query") == 0 || strcmp(bson_iter_key(&it), "query") == 0) &&
      BSON_ITER_HOLDS_DOCUMENT(&it)) {
    uint32_t inner_len;
    const uint8_t *inner;
    bson_iter_document(&it, &inner_len, &inner);
    bson_t wrapped;
    if (!bson_init_static(&wrapped, inner, inner_len)) {
      return fail(err, err_len, "invalid wrapped OP_QUERY command");
    }
    bson_copy_to(&wrapped, &out->command);
    return true;
  }
  bson_copy_to(&query, &out->command);
  return true;
}

bool aspd_wire_parse_message(const uint8_t *msg, size_t len, aspd_wire_request_t *out, char *err,
                             size_t err_len) {
  memset(out, 0, sizeof *out);
  if (len < ASPD_WIRE_HEADER_LEN) return fail(err, err_len, "truncated header");
  if (!aspd_wire_parse_header(msg, &out->header, err, err_len)) return false;
  if ((size_t)out->header.message_length != len) {
    return fail(err, err_len, "message length does not match the bytes received");
  }
  const uint8_t *body = msg + ASPD_WIRE_HEADER_LEN;
  size_t body_len = len - ASPD_WIRE_HEADER_LEN;
  switch (out->header.opcode) {
    case ASPD_OP_MSG:
      return parse_op_msg(body, body_len, out, err, err_len);
    case ASPD_OP_QUERY:
      return parse_op_query(body, body_len, out, err, err_len);
    default:
      snprintf(err, err_len, "unsupported opcode %d", out->header.opcode);
      return false;
  }
}

void aspd_wire_request_destroy(aspd_wire_request_t *req) {
  /* bson_destroy on a zeroed bson_t is not safe; only parsed requests own a command. */
  if (req->command.len > 0) bson_destroy(&req->command);
  memset(req, 0, sizeof *req);
}

static uint8_t *build(int32_t opcode, int32_t request_id, int32_t response_to,
                      const uint8_t *prefix, size_t prefix_len, const bson_t *doc, size_t *len) {
  size_t total = ASPD_WIRE_HEADER_LEN + prefix_len + doc->len;
  uint8_t *out = malloc(total);
  write_i32(out, (int32_t)total);
  write_i32(out + 4, request_id);
  write_i32(out + 8, response_to);
  write_i32(out + 12, opcode);
  memcpy(out + ASPD_WIRE_HEADER_LEN, prefix, prefix_len);
  memcpy(out + ASPD_WIRE_HEADER_LEN + prefix_len, bson_get_data(doc), doc->len);
  *len = total;
  return out;
}

uint8_t *aspd_wire_build_op_msg(int32_t request_id, int32_t response_to, const bson_t *body,
                                size_t *len) {
  const uint8_t prefix[5] = {0, 0, 0, 0, 0}; /* flagBits 0, section kind 0 */
  return build(ASPD_OP_MSG, request_id, response_to, prefix, sizeof prefix, body, len);
}

uint8_t *aspd_wire_build_op_reply(int32_t request_id, int32_t response_to, const bson_t *doc,
                                  size_t *len) {
  /* responseFlags, cursorID (int64), startingFrom, numberReturned = 1 */
  uint8_t prefix[20] = {0};
  write_i32(prefix + 16, 1);
  return build(ASPD_OP_REPLY, request_id, response_to, prefix, sizeof prefix, doc, len);
}
