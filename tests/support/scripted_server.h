/* Start and stop the scripted Admin API server (scripted_admin_server, found through
 * $SCRIPTED_ADMIN_SERVER_BIN) as a child process of the test: 127.0.0.1, the free port it
 * prints, the given certificate. It is always stopped: at scripted_server_stop, at exit,
 * on a fatal signal of the test, and by PR_SET_PDEATHSIG if the test is killed outright.
 * Start and stop it from the test's main thread (PR_SET_PDEATHSIG follows the forking
 * thread). */
#ifndef SCRIPTED_SERVER_H
#define SCRIPTED_SERVER_H

#include <bson/bson.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct {
  pid_t pid;
  int port;
  char base_url[64]; /* https://127.0.0.1:PORT */
  char ca_file[512]; /* the CA the certificate is verified against */
} scripted_server_t;

/* 0 when it serves, 77 when it cannot in this build (libmicrohttpd without TLS: skip the
 * test), -1 on any other failure (printed). cert and key are PEM files; ca_file verifies
 * them when the test reads the counters. */
int scripted_server_start(scripted_server_t *s, const char *cert, const char *key,
                          const char *ca_file);

/* GET /__script/hits over HTTPS (libcurl, verified): the server's per-route hit counters
 * and the last Accept header, as a document in *out (always initialised; empty on
 * failure, which is printed). */
bool scripted_server_hits(const scripted_server_t *s, bson_t *out);

/* SIGTERM, wait up to 10 s, then SIGKILL; true when the server exited 0. */
bool scripted_server_stop(scripted_server_t *s);

#endif
