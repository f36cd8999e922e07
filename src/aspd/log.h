/* One-line diagnostics on stderr. stdout is reserved for the --dev URI line. */
#ifndef ASPD_LOG_H
#define ASPD_LOG_H

#include <bson/bson.h>

void aspd_log(const char *fmt, ...) BSON_GNUC_PRINTF(1, 2);

/* A change could not be saved: logs `detail` (which names the file, for the operator) and
 * writes into `out` what a client may read: the reason (strerror of `why`, the errno of the
 * failed write), never a server path. */
void aspd_log_persist_failure(const char *what, const char *detail, int why, char *out,
                              size_t out_len);

#endif
