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

#include "auth/api_keys.h"
#include "auth/users.h"
#include "auth/users_config.h"
#include "commands/processor_bound.h"
#include "dev/dev_api_key.h"
#include "dev/dev_tls.h"
#include "dev/dev_user.h"
#include "http/http_server.h"
#include "log.h"
#include "net/limits.h"
#include "net/listener.h"
#include "net/peer_limit.h"
#include "net/tls.h"
#include "project/records.h"
#include "project/workspaces.h"
#include "server.h"
#include "store/atomic_file.h"
#include "store/store.h"
#include "workspace.h"

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 27260
#define DEFAULT_DEV_STATE_DIR "./aspd-dev-state"
/* The Admin API's project and workspace. The group id is fixed so that URLs stay the
 * same across restarts and state directories. */
#define DEFAULT_GROUP_ID "6173706400000000000000aa"
#define DEFAULT_WORKSPACE "aspd"
#define DEFAULT_TOKEN_TTL 3600

typedef struct {
  const char *host;
  int port;
  const char *tls_cert;
  const char *tls_key;
  const char *tls_ca;
  const char *connections_file;
  long sink_max_docs;
  const char *state_dir;
  bool dev;
  bool exit_with_parent;
  bool verbose;
  char **user_specs; /* argv entries, wiped once hashed */
  size_t user_spec_count;
  const char **users_files;
  size_t users_file_count;
  aspd_limits_t limits;
  int http_port;        /* -1: no Admin API */
  char **api_key_specs; /* argv entries, wiped once hashed */
  size_t api_key_count;
  char **service_account_specs;
  size_t service_account_count;
  const char *api_keys_file;
  const char *group_id;
  const char *workspace;
  int token_ttl;
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
      "  --http-port PORT       serve the Atlas Admin API over HTTPS on PORT (0 picks a\n"
      "                         free one); --dev serves it on --port + 1 (0 with --port 0)\n"
      "  --api-key PUBLIC:PRIVATE[:ROLE,...]\n"
      "                         an Admin API key (HTTP Digest; repeatable); roles\n"
      "                         GROUP_OWNER (default), GROUP_STREAM_PROCESSING_OWNER,\n"
      "                         GROUP_READ_ONLY\n"
      "  --service-account CLIENT_ID:SECRET[:ROLE,...]\n"
      "                         an OAuth2 client-credentials account (repeatable)\n"
      "  --api-keys-file FILE   JSON {\"apiKeys\": [...], \"serviceAccounts\": [...]}\n"
      "  --group-id HEX24       the Admin API project id (default " DEFAULT_GROUP_ID
      ")\n"
      "  --workspace NAME       the Admin API workspace name (default " DEFAULT_WORKSPACE
      ")\n"
      "  --oauth-token-ttl SECONDS\n"
      "                         lifetime of OAuth2 tokens (default 3600)\n"
      "  --sink-max-docs N      documents kept per collection or topic a processor\n"
      "                         writes; past it the oldest go (default 100000)\n"
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
    OPT_SINK_MAX_DOCS,
    OPT_DEV,
    OPT_EXIT_WITH_PARENT,
    OPT_VERBOSE,
    OPT_HELP,
    OPT_VERSION,
    OPT_HTTP_PORT,
    OPT_API_KEY,
    OPT_SERVICE_ACCOUNT,
    OPT_API_KEYS_FILE,
    OPT_GROUP_ID,
    OPT_WORKSPACE,
    OPT_TOKEN_TTL,
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
      {"sink-max-docs", required_argument, NULL, OPT_SINK_MAX_DOCS},
      {"dev", no_argument, NULL, OPT_DEV},
      {"exit-with-parent", no_argument, NULL, OPT_EXIT_WITH_PARENT},
      {"verbose", no_argument, NULL, OPT_VERBOSE},
      {"help", no_argument, NULL, OPT_HELP},
      {"version", no_argument, NULL, OPT_VERSION},
      {"http-port", required_argument, NULL, OPT_HTTP_PORT},
      {"api-key", required_argument, NULL, OPT_API_KEY},
      {"service-account", required_argument, NULL, OPT_SERVICE_ACCOUNT},
      {"api-keys-file", required_argument, NULL, OPT_API_KEYS_FILE},
      {"group-id", required_argument, NULL, OPT_GROUP_ID},
      {"workspace", required_argument, NULL, OPT_WORKSPACE},
      {"oauth-token-ttl", required_argument, NULL, OPT_TOKEN_TTL}};
  /* The resource limits' flags come from their table (net/limits.c). */
  enum { FIXED = sizeof fixed_opts / sizeof fixed_opts[0] };
  struct option longopts[FIXED + ASPD_LIMIT_COUNT + 1];
  memcpy(longopts, fixed_opts, sizeof fixed_opts);
  for (int i = 0; i < ASPD_LIMIT_COUNT; i++) {
    longopts[FIXED + i] =
        (struct option){aspd_limit_rows[i].flag, required_argument, NULL, OPT_LIMIT + i};
  }
  longopts[FIXED + ASPD_LIMIT_COUNT] = (struct option){NULL, 0, NULL, 0};
  *o = (options_t){.host = DEFAULT_HOST,
                   .port = DEFAULT_PORT,
                   .http_port = -1,
                   .group_id = DEFAULT_GROUP_ID,
                   .workspace = DEFAULT_WORKSPACE,
                   .token_ttl = DEFAULT_TOKEN_TTL};
  aspd_limits_default(&o->limits);
  o->user_specs = calloc((size_t)argc, sizeof *o->user_specs);
  o->users_files = calloc((size_t)argc, sizeof *o->users_files);
  o->api_key_specs = calloc((size_t)argc, sizeof *o->api_key_specs);
  o->service_account_specs = calloc((size_t)argc, sizeof *o->service_account_specs);
  int opt;
  char *end;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
      case OPT_HOST:
        o->host = optarg;
        break;
      case OPT_PORT:
      case OPT_HTTP_PORT: {
        long port = strtol(optarg, &end, 10);
        if (*optarg == '\0' || *end != '\0' || port < 0 || port > 65535) {
          fprintf(stderr, "aspd: --%s expects 0..65535, got '%s'\n",
                  opt == OPT_PORT ? "port" : "http-port", optarg);
          *exit_code = 2;
          return false;
        }
        *(opt == OPT_PORT ? &o->port : &o->http_port) = (int)port;
        break;
      }
      case OPT_API_KEY:
        o->api_key_specs[o->api_key_count++] = optarg;
        break;
      case OPT_SERVICE_ACCOUNT:
        o->service_account_specs[o->service_account_count++] = optarg;
        break;
      case OPT_API_KEYS_FILE:
        o->api_keys_file = optarg;
        break;
      case OPT_GROUP_ID:
        if (strlen(optarg) != 24 || strspn(optarg, "0123456789abcdef") != 24) {
          fprintf(stderr, "aspd: --group-id expects 24 lowercase hex digits, got '%s'\n", optarg);
          *exit_code = 2;
          return false;
        }
        o->group_id = optarg;
        break;
      case OPT_WORKSPACE:
        if (!*optarg || strchr(optarg, '/')) {
          fprintf(stderr, "aspd: --workspace expects a name without '/'\n");
          *exit_code = 2;
          return false;
        }
        o->workspace = optarg;
        break;
      case OPT_TOKEN_TTL: {
        long ttl = strtol(optarg, &end, 10);
        if (*optarg == '\0' || *end != '\0' || ttl < 1 || ttl > 86400) {
          fprintf(stderr, "aspd: --oauth-token-ttl expects 1..86400 seconds, got '%s'\n", optarg);
          *exit_code = 2;
          return false;
        }
        o->token_ttl = (int)ttl;
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
      case OPT_SINK_MAX_DOCS: {
        long n = strtol(optarg, &end, 10);
        if (*optarg == '\0' || *end != '\0' || n < 1 || n > 1000000000L) {
          fprintf(stderr, "aspd: --sink-max-docs expects 1..1000000000, got '%s'\n", optarg);
          *exit_code = 2;
          return false;
        }
        o->sink_max_docs = n;
        break;
      }
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
  if (o->dev && o->http_port < 0) o->http_port = o->port == 0 ? 0 : o->port + 1;
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

typedef struct {
  char password[ASPD_DEV_PASSWORD_LEN + 1];
  char public_key[ASPD_DEV_PUBLIC_KEY_LEN + 1];
  char private_key[ASPD_DEV_PRIVATE_KEY_LEN + 1];
} dev_secrets_t;

/* Adds the --dev user, API key and certificates; fills the TLS paths and the secrets. */
static bool bootstrap_dev(options_t *o, aspd_store_t *store, aspd_dev_tls_t *tls,
                          dev_secrets_t *dev, aspd_users_t *users, aspd_api_keys_t *keys, char *err,
                          size_t err_len) {
  char dev_dir[PATH_MAX];
  const char *password = dev->password;
  snprintf(dev_dir, sizeof dev_dir, "%.*s/dev", PATH_MAX - 8, o->state_dir);
  if (!aspd_make_dirs(dev_dir, err, err_len) || !aspd_dev_tls_ensure(dev_dir, tls, err, err_len) ||
      !aspd_dev_user_password(store, dev_dir, dev->password, err, err_len) ||
      !aspd_dev_api_key(store, dev_dir, dev->public_key, dev->private_key, err, err_len)) {
    return false;
  }
  char spec[ASPD_DEV_PUBLIC_KEY_LEN + ASPD_DEV_PRIVATE_KEY_LEN + 16];
  snprintf(spec, sizeof spec, "%s:%s:GROUP_OWNER", dev->public_key, dev->private_key);
  bool added = aspd_api_keys_add_key(keys, spec, err, err_len);
  OPENSSL_cleanse(spec, sizeof spec);
  if (!added) return false;
  const char *roles[] = {ASPD_ROLE_ATLAS_ADMIN};
  if (!aspd_users_set(users, ASPD_DEV_USER, password, roles, 1, err, err_len)) return false;
  if (!o->tls_cert) o->tls_cert = tls->cert_file;
  if (!o->tls_key) o->tls_key = tls->key_file;
  if (!o->tls_ca) o->tls_ca = tls->ca_file;
  return true;
}

/* The stored users, or the first time those of an earlier version's users.json. */
static bool load_stored_users(aspd_users_t *users, aspd_store_t *store, const char *users_path,
                              char *err, size_t err_len) {
  return aspd_store_imported(store, "users") ? aspd_users_load_store(users, store, err, err_len)
                                             : aspd_users_load(users, users_path, err, err_len);
}

static bool load_users(options_t *o, aspd_users_t *users, aspd_store_t *store, char *err,
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
  return aspd_users_save(users, store, err, err_len) &&
         aspd_store_mark_imported(store, "users", err, err_len);
}

/* Adds one credential and wipes its secret from argv (out of /proc/PID/cmdline). */
static bool add_credential(aspd_api_keys_t *keys, char *spec,
                           bool (*add)(aspd_api_keys_t *, const char *, char *, size_t), char *err,
                           size_t err_len) {
  bool ok = add(keys, spec, err, err_len);
  char *secret = strchr(spec, ':');
  if (secret) OPENSSL_cleanse(secret + 1, strlen(secret + 1));
  return ok;
}

static bool load_api_keys(options_t *o, aspd_api_keys_t *keys, char *err, size_t err_len) {
  for (size_t i = 0; i < o->api_key_count; i++) {
    if (!add_credential(keys, o->api_key_specs[i], aspd_api_keys_add_key, err, err_len)) {
      return false;
    }
  }
  for (size_t i = 0; i < o->service_account_count; i++) {
    if (!add_credential(keys, o->service_account_specs[i], aspd_api_keys_add_service_account, err,
                        err_len)) {
      return false;
    }
  }
  return !o->api_keys_file || aspd_api_keys_add_file(keys, o->api_keys_file, err, err_len);
}

/* Binds the Admin API's port (before the workspace opens, like the wire port); -1 when
 * there is no Admin API. */
static bool bind_admin_port(const options_t *o, int *fd, int *port, char *err, size_t err_len) {
  *fd = -1;
  if (o->http_port < 0) return true;
  aspd_listener_t *l = aspd_listener_open(o->host, o->http_port, err, err_len);
  if (!l) return false;
  *port = aspd_listener_port(l);
  *fd = aspd_listener_take_fd(l);
  aspd_listener_free(l);
  return true;
}

int main(int argc, char **argv) {
  options_t o;
  int exit_code = 1;
  if (!parse_options(argc, argv, &o, &exit_code)) goto out_options;
  aspd_list_reply_bound_set((size_t)o.limits.value[ASPD_LIMIT_LIST_REPLY]);
  if (!install_signals(o.exit_with_parent)) goto out_options;

  char err[1024] = "out of memory";
  char users_path[PATH_MAX];
  snprintf(users_path, sizeof users_path, "%.*s/users.json", PATH_MAX - 16, o.state_dir);
  aspd_users_t *users = aspd_users_new();
  aspd_api_keys_t *keys = aspd_api_keys_new(o.token_ttl);
  aspd_dev_tls_t dev_tls;
  dev_secrets_t dev = {0};
  SSL_CTX *ctx = NULL;
  aspd_workspace_t *workspace = NULL;
  aspd_listener_t *listener = NULL;
  aspd_http_server_t *admin = NULL;
  aspd_workspaces_t *workspaces = NULL;
  aspd_records_t *private_links = NULL, *vpc_peerings = NULL;
  int admin_fd = -1, admin_port = 0;
  /* What clients dial: the loopback address of the family listened on. */
  const char *host = strchr(o.host, ':') ? "[::1]" : "127.0.0.1";
  char admin_root[128];
  /* The store first: it takes the state directory's lock before anything is read. */
  aspd_store_t *store = aspd_store_open(o.state_dir, err, sizeof err);
  uint8_t secret[ASPD_SERVER_SECRET_LEN];
  bool ok = users && store &&
            aspd_server_secret_load(store, o.state_dir, secret, err, sizeof err) &&
            load_stored_users(users, store, users_path, err, sizeof err);
  if (ok) aspd_users_set_secret(users, secret);
  OPENSSL_cleanse(secret, sizeof secret);
  if (ok && o.dev) ok = bootstrap_dev(&o, store, &dev_tls, &dev, users, keys, err, sizeof err);
  ok = ok && load_users(&o, users, store, err, sizeof err) &&
       load_api_keys(&o, keys, err, sizeof err);
  if (ok && aspd_users_count(users) == 0) {
    aspd_log("no users: every ASP command will be refused (add one with --user)");
  }
  ok = ok && (ctx = aspd_tls_context_new(o.tls_cert, o.tls_key, o.tls_ca, err, sizeof err));
  /* Bind before opening the workspace: a busy port must not resume processors first. */
  ok = ok && (listener = aspd_listener_open(o.host, o.port, err, sizeof err)) &&
       bind_admin_port(&o, &admin_fd, &admin_port, err, sizeof err);
  if (ok) {
    aspd_workspace_config_t config = {.state_dir = o.state_dir,
                                      .connections_file = o.connections_file,
                                      .store = store,
                                      .sink_max_docs = (size_t)o.sink_max_docs};
    ok = (workspace = aspd_workspace_open(&config, err, sizeof err)) != NULL;
  }
  snprintf(admin_root, sizeof admin_root, "https://%s:%d", host, admin_port);
  if (ok && admin_fd >= 0) {
    char wire_hostname[128];
    snprintf(wire_hostname, sizeof wire_hostname, "%s:%d", host, aspd_listener_port(listener));
    ok = (workspaces = aspd_workspaces_open(o.state_dir, store, workspace, o.workspace,
                                            wire_hostname, err, sizeof err)) &&
         (private_links = aspd_records_open(store, "private_link", o.state_dir,
                                            "private_links.json", err, sizeof err)) &&
         (vpc_peerings = aspd_records_open(store, "vpc_peering", o.state_dir, "vpc_peering.json",
                                           err, sizeof err));
  }
  if (ok && admin_fd >= 0) {
    aspd_http_config_t config = {.listen_fd = admin_fd,
                                 .tls_cert = o.tls_cert,
                                 .tls_key = o.tls_key,
                                 .tls_ca = o.tls_ca,
                                 .root = admin_root,
                                 .group_id = o.group_id,
                                 .workspaces = workspaces,
                                 .private_links = private_links,
                                 .vpc_peerings = vpc_peerings,
                                 .keys = keys,
                                 .verbose = o.verbose};
    ok = (admin = aspd_http_start(&config, err, sizeof err)) != NULL;
  }
  if (!ok) {
    fprintf(stderr, "aspd: %s\n", err);
    goto out;
  }

  int port = aspd_listener_port(listener);
  aspd_log("listening on %s:%d (TLS)", o.host, port);
  if (admin) aspd_log("Admin API on %s:%d (HTTPS)", o.host, admin_port);
  if (o.dev) {
    /* The Admin API lines come first: a reader that stops at the mongodb:// line has them. */
    if (admin) {
      printf("admin-api: %s/api/atlas/v2/groups/%s/streams/%s\n", admin_root, o.group_id,
             o.workspace);
      printf("admin-api-key: %s:%s\n", dev.public_key, dev.private_key);
    }
    /* The CA clients need: the generated one, or the one given with --tls-ca. */
    char ca_path[PATH_MAX], ca[3 * PATH_MAX + 1];
    uri_encode(realpath(o.tls_ca, ca_path) ? ca_path : o.tls_ca, ca, sizeof ca);
    printf("mongodb://%s:%s@%s:%d/?tls=true&tlsCAFile=%s\n", ASPD_DEV_USER, dev.password, host,
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
  aspd_http_stop(admin);
  admin = NULL;
  if (!drained) {
    /* A connection thread is still inside a command: freeing what it uses would be worse
     * than leaving; the workspace has already persisted every acknowledged change. */
    aspd_log("connections still busy after the grace period; exiting without closing them");
    _exit(0);
  }
  aspd_peer_limit_free(unauthenticated);
  exit_code = 0;
out:
  aspd_http_stop(admin);
  if (!admin && admin_fd >= 0 && exit_code != 0) close(admin_fd);
  aspd_listener_free(listener);
  aspd_records_free(vpc_peerings);
  aspd_records_free(private_links);
  aspd_workspaces_close(workspaces);
  aspd_workspace_close(workspace);
  aspd_store_close(store);
  SSL_CTX_free(ctx);
  aspd_api_keys_free(keys);
  aspd_users_free(users);
  OPENSSL_cleanse(&dev, sizeof dev);
out_options:
  free(o.user_specs);
  free(o.users_files);
  free(o.api_key_specs);
  free(o.service_account_specs);
  return exit_code;
}
