/* A client whose server freezes (SIGSTOP) or dies (SIGKILL) in the middle of a call gets
 * an error within its socket timeout, not a hang; once the server is back it works again.
 * Through libmongoc's own timeouts (socketTimeoutMS), as every client of aspd uses them. */
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "workspace_test_util.h"

#define SOCKET_TIMEOUT_MS 1500

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
  mongoc_client_t *client;
  bool ok;
  double seconds;
  char message[512];
} call_t;

static void *call(void *arg) {
  call_t *c = arg;
  bson_t reply;
  bson_error_t error;
  double t0 = now_s();
  c->ok = wt_run(c->client, "{\"listStreamProcessors\": 1}", &reply, &error);
  c->seconds = now_s() - t0;
  snprintf(c->message, sizeof c->message, "%.500s", c->ok ? "ok" : error.message);
  bson_destroy(&reply);
  return NULL;
}

/* SIGSTOP is asynchronous: a thread already running may still answer. Returns once every
 * thread of pid is stopped (state 'T' in /proc/PID/stat). */
static void freeze(pid_t pid) {
  kill(pid, SIGSTOP);
  for (int i = 0; i < 500; i++) {
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(stat, 1, sizeof stat - 1, f) : 0;
    if (f) fclose(f);
    stat[n] = '\0';
    const char *state = strrchr(stat, ')');
    if (state && state[1] == ' ' && state[2] == 'T') return;
    usleep(10 * 1000);
  }
}

static mongoc_client_t *client_for(const aspd_instance_t *inst) {
  char uri[1200];
  snprintf(uri, sizeof uri, "%s&socketTimeoutMS=%d&serverSelectionTimeoutMS=3000", inst->uri,
           SOCKET_TIMEOUT_MS);
  mongoc_client_t *c = mongoc_client_new(uri);
  mongoc_client_set_error_api(c, 2);
  return c;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *client = client_for(&inst);
  WT_OK(client, "{\"listStreamProcessors\": 1}");

  /* Frozen: the call is sent, no reply comes; it fails after the socket timeout. */
  freeze(inst.pid);
  call_t frozen = {.client = client};
  call(&frozen);
  printf("frozen server: %s after %.2f s\n", frozen.message, frozen.seconds);
  CHECK(!frozen.ok);
  CHECK(frozen.seconds < SOCKET_TIMEOUT_MS / 1000.0 + 3.0);
  kill(inst.pid, SIGCONT);
  /* Thawed: the client reconnects (the timed-out connection was dropped). */
  bool back = false;
  for (int i = 0; i < 20 && !back; i++) {
    bson_t reply;
    bson_error_t error;
    back = wt_run(client, "{\"listStreamProcessors\": 1}", &reply, &error);
    bson_destroy(&reply);
    if (!back) usleep(200 * 1000);
  }
  CHECK(back);

  /* Killed mid-call: frozen so the call is surely in flight, then SIGKILL; the client learns
   * of it from the closed connection, well before its timeout. */
  freeze(inst.pid);
  call_t killed = {.client = client};
  pthread_t thread;
  pthread_create(&thread, NULL, call, &killed);
  usleep(300 * 1000);
  aspd_harness_kill(&inst);
  pthread_join(thread, NULL);
  printf("killed server: %s after %.2f s\n", killed.message, killed.seconds);
  CHECK(!killed.ok);
  CHECK(killed.seconds < SOCKET_TIMEOUT_MS / 1000.0 + 3.0);
  mongoc_client_destroy(client);
  return wt_finish("fault_client");
}
