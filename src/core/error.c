/* The error struct: one shape for client, server, network, TLS, auth and BSON failures. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "asp_private.h"

const char *asp_domain_name(asp_domain_t domain) {
  switch (domain) {
    case ASP_DOMAIN_CLIENT:
      return "client";
    case ASP_DOMAIN_SERVER:
      return "server";
    case ASP_DOMAIN_NETWORK:
      return "network";
    case ASP_DOMAIN_TLS:
      return "tls";
    case ASP_DOMAIN_AUTH:
      return "auth";
    case ASP_DOMAIN_BSON:
      return "bson";
    case ASP_DOMAIN_ADMIN:
      return "admin";
    case ASP_DOMAIN_TIMEOUT:
      return "timeout";
    case ASP_DOMAIN_NONE:
      break;
  }
  return "none";
}

void asp_error_clear(asp_error_t *err) {
  if (err) memset(err, 0, sizeof *err);
}

void asp_error_set(asp_error_t *err, asp_domain_t domain, int32_t code, const char *fmt, ...) {
  if (!err) return;
  asp_error_clear(err);
  err->domain = domain;
  err->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
}

bool asp_error_has_label(const asp_error_t *err, const char *label) {
  for (int i = 0; err && i < err->n_labels; i++) {
    if (strcmp(err->labels[i], label) == 0) return true;
  }
  return false;
}

/* The retryable-reads specification's list of server codes: not-primary, shutdown,
 * network-ish and exceeded-time-limit failures. */
static const int32_t retryable_codes[] = {6,    7,     89,    91,    134,   189,   262,
                                          9001, 10107, 11600, 11602, 13388, 13435, 13436};

bool asp_error_is_retryable_read(const asp_error_t *err) {
  if (!err) return false;
  if (err->domain == ASP_DOMAIN_NETWORK) return true;
  if (err->domain != ASP_DOMAIN_SERVER) return false;
  if (asp_error_has_label(err, "RetryableError") || asp_error_has_label(err, "RetryableReadError"))
    return true;
  for (size_t i = 0; i < sizeof retryable_codes / sizeof retryable_codes[0]; i++) {
    if (err->code == retryable_codes[i]) return true;
  }
  return false;
}

/* libmongoc reports TLS and network trouble under the same domains; the text tells them
 * apart. */
static bool mentions_tls(const char *msg) {
  return strstr(msg, "TLS") || strstr(msg, "SSL") || strstr(msg, "certificate") ||
         strstr(msg, "handshake");
}

void asp_error_from_mongoc(asp_error_t *err, const bson_error_t *error, const bson_t *reply) {
  if (!err) return;
  asp_domain_t domain = ASP_DOMAIN_NETWORK;
  switch (error->domain) {
    case MONGOC_ERROR_SERVER:
    case MONGOC_ERROR_WRITE_CONCERN_ERROR:
      domain = ASP_DOMAIN_SERVER;
      break;
    case MONGOC_ERROR_BSON:
      domain = ASP_DOMAIN_BSON;
      break;
    case MONGOC_ERROR_CLIENT:
      /* Only a message too large for the server is the caller's doing; the rest (not
       * ready, session trouble) is the connection's state. The code is never 0 here, so
       * the binding never mistakes it for a validation error. */
      if (error->code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
        domain = ASP_DOMAIN_AUTH;
      else if (error->code == MONGOC_ERROR_CLIENT_TOO_BIG)
        domain = ASP_DOMAIN_CLIENT;
      else
        domain = ASP_DOMAIN_NETWORK;
      break;
    case MONGOC_ERROR_COMMAND:
      domain =
          error->code == MONGOC_ERROR_COMMAND_INVALID_ARG ? ASP_DOMAIN_CLIENT : ASP_DOMAIN_NETWORK;
      break;
    default:
      domain = ASP_DOMAIN_NETWORK;
      break;
  }
  if (domain == ASP_DOMAIN_NETWORK && mentions_tls(error->message)) domain = ASP_DOMAIN_TLS;
  if (domain == ASP_DOMAIN_NETWORK && strstr(error->message, "uthentication failed"))
    domain = ASP_DOMAIN_AUTH;
  asp_error_set(err, domain, (int32_t)error->code, "%s", error->message);

  bson_iter_t it;
  if (domain == ASP_DOMAIN_SERVER && reply) {
    if (bson_iter_init_find(&it, reply, "codeName") && BSON_ITER_HOLDS_UTF8(&it)) {
      snprintf(err->code_name, sizeof err->code_name, "%s", bson_iter_utf8(&it, NULL));
    }
    /* SCRAM refusals come back as server errors (AuthenticationFailed, 18). */
    if (err->code == 18) err->domain = ASP_DOMAIN_AUTH;
  }
  bson_iter_t labels;
  if (reply && bson_iter_init_find(&it, reply, "errorLabels") && BSON_ITER_HOLDS_ARRAY(&it) &&
      bson_iter_recurse(&it, &labels)) {
    while (bson_iter_next(&labels) && err->n_labels < ASP_ERROR_MAX_LABELS) {
      if (!BSON_ITER_HOLDS_UTF8(&labels)) continue;
      snprintf(err->labels[err->n_labels++], sizeof err->labels[0], "%s",
               bson_iter_utf8(&labels, NULL));
    }
  }
}

void asp_error_scrub(asp_error_t *err, const char *secret) {
  if (!err || !secret || !*secret) return;
  static const char mask[] = "*****";
  size_t n = strlen(secret);
  char out[sizeof err->message];
  size_t o = 0;
  for (const char *p = err->message; *p && o + 1 < sizeof out;) {
    if (strncmp(p, secret, n) == 0) {
      for (size_t k = 0; mask[k] && o + 1 < sizeof out; k++) out[o++] = mask[k];
      p += n;
    } else {
      out[o++] = *p++;
    }
  }
  out[o] = '\0';
  memcpy(err->message, out, o + 1);
}
