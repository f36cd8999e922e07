/* Placeholder module until the client issue fills it. */
#include "asp.h"
#include "compat.h"
#include "lasp_values.h"

__attribute__((visibility("default"))) int luaopen_asp_core(lua_State *L);

int luaopen_asp_core(lua_State *L) {
  lua_newtable(L);
  lua_pushstring(L, asp_version());
  lua_setfield(L, -2, "version");
  lasp_values_register(L, lua_gettop(L));
  return 1;
}
