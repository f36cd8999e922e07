/* The value API of asp.core: null, arrays, ordered documents, asp.type, and raw BSON in
 * and out (bson_encode / bson_decode). Typed values live in typed_values.c, Extended
 * JSON in json.c, the conversions themselves in bson_encode.c and bson_decode.c. */
#include <stdio.h>
#include <string.h>

#include "lasp_values.h"

/* Registry key of the shared array marker metatable: the address of a static. */
static const char array_mt_key = 0;

void lasp_push_array_mt(lua_State *L) {
  lasp_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
}

bool lasp_is_null(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/* asp.array([t]) -> t with the array marker (a new empty array without argument). */
static int l_array(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
  }
  lasp_push_array_mt(L);
  lua_setmetatable(L, 1);
  return 1;
}

/* Whether the value at key is a string listed in the order table at order. */
static bool in_order(lua_State *L, int order, int key) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, order);
  bool found = false;
  order = lasp_absindex(L, order);
  key = lasp_absindex(L, key);
  if (lua_type(L, key) != LUA_TSTRING) return false;
  for (i = 1; i <= n && !found; i++) {
    lua_rawgeti(L, order, (int)i);
    found = lua_rawequal(L, -1, key);
    lua_pop(L, 1);
  }
  return found;
}

/* __pairs of ordered documents: the recorded keys in order (skipping nil values), then
 * any keys set with rawset since, in next() order. Upvalues: the order, the position in
 * it, and the last extra key returned. */
static int ordered_next(lua_State *L) {
  int order = lua_upvalueindex(1);
  lua_Integer i = (lua_Integer)lua_tointeger(L, lua_upvalueindex(2));
  lua_Integer n = (lua_Integer)lua_rawlen(L, order);
  lua_settop(L, 1);
  while (i < n) {
    lua_rawgeti(L, order, (int)++i);
    lua_pushvalue(L, -1);
    lua_rawget(L, 1);
    if (!lua_isnil(L, -1)) {
      lua_pushinteger(L, i);
      lua_replace(L, lua_upvalueindex(2));
      return 2;
    }
    lua_pop(L, 2);
  }
  lua_pushinteger(L, i);
  lua_replace(L, lua_upvalueindex(2));
  lua_pushvalue(L, lua_upvalueindex(3));
  while (lua_next(L, 1)) {
    if (!in_order(L, order, -2)) {
      lua_pushvalue(L, -2);
      lua_replace(L, lua_upvalueindex(3));
      return 2;
    }
    lua_pop(L, 1);
  }
  return 0;
}

static int ordered_pairs(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_getmetatable(L, 1)) lua_newtable(L);
  lua_getfield(L, -1, LASP_ORDER_FIELD);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
  }
  lua_pushinteger(L, 0);
  lua_pushnil(L);
  lua_pushcclosure(L, ordered_next, 3);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

/* __newindex of ordered documents: a key assigned for the first time joins the end of
 * the order, so documents edited in Lua encode in a predictable order. (A listed key
 * whose value is nil exists in the order already and keeps its place.) */
static int ordered_newindex(lua_State *L) {
  lua_settop(L, 3);
  if (lua_type(L, 2) == LUA_TSTRING && lua_getmetatable(L, 1)) {
    lua_pushliteral(L, LASP_ORDER_FIELD);
    lua_rawget(L, -2);
    if (lua_istable(L, -1) && !in_order(L, -1, 2)) {
      lua_pushvalue(L, 2);
      lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
    }
    lua_settop(L, 3);
  }
  lua_rawset(L, 1);
  return 0;
}

/* __newindex of decoded documents that share their metatable with others of the same
 * shape (see bson_decode.c): a key assigned for the first time gives this document a
 * metatable of its own (the same fields, the order with the key appended), so the others
 * keep theirs unchanged. */
