/* Lazy documents (proc:sample{decode = "lazy"}): a userdata holding a copy of the BSON
 * bytes, whose fields are decoded when they are read. Reading two fields of a sampled
 * document then costs two short scans instead of building every table, key and value.
 * Nothing is kept between reads (a cache would cost a table per document, more than the
 * reads it saves): nested documents and arrays come back as new lazy documents, equal
 * (==, same bytes) to the previous ones. pairs (5.2+), #, asp.to_json, re-encoding (the
 * bytes are appended as they are) and asp.materialize (a plain table) work on them; they
 * are read-only. Nothing is checked before it is needed either: a read checks the
 * elements it walks over, encoding checks every top-level element before appending the
 * bytes, and only asp.bson_decode(bytes, "lazy") checks them up front (its caller gets
 * nil, err for bytes that are not a document). */
#include <string.h>

#include "lasp.h"

static const char lazy_mt_key = 'z';

void lasp_push_lazy_mt(lua_State *L) {
  lasp_rawgetp(L, LUA_REGISTRYINDEX, &lazy_mt_key);
}

const lasp_lazy_t *lasp_test_lazy(lua_State *L, int idx) {
  const lasp_lazy_t *z = NULL;
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return NULL;
  lasp_push_lazy_mt(L);
  if (lua_rawequal(L, -1, -2)) z = lua_touserdata(L, idx);
  lua_pop(L, 2);
  return z;
}

/* Checks the framing of a document: its length and its terminating NUL. */
static bool outer_ok(const uint8_t *data, uint32_t len) {
  uint32_t n;
  if (len < 5) return false;
  memcpy(&n, data, 4);
  return BSON_UINT32_FROM_LE(n) == len && data[len - 1] == '\0';
}

bool lasp_lazy_valid(const lasp_lazy_t *z) {
  const uint8_t *p = z->data + 4, *end = z->data + z->len - 1;
  lasp_element_t el;
  while (p < end) {
    if (!lasp_next_element(p, end, &el)) return false;
    p = el.value + el.size;
  }
  return true;
}

bool lasp_push_lazy(lua_State *L, const uint8_t *data, uint32_t len, bool is_array, int lazy_mt,
                    bool check) {
  if (!outer_ok(data, len)) return false;
  if (lazy_mt) lazy_mt = lasp_absindex(L, lazy_mt);
  lasp_lazy_t *z = lasp_newuserdata(L, sizeof *z + len, 0);
  z->len = len;
  z->is_array = is_array;
  memcpy(z->data, data, len);
  if (check && !lasp_lazy_valid(z)) {
    lua_pop(L, 1);
    return false;
  }
  if (lazy_mt) {
    lua_pushvalue(L, lazy_mt);
  } else {
    lasp_push_lazy_mt(L);
  }
  lua_setmetatable(L, -2);
  return true;
}

static lasp_lazy_t *check_lazy(lua_State *L, int idx) {
  lasp_lazy_t *z = (lasp_lazy_t *)(uintptr_t)lasp_test_lazy(L, idx);
  if (!z) lasp_typeerror(L, idx, LASP_LAZY_MT);
  return z;
}

/* Pushes the value of element el of the lazy document whose metatable is at mt. */
static void push_element(lua_State *L, const lasp_element_t *el, int mt) {
  if (el->type != BSON_TYPE_DOCUMENT && el->type != BSON_TYPE_ARRAY) {
    lasp_push_scalar(L, el);
  } else if (!lasp_push_lazy(L, el->value, el->size, el->type == BSON_TYPE_ARRAY, mt, false)) {
    lasp_raise(L, "invalid BSON in a lazy document");
  }
}

/* Finds the element named by the key at index key (a string, or for arrays an integer). */
static bool find(lua_State *L, const lasp_lazy_t *z, int key, lasp_element_t *el) {
  const uint8_t *p = z->data + 4, *end = z->data + z->len - 1;
  size_t klen = 0;
  const char *k = NULL;
  lua_Integer index = 0, i = 1;
  if (z->is_array) {
    if (lua_type(L, key) != LUA_TNUMBER || !lasp_isinteger(L, key)) return false;
    index = lua_tointeger(L, key);
    if (index < 1) return false;
  } else {
    if (lua_type(L, key) != LUA_TSTRING) return false;
    k = lua_tolstring(L, key, &klen);
  }
  for (; p < end; p = el->value + el->size, i++) {
    if (!lasp_next_element(p, end, el)) lasp_raise(L, "invalid BSON in a lazy document");
    if (z->is_array ? i == index : el->key_len == klen && memcmp(p + 1, k, klen) == 0) return true;
  }
  return false;
}

