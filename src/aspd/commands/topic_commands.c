/* readTopic (an aspd extension): the messages of a topic of a Kafka connection
 * from an offset, as processors wrote them (key, headers, value). */
#include "commands/asp_commands.h"
#include "commands/command_args.h"
#include "commands/reply.h"

/* Messages per reply unless `limit` says fewer; more than this is refused. */
#define READ_TOPIC_DEFAULT_LIMIT 100
#define READ_TOPIC_MAX_LIMIT 10000

void aspd_cmd_read_topic(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *topic = NULL, *connection = NULL;
  bool has_partition = false, has_offset = false, has_limit = false;
  int64_t partition = -1, offset = -1, limit = READ_TOPIC_DEFAULT_LIMIT;
  bool ok = aspd_arg_name(cmd, &topic, &err) &&
            aspd_arg_utf8(cmd, "connectionName", &connection, &err) &&
            aspd_arg_int64(cmd, "partition", &has_partition, &partition, &err) &&
            aspd_arg_int64(cmd, "offset", &has_offset, &offset, &err) &&
            aspd_arg_int64(cmd, "limit", &has_limit, &limit, &err);
  if (ok && !connection) {
    ok = false;
    aspd_error_set(&err, ASPD_E_FAILED_TO_PARSE, "readTopic needs a string 'connectionName'");
  } else if (ok && ((has_partition && partition < 0) || (has_offset && offset < 0))) {
    ok = false;
    aspd_error_set(&err, ASPD_E_BAD_VALUE, "readTopic's partition and offset cannot be negative");
  } else if (ok && (limit < 1 || limit > READ_TOPIC_MAX_LIMIT)) {
    ok = false;
    aspd_error_set(&err, ASPD_E_BAD_VALUE, "readTopic's limit must be from 1 to %d",
                   READ_TOPIC_MAX_LIMIT);
  }
  bson_t body = BSON_INITIALIZER;
  if (ok) {
    ok = aspd_engine_read_topic(ctx->engine, connection, topic,
                                partition > INT32_MAX ? INT32_MAX : (int32_t)partition, offset,
                                limit, &body, &err);
  }
  if (!ok) {
    aspd_reply_from_error(reply, &err);
  } else {
    aspd_reply_ok(reply);
    bson_concat(reply, &body);
  }
  bson_destroy(&body);
}
