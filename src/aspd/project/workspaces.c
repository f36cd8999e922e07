#include "project/workspaces.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "log.h"
#include "store/state_file.h"
#include "store/store_import.h"
#include "workspace.h"

#define KIND "workspace"
/* Where earlier versions kept the descriptions: imported once, then no longer read. */
#define LEGACY_FILE "workspaces.json"

typedef struct {
  char id[25];
  char *name;
  bson_t *description; /* dataProcessRegion, streamConfig, failoverRegions */
  aspd_workspace_t *ws;
  aspd_store_t *store; /* its scope of the state store (NULL for the wire workspace) */
  bool wire;           /* the one main.c serves over the wire */
  int refs;            /* requests using ws right now */
} entry_t;

struct aspd_workspaces {
  pthread_mutex_t lock;
  pthread_cond_t released;
  char *state_dir;
  aspd_store_t *store;
  char *wire_hostname;
  entry_t **items;
  size_t count;
  entry_t **retiring; /* deleted, waiting for their last request */
  size_t retiring_count;
};

static const char *region_of(const bson_t *description) {
  bson_iter_t it;
  return bson_iter_init(&it, description) &&
                 bson_iter_find_descendant(&it, "dataProcessRegion.region", &it) &&
                 BSON_ITER_HOLDS_UTF8(&it)
             ? bson_iter_utf8(&it, NULL)
             : ASPD_DEFAULT_REGION;
}

static void workspace_dir(const aspd_workspaces_t *set, const entry_t *e, char *out, size_t len) {
  snprintf(out, len, "%s/workspaces/%s", set->state_dir, e->id);
}

/* An entry as the store keeps it. */
static void entry_doc(const entry_t *e, const char *name, const bson_t *description, bson_t *out) {
  BSON_APPEND_UTF8(out, "_id", e->id);
  BSON_APPEND_UTF8(out, "name", name);
  BSON_APPEND_BOOL(out, "wire", e->wire);
  bson_concat(out, description);
}

/* Commits the entry as it will be with name and description; with the lock held. */
static bool commit(aspd_workspaces_t *set, const entry_t *e, const char *name,
                   const bson_t *description, char *err, size_t err_len) {
  bson_t doc = BSON_INITIALIZER;
  entry_doc(e, name, description, &doc);
  bool ok = aspd_store_put(set->store, KIND, NULL, e->id, &doc, err, err_len);
  bson_destroy(&doc);
  if (!ok) aspd_log("could not persist workspace %s: %s", name, err);
  return ok;
}

/* The description fields of doc (the rest is identity or ours). */
static bson_t *description_of(const bson_t *doc) {
  bson_t *d = bson_new();
  bson_iter_t it;
  bson_iter_init(&it, doc);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    if (!strcmp(k, "dataProcessRegion") || !strcmp(k, "streamConfig") ||
        !strcmp(k, "failoverRegions")) {
      bson_append_value(d, k, -1, bson_iter_value(&it));
    }
  }
  return d;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static entry_t *add_entry(aspd_workspaces_t *set, const char *id, const char *name,
                          bson_t *description, bool wire) {
  entry_t *e = calloc(1, sizeof *e);
  if (id) {
    snprintf(e->id, sizeof e->id, "%s", id);
  } else {
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, e->id);
  }
  e->name = strdup(name);
  e->description = description;
  e->wire = wire;
  set->items = realloc(set->items, (set->count + 1) * sizeof *set->items);
  set->items[set->count++] = e;
  return e;
}

static void free_entry(entry_t *e) {
  if (!e->wire) aspd_workspace_close(e->ws);
  aspd_store_close(e->store);
  free(e->name);
  bson_destroy(e->description);
  free(e);
}

/* A workspace created over HTTPS keeps its state in a scope of the one state store;
 * STATE/workspaces/ID/ is only read, for the state an earlier version kept there. */
static bool open_workspace(aspd_workspaces_t *set, entry_t *e, char *err, size_t err_len) {
  char dir[4096], scope[64];
  workspace_dir(set, e, dir, sizeof dir);
  snprintf(scope, sizeof scope, "workspace:%s", e->id);
  e->store = aspd_store_scope(set->store, scope);
  if (!aspd_store_import_dir(e->store, dir, err, err_len)) return false;
  aspd_workspace_config_t config = {.state_dir = dir, .store = e->store};
  e->ws = aspd_workspace_open(&config, err, err_len);
  return e->ws != NULL;
}

/* After the workspace closed (its engine commits what it held): its scope goes from
 * the store, and what an earlier version kept in its directory. */
