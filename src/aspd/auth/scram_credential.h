/* SCRAM key material (RFC 5802 / RFC 7677) for one user and one mechanism.
 * Only the salt, iteration count, StoredKey and ServerKey are kept: enough to
 * verify a client proof and sign the reply, never enough to recover a password. */
#ifndef ASPD_SCRAM_CREDENTIAL_H
#define ASPD_SCRAM_CREDENTIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { ASPD_SCRAM_SHA_1, ASPD_SCRAM_SHA_256 } aspd_scram_mech_t;

#define ASPD_SCRAM_MAX_DIGEST 32
#define ASPD_SCRAM_MAX_SALT 32

typedef struct {
  uint8_t salt[ASPD_SCRAM_MAX_SALT];
  size_t salt_len;
  uint32_t iterations;
  uint8_t stored_key[ASPD_SCRAM_MAX_DIGEST];
  uint8_t server_key[ASPD_SCRAM_MAX_DIGEST];
} aspd_scram_credential_t;

/* "SCRAM-SHA-1" / "SCRAM-SHA-256". */
const char *aspd_scram_mech_name(aspd_scram_mech_t mech);
bool aspd_scram_mech_parse(const char *name, aspd_scram_mech_t *out);
size_t aspd_scram_digest_len(aspd_scram_mech_t mech);

/* A password SCRAM-SHA-256 accepts: printable ASCII, where SASLprep is the identity. */
bool aspd_scram_password_is_supported(const char *password);

/* Fresh random salt and the mechanism's default iteration count (SHA-1 10000, SHA-256 15000). */
bool aspd_scram_credential_make(aspd_scram_mech_t mech, const char *user, const char *password,
                                aspd_scram_credential_t *out);

/* HMAC and hash with the mechanism's digest; out holds aspd_scram_digest_len bytes. */
void aspd_scram_hmac(aspd_scram_mech_t mech, const uint8_t *key, size_t key_len,
                     const uint8_t *data, size_t len, uint8_t *out);
void aspd_scram_hash(aspd_scram_mech_t mech, const uint8_t *data, size_t len, uint8_t *out);

#endif
