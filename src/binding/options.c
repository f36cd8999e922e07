/* Option tables and argument conversion at the Lua boundary: snake_case keys checked
 * against a whitelist (an unknown key raises naming it), typed fields raise naming the
 * field, tables become BSON through the value mapping (lasp_values.h). */
#include <stdio.h>
#include <string.h>

#include "lasp.h"

bool lasp_opts_check(lua_State *L, int idx, const char *fname, const char *const *allowed) {
  if (lua_isnoneornil(L, idx)) return false;
  if (!lua_istable(L, idx)) {
    lasp_raise(L, "%s: options must be a table, got %s", fname, luaL_typename(L, idx));
  }
  idx = lasp_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      lasp_raise(L, "%s: option keys must be strings, got %s", fname, luaL_typename(L, -1));
    }
    const char *key = lua_tostring(L, -1);
    bool known = false;
    for (const char *const *a = allowed; *a && !known; a++) known = strcmp(*a, key) == 0;
    if (!known) lasp_raise(L, "%s: unknown option '%s'", fname, key);
  }
  return true;
}

/* Pushes field key of the table at idx; returns false (and pushes nothing) when absent. */
static bool push_field(lua_State *L, int idx, const char *key) {
  if (idx == 0) return false;
  lua_getfield(L, idx, key);
  if (!lua_isnil(L, -1)) return true;
  lua_pop(L, 1);
  return false;
}

static int bad_field(lua_State *L, const char *fname, const char *key, const char *expected) {
  return lasp_raise(L, "%s: option '%s' must be %s, got %s", fname, key, expected,
                    luaL_typename(L, -1));
}

bool lasp_opt_string(lua_State *L, int idx, const char *fname, const char *key, const char **out) {
  if (!push_field(L, idx, key)) return false;
  if (lua_type(L, -1) != LUA_TSTRING) bad_field(L, fname, key, "a string");
  *out = lua_tostring(L, -1); /* stays valid: the options table holds the string */
  lua_pop(L, 1);
  return true;
}

bool lasp_opt_int32(lua_State *L, int idx, const char *fname, const char *key, int32_t *out) {
  if (!push_field(L, idx, key)) return false;
  if (lua_type(L, -1) != LUA_TNUMBER || !lasp_isinteger(L, -1))
    bad_field(L, fname, key, "an integer");
  lua_Number n = lua_tonumber(L, -1);
  if (n < INT32_MIN || n > INT32_MAX) {
    lasp_raise(L, "%s: option '%s' is out of the int32 range", fname, key);
  }
  *out = (int32_t)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return true;
}

int32_t lasp_timeout(lua_State *L, int idx, asp_client_t *c) {
  int32_t ms = 0;
  if (lua_istable(L, idx) && lasp_opt_int32(L, idx, lasp_fname(L), "timeout_ms", &ms) && ms < 0)
    lasp_raise(L, "%s: option 'timeout_ms' must be 0 or more", lasp_fname(L));
  asp_client_set_timeout(c, ms);
  return ms;
}

int lasp_decode_mode(lua_State *L, int idx) {
  const char *mode = lua_tostring(L, idx);
  if (mode && strcmp(mode, "lazy") == 0) return LASP_DECODE_LAZY;
  if (mode && strcmp(mode, "ordered") == 0) return LASP_DECODE_ORDERED;
  return LASP_DECODE_PLAIN;
}

bool lasp_opt_bool(lua_State *L, int idx, const char *fname, const char *key, bool *out) {
  if (!push_field(L, idx, key)) return false;
  if (!lua_isboolean(L, -1)) bad_field(L, fname, key, "a boolean");
  *out = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return true;
}

asp_tristate_t lasp_opt_tristate(lua_State *L, int idx, const char *fname, const char *key) {
  bool b;
  if (!lasp_opt_bool(L, idx, fname, key, &b)) return ASP_UNSET;
  return b ? ASP_TRUE : ASP_FALSE;
}

bson_t *lasp_opt_document(lua_State *L, int idx, const char *fname, const char *key) {
  if (!push_field(L, idx, key)) return NULL;
  if (!lua_istable(L, -1)) bad_field(L, fname, key, "a table");
  char what[96];
  snprintf(what, sizeof what, "%s: %s", fname, key);
  bson_t *doc = lasp_check_document(L, -1, what);
  lua_remove(L, -2); /* the field value; the scratch document stays */
  return doc;
}

int lasp_opt_table(lua_State *L, int idx, const char *fname, const char *key) {
  if (!push_field(L, idx, key)) return 0;
  if (!lua_istable(L, -1)) bad_field(L, fname, key, "a table");
  return lua_gettop(L);
}

