#include "dev/dev_api_key.h"

#include <bson/bson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_secret.h"

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

bool aspd_dev_api_key(aspd_store_t *store, const char *dev_dir,
                      char public_key[ASPD_DEV_PUBLIC_KEY_LEN + 1],
                      char private_key[ASPD_DEV_PRIVATE_KEY_LEN + 1], char *err, size_t err_len) {
  bson_t *doc = NULL;
  if (!aspd_dev_secret_load(store, "api_key", dev_dir, "api-key.json", &doc, err, err_len)) {
    return false;
  }
  if (doc) {
    bool ok = copy_field(doc, "publicKey", public_key, ASPD_DEV_PUBLIC_KEY_LEN) &&
              copy_field(doc, "privateKey", private_key, ASPD_DEV_PRIVATE_KEY_LEN);
    if (!ok) snprintf(err, err_len, "the stored --dev API key is corrupt");
    bson_zero_free(doc, doc->len);
    return ok;
  }
  if (!generate(public_key, private_key)) {
    snprintf(err, err_len, "no randomness for the dev API key");
    return false;
  }
  doc = BCON_NEW("publicKey", BCON_UTF8(public_key), "privateKey", BCON_UTF8(private_key));
  bool ok = aspd_dev_secret_save(store, "api_key", doc, err, err_len);
  bson_zero_free(doc, doc->len);
  return ok;
}
