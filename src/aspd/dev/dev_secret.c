#include "dev/dev_secret.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/atomic_file.h"

#define KIND "dev"

bool aspd_dev_secret_load(aspd_store_t *store, const char *name, const char *dev_dir,
                          const char *legacy_file, bson_t **out, char *err, size_t err_len) {
  if (!aspd_store_get(store, KIND, name, out, err, err_len)) return false;
  if (*out) return true;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dev_dir, legacy_file);
  size_t len;
  bool missing;
  char *text = aspd_read_file(path, &len, &missing, err, err_len);
  if (!text) return missing;
  bson_error_t error;
  *out = bson_new_from_json((const uint8_t *)text, (ssize_t)len, &error);
  OPENSSL_cleanse(text, len);
  free(text);
  if (!*out) {
    snprintf(err, err_len, "%s is corrupt; remove it to get a new one", path);
    return false;
  }
  return aspd_dev_secret_save(store, name, *out, err, err_len);
}

bool aspd_dev_secret_save(aspd_store_t *store, const char *name, const bson_t *doc, char *err,
                          size_t err_len) {
  return aspd_store_put(store, KIND, NULL, name, doc, err, err_len);
}
