/* One-line diagnostics on stderr. stdout is reserved for the --dev URI line. */
#ifndef ASPD_LOG_H
#define ASPD_LOG_H

#include <bson/bson.h>

void aspd_log(const char *fmt, ...) BSON_GNUC_PRINTF(1, 2);

#endif
