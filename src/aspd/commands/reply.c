#include "commands/reply.h"

#include <stdarg.h>
#include <stdio.h>

void aspd_reply_ok(bson_t *reply) {
  BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

void aspd_reply_error(bson_t *reply, int code, const char *code_name, const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  BSON_APPEND_DOUBLE(reply, "ok", 0.0);
  BSON_APPEND_UTF8(reply, "errmsg", message);
  BSON_APPEND_INT32(reply, "code", code);
  BSON_APPEND_UTF8(reply, "codeName", code_name);
}
