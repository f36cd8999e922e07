/* One client connection: TLS handshake, then read a message, dispatch, reply,
 * until the client leaves or sends something malformed. */
#ifndef ASPD_CONNECTION_H
#define ASPD_CONNECTION_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "server.h"

typedef struct {
  SSL_CTX *tls;
  aspd_server_t *server;
  bool verbose; /* log each connection and each command's name and outcome */
} aspd_connection_config_t;

/* Serves the accepted socket `fd` until it is done. Does not close fd. */
void aspd_connection_serve(const aspd_connection_config_t *config, int fd, uint64_t id,
                           const char *peer);

#endif
