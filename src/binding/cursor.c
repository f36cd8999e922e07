/* The sample cursor userdata. C keeps the current batch (the reply's BSON) and decodes one
 * document per take, so nothing is converted that the caller does not ask for. The waiting
 * loop (poll interval, max wait, host sleep) lives in asp.lua so that a host's sleep may
 * yield (ngx.sleep, a coroutine in a game loop). User value 1 is the client. */
/* nanosleep, clock_gettime */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>

#include "lasp.h"

/* The current batch: the reply's BSON and the position in its batch array. bson_t and
 * bson_iter_t are declared 128-byte aligned and a userdata is not, so this lives in a block
 * of its own from bson_aligned_alloc0. */
typedef struct {
  bson_t reply;
  bson_iter_t iter;
} lasp_batch_t;

typedef struct {
  asp_sample_t *sample; /* NULL once closed */
  lasp_batch_t *batch;  /* NULL when no batch is held */
  int32_t batch_size;   /* -1: not sent */
  int64_t limit;        /* -1: none (the server may also enforce it) */
  int64_t delivered;
  int flags;
  int32_t timeout_ms; /* per getMore; 0: the socket timeout only */
} lasp_cursor_t;

void lasp_push_cursor(lua_State *L, asp_sample_t *s, int owner, int32_t batch_size, int64_t limit,
                      int decode_flags, int32_t timeout_ms) {
  owner = lasp_absindex(L, owner);
  lasp_cursor_t *cur = lasp_newuserdata(L, sizeof *cur, 1);
  memset(cur, 0, sizeof *cur);
  cur->sample = s;
  cur->batch_size = batch_size;
  cur->limit = limit;
  cur->flags = decode_flags;
  cur->timeout_ms = timeout_ms;
  lasp_setmetatable(L, LASP_CURSOR_MT);
  lua_pushvalue(L, owner);
  lasp_setuv(L, -2, 1);
}

static void release_batch(lasp_cursor_t *cur) {
  if (!cur->batch) return;
  bson_destroy(&cur->batch->reply);
  bson_free(cur->batch);
  cur->batch = NULL;
}

static bool limit_reached(const lasp_cursor_t *cur) {
  return cur->limit >= 0 && cur->delivered >= cur->limit;
}

/* The client the cursor runs on, or NULL when it was closed (never raises: used by __gc). */
static asp_client_t *client_or_null(lua_State *L, int idx) {
  lasp_getuv(L, idx, 1);
  lasp_client_t *u = luaL_testudata(L, -1, LASP_CLIENT_MT);
  lua_pop(L, 1);
  return u ? u->client : NULL;
}

static lasp_cursor_t *check_open(lua_State *L, int idx) {
  lasp_cursor_t *cur =
      idx == 1 ? lasp_check_self(L, LASP_CURSOR_MT) : luaL_checkudata(L, idx, LASP_CURSOR_MT);
  if (!cur->sample) lasp_raise(L, "%s: the cursor is closed", lasp_fname(L));
  return cur;
}

/* Pushes the next document of the current batch; false (nothing pushed) when it is used up.
 * mts: the index of the first of three upvalues, the array marker, typed-value and lazy
 * document metatables, or 0 to look them up. */
static bool take(lua_State *L, lasp_cursor_t *cur, int mts) {
  if (!cur->batch || limit_reached(cur)) return false;
  bson_iter_t *it = &cur->batch->iter;
  while (bson_iter_next(it)) {
    uint32_t len;
    const uint8_t *data;
    const char *err;
    if (!BSON_ITER_HOLDS_DOCUMENT(it)) continue; /* a batch holds documents only */
    bson_iter_document(it, &len, &data);
    int array_mt = mts ? lua_upvalueindex(mts) : 0, typed_mt = mts ? lua_upvalueindex(mts + 1) : 0,
        lazy_mt = mts ? lua_upvalueindex(mts + 2) : 0;
    if (cur->flags & LASP_DECODE_LAZY) {
      /* The elements are checked as they are read, as a C loop on bson_iter would. */
      if (!lasp_push_lazy(L, data, len, false, lazy_mt, false))
        lasp_raise(L, "invalid BSON document");
    } else if (!lasp_decode(L, data, len, false, cur->flags, array_mt, typed_mt, &err)) {
      lasp_raise(L, "invalid BSON: %s", err);
    }
    cur->delivered++;
    return true;
  }
  release_batch(cur);
  return false;
}

