/* The SCRAM server conversation on arbitrary client messages, for a real user and an
 * unknown one (whatever name the client-first message carries), both mechanisms. Input:
 * one byte of choices (bit 0 mechanism, bit 1 skipEmptyExchange), then up to three client
 * messages separated by 0xff bytes. */
#include <stdlib.h>
#include <string.h>

#include "auth/scram.h"
#include "auth/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static aspd_users_t *users;

static void setup(void) {
  users = aspd_users_new();
  char err[256];
  const char *roles[] = {ASPD_ROLE_ATLAS_ADMIN};
  if (!aspd_users_set(users, "fuzz", "pencil", roles, 1, err, sizeof err)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!users) setup();
  if (size < 1) return 0;
  uint8_t choices = data[0];
  data++;
  size--;
  aspd_scram_t *s =
      aspd_scram_new(users, choices & 1 ? ASPD_SCRAM_SHA_256 : ASPD_SCRAM_SHA_1, choices & 2);
  for (int step = 0; step < 3; step++) {
    const uint8_t *end = memchr(data, 0xff, size);
    size_t len = end ? (size_t)(end - data) : size;
    uint8_t *msg = malloc(len ? len : 1); /* exactly its size: reads past it are caught */
    memcpy(msg, data, len);
    char *out = NULL;
    size_t out_len = 0;
    aspd_scram_status_t status = aspd_scram_step(s, msg, len, &out, &out_len);
    free(msg);
    free(out);
    if (status != ASPD_SCRAM_CONTINUE || !end) break;
    data = end + 1;
    size -= len + 1;
  }
  aspd_scram_free(s);
  return 0;
}
