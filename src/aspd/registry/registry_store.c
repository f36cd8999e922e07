#include "registry/registry_store.h"

#include <stdio.h>

#include "store/state_file.h"

#define KIND "registry"
#define NAME "connections"
/* Where earlier versions kept the registry: imported once, then no longer read. */
#define LEGACY_FILE "registry.json"

static bool load_doc(aspd_registry_t *reg, const bson_t *saved, const char *origin, char *err,
                     size_t err_len) {
  aspd_error_t lerr = {0};
  if (aspd_registry_load(reg, saved, origin, &lerr)) return true;
  snprintf(err, err_len, "%s is corrupt (%s); aspd will not replace it", origin, lerr.message);
  return false;
}

static bool import_legacy(aspd_registry_t *reg, aspd_store_t *store, const char *state_dir,
                          char *err, size_t err_len) {
  bson_t *saved = NULL;
  if (!aspd_state_file_load(state_dir, LEGACY_FILE, &saved, err, err_len)) return false;
  char origin[4200];
  snprintf(origin, sizeof origin, "state file %s/%s", state_dir, LEGACY_FILE);
  bool ok = !saved || load_doc(reg, saved, origin, err, err_len);
  bson_destroy(saved);
  return ok && aspd_registry_store_save(reg, store, err, err_len) &&
         aspd_store_mark_imported(store, KIND, err, err_len);
}

bool aspd_registry_store_load(aspd_registry_t *reg, aspd_store_t *store, const char *state_dir,
                              char *err, size_t err_len) {
  if (!aspd_store_imported(store, KIND)) return import_legacy(reg, store, state_dir, err, err_len);
  bson_t *saved = NULL;
  if (!aspd_store_get(store, KIND, NAME, &saved, err, err_len)) return false;
  bool ok = !saved || load_doc(reg, saved, "the registry in the state store", err, err_len);
  bson_destroy(saved);
  return ok;
}

bool aspd_registry_store_save_bson(const bson_t *saved, aspd_store_t *store, char *err,
                                   size_t err_len) {
  return aspd_store_put(store, KIND, NULL, NAME, saved, err, err_len);
}

bool aspd_registry_store_save(const aspd_registry_t *reg, aspd_store_t *store, char *err,
                              size_t err_len) {
  bson_t out = BSON_INITIALIZER;
  aspd_registry_to_bson(reg, &out);
  bool ok = aspd_registry_store_save_bson(&out, store, err, err_len);
  bson_destroy(&out);
  return ok;
}
