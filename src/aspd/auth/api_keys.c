#include "auth/api_keys.h"

#include <bson/bson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/atomic_file.h"

typedef struct {
  char *public_key;
  uint8_t ha1[16];
  aspd_api_role_t role;
} api_key_t;

typedef struct {
  char *client_id;
  uint8_t secret_hash[32];
  aspd_api_role_t role;
} service_account_t;

typedef struct {
  uint8_t hash[32];
  time_t expires;
  aspd_api_role_t role;
} token_t;

struct aspd_api_keys {
  api_key_t *keys;
  size_t key_count;
  service_account_t *accounts;
  size_t account_count;
  int token_ttl;
  pthread_mutex_t token_lock;
  token_t *tokens;
  size_t token_count;
};

static const struct {
  const char *name;
  aspd_api_role_t role;
} role_names[] = {
    {"GROUP_OWNER", ASPD_API_ROLE_OWNER},
    {"GROUP_STREAM_PROCESSING_OWNER", ASPD_API_ROLE_STREAM_OWNER},
    {"GROUP_READ_ONLY", ASPD_API_ROLE_READ_ONLY},
};

static void digest(const char *md, const void *data, size_t len, uint8_t *out) {
  EVP_Digest(data, len, out, NULL, EVP_get_digestbyname(md), NULL);
}

aspd_api_keys_t *aspd_api_keys_new(int token_ttl_seconds) {
  aspd_api_keys_t *keys = calloc(1, sizeof *keys);
  keys->token_ttl = token_ttl_seconds;
  pthread_mutex_init(&keys->token_lock, NULL);
  return keys;
}

void aspd_api_keys_free(aspd_api_keys_t *keys) {
  if (!keys) return;
  for (size_t i = 0; i < keys->key_count; i++) free(keys->keys[i].public_key);
  for (size_t i = 0; i < keys->account_count; i++) free(keys->accounts[i].client_id);
  OPENSSL_cleanse(keys->keys, keys->key_count * sizeof *keys->keys);
  free(keys->keys);
  free(keys->accounts);
  free(keys->tokens);
  pthread_mutex_destroy(&keys->token_lock);
  free(keys);
}

static bool parse_role(const char *name, aspd_api_role_t *role) {
  for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
    if (!strcmp(role_names[i].name, name)) {
      if (role_names[i].role > *role) *role = role_names[i].role;
      return true;
    }
  }
  return false;
}

static bool role_error(const char *what, const char *role, char *err, size_t err_len) {
  snprintf(err, err_len,
           "%s: unknown role '%s' (GROUP_OWNER, GROUP_STREAM_PROCESSING_OWNER or GROUP_READ_ONLY)",
           what, role);
  return false;
}

static bool add_key(aspd_api_keys_t *keys, const char *public_key, const char *private_key,
                    aspd_api_role_t role) {
  for (size_t i = 0; i < keys->key_count; i++) {
    if (!strcmp(keys->keys[i].public_key, public_key)) {
      free(keys->keys[i].public_key);
      keys->keys[i] = keys->keys[--keys->key_count];
      break;
    }
  }
  keys->keys = realloc(keys->keys, (keys->key_count + 1) * sizeof *keys->keys);
  api_key_t *k = &keys->keys[keys->key_count++];
  k->public_key = strdup(public_key);
  k->role = role;
  size_t len = strlen(public_key) + strlen(ASPD_API_REALM) + strlen(private_key) + 3;
  char *a1 = malloc(len);
  snprintf(a1, len, "%s:%s:%s", public_key, ASPD_API_REALM, private_key);
  digest("MD5", a1, strlen(a1), k->ha1);
  OPENSSL_cleanse(a1, len);
  free(a1);
  return true;
}

static bool add_account(aspd_api_keys_t *keys, const char *client_id, const char *secret,
                        aspd_api_role_t role) {
  for (size_t i = 0; i < keys->account_count; i++) {
    if (!strcmp(keys->accounts[i].client_id, client_id)) {
      free(keys->accounts[i].client_id);
      keys->accounts[i] = keys->accounts[--keys->account_count];
      break;
    }
  }
  keys->accounts = realloc(keys->accounts, (keys->account_count + 1) * sizeof *keys->accounts);
  service_account_t *a = &keys->accounts[keys->account_count++];
  a->client_id = strdup(client_id);
  a->role = role;
  digest("SHA256", secret, strlen(secret), a->secret_hash);
  return true;
}

