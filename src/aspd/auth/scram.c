#include "auth/scram.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/base64.h"
#include "auth/users.h"

#define MAX_MESSAGE 2048
#define SERVER_NONCE_BYTES 24

typedef enum { EXPECT_CLIENT_FIRST, EXPECT_CLIENT_FINAL, EXPECT_EMPTY, FINISHED } stage_t;

struct aspd_scram {
  const aspd_users_t *users;
  aspd_scram_mech_t mech;
  bool skip_empty_exchange;
  stage_t stage;
  bool known_user;
  char user[ASPD_USER_NAME_MAX];
  char gs2_header[MAX_MESSAGE];
  char nonce[MAX_MESSAGE];
  /* AuthMessage so far: client-first-bare "," server-first */
  char auth_message[3 * MAX_MESSAGE];
  aspd_scram_credential_t credential;
};

aspd_scram_t *aspd_scram_new(const aspd_users_t *users, aspd_scram_mech_t mech,
                             bool skip_empty_exchange) {
  aspd_scram_t *s = calloc(1, sizeof *s);
  s->users = users;
  s->mech = mech;
  s->skip_empty_exchange = skip_empty_exchange;
  return s;
}

void aspd_scram_free(aspd_scram_t *scram) {
  if (!scram) return;
  OPENSSL_cleanse(scram, sizeof *scram);
  free(scram);
}

const char *aspd_scram_user(const aspd_scram_t *scram) {
  return scram->user;
}

/* saslname: "=2C" is ',', "=3D" is '=', any other '=' is invalid. */
static bool decode_saslname(const char *in, size_t len, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == '=') {
      if (len - i < 3) return false;
      if (memcmp(in + i, "=2C", 3) == 0) {
        c = ',';
      } else if (memcmp(in + i, "=3D", 3) == 0) {
        c = '=';
      } else {
        return false;
      }
      i += 2;
    }
    if ((unsigned char)c < 0x20 || o + 1 >= cap) return false; /* names end up in logs */
    out[o++] = c;
  }
  out[o] = '\0';
  return o > 0;
}

static char *dup_message(const char *text, size_t *out_len) {
  *out_len = strlen(text);
  return strdup(text);
}

/* client-first: gs2-header ("n,," or "y,," with an optional a=authzid) then "n=user,r=nonce". */
static aspd_scram_status_t on_client_first(aspd_scram_t *s, const char *msg, char **out,
                                           size_t *out_len) {
  if (msg[0] != 'n' && msg[0] != 'y') return ASPD_SCRAM_FAILED; /* 'p': no channel binding */
  const char *comma = strchr(msg, ',');
  if (!comma || comma != msg + 1) return ASPD_SCRAM_FAILED;
  const char *bare = strchr(comma + 1, ',');
  if (!bare) return ASPD_SCRAM_FAILED;
  bare++;
  snprintf(s->gs2_header, sizeof s->gs2_header, "%.*s", (int)(bare - msg), msg);

  if (strncmp(bare, "n=", 2) != 0) return ASPD_SCRAM_FAILED;
  const char *name = bare + 2;
  const char *name_end = strchr(name, ',');
  if (!name_end || strncmp(name_end, ",r=", 3) != 0) return ASPD_SCRAM_FAILED;
  if (!decode_saslname(name, (size_t)(name_end - name), s->user, sizeof s->user)) {
    return ASPD_SCRAM_FAILED;
  }
  const char *client_nonce = name_end + 3;
  size_t nonce_len = strcspn(client_nonce, ",");
  if (nonce_len == 0) return ASPD_SCRAM_FAILED;

  uint8_t random[SERVER_NONCE_BYTES];
  char server_nonce[2 * SERVER_NONCE_BYTES + 4];
  if (RAND_bytes(random, sizeof random) != 1) return ASPD_SCRAM_FAILED;
  aspd_base64_encode(random, sizeof random, server_nonce);
  snprintf(s->nonce, sizeof s->nonce, "%.*s%s", (int)nonce_len, client_nonce, server_nonce);

  s->known_user = aspd_users_credential(s->users, s->user, s->mech, &s->credential);
  char salt[2 * ASPD_SCRAM_MAX_SALT + 4];
  aspd_base64_encode(s->credential.salt, s->credential.salt_len, salt);
  char server_first[MAX_MESSAGE + 128];
  snprintf(server_first, sizeof server_first, "r=%s,s=%s,i=%u", s->nonce, salt,
           s->credential.iterations);
  snprintf(s->auth_message, sizeof s->auth_message, "%s,%s", bare, server_first);
  *out = dup_message(server_first, out_len);
  s->stage = EXPECT_CLIENT_FINAL;
  return ASPD_SCRAM_CONTINUE;
}

