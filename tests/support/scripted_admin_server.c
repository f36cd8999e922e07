/* A scripted Admin API server for the tests, run as its own process so
 * that the client under test never shares a process with the server it talks to.
 *
 *   scripted_admin_server --cert PEM --key PEM
 *
 * Serves HTTPS (libmicrohttpd) on 127.0.0.1 on a free port and prints that port on a line
 * of its own on stdout. Each route answers by how often it has been hit, with the replies
 * aspd has no reason to give (503, 429 with Retry-After, 500, a revoked token, an echoed
 * secret, a body that is not JSON, silence). GET /__script/hits returns the per-route hit
 * counters and the Accept header of the last scripted request as JSON, for the test to
 * assert on. Used by tests/core/test_admin_http.c and spec/error_table_spec.lua.
 *
 * Stops on SIGTERM or SIGINT, and when its parent dies (PR_SET_PDEATHSIG); exits 0 then,
 * 77 when libmicrohttpd has no TLS, 2 on bad arguments or when it cannot start. */
#include <arpa/inet.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define GROUP "0123456789abcdef01234567"
#define PREFIX "/api/atlas/v2/groups/" GROUP "/streams/ws/connections/"

/* Handlers run on one thread per connection: the counters are shared under the lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int hits_flaky, hits_post, hits_broken, hits_far, hits_token, hits_bearer;
static int tokens_issued;
static char last_accept[128];

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *buf = n >= 0 ? calloc(1, (size_t)n + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  return buf;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *retry_after) {
  /* MUST_COPY: libmicrohttpd copies the text (its parameter is not const) */
  char *copy = strdup(body);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(copy), copy, MHD_RESPMEM_MUST_COPY);
  free(copy);
  MHD_add_response_header(r, "Content-Type", "application/json");
  if (retry_after) MHD_add_response_header(r, "Retry-After", retry_after);
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

/* The counters as JSON; the Accept value is the client's, so it is escaped. Call locked. */
static enum MHD_Result reply_hits(struct MHD_Connection *c) {
  char accept[2 * sizeof last_accept];
  size_t j = 0;
  for (size_t i = 0; last_accept[i] && j + 2 < sizeof accept; i++) {
    char ch = last_accept[i];
    if (ch == '"' || ch == '\\') accept[j++] = '\\';
    accept[j++] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
  }
  accept[j] = '\0';
  char body[512];
  snprintf(body, sizeof body,
           "{\"flaky\":%d,\"post\":%d,\"broken\":%d,\"far\":%d,\"token\":%d,\"bearer\":%d,"
           "\"accept\":\"%s\"}",
           hits_flaky, hits_post, hits_broken, hits_far, hits_token, hits_bearer, accept);
  return reply(c, 200, body, NULL);
}

