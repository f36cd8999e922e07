/* URI rules, without a server: mongodb:// only, TLS forced on, authSource admin unless
 * given (X.509 keeps $external), appname lua-asp/<version> unless given, no password in
 * any message. */
#include "asp.h"
#include "check.h"

static bson_t *settings_of(const char *uri, const asp_client_opts_t *opts) {
  asp_error_t err;
  asp_client_t *c = asp_client_new(uri, opts, &err);
  if (!c) {
    fprintf(stderr, "unexpected refusal of %s: %s\n", uri, err.message);
    check_failures++;
    return NULL;
  }
  bson_t *out = bson_new();
  bson_t s;
  asp_client_settings(c, &s);
  bson_copy_to_excluding_noinit(&s, out, "", NULL);
  bson_destroy(&s);
  asp_client_destroy(c);
  return out;
}

static const char *str_field(const bson_t *doc, const char *key) {
  bson_iter_t it;
  return doc && bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)
             ? bson_iter_utf8(&it, NULL)
             : NULL;
}

static bool bool_field(const bson_t *doc, const char *key) {
  bson_iter_t it;
  return doc && bson_iter_init_find(&it, doc, key) && bson_iter_as_bool(&it);
}

static void expect_refused(const char *uri, const char *needle) {
  asp_error_t err;
  asp_client_t *c = asp_client_new(uri, NULL, &err);
  CHECK(c == NULL);
  asp_client_destroy(c);
  CHECK(err.domain == ASP_DOMAIN_CLIENT);
  CHECK_SUBSTR(err.message, needle);
  CHECK(strstr(err.message, "s3cr3t") == NULL);
}

int main(void) {
  expect_refused("mongodb+srv://u:s3cr3t@cluster.example.net/", "no SRV record");
  expect_refused("MONGODB+SRV://u:s3cr3t@cluster.example.net/", "mongodb+srv://");
  expect_refused("http://u:s3cr3t@host/", "mongodb://");
  expect_refused("mongodb://u:s3cr3t@host/?tls=false", "only accepts TLS");
  expect_refused("mongodb://u:s3cr3t@host/?ssl=false", "only accepts TLS");
  expect_refused("mongodb://u:s3cr3t@host:notaport/", "invalid URI");
  expect_refused("mongodb://u:s3cr3t@host/?tlsInsecure=true&tlsAllowInvalidHostnames=true",
                 "invalid URI");

  bson_t *s = settings_of("mongodb://user:pw@127.0.0.1:27017/", NULL);
  CHECK(bool_field(s, "tls"));
  CHECK_STR(str_field(s, "authSource"), "admin");
  char want_app[64];
  snprintf(want_app, sizeof want_app, "lua-asp/%s", asp_version());
  CHECK_STR(str_field(s, "appname"), want_app);
  bson_destroy(s);

  s = settings_of(
      "mongodb://user:pw@atlas-stream-699c842ef433fe6001480b17-etif1.virginia-usa.a.query."
      "mongodb.net/?tls=true&authSource=other&appName=mine&directConnection=true",
      NULL);
  CHECK(bool_field(s, "tls"));
  CHECK_STR(str_field(s, "authSource"), "other");
  CHECK_STR(str_field(s, "appname"), "mine");
  bson_destroy(s);

  s = settings_of(
      "mongodb://atlas-stream-abc-def.virginia-usa.a.query.mongodb.net/"
      "?authSource=%24external&authMechanism=MONGODB-X509",
      NULL);
  CHECK_STR(str_field(s, "authSource"), "$external");
  CHECK_STR(str_field(s, "authMechanism"), "MONGODB-X509");
  bson_destroy(s);

  s = settings_of(
      "mongodb://atlas-stream-abc-def.virginia-usa.a.query.mongodb.net/?authMechanism=MONGODB-X509",
      NULL);
  CHECK(str_field(s, "authSource") == NULL || strcmp(str_field(s, "authSource"), "admin") != 0);
  bson_destroy(s);

  /* Any readable file will do as the CA file: it is only opened, never parsed, here. */
  asp_client_opts_t opts = {
      .tls_ca_file = __FILE__, .app_name = "tool", .username = "bob", .password = "pw2"};
  s = settings_of("mongodb://127.0.0.1:1/?ssl=true", &opts);
  CHECK(bool_field(s, "tls"));
  CHECK_STR(str_field(s, "tlsCAFile"), __FILE__);
  CHECK_STR(str_field(s, "appname"), "tool");
  CHECK_STR(str_field(s, "username"), "bob");
  CHECK_STR(str_field(s, "authSource"), "admin");
  char *json = s ? bson_as_relaxed_extended_json(s, NULL) : NULL;
  CHECK(json && !strstr(json, "pw2"));
  bson_free(json);
  bson_destroy(s);
  return check_report("core.uri");
}