typedef bool (*add_fn)(aspd_api_keys_t *keys, const char *id, const char *secret,
                       aspd_api_role_t role);

/* "ID:SECRET[:ROLE,...]": the secret ends at the last ':' when roles follow. */
static bool add_spec(aspd_api_keys_t *keys, const char *spec, const char *flag, add_fn add,
                     char *err, size_t err_len) {
  char *copy = strdup(spec);
  char *secret = strchr(copy, ':');
  bool ok = secret && secret != copy && secret[1];
  if (!ok) snprintf(err, err_len, "%s expects ID:SECRET[:ROLE,...]", flag);
  aspd_api_role_t role = ASPD_API_ROLE_NONE;
  if (ok) {
    *secret++ = '\0';
    char *roles = strrchr(secret, ':');
    if (roles && roles[1] && roles[1] >= 'A' && roles[1] <= 'Z') {
      *roles++ = '\0';
      char *save = NULL;
      for (char *r = strtok_r(roles, ",", &save); r && ok; r = strtok_r(NULL, ",", &save)) {
        ok = parse_role(r, &role) || role_error(flag, r, err, err_len);
      }
    } else {
      role = ASPD_API_ROLE_OWNER;
    }
  }
  if (ok) ok = add(keys, copy, secret, role);
  OPENSSL_cleanse(copy, strlen(spec));
  free(copy);
  return ok;
}

bool aspd_api_keys_add_key(aspd_api_keys_t *keys, const char *spec, char *err, size_t err_len) {
  return add_spec(keys, spec, "--api-key", add_key, err, err_len);
}

bool aspd_api_keys_add_service_account(aspd_api_keys_t *keys, const char *spec, char *err,
                                       size_t err_len) {
  return add_spec(keys, spec, "--service-account", add_account, err, err_len);
}

static const char *utf8_of(const bson_t *doc, const char *key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL)
                                                                         : NULL;
}

/* Every entry of list (an array field of doc) through add. */
static bool add_entries(aspd_api_keys_t *keys, const bson_t *doc, const char *list,
                        const char *id_key, const char *secret_key, add_fn add, const char *path,
                        char *err, size_t err_len) {
  bson_iter_t it, entries;
  if (!bson_iter_init_find(&it, doc, list)) return true;
  if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &entries)) {
    snprintf(err, err_len, "%s: \"%s\" must be an array", path, list);
    return false;
  }
  while (bson_iter_next(&entries)) {
    bson_t entry;
    const uint8_t *data;
    uint32_t len;
    if (!BSON_ITER_HOLDS_DOCUMENT(&entries)) {
      snprintf(err, err_len, "%s: every entry of \"%s\" must be an object", path, list);
      return false;
    }
    bson_iter_document(&entries, &len, &data);
    bson_init_static(&entry, data, len);
    const char *id = utf8_of(&entry, id_key), *secret = utf8_of(&entry, secret_key);
    if (!id || !*id || !secret || !*secret) {
      snprintf(err, err_len, "%s: every entry of \"%s\" needs strings \"%s\" and \"%s\"", path,
               list, id_key, secret_key);
      return false;
    }
    aspd_api_role_t role = ASPD_API_ROLE_NONE;
    bson_iter_t roles;
    if (bson_iter_init_find(&it, &entry, "roles") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &roles)) {
      while (bson_iter_next(&roles)) {
        const char *r = BSON_ITER_HOLDS_UTF8(&roles) ? bson_iter_utf8(&roles, NULL) : "?";
        if (!parse_role(r, &role)) return role_error(path, r, err, err_len);
      }
    } else {
      role = ASPD_API_ROLE_OWNER;
    }
    add(keys, id, secret, role);
  }
  return true;
}

