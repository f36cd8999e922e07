#include "net/connection.h"

#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/scram.h"
#include "commands/reply.h"
#include "log.h"
#include "net/tls.h"
#include "net/wire.h"

#define NO_DEADLINE INT64_MAX

typedef enum { IO_OK, IO_EOF, IO_PARTIAL, IO_IDLE, IO_ERROR } io_status_t;

typedef struct {
  SSL *ssl;
  int fd;
  uint64_t id;
  const aspd_limits_t *limits;
  aspd_peer_limit_t *unauthenticated;
  const char *peer;
  bool holds_unauth_slot; /* the listener took it; given back on authentication or close */
  char reason[256];       /* OpenSSL's explanation of the last IO_ERROR */
} conn_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t after_ms(long ms) {
  return now_ms() + ms;
}

/* Waits until the socket can do what OpenSSL asked for. False once the deadline passed
 * (a socket that was shut down is ready: the next call then reports the end). */
static bool wait_ready(int fd, int ssl_error, int64_t deadline) {
  struct pollfd p = {.fd = fd, .events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN};
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    int rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

/* Reads exactly len bytes; IO_EOF when the peer closed before the first of them. Until
 * a byte arrives the wait ends at `idle_until`; from then on at *deadline, which the first
 * byte sets (message timeout) unless it is already set: the limit is for the whole
 * message, not between two bytes. */
static io_status_t read_exact(conn_t *c, uint8_t *buf, size_t len, int64_t idle_until,
                              int64_t *deadline) {
  long timeout = c->limits->value[ASPD_LIMIT_MESSAGE_TIMEOUT_MS];
  size_t got = 0;
  while (got < len) {
    size_t n = 0;
    if (SSL_read_ex(c->ssl, buf + got, len - got, &n) == 1) {
      if (*deadline == NO_DEADLINE) *deadline = after_ms(timeout);
      got += n;
      continue;
    }
    int code = SSL_get_error(c->ssl, 0);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
      bool started = *deadline != NO_DEADLINE;
      if (!wait_ready(c->fd, code, started ? *deadline : idle_until)) {
        return started ? IO_PARTIAL : IO_IDLE;
      }
      /* Any arriving byte starts the clock, even one of a TLS record still incomplete. */
      if (!started) *deadline = after_ms(timeout);
      continue;
    }
    if (code == SSL_ERROR_ZERO_RETURN || code == SSL_ERROR_SYSCALL) {
      ERR_clear_error();
      return got == 0 ? IO_EOF : IO_PARTIAL;
    }
    aspd_tls_last_error(c->reason, sizeof c->reason);
    return IO_ERROR;
  }
  return IO_OK;
}

/* A client that stops reading its replies must not hold the thread either. */
static bool write_all(conn_t *c, const uint8_t *buf, size_t len) {
  int64_t deadline = after_ms(c->limits->value[ASPD_LIMIT_MESSAGE_TIMEOUT_MS]);
  for (;;) {
    size_t written = 0;
    if (SSL_write_ex(c->ssl, buf, len, &written) == 1) return true;
    int code = SSL_get_error(c->ssl, 0);
    if ((code != SSL_ERROR_WANT_READ && code != SSL_ERROR_WANT_WRITE) ||
        !wait_ready(c->fd, code, deadline)) {
      ERR_clear_error();
      return false;
    }
  }
}

static bool handshake(conn_t *c, const char *peer) {
  int64_t deadline = after_ms(c->limits->value[ASPD_LIMIT_MESSAGE_TIMEOUT_MS]);
  for (;;) {
    int rc = SSL_accept(c->ssl);
    if (rc == 1) return true;
    int code = SSL_get_error(c->ssl, rc);
    if ((code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) &&
        wait_ready(c->fd, code, deadline)) {
      continue;
    }
    char reason[256] = "timed out";
    if (code != SSL_ERROR_WANT_READ && code != SSL_ERROR_WANT_WRITE) {
      aspd_tls_last_error(reason, sizeof reason);
    }
    ERR_clear_error();
    aspd_log("conn %llu from %s: TLS handshake failed (%s); closing", (unsigned long long)c->id,
             peer, reason);
    return false;
  }
}

