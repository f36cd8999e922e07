/* BSON -> Lua. This is the hot path of every sampled document, so it walks the raw
 * bytes itself instead of going through bson_iter and bson_validate: one bounds-checked
 * pass per container validates it and counts its elements (so each table is created at
 * its final size, which costs less than the rehashes it saves), a second pass pushes
 * the values. The registry is read once per top-level call, never per value. Nothing
 * here trusts a length it has not checked against the enclosing one. */
#include <math.h>
#include <string.h>

#include "lasp_values.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

typedef struct {
  lua_State *L;
  int flags;
  int array_mt; /* stack index of the shared array marker metatable */
  int typed_mt; /* stack index of the typed-value metatable */
  int shapes;   /* ordered mode: stack index of the shape cache (see below), else 0 */
  int depth;
  const char *error; /* why decoding stopped */
} decoder_t;

/* Number types Lua cannot carry: in ordered mode the container remembers them in its
 * metatable (LASP_TYPES_FIELD) so that encoding the decoded value again gives the same
 * bytes. HINT_NONE: the default encoding rule reproduces the BSON type. */
typedef enum { HINT_NONE = 0, HINT_INT64, HINT_DOUBLE } hint_t;

static uint32_t read_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return BSON_UINT32_FROM_LE(v);
}

static int64_t read_i64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return (int64_t)BSON_UINT64_FROM_LE(v);
}

/* The hint a number element needs (the rule push_value applies when it pushes it). */
static hint_t hint_of(uint8_t type, const uint8_t *value) {
  if (type == BSON_TYPE_INT64) {
    int64_t v = read_i64(value);
    /* Larger values encode back as int64 by themselves (or come back boxed). */
    return v >= INT32_MIN && v <= INT32_MAX ? HINT_INT64 : HINT_NONE;
  }
#if !LASP_HAS_INTEGERS
  if (type == BSON_TYPE_DOUBLE) {
    /* Without a float subtype an integral double would come back as an integer. */
    int64_t bits = read_i64(value);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v == floor(v) && v >= -LASP_EXACT_INT_MAX && v <= LASP_EXACT_INT_MAX ? HINT_DOUBLE
                                                                                : HINT_NONE;
  }
#endif
  return HINT_NONE;
}

/* A BSON string (int32 length including the NUL, bytes, NUL) at p: its total size, or 0. */
static size_t string_size(const uint8_t *p, size_t avail) {
  uint32_t n;
  if (avail < 5) return 0;
  n = read_u32(p);
  if (n < 1 || n > avail - 4 || p[4 + n - 1] != '\0') return 0;
  return 4 + (size_t)n;
}

/* An embedded document at p: its size, or 0. Its elements are checked when it is walked
 * (or, inside a code-with-scope value, are raw bytes that are never walked here). */
static size_t document_size(const uint8_t *p, size_t avail) {
  uint32_t n;
  if (avail < 5) return 0;
  n = read_u32(p);
  if (n < 5 || n > avail || p[n - 1] != '\0') return 0;
  return n;
}

/* Size of the value of BSON type `type` at p, at most avail bytes; false if corrupt. */
static bool value_size(uint8_t type, const uint8_t *p, size_t avail, size_t *size) {
  size_t n = 0, m, scope;
  const uint8_t *nul;
  switch (type) {
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DATE_TIME:
    case BSON_TYPE_TIMESTAMP:
    case BSON_TYPE_INT64:
      n = 8;
      break;
    case BSON_TYPE_INT32:
      n = 4;
      break;
    case BSON_TYPE_OID:
      n = 12;
      break;
    case BSON_TYPE_DECIMAL128:
      n = 16;
      break;
    case BSON_TYPE_BOOL:
      if (avail < 1 || p[0] > 1) return false;
      n = 1;
      break;
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED:
    case BSON_TYPE_MINKEY:
    case BSON_TYPE_MAXKEY:
      n = 0;
      break;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_CODE:
    case BSON_TYPE_SYMBOL:
      if ((n = string_size(p, avail)) == 0) return false;
      break;
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
      if ((n = document_size(p, avail)) == 0) return false;
      break;
    case BSON_TYPE_BINARY:
      if (avail < 5 || (m = read_u32(p)) > avail - 5 || m > INT32_MAX) return false;
      /* The old binary subtype repeats the length inside the payload. */
      if (p[4] == BSON_SUBTYPE_BINARY_DEPRECATED && (m < 4 || read_u32(p + 5) != m - 4))
        return false;
      n = 5 + m;
      break;
    case BSON_TYPE_REGEX:
      if ((nul = memchr(p, '\0', avail)) == NULL) return false;
      n = (size_t)(nul - p) + 1;
      if ((nul = memchr(p + n, '\0', avail - n)) == NULL) return false;
      n = (size_t)(nul - p) + 1;
      break;
    case BSON_TYPE_DBPOINTER:
      if ((n = string_size(p, avail)) == 0 || avail - n < 12) return false;
      n += 12;
      break;
    case BSON_TYPE_CODEWSCOPE:
      /* int32 total, string code, document scope: the parts must add up exactly. */
      if (avail < 4 || (n = read_u32(p)) > avail || n < 14 || (m = string_size(p + 4, n - 4)) == 0)
        return false;
      if ((scope = document_size(p + 4 + m, n - 4 - m)) == 0 || scope != n - 4 - m) return false;
      break;
    default:
      return false;
  }
  if (n > avail) return false;
  *size = n;
  return true;
}

