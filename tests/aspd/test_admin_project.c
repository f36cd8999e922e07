/* The project-level Admin API over HTTPS with libcurl: workspaces (list, get with
 * includeConnections, create, withSampleConnections, update, delete; a created one has
 * its own registry and processors), Private Link connections (list, get, create,
 * update dnsDomain, delete) and VPC peering (list, accept, reject, delete), persisted. */
#include "admin_test_util.h"
#include "workspace_test_util.h"

#define API(h, m, u, b, want) CALL(h, m, u, ACCEPT_2023, b, want)

static char project[1024]; /* .../groups/GID/streams */

static const char *at(const char *suffix) {
  static char url[2][2048];
  static int slot;
  slot ^= 1;
  snprintf(url[slot], sizeof url[slot], "%s%s", project, suffix);
  return url[slot];
}

static void workspaces(admin_http_t *h, const aspd_instance_t *inst) {
  CHECK(API(h, "GET", at(""), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 1 &&
        !strcmp(admin_str(&r, "results.0.name"), inst->workspace));
  CHECK(!strcmp(admin_str(&r, "results.0.dataProcessRegion.region"), "VIRGINIA_USA"));
  CHECK(strstr(admin_str(&r, "results.0.hostnames.0"), "127.0.0.1:") != NULL);
  CHECK(!strcmp(admin_str(&r, "results.0.groupId"), inst->group_id));
  CHECK(API(h, "GET", "ws:?includeConnections=true", NULL, 200));
  CHECK(!strcmp(admin_str(&r, "connections.0.name"), "sample_stream_solar"));
  CHECK(API(h, "GET", "ws:", NULL, 200));
  CHECK(!admin_has(&r, "connections"));

  const char *body =
      "{\"name\": \"second\", \"dataProcessRegion\": {\"cloudProvider\": \"AWS\", \"region\": "
      "\"DUBLIN_IRL\"}, \"streamConfig\": {\"tier\": \"SP10\"}}";
  CHECK(API(h, "POST", at(""), body, 200));
  CHECK(!strcmp(admin_str(&r, "name"), "second") && strlen(admin_str(&r, "_id")) == 24);
  CHECK(!strcmp(admin_str(&r, "streamConfig.tier"), "SP10"));
  CHECK(API(h, "POST", at(""), body, 409));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "STREAM_TENANT_NAME_ALREADY_EXISTS"));
  CHECK(API(h, "POST", at(""), "{\"name\": \"x\"}", 400));
  CHECK(API(h, "POST", at(""),
            "{\"name\": \"x\", \"dataProcessRegion\": {\"cloudProvider\": \"IBM\", \"region\": "
            "\"R\"}}",
            400));
  CHECK(API(h, "POST", at(""),
            "{\"name\": \"x\", \"dataProcessRegion\": {\"cloudProvider\": \"AWS\", \"region\": "
            "\"R\"}, \"colour\": 1}",
            400));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "INVALID_JSON_ATTRIBUTE"));
  /* A created workspace has a registry of its own, without the sample source... */
  CHECK(API(h, "GET", at("/second/connections"), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 0);
  CHECK(API(h, "POST", at("/second/connections"),
            "{\"name\": \"k\", \"type\": \"Kafka\", \"bootstrapServers\": \"a:1\"}", 200));
  CHECK(!strcmp(admin_str(&r, "region"), "DUBLIN_IRL"));
  CHECK(API(h, "GET", "ws:/connections/k", NULL, 404));
  /* ...and processors of its own. */
  CHECK(CALL(h, "POST", at("/second/processor"), ACCEPT_2024,
             "{\"name\": \"p\", \"pipeline\": [{\"$source\": {\"documents\": [{\"a\": 1}]}}, "
             "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
             200));
  CHECK(CALL(h, "GET", "ws:/processor/p", ACCEPT_2024, NULL, 404));
  CHECK(API(h, "DELETE", at("/second"), NULL, 409));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "STREAM_TENANT_HAS_STREAM_PROCESSORS"));
  CHECK(CALL(h, "DELETE", at("/second/processor/p"), ACCEPT_2024, NULL, 204));

  CHECK(CALL(h, "POST", at(":withSampleConnections"), "application/vnd.atlas.2024-08-05+json",
             "{\"name\": \"third\", \"dataProcessRegion\": {\"cloudProvider\": \"GCP\", "
             "\"region\": \"US_CENTRAL1\"}, \"sampleConnections\": {\"solar\": true}}",
             200));
  CHECK(API(h, "GET", at("/third?includeConnections=true"), NULL, 200));
  CHECK(!strcmp(admin_str(&r, "connections.0.name"), "sample_stream_solar") &&
        !strcmp(admin_str(&r, "connections.0.region"), "US_CENTRAL1"));
  CHECK(wt_array_len(r.body, "hostnames") == 0);

  CHECK(API(h, "PATCH", at("/third"), "{\"cloudProvider\": \"AWS\", \"region\": \"OREGON_USA\"}",
            200));
  CHECK(!strcmp(admin_str(&r, "dataProcessRegion.region"), "OREGON_USA"));
  CHECK(API(h, "PATCH", at("/third"), "{\"streamConfig\": {\"tier\": \"SP50\"}}", 200));
  CHECK(!strcmp(admin_str(&r, "streamConfig.tier"), "SP50") &&
        !strcmp(admin_str(&r, "dataProcessRegion.region"), "OREGON_USA"));
  CHECK(API(h, "PATCH", at("/third"), "{\"streamConfig\": {\"tier\": \"SP7\"}}", 400));
  CHECK(API(h, "GET", at("?itemsPerPage=2&pageNum=2"), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 3 && wt_array_len(r.body, "results") == 1);

  CHECK(API(h, "DELETE", at("/third"), NULL, 202));
  CHECK(API(h, "GET", at("/third"), NULL, 404));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "STREAM_TENANT_NOT_FOUND_FOR_NAME"));
  CHECK(API(h, "GET", at("/third/connections"), NULL, 404));
  CHECK(API(h, "DELETE", at("/third"), NULL, 404));
  CHECK(API(h, "DELETE", "ws:", NULL, 400));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "STREAM_TENANT_SERVED_OVER_WIRE"));
}

