#include "net/peer_limit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HOST_MAX 64

typedef struct {
  char host[HOST_MAX];
  size_t count;
} peer_t;

struct aspd_peer_limit {
  pthread_mutex_t lock;
  size_t per_peer;
  peer_t *peers; /* only addresses with a slot taken: a few, so a linear scan is enough */
  size_t count;
  size_t cap;
};

aspd_peer_limit_t *aspd_peer_limit_new(size_t per_peer) {
  aspd_peer_limit_t *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  pthread_mutex_init(&l->lock, NULL);
  l->per_peer = per_peer;
  return l;
}

void aspd_peer_limit_free(aspd_peer_limit_t *l) {
  if (!l) return;
  pthread_mutex_destroy(&l->lock);
  free(l->peers);
  free(l);
}

/* "host:port" or "[v6]:port" -> host (the port is whatever the client picked). */
static void host_of(const char *peer, char out[HOST_MAX]) {
  const char *colon = strrchr(peer, ':');
  size_t len = colon ? (size_t)(colon - peer) : strlen(peer);
  if (len >= HOST_MAX) len = HOST_MAX - 1;
  memcpy(out, peer, len);
  out[len] = '\0';
}

static peer_t *find(aspd_peer_limit_t *l, const char *host) {
  for (size_t i = 0; i < l->count; i++) {
    if (strcmp(l->peers[i].host, host) == 0) return &l->peers[i];
  }
  return NULL;
}

bool aspd_peer_limit_enter(aspd_peer_limit_t *l, const char *peer) {
  char host[HOST_MAX];
  host_of(peer, host);
  pthread_mutex_lock(&l->lock);
  peer_t *p = find(l, host);
  bool ok = true;
  if (!p) {
    if (l->count == l->cap) {
      size_t cap = l->cap ? l->cap * 2 : 16;
      peer_t *grown = realloc(l->peers, cap * sizeof *grown);
      if (grown) {
        l->peers = grown;
        l->cap = cap;
      }
    }
    if (l->count < l->cap) {
      p = &l->peers[l->count++];
      memcpy(p->host, host, sizeof p->host);
      p->count = 0;
    }
  }
  if (!p || p->count >= l->per_peer) {
    ok = false;
  } else {
    p->count++;
  }
  pthread_mutex_unlock(&l->lock);
  return ok;
}

void aspd_peer_limit_leave(aspd_peer_limit_t *l, const char *peer) {
  char host[HOST_MAX];
  host_of(peer, host);
  pthread_mutex_lock(&l->lock);
  peer_t *p = find(l, host);
  if (p && --p->count == 0) *p = l->peers[--l->count];
  pthread_mutex_unlock(&l->lock);
}
