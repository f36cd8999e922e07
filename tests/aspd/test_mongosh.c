/* mongosh's `sp` helper against aspd, as ASP users type it: connect with the
 * printed URI, ping, connections, defaults, a processor's whole life, sampling
 * with a limit, an ephemeral sp.process over inline documents, and the CRUD
 * helpers on a collection of a Cluster connection: insert, find (sort, skip,
 * limit, projection), update, replace, upsert, aggregate, countDocuments,
 * distinct, delete, findOneAndUpdate and drop.
 * Skipped (77) when scripts/setup.sh could not install mongosh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aspd_harness.h"

static const char *const script =
    "function describe(v) {\n"
    "  try {\n"
    "    return Array.isArray(v) ? JSON.stringify(v.map(x => x && x.name ? {name: x.name, state: "
    "x.state} : x))\n"
    "                            : EJSON.stringify(v);\n"
    "  } catch (e) { return String(v); }\n"
    "}\n"
    "function check(cond, what, value) {\n"
    "  if (!cond) throw new Error('CHECK FAILED: ' + what + ': ' + describe(value));\n"
    "  print('PASS ' + what);\n"
    "}\n"
    "let r = db.adminCommand({ping: 1});\n"
    "check(r.ok === 1, 'ping', r);\n"
    "r = sp.listConnections();\n"
    "check(Array.isArray(r) && r.some(c => c.name === 'sample_stream_solar'), 'listConnections', "
    "r);\n"
    "r = sp.listWorkspaceDefaults();\n"
    "check(r.ok === 1, 'listWorkspaceDefaults', r);\n"
    "const pipeline = [{$source: {connectionName: 'sample_stream_solar'}},\n"
    "                  {$emit: {connectionName: '__testLog'}}];\n"
    "const p = sp.createStreamProcessor('mongoshSolar', pipeline);\n"
    "check(p && p.name === 'mongoshSolar', 'createStreamProcessor', p);\n"
    "r = sp.listStreamProcessors();\n"
    "check(r.length === 1 && r[0].name === 'mongoshSolar' && r[0].state === 'CREATED',\n"
    "      'listStreamProcessors', r);\n"
    "r = sp.mongoshSolar.start();\n"
    "check(r.ok === 1, 'start', r);\n"
    "r = sp.mongoshSolar.stats();\n"
    "check(r.ok === 1, 'stats', r);\n"
    "sp.mongoshSolar.sample({limit: 2});\n"
    "print('PASS sample');\n"
    "r = sp.mongoshSolar.stop();\n"
    "check(r.ok === 1, 'stop', r);\n"
    "r = sp.mongoshSolar.modify([{$source: {connectionName: 'sample_stream_solar'}},\n"
    "                            {$emit: {connectionName: '__testLog'}}]);\n"
    "check(r.ok === 1, 'modify', r);\n"
    "r = sp.listStreamProcessors({name: 'mongoshSolar'});\n"
    "check(r.length === 1 && r[0].state === 'STOPPED', 'listStreamProcessors with filter', r);\n"
    "r = sp.mongoshSolar.drop();\n"
    "check(r.ok === 1, 'drop', r);\n"
    "r = sp.listStreamProcessors();\n"
    "check(r.length === 0, 'listStreamProcessors after drop', r);\n"
    "sp.process([{$source: {documents: [{inline: 1}, {inline: 2}, {inline: 3}]}}]);\n"
    "print('PASS process');\n";

/* The collection helpers: a second file, run after the first in the same shell (one C
 * string literal stays under 4095 bytes); its own scope, so it declares what it uses. */
