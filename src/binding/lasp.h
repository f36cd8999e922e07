/* Private header of the client parts of the binding: the client, stream-processors,
 * processor and cursor userdata, the error object and option-table helpers. Thin: the
 * protocol lives in src/core. */
#ifndef LASP_H
#define LASP_H

#include <stdbool.h>

#include "asp.h"
#include "compat.h"
#include "lasp_values.h"

#define LASP_CLIENT_MT "asp.Client"
#define LASP_SPS_MT "asp.StreamProcessors"
#define LASP_PROCESSOR_MT "asp.Processor"
#define LASP_CURSOR_MT "asp.Cursor"
#define LASP_ERROR_MT "asp.Error"

/* The client userdata; client == NULL once closed. User value 1: the on_command handler. */
typedef struct {
  asp_client_t *client;
} lasp_client_t;

/* The lua_State running a binding call on this thread (set by every named function and by
 * finalizers that reach libmongoc), for libmongoc's callbacks: command events and log
 * lines. */
lua_State *lasp_current_state(void);
void lasp_set_current_state(lua_State *L);
/* Monitoring and logging (monitor.c). */
void lasp_monitor_register(lua_State *L, int module_idx);
void lasp_log_route(void);

/* ---- user values: slot n of the userdata at ud (5.4 native, a table before) ---------- */

/* Pops the value on top and stores it as user value n. */
void lasp_setuv(lua_State *L, int ud, int n);
/* Pushes user value n (nil when unset). */
void lasp_getuv(lua_State *L, int ud, int n);

/* ---- errors ------------------------------------------------------------------------------ */

/* Pushes the error object {message, code, code_name, domain, labels} with __tostring; the
 * table stays on the stack, so a caller may add fields of its own domain. */
void lasp_push_error(lua_State *L, const asp_error_t *err);
/* Pushes nil and the error object; returns 2 (for `return lasp_fail(L, &err)`). */
int lasp_fail(lua_State *L, const asp_error_t *err);
/* A client-domain error with code 0 is a mistake found by validation, before any traffic. */
bool lasp_is_usage_error(const asp_error_t *err);
/* Raises usage errors ("fn: message"), returns lasp_fail for everything else. */
int lasp_fail_or_raise(lua_State *L, const asp_error_t *err);
void lasp_error_register(lua_State *L);
/* Adds set_error_mt (for error objects made in asp.lua) to the module table. */
void lasp_error_export(lua_State *L, int module_idx);

/* Pushes fn as a C closure that knows its Lua-visible name (a leading '_' dropped) and how
 * many leading arguments the user does not write (1 for methods: self), for the messages
 * below. */
void lasp_push_named(lua_State *L, lua_CFunction fn, const char *name, int arg_offset);
/* The Lua-visible name of the running function ("?" if it was not pushed named). */
const char *lasp_fname(lua_State *L);
/* Raises the formatted message (lua_pushfstring formats) with no file position. */
int lasp_raise(lua_State *L, const char *fmt, ...);
/* Raises "bad argument #n to 'fn' (detail)", n counted as the user wrote the call. */
int lasp_argerror(lua_State *L, int arg, const char *detail);
/* lasp_argerror with "<expected> expected, got <type>". */
int lasp_typeerror(lua_State *L, int arg, const char *expected);
/* A string argument (numbers are not converted); len may be NULL. */
const char *lasp_check_string(lua_State *L, int arg, size_t *len);
/* Argument 1 as userdata of class tname, or a "calling 'fn' on bad self" error. */
void *lasp_check_self(lua_State *L, const char *tname);

/* ---- option tables ------------------------------------------------------------------ */

/* Checks that the value at idx is nil or a table whose keys are all in `allowed`
 * (NULL-terminated); raises naming the unknown key. Returns false when it is nil. */
bool lasp_opts_check(lua_State *L, int idx, const char *fname, const char *const *allowed);
/* Typed getters for field key of the options table at idx: false when absent; raise on a
 * wrong type, naming the field. */
bool lasp_opt_string(lua_State *L, int idx, const char *fname, const char *key, const char **out);
bool lasp_opt_int32(lua_State *L, int idx, const char *fname, const char *key, int32_t *out);
/* Sets the deadline of the call about to run on c from the timeout_ms field of the options
 * table at idx (none when absent or idx is not a table); raises when it is negative.
 * Every binding function that reaches the core sets it, so none inherits another's. */
