/* String operators beyond case and concatenation: $substr/$substrBytes/$substrCP,
 * $strLenBytes/$strLenCP, $indexOfBytes/$indexOfCP, $split, $trim/$ltrim/$rtrim,
 * $replaceOne/$replaceAll, $strcasecmp, and $regexMatch/$regexFind/$regexFindAll
 * (PCRE2; a constant regex is compiled once, at plan time).
 *
 * Strings are UTF-8: the CP forms count code points, the Bytes forms bytes, and a
 * byte range that would cut a character is an error, as on the server. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/expr/operators.h"
#include "engine/expr/regex.h"

#define MAX_GROUPS 32

static void set_null(bson_value_t *out) {
  out->value_type = BSON_TYPE_NULL;
}

static void set_int(bson_value_t *out, int64_t i) {
  out->value_type = BSON_TYPE_INT32;
  out->value.v_int32 = (int32_t)i;
}

static void set_bool(bson_value_t *out, bool b) {
  out->value_type = BSON_TYPE_BOOL;
  out->value.v_bool = b;
}

static bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

/* The byte length of the character starting with c. */
static size_t char_len(unsigned char c) {
  return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

static size_t cp_count(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += !is_continuation((unsigned char)s[i]);
  return n;
}

/* The byte offset of code point `cp` (len when past the end). */
static size_t cp_offset(const char *s, size_t len, size_t cp) {
  size_t i = 0;
  while (cp > 0 && i < len) {
    i += char_len((unsigned char)s[i]);
    cp--;
  }
  return i < len ? i : len;
}

/* The string form of a value for the operators that coerce ($substr*, $strcasecmp):
 * null and missing are "", numbers and dates their usual text. False otherwise. */
static bool coerce_string(aspd_eval_t *ev, const bson_value_t *v, const char **s, size_t *len) {
  char *buf;
  switch (v->value_type) {
    case BSON_TYPE_UTF8:
      *s = v->value.v_utf8.str;
      *len = v->value.v_utf8.len;
      return true;
    case BSON_TYPE_EOD:
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED:
      *s = "";
      *len = 0;
      return true;
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
      buf = aspd_eval_alloc(ev, 32);
      *len = (size_t)snprintf(
          buf, 32, "%lld",
          (long long)(v->value_type == BSON_TYPE_INT32 ? v->value.v_int32 : v->value.v_int64));
      *s = buf;
      return true;
    case BSON_TYPE_DOUBLE:
      buf = aspd_eval_alloc(ev, 32);
      *len = (size_t)snprintf(buf, 32, "%g", v->value.v_double);
      *s = buf;
      return true;
    case BSON_TYPE_DATE_TIME: {
      buf = aspd_eval_alloc(ev, 32);
      int64_t ms = v->value.v_datetime;
      time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
      struct tm tm;
      gmtime_r(&secs, &tm);
      *len = (size_t)snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                              (int)(((ms % 1000) + 1000) % 1000));
      *s = buf;
      return true;
    }
    default:
      return false;
  }
}

/* An integral number argument; false when v is not one. Beyond the int64 range (infinities
 * too) it clamps, as $substrBytes does: an index past any string, a length to the end. */
static bool integral(const bson_value_t *v, int64_t *out) {
  if (aspd_value_as_integral(v, out)) return true;
  double d = aspd_value_as_double(v);
  if (!aspd_value_is_number(v) || d != floor(d)) return false;
  *out = aspd_double_clamp_int64(d);
  return true;
}

/* ---- substrings and lengths --------------------------------------------------- */

/* The arguments of $substrBytes and $substrCP: the string (coerced), then the
 * starting index and the length, numbers (integral ones for code points) in
 * n[0] and n[1]; false on error. */