typedef lasp_element_t element_t;

/* Elements remembered by the validating pass so the pushing pass need not parse them
 * again; containers with more elements parse the rest twice (and their shape is not
 * cached, see below). */
#define CACHED_ELEMENTS 32

/* The first NUL in [q, end), or end. Keys are short, too short for a memchr call to pay:
 * eight bytes at a time, the first NUL found by the classic has-zero-byte test (the lowest
 * flagged byte is always a real NUL; on little-endian machines it is the first). */
static const uint8_t *find_nul(const uint8_t *q, const uint8_t *end) {
#if BSON_BYTE_ORDER == BSON_LITTLE_ENDIAN
  while (end - q >= 8) {
    uint64_t w, z;
    memcpy(&w, q, sizeof w);
    z = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
    if (z) return q + (__builtin_ctzll(z) >> 3);
    q += 8;
  }
#endif
  while (q < end && *q != '\0') q++;
  return q;
}

bool lasp_next_element(const uint8_t *p, const uint8_t *end, element_t *el) {
  const uint8_t *q = find_nul(p + 1, end);
  size_t size;
  if (q >= end) return false;
  el->type = p[0];
  el->key_len = (uint32_t)(q - p - 1);
  el->value = q + 1;
  if (!value_size(el->type, el->value, (size_t)(end - el->value), &size)) return false;
  el->size = (uint32_t)size;
  return true;
}

static bool push_children(decoder_t *d, const uint8_t *doc, size_t len, bool is_array);

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

/* Pushes the value of a validated element. Returns false (nothing pushed) only when a
 * nested container is corrupt or too deep. */
static bool push_value(decoder_t *d, const element_t *el, hint_t *hint) {
  lua_State *L = d->L;
  const uint8_t *p = el->value;
  *hint = HINT_NONE;
  switch (el->type) {
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL: /* deprecated: a string with another tag */
      lua_pushlstring(L, (const char *)p + 4, el->size - 5);
      return true;
    case BSON_TYPE_INT32:
      lua_pushinteger(L, (int32_t)read_u32(p));
      return true;
    case BSON_TYPE_DOUBLE: {
      int64_t bits = read_i64(p);
      double v;
      memcpy(&v, &bits, sizeof v);
      lua_pushnumber(L, (lua_Number)v);
      *hint = hint_of(el->type, p);
      return true;
    }
    case BSON_TYPE_INT64: {
      int64_t v = read_i64(p);
#if LASP_HAS_INTEGERS
      lua_pushinteger(L, (lua_Integer)v);
#else
      if (v < -(int64_t)LASP_EXACT_INT_MAX || v > (int64_t)LASP_EXACT_INT_MAX) {
        lasp_push_int64_box(L, v); /* a boxed int64 encodes back as int64 by itself */
        return true;
      }
      lua_pushnumber(L, (lua_Number)v);
#endif
      *hint = hint_of(el->type, p);
      return true;
    }
    case BSON_TYPE_BOOL:
      lua_pushboolean(L, p[0]);
      return true;
    case BSON_TYPE_DOCUMENT:
      return push_children(d, p, el->size, false);
    case BSON_TYPE_ARRAY:
      return push_children(d, p, el->size, true);
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED: /* deprecated: the nearest value is null */
      lua_pushlightuserdata(L, NULL);
      return true;
    default:
      lasp_push_typed_raw(L, (bson_type_t)el->type, p, el->size, d->typed_mt);
      return true;
  }
}

