/* Typed values: the BSON types Lua has no native value for (ObjectId, date, timestamp,
 * decimal128, binary, regex, min/max key, JavaScript code, DBPointer) and the explicit
 * number wrappers asp.int32 / asp.int64 / asp.double. All share one userdata layout and
 * one metatable, so the encoder recognises any of them with a single metatable
 * comparison, and every kind gets __tostring, __eq and (where it means something)
 * ordering for free. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lasp_values.h"

/* Registry key of the typed-value metatable: the address of a static. */
static const char typed_mt_key = 0;

struct lasp_typed {
  bson_type_t type; /* the BSON type this value encodes to */
  uint8_t subtype;  /* binary subtype */
  uint32_t len;     /* bytes in data[]: binary payload, regex pattern, code, dbpointer collection */
  uint32_t len2;    /* bytes at data + len + 1: regex options, code-with-scope scope document */
  union {
    int32_t i32;
    int64_t i64; /* int64, and date as milliseconds since the epoch */
    double d;
    bson_oid_t oid; /* objectid, dbpointer target */
    bson_decimal128_t dec;
    struct {
      uint32_t t, i;
    } ts;
  } v;
  char data[]; /* len bytes, NUL, len2 bytes, NUL */
};

void lasp_push_typed_mt(lua_State *L) {
  lasp_rawgetp(L, LUA_REGISTRYINDEX, &typed_mt_key);
}

/* A new typed value on the stack; mt: the index of the typed-value metatable, or 0 to look
 * it up (the decoder passes it: one registry read per document instead of per value). */
static lasp_typed_t *new_typed_in(lua_State *L, int mt, bson_type_t type, size_t len, size_t len2) {
  lasp_typed_t *v;
  if (mt) mt = lasp_absindex(L, mt);
  if (len > UINT32_MAX - 2 || len2 > UINT32_MAX - 2) luaL_error(L, "value too large for BSON");
  v = lasp_newuserdata(L, sizeof *v + len + len2 + 2, 0);
  memset(v, 0, sizeof *v);
  v->type = type;
  v->len = (uint32_t)len;
  v->len2 = (uint32_t)len2;
  v->data[len] = '\0';
  v->data[len + 1 + len2] = '\0';
  if (mt)
    lua_pushvalue(L, mt);
  else
    lasp_push_typed_mt(L);
  lua_setmetatable(L, -2);
  return v;
}

static lasp_typed_t *new_typed(lua_State *L, bson_type_t type, size_t len, size_t len2) {
  return new_typed_in(L, 0, type, len, len2);
}

static lasp_typed_t *new_typed_bytes_in(lua_State *L, int mt, bson_type_t type, const void *a,
                                        size_t len, const void *b, size_t len2) {
  lasp_typed_t *v = new_typed_in(L, mt, type, len, len2);
  if (len) memcpy(v->data, a, len);
  if (len2) memcpy(v->data + len + 1, b, len2);
  return v;
}

static lasp_typed_t *new_typed_bytes(lua_State *L, bson_type_t type, const void *a, size_t len,
                                     const void *b, size_t len2) {
  return new_typed_bytes_in(L, 0, type, a, len, b, len2);
}

const lasp_typed_t *lasp_test_typed(lua_State *L, int idx, int typed_mt) {
  const lasp_typed_t *v = NULL;
  if (lua_type(L, idx) == LUA_TUSERDATA && lua_getmetatable(L, idx)) {
    if (lua_rawequal(L, -1, typed_mt)) v = lua_touserdata(L, idx);
    lua_pop(L, 1);
  }
  return v;
}

static const lasp_typed_t *to_typed(lua_State *L, int idx) {
  const lasp_typed_t *v;
  lasp_push_typed_mt(L);
  v = lasp_test_typed(L, idx, lua_gettop(L));
  lua_pop(L, 1);
  return v;
}

const char *lasp_typed_kind(const lasp_typed_t *v) {
  switch (v->type) {
    case BSON_TYPE_INT32:
      return "int32";
    case BSON_TYPE_INT64:
      return "int64";
    case BSON_TYPE_DOUBLE:
      return "double";
    case BSON_TYPE_OID:
      return "objectid";
    case BSON_TYPE_DATE_TIME:
      return "date";
    case BSON_TYPE_TIMESTAMP:
      return "timestamp";
    case BSON_TYPE_DECIMAL128:
      return "decimal128";
    case BSON_TYPE_BINARY:
      return "binary";
    case BSON_TYPE_REGEX:
      return "regex";
    case BSON_TYPE_MINKEY:
      return "minkey";
    case BSON_TYPE_MAXKEY:
      return "maxkey";
    case BSON_TYPE_CODE:
    case BSON_TYPE_CODEWSCOPE:
      return "javascript";
    case BSON_TYPE_DBPOINTER:
      return "dbpointer";
    default:
      return "unknown";
  }
}

