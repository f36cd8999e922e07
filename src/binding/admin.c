/* The Admin API userdata (asp.Admin): connect, one generic call per endpoint (the methods
 * users see are in lua/asp/admin.lua), settings without secrets, close. Admin API errors
 * are the usual error object plus http_status, error_code, reason and parameters. */
#include <string.h>

#include "asp_admin.h"
#include "lasp.h"

#define LASP_ADMIN_MT "asp.Admin"

typedef struct {
  asp_admin_t *admin; /* NULL once closed */
} lasp_admin_t;

static const char *const connect_opts[] = {
    "base_url",      "group_id", "public_key", "private_key", "client_id",
    "client_secret", "ca_file",  "timeout_ms", "retries",     NULL};

/* A programmer mistake found by the core: raised as the bare message (it names the field
 * or option), without a position inside this library. */
static int raise_client_error(lua_State *L, const asp_error_t *err) {
  lua_pushstring(L, err->message);
  return lua_error(L);
}

/* asp.admin.connect{...} (through lua/asp/admin.lua) -> admin; no traffic. Mistakes in
 * the options raise. */
static int admin_connect(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lasp_opts_check(L, 1, "admin.connect", connect_opts);
  asp_admin_opts_t o = {0};
  lasp_opt_string(L, 1, "admin.connect", "base_url", &o.base_url);
  lasp_opt_string(L, 1, "admin.connect", "group_id", &o.group_id);
  lasp_opt_string(L, 1, "admin.connect", "public_key", &o.public_key);
  lasp_opt_string(L, 1, "admin.connect", "private_key", &o.private_key);
  lasp_opt_string(L, 1, "admin.connect", "client_id", &o.client_id);
  lasp_opt_string(L, 1, "admin.connect", "client_secret", &o.client_secret);
  lasp_opt_string(L, 1, "admin.connect", "ca_file", &o.ca_file);
  lasp_opt_int32(L, 1, "admin.connect", "timeout_ms", &o.timeout_ms);
  o.has_retries = lasp_opt_int32(L, 1, "admin.connect", "retries", &o.retries);
  lasp_admin_t *u = lasp_newuserdata(L, sizeof *u, 0);
  u->admin = NULL;
  lasp_setmetatable(L, LASP_ADMIN_MT);
  asp_error_t err;
  u->admin = asp_admin_new(&o, &err);
  if (!u->admin)
    return err.domain == ASP_DOMAIN_CLIENT ? raise_client_error(L, &err) : lasp_fail(L, &err);
  return 1;
}

static asp_admin_t *check_admin(lua_State *L, int idx) {
  lasp_admin_t *u = luaL_checkudata(L, idx, LASP_ADMIN_MT);
  if (!u->admin) luaL_error(L, "asp: the admin client is closed");
  return u->admin;
}

/* An optional path argument: nil, or a string without NUL bytes (which would cut it). */
static const char *opt_path_arg(lua_State *L, int idx, const char *what) {
  if (lua_isnoneornil(L, idx)) return NULL;
  size_t len;
  const char *s = luaL_checklstring(L, idx, &len);
  if (strlen(s) != len) luaL_error(L, "%s: must not contain NUL bytes", what);
  return s;
}

/* The error object of the wire client, plus the Admin API's fields when the server
 * answered with an error status. */
static int admin_fail(lua_State *L, const asp_error_t *err, const bson_t *reply) {
  lua_pushnil(L);
  lasp_push_error(L, err);
  if (err->domain != ASP_DOMAIN_ADMIN) return 2;
  lua_pushinteger(L, err->code);
  lua_setfield(L, -2, "http_status");
  if (err->code_name[0]) {
    lua_pushstring(L, err->code_name);
    lua_setfield(L, -2, "error_code");
  }
  static const char *const extra[] = {"reason", "parameters", NULL};
  for (const char *const *k = extra; *k; k++) {
    bson_iter_t it;
    if (!bson_iter_init_find(&it, reply, *k)) continue;
    lasp_push_iter_value(L, &it, LASP_DECODE_PLAIN);
    lua_setfield(L, -2, *k);
  }
  return 2;
}

