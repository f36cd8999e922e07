/* A C program that embeds Lua 5.4 and links lua-asp statically, as a game or automation
 * host would: luaopen_asp_core goes into package.preload (no shared module is loaded),
 * and a script is driven at 60 frames a second. The script polls a sample cursor once a
 * frame (cur:poll() never waits), so no frame is held up by the network for more than a
 * round trip; the host measures every frame's Lua time and prints the longest.
 *
 *   asp_host SCRIPT [--threads N]
 *
 * The script returns {init = fn(id), frame = fn(n) -> done, finish = fn() -> summary}.
 * With --threads N, N threads each run their own lua_State with the script at once (the
 * module keeps all its state per lua_State). Exit status 0 when every run succeeded. */
#define _POSIX_C_SOURCE 200809L
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int luaopen_asp_core(lua_State *L);

enum { FPS = 60, MAX_FRAMES = 60 * 60, MAX_RUNS = 16 };

typedef struct {
  const char *script;
  char id[16];
  int ok;
  int frames;
  double longest_ms;
  char summary[256];
} run_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t) {
  double left = t - now_s();
  if (left <= 0) return;
  struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
  nanosleep(&ts, NULL);
}

/* Calls field `name` of the script's table (at index 1) with the values above it. */
static int call_field(lua_State *L, const char *name, int nargs, int nresults) {
  lua_getfield(L, 1, name);
  lua_insert(L, -1 - nargs);
  return lua_pcall(L, nargs, nresults, 0);
}

static void fail(run_t *r, lua_State *L, const char *what) {
  snprintf(r->summary, sizeof r->summary, "%s: %s", what, lua_tostring(L, -1));
  r->ok = 0;
}

static void *run_script(void *arg) {
  run_t *r = arg;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  /* The statically linked module answers `require "asp.core"`. */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_asp_core);
  lua_setfield(L, -2, "asp.core");
  lua_pop(L, 1);

  if (luaL_dofile(L, r->script) != LUA_OK || !lua_istable(L, -1)) {
    fail(r, L, "loading the script");
    lua_close(L);
    return NULL;
  }
  lua_settop(L, 1); /* the stack was empty: the script's table is at index 1 */
  lua_pushstring(L, r->id);
  if (call_field(L, "init", 1, 0) != LUA_OK) {
    fail(r, L, "init");
    lua_close(L);
    return NULL;
  }

  double next = now_s();
  int done = 0;
  for (r->frames = 0; !done && r->frames < MAX_FRAMES; r->frames++) {
    double start = now_s();
    lua_pushinteger(L, r->frames);
    if (call_field(L, "frame", 1, 1) != LUA_OK) {
      fail(r, L, "frame");
      break;
    }
    double ms = (now_s() - start) * 1000.0;
    if (ms > r->longest_ms) r->longest_ms = ms;
    done = lua_toboolean(L, -1);
    lua_pop(L, 1);
    next += 1.0 / FPS;
    sleep_until(next);
  }
  if (done) {
    if (call_field(L, "finish", 0, 1) != LUA_OK) {
      fail(r, L, "finish");
    } else {
      snprintf(r->summary, sizeof r->summary, "%s", lua_tostring(L, -1));
      r->ok = 1;
    }
  } else if (r->summary[0] == '\0') {
    snprintf(r->summary, sizeof r->summary, "not done after %d frames", MAX_FRAMES);
  }
  lua_close(L); /* closes whatever the script left open, through the module's finalizers */
  return NULL;
}

int main(int argc, char **argv) {
  int threads = 0;
  if (argc == 4 && strcmp(argv[2], "--threads") == 0) threads = atoi(argv[3]);
  if ((argc != 2 && threads == 0) || threads < 0 || threads > MAX_RUNS) {
    fprintf(stderr, "usage: %s SCRIPT [--threads 1..%d]\n", argv[0], MAX_RUNS);
    return 2;
  }
  run_t runs[MAX_RUNS];
  int n = threads ? threads : 1;
  memset(runs, 0, sizeof runs);
  for (int i = 0; i < n; i++) {
    runs[i].script = argv[1];
    snprintf(runs[i].id, sizeof runs[i].id, "%d", i + 1);
  }
  if (threads) {
    pthread_t tids[MAX_RUNS];
    for (int i = 0; i < n; i++) {
      if (pthread_create(&tids[i], NULL, run_script, &runs[i]) != 0) {
        fprintf(stderr, "asp_host: cannot start thread %d\n", i + 1);
        return 1;
      }
    }
    for (int i = 0; i < n; i++) pthread_join(tids[i], NULL);
  } else {
    run_script(&runs[0]);
  }
  int ok = 1;
  for (int i = 0; i < n; i++) {
    printf("state %s: %s; %d frames at %d Hz, longest frame %.2f ms\n", runs[i].id, runs[i].summary,
           runs[i].frames, FPS, runs[i].longest_ms);
    ok = ok && runs[i].ok;
  }
  return ok ? 0 : 1;
}