bool lasp_append_typed(bson_t *b, const char *key, int key_len, const lasp_typed_t *v) {
  switch (v->type) {
    case BSON_TYPE_INT32:
      return bson_append_int32(b, key, key_len, v->v.i32);
    case BSON_TYPE_INT64:
      return bson_append_int64(b, key, key_len, v->v.i64);
    case BSON_TYPE_DOUBLE:
      return bson_append_double(b, key, key_len, v->v.d);
    case BSON_TYPE_OID:
      return bson_append_oid(b, key, key_len, &v->v.oid);
    case BSON_TYPE_DATE_TIME:
      return bson_append_date_time(b, key, key_len, v->v.i64);
    case BSON_TYPE_TIMESTAMP:
      return bson_append_timestamp(b, key, key_len, v->v.ts.t, v->v.ts.i);
    case BSON_TYPE_DECIMAL128:
      return bson_append_decimal128(b, key, key_len, &v->v.dec);
    case BSON_TYPE_BINARY:
      return bson_append_binary(b, key, key_len, (bson_subtype_t)v->subtype,
                                (const uint8_t *)v->data, v->len);
    case BSON_TYPE_REGEX:
      return bson_append_regex_w_len(b, key, key_len, v->data, (int)v->len, v->data + v->len + 1);
    case BSON_TYPE_MINKEY:
      return bson_append_minkey(b, key, key_len);
    case BSON_TYPE_MAXKEY:
      return bson_append_maxkey(b, key, key_len);
    case BSON_TYPE_CODE:
      return bson_append_code(b, key, key_len, v->data);
    case BSON_TYPE_CODEWSCOPE: {
      bson_t scope;
      if (!bson_init_static(&scope, (const uint8_t *)v->data + v->len + 1, v->len2)) return false;
      return bson_append_code_with_scope(b, key, key_len, v->data, &scope);
    }
    case BSON_TYPE_DBPOINTER:
      return bson_append_dbpointer(b, key, key_len, v->data, &v->v.oid);
    default:
      return false;
  }
}

bool lasp_typed_int(const lasp_typed_t *v, int64_t *out) {
  if (v->type == BSON_TYPE_INT32) {
    *out = v->v.i32;
    return true;
  }
  if (v->type == BSON_TYPE_INT64) {
    *out = v->v.i64;
    return true;
  }
  return false;
}

bool lasp_typed_double(const lasp_typed_t *v, double *out) {
  if (v->type != BSON_TYPE_DOUBLE) return false;
  *out = v->v.d;
  return true;
}

void lasp_push_int64_box(lua_State *L, int64_t i) {
  new_typed(L, BSON_TYPE_INT64, 0, 0)->v.i64 = i;
}

static uint32_t read_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return BSON_UINT32_FROM_LE(v);
}

static uint64_t read_u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return BSON_UINT64_FROM_LE(v);
}

void lasp_push_typed_raw(lua_State *L, bson_type_t type, const uint8_t *p, size_t len, int mt) {
  lasp_typed_t *v;
  size_t n;
  switch (type) {
    case BSON_TYPE_OID:
      memcpy(new_typed_in(L, mt, type, 0, 0)->v.oid.bytes, p, 12);
      break;
    case BSON_TYPE_DATE_TIME:
      new_typed_in(L, mt, type, 0, 0)->v.i64 = (int64_t)read_u64(p);
      break;
    case BSON_TYPE_TIMESTAMP: /* increment first, then seconds */
      v = new_typed_in(L, mt, type, 0, 0);
      v->v.ts.i = read_u32(p);
      v->v.ts.t = read_u32(p + 4);
      break;
    case BSON_TYPE_DECIMAL128:
      v = new_typed_in(L, mt, type, 0, 0);
      v->v.dec.low = read_u64(p);
      v->v.dec.high = read_u64(p + 8);
      break;
    case BSON_TYPE_BINARY: {
      /* int32 length, subtype, bytes; the old subtype 2 nests a second length. */
      size_t skip = p[4] == BSON_SUBTYPE_BINARY_DEPRECATED ? 9 : 5;
      new_typed_bytes_in(L, mt, type, p + skip, len - skip, NULL, 0)->subtype = p[4];
      break;
    }
    case BSON_TYPE_REGEX:
      n = strlen((const char *)p);
      new_typed_bytes_in(L, mt, type, p, n, p + n + 1, len - n - 2);
      break;
    case BSON_TYPE_CODE:
      new_typed_bytes_in(L, mt, type, p + 4, len - 5, NULL, 0);
      break;
    case BSON_TYPE_CODEWSCOPE: /* int32 total, string code, scope document */
      n = read_u32(p + 4);
      new_typed_bytes_in(L, mt, type, p + 8, n - 1, p + 8 + n, len - 8 - n);
      break;
    case BSON_TYPE_DBPOINTER: /* string collection, ObjectId */
      n = read_u32(p);
      v = new_typed_bytes_in(L, mt, type, p + 4, n - 1, NULL, 0);
      memcpy(v->v.oid.bytes, p + 4 + n, 12);
      break;
    case BSON_TYPE_MINKEY:
    case BSON_TYPE_MAXKEY:
    default:
      new_typed_in(L, mt, type, 0, 0);
      break;
  }
}

