#include "auth/users_config.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/atomic_file.h"

#define MAX_ROLES 32

bool aspd_users_add_spec(aspd_users_t *users, const char *spec, char *err, size_t err_len) {
  char *copy = strdup(spec);
  char *password = strchr(copy, ':');
  bool ok = password != NULL;
  if (!ok) snprintf(err, err_len, "--user expects NAME:PASSWORD[:ROLES]");
  const char *roles[MAX_ROLES];
  size_t role_count = 0;
  if (ok) {
    *password++ = '\0';
    char *role_list = strrchr(password, ':');
    if (role_list) {
      *role_list++ = '\0';
      char *save = NULL;
      for (char *r = strtok_r(role_list, ",", &save); r && ok; r = strtok_r(NULL, ",", &save)) {
        ok = role_count < MAX_ROLES;
        if (ok) roles[role_count++] = r;
      }
      if (!ok) snprintf(err, err_len, "--user: too many roles");
    }
  }
  if (ok) ok = aspd_users_set(users, copy, password, roles, role_count, err, err_len);
  OPENSSL_cleanse(copy, strlen(spec));
  free(copy);
  return ok;
}

static bool add_entry(aspd_users_t *users, const bson_t *entry, const char *path, char *err,
                      size_t err_len) {
  bson_iter_t it, roles_it;
  const char *name = NULL, *password = NULL;
  const char *roles[MAX_ROLES];
  size_t role_count = 0;
  if (bson_iter_init_find(&it, entry, "user") && BSON_ITER_HOLDS_UTF8(&it)) {
    name = bson_iter_utf8(&it, NULL);
  }
  if (bson_iter_init_find(&it, entry, "password") && BSON_ITER_HOLDS_UTF8(&it)) {
    password = bson_iter_utf8(&it, NULL);
  }
  if (!name || !password) {
    snprintf(err, err_len, "%s: every entry needs string \"user\" and \"password\"", path);
    return false;
  }
  if (bson_iter_init_find(&it, entry, "roles")) {
    if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &roles_it)) {
      snprintf(err, err_len, "%s: user %s: \"roles\" must be an array of strings", path, name);
      return false;
    }
    while (bson_iter_next(&roles_it)) {
      if (!BSON_ITER_HOLDS_UTF8(&roles_it) || role_count == MAX_ROLES) {
        snprintf(err, err_len, "%s: user %s: \"roles\" must be an array of strings", path, name);
        return false;
      }
      roles[role_count++] = bson_iter_utf8(&roles_it, NULL);
    }
  }
  return aspd_users_set(users, name, password, roles, role_count, err, err_len);
}

bool aspd_users_add_file(aspd_users_t *users, const char *path, char *err, size_t err_len) {
  size_t len;
  bool missing;
  char *text = aspd_read_file(path, &len, &missing, err, err_len);
  if (!text) return false;
  /* libbson reads a top-level JSON array as a document keyed "0", "1", ... */
  bson_error_t error;
  bson_t *root = bson_new_from_json((const uint8_t *)text, (ssize_t)len, &error);
  OPENSSL_cleanse(text, len);
  free(text);
  if (!root) {
    snprintf(err, err_len, "%s: invalid JSON: %s", path, error.message);
    return false;
  }
  bson_iter_t it, list;
  bool ok = true;
  if (bson_iter_init_find(&it, root, "users") && BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_recurse(&it, &list);
  } else {
    bson_iter_init(&list, root);
  }
  while (ok && bson_iter_next(&list)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&list)) {
      snprintf(err, err_len, "%s: expected an array of user objects", path);
      ok = false;
      break;
    }
    uint32_t doc_len;
    const uint8_t *data;
    bson_iter_document(&list, &doc_len, &data);
    bson_t entry;
    ok = bson_init_static(&entry, data, doc_len) && add_entry(users, &entry, path, err, err_len);
  }
  /* The parsed passwords are in root's buffer: wipe it before freeing. */
  OPENSSL_cleanse(bson_reserve_buffer(root, root->len), root->len);
  bson_destroy(root);
  return ok;
}
