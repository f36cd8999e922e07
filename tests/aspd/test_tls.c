/* TLS: verification with the generated CA (by IP and by name), refusal with a
 * foreign CA, a plain-TCP client gets no reply, the dev CA is reused across
 * restarts, and start-up without certificates outside --dev is refused. */
#include <arpa/inet.h>
#include <mongoc/mongoc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aspd_harness.h"
#include "check_msg.h"

static bool ping(const char *uri, bson_error_t *error) {
  mongoc_client_t *client = mongoc_client_new(uri);
  if (!client) {
    snprintf(error->message, sizeof error->message, "bad URI");
    return false;
  }
  mongoc_client_set_error_api(client, 2);
  /* Fail fast instead of retrying server selection for 30 s. */
  mongoc_uri_t *copy = mongoc_uri_copy(mongoc_client_get_uri(client));
  mongoc_client_destroy(client);
  mongoc_uri_set_option_as_int32(copy, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 2000);
  mongoc_uri_set_option_as_bool(copy, MONGOC_URI_SERVERSELECTIONTRYONCE, true);
  client = mongoc_client_new_from_uri(copy);
  mongoc_uri_destroy(copy);
  mongoc_client_set_error_api(client, 2);
  bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
  bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, NULL, error);
  bson_destroy(cmd);
  mongoc_client_destroy(client);
  return ok;
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char *buf = calloc(1, 65536);
  size_t n = fread(buf, 1, 65535, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* Sends a plaintext OP_QUERY isMaster; true when the server answered it with a wire message. */
static bool plain_tcp_gets_reply(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return false;
  }
  bson_t *q = BCON_NEW("isMaster", BCON_INT32(1));
  uint8_t msg[512];
  const char *ns = "admin.$cmd";
  size_t pos = 16;
  memset(msg, 0, sizeof msg);
  pos += 4;
  memcpy(msg + pos, ns, strlen(ns) + 1);
  pos += strlen(ns) + 1;
  msg[pos + 4] = 0xff; /* numberToReturn -1 */
  msg[pos + 5] = 0xff;
  msg[pos + 6] = 0xff;
  msg[pos + 7] = 0xff;
  pos += 8;
  memcpy(msg + pos, bson_get_data(q), q->len);
  pos += q->len;
  bson_destroy(q);
  msg[0] = (uint8_t)pos;
  msg[1] = (uint8_t)(pos >> 8);
  msg[4] = 7;            /* requestID */
  msg[12] = 2004 & 0xff; /* OP_QUERY */
  msg[13] = 2004 >> 8;
  bool answered = false;
  if (write(fd, msg, pos) == (ssize_t)pos) {
    uint8_t reply[4096];
    size_t got = 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (got < sizeof reply && poll(&pfd, 1, 3000) > 0) {
      ssize_t n = read(fd, reply + got, sizeof reply - got);
      if (n <= 0) break;
      got += (size_t)n;
    }
    /* A wire reply would carry our requestID in responseTo and opcode 1 (OP_REPLY). */
    answered = got >= 16 && reply[8] == 7 && reply[12] == 1 && reply[13] == 0;
  }
  close(fd);
  return answered;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
      getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

/* Production form: certificate flags, a state directory and a --user, no --dev. */
static void test_without_dev(const aspd_instance_t *dev) {
  char state[512], cert[700], key[700], ca[700], port_text[16];
  if (!aspd_harness_tempdir(state, sizeof state)) {
    failures++;
    return;
  }
  snprintf(cert, sizeof cert, "%s/dev/server.pem", dev->state_dir);
  snprintf(key, sizeof key, "%s/dev/server.key", dev->state_dir);
  snprintf(ca, sizeof ca, "%s/dev/ca.pem", dev->state_dir);
  int port = free_port();
  snprintf(port_text, sizeof port_text, "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    const char *bin = getenv("ASPD_BIN");
    execl(bin, bin, "--tls-cert", cert, "--tls-key", key, "--tls-ca", ca, "--state-dir", state,
          "--port", port_text, "--user", "ops:ops-pw:atlasAdmin", "--exit-with-parent",
          (char *)NULL);
    _exit(127);
  }
  char uri[2048];
  snprintf(uri, sizeof uri, "mongodb://ops:ops-pw@127.0.0.1:%d/?tls=true&tlsCAFile=%s", port, ca);
  bson_error_t error;
  bool ok = false;
  for (int i = 0; i < 50 && !ok; i++) {
    ok = ping(uri, &error);
    if (!ok) usleep(100 * 1000);
  }
  CHECK(ok, "aspd without --dev: %s", error.message);
  kill(pid, SIGTERM);
  int status = -1;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "aspd without --dev: exit status %d",
        status);
}