/* ---- Constructors (the Lua boundary: luaL_check* belong here). */

/* An integer argument: a Lua integer, an integral float, or a decimal string (the only
 * way to write an exact int64 beyond 2^53 on Lua 5.1 / LuaJIT). */
static int64_t check_int(lua_State *L, int arg, int64_t lo, int64_t hi) {
  int64_t i;
  if (lua_type(L, arg) == LUA_TSTRING) {
    const char *s = lua_tostring(L, arg);
    char *end;
    long long parsed;
    errno = 0;
    parsed = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') luaL_argerror(L, arg, "not a decimal integer");
    i = parsed;
  } else {
    luaL_checknumber(L, arg);
    if (!lasp_toint64(L, arg, &i)) luaL_argerror(L, arg, "number has no integer representation");
  }
  if (i < lo || i > hi) luaL_argerror(L, arg, "integer out of range");
  return i;
}

static int l_int32(lua_State *L) {
  new_typed(L, BSON_TYPE_INT32, 0, 0)->v.i32 = (int32_t)check_int(L, 1, INT32_MIN, INT32_MAX);
  return 1;
}

static int l_int64(lua_State *L) {
  lasp_push_int64_box(L, check_int(L, 1, INT64_MIN, INT64_MAX));
  return 1;
}

static int l_double(lua_State *L) {
  new_typed(L, BSON_TYPE_DOUBLE, 0, 0)->v.d = (double)luaL_checknumber(L, 1);
  return 1;
}

static int l_objectid(lua_State *L) {
  bson_oid_t oid;
  if (lua_isnoneornil(L, 1)) {
    bson_oid_init(&oid, NULL);
  } else {
    size_t len;
    const char *hex = luaL_checklstring(L, 1, &len);
    luaL_argcheck(L, bson_oid_is_valid(hex, len), 1, "24 hexadecimal digits expected");
    bson_oid_init_from_string(&oid, hex);
  }
  bson_oid_copy(&oid, &new_typed(L, BSON_TYPE_OID, 0, 0)->v.oid);
  return 1;
}

/* ISO-8601 dates are parsed by libbson's Extended JSON reader ({"$date": "..."}), so
 * asp.date accepts what from_json accepts, plus the "+HH:MM" offset form (the one
 * sample_stream_solar and mongosh print), which that reader only takes as "+HHMM". */
static bool parse_iso_date(const char *s, size_t len, int64_t *ms) {
  char json[128];
  bson_t doc;
  bson_iter_t it;
  size_t i, body = len;
  bool ok;
  if (len > 64) return false;
  for (i = 0; i < len; i++)
    if (s[i] == '"' || s[i] == '\\' || (unsigned char)s[i] < 0x20) return false;
  if (len >= 6 && s[len - 3] == ':' && (s[len - 6] == '+' || s[len - 6] == '-'))
    body = len - 3; /* "+HH" here, "MM" appended below */
  snprintf(json, sizeof json, "{\"d\":{\"$date\":\"%.*s%s\"}}", (int)body, s,
           body == len ? "" : s + len - 2);
  if (!bson_init_from_json(&doc, json, -1, NULL)) return false;
  ok = bson_iter_init_find(&it, &doc, "d") && BSON_ITER_HOLDS_DATE_TIME(&it);
  if (ok) *ms = bson_iter_date_time(&it);
  bson_destroy(&doc);
  return ok;
}