/* --verbose: the command's name and its outcome, never its arguments (they may hold secrets). */
static void log_command(const aspd_session_t *session, const bson_t *command, const bson_t *reply) {
  bson_iter_t it;
  const char *name = bson_iter_init(&it, command) && bson_iter_next(&it) ? bson_iter_key(&it) : "";
  if (bson_iter_init_find(&it, reply, "code") && BSON_ITER_HOLDS_NUMBER(&it)) {
    aspd_log("conn %llu: %s -> error %lld", (unsigned long long)session->connection_id, name,
             (long long)bson_iter_as_int64(&it));
  } else {
    aspd_log("conn %llu: %s -> ok", (unsigned long long)session->connection_id, name);
  }
}

/* Reads one whole message (header included) into a malloc'd buffer. Returns NULL when
 * the connection must close: the client left or idled too long, or the bytes were bad
 * (logged). Before authentication only small messages are accepted, so a client without
 * a password cannot make aspd allocate much. */
static uint8_t *read_message(conn_t *c, bool authenticated, size_t *len) {
  uint8_t header_bytes[ASPD_WIRE_HEADER_LEN];
  unsigned long long id = (unsigned long long)c->id;
  int64_t deadline = NO_DEADLINE;
  int64_t idle_until = after_ms(c->limits->value[ASPD_LIMIT_IDLE_TIMEOUT_MS]);
  io_status_t status = read_exact(c, header_bytes, sizeof header_bytes, idle_until, &deadline);
  if (status == IO_PARTIAL) {
    aspd_log("conn %llu: truncated or stalled message header; closing", id);
  } else if (status == IO_IDLE) {
    aspd_log("conn %llu: idle for %ld ms; closing", id,
             c->limits->value[ASPD_LIMIT_IDLE_TIMEOUT_MS]);
  } else if (status == IO_ERROR) {
    aspd_log("conn %llu: TLS read failed (%s); closing", id, c->reason);
  }
  if (status != IO_OK) return NULL;

  aspd_wire_header_t header;
  char reason[256];
  if (!aspd_wire_parse_header(header_bytes, &header, reason, sizeof reason)) {
    aspd_log("conn %llu: %s; closing", id, reason);
    return NULL;
  }
  *len = (size_t)header.message_length;
  long unauth_max = c->limits->value[ASPD_LIMIT_UNAUTH_MESSAGE];
  if (!authenticated && *len > (size_t)unauth_max) {
    aspd_log("conn %llu: message of %zu bytes before authentication (limit %ld); closing", id, *len,
             unauth_max);
    return NULL;
  }
  /* Running out of memory closes this connection instead of crashing the server. */
  uint8_t *msg = malloc(*len);
  if (!msg) {
    aspd_log("conn %llu: no memory for a %zu-byte message; closing", id, *len);
    return NULL;
  }
  memcpy(msg, header_bytes, sizeof header_bytes);
  status =
      read_exact(c, msg + ASPD_WIRE_HEADER_LEN, *len - ASPD_WIRE_HEADER_LEN, idle_until, &deadline);
  if (status == IO_OK) return msg;
  free(msg);
  if (status == IO_ERROR) {
    aspd_log("conn %llu: TLS read failed (%s); closing", id, c->reason);
  } else {
    aspd_log(
        "conn %llu: message truncated or not received within %ld ms (%zu bytes announced); "
        "closing",
        id, c->limits->value[ASPD_LIMIT_MESSAGE_TIMEOUT_MS], *len);
  }
  return NULL;
}

/* No reply may exceed maxBsonObjectSize (and so maxMessageSizeBytes): a client would
 * refuse it and lose the connection. The command's outcome is replaced by a clear error. */