static bool fail(decoder_t *d, const char *why) {
  d->error = why;
  return false;
}

/* Ordered mode: documents of one shape (the same keys in the same order, with the same
 * number hints) come back again and again: the info of a processor, the rows of a list,
 * the documents of an ordered sample stream. Building an order list and a metatable for
 * each of them cost as much as decoding it, so the shapes seen last live in a cache in
 * the registry and their documents share one metatable; a document that gets a new key
 * takes a copy of its own first (lasp_set_ordered_methods), so the sharing is never
 * visible through the documented operations. The cache also keeps each shape's key
 * strings, pushed with a table read instead of being hashed and interned again.
 * (Plain mode does not use it: there the lookup costs what the interning saves.)
 * Slot i (a hash of the shape) holds at 3i+1 the shape's signature (each key, a NUL, the
 * hint byte), at 3i+2 its key list (never handed out) and at 3i+3 its metatable. A
 * collision replaces the slot. */
#define SHAPE_SLOT_BITS 7 /* 128 slots */

static const char shape_cache_key = 's';

/* A shape as the first pass sees it: a hash of its keys and hints, and its signature's
 * length. ok: cacheable (a document whose elements all fit in the element cache). */
typedef struct {
  uint32_t hash;
  size_t len;
  bool ok;
} shape_t;

static void shape_add(shape_t *s, const element_t *el) {
  const uint8_t *key = el->value - el->key_len - 1;
  uint32_t last = key[el->key_len ? el->key_len - 1 : 0];
  /* The slot only: the signature itself is compared on lookup, so a cheap mix of each
   * key's length, ends and hint is enough. */
  s->hash = (s->hash ^ (el->key_len | (uint32_t)key[0] << 8 | last << 16 |
                        (uint32_t)hint_of(el->type, el->value) << 24)) *
            16777619u;
  s->len += el->key_len + 2;
}

static int shape_slot(const shape_t *s) {
  /* The top bits: the multiplications mix every key into them. */
  return (int)(s->hash >> (32 - SHAPE_SLOT_BITS)) * 3 + 1;
}

/* Whether sig, a signature of s->len bytes, is the one of the n elements els. */
static bool shape_equal(const char *sig, const element_t *els, int n) {
  for (int i = 0; i < n; i++) {
    const element_t *el = &els[i];
    if (memcmp(sig, el->value - el->key_len - 1, el->key_len) != 0 || sig[el->key_len] != '\0' ||
        sig[el->key_len + 1] != (char)hint_of(el->type, el->value))
      return false;
    sig += el->key_len + 2;
  }
  return true;
}

/* The slot of the shape of the n elements els when the cache holds it, else 0. */
static int shape_find(decoder_t *d, const shape_t *s, const element_t *els, int n) {
  lua_State *L = d->L;
  size_t len;
  int slot = shape_slot(s);
  lua_rawgeti(L, d->shapes, slot);
  const char *sig = lua_tolstring(L, -1, &len);
  bool hit = sig != NULL && len == s->len && shape_equal(sig, els, n);
  lua_pop(L, 1);
  return hit ? slot : 0;
}

/* Pushes the signature of the n elements els (s->len bytes). Built in a userdata, so that
 * a memory error raised on the way leaks nothing. */
static void push_signature(lua_State *L, const shape_t *s, const element_t *els, int n) {
  char *sig = lasp_newuserdata(L, s->len, 0), *q = sig;
  for (int i = 0; i < n; i++) {
    const element_t *el = &els[i];
    memcpy(q, el->value - el->key_len - 1, el->key_len);
    q[el->key_len] = '\0';
    q[el->key_len + 1] = (char)hint_of(el->type, el->value);
    q += el->key_len + 2;
  }
  lua_pushlstring(L, sig, s->len);
  lua_remove(L, -2);
}

/* Caches the shape: its signature, key list (at keys) and metatable (at mt). Nothing is
 * stored until everything that may raise is done, so a memory error cannot leave a slot
 * whose parts belong to different shapes (the slots are preallocated: rawseti does not
 * allocate). */
