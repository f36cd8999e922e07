#include "auth/users.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/base64.h"
#include "store/atomic_file.h"

typedef struct {
  char *name;
  char **roles;
  size_t role_count;
  aspd_scram_credential_t credentials[2]; /* indexed by aspd_scram_mech_t */
} user_t;

struct aspd_users {
  user_t *items;
  size_t count;
  size_t cap;
  uint8_t decoy_secret[ASPD_SERVER_SECRET_LEN]; /* seeds decoy credentials for unknown users */
};

static const aspd_scram_mech_t all_mechs[] = {ASPD_SCRAM_SHA_1, ASPD_SCRAM_SHA_256};

aspd_users_t *aspd_users_new(void) {
  aspd_users_t *users = calloc(1, sizeof *users);
  if (RAND_bytes(users->decoy_secret, sizeof users->decoy_secret) != 1) {
    free(users);
    return NULL;
  }
  return users;
}

static void user_clear(user_t *u) {
  free(u->name);
  for (size_t i = 0; i < u->role_count; i++) free(u->roles[i]);
  free(u->roles);
  OPENSSL_cleanse(u, sizeof *u);
}

void aspd_users_free(aspd_users_t *users) {
  if (!users) return;
  for (size_t i = 0; i < users->count; i++) user_clear(&users->items[i]);
  free(users->items);
  OPENSSL_cleanse(users, sizeof *users);
  free(users);
}

static user_t *find(const aspd_users_t *users, const char *name) {
  for (size_t i = 0; i < users->count; i++) {
    if (strcmp(users->items[i].name, name) == 0) return &users->items[i];
  }
  return NULL;
}

/* Takes ownership of *u: replaces a same-named user or appends. */
static void put(aspd_users_t *users, user_t *u) {
  user_t *existing = find(users, u->name);
  if (existing) {
    user_clear(existing);
    *existing = *u;
    return;
  }
  if (users->count == users->cap) {
    users->cap = users->cap ? users->cap * 2 : 8;
    users->items = realloc(users->items, users->cap * sizeof *users->items);
  }
  users->items[users->count++] = *u;
}

static bool valid_name(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len >= ASPD_USER_NAME_MAX) return false;
  for (const char *p = name; *p; p++) {
    if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) return false;
  }
  return true;
}

static bool valid_role(const char *role) {
  if (!*role) return false;
  for (const char *p = role; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-')) {
      return false;
    }
  }
  return true;
}

static bool set_roles(user_t *u, const char *const *roles, size_t role_count, char *err,
                      size_t err_len) {
  u->roles = calloc(role_count ? role_count : 1, sizeof *u->roles);
  for (size_t i = 0; i < role_count; i++) {
    if (!valid_role(roles[i])) {
      snprintf(err, err_len, "user %s: invalid role name '%s'", u->name, roles[i]);
      return false;
    }
    u->roles[u->role_count++] = strdup(roles[i]);
  }
  return true;
}

bool aspd_users_set(aspd_users_t *users, const char *name, const char *password,
                    const char *const *roles, size_t role_count, char *err, size_t err_len) {
  if (!valid_name(name)) {
    snprintf(err, err_len, "invalid user name '%s' (printable ASCII without spaces, at most %d)",
             name, ASPD_USER_NAME_MAX - 1);
    return false;
  }
  if (!aspd_scram_password_is_supported(password)) {
    snprintf(err, err_len,
             "user %s: the password must be non-empty printable ASCII (aspd does not SASLprep "
             "other characters)",
             name);
    return false;
  }
  user_t u = {.name = strdup(name)};
  bool ok = set_roles(&u, roles, role_count, err, err_len);
  for (size_t i = 0; ok && i < 2; i++) {
    ok = aspd_scram_credential_make(all_mechs[i], name, password, &u.credentials[all_mechs[i]]);
    if (!ok) snprintf(err, err_len, "user %s: key derivation failed", name);
  }
  if (!ok) {
    user_clear(&u);
    return false;
  }
  put(users, &u);
  return true;
}

void aspd_users_set_secret(aspd_users_t *users, const uint8_t secret[ASPD_SERVER_SECRET_LEN]) {
  memcpy(users->decoy_secret, secret, sizeof users->decoy_secret);
}

/* 32 bytes for (label, mech, name), a pure function of the server secret. */
static void derive(const aspd_users_t *users, char label, aspd_scram_mech_t mech, const char *name,
                   uint8_t out[ASPD_SCRAM_MAX_DIGEST]) {
  char input[2 + ASPD_USER_NAME_MAX];
  int len =
      snprintf(input, sizeof input, "%c%d%.*s", label, (int)mech, ASPD_USER_NAME_MAX - 1, name);
  aspd_scram_hmac(ASPD_SCRAM_SHA_256, users->decoy_secret, sizeof users->decoy_secret,
                  (const uint8_t *)input, (size_t)len, out);
}

/* Looks at every user whatever the name, so the scan costs the same for any name. */
static const user_t *find_all(const aspd_users_t *users, const char *name) {
  const user_t *found = NULL;
  for (size_t i = 0; i < users->count; i++) {
    if (strcmp(users->items[i].name, name) == 0) found = &users->items[i];
  }
  return found;
}

