#include "mhd_test_server.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *buf = n >= 0 ? calloc(1, (size_t)n + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  return buf;
}

int mhd_test_server_main(int argc, char **argv, const char *name, MHD_AccessHandlerCallback handle,
                         MHD_RequestCompletedCallback completed) {
  const char *cert_path = NULL, *key_path = NULL;
  static const struct option longopts[] = {
      {"cert", required_argument, NULL, 'c'}, {"key", required_argument, NULL, 'k'}, {0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    if (opt == 'c') {
      cert_path = optarg;
    } else if (opt == 'k') {
      key_path = optarg;
    } else {
      return 2;
    }
  }
  if (!cert_path || !key_path || optind != argc) {
    fprintf(stderr, "usage: %s --cert PEM --key PEM\n", name);
    return 2;
  }
  /* Stopped with the test even when the test is killed: SIGTERM on the parent's death, and
   * a parent that died before this call is noticed by getppid. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 2;
  /* Blocked before the daemon's threads exist so that they inherit the mask and the
   * signals wait for sigwait below; a closed stdout must not kill the server either. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    fprintf(stderr, "%s: libmicrohttpd without TLS\n", name);
    return 77;
  }
  char *cert = slurp(cert_path), *key = slurp(key_path);
  if (!cert || !key) {
    fprintf(stderr, "%s: cannot read %s or %s\n", name, cert_path, key_path);
    return 2;
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_TLS | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
      handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_HTTPS_MEM_CERT, cert,
      MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
  const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
  if (!info || info->port == 0) {
    fprintf(stderr, "%s: the HTTPS server does not start\n", name);
    return 2;
  }
  printf("%u\n", (unsigned)info->port);
  fflush(stdout);
  int sig;
  sigwait(&stop, &sig);
  MHD_stop_daemon(d);
  free(cert);
  free(key);
  return 0;
}
