#include "auth/base64.h"

#include <openssl/evp.h>
#include <stdlib.h>

void aspd_base64_encode(const uint8_t *data, size_t len, char *out) {
  EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

bool aspd_base64_decode(const char *text, size_t text_len, uint8_t *out, size_t out_cap,
                        size_t *out_len) {
  if (text_len % 4 != 0 || text_len / 4 * 3 > out_cap + 2) return false;
  if (text_len == 0) {
    *out_len = 0;
    return true;
  }
  uint8_t *buf = malloc(text_len / 4 * 3);
  int n = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)text_len);
  if (n < 0) {
    free(buf);
    return false;
  }
  /* EVP_DecodeBlock counts padding as zero bytes: drop them. */
  size_t len = (size_t)n;
  if (text[text_len - 1] == '=') len--;
  if (text[text_len - 2] == '=') len--;
  bool fits = len <= out_cap;
  if (fits) {
    for (size_t i = 0; i < len; i++) out[i] = buf[i];
    *out_len = len;
  }
  free(buf);
  return fits;
}
