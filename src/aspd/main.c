/* aspd: a local Atlas Stream Processing workspace over TLS + SCRAM.
 * Parses flags, bootstraps --dev material, loads users, opens the workspace,
 * serves until SIGINT/SIGTERM (or the parent's death with --exit-with-parent). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "auth/users.h"
#include "auth/users_config.h"
#include "dev/dev_tls.h"
#include "dev/dev_user.h"
#include "log.h"
#include "net/limits.h"
#include "net/listener.h"
#include "net/peer_limit.h"
#include "net/tls.h"
#include "server.h"
#include "store/atomic_file.h"
#include "workspace.h"

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 27260
#define DEFAULT_DEV_STATE_DIR "./aspd-dev-state"

typedef struct {
  const char *host;
  int port;
  const char *tls_cert;
  const char *tls_key;
  const char *tls_ca;
  const char *connections_file;
  const char *state_dir;
  bool dev;
  bool exit_with_parent;
  bool verbose;
  char **user_specs; /* argv entries, wiped once hashed */
  size_t user_spec_count;
  const char **users_files;
  size_t users_file_count;
  aspd_limits_t limits;
} options_t;

static int stop_pipe[2] = {-1, -1};

static void on_stop_signal(int sig) {
  (void)sig;
  int saved = errno;
  char byte = 1;
  /* Only wakes the accept loop; if the pipe is full a stop is already pending. */
  ssize_t ignored = write(stop_pipe[1], &byte, 1);
  (void)ignored;
  errno = saved;
}

static void usage(FILE *out) {
  fputs(
      "usage: aspd [options]\n"
      "  A local Atlas Stream Processing workspace: TLS + SCRAM, MongoDB wire protocol.\n\n"
      "  --dev                  create/reuse a state dir, a throwaway CA, a localhost\n"
      "                         certificate and the atlasAdmin user asp-dev; print the\n"
      "                         mongodb:// URI to use on stdout\n"
      "  --host HOST            address to listen on (default 127.0.0.1)\n"
      "  --port PORT            port (default 27260; 0 picks a free one)\n"
      "  --tls-cert FILE        server certificate chain, PEM (required without --dev)\n"
      "  --tls-key FILE         its private key, PEM (required without --dev)\n"
      "  --tls-ca FILE          CA bundle completing the served chain (optional)\n"
      "  --state-dir DIR        persistent state (required without --dev;\n"
      "                         --dev default ./aspd-dev-state)\n"
      "  --user NAME:PASSWORD[:ROLE,...]\n"
      "                         add a user (repeatable); give role atlasAdmin to allow\n"
      "                         ASP commands\n"
      "  --users-file FILE      JSON [{\"user\",\"password\",\"roles\"}] of more users\n"
      "  --connections FILE     connection registry JSON (Admin API shape)\n"
      "  --exit-with-parent     stop when the parent process dies (Linux)\n"
      "  --verbose              log each connection and each command's name and outcome\n",
      out);
  for (int i = 0; i < ASPD_LIMIT_COUNT; i++) {
    fprintf(out, "  --%s N\n                         %s (default %ld)\n", aspd_limit_rows[i].flag,
            aspd_limit_rows[i].help, aspd_limit_rows[i].fallback);
  }
  fputs("  --help, --version\n", out);
}

