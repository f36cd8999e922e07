/* client:on_command(fn) and asp.set_log_handler(fn): libmongoc's command events and log
 * lines, delivered to Lua functions. Both arrive as C callbacks in the middle of a call,
 * so they run the handler with lua_pcall (an error in a handler must not unwind through
 * libmongoc) in the lua_State making that call; an error raised by a handler is dropped. */
#include "lasp.h"

static const char log_handler_key = 'l';
static const char clients_key = 'c';

/* Pushes the event table {event, command_name, database_name, request_id, duration_ms,
 * command, redacted, reply_ok, error}. */
static void push_event(lua_State *L, const asp_event_t *ev) {
  static const char *const kinds[] = {"started", "succeeded", "failed"};
  lua_createtable(L, 0, 8);
  lua_pushstring(L, kinds[ev->kind]);
  lua_setfield(L, -2, "event");
  lua_pushstring(L, ev->command_name);
  lua_setfield(L, -2, "command_name");
  lua_pushinteger(L, (lua_Integer)ev->request_id);
  lua_setfield(L, -2, "request_id");
  lua_pushboolean(L, ev->redacted);
  lua_setfield(L, -2, "redacted");
  if (ev->kind == ASP_EVENT_STARTED) {
    if (ev->database) {
      lua_pushstring(L, ev->database);
      lua_setfield(L, -2, "database_name");
    }
    if (ev->command) {
      lasp_push_document(L, ev->command, LASP_DECODE_ORDERED);
      lua_setfield(L, -2, "command");
    }
    return;
  }
  lua_pushnumber(L, (lua_Number)ev->duration_us / 1000.0);
  lua_setfield(L, -2, "duration_ms");
  lua_pushboolean(L, ev->kind == ASP_EVENT_SUCCEEDED && ev->reply_ok);
  lua_setfield(L, -2, "reply_ok");
  if (ev->error) {
    lasp_push_error(L, ev->error);
    lua_setfield(L, -2, "error");
  }
}

/* The core's monitor: ctx is the client userdata's address, a key of the weak table of
 * clients that have a handler. */
static void on_event(const asp_event_t *ev, void *ctx) {
  lua_State *L = lasp_current_state();
  if (!L || !lua_checkstack(L, 8)) return;
  int top = lua_gettop(L);
  lasp_rawgetp(L, LUA_REGISTRYINDEX, &clients_key);
  if (lua_istable(L, -1)) {
    lasp_rawgetp(L, -1, ctx);
    if (lua_isuserdata(L, -1)) {
      lasp_getuv(L, -1, 1);
      if (lua_isfunction(L, -1)) {
        push_event(L, ev);
        lua_pcall(L, 1, 0, 0);
      }
    }
  }
  lua_settop(L, top);
}

/* client:on_command(fn | nil) -> client */
static int client_on_command(lua_State *L) {
  asp_client_t *c = lasp_check_client(L, 1);
  if (!lua_isnoneornil(L, 2) && !lua_isfunction(L, 2)) lasp_typeerror(L, 2, "function or nil");
  lua_settop(L, 2);
  lua_pushvalue(L, 2);
  lasp_setuv(L, 1, 1);
  /* The table of clients is weak: it finds the userdata without keeping it alive. */
  lasp_rawgetp(L, LUA_REGISTRYINDEX, &clients_key);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lasp_rawsetp(L, LUA_REGISTRYINDEX, &clients_key);
  }
  void *key = lua_touserdata(L, 1);
  if (lua_isnil(L, 2)) {
    lua_pushnil(L);
    asp_client_set_monitor(c, NULL, NULL);
  } else {
    lua_pushvalue(L, 1);
    asp_client_set_monitor(c, on_event, key);
  }
  lasp_rawsetp(L, -2, key);
  lua_settop(L, 1);
  return 1;
}

/* The core's per-thread log handler: the Lua handler of the state making the call. */
static bool on_log(const char *level, const char *domain, const char *message, void *ctx) {
  (void)ctx;
  lua_State *L = lasp_current_state();
  if (!L || !lua_checkstack(L, 4)) return false;
  int top = lua_gettop(L);
  lasp_rawgetp(L, LUA_REGISTRYINDEX, &log_handler_key);
  bool handled = lua_isfunction(L, -1);
  if (handled) {
    lua_pushstring(L, level);
    lua_pushstring(L, domain);
    lua_pushstring(L, message);
    lua_pcall(L, 3, 0, 0);
  }
  lua_settop(L, top);
  return handled;
}

void lasp_log_route(void) {
  asp_log_set_thread_handler(on_log, NULL);
}

/* asp.set_log_handler(fn | nil): libmongoc's warnings and errors go to fn(level, domain,
 * message) instead of stderr. */
static int set_log_handler(lua_State *L) {
  if (!lua_isnoneornil(L, 1) && !lua_isfunction(L, 1)) lasp_typeerror(L, 1, "function or nil");
  lua_settop(L, 1);
  lasp_rawsetp(L, LUA_REGISTRYINDEX, &log_handler_key);
  return 0;
}

void lasp_monitor_register(lua_State *L, int module_idx) {
  lasp_push_named(L, set_log_handler, "set_log_handler", 0);
  lua_setfield(L, module_idx, "set_log_handler");
  luaL_getmetatable(L, LASP_CLIENT_MT);
  lua_getfield(L, -1, "methods");
  lasp_push_named(L, client_on_command, "on_command", 1);
  lua_setfield(L, -2, "on_command");
  lua_pop(L, 2);
}
