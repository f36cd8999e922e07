/* The client: URI rules, connect, and running one command on admin (with the one retry that
 * getStreamProcessor and getStreamProcessorStats are allowed). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "asp_private.h"

struct asp_client_t {
  mongoc_client_t *mongoc;
  asp_deadline_t deadline;   /* of the call in progress */
  int32_t socket_timeout_ms; /* as configured, for messages */
  asp_monitor_fn monitor;
  void *monitor_ctx;
  int32_t max_bson_size; /* from the server's hello */
  uint64_t sent;
  unsigned forks; /* fork_count when the connections were made (see run_once) */
};

/* Forks seen by this process, counted by an atfork handler: comparing it costs nothing,
 * where a getpid() per command is a system call. */
static atomic_uint fork_count;
static pthread_once_t process_hooks_once = PTHREAD_ONCE_INIT;

static void count_fork(void) {
  atomic_fetch_add(&fork_count, 1);
}

static void install_process_hooks(void) {
  pthread_atfork(NULL, NULL, count_fork);
  asp_log_install();
}

/* The password as typed in the URI (still percent-encoded), so that a parser message
 * echoing part of the URI can be scrubbed before anyone sees it. */
static void raw_uri_password(const char *uri, char *out, size_t out_len) {
  out[0] = '\0';
  const char *auth = strstr(uri, "://");
  if (!auth) return;
  auth += 3;
  size_t authority_len = strcspn(auth, "/?");
  const char *at = NULL;
  for (const char *p = auth; p < auth + authority_len; p++) {
    if (*p == '@') at = p;
  }
  if (!at) return;
  const char *colon = memchr(auth, ':', (size_t)(at - auth));
  if (!colon) return;
  snprintf(out, out_len, "%.*s", (int)(at - colon - 1), colon + 1);
}

/* Refuses an explicit tls=false / ssl=false: ASP only accepts TLS. */
static bool tls_disabled_in(const mongoc_uri_t *uri) {
  const bson_t *options = mongoc_uri_get_options(uri);
  bson_iter_t it;
  if (!options || !bson_iter_init(&it, options)) return false;
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if ((strcasecmp(key, MONGOC_URI_TLS) == 0 || strcasecmp(key, MONGOC_URI_SSL) == 0) &&
        BSON_ITER_HOLDS_BOOL(&it) && !bson_iter_bool(&it)) {
      return true;
    }
  }
  return false;
}

/* authSource admin is the norm for ASP's SCRAM users; mechanisms that authenticate against
 * $external (X.509, AWS, GSSAPI) keep libmongoc's own default. */
static bool wants_admin_auth_source(const mongoc_uri_t *uri) {
  bson_iter_t it;
  const bson_t *credentials = mongoc_uri_get_credentials(uri);
  if (credentials && bson_iter_init_find_case(&it, credentials, MONGOC_URI_AUTHSOURCE))
    return false;
  const char *mech = mongoc_uri_get_auth_mechanism(uri);
  return !mech || strncasecmp(mech, "SCRAM-", 6) == 0;
}

static bool apply_opts(mongoc_uri_t *uri, const asp_client_opts_t *o, asp_error_t *err) {
  bool ok = true;
  if (o->tls_ca_file)
    ok = ok && mongoc_uri_set_option_as_utf8(uri, MONGOC_URI_TLSCAFILE, o->tls_ca_file);
  if (o->tls_certificate_key_file)
    ok = ok && mongoc_uri_set_option_as_utf8(uri, MONGOC_URI_TLSCERTIFICATEKEYFILE,
                                             o->tls_certificate_key_file);
  if (o->tls_certificate_key_file_password)
    ok = ok && mongoc_uri_set_option_as_utf8(uri, MONGOC_URI_TLSCERTIFICATEKEYFILEPASSWORD,
                                             o->tls_certificate_key_file_password);
  if (o->app_name) ok = ok && mongoc_uri_set_appname(uri, o->app_name);
  if (o->username) ok = ok && mongoc_uri_set_username(uri, o->username);
  if (o->password) ok = ok && mongoc_uri_set_password(uri, o->password);
  if (o->auth_source) ok = ok && mongoc_uri_set_auth_source(uri, o->auth_source);
  if (o->connect_timeout_ms > 0)
    ok = ok &&
         mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, o->connect_timeout_ms);
  if (o->server_selection_timeout_ms > 0)
    ok = ok && mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
                                              o->server_selection_timeout_ms);
  if (o->socket_timeout_ms > 0)
    ok =
        ok && mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, o->socket_timeout_ms);
  if (!ok) asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "invalid connection option value");
  return ok;
}