/* admin:_call(endpoint, workspace, name, query, body) -> reply table | nil, err */
static int admin_call(lua_State *L) {
  /* Absent arguments become nil slots: the documents converted below push scratch
   * userdata, which must not land where a later optional argument is read. */
  lua_settop(L, 6);
  asp_admin_t *a = check_admin(L, 1);
  const char *ep_name = luaL_checkstring(L, 2);
  int ep = asp_admin_endpoint_find(ep_name);
  if (ep < 0) luaL_error(L, "admin: unknown endpoint '%s'", ep_name);
  asp_admin_args_t args = {0};
  args.workspace = opt_path_arg(L, 3, ep_name);
  args.name = opt_path_arg(L, 4, ep_name);
  args.query = lasp_opt_document_arg(L, 5, ep_name);
  args.body = lasp_opt_document_arg(L, 6, ep_name);
  bson_t reply;
  asp_error_t err;
  bool ok = asp_admin_call(a, (asp_admin_endpoint_t)ep, &args, &reply, &err);
  int n;
  if (ok) {
    lasp_push_document(L, &reply, LASP_DECODE_ORDERED);
    n = 1;
  } else {
    if (err.domain == ASP_DOMAIN_CLIENT) {
      bson_destroy(&reply); /* before raising, which does not return */
      return raise_client_error(L, &err);
    }
    n = admin_fail(L, &err, &reply);
  }
  bson_destroy(&reply);
  return n;
}

static int admin_settings(lua_State *L) {
  bson_t out;
  asp_admin_settings(check_admin(L, 1), &out);
  lasp_push_document(L, &out, LASP_DECODE_PLAIN);
  bson_destroy(&out);
  return 1;
}

/* admin:_stats() -> {requests = n, tokens = n}: HTTP exchanges and tokens, for tests */
static int admin_stats(lua_State *L) {
  asp_admin_t *a = check_admin(L, 1);
  lua_createtable(L, 0, 2);
  lasp_push_int64(L, (int64_t)asp_admin_requests_sent(a));
  lua_setfield(L, -2, "requests");
  lasp_push_int64(L, (int64_t)asp_admin_tokens_fetched(a));
  lua_setfield(L, -2, "tokens");
  return 1;
}

static int admin_expire_token(lua_State *L) {
  asp_admin_expire_token(check_admin(L, 1));
  return 0;
}

static int admin_close(lua_State *L) {
  lasp_admin_t *u = luaL_checkudata(L, 1, LASP_ADMIN_MT);
  asp_admin_destroy(u->admin);
  u->admin = NULL;
  lua_pushboolean(L, 1);
  return 1;
}

static int admin_is_closed(lua_State *L) {
  lasp_admin_t *u = luaL_checkudata(L, 1, LASP_ADMIN_MT);
  lua_pushboolean(L, u->admin == NULL);
  return 1;
}

/* Names the server and the key or client id (not secrets), never the private key. */
static int admin_tostring(lua_State *L) {
  lasp_admin_t *u = luaL_checkudata(L, 1, LASP_ADMIN_MT);
  if (!u->admin) {
    lua_pushfstring(L, "%s (closed)", LASP_ADMIN_MT);
    return 1;
  }
  bson_t s;
  asp_admin_settings(u->admin, &s);
  bson_iter_t it;
  const char *base = bson_iter_init_find(&it, &s, "base_url") ? bson_iter_utf8(&it, NULL) : "?";
  const char *group = bson_iter_init_find(&it, &s, "group_id") ? bson_iter_utf8(&it, NULL) : "?";
  const char *auth = bson_iter_init_find(&it, &s, "auth") ? bson_iter_utf8(&it, NULL) : "?";
  bool digest = strcmp(auth, "digest") == 0;
  const char *who = bson_iter_init_find(&it, &s, digest ? "public_key" : "client_id")
                        ? bson_iter_utf8(&it, NULL)
                        : "?";
  lua_pushfstring(L, "%s (%s, group %s, %s %s)", LASP_ADMIN_MT, base, group,
                  digest ? "API key" : "service account", who);
  bson_destroy(&s);
  return 1;
}

void lasp_admin_register(lua_State *L, int module_idx) {
  static const luaL_Reg methods[] = {{"_call", admin_call},
                                     {"settings", admin_settings},
                                     {"_stats", admin_stats},
                                     {"_expire_token", admin_expire_token},
                                     {"close", admin_close},
                                     {"is_closed", admin_is_closed},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {
    {"__gc", admin_close},
#if LUA_VERSION_NUM >= 504
    {"__close", admin_close},
#endif
    {"__tostring", admin_tostring},
    {NULL, NULL}
  };
  lasp_new_class(L, LASP_ADMIN_MT, methods, meta);
  lua_pushcfunction(L, admin_connect);
  lua_setfield(L, module_idx, "_admin_connect");
  lasp_export_methods(L, LASP_ADMIN_MT, "_Admin"); /* for lua/asp/admin.lua */
}
