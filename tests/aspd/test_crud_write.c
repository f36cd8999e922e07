/* update (replacement, $set, $unset, $inc, $push, $addToSet, $pull, upsert, multi),
 * delete (limit 0 and 1), distinct, drop, find with sort/skip/limit/projection and
 * aggregate ($match, $group, $sort, $skip, $limit, $count, $project) through libmongoc's
 * collection API, with the errors mongod gives; every acknowledged change survives a
 * kill -9, and a write whose commit fails (RLIMIT_FSIZE) changes nothing. */
#include <stdlib.h>
#include <sys/resource.h>

#include "state_sql.h"
#include "workspace_test_util.h"

static bson_t *json(const char *text) {
  bson_error_t error;
  bson_t *b = bson_new_from_json((const uint8_t *)text, -1, &error);
  if (!b) {
    fprintf(stderr, "test bug: bad JSON %s: %s\n", text, error.message);
    exit(2);
  }
  return b;
}

/* The documents of a cursor (destroyed here), as relaxed Extended JSON joined by
 * " ; "; "error <code>" when it fails. */
static const char *joined(mongoc_cursor_t *cursor) {
  static char out[8192];
  const bson_t *doc;
  size_t used = 0;
  out[0] = '\0';
  while (mongoc_cursor_next(cursor, &doc)) {
    char *text = bson_as_relaxed_extended_json(doc, NULL);
    used += (size_t)snprintf(out + used, sizeof out - used, "%s%s", used ? " ; " : "", text);
    bson_free(text);
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor, &error)) snprintf(out, sizeof out, "error %u", error.code);
  mongoc_cursor_destroy(cursor);
  return out;
}

/* The documents a find returns, joined. */
static const char *found(mongoc_collection_t *coll, const char *filter, const char *opts) {
  bson_t *f = json(filter), *o = json(opts);
  const char *out = joined(mongoc_collection_find_with_opts(coll, f, o, NULL));
  bson_destroy(f);
  bson_destroy(o);
  return out;
}

#define FOUND(coll, filter, opts, want) check_found(coll, filter, opts, want, __LINE__)
static void check_found(mongoc_collection_t *coll, const char *filter, const char *opts,
                        const char *want, int line) {
  const char *got = found(coll, filter, opts);
  if (strcmp(got, want)) {
    fprintf(stderr, "FAIL line %d: find %s %s\n  got  %s\n  want %s\n", line, filter, opts, got,
            want);
    wt_failures++;
  }
}

typedef enum { ONE, MANY, REPLACE } update_kind_t;

/* Runs an update; returns matchedCount*10 + modifiedCount, or -code on error. */
static int64_t update(mongoc_collection_t *coll, update_kind_t kind, const char *filter,
                      const char *change, const char *opts) {
  bson_t *f = json(filter), *u = json(change), *o = json(opts);
  bson_t reply;
  bson_error_t error;
  bool ok = kind == ONE    ? mongoc_collection_update_one(coll, f, u, o, &reply, &error)
            : kind == MANY ? mongoc_collection_update_many(coll, f, u, o, &reply, &error)
                           : mongoc_collection_replace_one(coll, f, u, o, &reply, &error);
  int64_t r = ok ? wt_int(&reply, "matchedCount", NULL) * 10 + wt_int(&reply, "modifiedCount", NULL)
                 : -(int64_t)error.code;
  bson_destroy(&reply);
  bson_destroy(f);
  bson_destroy(u);
  bson_destroy(o);
  return r;
}

static int64_t delete (mongoc_collection_t *coll, bool many, const char *filter) {
  bson_t *f = json(filter);
  bson_t reply;
  bson_error_t error;
  bool ok = many ? mongoc_collection_delete_many(coll, f, NULL, &reply, &error)
                 : mongoc_collection_delete_one(coll, f, NULL, &reply, &error);
  int64_t r = ok ? wt_int(&reply, "deletedCount", NULL) : -(int64_t)error.code;
  bson_destroy(&reply);
  bson_destroy(f);
  return r;
}

