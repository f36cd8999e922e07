/* The engine's raw BSON reader and writer against libbson: the same elements,
 * keys and values for every BSON type, the same bytes written, and malformed
 * bytes ending a walk instead of being read past. */
#include <bson/bson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/aspd/engine/expr/bson_raw.c"
#include "check_msg.h"

/* One field of every type, nested documents and arrays included. */
static bson_t *every_type(void) {
  bson_t *doc = bson_new(), child;
  bson_oid_t oid;
  bson_oid_init_from_string(&oid, "5f1e2d3c4b5a697887766554");
  bson_decimal128_t dec;
  bson_decimal128_from_string("1.25E-3", &dec);
  const uint8_t bin[3] = {1, 2, 3};
  BSON_APPEND_DOUBLE(doc, "double", -2.5);
  BSON_APPEND_UTF8(doc, "utf8", "héllo");
  BSON_APPEND_DOCUMENT_BEGIN(doc, "doc", &child);
  BSON_APPEND_INT32(&child, "a", 1);
  bson_append_document_end(doc, &child);
  BSON_APPEND_ARRAY_BEGIN(doc, "array", &child);
  BSON_APPEND_UTF8(&child, "0", "x");
  BSON_APPEND_NULL(&child, "1");
  bson_append_array_end(doc, &child);
  BSON_APPEND_BINARY(doc, "binary", BSON_SUBTYPE_BINARY, bin, sizeof bin);
  BSON_APPEND_UNDEFINED(doc, "undefined");
  BSON_APPEND_OID(doc, "oid", &oid);
  BSON_APPEND_BOOL(doc, "bool", true);
  BSON_APPEND_DATE_TIME(doc, "date", 1700000000123);
  BSON_APPEND_NULL(doc, "null");
  BSON_APPEND_REGEX(doc, "regex", "^a.*b$", "im");
  BSON_APPEND_DBPOINTER(doc, "dbpointer", "db.coll", &oid);
  BSON_APPEND_CODE(doc, "code", "function () {}");
  BSON_APPEND_SYMBOL(doc, "symbol", "sym");
  bson_t *scope = BCON_NEW("x", BCON_INT32(1));
  BSON_APPEND_CODE_WITH_SCOPE(doc, "codewscope", "return x;", scope);
  bson_destroy(scope);
  BSON_APPEND_INT32(doc, "int32", -7);
  BSON_APPEND_TIMESTAMP(doc, "timestamp", 1700000000, 3);
  BSON_APPEND_INT64(doc, "int64", INT64_MIN);
  BSON_APPEND_DECIMAL128(doc, "decimal", &dec);
  BSON_APPEND_MINKEY(doc, "minkey");
  BSON_APPEND_MAXKEY(doc, "maxkey");
  bson_append_null(doc, "", 0); /* an empty key, last: a value of no bytes at the end */
  return doc;
}

/* Both values written under one key by libbson: the same bytes. */
static bool same_value(const bson_value_t *a, const bson_value_t *b) {
  bson_t x = BSON_INITIALIZER, y = BSON_INITIALIZER;
  bson_append_value(&x, "v", 1, a);
  bson_append_value(&y, "v", 1, b);
  bool same = x.len == y.len && !memcmp(bson_get_data(&x), bson_get_data(&y), x.len);
  bson_destroy(&x);
  bson_destroy(&y);
  return same;
}

static void test_reading(const bson_t *doc) {
  aspd_raw_iter_t raw;
  bson_iter_t it;
  aspd_raw_init(&raw, bson_get_data(doc), doc->len);
  bson_iter_init(&it, doc);
  size_t n = 0;
  while (bson_iter_next(&it)) {
    n++;
    CHECK(aspd_raw_next(&raw), "raw walk ended before %s", bson_iter_key(&it));
    CHECK(raw.type == bson_iter_type(&it), "type of %s", bson_iter_key(&it));
    CHECK(raw.key_len == strlen(bson_iter_key(&it)) &&
              !memcmp(raw.key, bson_iter_key(&it), raw.key_len),
          "key %s", bson_iter_key(&it));
    CHECK(raw.elem == bson_get_data(doc) + bson_iter_offset(&it), "offset of %s",
          bson_iter_key(&it));
    bson_value_t v;
    aspd_raw_value(&raw, &v);
    CHECK(same_value(&v, bson_iter_value(&it)), "value of %s", bson_iter_key(&it));
  }
  CHECK(!aspd_raw_next(&raw), "raw walk goes past the end");
  CHECK(n == 22, "%zu fields", n);

  bson_value_t whole = {.value_type = BSON_TYPE_DOCUMENT}, v;
  whole.value.v_doc.data = (uint8_t *)(uintptr_t)bson_get_data(doc);
  whole.value.v_doc.data_len = doc->len;
  CHECK(aspd_raw_get(&whole, "int64", 5, &v) && v.value_type == BSON_TYPE_INT64 &&
            v.value.v_int64 == INT64_MIN,
        "find int64");
  CHECK(!aspd_raw_get(&whole, "int6", 4, &v), "a prefix of a key is not the key");
  CHECK(!aspd_raw_get(&whole, "nothere", 7, &v), "a missing key");
  CHECK(aspd_raw_get(&whole, "", 0, &v) && v.value_type == BSON_TYPE_NULL, "the empty key");
  /* A find goes on from where the iterator is. */
  aspd_raw_init(&raw, bson_get_data(doc), doc->len);
  CHECK(aspd_raw_find(&raw, "oid", 3) && aspd_raw_find(&raw, "int32", 5) &&
            !aspd_raw_find(&raw, "oid", 3),
        "finds in sequence");
}

