/* Per-call deadlines. libmongoc applies one socket timeout (socketTimeoutMS) to every read
 * and write and has no per-operation setting, so every connection of a client is wrapped
 * in this stream: each read or write waits at most until the client's current deadline
 * (asp_client_set_timeout), and a wait cut short, by that deadline or by the socket
 * timeout itself, is recorded so the failure is reported in the timeout domain. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <errno.h>
#include <time.h>

#include "asp_private.h"

/* Exported by libmongoc (all 1.x versions) though declared only in a private header: the
 * initiator that opens a TCP connection and completes the TLS handshake with the client's
 * TLS options. Wrapping it keeps libmongoc's own connection logic. */
mongoc_stream_t *mongoc_client_default_stream_initiator(const mongoc_uri_t *uri,
                                                        const mongoc_host_list_t *host,
                                                        void *user_data, bson_error_t *error);

/* A stream type number of our own, distinct from libmongoc's (1..7). */
#define DEADLINE_STREAM_TYPE 0x4153

typedef struct {
  mongoc_stream_t vtable; /* first: libmongoc sees a mongoc_stream_t */
  mongoc_stream_t *base;
  asp_deadline_t *deadline;
} deadline_stream_t;

int64_t asp_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The wait allowed for one I/O: libmongoc's timeout, shortened to the deadline. -1 when the
 * deadline has passed. */
static int32_t allowed_ms(const deadline_stream_t *s, int32_t timeout_msec) {
  if (!s->deadline->at_us) return timeout_msec;
  int64_t left = (s->deadline->at_us - asp_now_us()) / 1000;
  if (left <= 0) return -1;
  if (timeout_msec <= 0 || left < timeout_msec) return (int32_t)left;
  return timeout_msec;
}

static ssize_t expired(deadline_stream_t *s) {
  s->deadline->hit = true;
  errno = ETIMEDOUT;
  return -1;
}

/* Not every stream type reports its timeouts (mongoc_stream_timed_out), so an I/O that
 * came back short after using up (nearly: the stream rounds its wait) its whole allowance
 * counts as timed out. A closed connection comes back at once, far from that. */
static void note_timeout(deadline_stream_t *s, int64_t started_us, int32_t ms) {
  if (mongoc_stream_timed_out(s->base) || (ms > 0 && asp_now_us() - started_us >= ms * 900LL))
    s->deadline->hit = true;
}

static ssize_t ds_writev(mongoc_stream_t *stream, mongoc_iovec_t *iov, size_t iovcnt,
                         int32_t timeout_msec) {
  deadline_stream_t *s = (deadline_stream_t *)stream;
  int32_t ms = allowed_ms(s, timeout_msec);
  if (ms < 0) return expired(s);
  int64_t started = asp_now_us();
  ssize_t n = mongoc_stream_writev(s->base, iov, iovcnt, ms);
  if (n < 0) note_timeout(s, started, ms);
  return n;
}

static ssize_t ds_readv(mongoc_stream_t *stream, mongoc_iovec_t *iov, size_t iovcnt,
                        size_t min_bytes, int32_t timeout_msec) {
  deadline_stream_t *s = (deadline_stream_t *)stream;
  int32_t ms = allowed_ms(s, timeout_msec);
  if (ms < 0) return expired(s);
  int64_t started = asp_now_us();
  ssize_t n = mongoc_stream_readv(s->base, iov, iovcnt, min_bytes, ms);
  if (n < 0 || (size_t)n < min_bytes) note_timeout(s, started, ms);
  return n;
}

static void ds_destroy(mongoc_stream_t *stream) {
  deadline_stream_t *s = (deadline_stream_t *)stream;
  mongoc_stream_destroy(s->base);
  bson_free(s);
}

static void ds_failed(mongoc_stream_t *stream) {
  deadline_stream_t *s = (deadline_stream_t *)stream;
  mongoc_stream_failed(s->base);
  bson_free(s);
}

static int ds_close(mongoc_stream_t *stream) {
  return mongoc_stream_close(((deadline_stream_t *)stream)->base);
}

static int ds_flush(mongoc_stream_t *stream) {
  return mongoc_stream_flush(((deadline_stream_t *)stream)->base);
}

static int ds_setsockopt(mongoc_stream_t *stream, int level, int optname, void *optval,
                         mongoc_socklen_t optlen) {
  return mongoc_stream_setsockopt(((deadline_stream_t *)stream)->base, level, optname, optval,
                                  optlen);
}

static mongoc_stream_t *ds_base(mongoc_stream_t *stream) {
  return ((deadline_stream_t *)stream)->base;
}

static bool ds_check_closed(mongoc_stream_t *stream) {
  return mongoc_stream_check_closed(((deadline_stream_t *)stream)->base);
}

static bool ds_timed_out(mongoc_stream_t *stream) {
  deadline_stream_t *s = (deadline_stream_t *)stream;
  return s->deadline->hit || mongoc_stream_timed_out(s->base);
}

static bool ds_should_retry(mongoc_stream_t *stream) {
  return mongoc_stream_should_retry(((deadline_stream_t *)stream)->base);
}

/* Polls the wrapped streams instead (libmongoc polls all of one type together). */
static ssize_t ds_poll(mongoc_stream_poll_t *streams, size_t nstreams, int32_t timeout) {
  mongoc_stream_poll_t *bases = bson_malloc0(nstreams * sizeof *bases);
  for (size_t i = 0; i < nstreams; i++) {
    bases[i].stream = ((deadline_stream_t *)streams[i].stream)->base;
    bases[i].events = streams[i].events;
  }
  ssize_t n = mongoc_stream_poll(bases, nstreams, timeout);
  for (size_t i = 0; i < nstreams; i++) streams[i].revents = bases[i].revents;
  bson_free(bases);
  return n;
}

static mongoc_stream_t *initiate(const mongoc_uri_t *uri, const mongoc_host_list_t *host,
                                 void *user_data, bson_error_t *error) {
  asp_client_t *c = user_data;
  mongoc_stream_t *base =
      mongoc_client_default_stream_initiator(uri, host, asp_client_mongoc(c), error);
  if (!base) return NULL;
  deadline_stream_t *s = bson_malloc0(sizeof *s);
  s->vtable.type = DEADLINE_STREAM_TYPE;
  s->vtable.destroy = ds_destroy;
  s->vtable.failed = ds_failed;
  s->vtable.close = ds_close;
  s->vtable.flush = ds_flush;
  s->vtable.writev = ds_writev;
  s->vtable.readv = ds_readv;
  s->vtable.setsockopt = ds_setsockopt;
  s->vtable.get_base_stream = ds_base;
  s->vtable.check_closed = ds_check_closed;
  s->vtable.poll = ds_poll;
  s->vtable.timed_out = ds_timed_out;
  s->vtable.should_retry = ds_should_retry;
  s->base = base;
  s->deadline = asp_client_deadline(c);
  return &s->vtable;
}

void asp_deadline_streams_install(asp_client_t *c) {
  mongoc_client_set_stream_initiator(asp_client_mongoc(c), initiate, c);
}