/* The documents an aggregate returns, joined. */
static const char *aggregated(mongoc_collection_t *coll, const char *pipeline) {
  bson_t *p = json(pipeline);
  const char *out = joined(mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, p, NULL, NULL));
  bson_destroy(p);
  return out;
}

#define AGG(coll, pipeline, want) check_agg(coll, pipeline, want, __LINE__)
static void check_agg(mongoc_collection_t *coll, const char *pipeline, const char *want, int line) {
  const char *got = aggregated(coll, pipeline);
  if (strcmp(got, want)) {
    fprintf(stderr, "FAIL line %d: aggregate %s\n  got  %s\n  want %s\n", line, pipeline, got,
            want);
    wt_failures++;
  }
}

static const char *distinct(mongoc_client_t *c, const char *cmd) {
  static char out[1024];
  bson_t *b = json(cmd);
  bson_t reply;
  bson_error_t error;
  if (mongoc_client_command_simple(c, "shop", b, NULL, &reply, &error)) {
    bson_iter_t it;
    bson_t values = BSON_INITIALIZER;
    if (bson_iter_init_find(&it, &reply, "values")) {
      bson_append_value(&values, "values", -1, bson_iter_value(&it));
    }
    char *text = bson_as_relaxed_extended_json(&values, NULL);
    snprintf(out, sizeof out, "%s", text);
    bson_free(text);
    bson_destroy(&values);
  } else {
    snprintf(out, sizeof out, "error %u", error.code);
  }
  bson_destroy(&reply);
  bson_destroy(b);
  return out;
}

static const char *const SEED[] = {
    "{\"_id\": 1, \"name\": \"a\", \"qty\": 5, \"tags\": [\"x\"]}",
    "{\"_id\": 2, \"name\": \"b\", \"qty\": 10, \"tags\": [\"x\", \"y\"]}",
    "{\"_id\": 3, \"name\": \"c\", \"qty\": 15}",
    "{\"_id\": 4, \"name\": \"d\", \"qty\": 20}",
    "{\"_id\": 5, \"name\": \"e\", \"qty\": 25}",
};

static void seed(mongoc_collection_t *coll) {
  const bson_t *docs[5];
  for (int i = 0; i < 5; i++) docs[i] = json(SEED[i]);
  bson_error_t error;
  CHECK(mongoc_collection_insert_many(coll, docs, 5, NULL, NULL, &error));
  for (int i = 0; i < 5; i++) bson_destroy((bson_t *)(uintptr_t)docs[i]);
}

static void shaped_finds(mongoc_collection_t *items) {
  FOUND(items, "{}",
        "{\"sort\": {\"qty\": -1}, \"skip\": 1, \"limit\": 2, \"projection\": {\"name\": 1, "
        "\"_id\": 0}}",
        "{ \"name\" : \"d\" } ; { \"name\" : \"c\" }");
  FOUND(items, "{\"qty\": {\"$lt\": 12}}", "{\"projection\": {\"tags\": 0, \"qty\": 0}}",
        "{ \"_id\" : 1, \"name\" : \"a\" } ; { \"_id\" : 2, \"name\" : \"b\" }");
  FOUND(items, "{}", "{\"sort\": {\"name\": -1}, \"limit\": 1, \"projection\": {\"_id\": 1}}",
        "{ \"_id\" : 5 }");
  CHECK(!strncmp(found(items, "{}", "{\"sort\": {\"name\": \"up\"}}"), "error", 5));
}