static int scratch_gc(lua_State *L) {
  bson_t **doc = lua_touserdata(L, 1);
  bson_destroy(*doc);
  *doc = NULL; /* a second finalizer call finds nothing to free */
  return 0;
}

/* Temporary documents live in userdata so that an error raised half-way through argument
 * conversion cannot leak them: the collector frees them. The userdata holds a pointer only:
 * bson_t is declared 128-byte aligned and a userdata is not, while bson_new() allocates it
 * with its declared alignment. */
bson_t *lasp_new_bson(lua_State *L) {
  bson_t **doc = lasp_newuserdata(L, sizeof *doc, 0);
  *doc = NULL;
  if (luaL_newmetatable(L, "asp.scratch")) {
    lua_pushcfunction(L, scratch_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  *doc = bson_new(); /* once the finalizer is set, so a memory error above leaks nothing */
  return *doc;
}

bson_t *lasp_check_document(lua_State *L, int idx, const char *what) {
  idx = lasp_absindex(L, idx);
  if (!lua_istable(L, idx)) {
    lasp_raise(L, "%s: table expected, got %s", what, luaL_typename(L, idx));
  }
  char err[256];
  bson_t *out = lasp_new_bson(L);
  if (!lasp_to_document(L, idx, out, what, err, sizeof err)) lasp_raise(L, "%s", err);
  return out;
}

bson_t *lasp_opt_document_arg(lua_State *L, int idx, const char *what) {
  if (lua_isnoneornil(L, idx)) return NULL;
  if (!lua_istable(L, idx)) lasp_typeerror(L, idx, "table");
  return lasp_check_document(L, idx, what);
}

bson_t *lasp_check_pipeline(lua_State *L, int idx, const char *what) {
  idx = lasp_absindex(L, idx);
  if (!lua_istable(L, idx)) {
    lasp_raise(L, "%s: array of stages expected, got %s", what, luaL_typename(L, idx));
  }
  /* Encode inside a wrapper so the value mapping decides array vs document the same way
   * it does everywhere else; an empty table counts as an empty pipeline. */
  char err[256];
  bson_t *wrapper = lasp_new_bson(L);
  if (!lasp_append_value(L, idx, wrapper, "p", what, err, sizeof err)) lasp_raise(L, "%s", err);
  bson_iter_t it;
  uint32_t len = 0;
  const uint8_t *data = NULL;
  bool ok = bson_iter_init_find(&it, wrapper, "p");
  if (ok && BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_array(&it, &len, &data);
  } else if (ok && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    bson_iter_document(&it, &len, &data);
    ok = len == 5; /* the empty document */
  } else {
    ok = false;
  }
  if (!ok) lasp_raise(L, "%s: must be an array of stages", what);
  bson_t view;
  if (!bson_init_static(&view, data, len)) lasp_raise(L, "%s: corrupt BSON", what);
  bson_t *out = lasp_new_bson(L);
  if (!bson_concat(out, &view)) lasp_raise(L, "%s: the pipeline is too large", what);
  asp_error_t verr;
  if (!asp_validate_pipeline(out, &verr)) lasp_raise(L, "%s: %s", lasp_fname(L), verr.message);
  return out;
}

void lasp_push_int64(lua_State *L, int64_t v) {
#if LASP_HAS_INTEGERS
  lua_pushinteger(L, (lua_Integer)v);
#else
  /* through the value mapping, so a cursor id beyond 2^53 stays exact (a boxed int64) */
  bson_t holder = BSON_INITIALIZER;
  bson_iter_t it;
  BSON_APPEND_INT64(&holder, "v", v);
  if (bson_iter_init_find(&it, &holder, "v")) lasp_push_iter_value(L, &it, LASP_DECODE_PLAIN);
  bson_destroy(&holder);
#endif
}

bool lasp_to_int64(lua_State *L, int idx, int64_t *out) {
  idx = lasp_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TNUMBER) {
    if (!lasp_isinteger(L, idx)) return false;
    *out = (int64_t)lua_tointeger(L, idx);
    return true;
  }
  bson_t holder = BSON_INITIALIZER;
  bson_iter_t it;
  char err[128];
  bool ok = lasp_append_value(L, idx, &holder, "v", "v", err, sizeof err) &&
            bson_iter_init_find(&it, &holder, "v") &&
            (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it));
  if (ok) *out = bson_iter_as_int64(&it);
  bson_destroy(&holder);
  return ok;
}
