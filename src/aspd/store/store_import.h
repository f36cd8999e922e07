/* Earlier versions kept each workspace created over the Admin API in a database of its
 * own (STATE/workspaces/ID/aspd.db). Its records (registry, processors), datasets and
 * imported flags are copied into that workspace's scope of the one store, once. */
#ifndef ASPD_STORE_IMPORT_H
#define ASPD_STORE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

/* Copies dir/aspd.db (if there is one) into scope, unless that was done already. */
bool aspd_store_import_dir(aspd_store_t *scope, const char *dir, char *err, size_t err_len);

#endif