static const char *const crud_script =
    "(function () {\n"
    "function check(cond, what, value) {\n"
    "  if (!cond) throw new Error('CHECK FAILED: ' + what + ': ' + EJSON.stringify(value));\n"
    "  print('PASS ' + what);\n"
    "}\n"
    "let r;\n"
    "const shop = db.getSiblingDB('shop');\n"
    "r = shop.items.insertMany([{_id: 1, a: 1}, {_id: 2, a: 2}, {_id: 3, a: 3}]);\n"
    "check(r.acknowledged && Object.keys(r.insertedIds).length === 3, 'insertMany', r);\n"
    "r = shop.items.insertOne({a: 4});\n"
    "check(r.acknowledged && r.insertedId, 'insertOne', r);\n"
    "r = shop.items.find({a: {$gte: 2}}).toArray();\n"
    "check(r.length === 3 && r[0].a === 2, 'find', r);\n"
    "r = shop.items.find().batchSize(1).toArray();\n"
    "check(r.length === 4, 'find in batches', r);\n"
    "r = shop.getCollectionNames();\n"
    "check(r.includes('items'), 'getCollectionNames', r);\n"
    "r = shop.items.find({}, {a: 1, _id: 0}).sort({a: -1}).skip(1).limit(2).toArray();\n"
    "check(r.length === 2 && r[0].a === 3 && r[1].a === 2 && r[0]._id === undefined,\n"
    "      'find with sort, skip, limit and projection', r);\n"
    "r = shop.items.updateOne({_id: 1}, {$set: {b: 'x'}, $inc: {a: 10}});\n"
    "check(r.matchedCount === 1 && r.modifiedCount === 1, 'updateOne', r);\n"
    "r = shop.items.updateMany({a: {$lt: 5}}, {$push: {tags: 't'}});\n"
    "check(r.matchedCount === 3 && r.modifiedCount === 3, 'updateMany', r);\n"
    "r = shop.items.replaceOne({_id: 2}, {a: 20});\n"
    "check(r.modifiedCount === 1, 'replaceOne', r);\n"
    "r = shop.items.updateOne({_id: 7}, {$set: {a: 7}}, {upsert: true});\n"
    "check(r.upsertedCount === 1 && (r.upsertedId ?? r.insertedId) === 7, 'upsert', r);\n"
    "r = shop.items.findOne({_id: 1});\n"
    "check(r.a === 11 && r.b === 'x', 'findOne after update', r);\n"
    "r = shop.items.aggregate([{$match: {a: {$gte: 4}}},\n"
    "                          {$group: {_id: null, total: {$sum: '$a'}}}]).toArray();\n"
    "check(r.length === 1 && r[0].total === 42, 'aggregate', r);\n"
    "r = shop.items.countDocuments({a: {$gte: 4}});\n"
    "check(r === 4, 'countDocuments', r);\n"
    "r = shop.items.distinct('tags');\n"
    "check(r.length === 1 && r[0] === 't', 'distinct', r);\n"
    "r = shop.items.deleteOne({a: 3});\n"
    "check(r.deletedCount === 1, 'deleteOne', r);\n"
    "r = shop.items.deleteMany({a: {$gte: 10}});\n"
    "check(r.deletedCount === 2, 'deleteMany', r);\n"
    "r = shop.items.countDocuments();\n"
    "check(r === 2, 'countDocuments after delete', r);\n"
    "r = shop.items.findOneAndUpdate({_id: 7}, {$inc: {a: 1}}, {returnDocument: 'after'});\n"
    "check(r && (r.value !== undefined ? r.value : r).a === 8, 'findOneAndUpdate', r);\n"
    "r = shop.items.drop();\n"
    "check(r === true, 'drop a collection', r);\n"
    "r = shop.getCollectionNames();\n"
    "check(!r.includes('items'), 'getCollectionNames after drop', r);\n"
    "print('MONGOSH-ALL-OK');\n"
    "})();\n";

/* A Cluster connection, so that collections can be created. */
static const char *const CONNECTIONS =
    "[{\"name\": \"cluster0\", \"type\": \"Cluster\", \"clusterName\": \"Cluster0\","
    "  \"dbRoleToExecute\": {\"role\": \"atlasAdmin\", \"type\": \"BUILT_IN\"}}]";

