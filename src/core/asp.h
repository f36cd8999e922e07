/* lua-asp C core: every Atlas Stream Processing operation on libmongoc. No Lua in here.
 *
 * Conventions:
 * - Every function that can fail takes an asp_error_t *err (may be NULL) and returns false
 *   or NULL on failure; the error then says which domain failed and why.
 * - Every command goes to the `admin` database with the command name as its first key,
 *   the other fields in the order mongosh and the documentation send them.
 * - Validation (asp_validate_*) runs inside the builders, before any traffic.
 * - Output bson_t parameters are always initialised by the callee (also on failure) and
 *   must be destroyed by the caller. */
#ifndef ASP_H
#define ASP_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

const char *asp_version(void);

/* ---- errors -------------------------------------------------------------------------- */

typedef enum {
  ASP_DOMAIN_NONE = 0,
  /* Detected before any traffic. Code 0: a validation failure (an argument mistake); other
   * codes: a command too large for the server (ASP_CODE_TOO_LARGE), a refused URI. */
  ASP_DOMAIN_CLIENT,
  ASP_DOMAIN_SERVER,  /* {ok: 0} reply: code/code_name/labels come from the server */
  ASP_DOMAIN_NETWORK, /* connect, socket, server selection */
  ASP_DOMAIN_TLS,     /* handshake or certificate failure */
  ASP_DOMAIN_AUTH,    /* authentication failed */
  ASP_DOMAIN_BSON,    /* a reply or document that cannot be read */
  ASP_DOMAIN_ADMIN,   /* Admin API HTTP error status: code is the status (asp_admin.h) */
  ASP_DOMAIN_TIMEOUT  /* no reply in time: the call's timeout or the socket timeout */
} asp_domain_t;

#define ASP_ERROR_MAX_LABELS 8

/* The server's BSONObjectTooLarge, used for a command refused before it is sent. */
#define ASP_CODE_TOO_LARGE 10334
/* The size limit assumed until the server's hello says otherwise (16 MiB). */
#define ASP_DEFAULT_MAX_BSON_SIZE 16777216

typedef struct {
  asp_domain_t domain;
  int32_t code; /* server code for ASP_DOMAIN_SERVER, libmongoc code otherwise */
  char code_name[64];
  char message[512];
  int n_labels;
  char labels[ASP_ERROR_MAX_LABELS][48];
} asp_error_t;

const char *asp_domain_name(asp_domain_t domain);
void asp_error_clear(asp_error_t *err);
void asp_error_set(asp_error_t *err, asp_domain_t domain, int32_t code, const char *fmt, ...)
    BSON_GNUC_PRINTF(4, 5);
bool asp_error_has_label(const asp_error_t *err, const char *label);
/* Is the error worth one retry of a read (network error or retryable server code/label)? */
bool asp_error_is_retryable_read(const asp_error_t *err);

/* ---- client ---------------------------------------------------------------------------- */

typedef struct asp_client_t asp_client_t;

/* Timeouts used unless the URI or the options give one, chosen so that a server that stops
 * answering fails a call within seconds (libmongoc's own socket timeout is 5 minutes). */
#define ASP_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define ASP_DEFAULT_SERVER_SELECTION_TIMEOUT_MS 5000
#define ASP_DEFAULT_SOCKET_TIMEOUT_MS 10000
/* How long closing a client may wait for the server (it only says goodbye). */
#define ASP_CLOSE_TIMEOUT_MS 2000

/* Connection settings beyond the URI. NULL/0 means "not given". */
typedef struct {
  const char *tls_ca_file;
  const char *tls_certificate_key_file;
  const char *tls_certificate_key_file_password;
  const char *app_name;
  const char *username; /* credentials outside the URI keep them out of logs */
  const char *password;
  const char *auth_source;
  int32_t connect_timeout_ms;
  int32_t server_selection_timeout_ms;
  int32_t socket_timeout_ms;
} asp_client_opts_t;

/* Applies the URI rules (mongodb:// only, TLS forced on, authSource admin unless given,
 * appname lua-asp/<version> unless given) and builds a client. No traffic: see
 * asp_client_ping. Returns NULL with err set on failure. */
asp_client_t *asp_client_new(const char *uri, const asp_client_opts_t *opts, asp_error_t *err);
void asp_client_destroy(asp_client_t *client);

/* The effective connection settings, never the password: {hosts, tls, authSource,
 * authMechanism, appname, username, tlsCAFile} (for tests and diagnostics). */
void asp_client_settings(const asp_client_t *client, bson_t *out);

/* Round trip (`ping`): connects, handshakes TLS, authenticates. */
bool asp_client_ping(asp_client_t *client, asp_error_t *err);

