#include "scripted_server.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The one server of the test, for the exit and signal paths (0: none running). */
static volatile pid_t running;
static bool cleanup_registered;
static const int fatal_signals[] = {SIGABRT, SIGSEGV, SIGINT, SIGTERM};
static struct sigaction previous[sizeof fatal_signals / sizeof fatal_signals[0]];

static void kill_at_exit(void) {
  if (running > 0) {
    kill(running, SIGKILL);
    waitpid(running, NULL, 0);
    running = 0;
  }
}

/* Kills the server, then hands the signal on to whatever handled it before (the aspd
 * harness kills its servers the same way, or the default action ends the test). */
static void on_fatal_signal(int sig) {
  if (running > 0) kill(running, SIGKILL);
  for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
    if (fatal_signals[i] == sig) sigaction(sig, &previous[i], NULL);
  }
  raise(sig);
}

static void register_cleanup(void) {
  if (cleanup_registered) return;
  cleanup_registered = true;
  atexit(kill_at_exit);
  struct sigaction sa = {.sa_handler = on_fatal_signal};
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
    sigaction(fatal_signals[i], &sa, &previous[i]);
  }
}

/* Waits for the child for up to seconds; its wait status, or -1 when it is still running. */
static int wait_for(pid_t pid, int seconds) {
  for (int i = 0; i < seconds * 10; i++) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    usleep(100 * 1000);
  }
  return -1;
}

/* Reads the child's stdout up to its first line, the port, for at most 30 s. */
static int read_port(int fd) {
  char buf[64];
  size_t used = 0;
  time_t deadline = time(NULL) + 30;
  while (time(NULL) < deadline && used < sizeof buf - 1) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 200) <= 0) continue;
    ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
    if (n <= 0) return -1; /* it exited without printing a port */
    used += (size_t)n;
    buf[used] = '\0';
    if (strchr(buf, '\n')) {
      char *end;
      long port = strtol(buf, &end, 10);
      return *end == '\n' && port > 0 && port < 65536 ? (int)port : -1;
    }
  }
  return -1;
}

int scripted_server_start(scripted_server_t *s, const char *cert, const char *key,
                          const char *ca_file) {
  register_cleanup();
  memset(s, 0, sizeof *s);
  const char *bin = getenv("SCRIPTED_ADMIN_SERVER_BIN");
  if (!bin || !*bin) {
    fprintf(stderr, "scripted_server: SCRIPTED_ADMIN_SERVER_BIN is not set\n");
    return -1;
  }
  snprintf(s->ca_file, sizeof s->ca_file, "%s", ca_file);
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(bin, bin, "--cert", cert, "--key", key, (char *)NULL);
    fprintf(stderr, "scripted_server: exec %s: %s\n", bin, strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  s->pid = pid;
  running = pid;
  s->port = read_port(fds[0]);
  close(fds[0]);
  if (s->port > 0) {
    snprintf(s->base_url, sizeof s->base_url, "https://127.0.0.1:%d", s->port);
    return 0;
  }
  /* An exit of its own is its answer (77: cannot serve TLS); anything else is a failure. */
  int status = wait_for(pid, 10);
  if (status == -1) scripted_server_stop(s);
  s->pid = 0;
  running = 0;
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 77) return 77;
  fprintf(stderr, "scripted_server: %s printed no port\n", bin);
  return -1;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
  char **text = arg;
  size_t old = *text ? strlen(*text) : 0, len = size * n;
  char *grown = realloc(*text, old + len + 1);
  if (!grown) return 0;
  memcpy(grown + old, data, len);
  grown[old + len] = '\0';
  *text = grown;
  return len;
}

bool scripted_server_hits(const scripted_server_t *s, bson_t *out) {
  bson_init(out);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *curl = curl_easy_init();
  if (!curl) return false;
  char url[128];
  snprintf(url, sizeof url, "%s/__script/hits", s->base_url);
  char *text = NULL;
  long status = 0;
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_CAINFO, s->ca_file);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &text);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  bson_error_t error;
  bool ok = rc == CURLE_OK && status == 200 && text;
  if (ok) {
    bson_destroy(out);
    ok = bson_init_from_json(out, text, -1, &error);
    if (!ok) {
      bson_init(out);
      fprintf(stderr, "scripted_server: hits are not JSON (%s): %s\n", error.message, text);
    }
  } else {
    fprintf(stderr, "scripted_server: GET %s: %s, HTTP %ld\n", url, curl_easy_strerror(rc), status);
  }
  free(text);
  return ok;
}

bool scripted_server_stop(scripted_server_t *s) {
  if (s->pid <= 0) return false;
  kill(s->pid, SIGTERM);
  int status = wait_for(s->pid, 10);
  if (status == -1) {
    fprintf(stderr, "scripted_server: pid %d did not exit within 10 s of SIGTERM\n", (int)s->pid);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
  }
  s->pid = 0;
  running = 0;
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