static void updates(mongoc_collection_t *items) {
  CHECK(update(items, ONE, "{\"_id\": 1}", "{\"$set\": {\"name\": \"A\", \"n.x\": 1}}", "{}") ==
        11);
  FOUND(items, "{\"_id\": 1}", "{}",
        "{ \"_id\" : 1, \"name\" : \"A\", \"qty\" : 5, \"tags\" : [ \"x\" ], \"n\" : { \"x\" : 1 "
        "} }");
  /* Nothing changes: matched, not modified. */
  CHECK(update(items, ONE, "{\"_id\": 1}", "{\"$set\": {\"name\": \"A\"}}", "{}") == 10);
  CHECK(update(items, MANY, "{\"qty\": {\"$gte\": 10}}", "{\"$inc\": {\"qty\": 1}}", "{}") == 44);
  CHECK(update(items, ONE, "{\"_id\": 3}", "{\"$unset\": {\"qty\": \"\"}}", "{}") == 11);
  CHECK(update(items, ONE, "{\"_id\": 1}", "{\"$push\": {\"tags\": \"z\"}}", "{}") == 11);
  CHECK(update(items, ONE, "{\"_id\": 2}",
               "{\"$addToSet\": {\"tags\": {\"$each\": [\"y\", \"w\", \"w\"]}}}", "{}") == 11);
  CHECK(update(items, ONE, "{\"_id\": 2}", "{\"$addToSet\": {\"tags\": \"x\"}}", "{}") == 10);
  CHECK(update(items, ONE, "{\"_id\": 2}", "{\"$pull\": {\"tags\": {\"$in\": [\"x\", \"w\"]}}}",
               "{}") == 11);
  CHECK(update(items, REPLACE, "{\"_id\": 4}", "{\"name\": \"D\", \"qty\": 40}", "{}") == 11);
  FOUND(items, "{}", "{\"projection\": {\"name\": 0}}",
        "{ \"_id\" : 1, \"qty\" : 5, \"tags\" : [ \"x\", \"z\" ], \"n\" : { \"x\" : 1 } } ; { "
        "\"_id\" : 2, \"qty\" : 11, \"tags\" : [ \"y\" ] } ; { \"_id\" : 3 } ; { \"_id\" : 4, "
        "\"qty\" : 40 } ; { \"_id\" : 5, \"qty\" : 26 }");
  /* Upserts: from the filter's equalities, with $setOnInsert; a replacement too. */
  CHECK(update(items, ONE, "{\"_id\": 9, \"kind\": {\"$eq\": \"new\"}}",
               "{\"$set\": {\"name\": \"n\"}, \"$setOnInsert\": {\"qty\": 1}}",
               "{\"upsert\": true}") == 0);
  FOUND(items, "{\"_id\": 9}", "{}",
        "{ \"_id\" : 9, \"kind\" : \"new\", \"name\" : \"n\", \"qty\" : 1 }");
  CHECK(update(items, ONE, "{\"_id\": 9}", "{\"$setOnInsert\": {\"qty\": 2}}",
               "{\"upsert\": true}") == 10);
  CHECK(update(items, REPLACE, "{\"name\": \"zz\"}", "{\"qty\": 7}", "{\"upsert\": true}") == 0);
  CHECK(!strncmp(found(items, "{\"qty\": 7}", "{\"projection\": {\"_id\": 0}}"), "{ \"qty\" : 7 }",
                 20));
  /* Errors change nothing. */
  CHECK(update(items, ONE, "{\"_id\": 1}", "{\"$inc\": {\"tags\": 1}}", "{}") == -14);
  CHECK(update(items, ONE, "{\"_id\": 1}", "{\"$inc\": {\"qty\": \"one\"}}", "{}") == -14);
  CHECK(update(items, ONE, "{\"_id\": 1}", "{\"$push\": {\"qty\": 1}}", "{}") == -2);
  CHECK(update(items, ONE, "{\"_id\": 1}", "{\"$set\": {\"_id\": 100}}", "{}") == -66);
  CHECK(update(items, REPLACE, "{\"_id\": 1}", "{\"_id\": 100}", "{}") == -66);
  CHECK(update(items, ONE, "{\"_id\": 1}", "{\"$frob\": {\"qty\": 1}}", "{}") == -9);
  CHECK(update(items, ONE, "{\"_id\": 1}", "{\"$set\": 5}", "{}") == -9);
  CHECK(update(items, ONE, "{\"qty\": {\"$bad\": 1}}", "{\"$set\": {\"a\": 1}}", "{}") < 0);
  FOUND(items, "{\"_id\": 1}", "{\"projection\": {\"qty\": 1, \"tags\": 1}}",
        "{ \"_id\" : 1, \"qty\" : 5, \"tags\" : [ \"x\", \"z\" ] }");
}

