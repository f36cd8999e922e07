/* Lua -> BSON. Never raises: every failure becomes "<what><path>: <reason>" in the
 * caller's buffer, the Lua stack is restored, and the bson_t is left closed (every
 * child opened is ended) so the caller can destroy it. Cycles are found by comparing
 * table addresses with the (at most LASP_MAX_DEPTH) tables being encoded, which needs no
 * allocation and no scratch table. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lasp_values.h"

typedef struct {
  const void *table; /* the table being encoded at this depth */
  const char *key;   /* its child being encoded: a document key, or NULL for an array */
  size_t key_len;
  lua_Integer index; /* the array child's Lua index */
} frame_t;

typedef struct {
  lua_State *L;
  int array_mt; /* stack indexes of the two metatables the encoder recognises */
  int typed_mt;
  int depth;
  const char *what;
  char *err;
  size_t err_len;
  frame_t frames[LASP_MAX_DEPTH];
} encoder_t;

typedef enum { SHAPE_DOCUMENT, SHAPE_ORDERED, SHAPE_ARRAY } shape_kind_t;

typedef struct {
  shape_kind_t kind;
  int order;       /* stack index of the key order (SHAPE_ORDERED) */
  int hints;       /* stack index of the number-type hints, or 0 */
  lua_Integer len; /* element count (SHAPE_ARRAY) */
} shape_t;

typedef enum { HINT_NONE = 0, HINT_INT64, HINT_DOUBLE } hint_t;

static size_t put(char *buf, size_t len, size_t pos, const char *fmt, ...) BSON_GNUC_PRINTF(4, 5);

static size_t put(char *buf, size_t len, size_t pos, const char *fmt, ...) {
  va_list ap;
  int n;
  if (pos >= len) return pos;
  va_start(ap, fmt);
  n = vsnprintf(buf + pos, len - pos, fmt, ap);
  va_end(ap);
  return n < 0 ? pos : pos + (size_t)n;
}

static bool fail(encoder_t *e, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);

static bool fail(encoder_t *e, const char *fmt, ...) {
  char reason[160];
  size_t pos, room;
  int i;
  va_list ap;
  if (e->err == NULL || e->err_len == 0) return false;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  /* The reason matters more than the middle of a very long path: keep room for it and
   * end a cut path with "...". */
  room = e->err_len > strlen(reason) + 3 ? e->err_len - strlen(reason) - 2 : e->err_len;
  pos = put(e->err, room, 0, "%s", e->what);
  for (i = 0; i < e->depth; i++) {
    const frame_t *f = &e->frames[i];
    if (f->key != NULL)
      pos = put(e->err, room, pos, ".%.*s", (int)f->key_len, f->key);
    else
      pos = put(e->err, room, pos, "[%lld]", (long long)f->index);
  }
  if (pos >= room) {
    pos = room - 1;
    if (pos >= 3) memcpy(e->err + pos - 3, "...", 3);
  }
  put(e->err, e->err_len, pos, ": %s", reason);
  return false;
}

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), as the
 * server checks it. ASCII, nearly all keys and most strings, is checked 8 bytes at a time. */
static bool utf8_ok(const char *str, size_t len, bool allow_nul) {
  const uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    size_t n, k;
    uint32_t cp;
    if (i + 8 <= len) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if ((w & high) == 0) {
        if (!allow_nul && ((w - ones) & ~w & high)) return false;
        i += 8;
        continue;
      }
    }
    if (c < 0x80) {
      if (c == 0 && !allow_nul) return false;
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false; /* continuation byte, overlong 2-byte lead, or beyond U+10FFFF */
    }
    if (len - i <= n) return false;
    for (k = 1; k <= n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += n + 1;
  }
  return true;
}

static bool encode_value(encoder_t *e, int idx, bson_t *b, const char *key, int key_len,
                         hint_t hint);