int32_t lasp_timeout(lua_State *L, int idx, asp_client_t *c);
/* The decode flags for the mode string at idx ("plain", "ordered", "lazy"; checked by
 * asp.lua). */
int lasp_decode_mode(lua_State *L, int idx);
bool lasp_opt_bool(lua_State *L, int idx, const char *fname, const char *key, bool *out);
asp_tristate_t lasp_opt_tristate(lua_State *L, int idx, const char *fname, const char *key);
/* A document-valued field as a scratch document pushed on the stack; NULL (nothing pushed)
 * when absent. */
bson_t *lasp_opt_document(lua_State *L, int idx, const char *fname, const char *key);
/* A table field (sub-options): pushes it and returns its index, or 0 (nothing pushed). */
int lasp_opt_table(lua_State *L, int idx, const char *fname, const char *key);

/* ---- conversions at the boundary ------------------------------------------------------ */

/* Temporary documents are userdata ("scratch") pushed on the stack, freed by the collector,
 * so that an error raised half-way through argument conversion leaks nothing. */
bson_t *lasp_new_bson(lua_State *L);
/* The table at idx as a scratch document; raises naming `what`. */
bson_t *lasp_check_document(lua_State *L, int idx, const char *what);
/* The same for an optional argument: NULL (nothing pushed) when nil/none. */
bson_t *lasp_opt_document_arg(lua_State *L, int idx, const char *what);
/* The pipeline at idx (a Lua array of stage tables) as a scratch BSON array (keys "0",
 * "1", ...); raises otherwise. May push more than one value: use absolute indices. */
bson_t *lasp_check_pipeline(lua_State *L, int idx, const char *what);

/* An int64 as the value mapping pushes it: an integer on 5.3+; on 5.1/LuaJIT a number
 * within 2^53, else a boxed asp.int64. */
void lasp_push_int64(lua_State *L, int64_t v);
/* An integer or a boxed asp.int64 at idx; false for anything else. */
bool lasp_to_int64(lua_State *L, int idx, int64_t *out);

/* ---- objects ---------------------------------------------------------------------------- */

/* The open core client of the client userdata at idx; raises when closed. */
asp_client_t *lasp_check_client(lua_State *L, int idx);
/* The open core client reached through user value 1 of the object at idx. */
asp_client_t *lasp_client_of(lua_State *L, int idx);
/* Pushes a new cursor on sample s, keeping the object at owner alive. */
void lasp_push_cursor(lua_State *L, asp_sample_t *s, int owner, int32_t batch_size, int64_t limit,
                      int decode_flags, int32_t timeout_ms);
/* Pushes a processor handle named name on the client at client_idx (no I/O). */
void lasp_push_processor(lua_State *L, int client_idx, const char *name);

/* Shared by client:list_connections and sps:list: optional filter at arg 2, the reply's
 * array field `field` returned. */
/* The options of calls that take only timeout_ms. */
extern const char *const lasp_call_opts[];
int lasp_list(lua_State *L, asp_client_t *c, const char *field,
              bool (*run)(asp_client_t *, const bson_t *, bson_t *, asp_error_t *));

#define lasp_setmetatable(L, tname) (luaL_getmetatable((L), (tname)), lua_setmetatable((L), -2))

int lasp_connect(lua_State *L);
void lasp_client_register(lua_State *L);
void lasp_processor_register(lua_State *L);
void lasp_cursor_register(lua_State *L);
/* The Admin API client (admin.c): its class, plus _admin_connect and _Admin in the module. */
void lasp_admin_register(lua_State *L, int module_idx);
/* Adds name = the methods table of metatable tname to the table on top (for asp.lua). */
void lasp_export_methods(lua_State *L, const char *tname, const char *name);
/* The rest of a function __index (object at 1, key at 2): the key in the class's methods. */
int lasp_index_method(lua_State *L);
/* Creates metatable tname with __index = methods (+ the extra metamethods). */
void lasp_new_class(lua_State *L, const char *tname, const luaL_Reg *methods, const luaL_Reg *meta);

#endif
