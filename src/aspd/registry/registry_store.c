#include "registry/registry_store.h"

#include <stdio.h>

#include "store/state_file.h"

/* The registry as last changed, so connections survive a restart without the file. */
#define REGISTRY_STATE_FILE "registry.json"

bool aspd_registry_store_load(aspd_registry_t *reg, const char *state_dir, char *err,
                              size_t err_len) {
  bson_t *saved = NULL;
  if (!aspd_state_file_load(state_dir, REGISTRY_STATE_FILE, &saved, err, err_len)) return false;
  if (!saved) return true;
  aspd_error_t lerr = {0};
  bool ok = aspd_registry_load(reg, saved, REGISTRY_STATE_FILE, &lerr);
  bson_destroy(saved);
  if (!ok) {
    snprintf(err, err_len, "state file %s/%s is corrupt (%s); aspd will not replace it", state_dir,
             REGISTRY_STATE_FILE, lerr.message);
  }
  return ok;
}

bool aspd_registry_store_save(const aspd_registry_t *reg, const char *state_dir, char *err,
                              size_t err_len) {
  bson_t out = BSON_INITIALIZER;
  aspd_registry_to_bson(reg, &out);
  bool ok = aspd_state_file_save(state_dir, REGISTRY_STATE_FILE, &out, err, err_len);
  bson_destroy(&out);
  return ok;
}