static void queries(mongoc_client_t *c, mongoc_collection_t *items) {
  CHECK(!strcmp(distinct(c, "{\"distinct\": \"items\", \"key\": \"tags\"}"),
                "{ \"values\" : [ \"x\", \"y\", \"z\" ] }"));
  CHECK(!strcmp(distinct(c,
                         "{\"distinct\": \"items\", \"key\": \"qty\", \"query\": {\"qty\": "
                         "{\"$gt\": 10}}}"),
                "{ \"values\" : [ 11, 26, 40 ] }"));
  CHECK(!strcmp(distinct(c, "{\"distinct\": \"items\"}"), "error 9"));
  AGG(items,
      "[{\"$match\": {\"qty\": {\"$gte\": 10}}}, {\"$group\": {\"_id\": null, \"total\": "
      "{\"$sum\": \"$qty\"}, \"n\": {\"$sum\": 1}}}]",
      "{ \"_id\" : null, \"total\" : 77, \"n\" : 3 }");
  AGG(items,
      "[{\"$match\": {\"qty\": {\"$exists\": true}, \"_id\": {\"$type\": \"int\"}}},"
      " {\"$sort\": {\"qty\": 1}}, {\"$skip\": 1}, {\"$limit\": 2}, {\"$project\": {\"qty\": 1}}]",
      "{ \"_id\" : 1, \"qty\" : 5 } ; { \"_id\" : 2, \"qty\" : 11 }");
  AGG(items, "[{\"$count\": \"n\"}]", "{ \"n\" : 7 }");
  AGG(items, "[{\"$skip\": 6}, {\"$project\": {\"_id\": 0, \"qty\": 1}}]", "{ \"qty\" : 7 }");
  AGG(items, "[{\"$skip\": -1}]", "error 15956");
  AGG(items, "[{\"$emit\": {\"connectionName\": \"kafka0\", \"topic\": \"t\"}}]", "error 40324");
  AGG(items, "[{\"$nope\": 1}]", "error 9");
}

static void deletes(mongoc_collection_t *items) {
  CHECK(delete (items, false, "{\"qty\": {\"$gte\": 0}}") == 1); /* the first: _id 1 */
  FOUND(items, "{\"_id\": 1}", "{}", "");
  CHECK(delete (items, true, "{\"_id\": {\"$in\": [3, 5, 77]}}") == 2);
  CHECK(delete (items, true, "{\"_id\": 77}") == 0);
  CHECK(delete (items, true, "{\"qty\": 7}") == 1);
  /* Written after the deletes: offsets moved, nothing lost. */
  bson_t *more = json("{\"_id\": 10, \"name\": \"later\"}");
  bson_error_t error;
  CHECK(mongoc_collection_insert_one(items, more, NULL, NULL, &error));
  bson_destroy(more);
  FOUND(items, "{}", "{\"projection\": {\"_id\": 1}}",
        "{ \"_id\" : 2 } ; { \"_id\" : 4 } ; { \"_id\" : 9 } ; { \"_id\" : 10 }");
}

/* A raw command on database shop: its reply in *reply (always initialised). */
static bool shop_command(mongoc_client_t *c, const char *cmd, bson_t *reply) {
  bson_t *b = json(cmd);
  bson_error_t error;
  bool ok = mongoc_client_command_simple(c, "shop", b, NULL, reply, &error);
  bson_destroy(b);
  return ok;
}

/* A failing statement, then one setting flag. */
#define TWO_UPDATES                                                               \
  "{\"update\": \"items\", \"ordered\": %s, \"updates\": [{\"q\": {\"_id\": 2}, " \
  "\"u\": {\"$frob\": {\"a\": 1}}}, {\"q\": {\"_id\": 2}, \"u\": {\"$set\": {\"flag\": %d}}}]}"

/* Statements that fail are reported in writeErrors, by index; ordered writes stop at the
 * first, unordered ones go on; malformed commands fail as a whole. */