static bool substr_args(const aspd_expr_t *e, aspd_eval_t *ev, bool cp, const char **s, size_t *len,
                        int64_t n[2]) {
  static const char *const what[] = {"starting index", "length"};
  const char *name = cp ? "$substrCP" : "$substrBytes";
  bson_value_t sv, v[2];
  if (!aspd_expr_eval(e->args[0], ev, &sv) || !aspd_expr_eval(e->args[1], ev, &v[0]) ||
      !aspd_expr_eval(e->args[2], ev, &v[1])) {
    return false;
  }
  if (!coerce_string(ev, &sv, s, len)) {
    return aspd_eval_fail(ev, "can't convert from BSON type %s to String",
                          aspd_value_type_name(&sv));
  }
  for (int i = 0; i < 2; i++) {
    if (cp ? !integral(&v[i], &n[i]) : !aspd_value_is_number(&v[i])) {
      return aspd_eval_fail(ev, "%s: %s must be a numeric type (is BSON type %s)", name, what[i],
                            aspd_value_type_name(&v[i]));
    }
  }
  /* $substrBytes drops the fraction of its numbers; beyond the int64 range it clamps (a
   * start past any string, a length to the end), and NaN counts as 0. */
  if (!cp) {
    n[0] = aspd_double_clamp_int64(aspd_value_as_double(&v[0]));
    n[1] = aspd_double_clamp_int64(aspd_value_as_double(&v[1]));
  }
  if (n[0] < 0) {
    return aspd_eval_fail(ev, "%s: starting index must be non-negative (got: %lld)", name,
                          (long long)n[0]);
  }
  return true;
}

/* $substrBytes, and $substr, its old name. */
static bool eval_substr(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  const char *s;
  size_t len;
  int64_t n[2];
  if (!substr_args(e, ev, false, &s, &len, n)) return false;
  int64_t start = n[0], count = n[1];
  if ((size_t)start >= len) {
    aspd_eval_string(ev, "", 0, out);
    return true;
  }
  if (is_continuation((unsigned char)s[start])) {
    return aspd_eval_fail(
        ev, "$substrBytes:  Invalid range, starting index is a UTF-8 continuation byte.");
  }
  size_t end = count < 0 || (size_t)count > len - (size_t)start ? len : (size_t)(start + count);
  if (end < len && is_continuation((unsigned char)s[end])) {
    return aspd_eval_fail(
        ev, "$substrBytes:  Invalid range, ending index is in the middle of a UTF-8 character.");
  }
  aspd_eval_string(ev, s + start, end - (size_t)start, out);
  return true;
}

static bool eval_substr_cp(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  const char *s;
  size_t len;
  int64_t n[2];
  if (!substr_args(e, ev, true, &s, &len, n)) return false;
  if (n[1] < 0) {
    return aspd_eval_fail(ev, "$substrCP: length must be a nonnegative integer.");
  }
  size_t from = cp_offset(s, len, (size_t)n[0]);
  size_t to = from + cp_offset(s + from, len - from, (size_t)n[1]);
  aspd_eval_string(ev, s + from, to - from, out);
  return true;
}

static bool str_len(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool cp) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (v.value_type != BSON_TYPE_UTF8) {
    return aspd_eval_fail(ev, "%s requires a string argument, found: %s",
                          cp ? "$strLenCP" : "$strLenBytes", aspd_value_type_name(&v));
  }
  set_int(out, cp ? (int64_t)cp_count(v.value.v_utf8.str, v.value.v_utf8.len)
                  : (int64_t)v.value.v_utf8.len);
  return true;
}

static bool eval_str_len_bytes(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return str_len(e, ev, out, false);
}

static bool eval_str_len_cp(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return str_len(e, ev, out, true);
}

/* ---- $indexOfBytes / $indexOfCP ------------------------------------------------ */

static bool index_of(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool cp) {
  const char *name = cp ? "$indexOfCP" : "$indexOfBytes";
  bson_value_t sv, fv;
  if (!aspd_expr_eval(e->args[0], ev, &sv)) return false;
  if (aspd_value_is_nullish(&sv)) {
    set_null(out);
    return true;
  }
  if (sv.value_type != BSON_TYPE_UTF8) {
    return aspd_eval_fail(ev, "%s requires a string as the first argument, found: %s", name,
                          aspd_value_type_name(&sv));
  }
  if (!aspd_expr_eval(e->args[1], ev, &fv)) return false;
  if (fv.value_type != BSON_TYPE_UTF8) {
    return aspd_eval_fail(ev, "%s requires a string as the second argument, found: %s", name,
                          aspd_value_type_name(&fv));
  }
  const char *s = sv.value.v_utf8.str, *f = fv.value.v_utf8.str;
  size_t len = sv.value.v_utf8.len, flen = fv.value.v_utf8.len;
  size_t units = cp ? cp_count(s, len) : len;
  int64_t bounds[2] = {0, (int64_t)units};
  static const char *const which[] = {"start", "end"};
  for (size_t i = 2; i < e->nargs && e->args[i]; i++) {
    bson_value_t v;
    if (!aspd_expr_eval(e->args[i], ev, &v)) return false;
    if (!integral(&v, &bounds[i - 2])) {
      return aspd_eval_fail(ev, "%s requires an integral %s index, found a value of type: %s", name,
                            which[i - 2], aspd_value_type_name(&v));
    }
    if (bounds[i - 2] < 0) {
      return aspd_eval_fail(ev, "%s requires a nonnegative %s index, found: %lld", name,
                            which[i - 2], (long long)bounds[i - 2]);
    }
  }
  int64_t start = bounds[0], end = bounds[1] < (int64_t)units ? bounds[1] : (int64_t)units;
  set_int(out, -1);
  if (start > end) return true;
  size_t at = cp ? cp_offset(s, len, (size_t)start) : (size_t)start;
  size_t stop = cp ? cp_offset(s, len, (size_t)end) : (size_t)end;
  for (int64_t unit = start; unit <= end; unit++) {
    if (at + flen > stop) break;
    if (!memcmp(s + at, f, flen)) {
      set_int(out, unit);
      return true;
    }
    if (at >= len) break;
    at += cp ? char_len((unsigned char)s[at]) : 1;
  }
  return true;
}