static void shape_store(decoder_t *d, const shape_t *s, const element_t *els, int n, int keys,
                        int mt) {
  lua_State *L = d->L;
  int slot = shape_slot(s);
  push_signature(L, s, els, n);
  lua_rawseti(L, d->shapes, slot);
  lua_pushvalue(L, keys);
  lua_rawseti(L, d->shapes, slot + 1);
  lua_pushvalue(L, mt);
  lua_rawseti(L, d->shapes, slot + 2);
}

/* Pushes the container whose bytes (int32 length .. trailing NUL) are doc[0..len). */
static bool push_children(decoder_t *d, const uint8_t *doc, size_t len, bool is_array) {
  lua_State *L = d->L;
  const uint8_t *p, *end = doc + len - 1; /* the terminating NUL */
  bool ordered = (d->flags & LASP_DECODE_ORDERED) != 0;
  int n = 0, k, t, slot, order = 0, hints = 0, keys = 0, new_keys = 0, shared_mt = 0;
  element_t *el, spare, cache[CACHED_ELEMENTS];
  shape_t shape;
  shape.len = 0;
  shape.hash = 2166136261u;
  shape.ok = d->shapes != 0 && !is_array;
  if (++d->depth > LASP_MAX_DEPTH)
    return fail(d, "document nests deeper than " STRINGIFY(LASP_MAX_DEPTH) " levels");
  if (!lua_checkstack(L, 10)) return fail(d, "out of Lua stack space");
  for (p = doc + 4; p < end; p = el->value + el->size, n++) {
    el = n < CACHED_ELEMENTS ? &cache[n] : &spare;
    if (!lasp_next_element(p, end, el)) return fail(d, "corrupt element");
    if (shape.ok) shape_add(&shape, el);
  }
  if (n > CACHED_ELEMENTS) shape.ok = false;
  if (is_array)
    lua_createtable(L, n, 0);
  else
    lua_createtable(L, 0, n);
  t = lua_gettop(L);
  if (shape.ok && (slot = shape_find(d, &shape, cache, n)) != 0) {
    lua_rawgeti(L, d->shapes, slot + 1);
    keys = lua_gettop(L);
    lua_rawgeti(L, d->shapes, slot + 2);
    shared_mt = lua_gettop(L);
  } else if (shape.ok) {
    lua_createtable(L, n, 0);
    new_keys = lua_gettop(L);
  }
  if (ordered && !shared_mt) {
    if (!is_array) {
      lua_createtable(L, n, 0);
      order = lua_gettop(L);
    }
    lua_pushnil(L); /* becomes the hints table on the first hint */
    hints = lua_gettop(L);
  }
  for (p = doc + 4, k = 1; p < end; p = el->value + el->size, k++) {
    hint_t hint;
    if (k <= CACHED_ELEMENTS) {
      el = &cache[k - 1];
    } else {
      el = &spare;
      lasp_next_element(p, end, el); /* validated by the counting pass */
    }
    if (is_array) {
      if (!push_value(d, el, &hint)) return false;
      lua_rawseti(L, t, k);
      if (hint != HINT_NONE && hints) {
        lua_pushinteger(L, k);
        record_hint(L, hints, lua_gettop(L), hint);
        lua_pop(L, 1);
      }
    } else {
      if (keys) {
        lua_rawgeti(L, keys, k);
      } else {
        lua_pushlstring(L, (const char *)el->value - el->key_len - 1, el->key_len);
        if (new_keys) {
          lua_pushvalue(L, -1);
          lua_rawseti(L, new_keys, k);
        }
      }
      if (order) {
        lua_pushvalue(L, -1);
        lua_rawseti(L, order, k);
      }
      if (!push_value(d, el, &hint)) return false;
      if (hint != HINT_NONE && hints) record_hint(L, hints, lua_gettop(L) - 1, hint);
      lua_rawset(L, t);
    }
  }
  if (shared_mt) {
    lua_pushvalue(L, shared_mt);
    lua_setmetatable(L, t);
  } else if (ordered && (!is_array || !lua_isnil(L, hints))) {
    /* An ordered container's metatable carries its key order and number hints. Arrays
     * without hints share the marker below. */
    int mt;
    lua_createtable(L, 0, 4);
    mt = lua_gettop(L);
    if (is_array) {
      lua_pushboolean(L, 1);
      lua_setfield(L, mt, LASP_ARRAY_FIELD);
    } else {
      lua_pushliteral(L, LASP_ORDER_FIELD);
      lua_pushvalue(L, order);
      lua_rawset(L, mt);
      lasp_set_ordered_methods(L, mt, shape.ok);
    }
    if (!lua_isnil(L, hints)) {
      lua_pushvalue(L, hints);
      lua_setfield(L, mt, LASP_TYPES_FIELD);
    }
    if (shape.ok) shape_store(d, &shape, cache, n, new_keys, mt);
    lua_setmetatable(L, t);
  } else if (is_array) {
    lua_pushvalue(L, d->array_mt);
    lua_setmetatable(L, t);
  }
  lua_settop(L, t);
  d->depth--;
  return true;
}

