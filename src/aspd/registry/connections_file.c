/* Reading the --connections JSON file into the registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/connections.h"
#include "store/atomic_file.h"

bool aspd_registry_load_file(aspd_registry_t *reg, const char *path, char *err, size_t err_len) {
  size_t len = 0;
  bool missing = false;
  char read_err[512];
  char *text = aspd_read_file(path, &len, &missing, read_err, sizeof read_err);
  if (!text) {
    snprintf(err, err_len, "cannot read connections file: %s", read_err);
    return false;
  }
  const char *body = text;
  while (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t') body++;
  /* libbson parses documents only: a top-level array is wrapped first. */
  bool is_array = *body == '[';
  size_t wrapped_len = strlen(body) + 32;
  char *wrapped = malloc(wrapped_len);
  snprintf(wrapped, wrapped_len, is_array ? "{\"connections\": %s}" : "%s", body);
  free(text);
  bson_error_t berr;
  bson_t *doc = bson_new_from_json((const uint8_t *)wrapped, -1, &berr);
  free(wrapped);
  if (!doc) {
    snprintf(err, err_len, "connections file %s is not valid JSON: %s", path, berr.message);
    return false;
  }
  aspd_error_t lerr = {0};
  bool ok = aspd_registry_load(reg, doc, path, &lerr);
  bson_destroy(doc);
  if (!ok) snprintf(err, err_len, "%s", lerr.message);
  return ok;
}
