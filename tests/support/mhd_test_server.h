/* What the tests' own HTTPS servers (scripted_admin_server, https_endpoint_server) share:
 * a separate process on libmicrohttpd that serves 127.0.0.1 on a free port with the
 * certificate it is given, prints the port on a line of its own, and stops on SIGTERM or
 * SIGINT and when its parent (the test) dies. */
#ifndef ASP_MHD_TEST_SERVER_H
#define ASP_MHD_TEST_SERVER_H

#include <microhttpd.h>

/* Runs `name --cert PEM --key PEM` with handle (and completed, which may be NULL) for
 * every request until stopped. Returns main's exit code: 0 when stopped, 77 when
 * libmicrohttpd has no TLS, 2 on bad arguments or when it cannot start. */
int mhd_test_server_main(int argc, char **argv, const char *name, MHD_AccessHandlerCallback handle,
                         MHD_RequestCompletedCallback completed);

#endif
