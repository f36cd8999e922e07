/* The error object: {message, code, code_name, domain, labels} with a __tostring, so that
 * assert(x, err) prints something useful. Server codes come from libmongoc's error API 2. */
#include "lasp.h"

static int error_tostring(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "domain");
  lua_getfield(L, 1, "message");
  lua_getfield(L, 1, "code");
  lua_getfield(L, 1, "code_name");
  const char *domain = lua_tostring(L, -4);
  const char *message = lua_tostring(L, -3);
  lua_Integer code = (lua_Integer)lua_tonumber(L, -2);
  const char *code_name = lua_tostring(L, -1);
  if (code_name && *code_name) {
    lua_pushfstring(L, "asp %s error: %s (%s, code %d)", domain ? domain : "?",
                    message ? message : "", code_name, (int)code);
  } else if (code) {
    lua_pushfstring(L, "asp %s error: %s (code %d)", domain ? domain : "?", message ? message : "",
                    (int)code);
  } else {
    lua_pushfstring(L, "asp %s error: %s", domain ? domain : "?", message ? message : "");
  }
  return 1;
}

void lasp_push_error(lua_State *L, const asp_error_t *err) {
  lua_createtable(L, 0, 5);
  lua_pushstring(L, err->message);
  lua_setfield(L, -2, "message");
  lua_pushinteger(L, err->code);
  lua_setfield(L, -2, "code");
  if (err->code_name[0]) {
    lua_pushstring(L, err->code_name);
    lua_setfield(L, -2, "code_name");
  }
  lua_pushstring(L, asp_domain_name(err->domain));
  lua_setfield(L, -2, "domain");
  lua_createtable(L, err->n_labels, 0);
  for (int i = 0; i < err->n_labels; i++) {
    lua_pushstring(L, err->labels[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "labels");
  luaL_getmetatable(L, LASP_ERROR_MT);
  lua_setmetatable(L, -2);
}

int lasp_fail(lua_State *L, const asp_error_t *err) {
  lua_pushnil(L);
  lasp_push_error(L, err);
  return 2;
}

int lasp_raise_client_error(lua_State *L, const asp_error_t *err) {
  return luaL_error(L, "%s", err->message);
}

int lasp_fail_or_raise(lua_State *L, const asp_error_t *err) {
  if (err->domain == ASP_DOMAIN_CLIENT) return lasp_raise_client_error(L, err);
  return lasp_fail(L, err);
}

void lasp_error_register(lua_State *L) {
  luaL_newmetatable(L, LASP_ERROR_MT);
  lua_pushcfunction(L, error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushstring(L, LASP_ERROR_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}