/* client-final: "c=<base64 gs2-header>,r=<nonce>[,...],p=<base64 proof>". */
static aspd_scram_status_t on_client_final(aspd_scram_t *s, const char *msg, char **out,
                                           size_t *out_len) {
  const char *proof_at = strstr(msg, ",p=");
  if (!proof_at || strncmp(msg, "c=", 2) != 0) return ASPD_SCRAM_FAILED;
  size_t without_proof_len = (size_t)(proof_at - msg);

  char expected_c[2 * MAX_MESSAGE];
  aspd_base64_encode((const uint8_t *)s->gs2_header, strlen(s->gs2_header), expected_c);
  size_t c_len = strcspn(msg + 2, ",");
  if (c_len != strlen(expected_c) || strncmp(msg + 2, expected_c, c_len) != 0) {
    return ASPD_SCRAM_FAILED;
  }
  const char *r = msg + 2 + c_len;
  size_t nonce_len = strlen(s->nonce);
  if (strncmp(r, ",r=", 3) != 0 || strncmp(r + 3, s->nonce, nonce_len) != 0 ||
      (r[3 + nonce_len] != ',')) {
    return ASPD_SCRAM_FAILED;
  }

  size_t dlen = aspd_scram_digest_len(s->mech);
  uint8_t proof[ASPD_SCRAM_MAX_DIGEST];
  size_t proof_len;
  const char *proof_b64 = proof_at + 3;
  if (!aspd_base64_decode(proof_b64, strlen(proof_b64), proof, sizeof proof, &proof_len) ||
      proof_len != dlen) {
    return ASPD_SCRAM_FAILED;
  }

  size_t prefix_len = strlen(s->auth_message);
  if (prefix_len + 1 + without_proof_len >= sizeof s->auth_message) return ASPD_SCRAM_FAILED;
  snprintf(s->auth_message + prefix_len, sizeof s->auth_message - prefix_len, ",%.*s",
           (int)without_proof_len, msg);
  size_t am_len = strlen(s->auth_message);

  /* ClientKey = proof XOR HMAC(StoredKey, AuthMessage); it is right when H(ClientKey) == StoredKey.
   */
  uint8_t client_signature[ASPD_SCRAM_MAX_DIGEST], client_key[ASPD_SCRAM_MAX_DIGEST],
      stored[ASPD_SCRAM_MAX_DIGEST];
  aspd_scram_hmac(s->mech, s->credential.stored_key, dlen, (const uint8_t *)s->auth_message, am_len,
                  client_signature);
  for (size_t i = 0; i < dlen; i++) client_key[i] = proof[i] ^ client_signature[i];
  aspd_scram_hash(s->mech, client_key, dlen, stored);
  bool match = CRYPTO_memcmp(stored, s->credential.stored_key, dlen) == 0;
  if (!match || !s->known_user) return ASPD_SCRAM_FAILED;

  uint8_t server_signature[ASPD_SCRAM_MAX_DIGEST];
  aspd_scram_hmac(s->mech, s->credential.server_key, dlen, (const uint8_t *)s->auth_message, am_len,
                  server_signature);
  char server_final[2 * ASPD_SCRAM_MAX_DIGEST + 8] = "v=";
  aspd_base64_encode(server_signature, dlen, server_final + 2);
  *out = dup_message(server_final, out_len);
  s->stage = s->skip_empty_exchange ? FINISHED : EXPECT_EMPTY;
  return s->skip_empty_exchange ? ASPD_SCRAM_AUTHENTICATED : ASPD_SCRAM_CONTINUE;
}

aspd_scram_status_t aspd_scram_step(aspd_scram_t *s, const uint8_t *in, size_t in_len, char **out,
                                    size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (in_len >= MAX_MESSAGE || memchr(in, '\0', in_len)) {
    s->stage = FINISHED;
    return ASPD_SCRAM_FAILED;
  }
  char msg[MAX_MESSAGE];
  memcpy(msg, in, in_len);
  msg[in_len] = '\0';
  aspd_scram_status_t status = ASPD_SCRAM_FAILED;
  switch (s->stage) {
    case EXPECT_CLIENT_FIRST:
      status = on_client_first(s, msg, out, out_len);
      break;
    case EXPECT_CLIENT_FINAL:
      status = on_client_final(s, msg, out, out_len);
      break;
    case EXPECT_EMPTY:
      *out = dup_message("", out_len);
      s->stage = FINISHED;
      status = ASPD_SCRAM_AUTHENTICATED;
      break;
    case FINISHED:
      break;
  }
  if (status == ASPD_SCRAM_FAILED) s->stage = FINISHED;
  return status;
}
