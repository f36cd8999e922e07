#include "engine/expr/bson_raw.h"

#include <stdlib.h>

static uint32_t read_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return BSON_UINT32_FROM_LE(v);
}

static uint64_t read_u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return BSON_UINT64_FROM_LE(v);
}

/* Sizes of the types whose values have a fixed size, plus one (0: the size is in the value). */
static const uint8_t fixed_size[256] = {
    [BSON_TYPE_DOUBLE] = 9, [BSON_TYPE_DATE_TIME] = 9,   [BSON_TYPE_TIMESTAMP] = 9,
    [BSON_TYPE_INT64] = 9,  [BSON_TYPE_INT32] = 5,       [BSON_TYPE_BOOL] = 2,
    [BSON_TYPE_OID] = 13,   [BSON_TYPE_DECIMAL128] = 17, [BSON_TYPE_UNDEFINED] = 1,
    [BSON_TYPE_NULL] = 1,   [BSON_TYPE_MINKEY] = 1,      [BSON_TYPE_MAXKEY] = 1,
};

/* value_size for the types whose size is in the value. */
static int64_t variable_size(uint8_t type, const uint8_t *v, uint32_t avail) {
  uint32_t n;
  switch (type) {
    case BSON_TYPE_UTF8:
    case BSON_TYPE_CODE:
    case BSON_TYPE_SYMBOL:
      if (avail < 4) return -1;
      n = read_u32(v);
      if (n < 1 || n > avail - 4) return -1;
      n += 4;
      break;
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
    case BSON_TYPE_CODEWSCOPE:
      if (avail < 4) return -1;
      n = read_u32(v);
      if (n < 5) return -1;
      break;
    case BSON_TYPE_BINARY:
      if (avail < 5) return -1;
      n = read_u32(v);
      if (n > avail - 5) return -1;
      n += 5;
      break;
    case BSON_TYPE_REGEX: {
      const uint8_t *a = memchr(v, 0, avail);
      if (!a) return -1;
      const uint8_t *b = memchr(a + 1, 0, avail - (uint32_t)(a + 1 - v));
      if (!b) return -1;
      n = (uint32_t)(b + 1 - v);
      break;
    }
    case BSON_TYPE_DBPOINTER:
      if (avail < 4) return -1;
      n = read_u32(v);
      if (n < 1 || n > avail - 4) return -1;
      n += 4 + 12;
      break;
    default:
      return -1;
  }
  return n <= avail ? (int64_t)n : -1;
}

/* Bytes of a value of `type` starting at v with `avail` bytes left; -1 when it does not fit. */
static inline int64_t value_size(uint8_t type, const uint8_t *v, uint32_t avail) {
  uint32_t fixed = fixed_size[type];
  if (fixed) return fixed - 1 <= avail ? (int64_t)fixed - 1 : -1;
  return variable_size(type, v, avail);
}

bool aspd_raw_next(aspd_raw_iter_t *it) {
  uint32_t off = it->next;
  /* At least the type byte, the key's NUL and the document's final byte. */
  if (off + 3 > it->len || it->data[off] == 0) return false;
  const uint8_t *key = it->data + off + 1, *limit = it->data + it->len;
  /* Keys are short: a loop beats a call to memchr. */
  const uint8_t *end = key;
  while (end < limit && *end) end++;
  if (end == limit) return false;
  const uint8_t *value = end + 1;
  uint32_t value_off = (uint32_t)(value - it->data);
  if (value_off > it->len - 1) return false;
  int64_t size = value_size(it->data[off], value, it->len - 1 - value_off);
  if (size < 0) return false;
  it->type = it->data[off];
  it->key = (const char *)key;
  it->key_len = (uint32_t)(end - key);
  it->elem = it->data + off;
  it->value = value;
  it->next = value_off + (uint32_t)size;
  it->elem_len = it->next - off;
  return true;
}

