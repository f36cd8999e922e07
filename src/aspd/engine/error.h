/* Errors that the registry, engine and store hand back to the command layer,
 * which turns them into ok:0 replies. Codes use the pairs of commands/reply.h. */
#ifndef ASPD_ERROR_H
#define ASPD_ERROR_H

#include <bson/bson.h>

typedef struct {
  int code;              /* 0 = no error */
  const char *code_name; /* static string */
  char message[1024];
} aspd_error_t;

void aspd_error_set(aspd_error_t *err, int code, const char *code_name, const char *fmt, ...)
    BSON_GNUC_PRINTF(4, 5);

#endif
