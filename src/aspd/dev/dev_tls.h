/* --dev: a throwaway CA and a localhost server certificate it signed, made
 * with the OpenSSL APIs and reused across restarts while still valid. */
#ifndef ASPD_DEV_TLS_H
#define ASPD_DEV_TLS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
  char ca_file[PATH_MAX]; /* absolute: goes into the printed URI */
  char cert_file[PATH_MAX];
  char key_file[PATH_MAX];
} aspd_dev_tls_t;

/* Ensures dev_dir/{ca.pem,ca.key,server.pem,server.key} hold a valid CA and a
 * certificate for DNS:localhost, IP:127.0.0.1 and IP:::1 signed by it. */
bool aspd_dev_tls_ensure(const char *dev_dir, aspd_dev_tls_t *out, char *err, size_t err_len);

#endif
