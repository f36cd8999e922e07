/* Lua-version shims that need a function body (compat.h has the rest). */
#include <math.h>

#include "compat.h"

#if LUA_VERSION_NUM < 502
void *lasp_newuserdata(lua_State *L, size_t sz, int n) {
  void *p = lua_newuserdata(L, sz);
  if (n > 0) {
    lua_newtable(L);
    lua_setfenv(L, -2);
  }
  return p;
}
#endif

bool lasp_toint64(lua_State *L, int idx, int64_t *out) {
  lua_Number n;
#if LASP_HAS_INTEGERS
  if (lua_isinteger(L, idx)) {
    *out = (int64_t)lua_tointeger(L, idx);
    return true;
  }
#endif
  n = lua_tonumber(L, idx);
  /* Range-check before casting: converting an out-of-range double is undefined in C.
   * -2^63 is exact as a double, 2^63 is the first value that no longer fits. */
  if (n != floor(n) || !(n >= -9223372036854775808.0 && n < 9223372036854775808.0)) return false;
  *out = (int64_t)n;
  return true;
}

#if LUA_VERSION_NUM < 503
int lasp_isinteger(lua_State *L, int idx) {
  lua_Number n;
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  n = lua_tonumber(L, idx);
  return n == floor(n) && n >= -LASP_EXACT_INT_MAX && n <= LASP_EXACT_INT_MAX;
}
#endif

#if LUA_VERSION_NUM < 502 && !LASP_LUAJIT
void lasp_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

void *lasp_testudata(lua_State *L, int ud, const char *tname) {
  void *p = lua_touserdata(L, ud);
  int same;
  if (p == NULL || !lua_getmetatable(L, ud)) return NULL;
  luaL_getmetatable(L, tname);
  same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? p : NULL;
}
#endif