static int ordered_newindex_shared(lua_State *L) {
  lua_settop(L, 3);
  if (lua_type(L, 2) == LUA_TSTRING && lua_getmetatable(L, 1)) { /* 4: the shared mt */
    lua_pushliteral(L, LASP_ORDER_FIELD);
    lua_rawget(L, 4); /* 5: its order */
    if (lua_istable(L, 5) && !in_order(L, 5, 2)) {
      int n = (int)lua_rawlen(L, 5);
      lua_createtable(L, 0, 4); /* 6: the document's own metatable */
      lua_pushnil(L);
      while (lua_next(L, 4)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, 6);
      }
      lua_createtable(L, n + 1, 0); /* 7: its order */
      for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 5, i);
        lua_rawseti(L, 7, i);
      }
      lua_pushvalue(L, 2);
      lua_rawseti(L, 7, n + 1);
      lua_pushliteral(L, LASP_ORDER_FIELD);
      lua_insert(L, -2);
      lua_rawset(L, 6);
      lasp_set_ordered_methods(L, 6, false);
      lua_setmetatable(L, 1);
    }
    lua_settop(L, 3);
  }
  lua_rawset(L, 1);
  return 0;
}

void lasp_set_ordered_methods(lua_State *L, int mt, bool shared) {
  mt = lasp_absindex(L, mt);
  lua_pushliteral(L, "__pairs");
  lua_pushcfunction(L, ordered_pairs);
  lua_rawset(L, mt);
  lua_pushliteral(L, "__newindex");
  lua_pushcfunction(L, shared ? ordered_newindex_shared : ordered_newindex);
  lua_rawset(L, mt);
}

/* asp.ordered{"k1", v1, "k2", v2, ...} -> a table whose metatable records the key order.
 * The list length comes from the highest key index, so nil values are allowed. */
static int l_ordered(lua_State *L) {
  lua_Integer i, n = 0;
  int t, order;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    n = (lua_Integer)lua_rawlen(L, 1);
  }
  if (n % 2 != 0) n++; /* a trailing nil value */
  lua_createtable(L, 0, (int)(n / 2));
  t = lua_gettop(L);
  lua_createtable(L, (int)(n / 2), 0);
  order = lua_gettop(L);
  for (i = 1; i <= n; i += 2) {
    lua_rawgeti(L, 1, i);
    if (lua_type(L, -1) != LUA_TSTRING)
      return luaL_argerror(L, 1, lua_pushfstring(L, "key at position %d is not a string", (int)i));
    lua_pushvalue(L, -1);
    lua_rawget(L, t);
    if (!lua_isnil(L, -1))
      return luaL_argerror(L, 1, lua_pushfstring(L, "duplicate key '%s'", lua_tostring(L, -2)));
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, order, (int)(i / 2 + 1));
    lua_rawgeti(L, 1, i + 1);
    if (lua_isnil(L, -1)) {
      /* The key keeps its place in the order; encoding skips keys whose value is nil. */
      lua_pop(L, 2);
      continue;
    }
    lua_rawset(L, t);
  }
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, order);
  lua_setfield(L, -2, LASP_ORDER_FIELD);
  lasp_set_ordered_methods(L, -1, false);
  lua_setmetatable(L, t);
  lua_settop(L, t);
  return 1;
}

