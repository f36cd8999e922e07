/* Where the registry is kept between runs: today STATE_DIR/registry.json (canonical
 * Extended JSON, written atomically). Callers see only these two functions, so the
 * storage can change without touching them. */
#ifndef ASPD_REGISTRY_STORE_H
#define ASPD_REGISTRY_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "registry/connections.h"

/* Loads what was saved into reg (nothing saved yet is fine); a corrupt store is an
 * error, never silently replaced. */
bool aspd_registry_store_load(aspd_registry_t *reg, const char *state_dir, char *err,
                              size_t err_len);

/* Saves reg; returns once it is durable. */
bool aspd_registry_store_save(const aspd_registry_t *reg, const char *state_dir, char *err,
                              size_t err_len);

#endif
