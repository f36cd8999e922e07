/* MongoDB wire framing: pure functions from bytes to requests and from replies
 * to bytes, so tests can feed them anything. No sockets here. */
#ifndef ASPD_WIRE_H
#define ASPD_WIRE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ASPD_WIRE_HEADER_LEN 16
#define ASPD_WIRE_MAX_MESSAGE 48000000
#define ASPD_WIRE_MAX_BSON 16777216

#define ASPD_OP_REPLY 1
#define ASPD_OP_QUERY 2004
#define ASPD_OP_MSG 2013

typedef struct {
  int32_t message_length;
  int32_t request_id;
  int32_t response_to;
  int32_t opcode;
} aspd_wire_header_t;

typedef struct {
  aspd_wire_header_t header;
  bson_t command;     /* body with every kind-1 sequence folded in as an array */
  bool more_to_come;  /* OP_MSG moreToCome: the client wants no reply */
  char database[128]; /* "<db>" of OP_QUERY's "<db>.$cmd", "" for OP_MSG */
} aspd_wire_request_t;

/* Decodes a header and checks its length bound (16 .. 48000000). */
bool aspd_wire_parse_header(const uint8_t bytes[ASPD_WIRE_HEADER_LEN], aspd_wire_header_t *out,
                            char *err, size_t err_len);

/* Decodes one whole message (header included, `len` bytes). On success `out->command`
 * must be released with aspd_wire_request_destroy. */
bool aspd_wire_parse_message(const uint8_t *msg, size_t len, aspd_wire_request_t *out, char *err,
                             size_t err_len);

void aspd_wire_request_destroy(aspd_wire_request_t *req);

/* Builds an OP_MSG (kind-0 body) or OP_REPLY (one document) answering `response_to`.
 * Returns a malloc'd buffer of *len bytes. */
uint8_t *aspd_wire_build_op_msg(int32_t request_id, int32_t response_to, const bson_t *body,
                                size_t *len);
uint8_t *aspd_wire_build_op_reply(int32_t request_id, int32_t response_to, const bson_t *doc,
                                  size_t *len);

#endif
