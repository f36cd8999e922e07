/* A state directory that turns read-only under a running aspd (docs/aspd.md, "Resource
 * bounds and guarantees"). Making a directory read-only the usual ways stops nothing: aspd
 * runs as root here (permissions do not apply), and a read-only bind mount cannot be made
 * while SQLite holds its files open for writing (EBUSY). So the state directory is an
 * ext4 file system of its own, on a loop device, mounted with errors=remount-ro in a mount
 * namespace that only aspd sees; the test raises a file system error through
 * /sys/fs/ext4/DEV/trigger_fs_error and the kernel turns it read-only, as it does after a
 * real disk error: every later write fails with EROFS, also on files already open.
 *
 * Then commands that change state (create processor over the wire and the Admin API, create
 * connection, insert) fail with a clear error naming no server path, and listing shows
 * nothing changed; a processor that was running keeps running, the failed sink commits are
 * logged with the aspd prefix; after a restart on the repaired file system the state is the
 * state before the failed commands, and everything committed before the fault is there.
 * Without root, util-linux, e2fsprogs, loop devices or that sysfs file the test is skipped
 * (exit 77) after saying why. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "admin_http.h"
#include "workspace_test_util.h"

static char image[1024], mount_dir[1024], log_path[1024];

/* The harness's child setup: aspd's stderr to the log, a mount namespace of its own with
 * the image mounted on the state directory. Exits 77 when that cannot be done. */
static void own_mount(void) {
  int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd >= 0) {
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "mount -o loop,errors=remount-ro '%s' '%s'", image, mount_dir);
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      system(cmd) != 0) {
    fprintf(stderr, "fault_readonly: cannot mount the state file system: %s\n", strerror(errno));
    _exit(77);
  }
}

static void skip(const char *why) {
  printf("SKIP fault_readonly: %s\n", why);
  exit(77);
}

/* Whether own_mount works here: tried in a child that only mounts and exits. */
static void probe(void) {
  if (geteuid() != 0) skip("needs root for a mount namespace and a loop device");
  if (system("command -v mount >/dev/null && command -v mkfs.ext4 >/dev/null") != 0) {
    skip("needs mount (util-linux) and mkfs.ext4 (e2fsprogs)");
  }
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "truncate -s 64M '%s' && mkfs.ext4 -q -F '%s' >/dev/null 2>&1", image,
           image);
  if (system(cmd) != 0) skip("could not make an ext4 image");
  pid_t pid = fork();
  if (pid == 0) {
    own_mount();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    skip("could not mount an ext4 image on a loop device in a mount namespace (see the log)");
  }
}

/* The test reaches aspd's CA through /proc/PID/root (the state file system is mounted for
 * aspd only) and puts a copy where the URI names it, in the directory under that mount. */
static bool share_ca(const aspd_instance_t *inst) {
  char from[1200], cmd[4096];
  snprintf(from, sizeof from, "/proc/%d/root%s", (int)inst->pid, inst->ca_file);
  snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\" && cp '%s' '%s'", inst->ca_file, from,
           inst->ca_file);
  return system(cmd) == 0;
}

static void start(aspd_instance_t *inst) {
  wt_start(inst, mount_dir);
  if (!share_ca(inst)) {
    fprintf(stderr, "FAIL: could not copy aspd's CA out of its mount namespace\n");
    exit(1);
  }
}

/* The loop device under aspd's state directory, from aspd's own mount table. */
static bool device_of(pid_t pid, char *dev, size_t len) {
  char path[64], line[4096];
  snprintf(path, sizeof path, "/proc/%d/mountinfo", (int)pid);
  FILE *f = fopen(path, "r");
  bool found = false;
  while (f && !found && fgets(line, sizeof line, f)) {
    /* id parent major:minor root mountpoint options ... - fstype source superoptions */
    char root[1024], point[1024], source[256];
    const char *dash = strstr(line, " - ");
    if (sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) == 2 && dash &&
        sscanf(dash, " - %*s %255s", source) == 1 && !strcmp(point, mount_dir) &&
        !strncmp(source, "/dev/", 5)) {
      snprintf(dev, len, "%.63s", source + 5);
      found = true;
    }
  }
  if (f) fclose(f);
  return found;
}