/* asp.type(v): the BSON kind v encodes to (or was decoded from), nil when v has none. */
static int l_type(lua_State *L) {
  luaL_checkany(L, 1);
  switch (lua_type(L, 1)) {
    case LUA_TSTRING:
      lua_pushliteral(L, "string");
      return 1;
    case LUA_TBOOLEAN:
      lua_pushliteral(L, "boolean");
      return 1;
    case LUA_TNUMBER: {
      int64_t i;
      bool integral = lasp_isinteger(L, 1) && lasp_toint64(L, 1, &i);
      if (!integral)
        lua_pushliteral(L, "double");
      else if (i >= INT32_MIN && i <= INT32_MAX)
        lua_pushliteral(L, "int32");
      else
        lua_pushliteral(L, "int64");
      return 1;
    }
    case LUA_TTABLE:
      if (lasp_table_is_array(L, 1))
        lua_pushliteral(L, "array");
      else
        lua_pushliteral(L, "document");
      return 1;
    case LUA_TLIGHTUSERDATA:
      if (lasp_is_null(L, 1)) {
        lua_pushliteral(L, "null");
        return 1;
      }
      break;
    case LUA_TUSERDATA: {
      const lasp_typed_t *v;
      const lasp_lazy_t *z = lasp_test_lazy(L, 1);
      if (z != NULL) {
        lua_pushstring(L, z->is_array ? "array" : "document");
        return 1;
      }
      lasp_push_typed_mt(L);
      v = lasp_test_typed(L, 1, lua_gettop(L));
      if (v != NULL) {
        lua_pushstring(L, lasp_typed_kind(v));
        return 1;
      }
      break;
    }
    default:
      break;
  }
  lua_pushnil(L);
  return 1;
}

/* asp.bson_encode(doc) -> string | nil, err. Arrays are refused: BSON bytes are a document. */
static int l_bson_encode(lua_State *L) {
  char err[256];
  bson_t doc;
  luaL_checkany(L, 1);
  bson_init(&doc);
  if (!lasp_to_document(L, 1, &doc, "value", err, sizeof err)) {
    bson_destroy(&doc);
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushlstring(L, (const char *)bson_get_data(&doc), doc.len);
  bson_destroy(&doc);
  return 1;
}

/* asp.bson_decode(bytes[, ordered | "lazy"]) -> table (or lazy document) | nil, err for bytes that
 * are not one valid BSON document (or nest deeper than LASP_MAX_DEPTH). Upvalues: the array
 * and typed-value metatables, saving registry lookups per call on this benchmarked path. */
static int l_bson_decode(lua_State *L) {
  size_t len;
  const char *bytes = luaL_checklstring(L, 1, &len);
  const char *err;
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "lazy") == 0) {
    if (len <= UINT32_MAX &&
        lasp_push_lazy(L, (const uint8_t *)bytes, (uint32_t)len, false, 0, true))
      return 1;
    lua_pushnil(L);
    lua_pushliteral(L, "invalid BSON: corrupt document");
    return 2;
  }
  if (!lasp_decode(L, (const uint8_t *)bytes, len, false,
                   lua_toboolean(L, 2) ? LASP_DECODE_ORDERED : LASP_DECODE_PLAIN,
                   lua_upvalueindex(1), lua_upvalueindex(2), &err)) {
    lua_pushnil(L);
    lua_pushfstring(L, "invalid BSON: %s", err);
    return 2;
  }
  return 1;
}

static const luaL_Reg value_funcs[] = {{"array", l_array},
                                       {"ordered", l_ordered},
                                       {"type", l_type},
                                       {"bson_encode", l_bson_encode},
                                       {NULL, NULL}};

void lasp_values_register(lua_State *L, int module_idx) {
  module_idx = lasp_absindex(L, module_idx);
  lasp_push_array_mt(L);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, LASP_ARRAY_FIELD);
    lua_pushliteral(L, "asp.array");
    lua_setfield(L, -2, "__name");
    lua_pushvalue(L, -1);
    lasp_rawsetp(L, LUA_REGISTRYINDEX, &array_mt_key);
  }
  lua_setfield(L, module_idx, "array_mt");
  /* NULL light userdata: the same value as cjson.null and ngx.null. */
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, module_idx, "null");
  lua_pushvalue(L, module_idx);
  luaL_setfuncs(L, value_funcs, 0);
  lua_pop(L, 1);
  lasp_typed_register(L, module_idx);
  lasp_json_register(L, module_idx);
  lasp_lazy_register(L, module_idx);
  lasp_push_array_mt(L);
  lasp_push_typed_mt(L);
  lua_pushcclosure(L, l_bson_decode, 2);
  lua_setfield(L, module_idx, "bson_decode");
}
