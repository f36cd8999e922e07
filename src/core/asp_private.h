/* Internals shared by the core's files; not part of the public API (asp.h). */
#ifndef ASP_PRIVATE_H
#define ASP_PRIVATE_H

#include <mongoc/mongoc.h>

#include "asp.h"

/* Fills err from a libmongoc error (error API version 2) and, for server errors, the reply's
 * codeName and errorLabels. */
void asp_error_from_mongoc(asp_error_t *err, const bson_error_t *error, const bson_t *reply);

/* Replaces every occurrence of secret in the message with "*****". */
void asp_error_scrub(asp_error_t *err, const char *secret);

/* The deadline of the call in progress on a client (asp_client_set_timeout). */
typedef struct {
  int64_t at_us; /* monotonic microseconds; 0: none */
  int32_t ms;    /* the timeout it came from */
  bool hit;      /* a read or write of this call ran out of time */
} asp_deadline_t;

int64_t asp_now_us(void);
mongoc_client_t *asp_client_mongoc(asp_client_t *c);
asp_deadline_t *asp_client_deadline(asp_client_t *c);
/* Passes an event to the client's monitor, if any. */
void asp_client_emit(asp_client_t *c, const asp_event_t *event);
/* Removes the client's password from a message. */
void asp_client_scrub(asp_client_t *c, asp_error_t *err);
/* Wraps every connection the client opens in a stream that honours the deadline. */
void asp_deadline_streams_install(asp_client_t *c);
/* Routes the client's command events to its monitor (asp_client_set_monitor), or with on
 * false removes the callbacks. */
void asp_monitor_install(asp_client_t *c, bool on);
/* Routes libmongoc's log to the thread's handler (asp_log_set_thread_handler). */
void asp_log_install(void);

/* Runs cmd and, on success, the unwrapped payload into out. */
bool asp_run_unwrapped(asp_client_t *c, const bson_t *cmd, bool retryable_read, bson_t *out,
                       asp_error_t *err);

#endif