/* __index; upvalue 1: the lazy metatable. */
static int lazy_index(lua_State *L) {
  lasp_lazy_t *z = lua_touserdata(L, 1);
  lasp_element_t el;
  if (!find(L, z, 2, &el)) return 0;
  push_element(L, &el, lua_upvalueindex(1));
  return 1;
}

/* Equal bytes, equal documents: each read of a nested document gives a new one. */
static int lazy_eq(lua_State *L) {
  const lasp_lazy_t *a = lasp_test_lazy(L, 1), *b = lasp_test_lazy(L, 2);
  lua_pushboolean(L, a && b && a->len == b->len && a->is_array == b->is_array &&
                         memcmp(a->data, b->data, a->len) == 0);
  return 1;
}

static int lazy_newindex(lua_State *L) {
  return lasp_raise(L, "lazy documents are read-only: asp.materialize(doc) gives a table");
}

static int lazy_len(lua_State *L) {
  lasp_lazy_t *z = lua_touserdata(L, 1);
  const uint8_t *p = z->data + 4, *end = z->data + z->len - 1;
  lua_Integer n = 0;
  lasp_element_t el;
  for (; p < end; p = el.value + el.size, n++) {
    if (!lasp_next_element(p, end, &el)) lasp_raise(L, "invalid BSON in a lazy document");
  }
  lua_pushinteger(L, z->is_array ? n : 0);
  return 1;
}

/* The pairs step: upvalue 1 is the byte offset of the next element, upvalue 2 the index
 * of the next array element, upvalue 3 the lazy metatable. */
static int lazy_next(lua_State *L) {
  lasp_lazy_t *z = lua_touserdata(L, 1);
  lua_Integer off = lua_tointeger(L, lua_upvalueindex(1));
  lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));
  const uint8_t *p = z->data + off, *end = z->data + z->len - 1;
  lasp_element_t el;
  if (p >= end) return 0;
  if (!lasp_next_element(p, end, &el)) lasp_raise(L, "invalid BSON in a lazy document");
  lua_pushinteger(L, (lua_Integer)(el.value + el.size - z->data));
  lua_replace(L, lua_upvalueindex(1));
  lua_pushinteger(L, i + 1);
  lua_replace(L, lua_upvalueindex(2));
  lua_settop(L, 1);
  if (z->is_array) {
    lua_pushinteger(L, i);
  } else {
    lua_pushlstring(L, (const char *)p + 1, el.key_len);
  }
  push_element(L, &el, lua_upvalueindex(3));
  return 2;
}

static int lazy_pairs(lua_State *L) {
  check_lazy(L, 1);
  lua_pushinteger(L, 4);
  lua_pushinteger(L, 1);
  lasp_push_lazy_mt(L);
  lua_pushcclosure(L, lazy_next, 3);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

static int lazy_tostring(lua_State *L) {
  lasp_lazy_t *z = lua_touserdata(L, 1);
  lua_pushfstring(L, "%s (%s, %d bytes)", LASP_LAZY_MT, z->is_array ? "array" : "document",
                  (int)z->len);
  return 1;
}

/* asp.materialize(v) -> a plain table for a lazy document; anything else as it is. */
static int l_materialize(lua_State *L) {
  const char *err;
  luaL_checkany(L, 1);
  const lasp_lazy_t *z = lasp_test_lazy(L, 1);
  lua_settop(L, 1);
  if (!z) return 1;
  if (!lasp_decode(L, z->data, z->len, z->is_array, LASP_DECODE_PLAIN, 0, 0, &err))
    return lasp_raise(L, "materialize: invalid BSON: %s", err);
  return 1;
}

void lasp_lazy_register(lua_State *L, int module_idx) {
  static const luaL_Reg meta[] = {{"__newindex", lazy_newindex}, {"__len", lazy_len},
                                  {"__pairs", lazy_pairs},       {"__eq", lazy_eq},
                                  {"__tostring", lazy_tostring}, {NULL, NULL}};
  module_idx = lasp_absindex(L, module_idx);
  lua_pushcfunction(L, l_materialize);
  lua_setfield(L, module_idx, "materialize");
  /* Opened again in the same state (busted clears package.loaded): the documents made
   * before must stay recognised, so the metatable is made once. */
  lasp_push_lazy_mt(L);
  bool exists = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (exists) return;
  lua_newtable(L);
  luaL_setfuncs(L, meta, 0);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, lazy_index, 1); /* a cycle through the registry: never collected */
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, LASP_LAZY_MT);
  lua_setfield(L, -2, "__name");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lasp_rawsetp(L, LUA_REGISTRYINDEX, &lazy_mt_key);
}
