#include "store/state_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/atomic_file.h"

bool aspd_state_file_load(const char *dir, const char *name, bson_t **out, char *err,
                          size_t err_len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  *out = NULL;
  size_t len = 0;
  bool missing = false;
  char read_err[512];
  char *text = aspd_read_file(path, &len, &missing, read_err, sizeof read_err);
  if (!text) {
    if (missing) return true;
    snprintf(err, err_len, "cannot read state file: %s", read_err);
    return false;
  }
  bson_error_t error;
  *out = bson_new_from_json((const uint8_t *)text, (ssize_t)len, &error);
  free(text);
  if (!*out) {
    snprintf(err, err_len,
             "state file %s is corrupt (%s); aspd will not replace it: repair or move it away",
             path, error.message);
    return false;
  }
  return true;
}

bool aspd_state_file_save(const char *dir, const char *name, const bson_t *doc, char *err,
                          size_t err_len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t len = 0;
  char *json = bson_as_canonical_extended_json(doc, &len);
  if (!json) {
    snprintf(err, err_len, "cannot encode %s", path);
    return false;
  }
  bool ok = aspd_atomic_write(path, json, len, err, err_len);
  bson_free(json);
  return ok;
}

bool aspd_state_file_save_pieces(const char *dir, const char *name, const struct iovec *pieces,
                                 size_t count, char *err, size_t err_len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return aspd_atomic_writev(path, pieces, count, err, err_len);
}
