#include "net/connection.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "auth/scram.h"
#include "log.h"
#include "net/tls.h"
#include "net/wire.h"

/* A client that connects and never finishes the TLS handshake must not hold a thread forever. */
#define HANDSHAKE_TIMEOUT_SECONDS 10
/* Idling between messages is normal for drivers; stalling inside one is not. */
#define BODY_TIMEOUT_SECONDS 20

typedef enum { READ_OK, READ_EOF, READ_PARTIAL, READ_ERROR } read_status_t;

static void set_receive_timeout(int fd, int seconds) {
  struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* Reads exactly len bytes; READ_EOF only when the peer closed before the first byte.
 * On READ_ERROR, reason holds OpenSSL's explanation. */
static read_status_t read_exact(SSL *ssl, uint8_t *buf, size_t len, char *reason,
                                size_t reason_len) {
  size_t got = 0;
  while (got < len) {
    size_t n = 0;
    if (SSL_read_ex(ssl, buf + got, len - got, &n) != 1) {
      int code = SSL_get_error(ssl, 0);
      /* WANT_READ here means the receive timeout expired. */
      if (code == SSL_ERROR_ZERO_RETURN || code == SSL_ERROR_SYSCALL ||
          code == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return got == 0 ? READ_EOF : READ_PARTIAL;
      }
      aspd_tls_last_error(reason, reason_len);
      return READ_ERROR;
    }
    got += n;
  }
  return READ_OK;
}

static bool write_all(SSL *ssl, const uint8_t *buf, size_t len) {
  size_t written = 0;
  bool ok = SSL_write_ex(ssl, buf, len, &written) == 1 && written == len;
  ERR_clear_error();
  return ok;
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
 * the connection must close: the client left, or the bytes were bad (logged). */
static uint8_t *read_message(SSL *ssl, uint64_t id, size_t *len) {
  uint8_t header_bytes[ASPD_WIRE_HEADER_LEN];
  char reason[256];
  read_status_t status = read_exact(ssl, header_bytes, sizeof header_bytes, reason, sizeof reason);
  if (status == READ_PARTIAL) {
    aspd_log("conn %llu: truncated message header; closing", (unsigned long long)id);
  } else if (status == READ_ERROR) {
    aspd_log("conn %llu: TLS read failed (%s); closing", (unsigned long long)id, reason);
  }
  if (status != READ_OK) return NULL;

  aspd_wire_header_t header;
  if (!aspd_wire_parse_header(header_bytes, &header, reason, sizeof reason)) {
    aspd_log("conn %llu: %s; closing", (unsigned long long)id, reason);
    return NULL;
  }
  *len = (size_t)header.message_length;
  /* The client picks the size (up to 48 MB): running out of memory closes this connection
   * instead of crashing the server. */
  uint8_t *msg = malloc(*len);
  if (!msg) {
    aspd_log("conn %llu: no memory for a %zu-byte message; closing", (unsigned long long)id, *len);
    return NULL;
  }
  memcpy(msg, header_bytes, sizeof header_bytes);
  set_receive_timeout(SSL_get_fd(ssl), BODY_TIMEOUT_SECONDS);
  status = read_exact(ssl, msg + ASPD_WIRE_HEADER_LEN, *len - ASPD_WIRE_HEADER_LEN, reason,
                      sizeof reason);
  set_receive_timeout(SSL_get_fd(ssl), 0);
  if (status == READ_OK) return msg;
  free(msg);
  if (status == READ_ERROR) {
    aspd_log("conn %llu: TLS read failed (%s); closing", (unsigned long long)id, reason);
  } else {
    aspd_log("conn %llu: message truncated or stalled (%zu bytes announced); closing",
             (unsigned long long)id, *len);
  }
  return NULL;
}

/* Handles one message. Returns false when the connection must close. */
static bool serve_one(SSL *ssl, aspd_session_t *session, bool verbose, int32_t *next_request_id) {
  size_t len;
  uint8_t *msg = read_message(ssl, session->connection_id, &len);
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
  if (verbose) log_command(session, &request.command, &reply);
  bool keep = true;
  if (!request.more_to_come) {
    size_t out_len;
    int32_t id = (*next_request_id)++;
    uint8_t *out = request.header.opcode == ASPD_OP_QUERY
                       ? aspd_wire_build_op_reply(id, request.header.request_id, &reply, &out_len)
                       : aspd_wire_build_op_msg(id, request.header.request_id, &reply, &out_len);
    keep = write_all(ssl, out, out_len);
    free(out);
  }
  bson_destroy(&reply);
  aspd_wire_request_destroy(&request);
  return keep;
}

void aspd_connection_serve(const aspd_connection_config_t *config, int fd, uint64_t id,
                           const char *peer) {
  SSL *ssl = SSL_new(config->tls);
  if (!ssl) {
    aspd_log("conn %llu: out of memory for TLS", (unsigned long long)id);
    return;
  }
  SSL_set_fd(ssl, fd);
  set_receive_timeout(fd, HANDSHAKE_TIMEOUT_SECONDS);
  if (SSL_accept(ssl) != 1) {
    char reason[256];
    aspd_tls_last_error(reason, sizeof reason);
    aspd_log("conn %llu from %s: TLS handshake failed (%s); closing", (unsigned long long)id, peer,
             reason);
    SSL_free(ssl);
    return;
  }
  set_receive_timeout(fd, 0);
  if (config->verbose) {
    aspd_log("conn %llu from %s: accepted (%s)", (unsigned long long)id, peer,
             SSL_get_version(ssl));
  }

  aspd_session_t session = {.server = config->server, .connection_id = id};
  int32_t next_request_id = 1;
  while (serve_one(ssl, &session, config->verbose, &next_request_id)) {
  }
  if (config->verbose) aspd_log("conn %llu: closed", (unsigned long long)id);
  aspd_scram_free(session.scram);
  SSL_shutdown(ssl);
  ERR_clear_error();
  SSL_free(ssl);
}
