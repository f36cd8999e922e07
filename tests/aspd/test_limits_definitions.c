/* No reply exceeds maxBsonObjectSize, so a definition that would make a list too large is
 * refused when it is created or modified (docs/aspd.md, "Resource bounds"): processors over
 * the wire and the Admin API (listStreamProcessors, an Admin API page, verbose stats),
 * connections over the Admin API (listStreamConnections, pages, includeConnections). A
 * refusal names the sizes, changes nothing, and leaves no trace after a restart; every list
 * of what was accepted is answered. Project records are held to 16 KiB each, and a request
 * body to 4 MB. The --connections file meets the connections' bound at start-up. */
#include <pthread.h>
#include <time.h>

#include "admin_test_util.h"
#include "workspace_test_util.h"

/* Most cases run with --max-list-reply-bytes 1 MiB (the same checks as at the default,
 * 16 MiB less 64 KiB, at a sixteenth of the cost); default_bound checks the default. */
#define ROOM "1048576"
#define PAD (220 * 1000)   /* four fit in ROOM, five do not */
#define FILL (130 * 1000)  /* ... but a smaller fifth does */
#define GROWN (280 * 1000) /* then growing one is refused */

/* wt_start with --max-list-reply-bytes ROOM. */
static void start_small(aspd_instance_t *inst, const char *state_dir) {
  const char *args[] = {"--max-list-reply-bytes", ROOM, NULL};
  if (!aspd_harness_start_connections(inst, state_dir, WT_CONNECTIONS, args)) exit(1);
}

#define P(h, m, u, b, want) CALL(h, m, u, ACCEPT_2024, b, want)
#define C(h, m, u, b, want) CALL(h, m, u, ACCEPT_2023, b, want)

static char *pad_of(size_t len, char c) {
  char *pad = malloc(len + 1);
  memset(pad, c, len);
  pad[len] = '\0';
  return pad;
}

/* A pipeline whose $match holds a string of pad_len characters, as JSON. */
static char *pipeline_json(size_t pad_len, char c) {
  char *pad = pad_of(pad_len, c);
  size_t len = pad_len + 256;
  char *json = malloc(len);
  snprintf(json, len,
           "[{\"$source\": {\"connectionName\": \"sample_stream_solar\"}}, {\"$match\": {\"pad\": "
           "\"%s\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]",
           pad);
  free(pad);
  return json;
}

/* {"<command>": name, "pipeline": ...} over the wire. */
static char *command_json(const char *command, const char *name, size_t pad_len, char c) {
  char *pipeline = pipeline_json(pad_len, c);
  size_t len = strlen(pipeline) + 256;
  char *json = malloc(len);
  snprintf(json, len, "{\"%s\": \"%s\", \"pipeline\": %s}", command, name, pipeline);
  free(pipeline);
  return json;
}

static void check_refusal(const char *what, const char *message, const char *reply) {
  if (!strstr(message, "too large") || !strstr(message, reply) || !strstr(message, "16777216") ||
      !strstr(message, "nothing was changed")) {
    fprintf(stderr, "FAIL: %s: unclear refusal: %.400s\n", what, message);
    wt_failures++;
  }
}

/* Runs a large command, printing only its start when it fails. */
static bool run_ok(mongoc_client_t *c, const char *json, const char *what) {
  bson_t out;
  bson_error_t error;
  bool ok = wt_run(c, json, &out, &error);
  bson_destroy(&out);
  if (!ok) {
    fprintf(stderr, "FAIL: %s: %s (code %u)\n", what, error.message, error.code);
    wt_failures++;
  }
  return ok;
}

/* Wire refusal with BSONObjectTooLarge (10334) naming reply. */
static void wire_refused(mongoc_client_t *c, const char *json, const char *reply,
                         const char *what) {
  bson_t out;
  bson_error_t error;
  bool ok = wt_run(c, json, &out, &error);
  bson_destroy(&out);
  if (ok || error.code != 10334) {
    fprintf(stderr, "FAIL: %s: got %s (code %u), wanted BSONObjectTooLarge\n", what,
            ok ? "ok" : error.message, ok ? 0 : error.code);
    wt_failures++;
    return;
  }
  check_refusal(what, error.message, reply);
}