static bool encode_number(encoder_t *e, int idx, bson_t *b, const char *key, int key_len,
                          hint_t hint) {
  lua_State *L = e->L;
  int64_t i;
#if LASP_HAS_INTEGERS
  bool integral = lua_isinteger(L, idx);
  if (integral) i = (int64_t)lua_tointeger(L, idx);
#else
  /* Without an integer subtype, integral values within 2^53 are the integers. */
  bool integral = lasp_isinteger(L, idx);
  if (integral) i = (int64_t)lua_tonumber(L, idx);
#endif
  if (!integral || hint == HINT_DOUBLE)
    return bson_append_double(b, key, key_len, (double)lua_tonumber(L, idx));
  if (hint != HINT_INT64 && i >= INT32_MIN && i <= INT32_MAX)
    return bson_append_int32(b, key, key_len, (int32_t)i);
  return bson_append_int64(b, key, key_len, i);
}

/* Reads the hint stored for key (at stack index key) in the hints table. */
static hint_t hint_for(lua_State *L, int hints, int key) {
  hint_t hint = HINT_NONE;
  const char *s;
  lua_pushvalue(L, key);
  lua_rawget(L, hints);
  s = lua_tostring(L, -1);
  if (s != NULL) {
    if (strcmp(s, "int64") == 0)
      hint = HINT_INT64;
    else if (strcmp(s, "double") == 0)
      hint = HINT_DOUBLE;
  }
  lua_pop(L, 1);
  return hint;
}

/* Plain tables are arrays when their keys are exactly 1..n. */
static bool keys_are_sequence(lua_State *L, int idx, lua_Integer n) {
  lua_Integer count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TNUMBER || !lasp_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
        lua_tointeger(L, -1) > n || ++count > n) {
      lua_pop(L, 1);
      return false;
    }
  }
  return count == n;
}

/* Works out what the table at idx encodes to. May push the metatable, the key order and
 * the hints; the caller restores the stack top. */
static void classify(encoder_t *e, int idx, shape_t *s) {
  lua_State *L = e->L;
  s->order = s->hints = 0;
  if (lua_getmetatable(L, idx)) {
    bool is_array;
    if (lua_rawequal(L, -1, e->array_mt)) {
      s->kind = SHAPE_ARRAY;
      s->len = (lua_Integer)lua_rawlen(L, idx);
      return;
    }
    lua_pushliteral(L, LASP_ARRAY_FIELD);
    lua_rawget(L, -2);
    is_array = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (!is_array) {
      lua_pushliteral(L, LASP_ORDER_FIELD);
      lua_rawget(L, -2);
      if (lua_istable(L, -1))
        s->order = lua_gettop(L);
      else
        lua_pop(L, 1);
    }
    if (is_array || s->order) {
      lua_pushliteral(L, LASP_TYPES_FIELD);
      lua_rawget(L, -(s->order ? 3 : 2));
      if (lua_istable(L, -1))
        s->hints = lua_gettop(L);
      else
        lua_pop(L, 1);
    }
    if (is_array) {
      s->kind = SHAPE_ARRAY;
      s->len = (lua_Integer)lua_rawlen(L, idx);
      return;
    }
    if (s->order) {
      s->kind = SHAPE_ORDERED;
      return;
    }
    /* Any other metatable is not ours to interpret: the table is encoded as plain. */
  }
  s->len = (lua_Integer)lua_rawlen(L, idx);
  s->kind = s->len > 0 && keys_are_sequence(L, idx, s->len) ? SHAPE_ARRAY : SHAPE_DOCUMENT;
}

static bool bad_key(encoder_t *e, int key) {
  lua_State *L = e->L;
  e->depth--; /* the path names the table, not one of its children */
  if (lua_type(L, key) == LUA_TNUMBER) {
    lua_pushvalue(L, key); /* a copy: lua_tostring must not change a key lua_next uses */
    return fail(e, "document key %s is not a string (arrays need keys exactly 1..n)",
                lua_tostring(L, -1));
  }
  return fail(e, "document key of type %s is not a string", luaL_typename(L, key));
}

