/* One client connection: TLS handshake, then read a message, dispatch, reply,
 * until the client leaves, stays silent too long or sends something malformed.
 * Every read and write has a deadline (net/limits.h). */
#ifndef ASPD_CONNECTION_H
#define ASPD_CONNECTION_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/limits.h"
#include "net/peer_limit.h"
#include "server.h"

typedef struct {
  SSL_CTX *tls;
  aspd_server_t *server;
  const aspd_limits_t *limits;
  aspd_peer_limit_t *unauthenticated; /* the listener took a slot for each new connection */
  bool verbose;                       /* log each connection and each command's name and outcome */
} aspd_connection_config_t;

/* Serves the accepted non-blocking socket `fd` until it is done, and gives back its
 * unauthenticated slot. Does not close fd. */
void aspd_connection_serve(const aspd_connection_config_t *config, int fd, uint64_t id,
                           const char *peer);

#endif