bool aspd_raw_find(aspd_raw_iter_t *it, const char *key, size_t key_len) {
  const uint8_t *data = it->data, *limit = data + it->len;
  uint32_t off = it->next;
  /* Elements that do not match are only skipped: the iterator is filled in for the one that does.
   */
  while (off + 3 <= it->len && data[off]) {
    const uint8_t *k = data + off + 1;
    /* The first byte first: most keys differ there, and memcmp is a call. */
    if ((size_t)(limit - k) > key_len && (key_len == 0 || k[0] == (uint8_t)key[0]) && !k[key_len] &&
        !memcmp(k, key, key_len)) {
      return aspd_raw_next(it);
    }
    const uint8_t *end = k;
    while (end < limit && *end) end++;
    if (end == limit) return false;
    uint32_t value_off = (uint32_t)(end + 1 - data);
    if (value_off > it->len - 1) return false;
    int64_t size = value_size(data[off], end + 1, it->len - 1 - value_off);
    if (size < 0) return false;
    off = value_off + (uint32_t)size;
    it->next = off;
  }
  return false;
}

void aspd_raw_value(const aspd_raw_iter_t *it, bson_value_t *out) {
  const uint8_t *v = it->value;
  out->value_type = (bson_type_t)it->type;
  switch (it->type) {
    case BSON_TYPE_DOUBLE: {
      uint64_t bits = read_u64(v);
      memcpy(&out->value.v_double, &bits, 8);
      return;
    }
    case BSON_TYPE_UTF8:
      out->value.v_utf8.str = (char *)(uintptr_t)(v + 4);
      out->value.v_utf8.len = read_u32(v) - 1;
      return;
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
      out->value.v_doc.data = (uint8_t *)(uintptr_t)v;
      out->value.v_doc.data_len = read_u32(v);
      return;
    case BSON_TYPE_INT32:
      out->value.v_int32 = (int32_t)read_u32(v);
      return;
    case BSON_TYPE_INT64:
      out->value.v_int64 = (int64_t)read_u64(v);
      return;
    case BSON_TYPE_DATE_TIME:
      out->value.v_datetime = (int64_t)read_u64(v);
      return;
    case BSON_TYPE_BOOL:
      out->value.v_bool = *v != 0;
      return;
    case BSON_TYPE_OID:
      memcpy(out->value.v_oid.bytes, v, 12);
      return;
    case BSON_TYPE_DECIMAL128:
      out->value.v_decimal128.low = read_u64(v);
      out->value.v_decimal128.high = read_u64(v + 8);
      return;
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED:
    case BSON_TYPE_MINKEY:
    case BSON_TYPE_MAXKEY:
      return;
    default: {
      /* The rarer types as libbson decodes them. */
      bson_iter_t full;
      if (bson_iter_init_from_data_at_offset(&full, it->data, it->len,
                                             (uint32_t)(it->elem - it->data), it->key_len)) {
        *out = *bson_iter_value(&full);
      } else {
        out->value_type = BSON_TYPE_EOD;
      }
      return;
    }
  }
}

bool aspd_raw_index(aspd_raw_index_t *index, const bson_t *doc) {
  aspd_raw_iter_t it;
  aspd_raw_init(&it, bson_get_data(doc), doc->len);
  index->doc = doc;
  index->count = 0;
  while (aspd_raw_next(&it)) {
    if (index->count == ASPD_RAW_INDEX_MAX) return false;
    index->fields[index->count++] = it;
  }
  return true;
}

/* --- writing ---------------------------------------------------------------- */

void aspd_raw_out_init(aspd_raw_out_t *w) {
  w->buf = w->stack;
  w->cap = ASPD_RAW_STACK;
  w->len = 4; /* the length prefix */
}

void aspd_raw_out_free(aspd_raw_out_t *w) {
  if (w->buf != w->stack) free(w->buf);
  w->buf = w->stack;
  w->cap = ASPD_RAW_STACK;
}

uint8_t *aspd_raw_grow(aspd_raw_out_t *w, uint32_t n) {
  size_t cap = (size_t)w->cap * 2;
  while (cap - w->len < n) cap *= 2;
  uint8_t *buf = malloc(cap);
  memcpy(buf, w->buf, w->len);
  if (w->buf != w->stack) free(w->buf);
  w->buf = buf;
  w->cap = (uint32_t)cap;
  return w->buf + w->len;
}

void aspd_raw_put_key(aspd_raw_out_t *w, bson_type_t type, const char *key, size_t key_len) {
  uint8_t *p = aspd_raw_reserve(w, (uint32_t)key_len + 2);
  p[0] = (uint8_t)type;
  memcpy(p + 1, key, key_len);
  p[key_len + 1] = 0;
  w->len += (uint32_t)key_len + 2;
}

