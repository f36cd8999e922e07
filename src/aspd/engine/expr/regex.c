#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/expr/regex.h"

#include <pcre2.h>
#include <stdlib.h>

struct aspd_regex {
  pcre2_code *code;
  pcre2_match_data *match;
};

aspd_regex_t *aspd_regex_compile(const char *pattern, const char *options, aspd_error_t *err) {
  uint32_t flags = PCRE2_UTF;
  for (const char *o = options ? options : ""; *o; o++) {
    switch (*o) {
      case 'i':
        flags |= PCRE2_CASELESS;
        break;
      case 'm':
        flags |= PCRE2_MULTILINE;
        break;
      case 's':
        flags |= PCRE2_DOTALL;
        break;
      case 'x':
        flags |= PCRE2_EXTENDED;
        break;
      case 'u':
        flags |= PCRE2_UCP;
        break;
      default:
        aspd_error_set(err, ASPD_E_LOCATION(51108), "invalid flag in regex options: %c", *o);
        return NULL;
    }
  }
  int code;
  PCRE2_SIZE offset;
  pcre2_code *re =
      pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, flags, &code, &offset, NULL);
  if (!re) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(code, message, sizeof message);
    aspd_error_set(err, ASPD_E_LOCATION(51091), "Regular expression is invalid: %s",
                   (const char *)message);
    return NULL;
  }
  /* JIT where the platform has it; the interpreter otherwise. */
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  aspd_regex_t *r = malloc(sizeof *r);
  r->code = re;
  r->match = pcre2_match_data_create_from_pattern(re, NULL);
  return r;
}

bool aspd_regex_match(aspd_regex_t *re, const char *subject, size_t len) {
  return pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, re->match, NULL) >= 0;
}

bool aspd_regex_find(aspd_regex_t *re, const char *subject, size_t len, size_t start, long *spans,
                     int max_groups, int *groups) {
  uint32_t count;
  pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &count);
  *groups = (int)count < max_groups ? (int)count : max_groups;
  if (pcre2_match(re->code, (PCRE2_SPTR)subject, len, start, 0, re->match, NULL) < 0) return false;
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->match);
  for (int i = 0; i <= *groups; i++) {
    bool set = ov[2 * i] != PCRE2_UNSET;
    spans[2 * i] = set ? (long)ov[2 * i] : -1;
    spans[2 * i + 1] = set ? (long)ov[2 * i + 1] : -1;
  }
  return true;
}

void aspd_regex_free(aspd_regex_t *re) {
  if (!re) return;
  pcre2_match_data_free(re->match);
  pcre2_code_free(re->code);
  free(re);
}
