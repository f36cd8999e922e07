#include "aspd_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TRACKED 32

static pid_t tracked_pids[MAX_TRACKED];
static char tracked_dirs[MAX_TRACKED][512];
static int tracked_dir_count;
static bool cleanup_registered;
static void (*child_setup)(void);
/* aspd instances that crashed, failed to exit 0 on SIGTERM, or hung on stop. */
static int abnormal_exits;

/* Explains an aspd wait status that is not a clean exit 0 and counts it; true when clean.
 * A sanitizer build reports by exiting non-zero (ASan 1, LSan 23, TSan 66) or, with
 * abort_on_error=1, by SIGABRT: its report is on the test's stderr just above. */
static bool check_exit(pid_t pid, int status, const char *when) {
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  if (status == -1) {
    fprintf(stderr, "harness: aspd (pid %d) %s: did not exit within 10 s of SIGTERM\n", (int)pid,
            when);
  } else if (WIFSIGNALED(status)) {
    fprintf(stderr, "harness: aspd (pid %d) %s: killed by signal %d (%s)\n", (int)pid, when,
            WTERMSIG(status), strsignal(WTERMSIG(status)));
  } else {
    fprintf(stderr, "harness: aspd (pid %d) %s: exit status %d\n", (int)pid, when,
            WEXITSTATUS(status));
  }
  abnormal_exits++;
  return false;
}

static void kill_everything(void) {
  for (int i = 0; i < MAX_TRACKED; i++) {
    if (tracked_pids[i] > 0) {
      /* One that already died on its own (a sanitizer abort) still fails the test. */
      int status;
      if (waitpid(tracked_pids[i], &status, WNOHANG) == tracked_pids[i]) {
        check_exit(tracked_pids[i], status, "died before the test stopped it");
      } else {
        kill(tracked_pids[i], SIGKILL);
        waitpid(tracked_pids[i], NULL, 0);
      }
      tracked_pids[i] = 0;
    }
  }
  for (int i = 0; i < tracked_dir_count; i++) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%.511s'", tracked_dirs[i]);
    if (system(cmd) != 0) {
      fprintf(stderr, "harness: could not remove %s\n", tracked_dirs[i]);
    }
  }
  tracked_dir_count = 0;
  /* Tests that ignore aspd_harness_stop's result must still fail when aspd crashed:
   * _exit is the one way to change the exit status from an atexit handler. */
  if (abnormal_exits > 0) {
    fprintf(stderr, "harness: %d aspd instance(s) ended abnormally; failing the test\n",
            abnormal_exits);
    fflush(NULL); /* _exit skips the stdio flush that exit would still do */
    _exit(1);
  }
}