/* Encodes the value at top under the string key at key_idx. */
static bool encode_field(encoder_t *e, frame_t *f, int key_idx, int hints, bson_t *b) {
  lua_State *L = e->L;
  size_t len;
  const char *key = lua_tolstring(L, key_idx, &len);
  hint_t hint = HINT_NONE;
  if (!utf8_ok(key, len, false) || len > INT32_MAX) {
    e->depth--; /* the path names the table: the key itself may not be printable */
    return fail(e, "key is not valid UTF-8 or contains a NUL byte");
  }
  f->key = key;
  f->key_len = len;
  if (hints && lua_type(L, -1) == LUA_TNUMBER) hint = hint_for(L, hints, key_idx);
  return encode_value(e, lua_gettop(L), b, key, (int)len, hint);
}

static bool encode_plain(encoder_t *e, int idx, frame_t *f, bson_t *b) {
  lua_State *L = e->L;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) return bad_key(e, lua_gettop(L) - 1);
    if (!encode_field(e, f, lua_gettop(L) - 1, 0, b)) return false;
    lua_pop(L, 1);
  }
  return true;
}

static bool encode_ordered(encoder_t *e, int idx, const shape_t *s, frame_t *f, bson_t *b) {
  lua_State *L = e->L;
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, s->order), emitted = 0, total = 0;
  int top = lua_gettop(L), seen;
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, s->order, i);
    if (lua_type(L, -1) != LUA_TSTRING) {
      e->depth--; /* about the table itself, not one of its children */
      return fail(e, "%s[%lld] is not a string", LASP_ORDER_FIELD, (long long)i);
    }
    lua_pushvalue(L, -1);
    lua_rawget(L, idx);
    if (!lua_isnil(L, -1)) {
      if (!encode_field(e, f, top + 1, s->hints, b)) return false;
      emitted++;
    }
    lua_settop(L, top);
  }
  /* Keys added after the order was recorded follow in pairs() order. Counting first
   * keeps the common case (no extra keys) free of a lookup table. */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    total++;
  }
  if (total <= emitted) return true;
  lua_createtable(L, 0, (int)n);
  seen = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, s->order, i);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);
  }
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) return bad_key(e, lua_gettop(L) - 1);
    lua_pushvalue(L, -2);
    lua_rawget(L, seen);
    if (lua_toboolean(L, -1)) {
      lua_pop(L, 2);
      continue;
    }
    lua_pop(L, 1);
    if (!encode_field(e, f, lua_gettop(L) - 1, s->hints, b)) return false;
    lua_pop(L, 1);
  }
  return true;
}

static bool encode_array(encoder_t *e, int idx, const shape_t *s, frame_t *f, bson_t *b) {
  lua_State *L = e->L;
  lua_Integer i;
  f->key = NULL;
  for (i = 1; i <= s->len; i++) {
    char buf[24];
    const char *key;
    size_t key_len;
    hint_t hint = HINT_NONE;
    bool ok;
    f->index = i;
    key_len = bson_uint32_to_string((uint32_t)(i - 1), &key, buf, sizeof buf);
    lua_rawgeti(L, idx, i);
    if (s->hints && lua_type(L, -1) == LUA_TNUMBER) {
      lua_pushinteger(L, i);
      hint = hint_for(L, s->hints, lua_gettop(L));
      lua_pop(L, 1);
    }
    ok = encode_value(e, lua_gettop(L), b, key, (int)key_len, hint);
    lua_pop(L, 1);
    if (!ok) return false;
  }
  return true;
}

/* Checks depth and cycles for the table at idx and classifies it. On success a frame is
 * pushed (the caller pops it with leave()). */
