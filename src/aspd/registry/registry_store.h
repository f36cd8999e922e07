/* Where the registry is kept between runs: one record of the state store (the
 * registry with its secrets, as BSON). Callers see only these functions, so the
 * storage can change without touching them. */
#ifndef ASPD_REGISTRY_STORE_H
#define ASPD_REGISTRY_STORE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "registry/connections.h"
#include "store/store.h"

/* Loads what was saved into reg (nothing saved yet is fine). The first time, the
 * registry.json of earlier versions in state_dir is imported instead. A corrupt
 * record or file is an error, never silently replaced. */
bool aspd_registry_store_load(aspd_registry_t *reg, aspd_store_t *store, const char *state_dir,
                              char *err, size_t err_len);

/* Commits reg's saved form (aspd_registry_to_bson); durable when it returns true,
 * nothing changed when it returns false (err says why, naming no server path). */
bool aspd_registry_store_save(const aspd_registry_t *reg, aspd_store_t *store, char *err,
                              size_t err_len);
bool aspd_registry_store_save_bson(const bson_t *saved, aspd_store_t *store, char *err,
                                   size_t err_len);

#endif
