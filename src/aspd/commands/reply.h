/* Reply envelopes shared by every command handler. */
#ifndef ASPD_REPLY_H
#define ASPD_REPLY_H

#include <bson/bson.h>

/* The engine's codes (shared by every layer that reports errors)... */
#include "engine/error.h"

/* ...and those only the command layer raises (names as the server spells them). */
#define ASPD_E_UNAUTHORIZED 13, "Unauthorized"
#define ASPD_E_AUTH_FAILED 18, "AuthenticationFailed"
#define ASPD_E_COMMAND_NOT_FOUND 59, "CommandNotFound"
#define ASPD_E_BSON_TOO_LARGE 10334, "BSONObjectTooLarge"

/* Appends ok:1.0. */
void aspd_reply_ok(bson_t *reply);

/* Replaces nothing: appends ok:0.0, errmsg (printf-style), code, codeName.
 * Use with the macros above: aspd_reply_error(reply, ASPD_E_FAILED_TO_PARSE, "...%s", x). */
void aspd_reply_error(bson_t *reply, int code, const char *code_name, const char *fmt, ...)
    BSON_GNUC_PRINTF(4, 5);

#endif