static bool enter(encoder_t *e, int idx, shape_t *s) {
  const void *p = lua_topointer(e->L, idx);
  int i;
  for (i = 0; i < e->depth; i++)
    if (e->frames[i].table == p) return fail(e, "cycle detected");
  if (e->depth >= LASP_MAX_DEPTH) return fail(e, "depth exceeds %d", LASP_MAX_DEPTH);
  if (!lua_checkstack(e->L, 12)) return fail(e, "out of Lua stack space");
  classify(e, idx, s);
  e->frames[e->depth].table = p;
  e->frames[e->depth].key = NULL;
  e->frames[e->depth].index = 0;
  e->depth++;
  return true;
}

static bool encode_contents(encoder_t *e, int idx, const shape_t *s, bson_t *b) {
  frame_t *f = &e->frames[e->depth - 1];
  bool ok;
  switch (s->kind) {
    case SHAPE_ARRAY:
      ok = encode_array(e, idx, s, f, b);
      break;
    case SHAPE_ORDERED:
      ok = encode_ordered(e, idx, s, f, b);
      break;
    default:
      ok = encode_plain(e, idx, f, b);
      break;
  }
  if (ok) e->depth--;
  return ok; /* on failure the frames stay: fail() has already used them for the path */
}

static bool encode_table(encoder_t *e, int idx, bson_t *b, const char *key, int key_len) {
  lua_State *L = e->L;
  int top = lua_gettop(L);
  shape_t s;
  bson_t child;
  bool ok;
  if (!enter(e, idx, &s)) return false;
  if (s.kind == SHAPE_ARRAY)
    ok = bson_append_array_begin(b, key, key_len, &child);
  else
    ok = bson_append_document_begin(b, key, key_len, &child);
  if (!ok) {
    e->depth--;
    lua_settop(L, top);
    return fail(e, "document exceeds the maximum BSON size");
  }
  ok = encode_contents(e, idx, &s, &child);
  /* End the child even after a failure so the parent is usable (and destroyable). */
  if (s.kind == SHAPE_ARRAY) {
    if (!bson_append_array_end(b, &child) && ok)
      ok = fail(e, "document exceeds the maximum BSON size");
  } else if (!bson_append_document_end(b, &child) && ok) {
    ok = fail(e, "document exceeds the maximum BSON size");
  }
  lua_settop(L, top);
  return ok;
}

static bool encode_value(encoder_t *e, int idx, bson_t *b, const char *key, int key_len,
                         hint_t hint) {
  lua_State *L = e->L;
  bool ok;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      if (!utf8_ok(s, len, true)) return fail(e, "invalid UTF-8 string (use asp.binary for bytes)");
      if (len > INT32_MAX) return fail(e, "string too long for BSON");
      ok = bson_append_utf8(b, key, key_len, s, (int)len);
      break;
    }
    case LUA_TNUMBER:
      ok = encode_number(e, idx, b, key, key_len, hint);
      break;
    case LUA_TBOOLEAN:
      ok = bson_append_bool(b, key, key_len, lua_toboolean(L, idx));
      break;
    case LUA_TTABLE:
      return encode_table(e, idx, b, key, key_len);
    case LUA_TNIL: /* a hole in an array: null keeps the positions */
      ok = bson_append_null(b, key, key_len);
      break;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) != NULL)
        return fail(e, "light userdata cannot be converted to BSON (only NULL, as asp.null)");
      ok = bson_append_null(b, key, key_len);
      break;
    case LUA_TUSERDATA: {
      const lasp_typed_t *v = lasp_test_typed(L, idx, e->typed_mt);
      const lasp_lazy_t *z;
      bson_t view;
      if (v != NULL) {
        ok = lasp_append_typed(b, key, key_len, v);
      } else if ((z = lasp_test_lazy(L, idx)) != NULL) {
        /* a lazy document's bytes go in as they are */
        if (!lasp_lazy_valid(z)) return fail(e, "invalid BSON in a lazy document");
        ok = bson_init_static(&view, z->data, z->len) &&
             (z->is_array ? bson_append_array(b, key, key_len, &view)
                          : bson_append_document(b, key, key_len, &view));
      } else {
        return fail(e, "userdata cannot be converted to BSON");
      }
      break;
    }
    default:
      return fail(e, "%s cannot be converted to BSON", luaL_typename(L, idx));
  }
  return ok ? true : fail(e, "document exceeds the maximum BSON size");
}

