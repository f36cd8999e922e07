/* Errors that the registry, engine and store hand back to the command layer,
 * which turns them into ok:0 replies. The codes the engine raises live here,
 * each as a (code, codeName) pair: aspd_error_set(err, ASPD_E_BAD_VALUE, "..."). */
#ifndef ASPD_ERROR_H
#define ASPD_ERROR_H

#include <bson/bson.h>

#define ASPD_E_INTERNAL 1, "InternalError"
#define ASPD_E_BAD_VALUE 2, "BadValue"
#define ASPD_E_FAILED_TO_PARSE 9, "FailedToParse"
#define ASPD_E_TYPE_MISMATCH 14, "TypeMismatch"
#define ASPD_E_INVALID_OPTIONS 72, "InvalidOptions"
#define ASPD_E_COMMAND_FAILED 125, "CommandFailed"
#define ASPD_E_INVALID_PIPELINE_OPERATOR 168, "InvalidPipelineOperator"
#define ASPD_E_SP_INVALID_OPTIONS 420, "StreamProcessorInvalidOptions"
/* The server's numbered assertions carry the code name "Location<code>". */
#define ASPD_E_LOCATION(code) code, "Location" #code

typedef struct {
  int code;              /* 0 = no error */
  const char *code_name; /* static string */
  char message[1024];
} aspd_error_t;

void aspd_error_set(aspd_error_t *err, int code, const char *code_name, const char *fmt, ...)
    BSON_GNUC_PRINTF(4, 5);

#endif