/* The length of the $match pad of name's pipeline (-1 when there is none). */
static long pad_length(mongoc_client_t *c, const char *name) {
  char json[256];
  snprintf(json, sizeof json, "{\"getStreamProcessor\": \"%s\"}", name);
  bson_t reply;
  bson_error_t error;
  long len = -1;
  bson_iter_t it, found;
  if (wt_run(c, json, &reply, &error) && bson_iter_init(&it, &reply) &&
      bson_iter_find_descendant(&it, "result.pipeline.1.$match.pad", &found) &&
      BSON_ITER_HOLDS_UTF8(&found)) {
    uint32_t n;
    bson_iter_utf8(&found, &n);
    len = (long)n;
  }
  bson_destroy(&reply);
  return len;
}

static uint32_t list_count(mongoc_client_t *c, const char *command, const char *field) {
  char json[128];
  snprintf(json, sizeof json, "{\"%s\": 1}", command);
  bson_t reply;
  bson_error_t error;
  uint32_t n = UINT32_MAX;
  if (wt_run(c, json, &reply, &error)) {
    n = wt_array_len(&reply, field);
  } else {
    fprintf(stderr, "FAIL: %s: %s\n", command, error.message);
    wt_failures++;
  }
  bson_destroy(&reply);
  return n;
}

/* Processors over the wire and the Admin API, until a restart. */
static void processors(aspd_instance_t *inst, mongoc_client_t *c, admin_http_t *h) {
  char name[32];
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof name, "big%d", i);
    char *json = command_json("createStreamProcessor", name, PAD, 'p');
    run_ok(c, json, name);
    free(json);
  }
  /* A fifth of the same size over the wire, then over the Admin API. */
  char *json = command_json("createStreamProcessor", "big4", PAD, 'p');
  wire_refused(c, json, "listStreamProcessors", "a fifth processor over the wire");
  free(json);
  char *pipeline = pipeline_json(PAD, 'p');
  char *body = malloc(strlen(pipeline) + 256);
  sprintf(body, "{\"name\": \"big5\", \"pipeline\": %s}", pipeline);
  if (P(h, "POST", "ws:/processor", body, 400)) {
    CHECK(!strcmp(admin_str(&r, "errorCode"), "STREAM_PROCESSOR_GENERIC_ERROR"));
    check_refusal("a fifth processor over the Admin API", admin_str(&r, "detail"),
                  "listStreamProcessors");
  }
  free(body);
  free(pipeline);
  /* A smaller fifth still fits: the bound is close to the limit. */
  json = command_json("createStreamProcessor", "fill", FILL, 'f');
  run_ok(c, json, "a smaller fifth processor");
  free(json);

  /* Growing one is refused the same ways (the size is checked first); it keeps its pipeline. */
  CHECK(WT_OK(c, "{\"startStreamProcessor\": \"big0\"}"));
  CHECK(WT_OK(c, "{\"stopStreamProcessor\": \"big0\"}"));
  json = command_json("modifyStreamProcessor", "big0", GROWN, 'q');
  wire_refused(c, json, "listStreamProcessors", "growing one over the wire");
  free(json);
  pipeline = pipeline_json(GROWN, 'q');
  body = malloc(strlen(pipeline) + 64);
  sprintf(body, "{\"pipeline\": %s}", pipeline);
  if (P(h, "PATCH", "ws:/processor/big1", body, 400)) {
    check_refusal("growing one with PATCH", admin_str(&r, "detail"), "listStreamProcessors");
  }
  free(body);
  free(pipeline);
  CHECK(pad_length(c, "big0") == PAD && pad_length(c, "big1") == PAD);
  /* A modification that keeps the total within the limit is fine. */
  json = command_json("modifyStreamProcessor", "big0", PAD / 2, 'r');
  run_ok(c, json, "modify to half the size");
  free(json);
  CHECK(pad_length(c, "big0") == PAD / 2);

  /* Everything accepted can be listed, whole, by every list. */
  CHECK(list_count(c, "listStreamProcessors", "streamProcessors") == 5);
  if (P(h, "GET", "ws:/processors?itemsPerPage=500", NULL, 200)) {
    CHECK(admin_int(&r, "totalCount") == 5 && admin_has(&r, "results.4.pipeline"));
  }
  CHECK(WT_OK(c, "{\"getStreamProcessorStats\": \"big0\", \"options\": {\"verbose\": true}}"));
  CHECK(WT_OK(c, "{\"getStreamProcessor\": \"big0\"}"));
  (void)inst;
}

/* Many small stages: verbose stats carry one entry per operator, so they bound the stage
 * count. The accepted one's verbose stats are answered. */