static void encoder_init(encoder_t *e, lua_State *L, const char *what, char *err, size_t err_len) {
  e->L = L;
  e->depth = 0;
  e->what = what != NULL ? what : "value";
  e->err = err;
  e->err_len = err_len;
  if (err != NULL && err_len > 0) err[0] = '\0';
  lasp_push_array_mt(L);
  e->array_mt = lua_gettop(L);
  lasp_push_typed_mt(L);
  e->typed_mt = lua_gettop(L);
}

bool lasp_encode_table(lua_State *L, int idx, bson_t *out, bool *is_array, const char *what,
                       char *err, size_t err_len) {
  encoder_t e;
  shape_t s;
  int top;
  bool ok = false;
  idx = lasp_absindex(L, idx);
  top = lua_gettop(L);
  if (!lua_checkstack(L, 16)) {
    snprintf(err, err_len, "%s: out of Lua stack space", what != NULL ? what : "value");
    return false;
  }
  encoder_init(&e, L, what, err, err_len);
  const lasp_lazy_t *z = lasp_test_lazy(L, idx);
  bson_t view;
  if (z != NULL) {
    *is_array = z->is_array;
    if (!lasp_lazy_valid(z)) {
      fail(&e, "invalid BSON in a lazy document");
    } else {
      ok = bson_init_static(&view, z->data, z->len) && bson_concat(out, &view);
      if (!ok) fail(&e, "document exceeds the maximum BSON size");
    }
  } else if (lua_type(L, idx) != LUA_TTABLE) {
    fail(&e, "table expected, got %s", luaL_typename(L, idx));
  } else if (enter(&e, idx, &s)) {
    *is_array = s.kind == SHAPE_ARRAY;
    ok = encode_contents(&e, idx, &s, out);
  }
  lua_settop(L, top);
  return ok;
}

bool lasp_to_document(lua_State *L, int idx, bson_t *out, const char *what, char *err,
                      size_t err_len) {
  bool is_array = false;
  if (!lasp_encode_table(L, idx, out, &is_array, what, err, err_len)) return false;
  if (is_array) {
    snprintf(err, err_len, "%s: document expected, got an array", what != NULL ? what : "value");
    return false;
  }
  return true;
}

bool lasp_append_value(lua_State *L, int idx, bson_t *doc, const char *key, const char *what,
                       char *err, size_t err_len) {
  encoder_t e;
  size_t key_len = strlen(key);
  int top;
  bool ok;
  idx = lasp_absindex(L, idx);
  top = lua_gettop(L);
  if (!lua_checkstack(L, 16)) {
    snprintf(err, err_len, "%s: out of Lua stack space", what != NULL ? what : "value");
    return false;
  }
  encoder_init(&e, L, what, err, err_len);
  if (key_len > INT32_MAX || !utf8_ok(key, key_len, false))
    ok = fail(&e, "invalid key");
  else
    ok = encode_value(&e, idx, doc, key, (int)key_len, HINT_NONE);
  lua_settop(L, top);
  return ok;
}

bool lasp_table_is_array(lua_State *L, int idx) {
  encoder_t e;
  shape_t s;
  int top = lua_gettop(L);
  idx = lasp_absindex(L, idx);
  luaL_checkstack(L, 8, "out of Lua stack space");
  encoder_init(&e, L, NULL, NULL, 0);
  classify(&e, idx, &s);
  lua_settop(L, top);
  return s.kind == SHAPE_ARRAY;
}
