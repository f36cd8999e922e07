/* The --dev secrets (the user's password, the Admin API key pair): records of
 * the state store, so restarts print the same URI and key. Earlier versions kept
 * them in JSON files under STATE/dev/; such a file is imported on first use and
 * no longer read after. */
#ifndef ASPD_DEV_SECRET_H
#define ASPD_DEV_SECRET_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

/* The stored secret `name` into *out (a new document), else the legacy file
 * dev_dir/legacy_file (committed to the store as it is read), else *out = NULL.
 * False when the store or the file cannot be read. */
bool aspd_dev_secret_load(aspd_store_t *store, const char *name, const char *dev_dir,
                          const char *legacy_file, bson_t **out, char *err, size_t err_len);

/* Commits a new secret. */
bool aspd_dev_secret_save(aspd_store_t *store, const char *name, const bson_t *doc, char *err,
                          size_t err_len);

#endif
