/* The server's own secret, a record of the state store, so that what is derived from it
 * survives restarts: the decoy credentials shown for unknown users. */
#ifndef ASPD_SERVER_SECRET_H
#define ASPD_SERVER_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define ASPD_SERVER_SECRET_LEN 32

/* The stored secret; at the first start the 32 bytes of an earlier version's
 * dir/server-secret (imported once, then the file goes) or new random ones. A stored
 * secret of the wrong size stops start-up: replacing it would change every decoy. */
bool aspd_server_secret_load(aspd_store_t *store, const char *dir,
                             uint8_t out[ASPD_SERVER_SECRET_LEN], char *err, size_t err_len);

#endif