static char link_id[32];

static void private_links(admin_http_t *h) {
  CHECK(API(h, "GET", at("/privateLinkConnections"), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 0);
  CHECK(API(h, "POST", at("/privateLinkConnections"),
            "{\"provider\": \"Azure\", \"region\": \"US_EAST_2\", \"serviceEndpointId\": "
            "\"/subscriptions/x/resourceGroups/y/providers/Microsoft.EventHub/namespaces/ns\", "
            "\"dnsDomain\": \"ns.servicebus.windows.net\"}",
            200));
  snprintf(link_id, sizeof link_id, "%s", admin_str(&r, "_id"));
  CHECK(strlen(link_id) == 24 && !strcmp(admin_str(&r, "provider"), "Azure"));
  char url[128];
  snprintf(url, sizeof url, "/privateLinkConnections/%s", link_id);
  CHECK(API(h, "GET", at(url), NULL, 200));
  CHECK(!strcmp(admin_str(&r, "provider"), "AZURE") &&
        !strcmp(admin_str(&r, "vendor"), "GENERIC") && !strcmp(admin_str(&r, "state"), "IDLE"));
  CHECK(API(h, "POST", at("/privateLinkConnections"),
            "{\"provider\": \"AWS\", \"vendor\": \"MSK\", \"arn\": \"arn:aws:kafka:x\", "
            "\"dnsSubDomain\": [\"a\", \"b\"]}",
            200));
  CHECK(API(h, "POST", at("/privateLinkConnections"), "{\"provider\": \"IBM\"}", 400));
  CHECK(API(h, "POST", at("/privateLinkConnections"), "{\"region\": \"X\"}", 400));
  CHECK(
      API(h, "POST", at("/privateLinkConnections"), "{\"provider\": \"AWS\", \"colour\": 1}", 400));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "INVALID_JSON_ATTRIBUTE"));
  CHECK(API(h, "POST", at("/privateLinkConnections"),
            "{\"provider\": \"AWS\", \"dnsSubDomain\": \"a\"}", 400));
  CHECK(API(h, "GET", at("/privateLinkConnections?itemsPerPage=1"), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 2 && wt_array_len(r.body, "results") == 1 &&
        !strcmp(admin_str(&r, "links.1.rel"), "next"));
  /* Update: dnsDomain only, version 2025-03-12. */
  CHECK(API(h, "PATCH", at(url), "{\"dnsDomain\": \"other.example.com\"}", 406));
  CHECK(CALL(h, "PATCH", at(url), ACCEPT_2025, "{\"dnsDomain\": \"other.example.com\"}", 200));
  CHECK(!strcmp(admin_str(&r, "dnsDomain"), "other.example.com"));
  CHECK(CALL(h, "PATCH", at(url), ACCEPT_2025, "{\"region\": \"X\"}", 400));
  /* In use by a Kafka connection: its deletion is refused until the connection goes. */
  char kafka[512];
  snprintf(kafka, sizeof kafka,
           "{\"name\": \"pl_kafka\", \"type\": \"Kafka\", \"bootstrapServers\": \"p:9092\", "
           "\"networking\": {\"access\": {\"type\": \"PRIVATE_LINK\", \"connectionId\": \"%s\"}}}",
           link_id);
  CHECK(API(h, "POST", "ws:/connections", kafka, 200));
  CHECK(!strcmp(admin_str(&r, "networking.access.type"), "PRIVATE_LINK"));
  CHECK(API(h, "DELETE", at(url), NULL, 409));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "STREAM_PRIVATE_LINK_IN_USE"));
  CHECK(API(h, "DELETE", "ws:/connections/pl_kafka", NULL, 202));
  CHECK(API(h, "GET", at("/privateLinkConnections/0123456789abcdef01234567"), NULL, 404));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "STREAM_PRIVATE_LINK_NOT_FOUND"));
}