static bool parse_options(int argc, char **argv, options_t *o, int *exit_code) {
  enum {
    OPT_HOST = 256,
    OPT_PORT,
    OPT_CERT,
    OPT_KEY,
    OPT_CA,
    OPT_USER,
    OPT_USERS_FILE,
    OPT_CONNECTIONS,
    OPT_STATE_DIR,
    OPT_DEV,
    OPT_EXIT_WITH_PARENT,
    OPT_VERBOSE,
    OPT_HELP,
    OPT_VERSION,
    OPT_LIMIT /* + aspd_limit_t */
  };
  static const struct option fixed_opts[] = {
      {"host", required_argument, NULL, OPT_HOST},
      {"port", required_argument, NULL, OPT_PORT},
      {"tls-cert", required_argument, NULL, OPT_CERT},
      {"tls-key", required_argument, NULL, OPT_KEY},
      {"tls-ca", required_argument, NULL, OPT_CA},
      {"user", required_argument, NULL, OPT_USER},
      {"users-file", required_argument, NULL, OPT_USERS_FILE},
      {"connections", required_argument, NULL, OPT_CONNECTIONS},
      {"state-dir", required_argument, NULL, OPT_STATE_DIR},
      {"dev", no_argument, NULL, OPT_DEV},
      {"exit-with-parent", no_argument, NULL, OPT_EXIT_WITH_PARENT},
      {"verbose", no_argument, NULL, OPT_VERBOSE},
      {"help", no_argument, NULL, OPT_HELP},
      {"version", no_argument, NULL, OPT_VERSION}};
  /* The resource limits' flags come from their table (net/limits.c). */
  enum { FIXED = sizeof fixed_opts / sizeof fixed_opts[0] };
  struct option longopts[FIXED + ASPD_LIMIT_COUNT + 1];
  memcpy(longopts, fixed_opts, sizeof fixed_opts);
  for (int i = 0; i < ASPD_LIMIT_COUNT; i++) {
    longopts[FIXED + i] =
        (struct option){aspd_limit_rows[i].flag, required_argument, NULL, OPT_LIMIT + i};
  }
  longopts[FIXED + ASPD_LIMIT_COUNT] = (struct option){NULL, 0, NULL, 0};
  *o = (options_t){.host = DEFAULT_HOST, .port = DEFAULT_PORT};
  aspd_limits_default(&o->limits);
  o->user_specs = calloc((size_t)argc, sizeof *o->user_specs);
  o->users_files = calloc((size_t)argc, sizeof *o->users_files);
  int opt;
  char *end;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
      case OPT_HOST:
        o->host = optarg;
        break;
      case OPT_PORT: {
        long port = strtol(optarg, &end, 10);
        if (*optarg == '\0' || *end != '\0' || port < 0 || port > 65535) {
          fprintf(stderr, "aspd: --port expects 0..65535, got '%s'\n", optarg);
          *exit_code = 2;
          return false;
        }
        o->port = (int)port;
        break;
      }
      case OPT_CERT:
        o->tls_cert = optarg;
        break;
      case OPT_KEY:
        o->tls_key = optarg;
        break;
      case OPT_CA:
        o->tls_ca = optarg;
        break;
      case OPT_USER:
        o->user_specs[o->user_spec_count++] = optarg;
        break;
      case OPT_USERS_FILE:
        o->users_files[o->users_file_count++] = optarg;
        break;
      case OPT_CONNECTIONS:
        o->connections_file = optarg;
        break;
      case OPT_STATE_DIR:
        o->state_dir = optarg;
        break;
      case OPT_DEV:
        o->dev = true;
        break;
      case OPT_EXIT_WITH_PARENT:
        o->exit_with_parent = true;
        break;
      case OPT_VERBOSE:
        o->verbose = true;
        break;
      case OPT_HELP:
        usage(stdout);
        *exit_code = 0;
        return false;
      case OPT_VERSION:
        printf("aspd %s\n", ASPD_VERSION);
        *exit_code = 0;
        return false;
      default:
        if (opt >= OPT_LIMIT && opt < OPT_LIMIT + ASPD_LIMIT_COUNT) {
          char err[256];
          if (aspd_limits_set(&o->limits, (aspd_limit_t)(opt - OPT_LIMIT), optarg, err,
                              sizeof err)) {
            break;
          }
          fprintf(stderr, "aspd: %s\n", err);
        } else {
          usage(stderr);
        }
        *exit_code = 2;
        return false;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "aspd: unexpected argument '%s' (see --help)\n", argv[optind]);
    *exit_code = 2;
    return false;
  }
  if (o->dev && !o->state_dir) o->state_dir = DEFAULT_DEV_STATE_DIR;
  if (!o->dev && (!o->tls_cert || !o->tls_key || !o->state_dir)) {
    fprintf(stderr, "aspd: --tls-cert, --tls-key and --state-dir are required (or use --dev)\n");
    *exit_code = 2;
    return false;
  }
  return true;
}

static bool install_signals(bool exit_with_parent) {
  if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  /* The harness closes our stdout after the URI line; a failed write must not kill us. */
  signal(SIGPIPE, SIG_IGN);
  /* Over a file size limit a write must fail (and the command with it), not kill aspd. */
  signal(SIGXFSZ, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_stop_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  if (exit_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) {
      fputs("aspd: parent already gone (--exit-with-parent)\n", stderr);
      return false;
    }
  }
  return true;
}

/* Percent-encodes everything but unreserved characters and '/'. */
static void uri_encode(const char *in, char *out, size_t out_len) {
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < out_len; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr("-._~/", *p)) {
      out[o++] = (char)*p;
    } else {
      o += (size_t)snprintf(out + o, out_len - o, "%%%02X", *p);
    }
  }
  out[o] = '\0';
}

/* Adds the --dev user and certificates; fills the TLS paths and the password. */
static bool bootstrap_dev(options_t *o, aspd_dev_tls_t *tls, char *password, aspd_users_t *users,
                          char *err, size_t err_len) {
  char dev_dir[PATH_MAX];
  snprintf(dev_dir, sizeof dev_dir, "%.*s/dev", PATH_MAX - 8, o->state_dir);
  if (!aspd_make_dirs(dev_dir, err, err_len) || !aspd_dev_tls_ensure(dev_dir, tls, err, err_len) ||
      !aspd_dev_user_password(dev_dir, password, err, err_len)) {
    return false;
  }
  const char *roles[] = {ASPD_ROLE_ATLAS_ADMIN};
  if (!aspd_users_set(users, ASPD_DEV_USER, password, roles, 1, err, err_len)) return false;
  if (!o->tls_cert) o->tls_cert = tls->cert_file;
  if (!o->tls_key) o->tls_key = tls->key_file;
  if (!o->tls_ca) o->tls_ca = tls->ca_file;
  return true;
}

