/* The stream-processors collection (create/get/get_info/list) and the processor handle
 * (start/stop/drop/stats/info/modify, sampling). A handle is local: it holds the name and
 * its client (user value 1), and every call goes through that client. */
#include <string.h>

#include "lasp.h"

typedef struct {
  char *name; /* NULL after finalization */
} lasp_processor_t;

static lasp_processor_t *check_processor(lua_State *L) {
  lasp_processor_t *p = lasp_check_self(L, LASP_PROCESSOR_MT);
  if (!p->name) lasp_raise(L, "%s: the processor handle is finalized", lasp_fname(L));
  return p;
}

/* A processor name: a string, not empty or blank, valid UTF-8, without NUL bytes (a C
 * string would silently end at the first one). */
static bool name_ok(lua_State *L, int idx, const char **name, asp_error_t *err) {
  size_t len;
  *name = lua_tolstring(L, idx, &len);
  if (strlen(*name) != len) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "the processor name must not contain NUL bytes");
    return false;
  }
  return asp_validate_name(*name, NULL, err);
}

static const char *check_name(lua_State *L, int idx) {
  const char *name;
  asp_error_t err;
  lasp_check_string(L, idx, NULL);
  if (!name_ok(L, idx, &name, &err)) lasp_argerror(L, idx, err.message);
  return name;
}

void lasp_push_processor(lua_State *L, int client_idx, const char *name) {
  client_idx = lasp_absindex(L, client_idx);
  lasp_processor_t *p = lasp_newuserdata(L, sizeof *p, 1);
  p->name = NULL;
  lasp_setmetatable(L, LASP_PROCESSOR_MT);
  p->name = bson_strdup(name);
  lua_pushvalue(L, client_idx);
  lasp_setuv(L, -2, 1);
}