static void vpc_peering(admin_http_t *h) {
  CHECK(API(h, "GET", at("/vpcPeeringConnections"), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 2);
  CHECK(API(h, "GET", at("/vpcPeeringConnections?requesterAccountId=111111111111"), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 1 && !strcmp(admin_str(&r, "results.0._id"), "pcx-one"));
  CHECK(API(h, "POST", at("/vpcPeeringConnections/pcx-one:accept"),
            "{\"requesterAccountId\": \"111111111111\", \"requesterVpcId\": \"vpc-1\"}", 202));
  CHECK(
      API(h, "POST", at("/vpcPeeringConnections/pcx-one:accept"), "{\"requesterVpcId\": 1}", 400));
  CHECK(API(h, "POST", at("/vpcPeeringConnections/pcx-one:accept"), "{}", 400));
  CHECK(API(h, "POST", at("/vpcPeeringConnections/pcx-two:reject"), NULL, 202));
  CHECK(API(h, "GET", at("/vpcPeeringConnections"), NULL, 200));
  CHECK(!strcmp(admin_str(&r, "results.0.status"), "ACTIVE") &&
        !strcmp(admin_str(&r, "results.1.status"), "REJECTED"));
  CHECK(API(h, "POST", at("/vpcPeeringConnections/nope:reject"), NULL, 404));
  CHECK(!strcmp(admin_str(&r, "errorCode"), "STREAM_VPC_PEERING_CONNECTION_NOT_FOUND"));
  CHECK(API(h, "DELETE", at("/vpcPeeringConnections/pcx-two"), NULL, 202));
  CHECK(API(h, "DELETE", at("/vpcPeeringConnections/pcx-two"), NULL, 404));
}

static const char *const PEERINGS =
    "{\"records\": [{\"_id\": \"pcx-one\", \"requesterAccountId\": \"111111111111\", "
    "\"requesterVpcId\": \"vpc-1\", \"status\": \"PENDING_ACCEPTANCE\"},"
    " {\"_id\": \"pcx-two\", \"requesterAccountId\": \"222222222222\", \"requesterVpcId\": "
    "\"vpc-2\", \"status\": \"PENDING_ACCEPTANCE\"}]}";

int main(void) {
  char state[512], path[1024];
  if (!aspd_harness_tempdir(state, sizeof state) ||
      !aspd_harness_write_file(state, "vpc_peering.json", PEERINGS, path, sizeof path)) {
    return 1;
  }
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, state, NULL)) return 1;
  snprintf(project, sizeof project, "%s/api/atlas/v2/groups/%s/streams", inst.admin_root,
           inst.group_id);
  admin_http_t *h = admin_http_new(&inst);
  workspaces(h, &inst);
  private_links(h);
  vpc_peering(h);
  admin_reply_free(&r);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);

  /* Everything survives a restart; the created workspace's registry too. */
  const char *args[] = {"--api-key", "reader:reader-private:GROUP_READ_ONLY", NULL};
  if (!aspd_harness_start(&inst, state, args)) return 1;
  snprintf(project, sizeof project, "%s/api/atlas/v2/groups/%s/streams", inst.admin_root,
           inst.group_id);
  h = admin_http_new(&inst);
  CHECK(API(h, "GET", at(""), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 2 && !strcmp(admin_str(&r, "results.1.name"), "second"));
  CHECK(API(h, "GET", at("/second/connections/k"), NULL, 200));
  CHECK(!strcmp(admin_str(&r, "region"), "DUBLIN_IRL"));
  char url[128];
  snprintf(url, sizeof url, "/privateLinkConnections/%s", link_id);
  CHECK(API(h, "GET", at(url), NULL, 200));
  CHECK(!strcmp(admin_str(&r, "dnsDomain"), "other.example.com"));
  CHECK(API(h, "GET", at("/vpcPeeringConnections"), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 1);
  admin_http_use_key(h, "reader", "reader-private");
  CHECK(API(h, "GET", at("/privateLinkConnections"), NULL, 200));
  CHECK(API(h, "DELETE", at(url), NULL, 403));
  CHECK(API(h, "POST", at(""), "{\"name\": \"z\"}", 403));
  CHECK(API(h, "DELETE", at("/second"), NULL, 403));
  CHECK(API(h, "POST", at("/vpcPeeringConnections/pcx-one:reject"), NULL, 403));
  admin_http_use_key(h, inst.admin_public_key, inst.admin_private_key);
  CHECK(API(h, "DELETE", at(url), NULL, 202));
  CHECK(API(h, "DELETE", at("/second"), NULL, 202));
  CHECK(API(h, "GET", at(""), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 1);
  admin_reply_free(&r);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
  if (wt_failures) {
    fprintf(stderr, "test_admin_project: %d failure(s)\n", wt_failures);
    return 1;
  }
  printf("test_admin_project: all checks passed\n");
  return 0;
}