static bool done(const lasp_cursor_t *cur) {
  return !cur->sample || limit_reached(cur) ||
         (!cur->batch && asp_sample_cursor_id(cur->sample) == 0);
}

/* cur:_take() -> doc | nil, called once per document. Upvalues: the cursor metatable, so
 * that the type check is a comparison rather than a registry lookup by name, and the array
 * marker, typed-value and lazy document metatables for the decoder. */
static int cursor_take(lua_State *L) {
  lasp_cursor_t *cur = lua_touserdata(L, 1);
  if (!cur || !lua_getmetatable(L, 1) || !lua_rawequal(L, -1, lua_upvalueindex(1)))
    cur = luaL_checkudata(L, 1, LASP_CURSOR_MT); /* raises the usual message */
  lua_settop(L, 1);
  if (!cur->sample) lasp_raise(L, "next: the cursor is closed");
  if (!take(L, cur, 2)) lua_pushnil(L);
  return 1;
}

/* One getMore into the batch (the previous one must be used up). false + err on failure. */
static bool more(lua_State *L, lasp_cursor_t *cur, asp_error_t *err) {
  asp_error_clear(err);
  if (cur->batch || done(cur)) return true;
  asp_client_t *c = client_or_null(L, 1);
  if (!c) lasp_raise(L, "%s: the client is closed", lasp_fname(L));
  asp_client_set_timeout(c, cur->timeout_ms);
  lasp_batch_t *b = BSON_ALIGNED_ALLOC0(lasp_batch_t);
  if (!asp_sample_get_more(cur->sample, cur->batch_size, &b->reply, &b->iter, err)) {
    bson_destroy(&b->reply);
    bson_free(b);
    return false;
  }
  cur->batch = b;
  return true;
}

/* cur:_more() -> true | nil, err */
static int cursor_more(lua_State *L) {
  lasp_cursor_t *cur = check_open(L, 1);
  asp_error_t err;
  if (!more(L, cur, &err)) return lasp_fail(L, &err);
  lua_pushboolean(L, 1);
  return 1;
}

/* cur:_done() -> true when no document can come any more */
static int cursor_done(lua_State *L) {
  lasp_cursor_t *cur = lasp_check_self(L, LASP_CURSOR_MT);
  lua_pushboolean(L, done(cur));
  return 1;
}

/* cur:poll() -> array | nil, err. Never waits: what is left of the current batch, or else
 * what one getMore brings (possibly nothing). */
static int cursor_poll(lua_State *L) {
  lasp_cursor_t *cur = check_open(L, 1);
  lua_settop(L, 1);
  lua_newtable(L);
  int n = 0;
  if (!cur->batch) {
    asp_error_t err;
    if (!more(L, cur, &err)) return lasp_fail(L, &err);
  }
  while (take(L, cur, 0)) lua_rawseti(L, 2, ++n);
  return 1;
}

static int cursor_close(lua_State *L) {
  lasp_cursor_t *cur = lasp_check_self(L, LASP_CURSOR_MT);
  if (cur->sample) {
    asp_client_t *c = client_or_null(L, 1);
    lua_State *outer = lasp_current_state();
    lasp_set_current_state(L); /* also as a finalizer: dropping a process() processor */
    release_batch(cur);
    if (c) asp_client_set_timeout(c, 0);
    asp_sample_destroy(cur->sample, c);
    cur->sample = NULL;
    lasp_set_current_state(outer);
  }
  return 0;
}

static int cursor_index(lua_State *L) {
  lasp_cursor_t *cur = lasp_check_self(L, LASP_CURSOR_MT);
  const char *key = lua_tostring(L, 2);
  if (key && strcmp(key, "id") == 0) {
    if (cur->sample) {
      lasp_push_int64(L, asp_sample_cursor_id(cur->sample));
    } else {
      lua_pushnil(L);
    }
    return 1;
  }
  if (key && strcmp(key, "processor") == 0) {
    if (cur->sample) {
      lua_pushstring(L, asp_sample_processor_name(cur->sample));
    } else {
      lua_pushnil(L);
    }
    return 1;
  }
  if (key && strcmp(key, "closed") == 0) {
    lua_pushboolean(L, cur->sample == NULL);
    return 1;
  }
  return lasp_index_method(L);
}

