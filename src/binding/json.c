/* Extended JSON in and out, entirely through libbson's reader and writers, so the text
 * is exactly what mongosh and the drivers read and write. */
#include <string.h>

#include "lasp_values.h"

static const char *const json_modes[] = {"relaxed", "canonical", NULL};

/* libbson prints a one-key document {"v": x} as `{ "v" : <x> }`; the value is the text
 * between that prefix and the closing ` }`. */
void lasp_push_wrapped_json(lua_State *L, const bson_t *wrapper, bool canonical) {
  static const char prefix[] = "{ \"v\" : ";
  size_t len, plen = sizeof prefix - 1;
  char *json = canonical ? bson_as_canonical_extended_json(wrapper, &len)
                         : bson_as_relaxed_extended_json(wrapper, &len);
  if (json == NULL) {
    lua_pushliteral(L, "null");
    return;
  }
  if (len >= plen + 2 && memcmp(json, prefix, plen) == 0)
    lua_pushlstring(L, json + plen, len - plen - 2);
  else
    lua_pushlstring(L, json, len);
  bson_free(json);
}

/* asp.to_json(value[, "relaxed" | "canonical"]) -> string | nil, err. Documents and
 * arrays are the usual case; any other convertible value prints as its JSON value. */
static int l_to_json(lua_State *L) {
  bool canonical = luaL_checkoption(L, 2, "relaxed", json_modes) == 1;
  char err[256];
  bool is_array = false, ok;
  bson_t doc;
  luaL_checkany(L, 1);
  bson_init(&doc);
  bool container = lua_type(L, 1) == LUA_TTABLE || lasp_test_lazy(L, 1) != NULL;
  if (container)
    ok = lasp_encode_table(L, 1, &doc, &is_array, "value", err, sizeof err);
  else
    ok = lasp_append_value(L, 1, &doc, "v", "value", err, sizeof err);
  if (!ok) {
    bson_destroy(&doc);
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  if (container && !is_array) {
    size_t len;
    char *json = canonical ? bson_as_canonical_extended_json(&doc, &len)
                           : bson_as_relaxed_extended_json(&doc, &len);
    lua_pushlstring(L, json, len);
    bson_free(json);
  } else if (is_array) {
    bson_t wrapper;
    bson_init(&wrapper);
    bson_append_array(&wrapper, "v", 1, &doc);
    lasp_push_wrapped_json(L, &wrapper, canonical);
    bson_destroy(&wrapper);
  } else {
    lasp_push_wrapped_json(L, &doc, canonical);
  }
  bson_destroy(&doc);
  return 1;
}

/* asp.from_json(text) -> table | nil, err. Documents decode as ordered documents so
 * that load -> save keeps the key order; a top-level JSON array decodes as an array. */
static int l_from_json(lua_State *L) {
  size_t len, i = 0;
  const char *text = luaL_checklstring(L, 1, &len);
  bson_error_t error;
  bson_t doc;
  const char *reason;
  bool as_array;
  while (i < len && strchr(" \t\r\n", text[i]) != NULL && text[i] != '\0') i++;
  as_array = i < len && text[i] == '[';
  if (len > (size_t)SSIZE_MAX || !bson_init_from_json(&doc, text, (ssize_t)len, &error)) {
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSON: %s", len > (size_t)SSIZE_MAX ? "too long" : error.message);
    return 2;
  }
  if (!lasp_decode(L, bson_get_data(&doc), doc.len, as_array, LASP_DECODE_ORDERED, 0, 0, &reason)) {
    bson_destroy(&doc);
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSON: %s", reason);
    return 2;
  }
  bson_destroy(&doc);
  return 1;
}

static const luaL_Reg json_funcs[] = {
    {"to_json", l_to_json}, {"from_json", l_from_json}, {NULL, NULL}};

void lasp_json_register(lua_State *L, int module_idx) {
  lua_pushvalue(L, module_idx);
  luaL_setfuncs(L, json_funcs, 0);
  lua_pop(L, 1);
}
