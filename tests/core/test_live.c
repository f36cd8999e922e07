/* The core against a live aspd (tests/support/aspd_harness.h): connect with TLS verified,
 * the lifecycle, the `result` unwrapping, the sample loop over both phases, an ephemeral
 * processor dropped by asp_sample_destroy, server and auth errors. */
#include <sys/wait.h>
#include <unistd.h>

#include "asp.h"
#include "aspd_harness.h"
#include "check.h"

static bson_t *solar_pipeline(void) {
  return json_doc(
      "{\"0\": {\"$source\": {\"connectionName\": \"fast_solar\"}}, "
      "\"1\": {\"$emit\": {\"connectionName\": \"__testLog\"}}}");
}

static const char *str_field(const bson_t *doc, const char *key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL)
                                                                         : "";
}

static void test_lifecycle(asp_client_t *c) {
  asp_error_t err;
  bson_t *pipeline = solar_pipeline();
  CHECK(asp_processor_create(c, "live", pipeline, NULL, &err));
  bson_t info;
  CHECK(asp_processor_info(c, "live", &info, &err));
  CHECK_STR(str_field(&info, "name"), "live"); /* unwrapped from `result` */
  CHECK_STR(str_field(&info, "state"), "CREATED");
  bson_iter_t it;
  CHECK(!bson_iter_init_find(&it, &info, "ok"));
  bson_destroy(&info);

  asp_start_opts_t start = {.has_workers = true, .workers = 1, .tier = "SP10"};
  CHECK(asp_processor_start(c, "live", &start, &err));
  bson_t stats;
  asp_stats_opts_t so = {.verbose = ASP_TRUE, .has_scale = true, .scale = 1};
  CHECK(asp_processor_stats(c, "live", &so, &stats, &err));
  CHECK(bson_iter_init_find(&it, &stats, "stats") && BSON_ITER_HOLDS_DOCUMENT(&it));
  bson_destroy(&stats);

  bson_t reply;
  CHECK(asp_list_processors(c, NULL, &reply, &err));
  bson_iter_t items;
  CHECK(asp_reply_array(&reply, "streamProcessors", &items));
  bson_destroy(&reply);

  /* the sample loop: start returns only an id, getMore brings documents */
  asp_sample_start_opts_t lim = {.has_limit = true, .limit = 25};
  asp_sample_t *s = asp_sample_start(c, "live", &lim, &err);
  CHECK(s != NULL);
  int got = 0;
  for (int round = 0; s && round < 500 && asp_sample_cursor_id(s) != 0; round++) {
    bson_iter_t batch;
    CHECK(asp_sample_get_more(s, 10, &reply, &batch, &err));
    int n = 0;
    while (bson_iter_next(&batch)) n++;
    CHECK(n <= 10);
    got += n;
    bson_destroy(&reply);
    if (n == 0) usleep(10000);
  }
  CHECK(got == 25);
  /* exhausted: no more traffic, an empty batch */
  uint64_t sent = asp_client_commands_sent(c);
  bson_iter_t batch;
  CHECK(s && asp_sample_get_more(s, 10, &reply, &batch, &err));
  CHECK(!bson_iter_next(&batch));
  bson_destroy(&reply);
  CHECK(asp_client_commands_sent(c) == sent);
  asp_sample_destroy(s, c);

  CHECK(asp_processor_stop(c, "live", &err));
  asp_modify_opts_t m = {.resume_from_checkpoint = ASP_FALSE, .pipeline = pipeline};
  CHECK(asp_processor_modify(c, "live", &m, &err));
  CHECK(asp_processor_drop(c, "live", &err));
  CHECK(!asp_processor_info(c, "live", &info, &err));
  bson_destroy(&info);
  CHECK(err.domain == ASP_DOMAIN_SERVER && err.code != 0 && err.code_name[0] != '\0');
  bson_destroy(pipeline);
}

static void test_process(asp_client_t *c) {
  asp_error_t err;
  bson_t *pipeline = solar_pipeline();
  asp_sample_t *s = asp_sample_process(c, pipeline, NULL, &err);
  CHECK(s != NULL);
  if (!s) return;
  CHECK(asp_sample_is_ephemeral(s));
  char name[128];
  snprintf(name, sizeof name, "%s", asp_sample_processor_name(s));
  bson_t info;
  CHECK(asp_processor_info(c, name, &info, &err));
  bson_destroy(&info);
  asp_sample_destroy(s, c); /* drops the ephemeral processor */
  CHECK(!asp_processor_info(c, name, &info, &err));
  bson_destroy(&info);
  bson_destroy(pipeline);
}

/* A client used on both sides of a fork: the child reconnects on a fresh client and the
 * parent's connection is untouched. */
