/* Start and stop a real aspd for a test: free port on 127.0.0.1, fresh state
 * directory, TLS with the generated CA, the --dev user. The server is always
 * stopped: at aspd_harness_stop, at exit, and (via --exit-with-parent) if the
 * test process dies. An aspd that crashed or exited non-zero fails the test at exit.
 *
 * Call start and stop from the test's main thread: the harness keeps unlocked globals, and
 * --exit-with-parent (PR_SET_PDEATHSIG) fires when the *thread* that forked aspd ends, so an
 * aspd started from a worker thread is stopped when that worker returns. */
#ifndef ASPD_HARNESS_H
#define ASPD_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
  pid_t pid;
  int port;
  char uri[1024];      /* the mongodb:// line aspd printed */
  char ca_file[512];   /* tlsCAFile from that line */
  char user[128];      /* dev user name */
  char password[128];  /* dev user password */
  char state_dir[512]; /* state directory (created by the harness when not given) */
  /* The Admin API (the admin-api lines aspd --dev prints before the mongodb:// line). */
  char admin_url[1024];       /* https://127.0.0.1:PORT/api/atlas/v2/groups/GID/streams/WS */
  char admin_root[256];       /* https://127.0.0.1:PORT */
  char group_id[64];          /* GID */
  char workspace[256];        /* WS */
  char admin_public_key[128]; /* the dev API key pair (project owner) */
  char admin_private_key[128];
} aspd_instance_t;

/* Starts `aspd --dev --port 0 --state-dir DIR --exit-with-parent EXTRA...`.
 * extra_args is a NULL-terminated list (may be NULL). state_dir may be NULL
 * (a fresh temporary directory) or an existing directory to reuse (restart tests).
 * Returns false and prints why on failure. */
bool aspd_harness_start(aspd_instance_t *out, const char *state_dir, const char *const *extra_args);

/* aspd_harness_start with `--connections FILE` before extra_args: FILE, in a fresh
 * temporary directory, holds `connections` (a JSON array of connections). */
bool aspd_harness_start_connections(aspd_instance_t *out, const char *state_dir,
                                    const char *connections, const char *const *extra_args);

/* SIGTERM, wait up to 10 s, then SIGKILL. Returns the wait status (-1 if it had to be killed).
 * Anything but a clean exit 0 (a sanitizer report, a crash, a hang) is printed and also makes
 * the test process exit 1 at exit, even if the caller ignores the result. */
int aspd_harness_stop(aspd_instance_t *inst);

/* SIGKILL, on purpose: reaps the process without counting it as a crash (fault tests). */
void aspd_harness_kill(aspd_instance_t *inst);

/* A function the child runs between fork and exec of every later start (NULL: none), e.g.
 * to set a resource limit or drop privileges for aspd only. */
void aspd_harness_set_child_setup(void (*setup)(void));

/* Writes text to a new file inside the instance's (or a temp) directory and returns its path
 * in path_out: used for --connections and --users files. */
bool aspd_harness_write_file(const char *dir, const char *name, const char *text, char *path_out,
                             size_t path_len);

/* A fresh empty temporary directory under $TMPDIR (removed at exit). */
bool aspd_harness_tempdir(char *out, size_t out_len);

/* Builds "mongodb://user:password@127.0.0.1:port/?tls=true&tlsCAFile=ca" for another user. */
void aspd_harness_uri_for(const aspd_instance_t *inst, const char *user, const char *password,
                          char *out, size_t out_len);

#endif
