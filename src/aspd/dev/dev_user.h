/* --dev: the atlasAdmin user "asp-dev" with a random password, kept in the state
 * store so restarts print the same URI (an earlier version's
 * STATE/dev/credentials.json is imported once). */
#ifndef ASPD_DEV_USER_H
#define ASPD_DEV_USER_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

#define ASPD_DEV_USER "asp-dev"
#define ASPD_DEV_PASSWORD_LEN 32 /* hex: safe in a URI without escaping */

bool aspd_dev_user_password(aspd_store_t *store, const char *dev_dir,
                            char password[ASPD_DEV_PASSWORD_LEN + 1], char *err, size_t err_len);

#endif
