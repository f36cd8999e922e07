/* The server's own secret, kept in STATE/server-secret (mode 0600) so that what is
 * derived from it survives restarts: the decoy credentials shown for unknown users. */
#ifndef ASPD_SERVER_SECRET_H
#define ASPD_SERVER_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ASPD_SERVER_SECRET_LEN 32

/* Reads dir/server-secret, or creates it with random bytes when it does not exist.
 * A file of the wrong size stops start-up: replacing it would change every decoy. */
bool aspd_server_secret_load(const char *dir, uint8_t out[ASPD_SERVER_SECRET_LEN], char *err,
                             size_t err_len);

#endif
