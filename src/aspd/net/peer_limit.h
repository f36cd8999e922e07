/* Counts unauthenticated connections per client address, so that one address cannot
 * take every connection slot (or the memory they hold) without knowing a password. */
#ifndef ASPD_PEER_LIMIT_H
#define ASPD_PEER_LIMIT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct aspd_peer_limit aspd_peer_limit_t;

aspd_peer_limit_t *aspd_peer_limit_new(size_t per_peer);
void aspd_peer_limit_free(aspd_peer_limit_t *limit);

/* Takes one slot for the peer ("host:port"; the port is ignored). False when that
 * address already holds per_peer slots. */
bool aspd_peer_limit_enter(aspd_peer_limit_t *limit, const char *peer);

/* Gives the slot back (on authentication, or when the connection ends). */
void aspd_peer_limit_leave(aspd_peer_limit_t *limit, const char *peer);

#endif