static void stages(mongoc_client_t *c, size_t count, bool accepted) {
  size_t len = count * 16 + 256;
  char *json = malloc(len), *p = json;
  p += sprintf(p,
               "{\"createStreamProcessor\": \"stages%zu\", \"pipeline\": [{\"$source\": "
               "{\"connectionName\": \"sample_stream_solar\"}}",
               count);
  for (size_t i = 0; i < count; i++) p += sprintf(p, ", {\"$match\": {}}");
  sprintf(p, ", {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  if (accepted) {
    run_ok(c, json, "a pipeline of many stages");
    char cmd[128];
    snprintf(cmd, sizeof cmd,
             "{\"getStreamProcessorStats\": \"stages%zu\", \"options\": {\"verbose\": true}}",
             count);
    /* The real reply is within what the check counts: the pipeline, 320 bytes per operator
     * (stages + 2) and 3 KiB. */
    bson_t reply;
    bson_error_t error;
    if (wt_run(c, cmd, &reply, &error)) {
      size_t counted = strlen(json) + (count + 2) * 320 + 3072;
      printf("verbose stats of %zu stages: %u bytes (counted %zu)\n", count, reply.len, counted);
      CHECK(reply.len <= counted);
    } else {
      fprintf(stderr, "FAIL: verbose stats of %zu stages: %s\n", count, error.message);
      wt_failures++;
    }
    bson_destroy(&reply);
    snprintf(cmd, sizeof cmd, "{\"dropStreamProcessor\": \"stages%zu\"}", count);
    CHECK(WT_OK(c, cmd));
  } else {
    wire_refused(c, json, "getStreamProcessorStats", "a pipeline of too many stages");
  }
  free(json);
}

/* An Https connection whose one header holds pad_len characters. */
static char *https_json(const char *name, size_t pad_len, char c) {
  char *pad = pad_of(pad_len, c);
  char *json = malloc(pad_len + 256);
  sprintf(json,
          "{\"name\": \"%s\", \"type\": \"Https\", \"url\": \"https://example.com\", "
          "\"headers\": {\"X-Pad\": \"%s\"}}",
          name, pad);
  free(pad);
  return json;
}

static void connections(aspd_instance_t *inst, mongoc_client_t *c, admin_http_t *h) {
  char name[32];
  uint32_t before = list_count(c, "listStreamConnections", "connections");
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof name, "https%d", i);
    char *body = https_json(name, PAD, 'h');
    CHECK(C(h, "POST", "ws:/connections", body, 200));
    free(body);
  }
  /* A request body above 4 MB is refused as such, whatever it holds. */
  char *body = https_json("huge", 4500 * 1000, 'h');
  if (C(h, "POST", "ws:/connections", body, 400)) {
    CHECK(!strcmp(admin_str(&r, "errorCode"), "INVALID_JSON") &&
          strstr(admin_str(&r, "detail"), "larger than 4 MB"));
  }
  free(body);
  body = https_json("https4", PAD, 'h');
  if (C(h, "POST", "ws:/connections", body, 400)) {
    CHECK(!strcmp(admin_str(&r, "errorCode"), "INVALID_ATTRIBUTE"));
    check_refusal("a fifth connection", admin_str(&r, "detail"), "list of connections");
  }
  free(body);
  body = https_json("fill", FILL, 'f');
  CHECK(C(h, "POST", "ws:/connections", body, 200));
  free(body);
  /* PATCH to a larger header: refused, the stored header stays. */
  char *pad = pad_of(GROWN, 'i');
  body = malloc(GROWN + 64);
  sprintf(body, "{\"headers\": {\"X-Pad\": \"%s\"}}", pad);
  free(pad);
  if (C(h, "PATCH", "ws:/connections/https0", body, 400)) {
    check_refusal("growing a connection", admin_str(&r, "detail"), "list of connections");
  }
  free(body);
  if (C(h, "GET", "ws:/connections/https0", NULL, 200)) {
    CHECK(strlen(admin_str(&r, "headers.X-Pad")) == PAD &&
          admin_str(&r, "headers.X-Pad")[0] == 'h');
  }
  CHECK(C(h, "GET", "ws:/connections/https4", NULL, 404));
  /* Every list of them is answered. */
  CHECK(list_count(c, "listStreamConnections", "connections") == before + 5);
  if (C(h, "GET", "ws:/connections?itemsPerPage=500", NULL, 200)) {
    CHECK(admin_int(&r, "totalCount") == (int64_t)before + 5);
  }
  char url[2048];
  snprintf(url, sizeof url, "%s/api/atlas/v2/groups/%s/streams/%s?includeConnections=true",
           inst->admin_root, inst->group_id, inst->workspace);
  CHECK(C(h, "GET", url, NULL, 200));
}

