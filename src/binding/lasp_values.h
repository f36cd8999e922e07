/* BSON <-> Lua values (the rules docs/values.md lists). Used by the client
 * parts of the binding; knows nothing about ASP. docs/values.md is the user-facing
 * description of every rule implemented behind this header. */
#ifndef LASP_VALUES_H
#define LASP_VALUES_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "compat.h"

/* Decode flags. */
#define LASP_DECODE_PLAIN 0
#define LASP_DECODE_ORDERED 1 /* documents remember their key order (as asp.ordered does) */

/* Deepest nesting of tables/documents accepted either way (the root counts as 1), the
 * same limit the MongoDB server applies. */
#define LASP_MAX_DEPTH 100

/* Pushes the document as a Lua table (arrays get the array marker metatable).
 * Raises only on memory errors or a document nested deeper than LASP_MAX_DEPTH. */
void lasp_push_document(lua_State *L, const bson_t *doc, int flags);

/* Pushes the value under `iter` (any BSON type). Same raising rules. */
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

/* Returns true when the value at idx is asp.null or a NULL light userdata (ngx.null, cjson.null).
 */
bool lasp_is_null(lua_State *L, int idx);

/* Adds the value API to the module table at module_idx: null, array, ordered, int32, int64,
 * double, objectid, date, timestamp, decimal128, binary, regex, minkey, maxkey, javascript,
 * type, to_json, from_json, bson_encode, bson_decode. All state lives in this lua_State
 * (registry), none in C globals. */
void lasp_values_register(lua_State *L, int module_idx);

/* ---- Shared between the value files only (values.c, bson_*.c, json.c, typed_values.c). */

/* Metatable keys the Lua side sees (see docs/values.md). */
#define LASP_ORDER_FIELD "__asp_order"
#define LASP_ARRAY_FIELD "__asp_array"
#define LASP_TYPES_FIELD "__asp_types"

/* Sets __pairs (the recorded keys in order, Lua 5.2+) and __newindex (new keys join the
 * order) on the ordered-document metatable at mt. shared: the metatable is shared by
 * decoded documents of the same shape, and a new key gives the document its own copy. */
void lasp_set_ordered_methods(lua_State *L, int mt, bool shared);

/* Pushes the shared array marker metatable / the typed-value metatable (created by
 * lasp_values_register). */
void lasp_push_array_mt(lua_State *L);
void lasp_push_typed_mt(lua_State *L);

/* Encodes the table at idx into `out` as the body of a document or, for an array, of an
 * array (keys "0".."n-1"); *is_array tells which. Error contract of lasp_to_document. */
bool lasp_encode_table(lua_State *L, int idx, bson_t *out, bool *is_array, const char *what,
                       char *err, size_t err_len);

/* A typed value: full userdata with the typed-value metatable. */
typedef struct lasp_typed lasp_typed_t;

/* Returns the typed value at idx, or NULL; typed_mt is the absolute index of the
 * typed-value metatable (callers fetch it once per conversion). */
const lasp_typed_t *lasp_test_typed(lua_State *L, int idx, int typed_mt);

/* Appends a typed value under key; false only if libbson refuses (document too large). */
bool lasp_append_typed(bson_t *b, const char *key, int key_len, const lasp_typed_t *v);

/* Pushes a typed value (ObjectId, date, timestamp, decimal128, binary, regex, min/max key,
 * code, code with scope, dbpointer) from the raw bytes of its BSON value, value[0..len),
 * which the decoder has already checked. typed_mt: the index of the typed-value
 * metatable, or 0 to look it up. */
void lasp_push_typed_raw(lua_State *L, bson_type_t type, const uint8_t *value, size_t len,
                         int typed_mt);

/* Pushes a boxed int64 (for Lua versions whose numbers cannot hold it exactly). */
void lasp_push_int64_box(lua_State *L, int64_t v);

