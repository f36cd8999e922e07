/* Userdata plumbing shared by the client objects: classes (metatables) and user values,
 * with the Lua-version differences kept here and in compat.h. */
#include "lasp.h"

#if LUA_VERSION_NUM >= 504
void lasp_setuv(lua_State *L, int ud, int n) {
  lua_setiuservalue(L, ud, n);
}

void lasp_getuv(lua_State *L, int ud, int n) {
  lua_getiuservalue(L, ud, n);
}
#else
/* One user value only (a table on 5.1): keep the slots in a table. */
static void push_uv_table(lua_State *L, int ud) {
#if LUA_VERSION_NUM < 502
  lua_getfenv(L, ud);
#else
  lua_getuservalue(L, ud);
#endif
  if (lua_istable(L, -1)) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
#if LUA_VERSION_NUM < 502
  lua_setfenv(L, ud);
#else
  lua_setuservalue(L, ud);
#endif
}

void lasp_setuv(lua_State *L, int ud, int n) {
  ud = lasp_absindex(L, ud);
  push_uv_table(L, ud);
  lua_insert(L, -2);
  lua_rawseti(L, -2, n);
  lua_pop(L, 1);
}

void lasp_getuv(lua_State *L, int ud, int n) {
  ud = lasp_absindex(L, ud);
  push_uv_table(L, ud);
  lua_rawgeti(L, -1, n);
  lua_remove(L, -2);
}
#endif

void lasp_new_class(lua_State *L, const char *tname, const luaL_Reg *methods,
                    const luaL_Reg *meta) {
  luaL_newmetatable(L, tname);
  luaL_setfuncs(L, meta, 0);
  lua_pushstring(L, tname);
  lua_setfield(L, -2, "__name");
  lua_pushboolean(L, 0); /* getmetatable() must not hand out the class */
  lua_setfield(L, -2, "__metatable");
  lua_newtable(L);
  for (const luaL_Reg *m = methods; m->name; m++) {
    lasp_push_named(L, m->func, m->name, 1);
    lua_setfield(L, -2, m->name);
  }
  lua_setfield(L, -2, "methods"); /* __index may be a function that consults this */
  /* A table __index is (re)pointed at the new methods table: when the module is opened
   * again in the same state (package.loaded cleared), the metatable already exists and
   * the Lua layer adds its methods to the new table. */
  lua_getfield(L, -1, "__index");
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    lua_getfield(L, -1, "methods");
    lua_setfield(L, -2, "__index");
  } else {
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

int lasp_index_method(lua_State *L) {
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

void lasp_export_methods(lua_State *L, const char *tname, const char *name) {
  luaL_getmetatable(L, tname);
  lua_getfield(L, -1, "methods");
  lua_setfield(L, -3, name);
  lua_pop(L, 1);
}
