/* One client connection: TLS handshake, then read a message, dispatch, reply,
 * until the client leaves or sends something malformed. */
#ifndef ASPD_CONNECTION_H
#define ASPD_CONNECTION_H

#include <openssl/ssl.h>
#include <stdint.h>

#include "server.h"

/* Serves the accepted socket `fd` until it is done. Does not close fd. */
void aspd_connection_serve(int fd, SSL_CTX *ctx, aspd_server_t *server, uint64_t id,
                           const char *peer);

#endif