static void bad_input(mongoc_client_t *c, mongoc_collection_t *items) {
  bson_t r;
  CHECK(!shop_command(c, "{\"update\": \"items\", \"updates\": \"x\"}", &r));
  bson_destroy(&r);
  CHECK(shop_command(c, "{\"update\": \"items\", \"updates\": [{\"q\": {}}]}", &r));
  CHECK(wt_int(&r, "writeErrors.0.code", NULL) == 9 && wt_int(&r, "n", NULL) == 0);
  bson_destroy(&r);
  CHECK(shop_command(c,
                     "{\"update\": \"items\", \"updates\": [{\"q\": {}, \"u\": {\"a\": 1}, "
                     "\"multi\": true}]}",
                     &r));
  CHECK(wt_int(&r, "writeErrors.0.code", NULL) == 9);
  bson_destroy(&r);
  char cmd[512];
  snprintf(cmd, sizeof cmd, TWO_UPDATES, "true", 1);
  CHECK(shop_command(c, cmd, &r));
  CHECK(wt_int(&r, "writeErrors.0.index", NULL) == 0 && wt_int(&r, "nModified", NULL) == 0);
  CHECK(wt_array_len(&r, "writeErrors") == 1);
  bson_destroy(&r);
  FOUND(items, "{\"flag\": {\"$exists\": true}}", "{}", "");
  snprintf(cmd, sizeof cmd, TWO_UPDATES, "false", 2);
  CHECK(shop_command(c, cmd, &r));
  CHECK(wt_int(&r, "writeErrors.0.index", NULL) == 0 && wt_int(&r, "nModified", NULL) == 1);
  bson_destroy(&r);
  FOUND(items, "{\"flag\": 2}", "{\"projection\": {\"_id\": 1}}", "{ \"_id\" : 2 }");
  CHECK(shop_command(c, "{\"delete\": \"items\", \"deletes\": [{\"q\": {}, \"limit\": 2}]}", &r));
  CHECK(wt_int(&r, "writeErrors.0.code", NULL) == 9 && wt_int(&r, "n", NULL) == 0);
  bson_destroy(&r);
  CHECK(!shop_command(c, "{\"delete\": \"items\"}", &r));
  bson_destroy(&r);
  CHECK(!shop_command(c, "{\"aggregate\": \"items\", \"cursor\": {}}", &r));
  bson_destroy(&r);
  CHECK(!strncmp(found(items, "{}", "{\"projection\": {\"a\": 1, \"b\": 0}}"), "error", 5));
}

/* findAndModify: the one document a sort picks, before or after the change, removed,
 * upserted, through a projection; null when nothing matches. */
static void find_and_modify(mongoc_client_t *c) {
  mongoc_collection_t *fam = mongoc_client_get_collection(c, "shop", "fam");
  seed(fam);
  bson_t r;
  char s[64];
  CHECK(shop_command(c,
                     "{\"findAndModify\": \"fam\", \"query\": {\"qty\": {\"$gte\": 10}}, \"sort\":"
                     " {\"qty\": -1}, \"update\": {\"$inc\": {\"qty\": 1}}, \"new\": true}",
                     &r));
  CHECK(wt_int(&r, "value._id", NULL) == 5 && wt_int(&r, "value.qty", NULL) == 26);
  CHECK(wt_int(&r, "lastErrorObject.n", NULL) == 1);
  bson_destroy(&r);
  CHECK(shop_command(c,
                     "{\"findAndModify\": \"fam\", \"query\": {\"_id\": 1}, \"update\": {\"$set\":"
                     " {\"name\": \"A\"}}}",
                     &r));
  CHECK(!strcmp(wt_str(&r, "value.name", s, sizeof s), "a"));
  bson_destroy(&r);
  FOUND(fam, "{\"_id\": 1}", "{\"projection\": {\"name\": 1}}",
        "{ \"_id\" : 1, \"name\" : \"A\" }");
  CHECK(shop_command(c, "{\"findAndModify\": \"fam\", \"query\": {\"_id\": 2}, \"remove\": true}",
                     &r));
  CHECK(wt_int(&r, "value._id", NULL) == 2);
  bson_destroy(&r);
  FOUND(fam, "{\"_id\": 2}", "{}", "");
  CHECK(shop_command(c,
                     "{\"findAndModify\": \"fam\", \"query\": {\"_id\": 42}, \"update\": {\"$set\":"
                     " {\"name\": \"x\"}}, \"upsert\": true, \"new\": true}",
                     &r));
  CHECK(wt_int(&r, "value._id", NULL) == 42 && wt_int(&r, "lastErrorObject.upserted", NULL) == 42);
  bson_destroy(&r);
  CHECK(shop_command(c,
                     "{\"findAndModify\": \"fam\", \"query\": {\"_id\": 77}, \"update\": {\"$set\":"
                     " {\"name\": \"x\"}}}",
                     &r));
  bson_iter_t it;
  CHECK(bson_iter_init_find(&it, &r, "value") && BSON_ITER_HOLDS_NULL(&it));
  CHECK(wt_int(&r, "lastErrorObject.n", NULL) == 0);
  bson_destroy(&r);
  CHECK(shop_command(c,
                     "{\"findAndModify\": \"fam\", \"query\": {\"_id\": 3}, \"update\": {\"$set\":"
                     " {\"z\": 1}}, \"new\": true, \"fields\": {\"z\": 1, \"_id\": 0}}",
                     &r));
  char *text = bson_as_relaxed_extended_json(&r, NULL);
  CHECK(strstr(text, "\"value\" : { \"z\" : 1 }") != NULL);
  bson_free(text);
  bson_destroy(&r);
  CHECK(!shop_command(c, "{\"findAndModify\": \"fam\", \"query\": {\"_id\": 3}}", &r));
  bson_destroy(&r);
  CHECK(!shop_command(c,
                      "{\"findAndModify\": \"fam\", \"query\": {\"_id\": 3}, \"update\":"
                      " {\"$frob\": {\"z\": 1}}}",
                      &r));
  bson_destroy(&r);
  mongoc_collection_destroy(fam);
}

