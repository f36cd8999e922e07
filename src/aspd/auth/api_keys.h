/* Admin API credentials: API keys (HTTP Digest: public key as user name, private key
 * as password) and service accounts (OAuth2 client credentials -> Bearer tokens),
 * each with the project roles it holds. Keys and accounts are given at start-up and
 * read-only afterwards; tokens live in memory (a restart makes clients fetch new ones).
 * Only hashes are kept: H(A1) of each key pair, SHA-256 of secrets and tokens. */
#ifndef ASPD_API_KEYS_H
#define ASPD_API_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The realm Atlas's Admin API presents in its Digest challenge. */
#define ASPD_API_REALM "MMS Public API"
#define ASPD_API_TOKEN_LEN 64 /* hex characters */

/* Ordered: a role allows everything the ones below it allow. */
typedef enum {
  ASPD_API_ROLE_NONE,
  ASPD_API_ROLE_READ_ONLY,    /* GROUP_READ_ONLY: list and get */
  ASPD_API_ROLE_STREAM_OWNER, /* GROUP_STREAM_PROCESSING_OWNER: also create, update, delete */
  ASPD_API_ROLE_OWNER         /* GROUP_OWNER */
} aspd_api_role_t;

typedef struct aspd_api_keys aspd_api_keys_t;

aspd_api_keys_t *aspd_api_keys_new(int token_ttl_seconds);
void aspd_api_keys_free(aspd_api_keys_t *keys);

/* "PUBLIC:PRIVATE[:ROLE,...]" (GROUP_OWNER when no role is given). */
bool aspd_api_keys_add_key(aspd_api_keys_t *keys, const char *spec, char *err, size_t err_len);
/* "CLIENT_ID:CLIENT_SECRET[:ROLE,...]". */
bool aspd_api_keys_add_service_account(aspd_api_keys_t *keys, const char *spec, char *err,
                                       size_t err_len);
/* JSON {"apiKeys": [{"publicKey", "privateKey", "roles": [...]}],
 *       "serviceAccounts": [{"clientId", "clientSecret", "roles": [...]}]}. */
bool aspd_api_keys_add_file(aspd_api_keys_t *keys, const char *path, char *err, size_t err_len);

/* The key's H(A1) = MD5(public:realm:private) and role. For an unknown key, a decoy
 * H(A1) no response matches and false, so both take the same path. */
bool aspd_api_keys_digest(const aspd_api_keys_t *keys, const char *public_key, uint8_t ha1[16],
                          aspd_api_role_t *role);

/* Client credentials grant: a new token (hex, NUL-terminated) valid for *expires_in
 * seconds; false for an unknown account or a wrong secret. Thread-safe. */
bool aspd_api_keys_issue_token(aspd_api_keys_t *keys, const char *client_id, const char *secret,
                               char token[ASPD_API_TOKEN_LEN + 1], int *expires_in,
                               aspd_api_role_t *role);
/* The role of a live token, ASPD_API_ROLE_NONE for an unknown or expired one. Thread-safe. */
aspd_api_role_t aspd_api_keys_bearer(aspd_api_keys_t *keys, const char *token);

#endif