static bool file_contains(const char *path, const char *text) {
  FILE *f = fopen(path, "r");
  char line[4096];
  bool found = false;
  while (f && !found && fgets(line, sizeof line, f)) {
    found = strncmp(line, "aspd ", 5) == 0 && strstr(line, text) != NULL;
  }
  if (f) fclose(f);
  return found;
}

static admin_reply_t r;

/* Appends "tag:FIELD " for each item of an Admin API list at url. */
static size_t list_items(admin_http_t *h, const char *url, const char *tag, const char *field,
                         char *out, size_t len) {
  size_t used = 0;
  admin_http_request(h, "GET", url, ACCEPT_2023, NULL, &r);
  for (int i = 0; i < 500 && used < len; i++) {
    char path[64];
    snprintf(path, sizeof path, "results.%d", i);
    if (!admin_has(&r, path)) break;
    snprintf(path, sizeof path, "results.%d.%s", i, field);
    used += (size_t)snprintf(out + used, len - used, "%s:%s ", tag, admin_str(&r, path));
  }
  return used;
}

/* What the state looks like from outside: processors with their states, connections,
 * private links, workspaces. */
static void snapshot(const aspd_instance_t *inst, mongoc_client_t *c, admin_http_t *h, char *out,
                     size_t len) {
  bson_t reply;
  bson_error_t error;
  size_t used = 0;
  out[0] = '\0';
  bson_iter_t it, item, field;
  if (wt_run(c, "{\"listStreamProcessors\": 1}", &reply, &error) &&
      bson_iter_init_find(&it, &reply, "streamProcessors") && bson_iter_recurse(&it, &item)) {
    while (bson_iter_next(&item) && used < len) {
      char name[128] = "", state[32] = "";
      if (bson_iter_recurse(&item, &field) && bson_iter_find(&field, "name")) {
        snprintf(name, sizeof name, "%s", bson_iter_utf8(&field, NULL));
      }
      if (bson_iter_recurse(&item, &field) && bson_iter_find(&field, "state")) {
        snprintf(state, sizeof state, "%s", bson_iter_utf8(&field, NULL));
      }
      used += (size_t)snprintf(out + used, len - used, "p:%s=%s ", name, state);
    }
  }
  bson_destroy(&reply);
  used += list_items(h, "ws:/connections?itemsPerPage=500", "c", "name", out + used, len - used);
  char url[2048];
  snprintf(url, sizeof url, "%s/api/atlas/v2/groups/%s/streams/privateLinkConnections",
           inst->admin_root, inst->group_id);
  used += list_items(h, url, "pl", "dnsDomain", out + used, len - used);
  snprintf(url, sizeof url, "%s/api/atlas/v2/groups/%s/streams", inst->admin_root, inst->group_id);
  used += list_items(h, url, "ws", "name", out + used, len - used);
  snprintf(url, sizeof url, "%s/api/atlas/v2/groups/%s/streams/extra", inst->admin_root,
           inst->group_id);
  admin_http_request(h, "GET", url, ACCEPT_2023, NULL, &r);
  snprintf(out + used, len - used, "extra:%s", admin_str(&r, "dataProcessRegion.region"));
}

static int64_t count_docs(mongoc_client_t *c, const char *coll) {
  char json[128];
  snprintf(json, sizeof json, "{\"count\": \"%s\"}", coll);
  bson_t reply;
  bson_error_t error;
  mongoc_database_t *db = mongoc_client_get_database(c, "d");
  bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &error);
  int64_t n = mongoc_database_command_simple(db, cmd, NULL, &reply, &error)
                  ? wt_int(&reply, "n", NULL)
                  : -1;
  bson_destroy(cmd);
  bson_destroy(&reply);
  mongoc_database_destroy(db);
  return n;
}