/* Runs cmd on admin. reply is initialised (empty on network errors). retryable_read: one
 * retry after a retryable error; used only for getStreamProcessor(Stats). A command larger
 * than the server's maxBsonObjectSize (from its hello) is refused without being sent. */
bool asp_client_run(asp_client_t *client, const bson_t *cmd, bool retryable_read, bson_t *reply,
                    asp_error_t *err);
/* The same on database db, never retried (the raw command escape hatch). */
bool asp_client_run_on(asp_client_t *client, const char *db, const bson_t *cmd, bson_t *reply,
                       asp_error_t *err);
/* The server's maxBsonObjectSize as its hello reported it (known after asp_client_ping). */
int32_t asp_client_max_bson_size(const asp_client_t *client);

/* Bounds the calls that follow: each read and write waits at most until timeout_ms after
 * this call (0: only the socket timeout). Running out fails the call in the timeout domain,
 * without a retry. */
void asp_client_set_timeout(asp_client_t *client, int32_t timeout_ms);

/* Command monitoring, from libmongoc's APM. Credentials are never passed on: for
 * authentication and user-management commands (and a hello carrying speculative
 * authentication) command is NULL and redacted is true. */
typedef enum { ASP_EVENT_STARTED, ASP_EVENT_SUCCEEDED, ASP_EVENT_FAILED } asp_event_kind_t;
typedef struct {
  asp_event_kind_t kind;
  const char *command_name;
  const char *database; /* started only */
  int64_t request_id;
  int64_t duration_us;   /* succeeded and failed */
  const bson_t *command; /* started, unless redacted */
  bool redacted;
  bool reply_ok;            /* succeeded */
  const asp_error_t *error; /* failed */
} asp_event_t;
typedef void (*asp_monitor_fn)(const asp_event_t *event, void *ctx);
/* fn NULL: no monitoring. */
void asp_client_set_monitor(asp_client_t *client, asp_monitor_fn fn, void *ctx);

/* libmongoc's warnings and errors (global in libmongoc) go to the handler set by the thread
 * that is running a call; when there is none or it returns false, to stderr. Debug and
 * info lines are dropped. */
typedef bool (*asp_log_fn)(const char *level, const char *domain, const char *message, void *ctx);
void asp_log_set_thread_handler(asp_log_fn fn, void *ctx);

/* How many commands went out over the wire (retries included); for tests. */
uint64_t asp_client_commands_sent(const asp_client_t *client);

/* ---- validation (before any traffic) ------------------------------------------------ */

/* A processor name: present, not empty, valid UTF-8, not blank. what (may be NULL)
 * prefixes the message. */
bool asp_validate_name(const char *name, const char *what, asp_error_t *err);
/* The document holds an array's elements: keys "0", "1", ... and each stage a document. */
bool asp_validate_pipeline(const bson_t *pipeline, asp_error_t *err);
bool asp_validate_tier(const char *tier, const char *what, asp_error_t *err);

/* ---- commands ------------------------------------------------------------------------- */

typedef enum { ASP_UNSET = 0, ASP_FALSE, ASP_TRUE } asp_tristate_t;

typedef struct {
  const bson_t *dlq; /* {connectionName, db, coll} */
  const char *stream_meta_field_name;
  const char *tier;
  asp_tristate_t failover;
} asp_create_opts_t;

typedef struct {
  bool has_workers;
  int32_t workers;
  asp_tristate_t clear_checkpoints;
  bool has_start_at_operation_time;
  uint32_t start_at_t, start_at_i; /* BSON Timestamp parts */
  const char *tier;
  asp_tristate_t enable_auto_scaling;
  const char *failover_region; /* a failover document is sent when any failover field is set */
  const char *failover_mode;   /* GRACEFUL or FORCED */
  asp_tristate_t failover_dry_run;
} asp_start_opts_t;

typedef struct {
  asp_tristate_t verbose;
  bool has_scale;
  int32_t scale;
} asp_stats_opts_t;

typedef struct {
  const bson_t *pipeline; /* NULL: keep */
  const char *new_name;
  const bson_t *dlq; /* empty document removes the DLQ */
  asp_tristate_t resume_from_checkpoint;
  const char *tier;
} asp_modify_opts_t;

typedef struct {
  bool has_limit;
  int32_t limit;
} asp_sample_start_opts_t;

/* Builders: validate, then fill cmd (initialised by the callee). */
bool asp_build_create(const char *name, const bson_t *pipeline, const asp_create_opts_t *opts,
                      bson_t *cmd, asp_error_t *err);
bool asp_build_start(const char *name, const asp_start_opts_t *opts, bson_t *cmd, asp_error_t *err);
bool asp_build_stop(const char *name, bson_t *cmd, asp_error_t *err);
bool asp_build_drop(const char *name, bson_t *cmd, asp_error_t *err);
bool asp_build_modify(const char *name, const asp_modify_opts_t *opts, bson_t *cmd,
                      asp_error_t *err);