static void on_fatal_signal(int sig) {
  for (int i = 0; i < MAX_TRACKED; i++) {
    if (tracked_pids[i] > 0) kill(tracked_pids[i], SIGKILL);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

static void register_cleanup(void) {
  if (cleanup_registered) return;
  cleanup_registered = true;
  atexit(kill_everything);
  signal(SIGABRT, on_fatal_signal);
  signal(SIGSEGV, on_fatal_signal);
  signal(SIGINT, on_fatal_signal);
  signal(SIGTERM, on_fatal_signal);
}

static void track_pid(pid_t pid, bool add) {
  for (int i = 0; i < MAX_TRACKED; i++) {
    if (add ? tracked_pids[i] == 0 : tracked_pids[i] == pid) {
      tracked_pids[i] = add ? pid : 0;
      return;
    }
  }
}

bool aspd_harness_tempdir(char *out, size_t out_len) {
  register_cleanup();
  const char *tmp = getenv("TMPDIR");
  snprintf(out, out_len, "%s/aspd-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(out)) {
    fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
    return false;
  }
  if (tracked_dir_count < MAX_TRACKED) {
    snprintf(tracked_dirs[tracked_dir_count++], sizeof tracked_dirs[0], "%s", out);
  }
  return true;
}

bool aspd_harness_write_file(const char *dir, const char *name, const char *text, char *path_out,
                             size_t path_len) {
  char tmpdir[512];
  if (!dir) {
    if (!aspd_harness_tempdir(tmpdir, sizeof tmpdir)) return false;
    dir = tmpdir;
  }
  snprintf(path_out, path_len, "%s/%s", dir, name);
  FILE *f = fopen(path_out, "w");
  if (!f) {
    fprintf(stderr, "harness: open %s: %s\n", path_out, strerror(errno));
    return false;
  }
  fputs(text, f);
  return fclose(f) == 0;
}

/* Pulls user, password, port and tlsCAFile out of the printed URI. */
static bool parse_uri_line(aspd_instance_t *inst) {
  const char *p = inst->uri + strlen("mongodb://");
  const char *colon = strchr(p, ':');
  const char *at = strchr(p, '@');
  if (!colon || !at || colon > at) return false;
  snprintf(inst->user, sizeof inst->user, "%.*s", (int)(colon - p), p);
  snprintf(inst->password, sizeof inst->password, "%.*s", (int)(at - colon - 1), colon + 1);
  const char *port = strchr(at, ':');
  if (!port) return false;
  inst->port = atoi(port + 1);
  const char *ca = strstr(inst->uri, "tlsCAFile=");
  if (!ca) return false;
  ca += strlen("tlsCAFile=");
  size_t n = strcspn(ca, "&\r\n");
  snprintf(inst->ca_file, sizeof inst->ca_file, "%.*s", (int)n, ca);
  return inst->port > 0;
}

/* "admin-api: URL" and "admin-api-key: PUBLIC:PRIVATE", printed before the mongodb:// line. */
static void parse_admin_line(aspd_instance_t *inst, const char *line) {
  static const char url_tag[] = "admin-api: ", key_tag[] = "admin-api-key: ";
  if (!strncmp(line, url_tag, sizeof url_tag - 1)) {
    const char *url = line + sizeof url_tag - 1;
    snprintf(inst->admin_url, sizeof inst->admin_url, "%.*s", (int)sizeof inst->admin_url - 1, url);
    const char *api = strstr(url, "/api/atlas/v2/groups/");
    if (!api) return;
    snprintf(inst->admin_root, sizeof inst->admin_root, "%.*s", (int)(api - url), url);
    const char *gid = api + strlen("/api/atlas/v2/groups/");
    const char *slash = strchr(gid, '/');
    if (!slash) return;
    snprintf(inst->group_id, sizeof inst->group_id, "%.*s", (int)(slash - gid), gid);
    const char *ws = strstr(slash, "/streams/");
    if (ws) snprintf(inst->workspace, sizeof inst->workspace, "%s", ws + strlen("/streams/"));
  } else if (!strncmp(line, key_tag, sizeof key_tag - 1)) {
    const char *key = line + sizeof key_tag - 1;
    const char *colon = strchr(key, ':');
    if (!colon) return;
    snprintf(inst->admin_public_key, sizeof inst->admin_public_key, "%.*s", (int)(colon - key),
             key);
    snprintf(inst->admin_private_key, sizeof inst->admin_private_key, "%.100s", colon + 1);
  }
}

/* SIGTERM, then SIGKILL after 10 s; the wait status, or -1 when it had to be killed. */
static int stop_process(aspd_instance_t *inst) {
  if (inst->pid <= 0) return -1;
  int status = -1;
  kill(inst->pid, SIGTERM);
  for (int i = 0; i < 100; i++) {
    pid_t r = waitpid(inst->pid, &status, WNOHANG);
    if (r == inst->pid) {
      track_pid(inst->pid, false);
      inst->pid = 0;
      return status;
    }
    usleep(100 * 1000);
  }
  kill(inst->pid, SIGKILL);
  waitpid(inst->pid, &status, 0);
  track_pid(inst->pid, false);
  inst->pid = 0;
  return -1;
}

bool aspd_harness_start(aspd_instance_t *out, const char *state_dir,
                        const char *const *extra_args) {
  register_cleanup();
  memset(out, 0, sizeof *out);
  const char *bin = getenv("ASPD_BIN");
  if (!bin || !*bin) {
    fprintf(stderr, "harness: ASPD_BIN is not set\n");
    return false;
  }
  if (state_dir) {
    snprintf(out->state_dir, sizeof out->state_dir, "%s", state_dir);
  } else if (!aspd_harness_tempdir(out->state_dir, sizeof out->state_dir)) {
    return false;
  }

  /* execv wants mutable strings; the child copies are never freed because it execs or exits. */
  char *argv[64];
  int argc = 0;
  const char *fixed[] = {
      bin, "--dev", "--port", "0", "--state-dir", out->state_dir, "--exit-with-parent"};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[argc++] = strdup(fixed[i]);
  for (int i = 0; extra_args && extra_args[i] && argc < 62; i++) {
    argv[argc++] = strdup(extra_args[i]);
  }
  argv[argc] = NULL;

  int fds[2];
  if (pipe(fds) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    if (child_setup) child_setup();
    execv(bin, argv);
    fprintf(stderr, "harness: exec %s: %s\n", bin, strerror(errno));
    _exit(127);
  }
  for (int i = 0; i < argc; i++) free(argv[i]);
  close(fds[1]);
  out->pid = pid;
  track_pid(pid, true);

  /* Read stdout until the mongodb:// line, for at most 30 s. */
  char buf[4096];
  size_t used = 0;
  time_t deadline = time(NULL) + 30;
  bool found = false;
  while (!found && time(NULL) < deadline) {
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    if (poll(&pfd, 1, 200) <= 0) continue;
    ssize_t n = read(fds[0], buf + used, sizeof buf - 1 - used);
    if (n <= 0) break;
    used += (size_t)n;
    buf[used] = '\0';
    char *line = buf;
    char *nl;
    while ((nl = strchr(line, '\n'))) {
      *nl = '\0';
      parse_admin_line(out, line);
      if (strncmp(line, "mongodb://", 10) == 0) {
        /* Bounded explicitly: a longer line is cut, never overflows (and -Wformat-truncation). */
        snprintf(out->uri, sizeof out->uri, "%.*s", (int)sizeof out->uri - 1, line);
        found = true;
        break;
      }
      line = nl + 1;
    }
    if (!found) {
      used = strlen(line);
      memmove(buf, line, used + 1);
    }
  }
  /* Keep draining stdout in the background by leaving it to the child: redirect to /dev/null
   * would need another fork, so we simply close our end; aspd must tolerate EPIPE. */
  close(fds[0]);
  if (!found || !parse_uri_line(out)) {
    fprintf(stderr, "harness: aspd did not print a usable mongodb:// line\n");
    /* Refusing to start (exit 2) is what some tests want; crashing while refusing is not. */
    pid_t child = out->pid;
    int status = stop_process(out);
    if (status != -1 && WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM) {
      check_exit(child, status, "while starting");
    }
    return false;
  }
  return true;
}

bool aspd_harness_start_connections(aspd_instance_t *out, const char *state_dir,
                                    const char *connections, const char *const *extra_args) {
  char path[1024];
  if (!aspd_harness_write_file(NULL, "connections.json", connections, path, sizeof path)) {
    return false;
  }
  const char *args[32] = {"--connections", path};
  size_t n = 2;
  for (size_t i = 0; extra_args && extra_args[i]; i++) {
    if (n == sizeof args / sizeof args[0] - 1) {
      fprintf(stderr, "harness: too many arguments\n");
      return false;
    }
    args[n++] = extra_args[i];
  }
  args[n] = NULL;
  return aspd_harness_start(out, state_dir, args);
}

void aspd_harness_kill(aspd_instance_t *inst) {
  if (inst->pid <= 0) return;
  kill(inst->pid, SIGKILL);
  waitpid(inst->pid, NULL, 0);
  track_pid(inst->pid, false);
  inst->pid = 0;
}

void aspd_harness_set_child_setup(void (*setup)(void)) {
  child_setup = setup;
}

int aspd_harness_stop(aspd_instance_t *inst) {
  pid_t pid = inst->pid;
  int status = stop_process(inst);
  if (pid > 0) check_exit(pid, status, "on stop");
  return status;
}

void aspd_harness_uri_for(const aspd_instance_t *inst, const char *user, const char *password,
                          char *out, size_t out_len) {
  snprintf(out, out_len, "mongodb://%s:%s@127.0.0.1:%d/?tls=true&tlsCAFile=%s", user, password,
           inst->port, inst->ca_file);
}