static void test_fork(asp_client_t *c) {
  asp_error_t err;
  CHECK(asp_client_ping(c, &err));
  pid_t pid = fork();
  if (pid == 0) _exit(asp_client_ping(c, &err) ? 0 : 1);
  int status = -1;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  bool parent_ok = asp_client_ping(c, &err);
  if (!parent_ok)
    fprintf(stderr, "parent after fork: %s %s\n", asp_domain_name(err.domain), err.message);
  CHECK(parent_ok);
}

/* Restarts aspd on the same port and state: the client's connection is stale. */
static bool restart(aspd_instance_t *inst, const char *connections) {
  char port[16];
  snprintf(port, sizeof port, "%d", inst->port);
  char state_dir[512];
  snprintf(state_dir, sizeof state_dir, "%s", inst->state_dir);
  aspd_harness_stop(inst);
  const char *extra[] = {"--connections", connections, "--port", port, NULL};
  return aspd_harness_start(inst, state_dir, extra);
}

/* The retryable reads survive a server restart with one retry; other commands fail once
 * with a network error (and the next one reconnects). */
static void test_retry_after_restart(aspd_instance_t *inst, const char *connections) {
  asp_error_t err;
  asp_client_t *c = asp_client_new(inst->uri, NULL, &err);
  bson_t *pipeline = solar_pipeline();
  CHECK(c && asp_processor_create(c, "kept", pipeline, NULL, &err));
  bson_destroy(pipeline);
  if (!c || !restart(inst, connections)) {
    CHECK(false);
    asp_client_destroy(c);
    return;
  }
  uint64_t before = asp_client_commands_sent(c);
  bson_t info;
  bool ok = asp_processor_info(c, "kept", &info, &err);
  if (!ok) fprintf(stderr, "info after restart: %s\n", err.message);
  CHECK(ok);
  CHECK_STR(str_field(&info, "name"), "kept");
  bson_destroy(&info);
  CHECK(asp_client_commands_sent(c) - before == 2);

  CHECK(restart(inst, connections));
  before = asp_client_commands_sent(c);
  bson_t reply;
  CHECK(!asp_list_processors(c, NULL, &reply, &err));
  bson_destroy(&reply);
  CHECK(err.domain == ASP_DOMAIN_NETWORK);
  CHECK(asp_client_commands_sent(c) - before == 1);
  CHECK(asp_list_processors(c, NULL, &reply, &err)); /* reconnected */
  bson_destroy(&reply);
  CHECK(asp_processor_drop(c, "kept", &err));
  asp_client_destroy(c);
}

/* Runs one login with a wrong password while the process's stdout and stderr point at a
 * temporary file; returns what was written there (the caller frees it). */
static char *output_of_failed_login(const char *uri, asp_error_t *err, bool *pinged) {
  fflush(stdout);
  fflush(stderr);
  int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
  FILE *captured = tmpfile();
  dup2(fileno(captured), STDOUT_FILENO);
  dup2(fileno(captured), STDERR_FILENO);
  asp_client_t *c = asp_client_new(uri, NULL, err);
  *pinged = c && asp_client_ping(c, err);
  asp_client_destroy(c);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, STDOUT_FILENO);
  dup2(saved_err, STDERR_FILENO);
  close(saved_out);
  close(saved_err);
  char *text = calloc(1, 4096);
  rewind(captured);
  fread(text, 1, 4095, captured);
  fclose(captured);
  return text;
}

/* A failed login reaches the caller as an error and nowhere else: libmongoc's own log
 * lines about it (its default handler prints debug lines on stdout) stay out of the
 * host's output. */
static void test_auth(const aspd_instance_t *inst) {
  char uri[1024];
  aspd_harness_uri_for(inst, inst->user, "not-the-password", uri, sizeof uri);
  asp_error_t err;
  bool pinged;
  char *printed = output_of_failed_login(uri, &err, &pinged);
  CHECK(!pinged);
  CHECK(err.domain == ASP_DOMAIN_AUTH);
  CHECK(strstr(err.message, "not-the-password") == NULL);
  if (*printed) fprintf(stderr, "printed during a failed login:\n%s\n", printed);
  CHECK(*printed == '\0');
  free(printed);
}

int main(void) {
  aspd_instance_t inst;
  char path[600];
  if (!aspd_harness_write_file(
          NULL, "connections.json",
          "[{\"name\": \"fast_solar\", \"type\": \"Sample\", \"docsPerSecond\": 0}]", path,
          sizeof path)) {
    return 1;
  }
  const char *extra[] = {"--connections", path, NULL};
  if (!aspd_harness_start(&inst, NULL, extra)) return 77; /* no aspd: skip */
  asp_error_t err;
  asp_client_t *c = asp_client_new(inst.uri, NULL, &err);
  CHECK(c != NULL);
  if (c) {
    CHECK(asp_client_ping(c, &err));
    test_lifecycle(c);
    test_process(c);
    test_fork(c);
    asp_client_destroy(c);
  }
  test_auth(&inst);
  test_retry_after_restart(&inst, path);
  aspd_harness_stop(&inst);
  return check_report("core.live");
}
