/* The server's OpenSSL context: TLS 1.2 or later, certificate chain and key. */
#ifndef ASPD_TLS_H
#define ASPD_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

/* ca_file (optional) completes the chain sent to clients. Client certificates
 * are not requested: aspd authenticates with SCRAM. */
SSL_CTX *aspd_tls_context_new(const char *cert_file, const char *key_file, const char *ca_file,
                              char *err, size_t err_len);

/* The most recent OpenSSL error of this thread as text (clears the queue). */
void aspd_tls_last_error(char *out, size_t out_len);

#endif
