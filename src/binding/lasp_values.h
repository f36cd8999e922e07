/* BSON <-> Lua values (the table of DESIGN.md section 4). Used by the client
 * parts of the binding; knows nothing about ASP. */
#ifndef LASP_VALUES_H
#define LASP_VALUES_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "compat.h"

/* Decode flags. */
#define LASP_DECODE_PLAIN 0
#define LASP_DECODE_ORDERED 1 /* documents remember their key order (as asp.ordered does) */

/* Pushes the document as a Lua table (arrays get the array marker metatable). */
void lasp_push_document(lua_State *L, const bson_t *doc, int flags);

/* Pushes the value under `iter` (any BSON type). */
void lasp_push_iter_value(lua_State *L, const bson_iter_t *iter, int flags);

/* Converts the table at idx into a document appended to `out` (an initialised bson_t).
 * Key order: ordered documents keep theirs; plain tables in pairs() order.
 * On failure returns false and writes "<what><path>: <reason>" into err, e.g.
 * "pipeline[2].$match.x: cycle detected". Never raises; the caller decides. */
bool lasp_to_document(lua_State *L, int idx, bson_t *out, const char *what, char *err,
                      size_t err_len);

/* Appends the Lua value at idx to doc under key (any convertible value; tables become
 * documents or arrays). Same error contract as lasp_to_document. */
bool lasp_append_value(lua_State *L, int idx, bson_t *doc, const char *key, const char *what,
                       char *err, size_t err_len);

/* Returns true when the value at idx is asp.null or a NULL light userdata (ngx.null, cjson.null). */
bool lasp_is_null(lua_State *L, int idx);

/* Adds the value API to the module table at module_idx: null, array, ordered, int32, int64,
 * double, objectid, date, timestamp, decimal128, binary, regex, minkey, maxkey, type,
 * to_json, from_json. All state lives in this lua_State (registry), none in C globals. */
void lasp_values_register(lua_State *L, int module_idx);

#endif