void lasp_push_scalar(lua_State *L, const lasp_element_t *el) {
  decoder_t d;
  hint_t hint;
  d.L = L;
  d.flags = LASP_DECODE_PLAIN;
  d.typed_mt = 0;
  d.shapes = 0;
  d.depth = 0;
  d.error = NULL;
  push_value(&d, el, &hint);
}

bool lasp_decode(lua_State *L, const uint8_t *data, size_t len, bool as_array, int flags,
                 int array_mt, int typed_mt, const char **err) {
  decoder_t d;
  int top = lua_gettop(L);
  bool ok;
  d.L = L;
  d.flags = flags;
  d.depth = 0;
  d.error = "corrupt document";
  if (!lua_checkstack(L, 6)) {
    *err = "out of Lua stack space";
    return false;
  }
  /* Helpers live on the stack above `top` for the whole decode, removed at the end. */
  if (array_mt == 0) {
    lasp_push_array_mt(L);
    array_mt = lua_gettop(L);
  }
  d.array_mt = array_mt;
  if (typed_mt == 0) {
    lasp_push_typed_mt(L);
    typed_mt = lua_gettop(L);
  }
  d.typed_mt = typed_mt;
  d.shapes = 0;
  if (flags & LASP_DECODE_ORDERED) {
    lasp_rawgetp(L, LUA_REGISTRYINDEX, &shape_cache_key);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_createtable(L, 3 << SHAPE_SLOT_BITS, 0);
      lua_pushvalue(L, -1);
      lasp_rawsetp(L, LUA_REGISTRYINDEX, &shape_cache_key);
    }
    d.shapes = lua_gettop(L);
  }
  ok = len >= 5 && len <= UINT32_MAX && read_u32(data) == len && data[len - 1] == '\0' &&
       push_children(&d, data, len, as_array);
  if (!ok) {
    lua_settop(L, top);
    *err = d.error;
    return false;
  }
  if (lua_gettop(L) > top + 1) { /* helpers below the result */
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
  }
  return true;
}

void lasp_push_document(lua_State *L, const bson_t *doc, int flags) {
  const char *err;
  if (!lasp_decode(L, bson_get_data(doc), doc->len, false, flags, 0, 0, &err))
    luaL_error(L, "invalid BSON: %s", err);
}

void lasp_push_iter_value(lua_State *L, const bson_iter_t *iter, int flags) {
  bson_t one = BSON_INITIALIZER;
  const char *err = "value too large";
  uint32_t len = 0;
  const uint8_t *data = NULL;
  bool ok;
  /* Documents and arrays (each sampled document of a batch) are walked in place. */
  if (BSON_ITER_HOLDS_DOCUMENT(iter) || BSON_ITER_HOLDS_ARRAY(iter)) {
    bool is_array = BSON_ITER_HOLDS_ARRAY(iter);
    if (is_array)
      bson_iter_array(iter, &len, &data);
    else
      bson_iter_document(iter, &len, &data);
    if (data == NULL || !lasp_decode(L, data, len, is_array, flags, 0, 0, &err))
      luaL_error(L, "invalid BSON: %s", data == NULL ? "corrupt document" : err);
    return;
  }
  /* Any other value goes through the same checked path as the only element of a
   * document; this is not a hot path. */
  ok = bson_append_iter(&one, "v", 1, iter) &&
       lasp_decode(L, bson_get_data(&one), one.len, false, flags, 0, 0, &err);
  bson_destroy(&one);
  if (!ok) luaL_error(L, "invalid BSON: %s", err);
  lua_getfield(L, -1, "v");
  lua_remove(L, -2);
}