static bool load_users(options_t *o, aspd_users_t *users, const char *users_path, char *err,
                       size_t err_len) {
  for (size_t i = 0; i < o->user_spec_count; i++) {
    bool ok = aspd_users_add_spec(users, o->user_specs[i], err, err_len);
    /* Keep the password out of /proc/PID/cmdline from now on. */
    char *secret = strchr(o->user_specs[i], ':');
    if (secret) OPENSSL_cleanse(secret + 1, strlen(secret + 1));
    if (!ok) return false;
  }
  for (size_t i = 0; i < o->users_file_count; i++) {
    if (!aspd_users_add_file(users, o->users_files[i], err, err_len)) return false;
  }
  return aspd_users_save(users, users_path, err, err_len);
}

int main(int argc, char **argv) {
  options_t o;
  int exit_code = 1;
  if (!parse_options(argc, argv, &o, &exit_code)) goto out_options;
  if (!install_signals(o.exit_with_parent)) goto out_options;

  char err[1024] = "out of memory";
  char users_path[PATH_MAX];
  snprintf(users_path, sizeof users_path, "%.*s/users.json", PATH_MAX - 16, o.state_dir);
  aspd_users_t *users = aspd_users_new();
  aspd_dev_tls_t dev_tls;
  char dev_password[ASPD_DEV_PASSWORD_LEN + 1] = "";
  SSL_CTX *ctx = NULL;
  aspd_workspace_t *workspace = NULL;
  aspd_listener_t *listener = NULL;
  bool ok = users && aspd_make_dirs(o.state_dir, err, sizeof err) &&
            aspd_users_load(users, users_path, err, sizeof err);
  if (ok && o.dev) ok = bootstrap_dev(&o, &dev_tls, dev_password, users, err, sizeof err);
  ok = ok && load_users(&o, users, users_path, err, sizeof err);
  if (ok && aspd_users_count(users) == 0) {
    aspd_log("no users: every ASP command will be refused (add one with --user)");
  }
  ok = ok && (ctx = aspd_tls_context_new(o.tls_cert, o.tls_key, o.tls_ca, err, sizeof err));
  /* Bind before opening the workspace: a busy port must not resume processors first. */
  ok = ok && (listener = aspd_listener_open(o.host, o.port, err, sizeof err));
  if (ok) {
    aspd_workspace_config_t config = {.state_dir = o.state_dir,
                                      .connections_file = o.connections_file};
    ok = (workspace = aspd_workspace_open(&config, err, sizeof err)) != NULL;
  }
  if (!ok) {
    fprintf(stderr, "aspd: %s\n", err);
    goto out;
  }

  int port = aspd_listener_port(listener);
  aspd_log("listening on %s:%d (TLS)", o.host, port);
  if (o.dev) {
    /* The CA clients need: the generated one, or the one given with --tls-ca. */
    char ca_path[PATH_MAX], ca[3 * PATH_MAX + 1];
    uri_encode(realpath(o.tls_ca, ca_path) ? ca_path : o.tls_ca, ca, sizeof ca);
    const char *host = strchr(o.host, ':') ? "[::1]" : "127.0.0.1";
    printf("mongodb://%s:%s@%s:%d/?tls=true&tlsCAFile=%s\n", ASPD_DEV_USER, dev_password, host,
           port, ca);
    fflush(stdout);
  }

  aspd_server_t server = {.users = users, .workspace = workspace};
  aspd_peer_limit_t *unauthenticated =
      aspd_peer_limit_new((size_t)o.limits.value[ASPD_LIMIT_UNAUTH_PER_PEER]);
  aspd_connection_config_t connections = {.tls = ctx,
                                          .server = &server,
                                          .limits = &o.limits,
                                          .unauthenticated = unauthenticated,
                                          .verbose = o.verbose};
  bool drained = aspd_listener_run(listener, &connections, stop_pipe[0]);
  aspd_log("shutting down");
  if (!drained) {
    /* A connection thread is still inside a command: freeing what it uses would be worse
     * than leaving; the workspace has already persisted every acknowledged change. */
    aspd_log("connections still busy after the grace period; exiting without closing them");
    _exit(0);
  }
  aspd_peer_limit_free(unauthenticated);
  exit_code = 0;
out:
  aspd_listener_free(listener);
  aspd_workspace_close(workspace);
  SSL_CTX_free(ctx);
  aspd_users_free(users);
  OPENSSL_cleanse(dev_password, sizeof dev_password);
out_options:
  free(o.user_specs);
  free(o.users_files);
  return exit_code;
}
