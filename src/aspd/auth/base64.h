/* Standard base64 (with padding), as SCRAM messages and users.json use it. */
#ifndef ASPD_BASE64_H
#define ASPD_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes the encoding and a NUL into out (needs 4 * ceil(len / 3) + 1 bytes). */
void aspd_base64_encode(const uint8_t *data, size_t len, char *out);

/* Decodes text[0..text_len) into out (at most out_cap bytes). False on bad input. */
bool aspd_base64_decode(const char *text, size_t text_len, uint8_t *out, size_t out_cap,
                        size_t *out_len);

#endif