/* The route table of the script: each path answers by how often it has been hit. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
  (void)cls, (void)version, (void)upload;
  if (*state == NULL) { /* first call: headers only */
    *state = (void *)1;
    return MHD_YES;
  }
  if (*upload_size) { /* the body is not needed: consume it */
    *upload_size = 0;
    return MHD_YES;
  }
  pthread_mutex_lock(&lock);
  enum MHD_Result ok;
  if (strcmp(url, "/__script/hits") == 0) { /* the test's own view: not a scripted request */
    ok = reply_hits(c);
    pthread_mutex_unlock(&lock);
    return ok;
  }
  const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  snprintf(last_accept, sizeof last_accept, "%s", accept ? accept : "");
  if (strcmp(url, "/api/oauth/token") == 0) {
    ++hits_token;
    char body[128];
    snprintf(body, sizeof body,
             "{\"access_token\":\"tok-%d\",\"expires_in\":3600,\"token_type\":\"Bearer\"}",
             ++tokens_issued);
    ok = reply(c, 200, body, NULL);
  } else if (strcmp(url, PREFIX "flaky") == 0) {
    int n = ++hits_flaky;
    ok = n == 1   ? reply(c, 503, "{\"error\":503}", NULL)
         : n == 2 ? reply(c, 429, "{\"error\":429,\"errorCode\":\"RATE_LIMITED\"}", "1")
                  : reply(c, 200, "{\"name\":\"flaky\"}", NULL);
  } else if (strcmp(method, "POST") == 0) {
    ++hits_post;
    ok = reply(c, 503, "{\"error\":503,\"detail\":\"busy\"}", NULL);
  } else if (strcmp(url, PREFIX "broken") == 0) {
    ++hits_broken;
    ok = reply(c, 500, "{\"error\":500,\"errorCode\":\"UNEXPECTED_ERROR\"}", NULL);
  } else if (strcmp(url, PREFIX "notjson") == 0) { /* a proxy's error page, say */
    ok = reply(c, 200, "<html><body>Bad Gateway</body></html>", NULL);
  } else if (strcmp(url, PREFIX "far") == 0) {
    ++hits_far;
    ok = reply(c, 429, "{\"error\":429,\"errorCode\":\"RATE_LIMITED\"}", "3600");
  } else if (strcmp(url, PREFIX "bearer") == 0) {
    ++hits_bearer;
    /* only the second token is good: the first is "revoked" */
    bool good = auth && strcmp(auth, "Bearer tok-2") == 0;
    ok = good ? reply(c, 200, "{\"name\":\"bearer\"}", NULL)
              : reply(c, 401, "{\"error\":401,\"errorCode\":\"UNAUTHORIZED\"}", NULL);
  } else if (strcmp(url, PREFIX "echo") == 0) {
    ok = reply(c, 400,
               "{\"error\":400,\"errorCode\":\"INVALID\",\"detail\":\"bad password "
               "kafka-pass-99 for user\"}",
               NULL);
  } else if (strcmp(url, PREFIX "slow") == 0) {
    pthread_mutex_unlock(&lock);
    sleep(2); /* longer than the client's timeout_ms, so that the client gives up first */
    return reply(c, 200, "{}", NULL);
  } else {
    ok = reply(c, 404, "{\"error\":404}", NULL);
  }
  pthread_mutex_unlock(&lock);
  return ok;
}

int main(int argc, char **argv) {
  const char *cert_path = NULL, *key_path = NULL;
  static const struct option longopts[] = {
      {"cert", required_argument, NULL, 'c'}, {"key", required_argument, NULL, 'k'}, {0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
      case 'c':
        cert_path = optarg;
        break;
      case 'k':
        key_path = optarg;
        break;
      default:
        return 2;
    }
  }
  if (!cert_path || !key_path || optind != argc) {
    fprintf(stderr, "usage: %s --cert PEM --key PEM\n", argv[0]);
    return 2;
  }

  /* Stopped with the test even when the test is killed: SIGTERM on the parent's death, and
   * a parent that died before this call is noticed by getppid. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 2;
  /* Blocked before the daemon's threads exist so that they inherit the mask and the
   * signals wait for sigwait below; a closed stdout must not kill the server either. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    fprintf(stderr, "scripted_admin_server: libmicrohttpd without TLS\n");
    return 77;
  }
  char *cert = slurp(cert_path);
  char *key = slurp(key_path);
  if (!cert || !key) {
    fprintf(stderr, "scripted_admin_server: cannot read %s or %s\n", cert_path, key_path);
    return 2;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_TLS | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
      handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_HTTPS_MEM_CERT, cert,
      MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
  const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
  if (!info || info->port == 0) {
    fprintf(stderr, "scripted_admin_server: the HTTPS server does not start\n");
    return 2;
  }
  printf("%u\n", (unsigned)info->port);
  fflush(stdout);

  int sig;
  sigwait(&stop, &sig);
  MHD_stop_daemon(d);
  free(cert);
  free(key);
  return 0;
}
