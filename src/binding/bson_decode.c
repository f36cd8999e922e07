/* BSON -> Lua. The hot path of every sampled document, so it walks the document with
 * bson_iter directly, sizes each table exactly (one counting pass is cheaper than the
 * rehashes it saves), and touches the registry once per top-level call, never per value. */
#include "lasp_values.h"

typedef struct {
  lua_State *L;
  int flags;
  int array_mt; /* stack index of the shared array marker metatable */
  int depth;
} decoder_t;

/* Number types Lua cannot carry: in ordered mode the container remembers them in its
 * metatable (LASP_TYPES_FIELD) so that encoding the decoded value again gives the same
 * bytes. 0 = the default encoding rule reproduces the BSON type. */
typedef enum { HINT_NONE = 0, HINT_INT64, HINT_DOUBLE } hint_t;

static hint_t push_value(decoder_t *d, const bson_iter_t *it);

static void record_hint(lua_State *L, int hints, int key, hint_t hint) {
  if (lua_isnil(L, hints)) {
    lua_newtable(L);
    lua_replace(L, hints);
  }
  lua_pushvalue(L, key);
  if (hint == HINT_INT64)
    lua_pushliteral(L, "int64");
  else
    lua_pushliteral(L, "double");
  lua_rawset(L, hints);
}

static void push_children(decoder_t *d, const bson_iter_t *first, bool is_array) {
  lua_State *L = d->L;
  bson_iter_t it = *first, counter = *first;
  bool ordered = (d->flags & LASP_DECODE_ORDERED) != 0;
  int n = 0, t, order = 0, hints = 0;
  if (++d->depth > LASP_MAX_DEPTH)
    luaL_error(L, "BSON document nests deeper than %d levels", LASP_MAX_DEPTH);
  luaL_checkstack(L, 8, "BSON document too deep");
  while (bson_iter_next(&counter)) n++;
  if (is_array)
    lua_createtable(L, n, 0);
  else
    lua_createtable(L, 0, n);
  t = lua_gettop(L);
  if (ordered) {
    if (!is_array) {
      lua_createtable(L, n, 0);
      order = t + 1;
    }
    lua_pushnil(L); /* becomes the hints table on the first hint */
    hints = lua_gettop(L);
  }
  if (is_array) {
    int i = 0;
    while (bson_iter_next(&it)) {
      hint_t hint = push_value(d, &it);
      lua_rawseti(L, t, ++i);
      if (hint != HINT_NONE && ordered) {
        lua_pushinteger(L, i);
        record_hint(L, hints, lua_gettop(L), hint);
        lua_pop(L, 1);
      }
    }
  } else if (ordered) {
    int i = 0;
    while (bson_iter_next(&it)) {
      hint_t hint;
      lua_pushlstring(L, bson_iter_key(&it), bson_iter_key_len(&it));
      lua_pushvalue(L, -1);
      lua_rawseti(L, order, ++i);
      if ((hint = push_value(d, &it)) != HINT_NONE) record_hint(L, hints, hints + 1, hint);
      lua_rawset(L, t);
    }
  } else {
    while (bson_iter_next(&it)) {
      lua_pushlstring(L, bson_iter_key(&it), bson_iter_key_len(&it));
      push_value(d, &it);
      lua_rawset(L, t);
    }
  }
  if (ordered && (!is_array || !lua_isnil(L, hints))) {
    /* Each ordered container gets its own metatable: it carries that container's key
     * order and number hints. Arrays without hints share the marker below. */
    lua_createtable(L, 0, 2);
    if (is_array) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, LASP_ARRAY_FIELD);
    } else {
      lua_pushvalue(L, order);
      lua_setfield(L, -2, LASP_ORDER_FIELD);
    }
    if (!lua_isnil(L, hints)) {
      lua_pushvalue(L, hints);
      lua_setfield(L, -2, LASP_TYPES_FIELD);
    }
    lua_setmetatable(L, t);
  } else if (is_array) {
    lua_pushvalue(L, d->array_mt);
    lua_setmetatable(L, t);
  }
  lua_settop(L, t);
  d->depth--;
}

static void push_container(decoder_t *d, const bson_iter_t *it, bool is_array) {
  bson_iter_t child;
  if (bson_iter_recurse(it, &child)) {
    push_children(d, &child, is_array);
  } else {
    lua_newtable(d->L); /* unreachable for validated input; keeps the stack contract */
  }
}

static hint_t push_value(decoder_t *d, const bson_iter_t *it) {
  lua_State *L = d->L;
  switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8: {
      uint32_t len;
      const char *s = bson_iter_utf8(it, &len);
      lua_pushlstring(L, s, len);
      return HINT_NONE;
    }
    case BSON_TYPE_INT32:
      lua_pushinteger(L, bson_iter_int32(it));
      return HINT_NONE;
    case BSON_TYPE_DOUBLE: {
      double v = bson_iter_double(it);
      lua_pushnumber(L, (lua_Number)v);
#if LASP_HAS_INTEGERS
      return HINT_NONE; /* a float stays a float and encodes as a double */
#else
      return lasp_isinteger(L, -1) ? HINT_DOUBLE : HINT_NONE;
#endif
    }
    case BSON_TYPE_INT64: {
      int64_t v = bson_iter_int64(it);
#if LASP_HAS_INTEGERS
      lua_pushinteger(L, (lua_Integer)v);
#else
      if (v < -(int64_t)LASP_EXACT_INT_MAX || v > (int64_t)LASP_EXACT_INT_MAX) {
        lasp_push_int64_box(L, v);
        return HINT_NONE;
      }
      lua_pushnumber(L, (lua_Number)v);
#endif
      return v >= INT32_MIN && v <= INT32_MAX ? HINT_INT64 : HINT_NONE;
    }
    case BSON_TYPE_BOOL:
      lua_pushboolean(L, bson_iter_bool(it));
      return HINT_NONE;
    case BSON_TYPE_DOCUMENT:
      push_container(d, it, false);
      return HINT_NONE;
    case BSON_TYPE_ARRAY:
      push_container(d, it, true);
      return HINT_NONE;
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED: /* deprecated; the nearest value is null */
      lua_pushlightuserdata(L, NULL);
      return HINT_NONE;
    case BSON_TYPE_SYMBOL: { /* deprecated; a symbol is a string with another tag */
      uint32_t len;
      const char *s = bson_iter_symbol(it, &len);
      lua_pushlstring(L, s, len);
      return HINT_NONE;
    }
    default:
      lasp_push_typed_iter(L, it);
      return HINT_NONE;
  }
}

static void decoder_init(decoder_t *d, lua_State *L, int flags) {
  d->L = L;
  d->flags = flags;
  d->depth = 0;
  luaL_checkstack(L, 4, "out of stack space");
  lasp_push_array_mt(L);
  d->array_mt = lua_gettop(L);
}

void lasp_push_bson(lua_State *L, const bson_t *doc, bool as_array, int flags) {
  decoder_t d;
  bson_iter_t it;
  decoder_init(&d, L, flags);
  if (bson_iter_init(&it, doc))
    push_children(&d, &it, as_array);
  else
    lua_newtable(L);
  lua_remove(L, d.array_mt);
}

void lasp_push_document(lua_State *L, const bson_t *doc, int flags) {
  lasp_push_bson(L, doc, false, flags);
}

void lasp_push_iter_value(lua_State *L, const bson_iter_t *iter, int flags) {
  decoder_t d;
  decoder_init(&d, L, flags);
  push_value(&d, iter);
  lua_remove(L, d.array_mt);
}