/* --dev with explicit certificate flags serves them and prints their CA in the URI. */
static void test_dev_with_own_certificate(const aspd_instance_t *owner) {
  char cert[700], key[700], ca[700];
  snprintf(cert, sizeof cert, "%s/dev/server.pem", owner->state_dir);
  snprintf(key, sizeof key, "%s/dev/server.key", owner->state_dir);
  snprintf(ca, sizeof ca, "%s/dev/ca.pem", owner->state_dir);
  const char *args[] = {"--tls-cert", cert, "--tls-key", key, "--tls-ca", ca, NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, args)) {
    failures++;
    return;
  }
  bson_error_t error;
  CHECK(strcmp(inst.ca_file, ca) == 0, "URI names CA %s, expected %s", inst.ca_file, ca);
  CHECK(ping(inst.uri, &error), "--dev with own certificate: %s", error.message);
  aspd_harness_stop(&inst);
}

int main(void) {
  mongoc_init();
  aspd_instance_t a, b;
  if (!aspd_harness_start(&a, NULL, NULL)) return 1;
  if (!aspd_harness_start(&b, NULL, NULL)) return 1;
  bson_error_t error;
  char uri[2048];

  CHECK(ping(a.uri, &error), "ping with the generated CA: %s", error.message);
  snprintf(uri, sizeof uri, "mongodb://%s:%s@localhost:%d/?tls=true&tlsCAFile=%s", a.user,
           a.password, a.port, a.ca_file);
  CHECK(ping(uri, &error), "ping via DNS name localhost: %s", error.message);

  snprintf(uri, sizeof uri, "mongodb://%s:%s@127.0.0.1:%d/?tls=true&tlsCAFile=%s", a.user,
           a.password, a.port, b.ca_file);
  CHECK(!ping(uri, &error), "a foreign CA was accepted");
  snprintf(uri, sizeof uri, "mongodb://%s:%s@127.0.0.1:%d/?tls=true", a.user, a.password, a.port);
  CHECK(!ping(uri, &error), "the system trust store accepted the dev CA");
  snprintf(uri, sizeof uri, "mongodb://%s:%s@127.0.0.1:%d/?tls=true&tlsInsecure=true", a.user,
           a.password, a.port);
  CHECK(ping(uri, &error), "tlsInsecure should connect: %s", error.message);
  snprintf(uri, sizeof uri, "mongodb://%s:%s@127.0.0.1:%d/", a.user, a.password, a.port);
  CHECK(!ping(uri, &error), "a plaintext libmongoc client connected");

  CHECK(!plain_tcp_gets_reply(a.port), "a plain-TCP client got a wire reply");
  test_without_dev(&a);
  test_dev_with_own_certificate(&b);
  CHECK(ping(a.uri, &error), "server alive after the plain client: %s", error.message);

  /* Restart with the same state: same CA, same password. */
  char ca_path[600];
  snprintf(ca_path, sizeof ca_path, "%s", a.ca_file);
  char *ca_before = read_text(ca_path);
  char state_dir[512];
  snprintf(state_dir, sizeof state_dir, "%s", a.state_dir);
  CHECK(aspd_harness_stop(&a) == 0, "aspd did not exit 0");
  aspd_instance_t again;
  if (aspd_harness_start(&again, state_dir, NULL)) {
    char *ca_after = read_text(again.ca_file);
    CHECK(ca_before && ca_after && strcmp(ca_before, ca_after) == 0, "dev CA regenerated");
    CHECK(ping(again.uri, &error), "ping after restart: %s", error.message);
    free(ca_after);
    aspd_harness_stop(&again);
  } else {
    failures++;
  }
  free(ca_before);
  aspd_harness_stop(&b);

  /* Outside --dev, certificates and a state directory are required. */
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "'%s' --state-dir '%s' >/dev/null 2>&1", getenv("ASPD_BIN"), state_dir);
  int status = system(cmd);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2, "aspd without certificates: status %d",
        status);
  /* Bad flags are refused with status 2; --version answers and exits 0. */
  const char *bad[] = {"--port 70000", "--port x", "--no-such-flag", "--dev stray-argument"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(cmd, sizeof cmd, "'%s' %s --state-dir '%s' >/dev/null 2>&1", getenv("ASPD_BIN"),
             bad[i], state_dir);
    status = system(cmd);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2, "aspd %s: status %d", bad[i], status);
  }
  snprintf(cmd, sizeof cmd, "'%s' --version | grep -q '^aspd [0-9]'", getenv("ASPD_BIN"));
  status = system(cmd);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "aspd --version: status %d", status);

  mongoc_cleanup();
  return check_msg_report("tls");
}