/* The index finds what a scan finds, and refuses documents with too many fields. */
static void test_index(const bson_t *doc) {
  aspd_raw_index_t index;
  CHECK(aspd_raw_index(&index, doc) && index.count == 22, "index of every type");
  bson_iter_t it;
  bson_iter_init(&it, doc);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    const aspd_raw_iter_t *f = aspd_raw_index_find(&index, key, strlen(key));
    bson_value_t v;
    if (f) aspd_raw_value(f, &v);
    CHECK(f && same_value(&v, bson_iter_value(&it)), "indexed %s", key);
  }
  CHECK(!aspd_raw_index_find(&index, "nothere", 7), "indexed a missing key");
  /* Duplicate keys: the first one, as a scan. */
  bson_t *dup = BCON_NEW("a", BCON_INT32(1), "a", BCON_INT32(2));
  CHECK(aspd_raw_index(&index, dup), "index of duplicates");
  const aspd_raw_iter_t *f = aspd_raw_index_find(&index, "a", 1);
  bson_value_t v;
  if (f) aspd_raw_value(f, &v);
  CHECK(f && v.value.v_int32 == 1, "the first of duplicate keys");
  bson_destroy(dup);
  bson_t *wide = bson_new();
  for (int i = 0; i <= ASPD_RAW_INDEX_MAX; i++) {
    char key[16];
    snprintf(key, sizeof key, "f%d", i);
    BSON_APPEND_INT32(wide, key, i);
  }
  CHECK(!aspd_raw_index(&index, wide), "a document wider than the index");
  bson_destroy(wide);
}

/* Every element written again: the same document, byte for byte. */
static void test_writing(const bson_t *doc) {
  aspd_raw_out_t w;
  aspd_raw_out_init(&w);
  bson_iter_t it;
  bson_iter_init(&it, doc);
  while (bson_iter_next(&it)) {
    aspd_raw_put_value(&w, bson_iter_key(&it), strlen(bson_iter_key(&it)), bson_iter_value(&it));
  }
  bson_t *out = bson_new();
  aspd_raw_finish(&w, out);
  CHECK(out->len == doc->len && !memcmp(bson_get_data(out), bson_get_data(doc), doc->len),
        "rewritten document differs");

  /* Whole elements copied, nested documents opened and closed, past the stack buffer. */
  aspd_raw_out_init(&w);
  aspd_raw_iter_t raw;
  bson_t *expected = bson_new(), child;
  uint32_t opened = aspd_raw_open(&w, BSON_TYPE_DOCUMENT, "nested", 6);
  BSON_APPEND_DOCUMENT_BEGIN(expected, "nested", &child);
  for (int round = 0; round < 20; round++) {
    aspd_raw_init(&raw, bson_get_data(doc), doc->len);
    while (aspd_raw_next(&raw)) aspd_raw_put_elem(&w, &raw);
    bson_concat(&child, doc);
  }
  aspd_raw_close(&w, opened);
  bson_append_document_end(expected, &child);
  aspd_raw_put_date(&w, "_ts", 3, 42);
  BSON_APPEND_DATE_TIME(expected, "_ts", 42);
  aspd_raw_finish(&w, out);
  CHECK(out->len > ASPD_RAW_STACK, "the test should outgrow the stack buffer");
  CHECK(out->len == expected->len &&
            !memcmp(bson_get_data(out), bson_get_data(expected), expected->len),
        "copied elements differ");
  CHECK(bson_validate(out, BSON_VALIDATE_NONE, NULL), "written document is not valid");
  bson_destroy(expected);
  bson_destroy(out);
}

/* Cut or corrupted bytes: the walk ends, never reading beyond the given length. */
static void test_malformed(const bson_t *doc) {
  uint32_t len = doc->len;
  for (uint32_t cut = 0; cut < len; cut++) {
    /* A copy of exactly `cut` bytes in its own allocation (ASan sees any overread). */
    uint8_t *bytes = malloc(cut ? cut : 1);
    memcpy(bytes, bson_get_data(doc), cut);
    aspd_raw_iter_t raw;
    aspd_raw_init(&raw, bytes, cut);
    size_t steps = 0;
    while (aspd_raw_next(&raw)) {
      CHECK(raw.next <= cut, "element past the end at cut %u", cut);
      steps++;
    }
    CHECK(steps < 22, "a cut document walked whole at %u", cut);
    aspd_raw_init(&raw, bytes, cut);
    CHECK(!aspd_raw_find(&raw, "nothere", 7), "found a missing key at cut %u", cut);
    free(bytes);
  }
  /* A string whose length runs past the document. */
  uint8_t bad[] = {19, 0, 0, 0, BSON_TYPE_UTF8, 's', 0, 100, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 0, 0};
  aspd_raw_iter_t raw;
  aspd_raw_init(&raw, bad, sizeof bad);
  CHECK(!aspd_raw_next(&raw), "string length past the end accepted");
  /* An unknown type byte. */
  uint8_t unknown[] = {8, 0, 0, 0, 0x42, 'k', 0, 0};
  aspd_raw_init(&raw, unknown, sizeof unknown);
  CHECK(!aspd_raw_next(&raw), "unknown type accepted");
}

int main(void) {
  bson_t *doc = every_type();
  test_reading(doc);
  test_index(doc);
  test_writing(doc);
  test_malformed(doc);
  bson_destroy(doc);
  return check_msg_report("bson_raw");
}
