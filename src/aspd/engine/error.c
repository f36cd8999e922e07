#include "engine/error.h"

#include <stdarg.h>
#include <stdio.h>

void aspd_error_set(aspd_error_t *err, int code, const char *code_name, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  err->code = code;
  err->code_name = code_name;
}