static bool eval_index_of_bytes(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return index_of(e, ev, out, false);
}

static bool eval_index_of_cp(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return index_of(e, ev, out, true);
}

/* ---- $split ---------------------------------------------------------------------- */

static void append_string(bson_t *list, uint32_t *n, const char *s, size_t len) {
  char key[16];
  const char *k;
  size_t klen = bson_uint32_to_string((*n)++, &k, key, sizeof key);
  bson_append_utf8(list, k, (int)klen, s, (int)len);
}

static bool eval_split(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t sv, dv;
  if (!aspd_expr_eval(e->args[0], ev, &sv) || !aspd_expr_eval(e->args[1], ev, &dv)) return false;
  if (aspd_value_is_nullish(&sv)) {
    set_null(out);
    return true;
  }
  if (sv.value_type != BSON_TYPE_UTF8) {
    return aspd_eval_fail(ev,
                          "$split requires an expression that evaluates to a string as a first "
                          "argument, found: %s",
                          aspd_value_type_name(&sv));
  }
  if (dv.value_type != BSON_TYPE_UTF8) {
    return aspd_eval_fail(ev,
                          "$split requires an expression that evaluates to a string as a second "
                          "argument, found: %s",
                          aspd_value_type_name(&dv));
  }
  if (dv.value.v_utf8.len == 0) return aspd_eval_fail(ev, "$split requires a non-empty separator");
  const char *s = sv.value.v_utf8.str, *sep = dv.value.v_utf8.str;
  size_t len = sv.value.v_utf8.len, slen = dv.value.v_utf8.len, from = 0;
  bson_t list = BSON_INITIALIZER;
  uint32_t n = 0;
  for (size_t i = 0; i + slen <= len;) {
    if (!memcmp(s + i, sep, slen)) {
      append_string(&list, &n, s + from, i - from);
      i += slen;
      from = i;
    } else {
      i++;
    }
  }
  append_string(&list, &n, s + from, len - from);
  aspd_eval_bson(ev, &list, true, out);
  bson_destroy(&list);
  return true;
}

/* ---- $trim, $ltrim, $rtrim ------------------------------------------------------ */

static const char *const NAMES_TRIM[] = {"input", "chars"};

static bool compile_trim(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                         aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_TRIM, 2, 1, err);
}

/* The whitespace the server trims by default: NUL, space, \t \n \v \f \r and the
 * Unicode spaces. */
static bool default_space(const char *c, size_t n) {
  static const char *const spaces[] = {
      "\xc2\xa0",     "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82",
      "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87",
      "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8", "\xe2\x80\xa9",
      "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};
  if (n == 1) return strchr(" \t\n\v\f\r", *c) != NULL || *c == '\0';
  for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++) {
    if (strlen(spaces[i]) == n && !memcmp(spaces[i], c, n)) return true;
  }
  return false;
}

static bool in_chars(const char *c, size_t n, const bson_value_t *chars) {
  if (!chars) return default_space(c, n);
  const char *set = chars->value.v_utf8.str;
  size_t len = chars->value.v_utf8.len;
  for (size_t i = 0; i < len; i += char_len((unsigned char)set[i])) {
    if (char_len((unsigned char)set[i]) == n && !memcmp(set + i, c, n)) return true;
  }
  return false;
}

