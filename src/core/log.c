/* libmongoc's log. Its handler is process-wide while a Lua handler belongs to one Lua
 * state, so the handler is per thread: the binding sets it around each call, and a line
 * libmongoc logs during that call reaches the state making it. Without one, warnings and
 * worse go to libmongoc's default handler (stderr). Dropped: debug and info chatter, and
 * the stream layer's report of each failed read or write ("Failed to buffer 4 bytes"),
 * which the failed call also returns as an error (connections opened through our
 * deadline streams report them where libmongoc's own connection scan stays quiet). */
#include <string.h>

#include "asp_private.h"

static _Thread_local asp_log_fn thread_fn;
static _Thread_local void *thread_ctx;

void asp_log_set_thread_handler(asp_log_fn fn, void *ctx) {
  thread_fn = fn;
  thread_ctx = ctx;
}

static void route(mongoc_log_level_t level, const char *domain, const char *message,
                  void *user_data) {
  if (level > MONGOC_LOG_LEVEL_WARNING) return;
  if (level == MONGOC_LOG_LEVEL_WARNING && domain && strcmp(domain, "stream") == 0) return;
  if (!thread_fn || !thread_fn(mongoc_log_level_str(level), domain, message, thread_ctx))
    mongoc_log_default_handler(level, domain, message, user_data);
}

void asp_log_install(void) {
  mongoc_log_set_handler(route, NULL);
}