/* A JSON body {"<field>": "<n characters>"} (prefix: more fields before it, or ""). */
static char *body_with(const char *prefix, const char *field, size_t n) {
  char *pad = pad_of(n, 'x');
  char *body = malloc(n + strlen(prefix) + 64);
  sprintf(body, "{%s\"%s\": \"%s\"}", prefix, field, pad);
  free(pad);
  return body;
}

/* Project records (workspaces, Private Link and VPC peering connections) are listed 500 to
 * a page, so each is held to 16 KiB of JSON; the refused ones leave nothing behind. */
static void records(aspd_instance_t *inst, admin_http_t *h) {
  char project[512], links[600], one[800], extra[600];
  snprintf(project, sizeof project, "%s/api/atlas/v2/groups/%s/streams", inst->admin_root,
           inst->group_id);
  snprintf(links, sizeof links, "%s/privateLinkConnections", project);
  snprintf(extra, sizeof extra, "%s/extra", project);
  char *body = body_with("\"provider\": \"AWS\", ", "dnsDomain", 20000);
  if (C(h, "POST", links, body, 400)) {
    check_refusal("a 20 KB Private Link connection", admin_str(&r, "detail"), "in a list");
  }
  free(body);
  body = body_with("\"provider\": \"AWS\", ", "dnsDomain", 10000);
  CHECK(C(h, "POST", links, body, 200));
  free(body);
  snprintf(one, sizeof one, "%s/%.64s", links, admin_str(&r, "_id"));
  body = body_with("", "dnsDomain", 20000);
  if (CALL(h, "PATCH", one, ACCEPT_2025, body, 400)) {
    check_refusal("PATCH to a 20 KB Private Link connection", admin_str(&r, "detail"), "in a list");
  }
  free(body);
  if (C(h, "GET", links, NULL, 200)) {
    CHECK(admin_int(&r, "totalCount") == 1 &&
          strlen(admin_str(&r, "results.0.dnsDomain")) == 10000);
  }
  char *pad = pad_of(20000, 'r');
  body = malloc(20200);
  sprintf(body,
          "{\"name\": \"big\", \"dataProcessRegion\": {\"cloudProvider\": \"AWS\", "
          "\"region\": \"VIRGINIA_USA\"}, \"failoverRegions\": [\"%s\"]}",
          pad);
  if (C(h, "POST", project, body, 400)) {
    check_refusal("a 20 KB stream instance", admin_str(&r, "detail"), "in a list");
  }
  free(body);
  CHECK(C(h, "POST", project,
          "{\"name\": \"extra\", \"dataProcessRegion\": {\"cloudProvider\": \"AWS\", "
          "\"region\": \"VIRGINIA_USA\"}}",
          200));
  body = malloc(20100);
  sprintf(body, "{\"failoverRegions\": [\"%s\"]}", pad);
  free(pad);
  if (C(h, "PATCH", extra, body, 400)) {
    check_refusal("PATCH to a 20 KB stream instance", admin_str(&r, "detail"), "in a list");
  }
  free(body);
  if (C(h, "GET", project, NULL, 200)) CHECK(admin_int(&r, "totalCount") == 2);
  if (C(h, "GET", extra, NULL, 200)) CHECK(!admin_has(&r, "failoverRegions.0"));
}

/* VPC peering records come from a file written before start-up, so they can be larger than
 * a page allows: the page that would be too large is refused, a smaller one is answered,
 * and an accept that would leave a record above 16 KiB is refused. */
