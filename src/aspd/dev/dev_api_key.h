/* --dev: an Admin API key pair (project owner) kept in the state store (an
 * earlier version's STATE/dev/api-key.json is imported once), so restarts print
 * the same key. Shaped like Atlas's: an 8-letter
 * public key and a UUID-formatted private key. */
#ifndef ASPD_DEV_API_KEY_H
#define ASPD_DEV_API_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

#define ASPD_DEV_PUBLIC_KEY_LEN 8
#define ASPD_DEV_PRIVATE_KEY_LEN 36

bool aspd_dev_api_key(aspd_store_t *store, const char *dev_dir,
                      char public_key[ASPD_DEV_PUBLIC_KEY_LEN + 1],
                      char private_key[ASPD_DEV_PRIVATE_KEY_LEN + 1], char *err, size_t err_len);

#endif
