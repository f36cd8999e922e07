/* Admin API authentication and roles, over HTTPS with libcurl: API keys from flags and
 * from a keys file (Digest), service accounts (OAuth2 client credentials -> Bearer,
 * expiry, restart), and the three project roles. */
#include "admin_http.h"
#include "workspace_test_util.h"

static const char *const KEYS_FILE =
    "{\"apiKeys\": [{\"publicKey\": \"filekey\", \"privateKey\": \"file-private\", \"roles\": "
    "[\"GROUP_READ_ONLY\"]}],"
    " \"serviceAccounts\": [{\"clientId\": \"mdb_sa_id_file\", \"clientSecret\": "
    "\"file-sa-secret\","
    " \"roles\": [\"GROUP_STREAM_PROCESSING_OWNER\"]}]}";

static admin_reply_t r;

static long call(admin_http_t *h, const char *method, const char *url, const char *body) {
  admin_reply_free(&r);
  return admin_http_request(h, method, url, ACCEPT_2023, body, &r);
}

#define CONN(n) "{\"name\": \"" n "\", \"type\": \"Https\", \"url\": \"https://example.com\"}"

/* What a caller may do: read (list, get) and write (create, update, delete). */
static void expect_rights(admin_http_t *h, bool write, const char *tag, int line) {
  char name[64], body[256], url[128];
  snprintf(name, sizeof name, "%s_conn", tag);
  snprintf(body, sizeof body, "{\"name\": \"%s\", \"type\": \"Https\", \"url\": \"u\"}", name);
  snprintf(url, sizeof url, "ws:/connections/%s", name);
  long want_write = write ? 200 : 403;
  bool ok =
      call(h, "GET", "ws:/connections", NULL) == 200 &&
      call(h, "GET", "ws:/connections/shared", NULL) == 200 &&
      call(h, "POST", "ws:/connections", body) == want_write &&
      (write || !strcmp(admin_str(&r, "errorCode"), "USER_UNAUTHORIZED")) &&
      call(h, "PATCH", write ? url : "ws:/connections/shared", "{\"url\": \"v\"}") == want_write &&
      call(h, "DELETE", write ? url : "ws:/connections/shared", NULL) == (write ? 202 : 403);
  if (!ok) {
    fprintf(stderr, "FAIL line %d (%s): rights not as expected; last reply %ld %s\n", line, tag,
            r.status, r.text);
    wt_failures++;
  }
}