static bool listed(mongoc_client_t *c, const char *name) {
  mongoc_database_t *d = mongoc_client_get_database(c, "shop");
  bson_error_t error;
  char **names = mongoc_database_get_collection_names_with_opts(d, NULL, &error);
  bool found_it = false;
  for (char **p = names; p && *p; p++) found_it = found_it || !strcmp(*p, name);
  bson_strfreev(names);
  mongoc_database_destroy(d);
  return found_it;
}

/* Under RLIMIT_FSIZE, writes too big to commit are refused with a clear error naming no
 * path, and change nothing, in memory or after a restart; small ones go on. */
#define FSIZE_LIMIT (2 << 20)
#define BIG_PAD (3 << 20)

static void limit_file_size(void) {
  struct rlimit limit = {FSIZE_LIMIT, FSIZE_LIMIT};
  setrlimit(RLIMIT_FSIZE, &limit);
}

static void refused(const bson_error_t *error, const char *dir, int line) {
  if (!strstr(error->message, "writing to disk failed") ||
      !strstr(error->message, "nothing was changed") || strstr(error->message, dir)) {
    fprintf(stderr, "FAIL line %d: unclear refusal: %s\n", line, error->message);
    wt_failures++;
  }
}

static void failed_commits_change_nothing(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  aspd_harness_set_child_setup(limit_file_size);
  aspd_instance_t inst;
  wt_start(&inst, dir);
  aspd_harness_set_child_setup(NULL);
  mongoc_client_t *c = wt_client(&inst);
  mongoc_collection_t *items = mongoc_client_get_collection(c, "shop", "items");
  seed(items);
  char *pad = malloc(BIG_PAD + 1);
  memset(pad, 'x', BIG_PAD);
  pad[BIG_PAD] = '\0';
  bson_error_t error;
  /* An insert: the new collection does not appear either. */
  mongoc_collection_t *fresh = mongoc_client_get_collection(c, "shop", "fresh");
  bson_t *big = BCON_NEW("_id", BCON_INT32(100), "pad", BCON_UTF8(pad));
  CHECK(!mongoc_collection_insert_one(fresh, big, NULL, NULL, &error));
  refused(&error, dir, __LINE__);
  CHECK(!listed(c, "fresh"));
  CHECK(!mongoc_collection_insert_one(items, big, NULL, NULL, &error));
  refused(&error, dir, __LINE__);
  FOUND(items, "{\"_id\": 100}", "{}", "");
  /* An update. */
  bson_t *filter = BCON_NEW("_id", BCON_INT32(2));
  bson_t *set = BCON_NEW("$set", "{", "pad", BCON_UTF8(pad), "}");
  CHECK(!mongoc_collection_update_one(items, filter, set, NULL, NULL, &error));
  refused(&error, dir, __LINE__);
  FOUND(items, "{\"_id\": 2}", "{}",
        "{ \"_id\" : 2, \"name\" : \"b\", \"qty\" : 10, \"tags\" : [ \"x\", \"y\" ] }");
  /* Small writes still commit. */
  CHECK(update(items, ONE, "{\"_id\": 2}", "{\"$inc\": {\"qty\": 1}}", "{}") == 11);
  CHECK(delete (items, false, "{\"_id\": 5}") == 1);
  bson_destroy(big);
  bson_destroy(filter);
  bson_destroy(set);
  free(pad);
  mongoc_collection_destroy(fresh);
  mongoc_collection_destroy(items);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  wt_start(&inst, dir);
  c = wt_client(&inst);
  items = mongoc_client_get_collection(c, "shop", "items");
  FOUND(
      items, "{}", "{\"projection\": {\"qty\": 1}}",
      "{ \"_id\" : 1, \"qty\" : 5 } ; { \"_id\" : 2, \"qty\" : 11 } ; { \"_id\" : 3, \"qty\" : 15 "
      "} ; { \"_id\" : 4, \"qty\" : 20 }");
  CHECK(!listed(c, "fresh"));
  mongoc_collection_destroy(items);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
}

