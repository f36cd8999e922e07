/* A bare OpenSSL client for tests that misbehave on purpose (trickle bytes, idle, hold
 * connections): blocking socket with a receive timeout, so "closed by the server" and
 * "still open" can be told apart. Verifies the server against the instance's CA. */
#ifndef TLS_PROBE_H
#define TLS_PROBE_H

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aspd_harness.h"

typedef struct {
  int fd;
  SSL_CTX *ctx;
  SSL *ssl;
} tls_probe_t;

static inline double tls_probe_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void tls_probe_timeout(int fd, int ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static inline void tls_probe_close(tls_probe_t *p) {
  if (p->ssl) SSL_free(p->ssl);
  if (p->ctx) SSL_CTX_free(p->ctx);
  if (p->fd >= 0) close(p->fd);
  *p = (tls_probe_t){.fd = -1};
}

/* Connects and completes the TLS handshake within 5 s; false (and closed) otherwise. */
static inline bool tls_probe_open(tls_probe_t *p, const aspd_instance_t *inst) {
  *p = (tls_probe_t){.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)inst->port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  tls_probe_timeout(p->fd, 5000);
  p->ctx = SSL_CTX_new(TLS_client_method());
  bool ok = p->fd >= 0 && connect(p->fd, (struct sockaddr *)&addr, sizeof addr) == 0 && p->ctx &&
            SSL_CTX_load_verify_locations(p->ctx, inst->ca_file, NULL) == 1;
  if (ok) {
    SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER, NULL);
    p->ssl = SSL_new(p->ctx);
    SSL_set_fd(p->ssl, p->fd);
    ok = SSL_connect(p->ssl) == 1;
  }
  ERR_clear_error();
  if (!ok) tls_probe_close(p);
  return ok;
}

static inline bool tls_probe_send(tls_probe_t *p, const void *data, size_t len) {
  size_t written = 0;
  bool ok = SSL_write_ex(p->ssl, data, len, &written) == 1 && written == len;
  ERR_clear_error();
  return ok;
}

/* Waits up to ms for the server to close the connection: true when it did (any bytes it
 * sends first are skipped), false when the connection is still open at the end. */
static inline bool tls_probe_closed_within(tls_probe_t *p, int ms) {
  double until = tls_probe_now() + ms / 1000.0;
  for (;;) {
    double left = until - tls_probe_now();
    if (left <= 0) return false;
    tls_probe_timeout(p->fd, (int)(left * 1000) + 1);
    uint8_t buf[256];
    size_t n;
    if (SSL_read_ex(p->ssl, buf, sizeof buf, &n) == 1) continue;
    int code = SSL_get_error(p->ssl, 0);
    ERR_clear_error();
    if (code == SSL_ERROR_WANT_READ && tls_probe_now() < until) continue;
    return code != SSL_ERROR_WANT_READ;
  }
}

#endif