int main(void) {
  char dir[512], path[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "keys.json", KEYS_FILE, path, sizeof path)) {
    return 1;
  }
  const char *args[] = {"--api-key",
                        "ownerkey:owner-private:GROUP_OWNER",
                        "--api-key",
                        "spkey:sp-private:GROUP_STREAM_PROCESSING_OWNER",
                        "--api-key",
                        "readkey:read-private:GROUP_READ_ONLY",
                        "--api-key",
                        "defaultkey:default-private",
                        "--service-account",
                        "mdb_sa_id_reader:reader-secret:GROUP_READ_ONLY",
                        "--service-account",
                        "mdb_sa_id_owner:owner-secret",
                        "--api-keys-file",
                        path,
                        "--oauth-token-ttl",
                        "2",
                        NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, args)) return 1;
  admin_http_t *h = admin_http_new(&inst);
  CHECK(call(h, "POST", "ws:/connections", CONN("shared")) == 200);

  /* API keys and their roles; the dev key and a key without roles are owners. */
  expect_rights(h, true, "dev", __LINE__);
  admin_http_use_key(h, "ownerkey", "owner-private");
  expect_rights(h, true, "owner", __LINE__);
  admin_http_use_key(h, "spkey", "sp-private");
  expect_rights(h, true, "sp", __LINE__);
  admin_http_use_key(h, "defaultkey", "default-private");
  expect_rights(h, true, "default", __LINE__);
  admin_http_use_key(h, "readkey", "read-private");
  expect_rights(h, false, "read", __LINE__);
  admin_http_use_key(h, "filekey", "file-private");
  expect_rights(h, false, "file", __LINE__);
  /* A key's private part is its own: another key's does not pass. */
  admin_http_use_key(h, "readkey", "owner-private");
  CHECK(call(h, "GET", "ws:/connections", NULL) == 401);

  /* The secret never appears in the process's arguments. */
  char cmdline_path[64], cmdline[4096] = "";
  snprintf(cmdline_path, sizeof cmdline_path, "/proc/%d/cmdline", (int)inst.pid);
  FILE *f = fopen(cmdline_path, "rb");
  if (f) {
    size_t n = fread(cmdline, 1, sizeof cmdline - 1, f);
    for (size_t i = 0; i < n; i++) cmdline[i] = cmdline[i] ? cmdline[i] : ' ';
    cmdline[n] = '\0';
    fclose(f);
  }
  CHECK(strstr(cmdline, "ownerkey") && !strstr(cmdline, "owner-private") &&
        !strstr(cmdline, "reader-secret"));

  /* Service accounts: Basic or form credentials, a Bearer token with the account's role. */
  char token[256], reader_token[256];
  CHECK(admin_http_token(h, "mdb_sa_id_owner", "owner-secret", true, token, sizeof token, &r) ==
        200);
  CHECK(!strcmp(admin_str(&r, "token_type"), "Bearer") && admin_int(&r, "expires_in") == 2);
  CHECK(strlen(token) == 64);
  admin_http_use_token(h, token);
  expect_rights(h, true, "sa_owner", __LINE__);
  admin_reply_free(&r);
  CHECK(admin_http_token(h, "mdb_sa_id_reader", "reader-secret", false, reader_token,
                         sizeof reader_token, &r) == 200);
  admin_http_use_token(h, reader_token);
  expect_rights(h, false, "sa_reader", __LINE__);
  admin_reply_free(&r);
  CHECK(admin_http_token(h, "mdb_sa_id_file", "file-sa-secret", true, token, sizeof token, &r) ==
        200);
  admin_http_use_token(h, token);
  expect_rights(h, true, "sa_file", __LINE__);
  /* Wrong secret, unknown client, wrong grant, no grant. */
  admin_reply_free(&r);
  CHECK(admin_http_token(h, "mdb_sa_id_owner", "wrong", true, NULL, 0, &r) == 401);
  CHECK(!strcmp(admin_str(&r, "error"), "invalid_client") && !admin_has(&r, "access_token"));
  admin_reply_free(&r);
  CHECK(admin_http_token(h, "nobody", "owner-secret", false, NULL, 0, &r) == 401);
  admin_reply_free(&r);
  admin_http_use_nothing(h);
  char token_url[512];
  snprintf(token_url, sizeof token_url, "%s/api/oauth/token", inst.admin_root);
  /* (the Accept argument doubles as the Content-Type of the body) */
  const char *form = "application/x-www-form-urlencoded";
  CHECK(admin_http_request(
            h, "POST", token_url, form,
            "grant_type=password&client_id=mdb_sa_id_owner&client_secret=owner-secret", &r) == 400);
  CHECK(!strcmp(admin_str(&r, "error"), "unsupported_grant_type"));
  admin_reply_free(&r);
  CHECK(admin_http_request(h, "POST", token_url, form,
                           "client_id=mdb_sa_id_owner&client_secret=owner-secret", &r) == 400);
  CHECK(!strcmp(admin_str(&r, "error"), "invalid_request"));
  admin_reply_free(&r);
  /* A token is not an API key, and an API key is not a token. */
  admin_http_use_key(h, "mdb_sa_id_owner", "owner-secret");
  CHECK(call(h, "GET", "ws:/connections", NULL) == 401);
  /* Expiry: after its 2 seconds the token gets 401 with the Digest challenge. */
  admin_http_use_token(h, reader_token);
  CHECK(call(h, "GET", "ws:/connections", NULL) == 200);
  sleep(3);
  CHECK(call(h, "GET", "ws:/connections", NULL) == 401);
  CHECK(strstr(r.www_authenticate, "Digest") != NULL);

  /* Tokens do not survive a restart; keys given again do. */
  CHECK(admin_http_token(h, "mdb_sa_id_owner", "owner-secret", true, token, sizeof token, &r) ==
        200);
  admin_reply_free(&r);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
  char state[512];
  snprintf(state, sizeof state, "%s", inst.state_dir);
  if (!aspd_harness_start(&inst, state, args)) return 1;
  h = admin_http_new(&inst);
  admin_http_use_token(h, token);
  CHECK(call(h, "GET", "ws:/connections", NULL) == 401);
  admin_http_use_key(h, "readkey", "read-private");
  CHECK(call(h, "GET", "ws:/connections/shared", NULL) == 200);
  admin_reply_free(&r);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);

  /* Bad credential flags stop start-up with a message. */
  const char *bad[][3] = {{"--api-key", "nocolon", NULL},
                          {"--api-key", "k:p:GROUP_EMPEROR", NULL},
                          {"--service-account", ":secret", NULL}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    aspd_instance_t refused;
    CHECK(!aspd_harness_start(&refused, NULL, bad[i]));
  }
  if (wt_failures) {
    fprintf(stderr, "test_admin_auth: %d failure(s)\n", wt_failures);
    return 1;
  }
  printf("test_admin_auth: all checks passed\n");
  return 0;
}
