/* Retry rules against a dead server: getStreamProcessor and getStreamProcessorStats try
 * twice on a network error, everything else once; the error is in the network domain and
 * never contains the password. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "asp.h"
#include "check.h"

/* A port that was free a moment ago: nothing listens there. */
static int dead_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    return 1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

int main(void) {
  char uri[256];
  snprintf(
      uri, sizeof uri,
      "mongodb://alice:hunter2pw@127.0.0.1:%d/?serverSelectionTimeoutMS=300&connectTimeoutMS=300",
      dead_port());
  asp_error_t err;
  asp_client_t *c = asp_client_new(uri, NULL, &err);
  CHECK(c != NULL);
  if (!c) return check_report("core.retry");

  bson_t info;
  CHECK(!asp_processor_info(c, "p", &info, &err));
  bson_destroy(&info);
  CHECK(err.domain == ASP_DOMAIN_NETWORK);
  CHECK(strstr(err.message, "hunter2pw") == NULL);
  CHECK(asp_client_commands_sent(c) == 2);

  CHECK(!asp_processor_stats(c, "p", NULL, &info, &err));
  bson_destroy(&info);
  CHECK(asp_client_commands_sent(c) == 4);

  bson_t *pipeline = json_doc("{}");
  CHECK(!asp_processor_create(c, "p", pipeline, NULL, &err));
  CHECK(asp_client_commands_sent(c) == 5);
  CHECK(!asp_processor_start(c, "p", NULL, &err));
  CHECK(!asp_processor_drop(c, "p", &err));
  CHECK(asp_client_commands_sent(c) == 7);
  CHECK(asp_sample_start(c, "p", NULL, &err) == NULL);
  CHECK(asp_client_commands_sent(c) == 8);
  CHECK(err.domain == ASP_DOMAIN_NETWORK);

  /* validation failures send nothing */
  CHECK(!asp_processor_stop(c, " ", &err));
  CHECK(err.domain == ASP_DOMAIN_CLIENT);
  CHECK(asp_client_commands_sent(c) == 8);

  CHECK(!asp_client_ping(c, &err));
  CHECK(err.domain == ASP_DOMAIN_NETWORK);
  CHECK(strstr(err.message, "hunter2pw") == NULL);

  /* the retryable classification itself */
  asp_error_t e = {.domain = ASP_DOMAIN_SERVER, .code = 91};
  CHECK(asp_error_is_retryable_read(&e));
  e.code = 9;
  CHECK(!asp_error_is_retryable_read(&e));
  e.n_labels = 1;
  snprintf(e.labels[0], sizeof e.labels[0], "RetryableError");
  CHECK(asp_error_is_retryable_read(&e));
  asp_error_t auth = {.domain = ASP_DOMAIN_AUTH};
  CHECK(!asp_error_is_retryable_read(&auth));

  bson_destroy(pipeline);
  asp_client_destroy(c);
  return check_report("core.retry");
}
