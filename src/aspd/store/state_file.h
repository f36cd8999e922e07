/* One JSON state file in the state directory: canonical Extended JSON (lossless
 * for every BSON type) written atomically, read strictly. */
#ifndef ASPD_STATE_FILE_H
#define ASPD_STATE_FILE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/* Loads dir/name into *out (a new bson_t). A missing file is fine: *out = NULL
 * and true. An unreadable or corrupt file is false with a message in err. */
bool aspd_state_file_load(const char *dir, const char *name, bson_t **out, char *err,
                          size_t err_len);

/* Writes doc to dir/name atomically. */
bool aspd_state_file_save(const char *dir, const char *name, const bson_t *doc, char *err,
                          size_t err_len);

/* Writes the concatenation of pieces (already canonical Extended JSON) to dir/name atomically. */
bool aspd_state_file_save_pieces(const char *dir, const char *name, const struct iovec *pieces,
                                 size_t count, char *err, size_t err_len);

#endif
