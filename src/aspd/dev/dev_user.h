/* --dev: the atlasAdmin user "asp-dev" with a random password, kept in
 * STATE/dev/credentials.json (mode 0600) so restarts print the same URI. */
#ifndef ASPD_DEV_USER_H
#define ASPD_DEV_USER_H

#include <stdbool.h>
#include <stddef.h>

#define ASPD_DEV_USER "asp-dev"
#define ASPD_DEV_PASSWORD_LEN 32 /* hex: safe in a URI without escaping */

bool aspd_dev_user_password(const char *dev_dir, char password[ASPD_DEV_PASSWORD_LEN + 1],
                            char *err, size_t err_len);

#endif
