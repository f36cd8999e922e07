/* The wire parser on arbitrary bytes: OP_MSG (body and document sequences), OP_QUERY,
 * any header. The input is copied into a buffer of exactly its size, so ASan sees every
 * read past the end. A parsed request is rebuilt as a reply to exercise the builders. */
#include <stdlib.h>
#include <string.h>

#include "net/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *copy = malloc(size ? size : 1);
  memcpy(copy, data, size);
  aspd_wire_request_t request;
  char err[256];
  if (aspd_wire_parse_message(copy, size, &request, err, sizeof err)) {
    size_t len;
    free(aspd_wire_build_op_msg(1, request.header.request_id, &request.command, &len));
    free(aspd_wire_build_op_reply(2, request.header.request_id, &request.command, &len));
    aspd_wire_request_destroy(&request);
  } else if (size >= ASPD_WIRE_HEADER_LEN) {
    aspd_wire_header_t header;
    aspd_wire_parse_header(copy, &header, err, sizeof err);
  }
  free(copy);
  return 0;
}
