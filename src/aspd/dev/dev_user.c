#include "dev/dev_user.h"

#include <bson/bson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_secret.h"

static bool is_hex_password(const char *text, size_t len) {
  if (len != ASPD_DEV_PASSWORD_LEN) return false;
  for (size_t i = 0; i < len; i++) {
    if (!strchr("0123456789abcdef", text[i]) || !text[i]) return false;
  }
  return true;
}

static bool read_existing(const bson_t *doc, char password[ASPD_DEV_PASSWORD_LEN + 1], char *err,
                          size_t err_len) {
  bson_iter_t it;
  uint32_t pw_len = 0;
  const char *pw = NULL;
  if (bson_iter_init_find(&it, doc, "user") && BSON_ITER_HOLDS_UTF8(&it) &&
      strcmp(bson_iter_utf8(&it, NULL), ASPD_DEV_USER) == 0 &&
      bson_iter_init_find(&it, doc, "password") && BSON_ITER_HOLDS_UTF8(&it)) {
    pw = bson_iter_utf8(&it, &pw_len);
  }
  bool ok = pw && is_hex_password(pw, pw_len);
  if (ok) {
    memcpy(password, pw, pw_len);
    password[pw_len] = '\0';
  } else {
    snprintf(err, err_len, "the stored --dev password is corrupt");
  }
  return ok;
}

bool aspd_dev_user_password(aspd_store_t *store, const char *dev_dir,
                            char password[ASPD_DEV_PASSWORD_LEN + 1], char *err, size_t err_len) {
  bson_t *doc = NULL;
  if (!aspd_dev_secret_load(store, "user", dev_dir, "credentials.json", &doc, err, err_len)) {
    return false;
  }
  if (doc) {
    bool ok = read_existing(doc, password, err, err_len);
    bson_zero_free(doc, doc->len);
    return ok;
  }
  uint8_t random[ASPD_DEV_PASSWORD_LEN / 2];
  if (RAND_bytes(random, sizeof random) != 1) {
    snprintf(err, err_len, "no randomness for the dev password");
    return false;
  }
  for (size_t i = 0; i < sizeof random; i++) snprintf(password + 2 * i, 3, "%02x", random[i]);
  OPENSSL_cleanse(random, sizeof random);
  doc = BCON_NEW("user", ASPD_DEV_USER, "password", BCON_UTF8(password));
  bool ok = aspd_dev_secret_save(store, "user", doc, err, err_len);
  bson_zero_free(doc, doc->len);
  return ok;
}