static int64_t count_docs(mongoc_collection_t *coll) {
  bson_t *all = bson_new();
  bson_error_t error;
  int64_t n = mongoc_collection_count_documents(coll, all, NULL, NULL, NULL, &error);
  bson_destroy(all);
  return n;
}

/* Writes while a processor writes the same collection at full rate: no deadlock with the
 * flusher, and nothing deleted comes back (after a stop, or a kill -9 and a restart). */
static void alongside_a_processor(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  WT_OK(c,
        "{\"createStreamProcessor\": \"live\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"unlimited_solar\"}}, {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\","
        " \"db\": \"shop\", \"coll\": \"live\"}}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"live\"}");
  mongoc_collection_t *live = mongoc_client_get_collection(c, "shop", "live");
  int64_t deleted = 0;
  for (int i = 0; i < 20; i++) {
    usleep(20000);
    int64_t n = delete (live, true, "{\"device_id\": {\"$exists\": true}}");
    CHECK(n >= 0);
    deleted += n > 0 ? n : 0;
    CHECK(update(live, MANY, "{\"device_id\": \"device_1\"}", "{\"$set\": {\"seen\": 1}}", "{}") >=
          0);
  }
  CHECK(deleted > 0);
  WT_OK(c, "{\"stopStreamProcessor\": \"live\"}");
  CHECK(delete (live, true, "{}") >= 0);
  CHECK(count_docs(live) == 0);
  usleep(200000); /* past the flusher's next turn */
  CHECK(count_docs(live) == 0);
  mongoc_collection_destroy(live);
  mongoc_client_destroy(c);
  char dir[512];
  snprintf(dir, sizeof dir, "%s", inst.state_dir);
  aspd_harness_kill(&inst);
  wt_start(&inst, dir);
  c = wt_client(&inst);
  live = mongoc_client_get_collection(c, "shop", "live");
  CHECK(count_docs(live) == 0);
  mongoc_collection_destroy(live);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
}

/* A $merge that replaces documents committed long before writes just those (one by one,
 * not everything after them) and they survive a kill -9. */
