/* One lua_State with asp.core for the binding's fuzz targets. Each target gives a Lua
 * chunk that returns the per-input function; the harness calls it in protected mode. Lua
 * errors are expected (bad input raises or returns nil, err); only an error whose message
 * starts with "INVARIANT" is a finding, and it aborts like a crash. */
#ifndef FUZZ_LUA_HOST_H
#define FUZZ_LUA_HOST_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int luaopen_asp_core(lua_State *L);

static lua_State *fuzz_lua;
static int fuzz_calls;

/* chunk receives asp.core as `...` and returns function(input). */
static inline void fuzz_lua_run(const char *chunk, const uint8_t *data, size_t size) {
  if (!fuzz_lua) {
    fuzz_lua = luaL_newstate();
    luaL_openlibs(fuzz_lua);
    luaL_requiref(fuzz_lua, "asp.core", luaopen_asp_core, 0);
    if (luaL_loadstring(fuzz_lua, chunk) != LUA_OK) {
      fprintf(stderr, "fuzz chunk: %s\n", lua_tostring(fuzz_lua, -1));
      abort();
    }
    lua_insert(fuzz_lua, -2);
    lua_call(fuzz_lua, 1, 1);
    lua_setglobal(fuzz_lua, "fuzz_one");
  }
  lua_getglobal(fuzz_lua, "fuzz_one");
  lua_pushlstring(fuzz_lua, (const char *)data, size);
  if (lua_pcall(fuzz_lua, 1, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(fuzz_lua, -1);
    if (msg && strncmp(msg, "INVARIANT", 9) == 0) {
      fprintf(stderr, "%s\n", msg);
      abort();
    }
    lua_pop(fuzz_lua, 1);
  }
  /* Keep the heap small so that leaks stand out and runs stay fast. */
  if (++fuzz_calls % 256 == 0) lua_gc(fuzz_lua, LUA_GCCOLLECT, 0);
}

#endif