/* A digest of the first n documents of d.out, in the order they were written. */
static uint64_t digest(mongoc_client_t *c, int64_t n) {
  mongoc_collection_t *coll = mongoc_client_get_collection(c, "d", "out");
  bson_t *filter = bson_new();
  bson_t *opts = BCON_NEW("limit", BCON_INT64(n), "batchSize", BCON_INT32(1000));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
  const bson_t *doc;
  uint64_t h = 1469598103934665603ULL;
  int64_t seen = 0;
  while (mongoc_cursor_next(cursor, &doc)) {
    const uint8_t *data = bson_get_data(doc);
    for (uint32_t i = 0; i < doc->len; i++) h = (h ^ data[i]) * 1099511628211ULL;
    seen++;
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(coll);
  return seen == n ? h : 0;
}

static bool insert(mongoc_client_t *c, int i, char *why, size_t len) {
  mongoc_collection_t *coll = mongoc_client_get_collection(c, "d", "acked");
  bson_t *doc = BCON_NEW("i", BCON_INT32(i));
  bson_error_t error;
  bool ok = mongoc_collection_insert_one(coll, doc, NULL, NULL, &error);
  if (!ok) snprintf(why, len, "%s", error.message);
  bson_destroy(doc);
  mongoc_collection_destroy(coll);
  return ok;
}

/* A refusal must say why in words, and name no server path. */
static void clear_error(const char *what, const char *message) {
  if (!*message || strchr(message, '/') || strstr(message, mount_dir)) {
    fprintf(stderr, "FAIL: %s: unclear error or a server path: '%s'\n", what, message);
    wt_failures++;
  } else {
    printf("%s: %s\n", what, message);
  }
}

/* An Admin API change that must be refused (url: as admin_http_request takes it). */
static void refused(admin_http_t *h, const char *method, const char *url, const char *accept,
                    const char *body, const char *what) {
  long status = admin_http_request(h, method, url, accept, body, &r);
  if (status < 400) {
    fprintf(stderr, "FAIL: %s on a read-only state directory: %ld\n", what, status);
    wt_failures++;
    return;
  }
  char label[256];
  snprintf(label, sizeof label, "%s on a read-only state directory", what);
  clear_error(label, admin_str(&r, "detail"));
}

/* A wire command that must be refused. */
static void wire_refused(mongoc_client_t *c, const char *json, const char *what) {
  bson_t reply;
  bson_error_t error;
  bool ok = wt_run(c, json, &reply, &error);
  bson_destroy(&reply);
  char label[256];
  snprintf(label, sizeof label, "%s on a read-only state directory", what);
  if (ok) {
    fprintf(stderr, "FAIL: %s: accepted\n", label);
    wt_failures++;
  } else {
    clear_error(label, error.message);
  }
}

static const char *const RUNNER =
    "{\"createStreamProcessor\": \"runner\", \"pipeline\": ["
    "{\"$source\": {\"connectionName\": \"fast_solar\"}},"
    "{\"$merge\": {\"into\": {\"connectionName\": \"cluster0\", \"db\": \"d\", \"coll\": "
    "\"out\"}}}]}";

/* A processor with window state, so that it has a checkpoint to commit. */
static const char *const WINDOWED =
    "{\"createStreamProcessor\": \"windowed\", \"pipeline\": ["
    "{\"$source\": {\"connectionName\": \"fast_solar\"}},"
    "{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"hour\"}, \"pipeline\": "
    "[{\"$group\": {\"_id\": \"$device_id\", \"n\": {\"$sum\": 1}}}]}},"
    "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}";

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  snprintf(image, sizeof image, "%s/state.img", dir);
  snprintf(mount_dir, sizeof mount_dir, "%s/state", dir);
  snprintf(log_path, sizeof log_path, "%s/aspd.log", dir);
  mkdir(mount_dir, 0700);
  probe();

  aspd_harness_set_child_setup(own_mount);
  aspd_instance_t inst;
  start(&inst);
  mongoc_client_t *c = wt_client(&inst);
  admin_http_t *h = admin_http_new(&inst);

  /* Acknowledged before the fault: a processor, a connection, documents, a running sink. */
  CHECK(WT_OK(c,
              "{\"createStreamProcessor\": \"kept\", \"pipeline\": [{\"$source\": "
              "{\"connectionName\": \"sample_stream_solar\"}}, {\"$emit\": "
              "{\"connectionName\": \"__testLog\"}}]}"));
  CHECK(admin_http_request(h, "POST", "ws:/connections", ACCEPT_2023,
                           "{\"name\": \"kept_conn\", \"type\": \"Https\", \"url\": "
                           "\"https://example.com\"}",
                           &r) == 200);
  char project[512], links[600], workspaces[600], extra[600], link[800];
  snprintf(project, sizeof project, "%s/api/atlas/v2/groups/%s/streams", inst.admin_root,
           inst.group_id);
  snprintf(links, sizeof links, "%s/privateLinkConnections", project);
  snprintf(workspaces, sizeof workspaces, "%s", project);
  snprintf(extra, sizeof extra, "%s/extra", project);
  CHECK(admin_http_request(h, "POST", links, ACCEPT_2023,
                           "{\"provider\": \"AWS\", \"dnsDomain\": \"before.example\"}",
                           &r) == 200);
  snprintf(link, sizeof link, "%s/%.100s", links, admin_str(&r, "_id"));
  CHECK(admin_http_request(h, "POST", workspaces, ACCEPT_2023,
                           "{\"name\": \"extra\", \"dataProcessRegion\": {\"cloudProvider\": "
                           "\"AWS\", \"region\": \"VIRGINIA_USA\"}}",
                           &r) == 200);
  char why[512] = "";
  for (int i = 0; i < 10; i++) CHECK(insert(c, i, why, sizeof why));
  CHECK(WT_OK(c, RUNNER));
  CHECK(WT_OK(c, "{\"startStreamProcessor\": \"runner\"}"));
  CHECK(WT_OK(c, WINDOWED));
  CHECK(WT_OK(c, "{\"startStreamProcessor\": \"windowed\"}"));
  int64_t written = 0;
  for (int i = 0; i < 100 && written < 200; i++) {
    usleep(50 * 1000);
    written = count_docs(c, "out");
  }
  CHECK(written >= 200);
  /* The flusher commits every 50 ms: a second later all of these are on disk. */
  sleep(1);
  uint64_t committed = digest(c, written);
  char before[8192], after[8192];
  snapshot(&inst, c, h, before, sizeof before);
  printf("state before the fault: %s\n", before);

  char dev[64];
  if (!device_of(inst.pid, dev, sizeof dev)) {
    fprintf(stderr, "FAIL: no loop device under %s in aspd's mount table\n", mount_dir);
    exit(1);
  }
  char trigger[256];
  snprintf(trigger, sizeof trigger, "/sys/fs/ext4/%s/trigger_fs_error", dev);
  FILE *t = fopen(trigger, "w");
  if (!t) skip("no /sys/fs/ext4/DEV/trigger_fs_error to turn the file system read-only");
  fputs("1", t);
  fclose(t);

  /* Every change is refused, clearly, and not applied. */
  wire_refused(c,
               "{\"createStreamProcessor\": \"refused\", \"pipeline\": [{\"$source\": "
               "{\"connectionName\": \"sample_stream_solar\"}}, {\"$emit\": "
               "{\"connectionName\": \"__testLog\"}}]}",
               "createStreamProcessor");
  wire_refused(c, "{\"dropStreamProcessor\": \"kept\"}", "dropStreamProcessor");
  wire_refused(c, "{\"stopStreamProcessor\": \"runner\"}", "stopStreamProcessor");
  refused(h, "POST", "ws:/processor", ACCEPT_2024,
          "{\"name\": \"refused_http\", \"pipeline\": [{\"$source\": {\"connectionName\": "
          "\"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
          "POST /processor");
  refused(h, "POST", "ws:/connections", ACCEPT_2023,
          "{\"name\": \"refused_conn\", \"type\": \"Https\", \"url\": "
          "\"https://example.com\"}",
          "POST /connections");
  refused(h, "PATCH", "ws:/connections/kept_conn", ACCEPT_2023,
          "{\"url\": \"https://changed.example.com\"}", "PATCH /connections/NAME");
  refused(h, "DELETE", "ws:/connections/kept_conn", ACCEPT_2023, NULL, "DELETE /connections/NAME");
  refused(h, "POST", links, ACCEPT_2023, "{\"provider\": \"AWS\"}", "POST /privateLinkConnections");
  refused(h, "PATCH", link, ACCEPT_2025, "{\"dnsDomain\": \"after.example\"}",
          "PATCH /privateLinkConnections/ID");
  refused(h, "DELETE", link, ACCEPT_2023, NULL, "DELETE /privateLinkConnections/ID");
  refused(h, "POST", workspaces, ACCEPT_2023,
          "{\"name\": \"refused_ws\", \"dataProcessRegion\": {\"cloudProvider\": \"AWS\", "
          "\"region\": \"VIRGINIA_USA\"}}",
          "POST /streams");
  refused(h, "PATCH", extra, ACCEPT_2023,
          "{\"dataProcessRegion\": {\"cloudProvider\": \"AWS\", \"region\": \"DUBLIN_IRL\"}}",
          "PATCH /streams/NAME");
  refused(h, "DELETE", extra, ACCEPT_2023, NULL, "DELETE /streams/NAME");
  CHECK(!insert(c, 10, why, sizeof why));
  clear_error("insert on a read-only state directory", why);
  snapshot(&inst, c, h, after, sizeof after);
  if (strcmp(before, after) != 0) {
    fprintf(stderr, "FAIL: refused changes show:\n  before: %s\n  after:  %s\n", before, after);
    wt_failures++;
  }

  /* The running processor goes on; its sink commits fail and are logged. */
  bool logged = false;
  for (int i = 0; i < 100 && !logged; i++) {
    usleep(100 * 1000);
    logged = file_contains(log_path, "could not persist sink contents");
  }
  CHECK(logged);
  char state[32];
  CHECK(!strcmp(wt_state(c, "runner", state, sizeof state), "STARTED"));
  /* ...and the checkpoint age of one with window state grows while they do. */
  bson_t stats;
  bson_error_t error;
  int64_t age1 = -1, age2 = -1;
  if (wt_run(c, "{\"getStreamProcessorStats\": \"windowed\"}", &stats, &error))
    age1 = wt_int(&stats, "stats.checkpointAgeMs", NULL);
  bson_destroy(&stats);
  usleep(600 * 1000);
  if (wt_run(c, "{\"getStreamProcessorStats\": \"windowed\"}", &stats, &error))
    age2 = wt_int(&stats, "stats.checkpointAgeMs", NULL);
  bson_destroy(&stats);
  CHECK(age1 >= 0 && age2 >= age1 + 500);
  admin_http_free(h);
  mongoc_client_destroy(c);
  /* Shutting down on a read-only directory cannot save what is not saved yet (logged). */
  CHECK(aspd_harness_stop(&inst) == 0); /* a clean shutdown, though nothing can be saved */

  /* The file system repaired (as fsck would), aspd restarted on it. */
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "e2fsck -fy '%s' >/dev/null 2>&1", image);
  int fsck = system(cmd);
  CHECK(WIFEXITED(fsck) && WEXITSTATUS(fsck) <= 1);
  start(&inst);
  c = wt_client(&inst);
  h = admin_http_new(&inst);
  snapshot(&inst, c, h, after, sizeof after);
  if (strcmp(before, after) != 0) {
    fprintf(stderr, "FAIL: after the restart:\n  before: %s\n  after:  %s\n", before, after);
    wt_failures++;
  }
  CHECK(count_docs(c, "acked") == 10);
  /* The runner resumed and writes on: the first documents are those from before the fault. */
  printf("sink: %lld documents written before the fault\n", (long long)written);
  CHECK(committed != 0 && digest(c, written) == committed);
  admin_reply_free(&r);
  admin_http_free(h);
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;
  aspd_harness_set_child_setup(NULL);
  if (wt_failures) {
    snprintf(cmd, sizeof cmd, "cat '%s' >&2", log_path);
    if (system(cmd) != 0) fprintf(stderr, "(no aspd log)\n");
  }
  return wt_finish("fault_readonly");
}