static int l_date(lua_State *L) {
  int64_t ms;
  if (lua_isnoneornil(L, 1)) {
    struct timeval tv;
    bson_gettimeofday(&tv);
    ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
  } else if (lua_type(L, 1) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    luaL_argcheck(L, parse_iso_date(s, len, &ms), 1, "ISO-8601 date expected");
  } else {
    ms = check_int(L, 1, INT64_MIN, INT64_MAX);
  }
  new_typed(L, BSON_TYPE_DATE_TIME, 0, 0)->v.i64 = ms;
  return 1;
}

static int l_timestamp(lua_State *L) {
  uint32_t t = (uint32_t)check_int(L, 1, 0, UINT32_MAX);
  uint32_t i = (uint32_t)check_int(L, 2, 0, UINT32_MAX);
  lasp_typed_t *v = new_typed(L, BSON_TYPE_TIMESTAMP, 0, 0);
  v->v.ts.t = t;
  v->v.ts.i = i;
  return 1;
}

static int l_decimal128(lua_State *L) {
  bson_decimal128_t dec;
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, bson_decimal128_from_string_w_len(s, (int)len, &dec), 1,
                "decimal number string expected");
  new_typed(L, BSON_TYPE_DECIMAL128, 0, 0)->v.dec = dec;
  return 1;
}

static int l_binary(lua_State *L) {
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  int64_t subtype = lua_isnoneornil(L, 2) ? 0 : check_int(L, 2, 0, 255);
  new_typed_bytes(L, BSON_TYPE_BINARY, data, len, NULL, 0)->subtype = (uint8_t)subtype;
  return 1;
}

static int l_regex(lua_State *L) {
  size_t len, olen = 0;
  const char *pattern = luaL_checklstring(L, 1, &len);
  const char *options = luaL_optlstring(L, 2, "", &olen);
  luaL_argcheck(L, memchr(pattern, '\0', len) == NULL, 1, "pattern contains a NUL byte");
  luaL_argcheck(L, strspn(options, "ilmsux") == olen, 2, "options must be among \"ilmsux\"");
  new_typed_bytes(L, BSON_TYPE_REGEX, pattern, len, options, olen);
  return 1;
}

static int l_javascript(lua_State *L) {
  size_t len;
  const char *code = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, memchr(code, '\0', len) == NULL, 1, "code contains a NUL byte");
  new_typed_bytes(L, BSON_TYPE_CODE, code, len, NULL, 0);
  return 1;
}

/* ---- Metamethods. */

static const lasp_typed_t *check_typed(lua_State *L, int idx) {
  const lasp_typed_t *v = to_typed(L, idx);
  if (v == NULL) luaL_argerror(L, idx, "asp typed value expected");
  return v;
}

static void push_int64(lua_State *L, int64_t i) {
#if LASP_HAS_INTEGERS
  lua_pushinteger(L, (lua_Integer)i);
#else
  lua_pushnumber(L, (lua_Number)i);
#endif
}

/* Days since 1970-01-01 to a proleptic Gregorian (year, month, day): Howard Hinnant's
 * civil_from_days, valid over the whole int64 millisecond range. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  int64_t era, doe, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static void push_iso_date(lua_State *L, int64_t ms) {
  const int64_t day_ms = 86400000;
  int64_t days = ms / day_ms, rest = ms % day_ms, year;
  int month, day;
  if (rest < 0) {
    rest += day_ms;
    days--;
  }
  civil_from_days(days, &year, &month, &day);
  {
    char buf[64];
    snprintf(buf, sizeof buf, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month, day,
             (int)(rest / 3600000), (int)(rest / 60000 % 60), (int)(rest / 1000 % 60),
             (int)(rest % 1000));
    lua_pushstring(L, buf);
  }
}

static int m_tostring(lua_State *L) {
  const lasp_typed_t *v = check_typed(L, 1);
  char buf[BSON_DECIMAL128_STRING > 64 ? BSON_DECIMAL128_STRING : 64];
  switch (v->type) {
    case BSON_TYPE_INT32:
      snprintf(buf, sizeof buf, "%" PRId32, v->v.i32);
      break;
    case BSON_TYPE_INT64:
      snprintf(buf, sizeof buf, "%" PRId64, v->v.i64);
      break;
    case BSON_TYPE_DOUBLE:
      snprintf(buf, sizeof buf, "%.17g", v->v.d);
      break;
    case BSON_TYPE_OID:
      bson_oid_to_string(&v->v.oid, buf);
      break;
    case BSON_TYPE_DATE_TIME:
      push_iso_date(L, v->v.i64);
      return 1;
    case BSON_TYPE_TIMESTAMP:
      snprintf(buf, sizeof buf, "Timestamp(%" PRIu32 ", %" PRIu32 ")", v->v.ts.t, v->v.ts.i);
      break;
    case BSON_TYPE_DECIMAL128:
      bson_decimal128_to_string(&v->v.dec, buf);
      break;
    case BSON_TYPE_REGEX:
      lua_pushfstring(L, "/%s/%s", v->data, v->data + v->len + 1);
      return 1;
    case BSON_TYPE_MINKEY:
      lua_pushliteral(L, "MinKey");
      return 1;
    case BSON_TYPE_MAXKEY:
      lua_pushliteral(L, "MaxKey");
      return 1;
    default: {
      /* binary, code, dbpointer: their canonical Extended JSON says everything. */
      bson_t doc;
      bson_init(&doc);
      lasp_append_typed(&doc, "v", 1, v);
      lasp_push_wrapped_json(L, &doc, true);
      bson_destroy(&doc);
      return 1;
    }
  }
  lua_pushstring(L, buf);
  return 1;
}

