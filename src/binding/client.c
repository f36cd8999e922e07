/* The client userdata: connect (URI rules and a first round trip), the workspace-level
 * commands, close. A closed client stays a valid object whose every use raises. */
#include <string.h>

#include "lasp.h"

static const char *const connect_opts[] = {"tls_ca_file",
                                           "tls_certificate_key_file",
                                           "tls_certificate_key_file_password",
                                           "app_name",
                                           "username",
                                           "password",
                                           "auth_source",
                                           "connect_timeout_ms",
                                           "server_selection_timeout_ms",
                                           "socket_timeout_ms",
                                           "timeout_ms",
                                           NULL};

static void read_connect_opts(lua_State *L, int idx, asp_client_opts_t *o) {
  if (!lasp_opts_check(L, idx, "connect", connect_opts)) return;
  lasp_opt_string(L, idx, "connect", "tls_ca_file", &o->tls_ca_file);
  lasp_opt_string(L, idx, "connect", "tls_certificate_key_file", &o->tls_certificate_key_file);
  lasp_opt_string(L, idx, "connect", "tls_certificate_key_file_password",
                  &o->tls_certificate_key_file_password);
  lasp_opt_string(L, idx, "connect", "app_name", &o->app_name);
  lasp_opt_string(L, idx, "connect", "username", &o->username);
  lasp_opt_string(L, idx, "connect", "password", &o->password);
  lasp_opt_string(L, idx, "connect", "auth_source", &o->auth_source);
  lasp_opt_int32(L, idx, "connect", "connect_timeout_ms", &o->connect_timeout_ms);
  lasp_opt_int32(L, idx, "connect", "server_selection_timeout_ms", &o->server_selection_timeout_ms);
  lasp_opt_int32(L, idx, "connect", "socket_timeout_ms", &o->socket_timeout_ms);
  if (o->connect_timeout_ms < 0 || o->server_selection_timeout_ms < 0 || o->socket_timeout_ms < 0)
    lasp_raise(L, "connect: timeouts must be 0 or more milliseconds");
}

/* asp.connect(uri, opts) -> client | nil, err */
int lasp_connect(lua_State *L) {
  const char *uri = lasp_check_string(L, 1, NULL);
  asp_client_opts_t o = {0};
  read_connect_opts(L, 2, &o);
  /* The userdata exists (with its finalizer) before the C client, so nothing leaks if
   * anything below raises. */
  lasp_client_t *u = lasp_newuserdata(L, sizeof *u, 1);
  u->client = NULL;
  lasp_setmetatable(L, LASP_CLIENT_MT);
  asp_error_t err;
  u->client = asp_client_new(uri, &o, &err);
  if (!u->client) return lasp_fail(L, &err);
  lasp_timeout(L, 2, u->client);
  if (!asp_client_ping(u->client, &err)) {
    asp_client_destroy(u->client);
    u->client = NULL;
    return lasp_fail(L, &err);
  }
  return 1;
}

asp_client_t *lasp_check_client(lua_State *L, int idx) {
  lasp_client_t *u =
      idx == 1 ? lasp_check_self(L, LASP_CLIENT_MT) : luaL_checkudata(L, idx, LASP_CLIENT_MT);
  if (!u->client) lasp_raise(L, "%s: the client is closed", lasp_fname(L));
  return u->client;
}

asp_client_t *lasp_client_of(lua_State *L, int idx) {
  lasp_getuv(L, idx, 1);
  /* The owner keeps the client userdata alive, so the pointer outlives this pop. */
  asp_client_t *c = lasp_check_client(L, -1);
  lua_pop(L, 1);
  return c;
}

static int client_close(lua_State *L) {
  lasp_client_t *u = lasp_check_self(L, LASP_CLIENT_MT);
  lua_State *outer = lasp_current_state();
  lasp_set_current_state(L); /* also as a finalizer: libmongoc may log while closing */
  asp_client_destroy(u->client);
  lasp_set_current_state(outer);
  u->client = NULL;
  lua_pushboolean(L, 1);
  return 1;
}

static int client_is_closed(lua_State *L) {
  lasp_client_t *u = lasp_check_self(L, LASP_CLIENT_MT);
  lua_pushboolean(L, u->client == NULL);
  return 1;
}

static int client_stream_processors(lua_State *L) {
  lasp_check_client(L, 1);
  lasp_newuserdata(L, 1, 1);
  lasp_setmetatable(L, LASP_SPS_MT);
  lua_pushvalue(L, 1);
  lasp_setuv(L, -2, 1);
  return 1;
}

/* Pushes the array field `field` of reply (an empty array when the server sent none). */
static void push_reply_array(lua_State *L, const bson_t *reply, const char *field) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, reply, field) && BSON_ITER_HOLDS_ARRAY(&it)) {
    lasp_push_iter_value(L, &it, LASP_DECODE_ORDERED);
    return;
  }
  bson_t holder = BSON_INITIALIZER, empty;
  BSON_APPEND_ARRAY_BEGIN(&holder, "a", &empty);
  bson_append_array_end(&holder, &empty);
  bson_iter_init_find(&it, &holder, "a");
  lasp_push_iter_value(L, &it, LASP_DECODE_ORDERED);
  bson_destroy(&holder);
}

const char *const lasp_call_opts[] = {"timeout_ms", NULL};

/* Shared by client:list_connections and sps:list: filter at arg 2, options at 3, reply
 * field. */