static bool trim(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool left, bool right,
                 const char *name) {
  bson_value_t v, cv;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  const bson_value_t *chars = NULL;
  if (e->args[1]) {
    if (!aspd_expr_eval(e->args[1], ev, &cv)) return false;
    if (aspd_value_is_nullish(&cv)) {
      set_null(out);
      return true;
    }
    if (cv.value_type != BSON_TYPE_UTF8) {
      return aspd_eval_fail(ev, "%s requires 'chars' to be a string, got %s (of type %s) instead.",
                            name, aspd_eval_json(ev, &cv), aspd_value_type_name(&cv));
    }
    chars = &cv;
  }
  if (aspd_value_is_nullish(&v)) {
    set_null(out);
    return true;
  }
  if (v.value_type != BSON_TYPE_UTF8) {
    return aspd_eval_fail(ev, "%s requires its input to be a string, got %s (of type %s) instead.",
                          name, aspd_eval_json(ev, &v), aspd_value_type_name(&v));
  }
  const char *s = v.value.v_utf8.str;
  size_t from = 0, to = v.value.v_utf8.len;
  while (left && from < to) {
    size_t n = char_len((unsigned char)s[from]);
    if (!in_chars(s + from, n, chars)) break;
    from += n;
  }
  while (right && to > from) {
    size_t begin = to - 1;
    while (begin > from && is_continuation((unsigned char)s[begin])) begin--;
    if (!in_chars(s + begin, to - begin, chars)) break;
    to = begin;
  }
  aspd_eval_string(ev, s + from, to - from, out);
  return true;
}

static bool eval_trim(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return trim(e, ev, out, true, true, "$trim");
}

static bool eval_ltrim(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return trim(e, ev, out, true, false, "$ltrim");
}

static bool eval_rtrim(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return trim(e, ev, out, false, true, "$rtrim");
}

/* ---- $replaceOne, $replaceAll ------------------------------------------------------ */

static const char *const NAMES_REPLACE[] = {"input", "find", "replacement"};

static bool compile_replace(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                            aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_REPLACE, 3, 7, err);
}

static bool replace(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool all) {
  const char *name = all ? "$replaceAll" : "$replaceOne";
  bson_value_t v[3];
  bool null = false;
  for (int i = 0; i < 3; i++) {
    if (!aspd_expr_eval(e->args[i], ev, &v[i])) return false;
    null = null || aspd_value_is_nullish(&v[i]);
  }
  for (int i = 0; i < 3; i++) {
    if (!aspd_value_is_nullish(&v[i]) && v[i].value_type != BSON_TYPE_UTF8) {
      return aspd_eval_fail(ev, "%s requires that '%s' be a string, found: %s", name,
                            NAMES_REPLACE[i], aspd_eval_json(ev, &v[i]));
    }
  }
  if (null) {
    set_null(out);
    return true;
  }
  const char *s = v[0].value.v_utf8.str, *f = v[1].value.v_utf8.str, *r = v[2].value.v_utf8.str;
  size_t len = v[0].value.v_utf8.len, flen = v[1].value.v_utf8.len, rlen = v[2].value.v_utf8.len;
  bson_string_t *b = bson_string_new(NULL);
  size_t i = 0;
  bool replaced = false;
  while (i <= len) {
    if ((!replaced || all) && i + flen <= len && !memcmp(s + i, f, flen)) {
      bson_string_append_printf(b, "%.*s", (int)rlen, r);
      replaced = true;
      if (flen > 0) {
        i += flen;
        continue;
      }
    }
    if (i == len) break;
    size_t n = flen == 0 ? char_len((unsigned char)s[i]) : 1;
    bson_string_append_printf(b, "%.*s", (int)n, s + i);
    i += n;
  }
  aspd_eval_string(ev, b->str, b->len, out);
  bson_string_free(b, true);
  return true;
}

static bool eval_replace_one(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return replace(e, ev, out, false);
}

static bool eval_replace_all(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return replace(e, ev, out, true);
}

/* ---- $strcasecmp ------------------------------------------------------------------- */

static bool eval_strcasecmp(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t a, b;
  if (!aspd_expr_eval(e->args[0], ev, &a) || !aspd_expr_eval(e->args[1], ev, &b)) return false;
  const char *s, *t;
  size_t sl, tl;
  if (!coerce_string(ev, &a, &s, &sl) || !coerce_string(ev, &b, &t, &tl)) {
    return aspd_eval_fail(ev, "can't convert from BSON type %s to String",
                          aspd_value_type_name(coerce_string(ev, &a, &s, &sl) ? &b : &a));
  }
  int r = 0;
  for (size_t i = 0; !r && i < sl && i < tl; i++) {
    r = toupper((unsigned char)s[i]) - toupper((unsigned char)t[i]);
  }
  if (!r) r = sl < tl ? -1 : sl > tl;
  set_int(out, r < 0 ? -1 : r > 0);
  return true;
}