bool aspd_users_credential(const aspd_users_t *users, const char *name, aspd_scram_mech_t mech,
                           aspd_scram_credential_t *out) {
  /* The decoy is derived for every name, known or not, so both take the same path. It
   * copies the salt length and iteration count of a real user picked by the secret (the
   * defaults when there is none); its keys match no proof. */
  uint8_t pick[ASPD_SCRAM_MAX_DIGEST];
  derive(users, 'i', mech, name, pick);
  aspd_scram_credential_t decoy = {.salt_len = mech == ASPD_SCRAM_SHA_1 ? 16 : 28,
                                   .iterations = mech == ASPD_SCRAM_SHA_1 ? 10000 : 15000};
  if (users->count > 0) {
    uint32_t index;
    memcpy(&index, pick, sizeof index);
    const aspd_scram_credential_t *model = &users->items[index % users->count].credentials[mech];
    decoy.salt_len = model->salt_len;
    decoy.iterations = model->iterations;
  }
  derive(users, 's', mech, name, pick);
  memcpy(decoy.salt, pick, decoy.salt_len);
  derive(users, 'k', mech, name, decoy.stored_key);
  derive(users, 'v', mech, name, decoy.server_key);
  const user_t *u = find_all(users, name);
  *out = u ? u->credentials[mech] : decoy;
  OPENSSL_cleanse(&decoy, sizeof decoy);
  return u != NULL;
}

bool aspd_users_has_role(const aspd_users_t *users, const char *name, const char *role) {
  const user_t *u = find(users, name);
  for (size_t i = 0; u && i < u->role_count; i++) {
    if (strcmp(u->roles[i], role) == 0) return true;
  }
  return false;
}

size_t aspd_users_count(const aspd_users_t *users) {
  return users->count;
}

/* ---- the store: one record per user; users.json of earlier versions:
 * {"users": [{"user", "db", "roles", "credentials": {MECH: {...}}}]} ---- */

#define USER_KIND "user"

static void append_b64(bson_t *doc, const char *key, const uint8_t *data, size_t len) {
  char text[2 * ASPD_SCRAM_MAX_DIGEST + 8];
  aspd_base64_encode(data, len, text);
  BSON_APPEND_UTF8(doc, key, text);
}

/* One user in the shape of mongod's system.users. */
static void user_to_bson(const user_t *u, bson_t *entry) {
  char key[16];
  const char *key_ptr;
  bson_t roles, creds;
  BSON_APPEND_UTF8(entry, "user", u->name);
  BSON_APPEND_UTF8(entry, "db", "admin");
  BSON_APPEND_ARRAY_BEGIN(entry, "roles", &roles);
  for (size_t r = 0; r < u->role_count; r++) {
    bson_uint32_to_string((uint32_t)r, &key_ptr, key, sizeof key);
    BSON_APPEND_UTF8(&roles, key_ptr, u->roles[r]);
  }
  bson_append_array_end(entry, &roles);
  BSON_APPEND_DOCUMENT_BEGIN(entry, "credentials", &creds);
  for (size_t m = 0; m < 2; m++) {
    aspd_scram_mech_t mech = all_mechs[m];
    const aspd_scram_credential_t *c = &u->credentials[mech];
    size_t dlen = aspd_scram_digest_len(mech);
    bson_t cred;
    BSON_APPEND_DOCUMENT_BEGIN(&creds, aspd_scram_mech_name(mech), &cred);
    BSON_APPEND_INT32(&cred, "iterationCount", (int32_t)c->iterations);
    append_b64(&cred, "salt", c->salt, c->salt_len);
    append_b64(&cred, "storedKey", c->stored_key, dlen);
    append_b64(&cred, "serverKey", c->server_key, dlen);
    bson_append_document_end(&creds, &cred);
  }
  bson_append_document_end(entry, &creds);
}

bool aspd_users_save(const aspd_users_t *users, aspd_store_t *store, char *err, size_t err_len) {
  size_t n = users->count;
  const char **names = calloc(n ? n : 1, sizeof *names);
  bson_t **docs = calloc(n ? n : 1, sizeof *docs);
  for (size_t i = 0; i < n; i++) {
    names[i] = users->items[i].name;
    docs[i] = bson_new();
    user_to_bson(&users->items[i], docs[i]);
  }
  bool ok =
      aspd_store_put_all(store, USER_KIND, names, (const bson_t *const *)docs, n, err, err_len);
  for (size_t i = 0; i < n; i++) bson_destroy(docs[i]);
  free(docs);
  free(names);
  return ok;
}

static bool corrupt(char *err, size_t err_len, const char *path, const char *why) {
  snprintf(err, err_len, "%s is corrupt (%s); fix or remove it", path, why);
  return false;
}

static bool read_b64(const bson_t *doc, const char *key, uint8_t *out, size_t cap,
                     size_t *out_len) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_UTF8(&it)) return false;
  uint32_t len;
  const char *text = bson_iter_utf8(&it, &len);
  return aspd_base64_decode(text, len, out, cap, out_len);
}