#define VPC_PAD (3500 * 1000) /* five make a 17.5 MB page */
static void vpc_file(void) {
  char dir[512], path[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  size_t len = 5 * (VPC_PAD + 128) + 64;
  char *file = malloc(len), *p = file;
  char *pad = pad_of(VPC_PAD, 'v');
  p += sprintf(p, "{\"records\": [");
  for (int i = 0; i < 5; i++) {
    p += sprintf(p,
                 "%s{\"_id\": \"vpc%d\", \"requesterAccountId\": \"1\", \"requesterVpcId\": "
                 "\"%s\", \"status\": \"PENDING\"}",
                 i ? ", " : "", i, pad);
  }
  sprintf(p, "]}");
  free(pad);
  CHECK(aspd_harness_write_file(dir, "vpc_peering.json", file, path, sizeof path));
  free(file);
  aspd_instance_t inst;
  wt_start(&inst, dir);
  admin_http_t *h = admin_http_new(&inst);
  char url[1024];
  snprintf(url, sizeof url, "%s/api/atlas/v2/groups/%s/streams/vpcPeeringConnections",
           inst.admin_root, inst.group_id);
  if (C(h, "GET", url, NULL, 500)) {
    const char *detail = admin_str(&r, "detail");
    CHECK(strstr(detail, "16777216") && strstr(detail, "itemsPerPage"));
  }
  char page[1100];
  snprintf(page, sizeof page, "%s?itemsPerPage=2&pageNum=3", url);
  if (C(h, "GET", page, NULL, 200)) CHECK(admin_int(&r, "totalCount") == 5);
  snprintf(page, sizeof page, "%s/vpc0:accept", url);
  CHECK(C(h, "POST", page, "{\"requesterAccountId\": \"1\", \"requesterVpcId\": \"vpc-1\"}", 202));
  snprintf(page, sizeof page, "%s/vpc1:accept", url);
  char *body = body_with("\"requesterAccountId\": \"1\", ", "requesterVpcId", 20000);
  if (C(h, "POST", page, body, 400)) {
    check_refusal("accepting into a 20 KB VPC peering record", admin_str(&r, "detail"),
                  "in a list");
  }
  free(body);
  admin_http_free(h);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;
}

/* n Https connections of PAD bytes each, as a JSON array (malloc'd). */
static char *padded_connections(int n) {
  char *file = malloc((size_t)n * (PAD + 300) + 8), *p = file;
  p += sprintf(p, "[");
  for (int i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof name, "file%d", i);
    char *one = https_json(name, PAD, 'f');
    p += sprintf(p, "%s%s", i ? ", " : "", one);
    free(one);
  }
  sprintf(p, "]");
  return file;
}

/* The --connections file faces the same bound at start-up: four padded connections fit
 * ROOM and aspd serves them; five do not, and aspd refuses to start, naming the file and
 * the sizes, rather than serve lists it cannot answer. */
static void connections_file(void) {
  char *fits = padded_connections(4), *over = padded_connections(5);
  const char *args[] = {"--max-list-reply-bytes", ROOM, NULL};
  aspd_instance_t inst;
  if (aspd_harness_start_connections(&inst, NULL, fits, args)) {
    mongoc_client_t *c = wt_client(&inst);
    bson_t reply;
    bson_error_t error;
    if (wt_run(c, "{\"listStreamConnections\": 1}", &reply, &error)) {
      char *json = bson_as_relaxed_extended_json(&reply, NULL);
      CHECK(strstr(json, "\"file0\"") && strstr(json, "\"file3\""));
      bson_free(json);
    } else {
      CHECK(!"listStreamConnections failed");
    }
    bson_destroy(&reply);
    mongoc_client_destroy(c);
    if (aspd_harness_stop(&inst) != 0) wt_failures++;
  } else {
    CHECK(!"aspd did not start with four connections that fit");
  }

  char dir[512], path[1024], state[512], flags[1400];
  CHECK(aspd_harness_tempdir(dir, sizeof dir) && aspd_harness_tempdir(state, sizeof state));
  CHECK(aspd_harness_write_file(dir, "connections.json", over, path, sizeof path));
  snprintf(flags, sizeof flags, "--connections '%s' --max-list-reply-bytes %s", path, ROOM);
  const char *needles[] = {"connections file", "the reply to a list of connections",
                           "limit of " ROOM " bytes", NULL};
  wt_expect_refusal_with(state, flags, needles);
  free(fits);
  free(over);
}

/* Two clients, one over the wire and one over HTTPS, each add a processor that fits alone
 * but not with the other: exactly one is accepted, every round. */
typedef struct {
  const aspd_instance_t *inst;
  pthread_barrier_t *go;
  bool accepted;
} racer_t;

static void *race_wire(void *arg) {
  racer_t *t = arg;
  mongoc_client_t *c = wt_client(t->inst);
  char *json = command_json("createStreamProcessor", "racer_wire", FILL, 'w');
  bson_t reply;
  bson_error_t error;
  pthread_barrier_wait(t->go);
  t->accepted = wt_run(c, json, &reply, &error);
  bson_destroy(&reply);
  free(json);
  mongoc_client_destroy(c);
  return NULL;
}

