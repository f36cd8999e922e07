/* The user table: names, roles and salted SCRAM keys for both mechanisms,
 * persisted in the state store (one record per user). Filled at start-up, read-only afterwards,
 * so connection threads read it without a lock. */
#ifndef ASPD_USERS_H
#define ASPD_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/scram_credential.h"
#include "auth/server_secret.h"
#include "server.h"
#include "store/store.h"

#define ASPD_ROLE_ATLAS_ADMIN "atlasAdmin"
#define ASPD_USER_NAME_MAX 128

aspd_users_t *aspd_users_new(void);
void aspd_users_free(aspd_users_t *users);

/* Loads the users.json of earlier versions (imported once). A missing file is
 * an empty table; anything unreadable or malformed is an error. */
bool aspd_users_load(aspd_users_t *users, const char *path, char *err, size_t err_len);

/* Loads the users the store holds; a malformed entry is an error. */
bool aspd_users_load_store(aspd_users_t *users, aspd_store_t *store, char *err, size_t err_len);

/* Commits the table to the store in one transaction (salted keys only). */
bool aspd_users_save(const aspd_users_t *users, aspd_store_t *store, char *err, size_t err_len);

/* Adds a user or replaces one of the same name: hashes the password with fresh
 * salts and forgets it. */
bool aspd_users_set(aspd_users_t *users, const char *name, const char *password,
                    const char *const *roles, size_t role_count, char *err, size_t err_len);

/* The secret the decoys derive from (aspd_users_new picks a random one). */
void aspd_users_set_secret(aspd_users_t *users, const uint8_t secret[ASPD_SERVER_SECRET_LEN]);

/* Fills *out with the user's key material for mech and returns true; for an
 * unknown user fills a decoy derived from the secret (the same salt and iteration
 * count at every start, keys no proof matches) and returns false. Both cost the
 * same, so neither a conversation nor its timing tells the two apart. */
bool aspd_users_credential(const aspd_users_t *users, const char *name, aspd_scram_mech_t mech,
                           aspd_scram_credential_t *out);

bool aspd_users_has_role(const aspd_users_t *users, const char *name, const char *role);

size_t aspd_users_count(const aspd_users_t *users);

#endif