/* ---- regular expressions ------------------------------------------------------------ */

static const char *const NAMES_REGEX[] = {"input", "regex", "options"};

/* A constant regex (and options) compiled at plan time. */
static void free_regex(void *data) {
  aspd_regex_free(data);
}

/* The pattern and options of a regex argument; false with a message when it is
 * neither a string nor a regex, or gives options twice. */
static bool regex_parts(const bson_value_t *rv, const bson_value_t *ov, const char *name,
                        const char **pattern, const char **options, char *why, size_t why_len) {
  *options = "";
  if (ov && ov->value_type == BSON_TYPE_UTF8) *options = ov->value.v_utf8.str;
  if (ov && !aspd_value_is_nullish(ov) && ov->value_type != BSON_TYPE_UTF8) {
    snprintf(why, why_len, "%s needs 'options' to be of type string", name);
    return false;
  }
  if (rv->value_type == BSON_TYPE_REGEX) {
    *pattern = rv->value.v_regex.regex;
    if (*rv->value.v_regex.options) {
      if (**options) {
        snprintf(why, why_len, "%s: regex option(s) specified in both 'regex' and 'option' fields",
                 name);
        return false;
      }
      *options = rv->value.v_regex.options;
    }
    return true;
  }
  if (rv->value_type == BSON_TYPE_UTF8) {
    *pattern = rv->value.v_utf8.str;
    return true;
  }
  snprintf(why, why_len, "%s needs 'regex' to be of type string or regex", name);
  return false;
}

static bool compile_regex(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                          aspd_error_t *err) {
  if (!aspd_expr_compile_named(cc, operand, e, NAMES_REGEX, 3, 3, err)) return false;
  if (!aspd_expr_is_constant(e->args[1]) || (e->args[2] && !aspd_expr_is_constant(e->args[2]))) {
    return true;
  }
  if (aspd_value_is_nullish(&e->args[1]->value)) return true;
  const char *pattern, *options;
  char why[256];
  if (!regex_parts(&e->args[1]->value, e->args[2] ? &e->args[2]->value : NULL, e->name, &pattern,
                   &options, why, sizeof why)) {
    aspd_error_set(err, ASPD_E_LOCATION(51105), "%s", why);
    return false;
  }
  aspd_error_t inner;
  e->data = aspd_regex_compile(pattern, options, &inner);
  if (!e->data) {
    aspd_error_set(err, ASPD_E_LOCATION(51111), "Invalid Regex in %s: %s", e->name, inner.message);
    return false;
  }
  e->free_data = free_regex;
  return true;
}

/* Evaluates input and regex: false on an error; *re NULL (and *subject unset) when
 * the input or the regex is null, so nothing matches. *owned is set when the regex
 * was compiled for this document only. */
static bool regex_setup(const aspd_expr_t *e, aspd_eval_t *ev, aspd_regex_t **re, bool *owned,
                        bson_value_t *subject) {
  *re = NULL;
  *owned = false;
  if (!aspd_expr_eval(e->args[0], ev, subject)) return false;
  if (!aspd_value_is_nullish(subject) && subject->value_type != BSON_TYPE_UTF8) {
    return aspd_eval_fail(ev, "%s needs 'input' to be of type string", e->name);
  }
  if (e->data) {
    *re = e->data;
  } else {
    bson_value_t rv, ov;
    if (!aspd_expr_eval(e->args[1], ev, &rv)) return false;
    if (e->args[2] && !aspd_expr_eval(e->args[2], ev, &ov)) return false;
    if (aspd_value_is_nullish(&rv)) return true;
    const char *pattern, *options;
    char why[256];
    if (!regex_parts(&rv, e->args[2] ? &ov : NULL, e->name, &pattern, &options, why, sizeof why)) {
      return aspd_eval_fail(ev, "%s", why);
    }
    aspd_error_t err;
    *re = aspd_regex_compile(pattern, options, &err);
    if (!*re) return aspd_eval_fail(ev, "Invalid Regex in %s: %s", e->name, err.message);
    *owned = true;
  }
  if (aspd_value_is_nullish(subject)) {
    if (*owned) aspd_regex_free(*re);
    *re = NULL;
  }
  return true;
}