static const char *const expected[] = {"PASS ping",
                                       "PASS listConnections",
                                       "PASS listWorkspaceDefaults",
                                       "PASS createStreamProcessor",
                                       "PASS listStreamProcessors",
                                       "PASS start",
                                       "PASS stats",
                                       "device_id", /* sampled solar documents were printed */
                                       "PASS sample",
                                       "PASS stop",
                                       "PASS modify",
                                       "PASS listStreamProcessors with filter",
                                       "PASS drop",
                                       "PASS listStreamProcessors after drop",
                                       "inline: 3",
                                       "PASS process",
                                       "PASS insertMany",
                                       "PASS find",
                                       "PASS find in batches",
                                       "PASS getCollectionNames",
                                       "PASS find with sort, skip, limit and projection",
                                       "PASS updateOne",
                                       "PASS updateMany",
                                       "PASS replaceOne",
                                       "PASS upsert",
                                       "PASS findOne after update",
                                       "PASS aggregate",
                                       "PASS countDocuments",
                                       "PASS distinct",
                                       "PASS deleteOne",
                                       "PASS deleteMany",
                                       "PASS countDocuments after delete",
                                       "PASS findOneAndUpdate",
                                       "PASS drop a collection",
                                       "PASS getCollectionNames after drop",
                                       "MONGOSH-ALL-OK"};

/* Runs a shell command, returns its exit status and its output (malloc'd). */
static int run(const char *command, char **output) {
  FILE *p = popen(command, "r");
  size_t cap = 1 << 16, used = 0;
  char *out = malloc(cap);
  size_t n;
  while (p && (n = fread(out + used, 1, cap - used - 1, p)) > 0) {
    used += n;
    if (used + 1 >= cap) out = realloc(out, cap *= 2);
  }
  out[used] = '\0';
  *output = out;
  return p ? pclose(p) : -1;
}

int main(void) {
  const char *source = getenv("ASP_SOURCE_DIR");
  char mongosh[1024];
  snprintf(mongosh, sizeof mongosh, "%s/.deps/mongosh/node_modules/.bin/mongosh",
           source ? source : ".");
  if (access(mongosh, X_OK) != 0) {
    printf("mongosh: %s not installed (scripts/setup.sh installs it); skipped\n", mongosh);
    return 77;
  }
  char dir[512], script_path[1024], crud_path[1024], conns[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "crud.js", crud_script, crud_path, sizeof crud_path) ||
      !aspd_harness_write_file(dir, "sp.js", script, script_path, sizeof script_path) ||
      !aspd_harness_write_file(dir, "connections.json", CONNECTIONS, conns, sizeof conns)) {
    return 1;
  }
  const char *args[] = {"--connections", conns, NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, args)) return 1;
  int failures = 0;
  char command[8192];
  /* HOME: mongosh keeps history and logs there; keep them out of the user's. */
  snprintf(command, sizeof command,
           "HOME='%s' timeout 120 '%s' '%s' --quiet --norc --file '%s' --file '%s' 2>&1", dir,
           mongosh, inst.uri, script_path, crud_path);
  char *output;
  int status = run(command, &output);
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
    if (!strstr(output, expected[i])) {
      fprintf(stderr, "FAIL mongosh output lacks '%s'\n", expected[i]);
      failures++;
    }
  }
  if (status != 0) {
    fprintf(stderr, "FAIL mongosh exited with status %d\n", status);
    failures++;
  }
  if (failures) fprintf(stderr, "---- mongosh output ----\n%s\n------------------------\n", output);
  free(output);

  /* A wrong password is refused with the server's text, and mongosh exits non-zero. */
  char uri[2048];
  aspd_harness_uri_for(&inst, inst.user, "wrong-password", uri, sizeof uri);
  snprintf(command, sizeof command,
           "HOME='%s' timeout 60 '%s' '%s' --quiet --norc --eval 'db.adminCommand({ping: 1})' 2>&1",
           dir, mongosh, uri);
  status = run(command, &output);
  if (status == 0 || !strstr(output, "Authentication failed")) {
    fprintf(stderr, "FAIL wrong password: status %d, output:\n%s\n", status, output);
    failures++;
  }
  free(output);

  if (aspd_harness_stop(&inst) != 0) {
    fprintf(stderr, "FAIL aspd did not exit 0\n");
    failures++;
  }
  if (failures) return 1;
  puts("mongosh: all checks passed");
  return 0;
}
