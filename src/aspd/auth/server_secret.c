#include "auth/server_secret.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/atomic_file.h"

#define FILE_NAME "server-secret"

bool aspd_server_secret_load(const char *dir, uint8_t out[ASPD_SERVER_SECRET_LEN], char *err,
                             size_t err_len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/" FILE_NAME, dir);
  size_t len = 0;
  bool missing = false;
  char read_err[512];
  char *data = aspd_read_file(path, &len, &missing, read_err, sizeof read_err);
  if (data) {
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
  if (!missing) {
    snprintf(err, err_len, "%s", read_err);
    return false;
  }
  if (RAND_bytes(out, ASPD_SERVER_SECRET_LEN) != 1) {
    snprintf(err, err_len, "no randomness for %s", path);
    return false;
  }
  return aspd_atomic_write(path, out, ASPD_SERVER_SECRET_LEN, err, err_len);
}