bool asp_build_get_info(const char *name, bson_t *cmd, asp_error_t *err);
bool asp_build_stats(const char *name, const asp_stats_opts_t *opts, bson_t *cmd, asp_error_t *err);
bool asp_build_list_processors(const bson_t *filter, bson_t *cmd, asp_error_t *err);
bool asp_build_list_connections(const bson_t *filter, bson_t *cmd, asp_error_t *err);
bool asp_build_workspace_defaults(bson_t *cmd, asp_error_t *err);
bool asp_build_process(const bson_t *pipeline, const bson_t *dlq, bson_t *cmd, asp_error_t *err);
bool asp_build_sample_start(const char *name, const asp_sample_start_opts_t *opts, bson_t *cmd,
                            asp_error_t *err);
/* batch_size < 0: not sent. */
bool asp_build_sample_get_more(const char *name, int64_t cursor_id, int32_t batch_size, bson_t *cmd,
                               asp_error_t *err);

/* ---- operations (build + run) ---------------------------------------------------------- */

bool asp_processor_create(asp_client_t *c, const char *name, const bson_t *pipeline,
                          const asp_create_opts_t *opts, asp_error_t *err);
bool asp_processor_start(asp_client_t *c, const char *name, const asp_start_opts_t *opts,
                         asp_error_t *err);
bool asp_processor_stop(asp_client_t *c, const char *name, asp_error_t *err);
bool asp_processor_drop(asp_client_t *c, const char *name, asp_error_t *err);
bool asp_processor_modify(asp_client_t *c, const char *name, const asp_modify_opts_t *opts,
                          asp_error_t *err);
/* info: the processor document, unwrapped from `result` when the server wraps it. */
bool asp_processor_info(asp_client_t *c, const char *name, bson_t *info, asp_error_t *err);
/* stats: the reply without its envelope fields (ok, $clusterTime, operationTime). */
bool asp_processor_stats(asp_client_t *c, const char *name, const asp_stats_opts_t *opts,
                         bson_t *stats, asp_error_t *err);
/* reply: the whole reply; find the arrays with asp_reply_array. */
bool asp_list_processors(asp_client_t *c, const bson_t *filter, bson_t *reply, asp_error_t *err);
bool asp_list_connections(asp_client_t *c, const bson_t *filter, bson_t *reply, asp_error_t *err);
bool asp_workspace_defaults(asp_client_t *c, bson_t *defaults, asp_error_t *err);
/* Raw command on db (admin when NULL), no retry; reply without envelope changes. */
bool asp_command(asp_client_t *c, const char *db, const bson_t *cmd, bson_t *reply,
                 asp_error_t *err);

/* ---- reply tolerance -------------------------------------------------------------------- */

/* The payload of a reply: the `result` sub-document when present, else the reply without
 * ok/$clusterTime/operationTime. out is initialised by the callee. */
void asp_reply_unwrap(const bson_t *reply, bson_t *out);
/* Points child at the elements of the array field `field`; false when absent/not an array. */
bool asp_reply_array(const bson_t *reply, const char *field, bson_iter_t *child);
/* The sample batch: `messages`, `nextBatch` or `firstBatch`, in that order. */
bool asp_reply_batch(const bson_t *reply, bson_iter_t *child);
/* cursorId as int32, int64 or integral double. */
bool asp_reply_cursor_id(const bson_t *reply, int64_t *id);

/* ---- sample cursor (two phases: start, then getMore until cursorId 0) ------------------ */

typedef struct asp_sample_t asp_sample_t;

/* startSampleStreamProcessor on name. */
asp_sample_t *asp_sample_start(asp_client_t *c, const char *name,
                               const asp_sample_start_opts_t *opts, asp_error_t *err);
/* processStreamProcessor: an ephemeral processor, dropped by asp_sample_destroy. */
asp_sample_t *asp_sample_process(asp_client_t *c, const bson_t *pipeline, const bson_t *dlq,
                                 asp_error_t *err);
/* One getMoreSampleStreamProcessor. reply is initialised by the callee; batch points at its
 * documents (possibly none). After the cursor is exhausted it returns true with an empty
 * batch and sends nothing. */
bool asp_sample_get_more(asp_sample_t *s, int32_t batch_size, bson_t *reply, bson_iter_t *batch,
                         asp_error_t *err);
int64_t asp_sample_cursor_id(const asp_sample_t *s);
const char *asp_sample_processor_name(const asp_sample_t *s);
bool asp_sample_is_ephemeral(const asp_sample_t *s);
/* Frees the cursor. client is the client it ran on, or NULL when that client is already
 * gone: then an ephemeral processor cannot be dropped and is left to the server's timeout. */
void asp_sample_destroy(asp_sample_t *s, asp_client_t *client);

#endif
