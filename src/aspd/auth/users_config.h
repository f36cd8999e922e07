/* Users given on the command line or in a users file, hashed on arrival. */
#ifndef ASPD_USERS_CONFIG_H
#define ASPD_USERS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/users.h"

/* "NAME:PASSWORD[:ROLE1,ROLE2]". No roles unless given. A password containing ':'
 * must be given with roles (the last ':' separates them) or in a users file. */
bool aspd_users_add_spec(aspd_users_t *users, const char *spec, char *err, size_t err_len);

/* JSON: [{"user": "...", "password": "...", "roles": ["atlasAdmin"]}, ...]
 * (or the same array under a "users" key). */
bool aspd_users_add_file(aspd_users_t *users, const char *path, char *err, size_t err_len);

#endif