static int m_index(lua_State *L) {
  const lasp_typed_t *v = check_typed(L, 1);
  const char *k = lua_tostring(L, 2);
  if (k == NULL || lua_type(L, 2) != LUA_TSTRING) return 0;
  switch (v->type) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
      if (strcmp(k, "value") != 0) return 0;
      if (v->type == BSON_TYPE_DOUBLE)
        lua_pushnumber(L, (lua_Number)v->v.d);
      else if (v->type == BSON_TYPE_INT32)
        push_int64(L, v->v.i32);
      else
        push_int64(L, v->v.i64);
      return 1;
    case BSON_TYPE_OID:
      if (strcmp(k, "hex") != 0) return 0;
      {
        char hex[25];
        bson_oid_to_string(&v->v.oid, hex);
        lua_pushstring(L, hex);
      }
      return 1;
    case BSON_TYPE_DATE_TIME:
      if (strcmp(k, "ms") != 0) return 0;
      push_int64(L, v->v.i64);
      return 1;
    case BSON_TYPE_TIMESTAMP:
      if (strcmp(k, "t") == 0)
        push_int64(L, v->v.ts.t);
      else if (strcmp(k, "i") == 0)
        push_int64(L, v->v.ts.i);
      else
        return 0;
      return 1;
    case BSON_TYPE_BINARY:
      if (strcmp(k, "data") == 0)
        lua_pushlstring(L, v->data, v->len);
      else if (strcmp(k, "subtype") == 0)
        push_int64(L, v->subtype);
      else
        return 0;
      return 1;
    case BSON_TYPE_REGEX:
      if (strcmp(k, "pattern") == 0)
        lua_pushlstring(L, v->data, v->len);
      else if (strcmp(k, "options") == 0)
        lua_pushlstring(L, v->data + v->len + 1, v->len2);
      else
        return 0;
      return 1;
    case BSON_TYPE_CODE:
    case BSON_TYPE_CODEWSCOPE:
      if (strcmp(k, "code") == 0) {
        lua_pushlstring(L, v->data, v->len);
      } else if (strcmp(k, "scope") == 0 && v->type == BSON_TYPE_CODEWSCOPE) {
        bson_t scope;
        if (!bson_init_static(&scope, (const uint8_t *)v->data + v->len + 1, v->len2)) return 0;
        lasp_push_document(L, &scope, LASP_DECODE_ORDERED);
      } else {
        return 0;
      }
      return 1;
    case BSON_TYPE_DBPOINTER:
      if (strcmp(k, "collection") == 0)
        lua_pushlstring(L, v->data, v->len);
      else if (strcmp(k, "id") == 0)
        bson_oid_copy(&v->v.oid, &new_typed(L, BSON_TYPE_OID, 0, 0)->v.oid);
      else
        return 0;
      return 1;
    default:
      return 0;
  }
}

