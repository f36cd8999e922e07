#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define DRAIN_TIMEOUT_SECONDS 5

struct aspd_listener {
  int fd;
  int port;
  /* Open client sockets, so shutdown can wake their threads. */
  pthread_mutex_t lock;
  pthread_cond_t drained;
  int *open_fds;
  size_t open_count;
  size_t open_cap;
  uint64_t refused; /* connections closed at accept for a limit (accept thread only) */
  time_t last_refusal_log;
};

typedef struct {
  aspd_listener_t *listener;
  int fd;
  const aspd_connection_config_t *config;
  uint64_t id;
  char peer[INET6_ADDRSTRLEN + 8];
} connection_args_t;

aspd_listener_t *aspd_listener_open(const char *host, int port, char *err, size_t err_len) {
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *addrs = NULL;
  int rc = getaddrinfo(host, service, &hints, &addrs);
  if (rc != 0) {
    snprintf(err, err_len, "resolve %s: %s", host, gai_strerror(rc));
    return NULL;
  }
  int fd = -1;
  int saved_errno = 0;
  for (struct addrinfo *a = addrs; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 128) != 0) {
      saved_errno = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(addrs);
  if (fd < 0) {
    snprintf(err, err_len, "listen on %s:%d: %s", host, port, strerror(saved_errno));
    return NULL;
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &bound_len);
  aspd_listener_t *listener = calloc(1, sizeof *listener);
  listener->fd = fd;
  listener->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
  pthread_mutex_init(&listener->lock, NULL);
  pthread_cond_init(&listener->drained, NULL);
  return listener;
}

int aspd_listener_port(const aspd_listener_t *listener) {
  return listener->port;
}

int aspd_listener_take_fd(aspd_listener_t *listener) {
  int fd = listener->fd;
  listener->fd = -1;
  return fd;
}

static void track(aspd_listener_t *l, int fd) {
  pthread_mutex_lock(&l->lock);
  if (l->open_count == l->open_cap) {
    l->open_cap = l->open_cap ? l->open_cap * 2 : 64;
    l->open_fds = realloc(l->open_fds, l->open_cap * sizeof *l->open_fds);
  }
  l->open_fds[l->open_count++] = fd;
  pthread_mutex_unlock(&l->lock);
}

/* Untracks before the caller closes fd, so shutdown never touches a reused descriptor. */
static void untrack(aspd_listener_t *l, int fd) {
  pthread_mutex_lock(&l->lock);
  for (size_t i = 0; i < l->open_count; i++) {
    if (l->open_fds[i] == fd) {
      l->open_fds[i] = l->open_fds[--l->open_count];
      break;
    }
  }
  if (l->open_count == 0) pthread_cond_broadcast(&l->drained);
  pthread_mutex_unlock(&l->lock);
}

static void *connection_thread(void *arg) {
  connection_args_t *c = arg;
  aspd_connection_serve(c->config, c->fd, c->id, c->peer);
  /* Free this thread's OpenSSL state (its DRBGs) now: once untracked, main may exit before
   * the thread-exit destructor runs, and LeakSanitizer then reports them as lost. */
  OPENSSL_thread_stop();
  untrack(c->listener, c->fd);
  close(c->fd);
  free(c);
  return NULL;
}

static void describe_peer(const struct sockaddr_storage *addr, char *out, size_t out_len) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (addr->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  snprintf(out, out_len, "%s:%d", host, port);
}

/* Over a limit the connection is closed at once, before any TLS, so a flood costs no
 * thread and no memory. One log line per second at most: the flood must not fill the log. */
static bool admit(aspd_listener_t *l, const aspd_connection_config_t *config, const char *peer) {
  pthread_mutex_lock(&l->lock);
  bool full = l->open_count >= (size_t)config->limits->value[ASPD_LIMIT_MAX_CONNECTIONS];
  pthread_mutex_unlock(&l->lock);
  const char *why = full ? "connection limit reached"
                    : !aspd_peer_limit_enter(config->unauthenticated, peer)
                        ? "too many unauthenticated connections from this address"
                        : NULL;
  if (!why) return true;
  l->refused++;
  time_t now = time(NULL);
  if (now != l->last_refusal_log) {
    l->last_refusal_log = now;
    aspd_log("refused a connection from %s: %s (%llu refused so far)", peer, why,
             (unsigned long long)l->refused);
  }
  return false;
}

static void accept_one(aspd_listener_t *l, const aspd_connection_config_t *config, uint64_t id) {
  struct sockaddr_storage peer;
  socklen_t peer_len = sizeof peer;
  int fd = accept4(l->fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
      aspd_log("accept: %s", strerror(errno));
      /* Out of descriptors: back off instead of spinning. */
      struct timespec pause = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
      nanosleep(&pause, NULL);
    }
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  connection_args_t *c = calloc(1, sizeof *c);
  *c = (connection_args_t){.listener = l, .fd = fd, .config = config, .id = id};
  describe_peer(&peer, c->peer, sizeof c->peer);
  if (!admit(l, config, c->peer)) {
    close(fd);
    free(c);
    return;
  }
  track(l, fd);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, connection_thread, c);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    aspd_log("conn %llu: cannot start a thread: %s; closing", (unsigned long long)id, strerror(rc));
    aspd_peer_limit_leave(config->unauthenticated, c->peer);
    untrack(l, fd);
    close(fd);
    free(c);
  }
}

bool aspd_listener_run(aspd_listener_t *l, const aspd_connection_config_t *config, int stop_fd) {
  uint64_t next_id = 1;
  for (;;) {
    struct pollfd fds[2] = {{.fd = l->fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      aspd_log("poll: %s", strerror(errno));
      break;
    }
    if (fds[1].revents) break;
    if (fds[0].revents & POLLIN) accept_one(l, config, next_id++);
  }

  close(l->fd);
  l->fd = -1;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += DRAIN_TIMEOUT_SECONDS;
  pthread_mutex_lock(&l->lock);
  for (size_t i = 0; i < l->open_count; i++) shutdown(l->open_fds[i], SHUT_RDWR);
  int rc = 0;
  while (l->open_count > 0 && rc != ETIMEDOUT) {
    rc = pthread_cond_timedwait(&l->drained, &l->lock, &deadline);
  }
  bool drained = l->open_count == 0;
  pthread_mutex_unlock(&l->lock);
  return drained;
}

void aspd_listener_free(aspd_listener_t *l) {
  if (!l) return;
  if (l->fd >= 0) close(l->fd);
  pthread_mutex_destroy(&l->lock);
  pthread_cond_destroy(&l->drained);
  free(l->open_fds);
  free(l);
}