/* Our defaults for the timeouts neither the URI nor the options set. */
static bool apply_default_timeouts(mongoc_uri_t *uri) {
  static const struct {
    const char *option;
    int32_t ms;
  } defaults[] = {{MONGOC_URI_CONNECTTIMEOUTMS, ASP_DEFAULT_CONNECT_TIMEOUT_MS},
                  {MONGOC_URI_SERVERSELECTIONTIMEOUTMS, ASP_DEFAULT_SERVER_SELECTION_TIMEOUT_MS},
                  {MONGOC_URI_SOCKETTIMEOUTMS, ASP_DEFAULT_SOCKET_TIMEOUT_MS}};
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
    if (mongoc_uri_has_option(uri, defaults[i].option)) continue;
    if (!mongoc_uri_set_option_as_int32(uri, defaults[i].option, defaults[i].ms)) return false;
  }
  return true;
}

static mongoc_uri_t *parse_uri(const char *uri_string, const asp_client_opts_t *opts,
                               asp_error_t *err) {
  if (strncasecmp(uri_string, "mongodb+srv://", 14) == 0) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                  "mongodb+srv:// URIs are not supported: Atlas Stream Processing workspaces "
                  "publish no SRV record; use the mongodb:// connection string of the workspace");
    return NULL;
  }
  if (strncasecmp(uri_string, "mongodb://", 10) != 0) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "the URI must start with mongodb://");
    return NULL;
  }
  bson_error_t error;
  mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_string, &error);
  if (!uri) {
    char secret[256];
    raw_uri_password(uri_string, secret, sizeof secret);
    asp_error_set(err, ASP_DOMAIN_CLIENT, (int32_t)error.code, "invalid URI: %s", error.message);
    asp_error_scrub(err, secret);
    return NULL;
  }
  if (tls_disabled_in(uri)) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                  "tls=false/ssl=false is not allowed: Atlas Stream Processing only accepts TLS "
                  "connections");
    mongoc_uri_destroy(uri);
    return NULL;
  }
  if (opts && !apply_opts(uri, opts, err)) {
    mongoc_uri_destroy(uri);
    return NULL;
  }
  bool ok = apply_default_timeouts(uri) &&
            mongoc_uri_set_option_as_bool(uri, MONGOC_URI_TLS, true) &&
            /* retries are ours: exactly one, and only for the two reads */
            mongoc_uri_set_option_as_bool(uri, MONGOC_URI_RETRYREADS, false) &&
            mongoc_uri_set_option_as_bool(uri, MONGOC_URI_RETRYWRITES, false);
  if (ok && wants_admin_auth_source(uri)) ok = mongoc_uri_set_auth_source(uri, "admin");
  if (ok && !mongoc_uri_get_appname(uri)) {
    char appname[64];
    snprintf(appname, sizeof appname, "lua-asp/%s", asp_version());
    ok = mongoc_uri_set_appname(uri, appname);
  }
  if (!ok) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "could not apply the connection settings");
    mongoc_uri_destroy(uri);
    return NULL;
  }
  return uri;
}

/* What every libmongoc client of ours gets: error API 2 (server codes survive), deadline
 * streams, and monitoring while a monitor is set. */
static void setup_mongoc(asp_client_t *c) {
  mongoc_client_set_error_api(c->mongoc, MONGOC_ERROR_API_VERSION_2);
  asp_deadline_streams_install(c);
  asp_monitor_install(c, c->monitor != NULL);
}

mongoc_client_t *asp_client_mongoc(asp_client_t *c) {
  return c->mongoc;
}

asp_deadline_t *asp_client_deadline(asp_client_t *c) {
  return &c->deadline;
}

void asp_client_set_timeout(asp_client_t *c, int32_t timeout_ms) {
  c->deadline.ms = timeout_ms > 0 ? timeout_ms : 0;
  c->deadline.at_us = timeout_ms > 0 ? asp_now_us() + (int64_t)timeout_ms * 1000 : 0;
  c->deadline.hit = false;
}

void asp_client_set_monitor(asp_client_t *c, asp_monitor_fn fn, void *ctx) {
  bool had = c->monitor != NULL;
  c->monitor = fn;
  c->monitor_ctx = ctx;
  /* libmongoc builds its events (and copies each command) only while callbacks are set:
   * without a monitor a command pays nothing for monitoring. */
  if (had != (fn != NULL)) asp_monitor_install(c, fn != NULL);
}

void asp_client_emit(asp_client_t *c, const asp_event_t *event) {
  if (c->monitor) c->monitor(event, c->monitor_ctx);
}