static void merge_replacements_are_durable(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  char dir[512];
  snprintf(dir, sizeof dir, "%s", inst.state_dir);
  mongoc_client_t *c = wt_client(&inst);
  mongoc_collection_t *items = mongoc_client_get_collection(c, "shop", "items");
  seed(items);
  WT_OK(c,
        "{\"createStreamProcessor\": \"fix\", \"pipeline\": [{\"$source\": {\"documents\":"
        " [{\"_id\": 2, \"name\": \"B\"}, {\"_id\": 4, \"name\": \"D\"}]}}, {\"$merge\":"
        " {\"into\": {\"connectionName\": \"cluster0\", \"db\": \"shop\", \"coll\":"
        " \"items\"}, \"whenMatched\": \"merge\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"fix\"}");
  for (int i = 0; i < 100 && strcmp(found(items, "{\"name\": \"D\"}",
                                          "{\"projection\": "
                                          "{\"_id\": 1}}"),
                                    "{ \"_id\" : 4 }");
       i++) {
    usleep(50000);
  }
  usleep(300000); /* past the flusher's next batch */
  mongoc_collection_destroy(items);
  mongoc_client_destroy(c);
  aspd_harness_kill(&inst);
  wt_start(&inst, dir);
  c = wt_client(&inst);
  items = mongoc_client_get_collection(c, "shop", "items");
  FOUND(items, "{}", "{\"projection\": {\"name\": 1}}",
        "{ \"_id\" : 1, \"name\" : \"a\" } ; { \"_id\" : 2, \"name\" : \"B\" } ; { \"_id\" : 3, "
        "\"name\" : \"c\" } ; { \"_id\" : 4, \"name\" : \"D\" } ; { \"_id\" : 5, \"name\" : "
        "\"e\" }");
  mongoc_collection_destroy(items);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
}

int main(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) return 1;
  aspd_instance_t inst;
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  mongoc_collection_t *items = mongoc_client_get_collection(c, "shop", "items");
  mongoc_collection_t *gone = mongoc_client_get_collection(c, "shop", "gone");
  seed(items);
  seed(gone);
  shaped_finds(items);
  updates(items);
  queries(c, items);
  bad_input(c, items);
  find_and_modify(c);
  deletes(items);
  bson_error_t error;
  CHECK(listed(c, "gone"));
  CHECK(mongoc_collection_drop(gone, &error));
  CHECK(!listed(c, "gone") && listed(c, "items"));
  FOUND(gone, "{}", "{}", "");
  CHECK(mongoc_collection_drop(gone, &error)); /* not there: fine, as on mongod 7 */
  /* A collection emptied by deletes still exists. */
  mongoc_collection_t *emptied = mongoc_client_get_collection(c, "shop", "emptied");
  seed(emptied);
  CHECK(delete (emptied, true, "{}") == 5);
  CHECK(listed(c, "emptied"));
  mongoc_collection_destroy(emptied);
  mongoc_collection_destroy(gone);
  mongoc_collection_destroy(items);
  mongoc_client_destroy(c);

  /* Every acknowledged change was committed. */
  aspd_harness_kill(&inst);
  wt_start(&inst, dir);
  c = wt_client(&inst);
  items = mongoc_client_get_collection(c, "shop", "items");
  FOUND(items, "{}", "{\"projection\": {\"_id\": 1, \"qty\": 1}}",
        "{ \"_id\" : 2, \"qty\" : 11 } ; { \"_id\" : 4, \"qty\" : 40 } ; { \"_id\" : 9, \"qty\" "
        ": 1 } ; { \"_id\" : 10 }");
  CHECK(!listed(c, "gone") && listed(c, "emptied"));
  /* The store keeps nothing of a dropped collection. */
  CHECK(sql_int(dir, "SELECT count(*) FROM datasets WHERE name = 'gone'") == 0);
  CHECK(sql_int(dir,
                "SELECT count(*) FROM docs JOIN datasets ON docs.dataset = datasets.id"
                " WHERE name = 'emptied'") == 0);
  /* A dropped collection can be made again. */
  gone = mongoc_client_get_collection(c, "shop", "gone");
  seed(gone);
  CHECK(listed(c, "gone"));
  FOUND(gone, "{\"_id\": {\"$gt\": 3}}", "{\"projection\": {\"_id\": 1}}",
        "{ \"_id\" : 4 } ; { \"_id\" : 5 }");
  mongoc_collection_destroy(gone);
  mongoc_collection_destroy(items);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  failed_commits_change_nothing();
  alongside_a_processor();
  merge_replacements_are_durable();
  return wt_finish("aspd.crud_write");
}
