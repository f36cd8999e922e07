#include "dev/dev_tls.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "store/atomic_file.h"

#define CA_DAYS 3650
#define SERVER_DAYS 825 /* the longest validity strict TLS clients accept */
#define SECONDS_PER_DAY 86400L

static bool openssl_fail(char *err, size_t err_len, const char *what) {
  unsigned long code = ERR_get_error();
  char reason[256] = "unknown error";
  if (code) ERR_error_string_n(code, reason, sizeof reason);
  ERR_clear_error();
  snprintf(err, err_len, "%s: %s", what, reason);
  return false;
}

static X509 *read_cert(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  X509 *cert = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  return cert;
}

static EVP_PKEY *read_key(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  return key;
}

/* Still valid a day from now. */
static bool fresh(X509 *cert) {
  time_t tomorrow = time(NULL) + SECONDS_PER_DAY;
  return X509_cmp_time(X509_get0_notAfter(cert), &tomorrow) > 0 &&
         X509_cmp_current_time(X509_get0_notBefore(cert)) < 0;
}

static bool ca_is_usable(X509 *ca, EVP_PKEY *ca_key) {
  return ca && ca_key && X509_check_private_key(ca, ca_key) == 1 && X509_check_ca(ca) > 0 &&
         fresh(ca);
}

static bool server_is_usable(X509 *cert, EVP_PKEY *key, EVP_PKEY *ca_key) {
  return cert && key && X509_check_private_key(cert, key) == 1 && X509_verify(cert, ca_key) == 1 &&
         fresh(cert) && X509_check_host(cert, "localhost", 0, 0, NULL) == 1 &&
         X509_check_ip_asc(cert, "127.0.0.1", 0) == 1;
}

static bool add_extension(X509 *cert, X509V3_CTX *ctx, int nid, const char *value) {
  X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

/* issuer NULL: self-signed CA. */
static X509 *make_cert(EVP_PKEY *key, const char *common_name, X509 *issuer, EVP_PKEY *issuer_key) {
  X509 *cert = X509_new();
  BIGNUM *serial = BN_new();
  bool ok = cert && serial && X509_set_version(cert, 2) == 1 &&
            BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) != NULL;
  BN_free(serial);
  long days = issuer ? SERVER_DAYS : CA_DAYS;
  ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
       X509_gmtime_adj(X509_getm_notAfter(cert), days * SECONDS_PER_DAY) &&
       X509_set_pubkey(cert, key) == 1;
  X509_NAME *name = ok ? X509_get_subject_name(cert) : NULL;
  ok = ok &&
       X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"aspd dev", -1,
                                  -1, 0) == 1 &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)common_name, -1,
                                  -1, 0) == 1 &&
       X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name) == 1;
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
  if (ok && !issuer) {
    ok = add_extension(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE") &&
         add_extension(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") &&
         add_extension(cert, &ctx, NID_subject_key_identifier, "hash");
  } else if (ok) {
    ok = add_extension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
         add_extension(cert, &ctx, NID_key_usage, "critical,digitalSignature") &&
         add_extension(cert, &ctx, NID_ext_key_usage, "serverAuth") &&
         add_extension(cert, &ctx, NID_subject_alt_name,
                       "DNS:localhost,IP:127.0.0.1,IP:0:0:0:0:0:0:0:1") &&
         add_extension(cert, &ctx, NID_subject_key_identifier, "hash") &&
         add_extension(cert, &ctx, NID_authority_key_identifier, "keyid:always");
  }
  ok = ok && X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
  if (!ok) {
    X509_free(cert);
    return NULL;
  }
  return cert;
}

/* PEM-encodes into memory, then writes atomically (mode 0600 from mkstemp). */
static bool write_pem(const char *path, X509 *cert, EVP_PKEY *key, char *err, size_t err_len) {
  BIO *bio = BIO_new(BIO_s_mem());
  bool ok = bio && (cert ? PEM_write_bio_X509(bio, cert)
                         : PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) == 1;
  if (!ok) {
    BIO_free(bio);
    return openssl_fail(err, err_len, "encode PEM");
  }
  char *data;
  long len = BIO_get_mem_data(bio, &data);
  ok = aspd_atomic_write(path, data, (size_t)len, err, err_len);
  BIO_free(bio);
  return ok;
}

bool aspd_dev_tls_ensure(const char *dev_dir, aspd_dev_tls_t *out, char *err, size_t err_len) {
  char ca_key_file[PATH_MAX + 16];
  char dir[PATH_MAX];
  if (!realpath(dev_dir, dir)) {
    snprintf(err, err_len, "resolve %s: not found", dev_dir);
    return false;
  }
  snprintf(out->ca_file, sizeof out->ca_file, "%.*s/ca.pem", PATH_MAX - 16, dir);
  snprintf(ca_key_file, sizeof ca_key_file, "%.*s/ca.key", PATH_MAX - 16, dir);
  snprintf(out->cert_file, sizeof out->cert_file, "%.*s/server.pem", PATH_MAX - 16, dir);
  snprintf(out->key_file, sizeof out->key_file, "%.*s/server.key", PATH_MAX - 16, dir);

  X509 *ca = read_cert(out->ca_file);
  EVP_PKEY *ca_key = read_key(ca_key_file);
  X509 *cert = NULL;
  EVP_PKEY *key = NULL;
  bool ok = true;
  if (!ca_is_usable(ca, ca_key)) {
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    ca_key = EVP_EC_gen("P-256");
    ca = ca_key ? make_cert(ca_key, "aspd dev CA", NULL, NULL) : NULL;
    ok = ca ? (write_pem(ca_key_file, NULL, ca_key, err, err_len) &&
               write_pem(out->ca_file, ca, NULL, err, err_len))
            : openssl_fail(err, err_len, "create the dev CA");
    if (ok) aspd_log("dev: created a CA in %s", out->ca_file);
  } else {
    cert = read_cert(out->cert_file);
    key = read_key(out->key_file);
  }
  ERR_clear_error();
  if (ok && !server_is_usable(cert, key, ca_key)) {
    X509_free(cert);
    EVP_PKEY_free(key);
    key = EVP_EC_gen("P-256");
    cert = key ? make_cert(key, "localhost", ca, ca_key) : NULL;
    ok = cert ? (write_pem(out->key_file, NULL, key, err, err_len) &&
                 write_pem(out->cert_file, cert, NULL, err, err_len))
              : openssl_fail(err, err_len, "create the dev server certificate");
  }
  X509_free(ca);
  EVP_PKEY_free(ca_key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}