static int cursor_tostring(lua_State *L) {
  lasp_cursor_t *cur = lasp_check_self(L, LASP_CURSOR_MT);
  if (cur->sample) {
    lua_pushfstring(L, "%s (%s)", LASP_CURSOR_MT, asp_sample_processor_name(cur->sample));
  } else {
    lua_pushfstring(L, "%s (closed)", LASP_CURSOR_MT);
  }
  return 1;
}

#if LUA_VERSION_NUM >= 503
/* The generic for's step on Lua 5.3+: a document of the current batch is handed out here,
 * in C, without a Lua call per document; anything else (the next batch, the wait between
 * batches, errors) goes to the Lua step, called so that a sleep in it may still yield.
 * Upvalues: the cursor metatable, the array marker, typed-value and lazy document
 * metatables (as for _take), and the Lua step. */
static int cursor_call_done(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return 1;
}

static int cursor_call(lua_State *L) {
  lasp_cursor_t *cur = lua_touserdata(L, 1);
  if (cur && lua_getmetatable(L, 1) && lua_rawequal(L, -1, lua_upvalueindex(1))) {
    lua_pop(L, 1);
    if (cur->sample && take(L, cur, 2)) return 1;
  }
  lua_settop(L, 2);
  lua_pushvalue(L, lua_upvalueindex(5));
  lua_insert(L, 1);
  lua_callk(L, 2, 1, 0, cursor_call_done);
  return 1;
}
#endif

/* core._cursor_call(step) -> the cursor's __call (the generic-for step): the Lua step, or
 * on Lua 5.3+ a C function that hands out batched documents itself and calls it for the
 * rest. */
static int set_cursor_call(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_settop(L, 1);
  luaL_getmetatable(L, LASP_CURSOR_MT);
#if LUA_VERSION_NUM >= 503
  lua_pushvalue(L, 2);
  lasp_push_array_mt(L);
  lasp_push_typed_mt(L);
  lasp_push_lazy_mt(L);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, cursor_call, 5);
#else
  lua_pushvalue(L, 1);
#endif
  lua_pushvalue(L, -1);
  lua_setfield(L, 2, "__call");
  return 1;
}

/* core.sleep(seconds): the default sleep between empty batches. */
static int core_sleep(lua_State *L) {
  lua_Number s = luaL_checknumber(L, 1);
  if (s > 0) {
    struct timespec ts = {(time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
  }
  return 0;
}

/* core.now(): monotonic seconds, for max_wait_ms. */
static int core_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

void lasp_cursor_register(lua_State *L) {
  static const luaL_Reg methods[] = {{"poll", cursor_poll},
                                     {"close", cursor_close},
                                     {"_more", cursor_more},
                                     {"_done", cursor_done},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {
    {"__index", cursor_index},
    {"__gc", cursor_close},
#if LUA_VERSION_NUM >= 504
    {"__close", cursor_close},
#endif
    {"__tostring", cursor_tostring},
    {NULL, NULL}
  };
  lasp_new_class(L, LASP_CURSOR_MT, methods, meta);
  luaL_getmetatable(L, LASP_CURSOR_MT);
  lua_getfield(L, -1, "methods");
  lua_pushvalue(L, -2);
  lasp_push_array_mt(L);
  lasp_push_typed_mt(L);
  lasp_push_lazy_mt(L);
  lua_pushcclosure(L, cursor_take, 4);
  lua_setfield(L, -2, "_take");
  /* asp.lua's cur:next() calls these: errors should name next. */
  lasp_push_named(L, cursor_more, "next", 1);
  lua_setfield(L, -2, "_more");
  lua_pop(L, 2);
  static const luaL_Reg fns[] = {
      {"_cursor_call", set_cursor_call}, {"sleep", core_sleep}, {"now", core_now}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