static void remove_state(aspd_workspaces_t *set, entry_t *e) {
  char dir[4096], msg[512];
  workspace_dir(set, e, dir, sizeof dir);
  aspd_workspace_close(e->ws);
  e->ws = NULL;
  if (e->store && !aspd_store_drop_scope(e->store, msg, sizeof msg)) {
    aspd_log("could not remove the state of workspace %s: %s", e->name, msg);
  }
  nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bson_t *default_description(void) {
  return BCON_NEW("dataProcessRegion", "{", "cloudProvider", "AWS", "region", ASPD_DEFAULT_REGION,
                  "}", "streamConfig", "{", "tier", "SP30", "}", "failoverRegions", "[", "]");
}

typedef struct {
  aspd_workspaces_t *set;
  aspd_workspace_t *wire;
  const char *wire_name;
  bool have_wire;
} loader_t;

static bool load_entry(void *ctx, const char *key, const bson_t *item, char *err, size_t err_len) {
  (void)key;
  loader_t *l = ctx;
  bson_iter_t f;
  const char *id = bson_iter_init_find(&f, item, "_id") && BSON_ITER_HOLDS_UTF8(&f)
                       ? bson_iter_utf8(&f, NULL)
                       : NULL;
  const char *name = bson_iter_init_find(&f, item, "name") && BSON_ITER_HOLDS_UTF8(&f)
                         ? bson_iter_utf8(&f, NULL)
                         : NULL;
  bool is_wire = bson_iter_init_find(&f, item, "wire") && bson_iter_as_bool(&f);
  if (!id || !name) return true;
  /* The wire workspace takes the name given at start-up. */
  entry_t *e = add_entry(l->set, id, is_wire ? l->wire_name : name, description_of(item), is_wire);
  /* Opened once all are read: a workspace uses the store, which is busy reading. */
  if (!is_wire) return true;
  e->ws = l->wire;
  l->have_wire = true;
  return true;
}

/* The descriptions of an earlier version's workspaces.json, committed in one transaction. */
static bool import_legacy(loader_t *l, char *err, size_t err_len) {
  bson_t *saved = NULL;
  if (!aspd_state_file_load(l->set->state_dir, LEGACY_FILE, &saved, err, err_len)) return false;
  bson_iter_t it, list;
  bool ok = true;
  if (saved && bson_iter_init_find(&it, saved, "workspaces") && bson_iter_recurse(&it, &list)) {
    while (ok && bson_iter_next(&list)) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&list)) continue;
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&list, &len, &data);
      bson_t item;
      bson_init_static(&item, data, len);
      ok = load_entry(l, NULL, &item, err, err_len);
    }
  }
  bson_destroy(saved);
  aspd_workspaces_t *set = l->set;
  const char **ids = calloc(set->count + 1, sizeof *ids);
  bson_t **docs = calloc(set->count + 1, sizeof *docs);
  for (size_t i = 0; i < set->count; i++) {
    ids[i] = set->items[i]->id;
    docs[i] = bson_new();
    entry_doc(set->items[i], set->items[i]->name, set->items[i]->description, docs[i]);
  }
  ok = ok &&
       aspd_store_put_all(set->store, KIND, ids, (const bson_t *const *)docs, set->count, err,
                          err_len) &&
       aspd_store_mark_imported(set->store, KIND, err, err_len);
  for (size_t i = 0; i < set->count; i++) bson_destroy(docs[i]);
  free(docs);
  free(ids);
  return ok;
}

aspd_workspaces_t *aspd_workspaces_open(const char *state_dir, aspd_store_t *store,
                                        aspd_workspace_t *wire, const char *wire_name,
                                        const char *wire_hostname, char *err, size_t err_len) {
  aspd_workspaces_t *set = calloc(1, sizeof *set);
  pthread_mutex_init(&set->lock, NULL);
  pthread_cond_init(&set->released, NULL);
  set->state_dir = strdup(state_dir);
  set->store = store;
  set->wire_hostname = strdup(wire_hostname);
  loader_t l = {set, wire, wire_name, false};
  bool ok = aspd_store_imported(store, KIND)
                ? aspd_store_each(store, KIND, load_entry, &l, err, err_len)
                : import_legacy(&l, err, err_len);
  for (size_t i = 0; ok && i < set->count; i++) {
    if (!set->items[i]->wire) ok = open_workspace(set, set->items[i], err, err_len);
  }
  if (ok && !l.have_wire) add_entry(set, NULL, wire_name, default_description(), true)->ws = wire;
  /* The wire entry is committed under the name it has now. */
  for (size_t i = 0; ok && i < set->count; i++) {
    const entry_t *e = set->items[i];
    if (e->wire) ok = commit(set, e, e->name, e->description, err, err_len);
  }
  if (!ok) {
    aspd_workspaces_close(set);
    return NULL;
  }
  return set;
}