static bool load_credential(const bson_t *creds, aspd_scram_mech_t mech,
                            aspd_scram_credential_t *c) {
  bson_iter_t it, sub;
  if (!bson_iter_init_find(&it, creds, aspd_scram_mech_name(mech)) ||
      !BSON_ITER_HOLDS_DOCUMENT(&it)) {
    return false;
  }
  uint32_t len;
  const uint8_t *data;
  bson_iter_document(&it, &len, &data);
  bson_t cred;
  if (!bson_init_static(&cred, data, len)) return false;
  if (!bson_iter_init_find(&sub, &cred, "iterationCount") || !BSON_ITER_HOLDS_NUMBER(&sub)) {
    return false;
  }
  int64_t iterations = bson_iter_as_int64(&sub);
  if (iterations < 4096 || iterations > 10000000) return false;
  c->iterations = (uint32_t)iterations;
  size_t dlen = aspd_scram_digest_len(mech), got;
  return read_b64(&cred, "salt", c->salt, sizeof c->salt, &c->salt_len) && c->salt_len > 0 &&
         read_b64(&cred, "storedKey", c->stored_key, sizeof c->stored_key, &got) && got == dlen &&
         read_b64(&cred, "serverKey", c->server_key, sizeof c->server_key, &got) && got == dlen;
}

static bool load_user(aspd_users_t *users, const bson_t *entry, const char *path, char *err,
                      size_t err_len) {
  bson_iter_t it, roles_it;
  if (!bson_iter_init_find(&it, entry, "user") || !BSON_ITER_HOLDS_UTF8(&it) ||
      !valid_name(bson_iter_utf8(&it, NULL))) {
    return corrupt(err, err_len, path, "an entry has no valid \"user\"");
  }
  user_t u = {.name = strdup(bson_iter_utf8(&it, NULL))};
  if (find(users, u.name)) {
    user_clear(&u);
    return corrupt(err, err_len, path, "a user appears twice");
  }
  const char *roles[64];
  size_t role_count = 0;
  bool ok = bson_iter_init_find(&it, entry, "roles") && BSON_ITER_HOLDS_ARRAY(&it) &&
            bson_iter_recurse(&it, &roles_it);
  while (ok && bson_iter_next(&roles_it)) {
    ok = BSON_ITER_HOLDS_UTF8(&roles_it) && role_count < 64;
    if (ok) roles[role_count++] = bson_iter_utf8(&roles_it, NULL);
  }
  char role_err[256];
  ok = ok && set_roles(&u, roles, role_count, role_err, sizeof role_err);
  if (!ok) {
    user_clear(&u);
    return corrupt(err, err_len, path, "an entry has invalid \"roles\"");
  }
  bson_t creds;
  uint32_t len;
  const uint8_t *data;
  ok = bson_iter_init_find(&it, entry, "credentials") && BSON_ITER_HOLDS_DOCUMENT(&it);
  if (ok) {
    bson_iter_document(&it, &len, &data);
    ok = bson_init_static(&creds, data, len);
  }
  for (size_t m = 0; ok && m < 2; m++) {
    ok = load_credential(&creds, all_mechs[m], &u.credentials[all_mechs[m]]);
  }
  if (!ok) {
    user_clear(&u);
    return corrupt(err, err_len, path, "an entry has invalid \"credentials\"");
  }
  put(users, &u);
  return true;
}

typedef struct {
  aspd_users_t *users;
} load_ctx_t;

static bool load_record(void *ctx, const char *name, const bson_t *doc, char *err, size_t err_len) {
  (void)name; /* the entry names its user */
  return load_user(((load_ctx_t *)ctx)->users, doc, "the state store", err, err_len);
}

bool aspd_users_load_store(aspd_users_t *users, aspd_store_t *store, char *err, size_t err_len) {
  load_ctx_t ctx = {users};
  return aspd_store_each(store, USER_KIND, load_record, &ctx, err, err_len);
}

bool aspd_users_load(aspd_users_t *users, const char *path, char *err, size_t err_len) {
  size_t len;
  bool missing;
  char *text = aspd_read_file(path, &len, &missing, err, err_len);
  if (!text) return missing;
  bson_error_t error;
  bson_t *root = bson_new_from_json((const uint8_t *)text, (ssize_t)len, &error);
  free(text);
  if (!root) return corrupt(err, err_len, path, error.message);
  bson_iter_t it, list;
  bool ok = bson_iter_init_find(&it, root, "users") && BSON_ITER_HOLDS_ARRAY(&it) &&
            bson_iter_recurse(&it, &list);
  if (!ok) corrupt(err, err_len, path, "no \"users\" array");
  while (ok && bson_iter_next(&list)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&list)) {
      ok = corrupt(err, err_len, path, "a user entry is not an object");
      break;
    }
    uint32_t doc_len;
    const uint8_t *data;
    bson_iter_document(&list, &doc_len, &data);
    bson_t entry;
    ok = bson_init_static(&entry, data, doc_len) && load_user(users, &entry, path, err, err_len);
  }
  bson_destroy(root);
  return ok;
}
