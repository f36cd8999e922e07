/* luaopen_asp_core: the module table of asp.core. Every class and setting lives in this
 * lua_State (registry metatables), none in C globals beyond libmongoc's mongoc_init. */
#include "lasp.h"

__attribute__((visibility("default"))) int luaopen_asp_core(lua_State *L);

int luaopen_asp_core(lua_State *L) {
  lasp_error_register(L);
  lasp_client_register(L);
  lasp_processor_register(L);
  lua_newtable(L);
  lasp_values_register(L, lua_gettop(L)); /* first: the cursor keeps the array metatable */
  lasp_cursor_register(L); /* also adds _cursor_call, sleep, now to the module table */
  lasp_admin_register(L, lua_gettop(L));
  lua_pushstring(L, asp_version());
  lua_setfield(L, -2, "version");
  lasp_push_named(L, lasp_connect, "connect", 0);
  lua_setfield(L, -2, "connect");
  lasp_monitor_register(L, lua_gettop(L));
  lasp_error_export(L, lua_gettop(L));
  lasp_export_methods(L, LASP_CLIENT_MT, "Client");
  lasp_export_methods(L, LASP_SPS_MT, "StreamProcessors");
  lasp_export_methods(L, LASP_PROCESSOR_MT, "Processor");
  lasp_export_methods(L, LASP_CURSOR_MT, "Cursor");
  return 1;
}
