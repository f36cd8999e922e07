#include "dev/dev_api_key.h"

#include <bson/bson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/atomic_file.h"

static bool copy_field(const bson_t *doc, const char *key, char *out, size_t want) {
  bson_iter_t it;
  uint32_t len = 0;
  if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return false;
  const char *s = bson_iter_utf8(&it, &len);
  if (len != want || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != want) return false;
  memcpy(out, s, len + 1);
  return true;
}

static bool generate(char *public_key, char *private_key) {
  uint8_t r[ASPD_DEV_PUBLIC_KEY_LEN + 16];
  if (RAND_bytes(r, sizeof r) != 1) return false;
  for (size_t i = 0; i < ASPD_DEV_PUBLIC_KEY_LEN; i++) public_key[i] = (char)('a' + r[i] % 26);
  public_key[ASPD_DEV_PUBLIC_KEY_LEN] = '\0';
  const uint8_t *u = r + ASPD_DEV_PUBLIC_KEY_LEN;
  snprintf(private_key, ASPD_DEV_PRIVATE_KEY_LEN + 1,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
           u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  OPENSSL_cleanse(r, sizeof r);
  return true;
}

bool aspd_dev_api_key(const char *dev_dir, char public_key[ASPD_DEV_PUBLIC_KEY_LEN + 1],
                      char private_key[ASPD_DEV_PRIVATE_KEY_LEN + 1], char *err, size_t err_len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/api-key.json", dev_dir);
  size_t len;
  bool missing;
  char *text = aspd_read_file(path, &len, &missing, err, err_len);
  if (text) {
    bson_error_t error;
    bson_t *doc = bson_new_from_json((const uint8_t *)text, (ssize_t)len, &error);
    bool ok = doc && copy_field(doc, "publicKey", public_key, ASPD_DEV_PUBLIC_KEY_LEN) &&
              copy_field(doc, "privateKey", private_key, ASPD_DEV_PRIVATE_KEY_LEN);
    if (!ok) snprintf(err, err_len, "%s is corrupt; remove it to get a new dev API key", path);
    bson_destroy(doc);
    OPENSSL_cleanse(text, len);
    free(text);
    return ok;
  }
  if (!missing) return false;
  if (!generate(public_key, private_key)) {
    snprintf(err, err_len, "no randomness for the dev API key");
    return false;
  }
  char json[160];
  int n = snprintf(json, sizeof json, "{\"publicKey\": \"%s\", \"privateKey\": \"%s\"}\n",
                   public_key, private_key);
  bool ok = aspd_atomic_write(path, json, (size_t)n, err, err_len);
  OPENSSL_cleanse(json, sizeof json);
  return ok;
}
