/* The Admin API over HTTPS: libmicrohttpd serves it on a socket of its own, with the
 * wire port's certificate, HTTP/1.1 keep-alive, Digest and Bearer authentication. */
#ifndef ASPD_HTTP_SERVER_H
#define ASPD_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/api_keys.h"
#include "project/records.h"
#include "project/workspaces.h"
#include "server.h"

typedef struct {
  int listen_fd; /* bound and listening; the server owns it from now on */
  const char *tls_cert, *tls_key, *tls_ca;
  const char *root;     /* https://HOST:PORT, the base of pagination links */
  const char *group_id; /* the project (24 hex) */
  aspd_workspaces_t *workspaces;
  aspd_records_t *private_links;
  aspd_records_t *vpc_peerings;
  aspd_api_keys_t *keys;
  bool verbose;
} aspd_http_config_t;

typedef struct aspd_http_server aspd_http_server_t;

/* Starts serving on its own threads. */
aspd_http_server_t *aspd_http_start(const aspd_http_config_t *config, char *err, size_t err_len);

/* Closes every connection, waits for the request threads, frees the server. NULL is fine. */
void aspd_http_stop(aspd_http_server_t *server);

#endif
