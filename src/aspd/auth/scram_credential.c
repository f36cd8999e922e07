#include "auth/scram_credential.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static const EVP_MD *digest(aspd_scram_mech_t mech) {
  return mech == ASPD_SCRAM_SHA_1 ? EVP_sha1() : EVP_sha256();
}

const char *aspd_scram_mech_name(aspd_scram_mech_t mech) {
  return mech == ASPD_SCRAM_SHA_1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
}

bool aspd_scram_mech_parse(const char *name, aspd_scram_mech_t *out) {
  if (strcmp(name, "SCRAM-SHA-1") == 0) {
    *out = ASPD_SCRAM_SHA_1;
  } else if (strcmp(name, "SCRAM-SHA-256") == 0) {
    *out = ASPD_SCRAM_SHA_256;
  } else {
    return false;
  }
  return true;
}

size_t aspd_scram_digest_len(aspd_scram_mech_t mech) {
  return mech == ASPD_SCRAM_SHA_1 ? 20 : 32;
}

bool aspd_scram_password_is_supported(const char *password) {
  if (!*password) return false;
  for (const unsigned char *p = (const unsigned char *)password; *p; p++) {
    if (*p < 0x20 || *p > 0x7e) return false;
  }
  return true;
}

void aspd_scram_hmac(aspd_scram_mech_t mech, const uint8_t *key, size_t key_len,
                     const uint8_t *data, size_t len, uint8_t *out) {
  unsigned int out_len = 0;
  HMAC(digest(mech), key, (int)key_len, data, len, out, &out_len);
}

void aspd_scram_hash(aspd_scram_mech_t mech, const uint8_t *data, size_t len, uint8_t *out) {
  EVP_Digest(data, len, out, NULL, digest(mech), NULL);
}

bool aspd_scram_credential_make(aspd_scram_mech_t mech, const char *user, const char *password,
                                aspd_scram_credential_t *out) {
  memset(out, 0, sizeof *out);
  out->salt_len = mech == ASPD_SCRAM_SHA_1 ? 16 : 28;
  out->iterations = mech == ASPD_SCRAM_SHA_1 ? 10000 : 15000;
  if (RAND_bytes(out->salt, (int)out->salt_len) != 1) return false;

  /* SCRAM-SHA-1 in MongoDB hashes hex(MD5("user:mongo:password")), not the password itself. */
  char input[1024];
  if (mech == ASPD_SCRAM_SHA_1) {
    char joined[1024];
    int n = snprintf(joined, sizeof joined, "%s:mongo:%s", user, password);
    if (n < 0 || (size_t)n >= sizeof joined) return false;
    uint8_t md5[16];
    EVP_Digest(joined, (size_t)n, md5, NULL, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++) snprintf(input + 2 * i, 3, "%02x", md5[i]);
    OPENSSL_cleanse(joined, sizeof joined);
  } else {
    if (snprintf(input, sizeof input, "%s", password) >= (int)sizeof input) return false;
  }

  size_t dlen = aspd_scram_digest_len(mech);
  uint8_t salted[ASPD_SCRAM_MAX_DIGEST];
  uint8_t client_key[ASPD_SCRAM_MAX_DIGEST];
  bool ok = PKCS5_PBKDF2_HMAC(input, (int)strlen(input), out->salt, (int)out->salt_len,
                              (int)out->iterations, digest(mech), (int)dlen, salted) == 1;
  if (ok) {
    aspd_scram_hmac(mech, salted, dlen, (const uint8_t *)"Client Key", 10, client_key);
    aspd_scram_hash(mech, client_key, dlen, out->stored_key);
    aspd_scram_hmac(mech, salted, dlen, (const uint8_t *)"Server Key", 10, out->server_key);
  }
  OPENSSL_cleanse(input, sizeof input);
  OPENSSL_cleanse(salted, sizeof salted);
  OPENSSL_cleanse(client_key, sizeof client_key);
  return ok;
}