/* {match, idx, captures} of the match described by spans. */
static void append_match(bson_t *doc, const char *s, const long *spans, int groups) {
  bson_append_utf8(doc, "match", 5, s + spans[0], (int)(spans[1] - spans[0]));
  bson_append_int32(doc, "idx", 3, (int32_t)cp_count(s, (size_t)spans[0]));
  bson_t caps;
  bson_append_array_begin(doc, "captures", 8, &caps);
  for (int g = 1; g <= groups; g++) {
    char key[16];
    const char *k;
    size_t klen = bson_uint32_to_string((uint32_t)(g - 1), &k, key, sizeof key);
    if (spans[2 * g] < 0) {
      bson_append_null(&caps, k, (int)klen);
    } else {
      bson_append_utf8(&caps, k, (int)klen, s + spans[2 * g],
                       (int)(spans[2 * g + 1] - spans[2 * g]));
    }
  }
  bson_append_array_end(doc, &caps);
}

static bool eval_regex_match(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  aspd_regex_t *re;
  bool owned;
  bson_value_t s;
  if (!regex_setup(e, ev, &re, &owned, &s)) return false;
  set_bool(out, re && aspd_regex_match(re, s.value.v_utf8.str, s.value.v_utf8.len));
  if (owned) aspd_regex_free(re);
  return true;
}

static bool eval_regex_find(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  aspd_regex_t *re;
  bool owned;
  bson_value_t s;
  if (!regex_setup(e, ev, &re, &owned, &s)) return false;
  long spans[2 * (MAX_GROUPS + 1)];
  int groups;
  if (re &&
      aspd_regex_find(re, s.value.v_utf8.str, s.value.v_utf8.len, 0, spans, MAX_GROUPS, &groups)) {
    bson_t doc = BSON_INITIALIZER;
    append_match(&doc, s.value.v_utf8.str, spans, groups);
    aspd_eval_bson(ev, &doc, false, out);
    bson_destroy(&doc);
  } else {
    set_null(out);
  }
  if (owned) aspd_regex_free(re);
  return true;
}

static bool eval_regex_find_all(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  aspd_regex_t *re;
  bool owned;
  bson_value_t s;
  if (!regex_setup(e, ev, &re, &owned, &s)) return false;
  bson_t list = BSON_INITIALIZER;
  uint32_t n = 0;
  long spans[2 * (MAX_GROUPS + 1)];
  int groups;
  size_t at = 0, len = re ? s.value.v_utf8.len : 0;
  while (re && at <= len &&
         aspd_regex_find(re, s.value.v_utf8.str, len, at, spans, MAX_GROUPS, &groups)) {
    char key[16];
    const char *k;
    size_t klen = bson_uint32_to_string(n++, &k, key, sizeof key);
    bson_t doc;
    bson_append_document_begin(&list, k, (int)klen, &doc);
    append_match(&doc, s.value.v_utf8.str, spans, groups);
    bson_append_document_end(&list, &doc);
    /* After an empty match, move on by one character. */
    at = (size_t)spans[1] > at || spans[1] > spans[0]
             ? (size_t)spans[1]
             : at + (at < len ? char_len((unsigned char)s.value.v_utf8.str[at]) : 1);
  }
  aspd_eval_bson(ev, &list, true, out);
  bson_destroy(&list);
  if (owned) aspd_regex_free(re);
  return true;
}

static const aspd_expr_op_t ops[] = {
    {"$substr", 3, 3, eval_substr, NULL},
    {"$substrBytes", 3, 3, eval_substr, NULL},
    {"$substrCP", 3, 3, eval_substr_cp, NULL},
    {"$strLenBytes", 1, 1, eval_str_len_bytes, NULL},
    {"$strLenCP", 1, 1, eval_str_len_cp, NULL},
    {"$indexOfBytes", 2, 4, eval_index_of_bytes, NULL},
    {"$indexOfCP", 2, 4, eval_index_of_cp, NULL},
    {"$split", 2, 2, eval_split, NULL},
    {"$trim", 0, 0, eval_trim, compile_trim},
    {"$ltrim", 0, 0, eval_ltrim, compile_trim},
    {"$rtrim", 0, 0, eval_rtrim, compile_trim},
    {"$replaceOne", 0, 0, eval_replace_one, compile_replace},
    {"$replaceAll", 0, 0, eval_replace_all, compile_replace},
    {"$strcasecmp", 2, 2, eval_strcasecmp, NULL},
    {"$regexMatch", 0, 0, eval_regex_match, compile_regex},
    {"$regexFind", 0, 0, eval_regex_find, compile_regex},
    {"$regexFindAll", 0, 0, eval_regex_find_all, compile_regex},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_text_ops = {ops};