void asp_client_scrub(asp_client_t *c, asp_error_t *err) {
  asp_error_scrub(err, mongoc_uri_get_password(mongoc_client_get_uri(c->mongoc)));
}

/* A TLS file that cannot be read would surface as a vague handshake failure on the first
 * command, with the cause only on stderr: name the file and the reason here instead. */
static bool tls_file_readable(const mongoc_uri_t *uri, const char *option, const char *what,
                              asp_error_t *err) {
  const char *path = mongoc_uri_get_option_as_utf8(uri, option, NULL);
  if (!path) return true;
  FILE *f = fopen(path, "r");
  if (f) {
    fclose(f);
    return true;
  }
  asp_error_set(err, ASP_DOMAIN_TLS, 0, "cannot read the %s '%s': %s", what, path, strerror(errno));
  return false;
}

asp_client_t *asp_client_new(const char *uri_string, const asp_client_opts_t *opts,
                             asp_error_t *err) {
  asp_error_clear(err);
  mongoc_init(); /* idempotent; with the fork counter and log filter the only global state */
  pthread_once(&process_hooks_once, install_process_hooks);
  if (!uri_string) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "no URI given");
    return NULL;
  }
  mongoc_uri_t *uri = parse_uri(uri_string, opts, err);
  if (!uri) return NULL;
  if (!tls_file_readable(uri, MONGOC_URI_TLSCAFILE, "CA file", err) ||
      !tls_file_readable(uri, MONGOC_URI_TLSCERTIFICATEKEYFILE, "certificate key file", err)) {
    mongoc_uri_destroy(uri);
    return NULL;
  }
  bson_error_t error;
  mongoc_client_t *mc = mongoc_client_new_from_uri_with_error(uri, &error);
  const char *password = mongoc_uri_get_password(uri);
  if (!mc) {
    asp_error_from_mongoc(err, &error, NULL);
    asp_error_scrub(err, password);
    mongoc_uri_destroy(uri);
    return NULL;
  }
  asp_client_t *c = bson_malloc0(sizeof *c);
  c->socket_timeout_ms = mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
                                                        ASP_DEFAULT_SOCKET_TIMEOUT_MS);
  mongoc_uri_destroy(uri);
  c->mongoc = mc;
  setup_mongoc(c);
  c->max_bson_size = ASP_DEFAULT_MAX_BSON_SIZE;
  c->forks = atomic_load(&fork_count);
  return c;
}

void asp_client_destroy(asp_client_t *client) {
  if (!client) return;
  /* Closing sends endSessions, a courtesy: a server that stopped answering must not hold
   * up close() for the whole socket timeout. */
  asp_client_set_timeout(client, ASP_CLOSE_TIMEOUT_MS);
  mongoc_client_destroy(client->mongoc);
  bson_free(client);
}

void asp_client_settings(const asp_client_t *client, bson_t *out) {
  bson_init(out);
  const mongoc_uri_t *uri = mongoc_client_get_uri(client->mongoc);
  bson_t hosts;
  BSON_APPEND_ARRAY_BEGIN(out, "hosts", &hosts);
  int i = 0;
  for (const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri); h; h = h->next, i++) {
    char key[16];
    snprintf(key, sizeof key, "%d", i);
    bson_append_utf8(&hosts, key, -1, h->host_and_port, -1);
  }
  bson_append_array_end(out, &hosts);
  BSON_APPEND_BOOL(out, "tls", mongoc_uri_get_tls(uri));
  const char *v;
  if ((v = mongoc_uri_get_auth_source(uri))) BSON_APPEND_UTF8(out, "authSource", v);
  if ((v = mongoc_uri_get_auth_mechanism(uri))) BSON_APPEND_UTF8(out, "authMechanism", v);
  if ((v = mongoc_uri_get_appname(uri))) BSON_APPEND_UTF8(out, "appname", v);
  if ((v = mongoc_uri_get_username(uri))) BSON_APPEND_UTF8(out, "username", v);
  if ((v = mongoc_uri_get_option_as_utf8(uri, MONGOC_URI_TLSCAFILE, NULL)))
    BSON_APPEND_UTF8(out, "tlsCAFile", v);
}

/* A client created before a fork (nginx's init_by_lua, a forking host) shares its
 * parent's sockets and TLS sessions. mongoc_client_reset is not enough with libmongoc
 * 1.23: a child that reconnects after it still corrupts the parent's TLS connection
 * (tested). So the child abandons the inherited client without touching it (destroying
 * it could shut the shared sockets down) and builds a fresh one from the same URI. */