static void bound_reply(bson_t *reply, const bson_t *command) {
  if (reply->len <= ASPD_WIRE_MAX_BSON) return;
  bson_iter_t it;
  const char *name = bson_iter_init(&it, command) && bson_iter_next(&it) ? bson_iter_key(&it) : "";
  uint32_t too_big = reply->len;
  bson_reinit(reply);
  aspd_reply_error(reply, ASPD_E_BSON_TOO_LARGE,
                   "the reply to %.64s would be %u bytes, more than the %d-byte limit "
                   "(maxBsonObjectSize); ask for less, e.g. with a filter or a smaller batch",
                   name, too_big, ASPD_WIRE_MAX_BSON);
}

/* Handles one message. Returns false when the connection must close. */
static bool serve_one(conn_t *c, aspd_session_t *session, bool verbose, int32_t *next_request_id) {
  size_t len;
  uint8_t *msg = read_message(c, session->user[0] != '\0', &len);
  if (!msg) return false;
  char err[256];
  aspd_wire_request_t request;
  bool parsed = aspd_wire_parse_message(msg, len, &request, err, sizeof err);
  free(msg);
  if (!parsed) {
    aspd_log("conn %llu: malformed message: %s; closing",
             (unsigned long long)session->connection_id, err);
    return false;
  }
  /* OP_QUERY names its database in the namespace: give handlers the OP_MSG view of it. */
  if (request.database[0] && !bson_has_field(&request.command, "$db")) {
    BSON_APPEND_UTF8(&request.command, "$db", request.database);
  }
  bson_t reply = BSON_INITIALIZER;
  aspd_dispatch(session, &request.command, &reply);
  /* Before the reply goes out, so a client that has its answer finds the slot free. */
  if (c->holds_unauth_slot && session->user[0]) {
    aspd_peer_limit_leave(c->unauthenticated, c->peer);
    c->holds_unauth_slot = false;
  }
  bound_reply(&reply, &request.command);
  if (verbose) log_command(session, &request.command, &reply);
  bool keep = true;
  if (!request.more_to_come) {
    size_t out_len;
    int32_t id = (*next_request_id)++;
    uint8_t *out = request.header.opcode == ASPD_OP_QUERY
                       ? aspd_wire_build_op_reply(id, request.header.request_id, &reply, &out_len)
                       : aspd_wire_build_op_msg(id, request.header.request_id, &reply, &out_len);
    keep = write_all(c, out, out_len);
    free(out);
  }
  bson_destroy(&reply);
  aspd_wire_request_destroy(&request);
  return keep;
}

void aspd_connection_serve(const aspd_connection_config_t *config, int fd, uint64_t id,
                           const char *peer) {
  conn_t c = {.ssl = SSL_new(config->tls),
              .fd = fd,
              .id = id,
              .limits = config->limits,
              .unauthenticated = config->unauthenticated,
              .peer = peer,
              .holds_unauth_slot = true};
  if (!c.ssl) {
    aspd_log("conn %llu: out of memory for TLS", (unsigned long long)id);
  } else {
    SSL_set_fd(c.ssl, fd);
  }
  if (c.ssl && handshake(&c, peer)) {
    if (config->verbose) {
      aspd_log("conn %llu from %s: accepted (%s)", (unsigned long long)id, peer,
               SSL_get_version(c.ssl));
    }
    aspd_session_t session = {.server = config->server, .connection_id = id};
    int32_t next_request_id = 1;
    while (serve_one(&c, &session, config->verbose, &next_request_id)) {
    }
    if (config->verbose) aspd_log("conn %llu: closed", (unsigned long long)id);
    aspd_scram_free(session.scram);
    SSL_shutdown(c.ssl); /* one attempt: the socket is non-blocking and about to close */
  }
  ERR_clear_error();
  SSL_free(c.ssl);
  if (c.holds_unauth_slot) aspd_peer_limit_leave(c.unauthenticated, peer);
}
