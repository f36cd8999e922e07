#include "net/tls.h"

#include <openssl/err.h>
#include <stdio.h>

void aspd_tls_last_error(char *out, size_t out_len) {
  unsigned long code = ERR_get_error();
  if (code == 0) {
    snprintf(out, out_len, "no OpenSSL error recorded");
  } else {
    ERR_error_string_n(code, out, out_len);
  }
  ERR_clear_error();
}

static SSL_CTX *fail(SSL_CTX *ctx, char *err, size_t err_len, const char *what, const char *path) {
  char reason[256];
  aspd_tls_last_error(reason, sizeof reason);
  snprintf(err, err_len, "%s %s: %s", what, path, reason);
  SSL_CTX_free(ctx);
  return NULL;
}

SSL_CTX *aspd_tls_context_new(const char *cert_file, const char *key_file, const char *ca_file,
                              char *err, size_t err_len) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return fail(NULL, err, err_len, "create", "TLS context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  /* Drivers hang up without close_notify: that is a normal end, not a truncated message. */
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
    return fail(ctx, err, err_len, "load certificate", cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
    return fail(ctx, err, err_len, "load private key", key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail(ctx, err, err_len, "private key does not match", cert_file);
  }
  if (ca_file) {
    /* OpenSSL completes the served chain from this store when the cert file holds only the leaf. */
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
      return fail(ctx, err, err_len, "load CA", ca_file);
    }
  }
  /* A file holding only the leaf makes OpenSSL complete the chain from the store in every
   * handshake, and concurrent handshakes then race on its lazily cached certificate
   * extensions (ThreadSanitizer: ASN1_STRING_set vs ASN1_STRING_cmp). Complete it once, here.
   * A file with intermediates is served as it is, never rebuilt. A chain that does not verify
   * is served as far as it goes, as before. */
  STACK_OF(X509) *chain = NULL;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  if (!chain && SSL_CTX_build_cert_chain(ctx, SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR) == 0) {
    return fail(ctx, err, err_len, "build certificate chain for", cert_file);
  }
  ERR_clear_error();
  return ctx;
}