static void put_u32(aspd_raw_out_t *w, uint32_t v) {
  v = BSON_UINT32_TO_LE(v);
  aspd_raw_put(w, &v, 4);
}

static void put_u64(aspd_raw_out_t *w, uint64_t v) {
  v = BSON_UINT64_TO_LE(v);
  aspd_raw_put(w, &v, 8);
}

void aspd_raw_put_date(aspd_raw_out_t *w, const char *key, size_t key_len, int64_t ms) {
  aspd_raw_put_key(w, BSON_TYPE_DATE_TIME, key, key_len);
  put_u64(w, (uint64_t)ms);
}

void aspd_raw_put_value(aspd_raw_out_t *w, const char *key, size_t key_len, const bson_value_t *v) {
  switch (v->value_type) {
    case BSON_TYPE_EOD:
      return;
    case BSON_TYPE_DOUBLE: {
      uint64_t bits;
      memcpy(&bits, &v->value.v_double, 8);
      aspd_raw_put_key(w, v->value_type, key, key_len);
      put_u64(w, bits);
      return;
    }
    case BSON_TYPE_UTF8:
      aspd_raw_put_key(w, v->value_type, key, key_len);
      put_u32(w, v->value.v_utf8.len + 1);
      aspd_raw_put(w, v->value.v_utf8.str, v->value.v_utf8.len);
      aspd_raw_put(w, "", 1);
      return;
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
      aspd_raw_put_key(w, v->value_type, key, key_len);
      aspd_raw_put(w, v->value.v_doc.data, v->value.v_doc.data_len);
      return;
    case BSON_TYPE_INT32:
      aspd_raw_put_key(w, v->value_type, key, key_len);
      put_u32(w, (uint32_t)v->value.v_int32);
      return;
    case BSON_TYPE_INT64:
      aspd_raw_put_key(w, v->value_type, key, key_len);
      put_u64(w, (uint64_t)v->value.v_int64);
      return;
    case BSON_TYPE_DATE_TIME:
      aspd_raw_put_date(w, key, key_len, v->value.v_datetime);
      return;
    case BSON_TYPE_BOOL: {
      uint8_t b = v->value.v_bool ? 1 : 0;
      aspd_raw_put_key(w, v->value_type, key, key_len);
      aspd_raw_put(w, &b, 1);
      return;
    }
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED:
    case BSON_TYPE_MINKEY:
    case BSON_TYPE_MAXKEY:
      aspd_raw_put_key(w, v->value_type, key, key_len);
      return;
    default: {
      /* The rarer types as libbson encodes them: its element, copied. */
      bson_t holder = BSON_INITIALIZER;
      if (bson_append_value(&holder, key, (int)key_len, v)) {
        aspd_raw_put(w, bson_get_data(&holder) + 4, holder.len - 5);
      }
      bson_destroy(&holder);
      return;
    }
  }
}

uint32_t aspd_raw_open(aspd_raw_out_t *w, bson_type_t type, const char *key, size_t key_len) {
  aspd_raw_put_key(w, type, key, key_len);
  uint32_t at = w->len;
  put_u32(w, 0);
  return at;
}

void aspd_raw_close(aspd_raw_out_t *w, uint32_t opened) {
  aspd_raw_put(w, "", 1);
  uint32_t n = BSON_UINT32_TO_LE(w->len - opened);
  memcpy(w->buf + opened, &n, 4);
}

static void terminate(aspd_raw_out_t *w) {
  aspd_raw_put(w, "", 1);
  uint32_t n = BSON_UINT32_TO_LE(w->len);
  memcpy(w->buf, &n, 4);
}

void aspd_raw_view(aspd_raw_out_t *w, bson_t *view) {
  terminate(w);
  bson_init_static(view, w->buf, w->len);
}

void aspd_raw_finish(aspd_raw_out_t *w, bson_t *doc) {
  terminate(w);
  bson_reinit(doc);
  uint8_t *dst = bson_reserve_buffer(doc, w->len);
  if (dst) memcpy(dst, w->buf, w->len);
  aspd_raw_out_free(w);
}