/* The value of an int32/int64 box, or of a double box; false for other kinds. */
bool lasp_typed_int(const lasp_typed_t *v, int64_t *out);
bool lasp_typed_double(const lasp_typed_t *v, double *out);

/* int64.c: integer arithmetic on int32/int64 boxes. An operand is a box or a number with
 * an exact integral value; results are pushed exactly (integer on 5.3+, else a number
 * within 2^53 or a box). lasp_int64_register adds the metamethods to the typed-value
 * metatable at mt_idx and asp.tonumber / asp.idiv to the module at module_idx. */
bool lasp_int_operand(lua_State *L, int idx, int64_t *out);
void lasp_push_exact_int(lua_State *L, int64_t i);
void lasp_int64_register(lua_State *L, int mt_idx, int module_idx);

/* The kind name asp.type() reports for a typed value ("objectid", "date", ...). */
const char *lasp_typed_kind(const lasp_typed_t *v);

/* Adds the typed-value constructors to the module table at module_idx. */
void lasp_typed_register(lua_State *L, int module_idx);

/* Pushes the Extended JSON text of the single value in `wrapper`, a one-key document
 * built to let libbson print a value that is not a document (an array, a scalar). */
void lasp_push_wrapped_json(lua_State *L, const bson_t *wrapper, bool canonical);

/* Pushes the BSON document data[0..len) as a table (as an array when as_array), checking
 * every length. array_mt and typed_mt are the indices of the array marker and typed-value
 * metatables (upvalues, say), or 0 to look them up. On corrupt input or nesting deeper
 * than LASP_MAX_DEPTH returns false with the reason in *err and the stack as it was. */
bool lasp_decode(lua_State *L, const uint8_t *data, size_t len, bool as_array, int flags,
                 int array_mt, int typed_mt, const char **err);

/* One BSON element (type byte, key, value) as the decoder walks it. */
typedef struct {
  const uint8_t *value;
  uint32_t key_len; /* the key ends right before value */
  uint32_t size;
  uint8_t type;
} lasp_element_t;

/* The element at p within [p, end), every length checked; false if corrupt. */
bool lasp_next_element(const uint8_t *p, const uint8_t *end, lasp_element_t *el);
/* Pushes the value of an element that is not a document or an array, as the plain
 * decoder does. */
void lasp_push_scalar(lua_State *L, const lasp_element_t *el);

/* ---- lazy documents (lazy.c): userdata holding a copy of the BSON bytes ---------------- */

#define LASP_DECODE_LAZY 2 /* cursor flag: documents are lazy */
#define LASP_LAZY_MT "asp.LazyDocument"

typedef struct {
  uint32_t len;
  bool is_array;
  uint8_t data[]; /* the document's bytes, len of them */
} lasp_lazy_t;

/* Pushes a lazy document over a copy of data[0..len), whose length and terminating NUL are
 * checked; with check, its top-level elements too (nested ones are checked when reached).
 * lazy_mt: the index of the lazy metatable, 0 to look it up. false (nothing pushed) when
 * the bytes fail a check. */
bool lasp_push_lazy(lua_State *L, const uint8_t *data, uint32_t len, bool is_array, int lazy_mt,
                    bool check);
/* Whether every top-level element of z is well formed (checked before its bytes are
 * appended to another document). */
bool lasp_lazy_valid(const lasp_lazy_t *z);
/* The lazy document at idx, or NULL. */
const lasp_lazy_t *lasp_test_lazy(lua_State *L, int idx);
/* Pushes the lazy metatable. */
void lasp_push_lazy_mt(lua_State *L);
/* Creates the metatable, adds asp.materialize to the module table. */
void lasp_lazy_register(lua_State *L, int module_idx);

/* True when the encoder would treat the table at idx as an array. */
bool lasp_table_is_array(lua_State *L, int idx);

/* Adds to_json / from_json to the module table at module_idx. */
void lasp_json_register(lua_State *L, int module_idx);

#endif
