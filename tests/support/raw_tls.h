/* A TLS connection to a test aspd with no driver protocol on top, verified against its
 * generated CA: for tests that send hand-made wire messages. */
#ifndef RAW_TLS_H
#define RAW_TLS_H

#include <arpa/inet.h>
#include <mongoc/mongoc.h>
#include <stdio.h>

#include "aspd_harness.h"

static inline mongoc_stream_t *raw_tls_connect(const aspd_instance_t *inst) {
  mongoc_socket_t *sock = mongoc_socket_new(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)inst->port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (mongoc_socket_connect(sock, (struct sockaddr *)&addr, sizeof addr, 5000) != 0) {
    mongoc_socket_destroy(sock);
    return NULL;
  }
  mongoc_ssl_opt_t opt = {0};
  opt.ca_file = inst->ca_file;
  mongoc_stream_t *tls =
      mongoc_stream_tls_new_with_hostname(mongoc_stream_socket_new(sock), "127.0.0.1", &opt, 1);
  bson_error_t error = {0};
  if (!tls || !mongoc_stream_tls_handshake_block(tls, "127.0.0.1", 5000, &error)) {
    fprintf(stderr, "TLS handshake: %s\n", error.message);
    mongoc_stream_destroy(tls);
    return NULL;
  }
  return tls;
}

#endif