int lasp_list(lua_State *L, asp_client_t *c, const char *field,
              bool (*run)(asp_client_t *, const bson_t *, bson_t *, asp_error_t *)) {
  lasp_opts_check(L, 3, lasp_fname(L), lasp_call_opts);
  lua_settop(L, 3);
  bson_t *filter = lasp_opt_document_arg(L, 2, "filter");
  lasp_timeout(L, 3, c);
  bson_t reply;
  asp_error_t err;
  if (!run(c, filter, &reply, &err)) {
    bson_destroy(&reply);
    return lasp_fail_or_raise(L, &err);
  }
  push_reply_array(L, &reply, field);
  bson_destroy(&reply);
  return 1;
}

static int client_list_connections(lua_State *L) {
  return lasp_list(L, lasp_check_client(L, 1), "connections", asp_list_connections);
}

static int client_workspace_defaults(lua_State *L) {
  asp_client_t *c = lasp_check_client(L, 1);
  lasp_opts_check(L, 2, "workspace_defaults", lasp_call_opts);
  lasp_timeout(L, 2, c);
  bson_t out;
  asp_error_t err;
  if (!asp_workspace_defaults(c, &out, &err)) {
    bson_destroy(&out);
    return lasp_fail_or_raise(L, &err);
  }
  lasp_push_document(L, &out, LASP_DECODE_ORDERED);
  bson_destroy(&out);
  return 1;
}

/* True when the table at idx has more than one key and no recorded key order: pairs()
 * order is arbitrary, so the command name might not come first. */
static bool unordered_multi_key(lua_State *L, int idx) {
  if (!lua_istable(L, idx)) return false;
  if (lua_getmetatable(L, idx)) {
    lua_getfield(L, -1, "__asp_order");
    bool ordered = !lua_isnil(L, -1);
    lua_pop(L, 2);
    if (ordered) return false;
  }
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (++n > 1) {
      lua_pop(L, 1);
      return true;
    }
  }
  return false;
}

/* client:command(doc[, db[, opts]]) -> reply | nil, err: the escape hatch (pymongo's run_command),
 * on admin unless db is given, never retried. */
static int client_command(lua_State *L) {
  asp_client_t *c = lasp_check_client(L, 1);
  if (!lua_istable(L, 2)) lasp_typeerror(L, 2, "table");
  if (unordered_multi_key(L, 2)) {
    lasp_argerror(L, 2,
                  "a document with several keys must be asp.ordered{...} so that the command "
                  "name comes first");
  }
  const char *db = "admin";
  if (!lua_isnoneornil(L, 3)) {
    size_t len;
    db = lasp_check_string(L, 3, &len);
    if (len == 0 || strlen(db) != len) lasp_argerror(L, 3, "a database name without NUL bytes");
  }
  lasp_opts_check(L, 4, "command", lasp_call_opts);
  lua_settop(L, 4);
  bson_t *cmd = lasp_check_document(L, 2, "command");
  lasp_timeout(L, 4, c);
  if (bson_empty(cmd)) lasp_argerror(L, 2, "the command document is empty");
  bson_t reply;
  asp_error_t err;
  if (!asp_command(c, db, cmd, &reply, &err)) {
    bson_destroy(&reply);
    return lasp_fail_or_raise(L, &err);
  }
  lasp_push_document(L, &reply, LASP_DECODE_ORDERED);
  bson_destroy(&reply);
  return 1;
}

/* client:_process(pipeline, dlq, limit, batch_size, decode, timeout_ms) -> cursor | nil, err.
 * The option table is read by asp.lua (the cursor's wait loop lives there). */
static int client_process(lua_State *L) {
  asp_client_t *c = lasp_check_client(L, 1);
  int top = lua_gettop(L);
  lua_Integer limit = lua_isnoneornil(L, 4) ? -1 : lua_tointeger(L, 4);
  lua_Integer batch_size = lua_isnoneornil(L, 5) ? -1 : lua_tointeger(L, 5);
  int flags = lasp_decode_mode(L, 6);
  int32_t timeout_ms = (int32_t)lua_tointeger(L, 7);
  if (!lua_istable(L, 2)) lasp_typeerror(L, 2, "table");
  bson_t *pipeline = lasp_check_pipeline(L, 2, "process: pipeline");
  bson_t *dlq = lasp_opt_document_arg(L, 3, "process: dlq");
  asp_error_t err;
  asp_client_set_timeout(c, timeout_ms);
  asp_sample_t *s = asp_sample_process(c, pipeline, dlq, &err);
  lua_settop(L, top);
  if (!s) return lasp_fail_or_raise(L, &err);
  lasp_push_cursor(L, s, 1, (int32_t)batch_size, limit, flags, timeout_ms);
  return 1;
}

/* client:settings() -> the effective connection settings, never the password */
static int client_settings(lua_State *L) {
  asp_client_t *c = lasp_check_client(L, 1);
  bson_t out;
  asp_client_settings(c, &out);
  lasp_push_document(L, &out, LASP_DECODE_PLAIN);
  bson_destroy(&out);
  return 1;
}

static int client_tostring(lua_State *L) {
  lasp_client_t *u = lasp_check_self(L, LASP_CLIENT_MT);
  lua_pushfstring(L, "%s (%s)", LASP_CLIENT_MT, u->client ? "open" : "closed");
  return 1;
}

void lasp_client_register(lua_State *L) {
  static const luaL_Reg methods[] = {{"close", client_close},
                                     {"is_closed", client_is_closed},
                                     {"settings", client_settings},
                                     {"stream_processors", client_stream_processors},
                                     {"list_connections", client_list_connections},
                                     {"workspace_defaults", client_workspace_defaults},
                                     {"command", client_command},
                                     {"_process", client_process},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {
    {"__gc", client_close},
#if LUA_VERSION_NUM >= 504
    {"__close", client_close},
#endif
    {"__tostring", client_tostring},
    {NULL, NULL}
  };
  lasp_new_class(L, LASP_CLIENT_MT, methods, meta);
}