static int m_eq(lua_State *L) {
  const lasp_typed_t *a = to_typed(L, 1), *b = to_typed(L, 2);
  bool eq = false;
  if (a != NULL && b != NULL && a->type == b->type && a->subtype == b->subtype &&
      a->len == b->len && a->len2 == b->len2) {
    switch (a->type) {
      case BSON_TYPE_INT32:
        eq = a->v.i32 == b->v.i32;
        break;
      case BSON_TYPE_INT64:
      case BSON_TYPE_DATE_TIME:
        eq = a->v.i64 == b->v.i64;
        break;
      case BSON_TYPE_DOUBLE:
        eq = a->v.d == b->v.d;
        break;
      case BSON_TYPE_TIMESTAMP:
        eq = a->v.ts.t == b->v.ts.t && a->v.ts.i == b->v.ts.i;
        break;
      case BSON_TYPE_DECIMAL128:
        eq = a->v.dec.high == b->v.dec.high && a->v.dec.low == b->v.dec.low;
        break;
      case BSON_TYPE_OID:
      case BSON_TYPE_DBPOINTER:
        eq = bson_oid_equal(&a->v.oid, &b->v.oid) && memcmp(a->data, b->data, a->len) == 0;
        break;
      default:
        eq = memcmp(a->data, b->data, a->len + a->len2 + 2) == 0;
        break;
    }
  }
  lua_pushboolean(L, eq);
  return 1;
}

/* -1, 0, 1; raises for kinds without an order or for two different kinds. Integers
 * (int32/int64 boxes, integral numbers) compare by value with each other. */
static int compare(lua_State *L) {
  const lasp_typed_t *a, *b;
  int64_t x, y;
  if (lasp_int_operand(L, 1, &x) && lasp_int_operand(L, 2, &y)) return (x > y) - (x < y);
  a = check_typed(L, 1);
  b = check_typed(L, 2);
  if (a->type != b->type)
    return luaL_error(L, "attempt to compare %s with %s", lasp_typed_kind(a), lasp_typed_kind(b));
  switch (a->type) {
    case BSON_TYPE_INT32:
      return (a->v.i32 > b->v.i32) - (a->v.i32 < b->v.i32);
    case BSON_TYPE_INT64:
    case BSON_TYPE_DATE_TIME:
      return (a->v.i64 > b->v.i64) - (a->v.i64 < b->v.i64);
    case BSON_TYPE_DOUBLE:
      return (a->v.d > b->v.d) - (a->v.d < b->v.d);
    case BSON_TYPE_TIMESTAMP:
      if (a->v.ts.t != b->v.ts.t) return a->v.ts.t > b->v.ts.t ? 1 : -1;
      return (a->v.ts.i > b->v.ts.i) - (a->v.ts.i < b->v.ts.i);
    case BSON_TYPE_OID:
      return bson_oid_compare(&a->v.oid, &b->v.oid);
    default:
      return luaL_error(L, "attempt to compare two %s values", lasp_typed_kind(a));
  }
}

static int m_lt(lua_State *L) {
  lua_pushboolean(L, compare(L) < 0);
  return 1;
}

static int m_le(lua_State *L) {
  lua_pushboolean(L, compare(L) <= 0);
  return 1;
}

static const luaL_Reg typed_meta[] = {{"__tostring", m_tostring},
                                      {"__index", m_index},
                                      {"__eq", m_eq},
                                      {"__lt", m_lt},
                                      {"__le", m_le},
                                      {NULL, NULL}};

static const luaL_Reg typed_funcs[] = {
    {"int32", l_int32},           {"int64", l_int64},   {"double", l_double},
    {"objectid", l_objectid},     {"date", l_date},     {"timestamp", l_timestamp},
    {"decimal128", l_decimal128}, {"binary", l_binary}, {"regex", l_regex},
    {"javascript", l_javascript}, {NULL, NULL}};

void lasp_typed_register(lua_State *L, int module_idx) {
  /* One metatable per lua_State, kept if the module is loaded again so values made by an
   * earlier load stay recognised. */
  lasp_push_typed_mt(L);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_setfuncs(L, typed_meta, 0);
    lua_pushliteral(L, "asp.value");
    lua_setfield(L, -2, "__name");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pushvalue(L, -1);
    lasp_rawsetp(L, LUA_REGISTRYINDEX, &typed_mt_key);
  }
  lasp_int64_register(L, lua_gettop(L), module_idx);
  lua_pop(L, 1);
  lua_pushvalue(L, module_idx);
  luaL_setfuncs(L, typed_funcs, 0);
  new_typed(L, BSON_TYPE_MINKEY, 0, 0);
  lua_setfield(L, -2, "minkey");
  new_typed(L, BSON_TYPE_MAXKEY, 0, 0);
  lua_setfield(L, -2, "maxkey");
  lua_pop(L, 1);
}