void aspd_workspaces_close(aspd_workspaces_t *set) {
  if (!set) return;
  for (size_t i = 0; i < set->count; i++) free_entry(set->items[i]);
  free(set->items);
  free(set->retiring);
  free(set->state_dir);
  free(set->wire_hostname);
  pthread_cond_destroy(&set->released);
  pthread_mutex_destroy(&set->lock);
  free(set);
}

static long find(const aspd_workspaces_t *set, const char *name) {
  for (size_t i = 0; i < set->count; i++) {
    if (!strcmp(set->items[i]->name, name)) return (long)i;
  }
  return -1;
}

aspd_workspace_t *aspd_workspaces_acquire(aspd_workspaces_t *set, const char *name,
                                          char region[64]) {
  pthread_mutex_lock(&set->lock);
  long i = find(set, name);
  aspd_workspace_t *ws = NULL;
  if (i >= 0) {
    set->items[i]->refs++;
    ws = set->items[i]->ws;
    snprintf(region, 64, "%s", region_of(set->items[i]->description));
  }
  pthread_mutex_unlock(&set->lock);
  return ws;
}

void aspd_workspaces_release(aspd_workspaces_t *set, aspd_workspace_t *ws) {
  pthread_mutex_lock(&set->lock);
  for (size_t i = 0; i < set->count; i++) {
    if (set->items[i]->ws == ws) set->items[i]->refs--;
  }
  for (size_t i = 0; i < set->retiring_count; i++) {
    if (set->retiring[i]->ws == ws) set->retiring[i]->refs--;
  }
  /* A deleted workspace is no longer in the table: its deleter waits for this. */
  pthread_cond_broadcast(&set->released);
  pthread_mutex_unlock(&set->lock);
}

bool aspd_workspaces_private_link_user(aspd_workspaces_t *set, const char *id, char *workspace,
                                       size_t workspace_len, char *connection,
                                       size_t connection_len) {
  bool found = false;
  pthread_mutex_lock(&set->lock);
  for (size_t i = 0; i < set->count && !found; i++) {
    found = aspd_registry_private_link_user(aspd_workspace_registry(set->items[i]->ws), id,
                                            connection, connection_len);
    if (found) snprintf(workspace, workspace_len, "%s", set->items[i]->name);
  }
  pthread_mutex_unlock(&set->lock);
  return found;
}

bool aspd_workspaces_describe(aspd_workspaces_t *set, const char *name, const char *group_id,
                              bson_t *out) {
  pthread_mutex_lock(&set->lock);
  long i = find(set, name);
  if (i >= 0) {
    const entry_t *e = set->items[i];
    BSON_APPEND_UTF8(out, "_id", e->id);
    BSON_APPEND_UTF8(out, "name", e->name);
    BSON_APPEND_UTF8(out, "groupId", group_id);
    bson_concat(out, e->description);
    bson_t hosts;
    BSON_APPEND_ARRAY_BEGIN(out, "hostnames", &hosts);
    /* Only the wire workspace can be reached with a driver. */
    if (e->wire) BSON_APPEND_UTF8(&hosts, "0", set->wire_hostname);
    bson_append_array_end(out, &hosts);
  }
  pthread_mutex_unlock(&set->lock);
  return i >= 0;
}

size_t aspd_workspaces_names(aspd_workspaces_t *set, size_t skip, size_t limit, bson_t *out) {
  pthread_mutex_lock(&set->lock);
  size_t total = set->count;
  uint32_t n = 0;
  for (size_t i = skip; i < set->count && n < limit; i++) {
    char key[16];
    const char *k;
    bson_uint32_to_string(n++, &k, key, sizeof key);
    bson_append_utf8(out, k, -1, set->items[i]->name, -1);
  }
  pthread_mutex_unlock(&set->lock);
  return total;
}

