#include "dev/dev_user.h"

#include <bson/bson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/atomic_file.h"

static bool is_hex_password(const char *text, size_t len) {
  if (len != ASPD_DEV_PASSWORD_LEN) return false;
  for (size_t i = 0; i < len; i++) {
    if (!strchr("0123456789abcdef", text[i]) || !text[i]) return false;
  }
  return true;
}

static bool read_existing(const char *path, const char *text, size_t len,
                          char password[ASPD_DEV_PASSWORD_LEN + 1], char *err, size_t err_len) {
  bson_error_t error;
  bson_t *doc = bson_new_from_json((const uint8_t *)text, (ssize_t)len, &error);
  bson_iter_t it;
  uint32_t pw_len = 0;
  const char *pw = NULL;
  if (doc && bson_iter_init_find(&it, doc, "user") && BSON_ITER_HOLDS_UTF8(&it) &&
      strcmp(bson_iter_utf8(&it, NULL), ASPD_DEV_USER) == 0 &&
      bson_iter_init_find(&it, doc, "password") && BSON_ITER_HOLDS_UTF8(&it)) {
    pw = bson_iter_utf8(&it, &pw_len);
  }
  bool ok = pw && is_hex_password(pw, pw_len);
  if (ok) {
    memcpy(password, pw, pw_len);
    password[pw_len] = '\0';
  } else {
    snprintf(err, err_len, "%s is corrupt; remove it to get a new dev password", path);
  }
  bson_destroy(doc);
  return ok;
}

bool aspd_dev_user_password(const char *dev_dir, char password[ASPD_DEV_PASSWORD_LEN + 1],
                            char *err, size_t err_len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/credentials.json", dev_dir);
  size_t len;
  bool missing;
  char *text = aspd_read_file(path, &len, &missing, err, err_len);
  if (text) {
    bool ok = read_existing(path, text, len, password, err, err_len);
    OPENSSL_cleanse(text, len);
    free(text);
    return ok;
  }
  if (!missing) return false;

  uint8_t random[ASPD_DEV_PASSWORD_LEN / 2];
  if (RAND_bytes(random, sizeof random) != 1) {
    snprintf(err, err_len, "no randomness for the dev password");
    return false;
  }
  for (size_t i = 0; i < sizeof random; i++) snprintf(password + 2 * i, 3, "%02x", random[i]);
  char json[128];
  int n = snprintf(json, sizeof json, "{\"user\": \"%s\", \"password\": \"%s\"}\n", ASPD_DEV_USER,
                   password);
  bool ok = aspd_atomic_write(path, json, (size_t)n, err, err_len);
  OPENSSL_cleanse(json, sizeof json);
  return ok;
}
