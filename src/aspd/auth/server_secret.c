#include "auth/server_secret.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/atomic_file.h"

#define KIND "secret"
#define NAME "server"
#define OLD_FILE "server-secret"

/* The secret held in a record {secret: BinData}; false when it is not 32 bytes. */
static bool from_record(const bson_t *doc, uint8_t out[ASPD_SERVER_SECRET_LEN]) {
  bson_iter_t it;
  const uint8_t *data;
  uint32_t len;
  bson_subtype_t subtype;
  if (!bson_iter_init_find(&it, doc, "secret") || !BSON_ITER_HOLDS_BINARY(&it)) return false;
  bson_iter_binary(&it, &subtype, &len, &data);
  if (len != ASPD_SERVER_SECRET_LEN) return false;
  memcpy(out, data, ASPD_SERVER_SECRET_LEN);
  return true;
}

static bool put(aspd_store_t *store, const uint8_t secret[ASPD_SERVER_SECRET_LEN], char *err,
                size_t err_len) {
  bson_t doc = BSON_INITIALIZER;
  BSON_APPEND_BINARY(&doc, "secret", BSON_SUBTYPE_BINARY, secret, ASPD_SERVER_SECRET_LEN);
  bool ok = aspd_store_put(store, KIND, NULL, NAME, &doc, err, err_len);
  OPENSSL_cleanse((void *)(uintptr_t)bson_get_data(&doc), doc.len);
  bson_destroy(&doc);
  return ok;
}

/* An earlier version's STATE/server-secret: its 32 bytes (true), or *missing. */
static bool read_old_file(const char *path, uint8_t out[ASPD_SERVER_SECRET_LEN], bool *missing,
                          char *err, size_t err_len) {
  size_t len = 0;
  char read_err[512];
  char *data = aspd_read_file(path, &len, missing, read_err, sizeof read_err);
  if (!data) {
    if (!*missing) snprintf(err, err_len, "%s", read_err);
    return false;
  }
  bool ok = len == ASPD_SERVER_SECRET_LEN;
  if (ok) memcpy(out, data, ASPD_SERVER_SECRET_LEN);
  OPENSSL_cleanse(data, len);
  free(data);
  if (!ok) {
    snprintf(err, err_len, "%s is corrupt (%zu bytes, expected %d); fix or remove it", path, len,
             ASPD_SERVER_SECRET_LEN);
  }
  return ok;
}

bool aspd_server_secret_load(aspd_store_t *store, const char *dir,
                             uint8_t out[ASPD_SERVER_SECRET_LEN], char *err, size_t err_len) {
  bson_t *doc = NULL;
  if (!aspd_store_get(store, KIND, NAME, &doc, err, err_len)) return false;
  if (doc) {
    bool ok = from_record(doc, out);
    bson_destroy(doc);
    if (!ok) snprintf(err, err_len, "the stored server secret is corrupt");
    return ok;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/" OLD_FILE, dir);
  bool missing = false;
  if (!read_old_file(path, out, &missing, err, err_len)) {
    if (!missing) return false;
    if (RAND_bytes(out, ASPD_SERVER_SECRET_LEN) != 1) {
      snprintf(err, err_len, "no randomness for the server secret");
      return false;
    }
  }
  if (!put(store, out, err, err_len)) return false;
  if (!missing) unlink(path); /* imported: the store holds it from now on */
  return true;
}