/* Returns true, or nil + err for runtime failures (validation failures raise). */
static int ack(lua_State *L, bool ok, const asp_error_t *err) {
  if (!ok) return lasp_fail_or_raise(L, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- the collection ---------------------------------------------------------------- */

static const char *const create_opts[] = {
    "dlq", "stream_meta_field_name", "tier", "failover", "timeout_ms", NULL};

/* sps:create(name, pipeline, opts) -> processor | nil, err */
static int sps_create(lua_State *L) {
  lasp_check_self(L, LASP_SPS_MT);
  asp_client_t *c = lasp_client_of(L, 1);
  const char *name = check_name(L, 2);
  if (!lua_istable(L, 3)) lasp_typeerror(L, 3, "table");
  bool has_opts = lasp_opts_check(L, 4, "create", create_opts);
  lua_settop(L, 4);
  bson_t *pipeline = lasp_check_pipeline(L, 3, "create: pipeline");
  asp_create_opts_t o = {0};
  if (has_opts) {
    o.dlq = lasp_opt_document(L, 4, "create", "dlq");
    lasp_opt_string(L, 4, "create", "stream_meta_field_name", &o.stream_meta_field_name);
    lasp_opt_string(L, 4, "create", "tier", &o.tier);
    o.failover = lasp_opt_tristate(L, 4, "create", "failover");
  }
  lasp_timeout(L, 4, c);
  asp_error_t err;
  bool ok = asp_processor_create(c, name, pipeline, &o, &err);
  if (!ok) return lasp_fail_or_raise(L, &err);
  lasp_getuv(L, 1, 1);
  lasp_push_processor(L, -1, name);
  return 1;
}

/* sps:get(name) -> processor (no I/O) */
static int sps_get(lua_State *L) {
  lasp_check_self(L, LASP_SPS_MT);
  lasp_client_of(L, 1);
  const char *name = check_name(L, 2);
  lasp_getuv(L, 1, 1);
  lasp_push_processor(L, -1, name);
  return 1;
}

static int push_info(lua_State *L, asp_client_t *c, const char *name) {
  bson_t info;
  asp_error_t err;
  if (!asp_processor_info(c, name, &info, &err)) {
    bson_destroy(&info);
    return lasp_fail_or_raise(L, &err);
  }
  lasp_push_document(L, &info, LASP_DECODE_ORDERED);
  bson_destroy(&info);
  return 1;
}

/* sps:get_info(name[, opts]) -> info | nil, err */
static int sps_get_info(lua_State *L) {
  lasp_check_self(L, LASP_SPS_MT);
  asp_client_t *c = lasp_client_of(L, 1);
  const char *name = check_name(L, 2);
  lasp_opts_check(L, 3, "get_info", lasp_call_opts);
  lasp_timeout(L, 3, c);
  return push_info(L, c, name);
}

/* sps:list(filter) -> array | nil, err */
static int sps_list(lua_State *L) {
  lasp_check_self(L, LASP_SPS_MT);
  return lasp_list(L, lasp_client_of(L, 1), "streamProcessors", asp_list_processors);
}

static int sps_tostring(lua_State *L) {
  lua_pushstring(L, LASP_SPS_MT);
  return 1;
}

/* ---- the processor ------------------------------------------------------------------ */

static const char *const start_opts[] = {"workers",
                                         "clear_checkpoints",
                                         "start_at_operation_time",
                                         "tier",
                                         "enable_auto_scaling",
                                         "failover",
                                         "timeout_ms",
                                         NULL};
static const char *const failover_opts[] = {"region", "mode", "dry_run", NULL};

/* start_at_operation_time: an asp.timestamp value or {t = ..., i = ...}. */
static void read_timestamp(lua_State *L, int opts, asp_start_opts_t *o) {
  lua_getfield(L, opts, "start_at_operation_time");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  bson_t *holder = lasp_new_bson(L);
  char err[256];
  bson_iter_t it;
  if (lua_istable(L, -2)) {
    lua_getfield(L, -2, "t");
    lua_getfield(L, -3, "i");
    if (lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TNUMBER && lasp_isinteger(L, -2) &&
        lasp_isinteger(L, -1) && lua_tonumber(L, -2) >= 0 && lua_tonumber(L, -2) <= UINT32_MAX &&
        lua_tonumber(L, -1) >= 0 && lua_tonumber(L, -1) <= UINT32_MAX) {
      o->has_start_at_operation_time = true;
      o->start_at_t = (uint32_t)lua_tointeger(L, -2);
      o->start_at_i = (uint32_t)lua_tointeger(L, -1);
      lua_pop(L, 4);
      return;
    }
    lua_pop(L, 2);
  }
  if (lasp_append_value(L, -2, holder, "ts", "start: start_at_operation_time", err, sizeof err) &&
      bson_iter_init_find(&it, holder, "ts") && BSON_ITER_HOLDS_TIMESTAMP(&it)) {
    bson_iter_timestamp(&it, &o->start_at_t, &o->start_at_i);
    o->has_start_at_operation_time = true;
    lua_pop(L, 2);
    return;
  }
  lasp_raise(L,
             "start: option 'start_at_operation_time' must be a timestamp (asp.timestamp(t, i) "
             "or {t = ..., i = ...})");
}

/* proc:start(opts) -> true | nil, err */
static int processor_start(lua_State *L) {
  lasp_processor_t *p = check_processor(L);
  asp_client_t *c = lasp_client_of(L, 1);
  asp_start_opts_t o = {0};
  if (lasp_opts_check(L, 2, "start", start_opts)) {
    o.has_workers = lasp_opt_int32(L, 2, "start", "workers", &o.workers);
    o.clear_checkpoints = lasp_opt_tristate(L, 2, "start", "clear_checkpoints");
    read_timestamp(L, 2, &o);
    lasp_opt_string(L, 2, "start", "tier", &o.tier);
    o.enable_auto_scaling = lasp_opt_tristate(L, 2, "start", "enable_auto_scaling");
    int f = lasp_opt_table(L, 2, "start", "failover");
    if (f) {
      lasp_opts_check(L, f, "start: failover", failover_opts);
      lasp_opt_string(L, f, "start: failover", "region", &o.failover_region);
      lasp_opt_string(L, f, "start: failover", "mode", &o.failover_mode);
      o.failover_dry_run = lasp_opt_tristate(L, f, "start: failover", "dry_run");
      if (!o.failover_region && !o.failover_mode && o.failover_dry_run == ASP_UNSET) {
        lasp_raise(L, "start: failover.region: required when failover is given");
      }
    }
  }
  lasp_timeout(L, 2, c);
  asp_error_t err;
  return ack(L, asp_processor_start(c, p->name, &o, &err), &err);
}

/* The client of a processor method whose only options are timeout_ms (argument 2). */
static asp_client_t *call_client(lua_State *L) {
  asp_client_t *c = lasp_client_of(L, 1);
  lasp_opts_check(L, 2, lasp_fname(L), lasp_call_opts);
  lasp_timeout(L, 2, c);
  return c;
}

static int processor_stop(lua_State *L) {
  lasp_processor_t *p = check_processor(L);
  asp_error_t err;
  return ack(L, asp_processor_stop(call_client(L), p->name, &err), &err);
}

static int processor_drop(lua_State *L) {
  lasp_processor_t *p = check_processor(L);
  asp_error_t err;
  return ack(L, asp_processor_drop(call_client(L), p->name, &err), &err);
}

static int processor_info(lua_State *L) {
  lasp_processor_t *p = check_processor(L);
  return push_info(L, call_client(L), p->name);
}

static const char *const stats_opts[] = {"verbose", "scale", "timeout_ms", NULL};

/* proc:stats(opts) -> stats | nil, err */
static int processor_stats(lua_State *L) {
  lasp_processor_t *p = check_processor(L);
  asp_client_t *c = lasp_client_of(L, 1);
  asp_stats_opts_t o = {0};
  if (lasp_opts_check(L, 2, "stats", stats_opts)) {
    o.verbose = lasp_opt_tristate(L, 2, "stats", "verbose");
    o.has_scale = lasp_opt_int32(L, 2, "stats", "scale", &o.scale);
  }
  lasp_timeout(L, 2, c);
  bson_t stats;
  asp_error_t err;
  if (!asp_processor_stats(c, p->name, &o, &stats, &err)) {
    bson_destroy(&stats);
    return lasp_fail_or_raise(L, &err);
  }
  lasp_push_document(L, &stats, LASP_DECODE_ORDERED);
  bson_destroy(&stats);
  return 1;
}

static const char *const modify_opts[] = {"pipeline", "name",       "dlq", "resume_from_checkpoint",
                                          "tier",     "timeout_ms", NULL};

/* A table with element [1] (or the array marker) is a pipeline, anything else options. */
static bool looks_like_pipeline(lua_State *L, int idx) {
  if (!lua_istable(L, idx)) return false;
  if (lua_rawlen(L, idx) > 0) return true;
  if (!lua_getmetatable(L, idx)) return false;
  lua_getfield(L, -1, "__asp_array");
  bool is_array = lua_toboolean(L, -1);
  lua_pop(L, 2);
  return is_array;
}

/* proc:modify(opts) | proc:modify(pipeline[, opts]) -> true | nil, err */
static int processor_modify(lua_State *L) {
  lasp_processor_t *p = check_processor(L);
  asp_client_t *c = lasp_client_of(L, 1);
  int pipeline_idx = 0, opts_idx = 2;
  if (looks_like_pipeline(L, 2)) {
    pipeline_idx = 2;
    opts_idx = 3;
  } else {
    if (!lua_istable(L, 2)) lasp_typeerror(L, 2, "table");
    if (!lua_isnoneornil(L, 3)) lasp_argerror(L, 3, "no second argument after an options table");
  }
  lua_settop(L, 3);
  asp_modify_opts_t o = {0};
  bool has_opts = lasp_opts_check(L, opts_idx, "modify", modify_opts);
  if (pipeline_idx) {
    o.pipeline = lasp_check_pipeline(L, pipeline_idx, "modify: pipeline");
  }
  if (has_opts) {
    lua_getfield(L, opts_idx, "pipeline");
    if (!lua_isnil(L, -1)) {
      if (pipeline_idx) lasp_raise(L, "modify: the pipeline is given twice");
      o.pipeline = lasp_check_pipeline(L, -1, "modify: pipeline");
    }
    if (lasp_opt_string(L, opts_idx, "modify", "name", &o.new_name)) {
      asp_error_t err;
      lua_getfield(L, opts_idx, "name");
      if (!name_ok(L, -1, &o.new_name, &err)) lasp_raise(L, "modify: name: %s", err.message);
      lua_pop(L, 1);
    }
    o.dlq = lasp_opt_document(L, opts_idx, "modify", "dlq");
    o.resume_from_checkpoint = lasp_opt_tristate(L, opts_idx, "modify", "resume_from_checkpoint");
    lasp_opt_string(L, opts_idx, "modify", "tier", &o.tier);
  }
  lasp_timeout(L, opts_idx, c);
  asp_error_t err;
  if (!asp_processor_modify(c, p->name, &o, &err)) return lasp_fail_or_raise(L, &err);
  if (o.new_name) { /* the handle follows a rename */
    bson_free(p->name);
    p->name = bson_strdup(o.new_name);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* proc:_sample(limit, batch_size, decode, timeout_ms) -> cursor | nil, err (options read by
 * asp.lua) */
static int processor_sample(lua_State *L) {
  lasp_processor_t *p = check_processor(L);
  asp_client_t *c = lasp_client_of(L, 1);
  /* Checked by asp.lua: integers in 0..INT32_MAX, or nil. */
  lua_Integer limit = lua_isnoneornil(L, 2) ? -1 : lua_tointeger(L, 2);
  lua_Integer batch_size = lua_isnoneornil(L, 3) ? -1 : lua_tointeger(L, 3);
  int flags = lasp_decode_mode(L, 4);
  int32_t timeout_ms = (int32_t)lua_tointeger(L, 5);
  asp_sample_start_opts_t o = {.has_limit = limit >= 0, .limit = (int32_t)limit};
  asp_error_t err;
  asp_client_set_timeout(c, timeout_ms);
  asp_sample_t *s = asp_sample_start(c, p->name, &o, &err);
  if (!s) return lasp_fail_or_raise(L, &err);
  lasp_getuv(L, 1, 1);
  lasp_push_cursor(L, s, lua_gettop(L), (int32_t)batch_size, limit, flags, timeout_ms);
  return 1;
}

static const char *const get_samples_opts[] = {"cursor_id", "limit",      "batch_size",
                                               "ordered",   "timeout_ms", NULL};

/* proc:get_samples{cursor_id, limit, batch_size} -> {cursor_id, documents} | nil, err.
 * The spec-literal two phases: without cursor_id (or 0) it starts a sample session and
 * returns its id with no documents; with one it runs one getMore. */
static int processor_get_samples(lua_State *L) {
  lasp_processor_t *p = check_processor(L);
  asp_client_t *c = lasp_client_of(L, 1);
  int64_t cursor_id = 0;
  int32_t limit = 0, batch_size = -1;
  bool has_limit = false, has_batch_size = false, ordered = false;
  if (lasp_opts_check(L, 2, "get_samples", get_samples_opts)) {
    lua_getfield(L, 2, "cursor_id");
    if (!lua_isnil(L, -1) && !lasp_to_int64(L, -1, &cursor_id)) {
      lasp_raise(L, "get_samples: option 'cursor_id' must be an integer");
    }
    lua_pop(L, 1);
    has_limit = lasp_opt_int32(L, 2, "get_samples", "limit", &limit);
    has_batch_size = lasp_opt_int32(L, 2, "get_samples", "batch_size", &batch_size);
    lasp_opt_bool(L, 2, "get_samples", "ordered", &ordered);
  }
  if (cursor_id < 0) lasp_raise(L, "get_samples: cursor_id must be 0 (start) or an open cursor id");
  if (has_limit && limit < 0) lasp_raise(L, "get_samples: limit must be 0 or more");
  if (has_batch_size && batch_size < 0) lasp_raise(L, "get_samples: batch_size must be 0 or more");
  /* Each phase sends only its own fields: an option the other phase takes is a mistake,
   * not something to drop silently. */
  if (cursor_id == 0 && has_batch_size)
    lasp_raise(L, "get_samples: batch_size applies to a continuation (cursor_id > 0) only");
  if (cursor_id != 0 && has_limit)
    lasp_raise(L, "get_samples: limit applies to the start (no cursor_id) only");
  bson_t cmd, reply;
  asp_error_t err;
  bool built;
  if (cursor_id == 0) {
    asp_sample_start_opts_t o = {.has_limit = has_limit, .limit = limit};
    built = asp_build_sample_start(p->name, &o, &cmd, &err);
  } else {
    built = asp_build_sample_get_more(p->name, cursor_id, batch_size, &cmd, &err);
  }
  if (!built) {
    bson_destroy(&cmd);
    return lasp_fail_or_raise(L, &err);
  }
  lasp_timeout(L, 2, c);
  bool ok = asp_command(c, "admin", &cmd, &reply, &err);
  bson_destroy(&cmd);
  int64_t id = 0;
  if (ok && !asp_reply_cursor_id(&reply, &id)) {
    asp_error_set(&err, ASP_DOMAIN_BSON, 0, "the sample reply has no cursorId");
    ok = false;
  }
  if (!ok) {
    bson_destroy(&reply);
    return lasp_fail_or_raise(L, &err);
  }
  lua_createtable(L, 0, 2);
  lasp_push_int64(L, id);
  lua_setfield(L, -2, "cursor_id");
  bson_iter_t batch;
  int n = 0;
  lua_newtable(L);
  lasp_push_array_mt(L);
  lua_setmetatable(L, -2);
  if (asp_reply_batch(&reply, &batch)) {
    while (bson_iter_next(&batch)) {
      lasp_push_iter_value(L, &batch, ordered ? LASP_DECODE_ORDERED : LASP_DECODE_PLAIN);
      lua_rawseti(L, -2, ++n);
    }
  }
  lua_setfield(L, -2, "documents");
  bson_destroy(&reply);
  return 1;
}

static int processor_index(lua_State *L) {
  lasp_processor_t *p = lasp_check_self(L, LASP_PROCESSOR_MT);
  const char *key = lua_tostring(L, 2);
  if (key && strcmp(key, "name") == 0 && p->name) {
    lua_pushstring(L, p->name);
    return 1;
  }
  return lasp_index_method(L);
}

static int processor_tostring(lua_State *L) {
  lasp_processor_t *p = lasp_check_self(L, LASP_PROCESSOR_MT);
  lua_pushfstring(L, "Atlas Stream Processor: %s", p->name ? p->name : "?");
  return 1;
}

static int processor_gc(lua_State *L) {
  lasp_processor_t *p = lasp_check_self(L, LASP_PROCESSOR_MT);
  bson_free(p->name);
  p->name = NULL;
  return 0;
}

void lasp_processor_register(lua_State *L) {
  static const luaL_Reg sps_methods[] = {{"create", sps_create},
                                         {"get", sps_get},
                                         {"get_info", sps_get_info},
                                         {"list", sps_list},
                                         {NULL, NULL}};
  static const luaL_Reg sps_meta[] = {{"__tostring", sps_tostring}, {NULL, NULL}};
  lasp_new_class(L, LASP_SPS_MT, sps_methods, sps_meta);

  static const luaL_Reg methods[] = {{"start", processor_start},
                                     {"stop", processor_stop},
                                     {"drop", processor_drop},
                                     {"info", processor_info},
                                     {"stats", processor_stats},
                                     {"modify", processor_modify},
                                     {"get_samples", processor_get_samples},
                                     {"_sample", processor_sample},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__index", processor_index},
                                  {"__gc", processor_gc},
                                  {"__tostring", processor_tostring},
                                  {NULL, NULL}};
  lasp_new_class(L, LASP_PROCESSOR_MT, methods, meta);
}
