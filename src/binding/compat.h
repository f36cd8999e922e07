/* Every Lua-version difference the binding cares about, in one place.
 * Targets: PUC Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT 2.1 (OpenResty's branch too). */
#ifndef LASP_COMPAT_H
#define LASP_COMPAT_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(LUAJIT_VERSION_NUM) || defined(LUA_JITLIBNAME)
#define LASP_LUAJIT 1
#else
#define LASP_LUAJIT 0
#endif

/* 5.3+: real 64-bit integer subtype. */
#if LUA_VERSION_NUM >= 503
#define LASP_HAS_INTEGERS 1
#else
#define LASP_HAS_INTEGERS 0
#endif

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define lasp_absindex(L, i) ((i) > 0 || (i) <= LUA_REGISTRYINDEX ? (i) : lua_gettop(L) + (i) + 1)
/* A 5.1 userdata environment must be a table: wrap single values in one. */
#define LASP_UV_NEEDS_TABLE 1
#else
#define lasp_absindex(L, i) lua_absindex((L), (i))
#define LASP_UV_NEEDS_TABLE 0
#endif

/* Registry keys are addresses of statics: collision-free, fine for LuaJIT light userdata. */
#if LUA_VERSION_NUM < 502
#define lasp_rawgetp(L, idx, p)                        \
  (lua_pushlightuserdata((L), (void *)(uintptr_t)(p)), \
   lua_rawget((L), ((idx) < 0 && (idx) > LUA_REGISTRYINDEX) ? (idx)-1 : (idx)))
#define lasp_rawsetp(L, idx, p)                                             \
  (lua_pushlightuserdata((L), (void *)(uintptr_t)(p)), lua_insert((L), -2), \
   lua_rawset((L), ((idx) < 0 && (idx) > LUA_REGISTRYINDEX) ? (idx)-1 : (idx)))
#else
#define lasp_rawgetp(L, idx, p) ((void)lua_rawgetp((L), (idx), (p)))
#define lasp_rawsetp(L, idx, p) lua_rawsetp((L), (idx), (p))
#endif

/* PUC 5.1 lacks these; LuaJIT 2.1 provides them (declaring them again would clash). */
#if LUA_VERSION_NUM < 502 && !LASP_LUAJIT
void lasp_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
void *lasp_testudata(lua_State *L, int ud, const char *tname);
#define luaL_setfuncs(L, l, n) lasp_setfuncs((L), (l), (n))
#define luaL_testudata(L, ud, t) lasp_testudata((L), (ud), (t))
#endif

/* Not luaL_newlib: its size hint needs an array, and callers pass luaL_Reg pointers. */
#define lasp_newlib(L, l) (lua_newtable(L), luaL_setfuncs((L), (l), 0))

/* Userdata with n user values (5.4); older versions have one slot (a table on 5.1). */
#if LUA_VERSION_NUM >= 504
#define lasp_newuserdata(L, sz, n) lua_newuserdatauv((L), (sz), (n))
#else
#if LUA_VERSION_NUM < 502
/* A 5.1 userdata starts with the running function's environment (the globals table) as
 * its environment: one with user values gets a table of its own. */
void *lasp_newuserdata(lua_State *L, size_t sz, int n);
#else
#define lasp_newuserdata(L, sz, n) lua_newuserdata((L), (sz))
#endif
#endif

/* Largest magnitude up to which every integer is exact in a double (2^53): the limit of
 * integers on Lua versions without an integer subtype. */
#define LASP_EXACT_INT_MAX 9007199254740992.0

#if LUA_VERSION_NUM >= 503
#define lasp_isinteger(L, i) lua_isinteger((L), (i))
#else
int lasp_isinteger(lua_State *L, int idx); /* number with an integral value within +-2^53 */
#endif

/* True when the number at idx has an exact int64 value (an integer, or a float with an
 * integral value in [-2^63, 2^63)); stores it in *out. Never casts out of range. */
bool lasp_toint64(lua_State *L, int idx, int64_t *out);

#endif