static void *race_http(void *arg) {
  racer_t *t = arg;
  admin_http_t *h = admin_http_new(t->inst);
  char *pipeline = pipeline_json(FILL, 'h');
  char *body = malloc(strlen(pipeline) + 64);
  sprintf(body, "{\"name\": \"racer_http\", \"pipeline\": %s}", pipeline);
  admin_reply_t mine = {0};
  pthread_barrier_wait(t->go);
  t->accepted = admin_http_request(h, "POST", "ws:/processor", ACCEPT_2024, body, &mine) == 200;
  admin_reply_free(&mine);
  free(body);
  free(pipeline);
  admin_http_free(h);
  return NULL;
}

static void race(void) {
  aspd_instance_t inst;
  start_small(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  char name[32];
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof name, "big%d", i);
    char *json = command_json("createStreamProcessor", name, PAD, 'p');
    run_ok(c, json, name);
    free(json);
  }
  for (int round = 0; round < 5; round++) {
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    racer_t a = {&inst, &go, false}, b = {&inst, &go, false};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race_wire, &a);
    pthread_create(&tb, NULL, race_http, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&go);
    if (a.accepted == b.accepted) {
      fprintf(stderr, "FAIL: round %d: %s accepted\n", round, a.accepted ? "both" : "neither");
      wt_failures++;
    }
    CHECK(list_count(c, "listStreamProcessors", "streamProcessors") ==
          (uint32_t)(4 + a.accepted + b.accepted));
    if (a.accepted) CHECK(WT_OK(c, "{\"dropStreamProcessor\": \"racer_wire\"}"));
    if (b.accepted) CHECK(WT_OK(c, "{\"dropStreamProcessor\": \"racer_http\"}"));
  }
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;
}

/* At the default bound (16 MiB less 64 KiB): 15.6 MB of processors are accepted and every
 * list of them is answered; 1.5 MB more is refused, a small one is not. */
static void default_bound(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  admin_http_t *h = admin_http_new(&inst);
  char name[32];
  for (int i = 0; i < 4; i++) {
    snprintf(name, sizeof name, "large%d", i);
    char *json = command_json("createStreamProcessor", name, 3900 * 1000, 'l');
    run_ok(c, json, name);
    free(json);
  }
  char *json = command_json("createStreamProcessor", "large4", 1500 * 1000, 'l');
  wire_refused(c, json, "listStreamProcessors", "1.5 MB more at the default bound");
  free(json);
  /* What the check costs when it has the most to read (reported, not asserted). */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK(WT_OK(c,
              "{\"createStreamProcessor\": \"small\", \"pipeline\": [{\"$source\": "
              "{\"connectionName\": \"sample_stream_solar\"}}, {\"$emit\": "
              "{\"connectionName\": \"__testLog\"}}]}"));
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("a create next to 15.6 MB of definitions: %.0f ms\n",
         (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
  CHECK(list_count(c, "listStreamProcessors", "streamProcessors") == 5);
  if (P(h, "GET", "ws:/processors?itemsPerPage=500", NULL, 200)) {
    CHECK(admin_int(&r, "totalCount") == 5);
  }
  admin_http_free(h);
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;
}

int main(void) {
  connections_file();
  vpc_file();
  default_bound();
  race();
  aspd_instance_t inst;
  start_small(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  admin_http_t *h = admin_http_new(&inst);
  stages(c, 2500, true);
  stages(c, 4000, false);
  processors(&inst, c, h);
  connections(&inst, c, h);
  records(&inst, h);
  admin_http_free(h);
  mongoc_client_destroy(c);
  char state_dir[512];
  snprintf(state_dir, sizeof state_dir, "%s", inst.state_dir);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;

  /* After a restart: what was acknowledged, as it was; no trace of what was refused. */
  start_small(&inst, state_dir);
  c = wt_client(&inst);
  h = admin_http_new(&inst);
  CHECK(list_count(c, "listStreamProcessors", "streamProcessors") == 5);
  CHECK(pad_length(c, "big0") == PAD / 2 && pad_length(c, "big1") == PAD &&
        pad_length(c, "fill") == FILL && pad_length(c, "big4") == -1 &&
        pad_length(c, "big5") == -1);
  if (C(h, "GET", "ws:/connections/https0", NULL, 200)) {
    CHECK(strlen(admin_str(&r, "headers.X-Pad")) == PAD);
  }
  CHECK(C(h, "GET", "ws:/connections/https4", NULL, 404));
  admin_reply_free(&r);
  admin_http_free(h);
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;
  return wt_finish("limits_definitions");
}
