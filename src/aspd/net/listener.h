/* The listening socket and the thread-per-connection accept loop. */
#ifndef ASPD_LISTENER_H
#define ASPD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "net/connection.h"

typedef struct aspd_listener aspd_listener_t;

/* Binds host:port (port 0 picks a free port) and listens. */
aspd_listener_t *aspd_listener_open(const char *host, int port, char *err, size_t err_len);

/* The port actually bound. */
int aspd_listener_port(const aspd_listener_t *listener);

/* Hands the listening socket over to another server (the Admin API's HTTP library):
 * the listener forgets it. Free the listener afterwards. */
int aspd_listener_take_fd(aspd_listener_t *listener);

/* Accepts clients, each on its own detached thread, until stop_fd becomes readable.
 * Connections over config->limits (total, unauthenticated per address) are closed at once.
 * Then stops accepting, shuts down every open connection and waits (bounded) for
 * their threads. Returns true when every connection thread has finished. */
bool aspd_listener_run(aspd_listener_t *listener, const aspd_connection_config_t *config,
                       int stop_fd);

/* Closes the socket and frees the listener (after run has returned). */
void aspd_listener_free(aspd_listener_t *listener);

#endif
