/* The two error channels of the binding. Runtime failures become the error object
 * {message, code, code_name, domain, labels} with a __tostring, returned as nil, err.
 * Programmer mistakes raise a plain string without a file position, in one of two shapes
 * that both name the Lua-visible function: "bad argument #1 to 'create' (string expected,
 * got number)" for arguments, "create: ..." for everything else. The function name and
 * the argument offset (1 for methods, whose self the user does not count) are upvalues
 * given at registration (lasp_push_named), so the message does not depend on how the
 * function was reached (a method call, pcall, a wrapper in asp.lua). */
#include <stdarg.h>

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

bool lasp_is_usage_error(const asp_error_t *err) {
  return err->domain == ASP_DOMAIN_CLIENT && err->code == 0;
}

int lasp_fail_or_raise(lua_State *L, const asp_error_t *err) {
  if (lasp_is_usage_error(err)) return lasp_raise(L, "%s: %s", lasp_fname(L), err->message);
  return lasp_fail(L, err);
}

static _Thread_local lua_State *current_state;

lua_State *lasp_current_state(void) {
  return current_state;
}

void lasp_set_current_state(lua_State *L) {
  current_state = L;
}

/* Every named function runs through here: libmongoc's callbacks during the call (command
 * events, log lines) reach this lua_State. After an error the state stays recorded until
 * the next call on this thread, which is harmless: libmongoc only calls back during calls. */
static int named_call(lua_State *L) {
  lua_CFunction *fn = lua_touserdata(L, lua_upvalueindex(3));
  lua_State *outer = current_state;
  current_state = L;
  lasp_log_route();
  int n = (*fn)(L);
  current_state = outer;
  return n;
}

void lasp_push_named(lua_State *L, lua_CFunction fn, const char *name, int arg_offset) {
  if (name[0] == '_') name++; /* _sample is what asp.lua's sample calls */
  lua_pushstring(L, name);
  lua_pushinteger(L, arg_offset);
  /* A function pointer cannot travel as a light userdata in ISO C: box it. */
  lua_CFunction *box = lasp_newuserdata(L, sizeof fn, 0);
  *box = fn;
  lua_pushcclosure(L, named_call, 3);
}

const char *lasp_fname(lua_State *L) {
  const char *name =
      lua_type(L, lua_upvalueindex(1)) == LUA_TSTRING ? lua_tostring(L, lua_upvalueindex(1)) : NULL;
  return name ? name : "?";
}

int lasp_raise(lua_State *L, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return lua_error(L);
}

int lasp_argerror(lua_State *L, int arg, const char *detail) {
  int shown = arg - (int)lua_tointeger(L, lua_upvalueindex(2));
  if (shown <= 0) return lasp_raise(L, "calling '%s' on bad self (%s)", lasp_fname(L), detail);
  return lasp_raise(L, "bad argument #%d to '%s' (%s)", shown, lasp_fname(L), detail);
}

int lasp_typeerror(lua_State *L, int arg, const char *expected) {
  const char *got = lua_isnone(L, arg) ? "no value" : luaL_typename(L, arg);
  return lasp_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", expected, got));
}

const char *lasp_check_string(lua_State *L, int arg, size_t *len) {
  if (lua_type(L, arg) != LUA_TSTRING) lasp_typeerror(L, arg, "string");
  return lua_tolstring(L, arg, len);
}

void *lasp_check_self(lua_State *L, const char *tname) {
  void *p = luaL_testudata(L, 1, tname);
  if (!p) lasp_typeerror(L, 1, tname);
  return p;
}

/* core.set_error_mt(t) -> t: an error object built in Lua (asp.lua's proc:wait). */
static int set_error_mt(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_getmetatable(L, LASP_ERROR_MT);
  lua_setmetatable(L, 1);
  lua_settop(L, 1);
  return 1;
}

void lasp_error_export(lua_State *L, int module_idx) {
  lua_pushcfunction(L, set_error_mt);
  lua_setfield(L, module_idx, "set_error_mt");
}

void lasp_error_register(lua_State *L) {
  luaL_newmetatable(L, LASP_ERROR_MT);
  lua_pushcfunction(L, error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushstring(L, LASP_ERROR_MT);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}