static bool reopen_after_fork(asp_client_t *c, asp_error_t *err) {
  mongoc_uri_t *uri = mongoc_uri_copy(mongoc_client_get_uri(c->mongoc));
  bson_error_t error;
  mongoc_client_t *fresh = mongoc_client_new_from_uri_with_error(uri, &error);
  mongoc_uri_destroy(uri);
  if (!fresh) {
    asp_error_from_mongoc(err, &error, NULL);
    return false;
  }
  c->mongoc = fresh;
  setup_mongoc(c);
  c->forks = atomic_load(&fork_count);
  return true;
}

/* A read or write ran out of time: say which limit, in the timeout domain. */
static void timed_out(const asp_client_t *c, const bson_t *cmd, asp_error_t *err) {
  if (!err) return;
  char cause[sizeof err->message];
  snprintf(cause, sizeof cause, "%s", err->message);
  const char *name = "command";
  bson_iter_t it;
  if (bson_iter_init(&it, cmd) && bson_iter_next(&it)) name = bson_iter_key(&it);
  if (c->deadline.at_us) {
    asp_error_set(err, ASP_DOMAIN_TIMEOUT, err->code, "%s: no reply within timeout_ms = %d (%s)",
                  name, (int)c->deadline.ms, cause);
  } else {
    asp_error_set(err, ASP_DOMAIN_TIMEOUT, err->code,
                  "%s: no reply within the socket timeout of %d ms (%s)", name,
                  (int)c->socket_timeout_ms, cause);
  }
}

static bool run_once(asp_client_t *c, const char *db, const bson_t *cmd, bson_t *reply,
                     asp_error_t *err) {
  bson_error_t error;
  if (cmd->len > (uint32_t)c->max_bson_size) {
    /* Sent anyway, it would make the server drop the connection. */
    bson_init(reply);
    asp_error_set(err, ASP_DOMAIN_CLIENT, ASP_CODE_TOO_LARGE,
                  "the command is %u bytes, more than the server's maxBsonObjectSize of %d bytes",
                  (unsigned)cmd->len, (int)c->max_bson_size);
    if (err) snprintf(err->code_name, sizeof err->code_name, "BSONObjectTooLarge");
    return false;
  }
  if (c->forks != atomic_load(&fork_count) && !reopen_after_fork(c, err)) {
    bson_init(reply);
    return false;
  }
  c->sent++;
  c->deadline.hit = false;
  if (mongoc_client_command_with_opts(c->mongoc, db, cmd, NULL, NULL, reply, &error)) return true;
  asp_error_from_mongoc(err, &error, reply);
  asp_client_scrub(c, err);
  if (c->deadline.hit) timed_out(c, cmd, err);
  return false;
}

bool asp_client_run(asp_client_t *c, const bson_t *cmd, bool retryable_read, bson_t *reply,
                    asp_error_t *err) {
  asp_error_clear(err);
  asp_error_t first;
  if (run_once(c, "admin", cmd, reply, &first)) return true;
  if (retryable_read && asp_error_is_retryable_read(&first)) {
    bson_destroy(reply);
    return run_once(c, "admin", cmd, reply, err);
  }
  if (err) *err = first;
  return false;
}

bool asp_client_run_on(asp_client_t *c, const char *db, const bson_t *cmd, bson_t *reply,
                       asp_error_t *err) {
  asp_error_t local;
  asp_error_clear(err);
  return run_once(c, db, cmd, reply, err ? err : &local);
}

int32_t asp_client_max_bson_size(const asp_client_t *c) {
  return c->max_bson_size;
}

/* The server's maxBsonObjectSize from the hello of the server just used. */
static void learn_limits(asp_client_t *c) {
  bson_error_t error;
  mongoc_server_description_t *sd = mongoc_client_select_server(c->mongoc, false, NULL, &error);
  if (!sd) return;
  bson_iter_t it;
  const bson_t *hello = mongoc_server_description_hello_response(sd);
  if (hello && bson_iter_init_find(&it, hello, "maxBsonObjectSize") && BSON_ITER_HOLDS_INT32(&it) &&
      bson_iter_int32(&it) > 0) {
    c->max_bson_size = bson_iter_int32(&it);
  }
  mongoc_server_description_destroy(sd);
}

bool asp_client_ping(asp_client_t *c, asp_error_t *err) {
  bson_t cmd = BSON_INITIALIZER, reply;
  BSON_APPEND_INT32(&cmd, "ping", 1);
  bool ok = asp_client_run(c, &cmd, false, &reply, err);
  bson_destroy(&cmd);
  bson_destroy(&reply);
  if (ok) learn_limits(c);
  return ok;
}

uint64_t asp_client_commands_sent(const asp_client_t *client) {
  return client->sent;
}