bool aspd_workspaces_create(aspd_workspaces_t *set, const bson_t *tenant, bool with_sample,
                            aspd_error_t *err) {
  bson_iter_t it;
  const char *name = bson_iter_init_find(&it, tenant, "name") ? bson_iter_utf8(&it, NULL) : "";
  pthread_mutex_lock(&set->lock);
  if (find(set, name) >= 0) {
    pthread_mutex_unlock(&set->lock);
    aspd_error_set(err, ASPD_API_E_TENANT_EXISTS,
                   "A stream instance with the name %s already exists.", name);
    return false;
  }
  bson_t *description = description_of(tenant);
  if (!bson_iter_init_find(&it, description, "streamConfig")) {
    BCON_APPEND(description, "streamConfig", "{", "tier", "SP30", "}");
  }
  if (!bson_iter_init_find(&it, description, "failoverRegions")) {
    BCON_APPEND(description, "failoverRegions", "[", "]");
  }
  entry_t *e = add_entry(set, NULL, name, description, false);
  char msg[512];
  bool ok = open_workspace(set, e, msg, sizeof msg);
  aspd_error_t ignored;
  /* Atlas seeds the sample source only when asked (streams:withSampleConnections). */
  if (ok && !with_sample) aspd_workspace_connection_delete(e->ws, "sample_stream_solar", &ignored);
  ok = ok && commit(set, e, e->name, e->description, msg, sizeof msg);
  if (!ok) {
    /* Not committed: the workspace and what it made go again. */
    set->count--;
    remove_state(set, e);
    free_entry(e);
    aspd_error_set(err, 500, "UNEXPECTED_ERROR",
                   "Unexpected error. Reason: %s; nothing was created.", msg);
  }
  pthread_mutex_unlock(&set->lock);
  return ok;
}

bool aspd_workspaces_update(aspd_workspaces_t *set, const char *name, const bson_t *changes,
                            aspd_error_t *err) {
  pthread_mutex_lock(&set->lock);
  long i = find(set, name);
  bool ok = i >= 0;
  if (ok) {
    entry_t *e = set->items[i];
    bson_t *merged = bson_new();
    bson_iter_t it, found;
    bson_iter_init(&it, e->description);
    while (bson_iter_next(&it)) {
      bool replaced = bson_iter_init_find(&found, changes, bson_iter_key(&it));
      bson_append_value(merged, bson_iter_key(&it), -1, bson_iter_value(replaced ? &found : &it));
    }
    char msg[512];
    ok = commit(set, e, e->name, merged, msg, sizeof msg);
    if (ok) {
      bson_destroy(e->description);
      e->description = merged;
    } else {
      bson_destroy(merged);
      aspd_error_set(err, 500, "UNEXPECTED_ERROR",
                     "Unexpected error. Reason: %s; nothing was changed.", msg);
    }
  } else {
    aspd_error_set(err, 404, "STREAM_TENANT_NOT_FOUND_FOR_NAME", "no such workspace");
  }
  pthread_mutex_unlock(&set->lock);
  return ok;
}

bool aspd_workspaces_delete(aspd_workspaces_t *set, const char *name, aspd_error_t *err) {
  pthread_mutex_lock(&set->lock);
  long i = find(set, name);
  if (i < 0) {
    pthread_mutex_unlock(&set->lock);
    aspd_error_set(err, 404, "STREAM_TENANT_NOT_FOUND_FOR_NAME", "no such workspace");
    return false;
  }
  entry_t *e = set->items[i];
  bson_t list = BSON_INITIALIZER;
  aspd_error_t ignored;
  if (!e->wire) aspd_engine_list(aspd_workspace_engine(e->ws), NULL, &list, &ignored);
  bool has_processors = !bson_empty(&list);
  bson_destroy(&list);
  if (e->wire || has_processors) {
    pthread_mutex_unlock(&set->lock);
    if (e->wire) {
      aspd_error_set(err, ASPD_API_E_TENANT_IS_WIRE,
                     "Stream instance %s is the one aspd serves over the wire; it cannot be "
                     "deleted.",
                     name);
    } else {
      aspd_error_set(err, ASPD_API_E_TENANT_HAS_PROCESSORS,
                     "Stream instance %s has stream processors; delete them first.", name);
    }
    return false;
  }
  char msg[512];
  if (!aspd_store_delete(set->store, KIND, e->id, msg, sizeof msg)) {
    pthread_mutex_unlock(&set->lock);
    aspd_log("could not persist the deletion of workspace %s: %s", name, msg);
    aspd_error_set(err, 500, "UNEXPECTED_ERROR",
                   "Unexpected error. Reason: %s; nothing was deleted.", msg);
    return false;
  }
  memmove(&set->items[i], &set->items[i + 1], (set->count - (size_t)i - 1) * sizeof *set->items);
  set->count--;
  /* Requests still inside it finish first. */
  set->retiring = realloc(set->retiring, (set->retiring_count + 1) * sizeof *set->retiring);
  set->retiring[set->retiring_count++] = e;
  while (e->refs > 0) pthread_cond_wait(&set->released, &set->lock);
  for (size_t r = 0; r < set->retiring_count; r++) {
    if (set->retiring[r] == e) set->retiring[r] = set->retiring[--set->retiring_count];
  }
  pthread_mutex_unlock(&set->lock);
  remove_state(set, e);
  free_entry(e);
  return true;
}