bool aspd_api_keys_add_file(aspd_api_keys_t *keys, const char *path, char *err, size_t err_len) {
  size_t len = 0;
  bool missing = false;
  char read_err[512];
  char *text = aspd_read_file(path, &len, &missing, read_err, sizeof read_err);
  if (!text) {
    snprintf(err, err_len, "cannot read API keys file: %s", read_err);
    return false;
  }
  bson_error_t berr;
  bson_t *doc = bson_new_from_json((const uint8_t *)text, (ssize_t)len, &berr);
  OPENSSL_cleanse(text, len);
  free(text);
  if (!doc) {
    snprintf(err, err_len, "API keys file %s is not valid JSON: %s", path, berr.message);
    return false;
  }
  bool ok =
      add_entries(keys, doc, "apiKeys", "publicKey", "privateKey", add_key, path, err, err_len) &&
      add_entries(keys, doc, "serviceAccounts", "clientId", "clientSecret", add_account, path, err,
                  err_len);
  bson_destroy(doc);
  return ok;
}

bool aspd_api_keys_digest(const aspd_api_keys_t *keys, const char *public_key, uint8_t ha1[16],
                          aspd_api_role_t *role) {
  for (size_t i = 0; i < keys->key_count; i++) {
    if (!strcmp(keys->keys[i].public_key, public_key)) {
      memcpy(ha1, keys->keys[i].ha1, 16);
      *role = keys->keys[i].role;
      return true;
    }
  }
  /* No password hashes to all zeros: nothing matches it, and the check still runs. */
  memset(ha1, 0, 16);
  *role = ASPD_API_ROLE_NONE;
  return false;
}

bool aspd_api_keys_issue_token(aspd_api_keys_t *keys, const char *client_id, const char *secret,
                               char token[ASPD_API_TOKEN_LEN + 1], int *expires_in,
                               aspd_api_role_t *role) {
  uint8_t hash[32];
  digest("SHA256", secret, strlen(secret), hash);
  const service_account_t *account = NULL;
  for (size_t i = 0; i < keys->account_count; i++) {
    if (!strcmp(keys->accounts[i].client_id, client_id)) account = &keys->accounts[i];
  }
  if (!account || CRYPTO_memcmp(hash, account->secret_hash, sizeof hash) != 0) return false;
  uint8_t raw[ASPD_API_TOKEN_LEN / 2];
  if (RAND_bytes(raw, sizeof raw) != 1) return false;
  for (size_t i = 0; i < sizeof raw; i++) snprintf(token + 2 * i, 3, "%02x", raw[i]);
  time_t now = time(NULL);
  pthread_mutex_lock(&keys->token_lock);
  /* Expired tokens go first, so the table holds live ones only. */
  size_t kept = 0;
  for (size_t i = 0; i < keys->token_count; i++) {
    if (keys->tokens[i].expires > now) keys->tokens[kept++] = keys->tokens[i];
  }
  keys->tokens = realloc(keys->tokens, (kept + 1) * sizeof *keys->tokens);
  token_t *t = &keys->tokens[kept];
  digest("SHA256", token, ASPD_API_TOKEN_LEN, t->hash);
  t->expires = now + keys->token_ttl;
  t->role = account->role;
  keys->token_count = kept + 1;
  pthread_mutex_unlock(&keys->token_lock);
  *expires_in = keys->token_ttl;
  *role = account->role;
  return true;
}

aspd_api_role_t aspd_api_keys_bearer(aspd_api_keys_t *keys, const char *token) {
  uint8_t hash[32];
  digest("SHA256", token, strlen(token), hash);
  time_t now = time(NULL);
  aspd_api_role_t role = ASPD_API_ROLE_NONE;
  pthread_mutex_lock(&keys->token_lock);
  for (size_t i = 0; i < keys->token_count; i++) {
    if (CRYPTO_memcmp(hash, keys->tokens[i].hash, sizeof hash) == 0 &&
        keys->tokens[i].expires > now) {
      role = keys->tokens[i].role;
    }
  }
  pthread_mutex_unlock(&keys->token_lock);
  return role;
}
