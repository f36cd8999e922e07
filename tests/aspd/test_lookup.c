/* $lookup against collections of a Cluster connection. The foreign collections
 * are seeded with the insert command and with a $merge processor; the stream
 * side is an inline $source. Outputs are compared type for type and in field
 * order with what MongoDB's $lookup page documents (each case names the
 * example), after dropping the stamps the source adds (_ts, _stream_meta).
 * Then: a collection written while a processor runs is seen by the next
 * document, a nested $lookup, a $lookup in a window, dead letters, the
 * operator's stats, $lookup in the aggregate command and the planner's errors. */
#include <stdlib.h>

#include "workspace_test_util.h"

#define FROM(coll) "{\"connectionName\": \"cluster0\", \"db\": \"shop\", \"coll\": \"" coll "\"}"

static void insert(mongoc_client_t *c, const char *coll, const char *docs_json) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "{\"insert\": \"%s\", \"documents\": %s}", coll, docs_json);
  bson_error_t error;
  bson_t *command = bson_new_from_json((const uint8_t *)cmd, -1, &error);
  bson_t reply;
  if (!command || !mongoc_client_command_simple(c, "shop", command, NULL, &reply, &error)) {
    fprintf(stderr, "FAIL: insert into %s: %s\n", coll, error.message);
    wt_failures++;
  }
  if (command) bson_destroy(&reply);
  bson_destroy(command);
}

/* Documents in shop.<coll> (the count command). */
static int64_t count(mongoc_client_t *c, const char *coll) {
  bson_t *cmd = BCON_NEW("count", BCON_UTF8(coll)), reply;
  bson_error_t error;
  int64_t n = mongoc_client_command_simple(c, "shop", cmd, NULL, &reply, &error)
                  ? wt_int(&reply, "n", NULL)
                  : -1;
  bson_destroy(&reply);
  bson_destroy(cmd);
  return n;
}

/* doc without the source's stamps. */
static void unstamped(const bson_t *doc, bson_t *out) {
  bson_init(out);
  bson_copy_to_excluding_noinit(doc, out, "_ts", "_stream_meta", NULL);
}

/* Runs [$source documents `input`, stages...] and compares the outputs with `expected`
 * (a JSON array) exactly: types, values and field order. */
static void expect_at(mongoc_client_t *c, const char *what, const char *input, const char *stages,
                      const char *expected, int line) {
  char cmd[16384];
  snprintf(cmd, sizeof cmd,
           "{\"processStreamProcessor\": [{\"$source\": {\"documents\": %s}}, %s]}", input, stages);
  bson_t out = BSON_INITIALIZER;
  wt_process(c, cmd, &out);
  char wrapped[16384];
  snprintf(wrapped, sizeof wrapped, "{\"v\": %s}", expected);
  bson_error_t error;
  bson_t *want = bson_new_from_json((const uint8_t *)wrapped, -1, &error);
  if (!want) {
    fprintf(stderr, "test bug: %s: %s\n", what, error.message);
    exit(2);
  }
  bson_iter_t wi, list;
  bson_iter_init_find(&wi, want, "v");
  bson_iter_recurse(&wi, &list);
  bson_iter_t got;
  bson_iter_init(&got, &out);
  bool same = true;
  uint32_t n = 0;
  for (;;) {
    bool more_want = bson_iter_next(&list), more_got = bson_iter_next(&got);
    if (!more_want || !more_got) {
      same = same && more_want == more_got;
      break;
    }
    n++;
    bson_t w, g, raw, clean;
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&list, &len, &data);
    bson_init_static(&w, data, len);
    bson_iter_document(&got, &len, &data);
    bson_init_static(&raw, data, len);
    unstamped(&raw, &clean);
    g = clean;
    if (!bson_equal(&w, &g)) {
      char *a = bson_as_canonical_extended_json(&w, NULL),
           *b = bson_as_canonical_extended_json(&g, NULL);
      fprintf(stderr, "FAIL line %d (%s), output %u:\n  wanted %s\n  got    %s\n", line, what, n, a,
              b);
      bson_free(a);
      bson_free(b);
      wt_failures++;
    }
    bson_destroy(&clean);
  }
  if (!same) {
    char *b = bson_as_relaxed_extended_json(&out, NULL);
    fprintf(stderr, "FAIL line %d (%s): wrong number of outputs: %s\n", line, what, b);
    bson_free(b);
    wt_failures++;
  }
  bson_destroy(want);
  bson_destroy(&out);
}
#define EXPECT(c, what, input, stages, expected) \
  expect_at(c, what, input, stages, expected, __LINE__)

/* The collections of the documentation's examples. */
static void seed(mongoc_client_t *c) {
  insert(c, "inventory",
         "[{\"_id\": 1, \"sku\": \"almonds\", \"description\": \"product 1\", \"instock\": 120},"
         " {\"_id\": 2, \"sku\": \"bread\", \"description\": \"product 2\", \"instock\": 80},"
         " {\"_id\": 3, \"sku\": \"cashews\", \"description\": \"product 3\", \"instock\": 60},"
         " {\"_id\": 4, \"sku\": \"pecans\", \"description\": \"product 4\", \"instock\": 70},"
         " {\"_id\": 5, \"sku\": null, \"description\": \"Incomplete\"}, {\"_id\": 6}]");
  insert(c, "items",
         "[{\"_id\": 1, \"item\": \"almonds\", \"description\": \"almond clusters\", \"instock\": "
         "120}, {\"_id\": 2, \"item\": \"bread\", \"description\": \"raisin and nut bread\", "
         "\"instock\": 80}, {\"_id\": 3, \"item\": \"pecans\", \"description\": \"candied "
         "pecans\", \"instock\": 60}]");
  insert(c, "warehouses",
         "[{\"_id\": 1, \"stock_item\": \"almonds\", \"warehouse\": \"A\", \"instock\": 120},"
         " {\"_id\": 2, \"stock_item\": \"pecans\", \"warehouse\": \"A\", \"instock\": 80},"
         " {\"_id\": 3, \"stock_item\": \"almonds\", \"warehouse\": \"B\", \"instock\": 60},"
         " {\"_id\": 4, \"stock_item\": \"cookies\", \"warehouse\": \"B\", \"instock\": 40},"
         " {\"_id\": 5, \"stock_item\": \"cookies\", \"warehouse\": \"A\", \"instock\": 80}]");
  insert(c, "holidays",
         "[{\"_id\": 1, \"year\": 2018, \"name\": \"New Years\", \"date\": {\"$date\": "
         "\"2018-01-01T00:00:00Z\"}}, {\"_id\": 2, \"year\": 2018, \"name\": \"Pi Day\", "
         "\"date\": {\"$date\": \"2018-03-14T00:00:00Z\"}}, {\"_id\": 3, \"year\": 2018, "
         "\"name\": \"Ice Cream Day\", \"date\": {\"$date\": \"2018-07-15T00:00:00Z\"}}, {\"_id\": "
         "4, \"year\": 2017, \"name\": \"New Years\", \"date\": {\"$date\": "
         "\"2017-01-01T00:00:00Z\"}}, {\"_id\": 5, \"year\": 2017, \"name\": \"Ice Cream Day\", "
         "\"date\": {\"$date\": \"2017-07-16T00:00:00Z\"}}]");
  insert(c, "restaurants",
         "[{\"_id\": 1, \"name\": \"American Steak House\", \"food\": [\"filet\", \"sirloin\"], "
         "\"beverages\": [\"beer\", \"wine\"]}, {\"_id\": 2, \"name\": \"Honest John Pizza\", "
         "\"food\": [\"cheese pizza\", \"pepperoni pizza\"], \"beverages\": [\"soda\"]}]");
  insert(c, "humidity_descriptions",
         "[{\"dewPoint\": 16.2, \"relativeHumidity\": 79, \"condition\": \"sticky, oppressive\"},"
         " {\"dewPoint\": 12.5, \"relativeHumidity\": 62, \"condition\": \"humid, muggy\"}]");
  /* members is written by a processor, as a pipeline would: $merge on _id. */
  WT_OK(
      c,
      "{\"createStreamProcessor\": \"seed_members\", \"pipeline\": [{\"$source\": "
      "{\"documents\": [{\"_id\": 1, \"name\": \"artie\", \"foreign\": {\"$date\": "
      "\"2016-05-01T00:00:00Z\"}, \"status\": \"A\"}, {\"_id\": 2, \"name\": \"giraffe\", "
      "\"foreign\": {\"$date\": \"2017-05-01T00:00:00Z\"}, \"status\": \"D\"}, {\"_id\": 3, "
      "\"name\": \"giraffe1\", \"foreign\": {\"$date\": \"2017-10-01T00:00:00Z\"}, \"status\": "
      "\"A\"}, {\"_id\": 4, \"name\": \"panda\", \"foreign\": {\"$date\": "
      "\"2018-10-11T00:00:00Z\"}, \"status\": \"A\"}, {\"_id\": 5, \"name\": \"pandabear\", "
      "\"foreign\": {\"$date\": \"2018-12-01T00:00:00Z\"}, \"status\": \"A\"}, {\"_id\": 6, "
      "\"name\": \"giraffe2\", \"foreign\": {\"$date\": \"2018-12-01T00:00:00Z\"}, \"status\": "
      "\"D\"}]}}, {\"$project\": {\"_ts\": 0, \"_stream_meta\": 0}}, {\"$merge\": {\"into\": " FROM(
          "members") "}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"seed_members\"}");
  int64_t n = 0;
  for (int i = 0; i < 200 && n < 6; i++) {
    n = count(c, "members");
    if (n < 6) usleep(20000);
  }
  CHECK(n == 6);
}

static void documented_examples(mongoc_client_t *c) {
  /* "Perform a Single Equality Join with $lookup": a missing localField matches null and
   * missing foreignFields. */
  EXPECT(c, "single equality join",
         "[{\"_id\": 1, \"item\": \"almonds\", \"price\": 12, \"quantity\": 2}, {\"_id\": 2, "
         "\"item\": \"pecans\", \"price\": 20, \"quantity\": 1}, {\"_id\": 3}]",
         "{\"$lookup\": {\"from\": " FROM("inventory") ", \"localField\": \"item\", "
                                                       "\"foreignField\": \"sku\", \"as\": "
                                                       "\"inventory_docs\"}}",
         "[{\"_id\": 1, \"item\": \"almonds\", \"price\": 12, \"quantity\": 2, \"inventory_docs\": "
         "[{\"_id\": 1, \"sku\": \"almonds\", \"description\": \"product 1\", \"instock\": 120}]},"
         " {\"_id\": 2, \"item\": \"pecans\", \"price\": 20, \"quantity\": 1, \"inventory_docs\": "
         "[{\"_id\": 4, \"sku\": \"pecans\", \"description\": \"product 4\", \"instock\": 70}]},"
         " {\"_id\": 3, \"inventory_docs\": [{\"_id\": 5, \"sku\": null, \"description\": "
         "\"Incomplete\"}, {\"_id\": 6}]}]");
  /* "Use $lookup with an Array": each element of an array localField is matched. */
  EXPECT(c, "array localField",
         "[{\"_id\": 1, \"title\": \"Reading is ...\", \"enrollmentlist\": [\"giraffe2\", "
         "\"pandabear\", \"artie\"], \"days\": [\"M\", \"W\", \"F\"]}, {\"_id\": 2, \"title\": "
         "\"But Writing ...\", \"enrollmentlist\": [\"giraffe1\", \"artie\"], \"days\": [\"T\", "
         "\"F\"]}]",
         "{\"$lookup\": {\"from\": " FROM("members") ", \"localField\": \"enrollmentlist\", "
                                                     "\"foreignField\": \"name\", \"as\": "
                                                     "\"enrollee_info\"}}",
         "[{\"_id\": 1, \"title\": \"Reading is ...\", \"enrollmentlist\": [\"giraffe2\", "
         "\"pandabear\", \"artie\"], \"days\": [\"M\", \"W\", \"F\"], \"enrollee_info\": [{\"_id\": "
         "1, \"name\": \"artie\", \"foreign\": {\"$date\": \"2016-05-01T00:00:00Z\"}, \"status\": "
         "\"A\"}, {\"_id\": 5, \"name\": \"pandabear\", \"foreign\": {\"$date\": "
         "\"2018-12-01T00:00:00Z\"}, \"status\": \"A\"}, {\"_id\": 6, \"name\": \"giraffe2\", "
         "\"foreign\": {\"$date\": \"2018-12-01T00:00:00Z\"}, \"status\": \"D\"}]}, {\"_id\": 2, "
         "\"title\": \"But Writing ...\", \"enrollmentlist\": [\"giraffe1\", \"artie\"], \"days\": "
         "[\"T\", \"F\"], \"enrollee_info\": [{\"_id\": 1, \"name\": \"artie\", \"foreign\": "
         "{\"$date\": \"2016-05-01T00:00:00Z\"}, \"status\": \"A\"}, {\"_id\": 3, \"name\": "
         "\"giraffe1\", \"foreign\": {\"$date\": \"2017-10-01T00:00:00Z\"}, \"status\": "
         "\"A\"}]}]");
  /* "Use $lookup with $mergeObjects". */
  EXPECT(c, "mergeObjects",
         "[{\"_id\": 1, \"item\": \"almonds\", \"price\": 12, \"quantity\": 2}, {\"_id\": 2, "
         "\"item\": \"pecans\", \"price\": 20, \"quantity\": 1}]",
         "{\"$lookup\": {\"from\": " FROM(
             "items") ", \"localField\": \"item\", \"foreignField\": \"item\", \"as\": "
                      "\"fromItems\"}}, {\"$replaceRoot\": {\"newRoot\": {\"$mergeObjects\": "
                      "[{\"$arrayElemAt\": [\"$fromItems\", 0]}, \"$$ROOT\"]}}}, {\"$project\": "
                      "{\"fromItems\": 0}}",
         "[{\"_id\": 1, \"item\": \"almonds\", \"description\": \"almond clusters\", \"instock\": "
         "120, \"price\": 12, \"quantity\": 2}, {\"_id\": 2, \"item\": \"pecans\", "
         "\"description\": \"candied pecans\", \"instock\": 60, \"price\": 20, \"quantity\": 1}]");
  /* "Use Multiple Join Conditions and a Correlated Subquery" (the page writes $expr's
   * operand as a one-element array; here it is the expression itself). */
  EXPECT(c, "multiple join conditions",
         "[{\"_id\": 1, \"item\": \"almonds\", \"price\": 12, \"ordered\": 2}, {\"_id\": 2, "
         "\"item\": \"pecans\", \"price\": 20, \"ordered\": 1}, {\"_id\": 3, \"item\": "
         "\"cookies\", \"price\": 10, \"ordered\": 60}]",
         "{\"$lookup\": {\"from\": " FROM(
             "warehouses") ", \"localField\": \"item\", \"foreignField\": \"stock_item\", "
                           "\"let\": {\"order_qty\": \"$ordered\"}, \"pipeline\": [{\"$match\": "
                           "{\"$expr\": {\"$gte\": [\"$instock\", \"$$order_qty\"]}}}, "
                           "{\"$project\": {\"stock_item\": 0, \"_id\": 0}}], \"as\": "
                           "\"stockdata\"}}",
         "[{\"_id\": 1, \"item\": \"almonds\", \"price\": 12, \"ordered\": 2, \"stockdata\": "
         "[{\"warehouse\": \"A\", \"instock\": 120}, {\"warehouse\": \"B\", \"instock\": 60}]}, "
         "{\"_id\": 2, \"item\": \"pecans\", \"price\": 20, \"ordered\": 1, \"stockdata\": "
         "[{\"warehouse\": \"A\", \"instock\": 80}]}, {\"_id\": 3, \"item\": \"cookies\", "
         "\"price\": 10, \"ordered\": 60, \"stockdata\": [{\"warehouse\": \"A\", \"instock\": "
         "80}]}]");
  /* "Perform an Uncorrelated Subquery with $lookup". */
  EXPECT(c, "uncorrelated subquery",
         "[{\"_id\": 1, \"student\": \"Ann Aardvark\", \"sickdays\": [{\"$date\": "
         "\"2018-05-01T00:00:00Z\"}, {\"$date\": \"2018-08-23T00:00:00Z\"}]}, {\"_id\": 2, "
         "\"student\": \"Zoe Zebra\", \"sickdays\": [{\"$date\": \"2018-02-01T00:00:00Z\"}, "
         "{\"$date\": \"2018-05-23T00:00:00Z\"}]}]",
         "{\"$lookup\": {\"from\": " FROM(
             "holidays") ", \"pipeline\": [{\"$match\": {\"year\": 2018}}, {\"$project\": "
                         "{\"_id\": 0, \"date\": {\"name\": \"$name\", \"date\": \"$date\"}}}, "
                         "{\"$replaceRoot\": {\"newRoot\": \"$date\"}}], \"as\": \"holidays\"}}",
         "[{\"_id\": 1, \"student\": \"Ann Aardvark\", \"sickdays\": [{\"$date\": "
         "\"2018-05-01T00:00:00Z\"}, {\"$date\": \"2018-08-23T00:00:00Z\"}], \"holidays\": "
         "[{\"name\": \"New Years\", \"date\": {\"$date\": \"2018-01-01T00:00:00Z\"}}, {\"name\": "
         "\"Pi Day\", \"date\": {\"$date\": \"2018-03-14T00:00:00Z\"}}, {\"name\": \"Ice Cream "
         "Day\", \"date\": {\"$date\": \"2018-07-15T00:00:00Z\"}}]}, {\"_id\": 2, \"student\": "
         "\"Zoe Zebra\", \"sickdays\": [{\"$date\": \"2018-02-01T00:00:00Z\"}, {\"$date\": "
         "\"2018-05-23T00:00:00Z\"}], \"holidays\": [{\"name\": \"New Years\", \"date\": "
         "{\"$date\": \"2018-01-01T00:00:00Z\"}}, {\"name\": \"Pi Day\", \"date\": {\"$date\": "
         "\"2018-03-14T00:00:00Z\"}}, {\"name\": \"Ice Cream Day\", \"date\": {\"$date\": "
         "\"2018-07-15T00:00:00Z\"}}]}]");
  /* "Perform a Concise Correlated Subquery with $lookup", then the page's older verbose
   * form of the same join, which gives the same results. */
  const char *orders =
      "[{\"_id\": 1, \"item\": \"filet\", \"restaurant_name\": \"American Steak House\"}, "
      "{\"_id\": 2, \"item\": \"cheese pizza\", \"restaurant_name\": \"Honest John Pizza\", "
      "\"drink\": \"lemonade\"}, {\"_id\": 3, \"item\": \"cheese pizza\", \"restaurant_name\": "
      "\"Honest John Pizza\", \"drink\": \"soda\"}]";
  const char *matches =
      "[{\"_id\": 1, \"item\": \"filet\", \"restaurant_name\": \"American Steak House\", "
      "\"matches\": []}, {\"_id\": 2, \"item\": \"cheese pizza\", \"restaurant_name\": \"Honest "
      "John Pizza\", \"drink\": \"lemonade\", \"matches\": []}, {\"_id\": 3, \"item\": \"cheese "
      "pizza\", \"restaurant_name\": \"Honest John Pizza\", \"drink\": \"soda\", \"matches\": "
      "[{\"_id\": 2, \"name\": \"Honest John Pizza\", \"food\": [\"cheese pizza\", \"pepperoni "
      "pizza\"], \"beverages\": [\"soda\"]}]}]";
  EXPECT(c, "concise correlated subquery", orders,
         "{\"$lookup\": {\"from\": " FROM(
             "restaurants") ", \"localField\": \"restaurant_name\", \"foreignField\": \"name\", "
                            "\"let\": {\"orders_drink\": \"$drink\"}, \"pipeline\": [{\"$match\": "
                            "{\"$expr\": {\"$in\": [\"$$orders_drink\", \"$beverages\"]}}}], "
                            "\"as\": \"matches\"}}",
         matches);
  EXPECT(c, "verbose correlated subquery", orders,
         "{\"$lookup\": {\"from\": " FROM(
             "restaurants") ", \"let\": {\"orders_restaurant_name\": \"$restaurant_name\", "
                            "\"orders_drink\": \"$drink\"}, \"pipeline\": [{\"$match\": "
                            "{\"$expr\": {\"$and\": [{\"$eq\": [\"$$orders_restaurant_name\", "
                            "\"$name\"]}, {\"$in\": [\"$$orders_drink\", \"$beverages\"]}]}}}], "
                            "\"as\": \"matches\"}}",
         matches);
  /* Atlas Stream Processing's $lookup page: a dotted localField, then a $match that keeps
   * the enriched reports. */
  EXPECT(c, "stream processing example",
         "[{\"st\": \"x+55100+006100\", \"dewPoint\": {\"value\": 12.5, \"quality\": \"1\"}}, "
         "{\"st\": \"x+1\", \"dewPoint\": {\"value\": 3.5, \"quality\": \"1\"}}]",
         "{\"$lookup\": {\"from\": " FROM("humidity_descriptions") ", \"localField\": "
                                                                   "\"dewPoint.value\", "
                                                                   "\"foreignField\": "
                                                                   "\"dewPoint\", \"as\": "
                                                                   "\"humidity_info\"}}, "
                                                                   "{\"$match\": "
                                                                   "{\"humidity_info\": {\"$ne\": "
                                                                   "[]}}}, {\"$project\": "
                                                                   "{\"humidity_info._id\": 0}}",
         "[{\"st\": \"x+55100+006100\", \"dewPoint\": {\"value\": 12.5, \"quality\": \"1\"}, "
         "\"humidity_info\": [{\"dewPoint\": 12.5, \"relativeHumidity\": 62, \"condition\": "
         "\"humid, muggy\"}]}]");
}

/* MongoDB's array and type rules of the equality form (its lookup.js regression cases):
 * numbers of different types are equal, an array foreignField matches by element, a
 * nested array localField element is compared whole, and `as` may be a dotted path. */
static void equality_rules(mongoc_client_t *c) {
  insert(c, "rules",
         "[{\"_id\": 0, \"b\": 1}, {\"_id\": 1, \"b\": null}, {\"_id\": 2}, {\"_id\": 3, \"b\": "
         "[1, 2]}, {\"_id\": 4, \"b\": [[7, 8]]}, {\"_id\": 5, \"b\": {\"$numberLong\": \"9\"}}]");
  EXPECT(c, "equality rules",
         "[{\"a\": 1}, {\"a\": null}, {\"a\": 9.0}, {\"a\": [[7, 8]]}, {\"a\": []}, {\"a\": [2, "
         "9]}]",
         "{\"$lookup\": {\"from\": " FROM("rules") ", \"localField\": \"a\", \"foreignField\": "
                                                   "\"b\", \"as\": \"x.ids\"}}, {\"$project\": "
                                                   "{\"_id\": 0, \"a\": 1, \"ids\": "
                                                   "\"$x.ids._id\"}}",
         "[{\"a\": 1, \"ids\": [0, 3]}, {\"a\": null, \"ids\": [1, 2]}, {\"a\": 9.0, \"ids\": [5]},"
         " {\"a\": [[7, 8]], \"ids\": [4]}, {\"a\": [], \"ids\": [1, 2]}, {\"a\": [2, 9], \"ids\": "
         "[3, 5]}]");
  /* A nested $lookup names a collection of the same connection and database. */
  EXPECT(c, "nested lookup", "[{\"item\": \"almonds\"}]",
         "{\"$lookup\": {\"from\": " FROM(
             "warehouses") ", \"localField\": \"item\", \"foreignField\": \"stock_item\", "
                           "\"pipeline\": [{\"$lookup\": {\"from\": \"inventory\", "
                           "\"localField\": \"stock_item\", \"foreignField\": \"sku\", \"as\": "
                           "\"inv\"}}, {\"$project\": {\"_id\": 0, \"warehouse\": 1, \"desc\": "
                           "\"$inv.description\"}}], \"as\": \"w\"}}",
         "[{\"item\": \"almonds\", \"w\": [{\"warehouse\": \"A\", \"desc\": [\"product 1\"]}, "
         "{\"warehouse\": \"B\", \"desc\": [\"product 1\"]}]}]");
  /* A collection that does not exist joins nothing. */
  EXPECT(c, "no collection", "[{\"k\": 1}]",
         "{\"$lookup\": {\"from\": " FROM("nothing") ", \"localField\": \"k\", \"foreignField\": "
                                                     "\"k\", \"as\": \"none\"}}",
         "[{\"k\": 1, \"none\": []}]");
  /* Inside a window's pipeline (event time from t, after the documents), per document
   * before the $group. */
  EXPECT(c, "in a window",
         "[{\"item\": \"almonds\", \"t\": {\"$date\": \"2024-01-01T00:00:01Z\"}}, {\"item\": "
         "\"pecans\", \"t\": {\"$date\": \"2024-01-01T00:00:02Z\"}}], \"timeField\": \"$t\"",
         "{\"$tumblingWindow\": {\"interval\": {\"size\": 10, \"unit\": \"second\"}, "
         "\"allowedLateness\": 0, \"pipeline\": [{\"$lookup\": {\"from\": " FROM(
             "inventory") ", \"localField\": \"item\", \"foreignField\": \"sku\", \"as\": "
                          "\"inv\"}}, {\"$unwind\": \"$inv\"}, {\"$group\": {\"_id\": null, "
                          "\"stock\": {\"$sum\": \"$inv.instock\"}}}]}}, {\"$project\": "
                          "{\"_id\": 0, \"stock\": 1}}",
         "[{\"stock\": 190}]");
}

/* The equality form through its index, which serves from an instance's second document
 * on (the first of each run below scans): numbers equal across int, long, double and
 * decimal (exactly: a long past 2^53 is not the double next to it), strings by bytes,
 * arrays on either side, null against null, missing and arrays holding null, documents
 * by field, NaN against NaN and -0 against 0. */
static void indexed_equality(mongoc_client_t *c) {
  insert(c, "typed",
         "[{\"_id\": 0, \"k\": 1}, {\"_id\": 1, \"k\": {\"$numberLong\": \"1\"}}, {\"_id\": 2, "
         "\"k\": 1.0}, {\"_id\": 3, \"k\": {\"$numberDecimal\": \"1.0\"}}, {\"_id\": 4, \"k\": "
         "\"1\"}, {\"_id\": 5, \"k\": [3, 1]}, {\"_id\": 6, \"k\": null}, {\"_id\": 7}, {\"_id\": "
         "8, \"k\": {\"x\": 1}}, {\"_id\": 9, \"k\": [[1]]}, {\"_id\": 10, \"k\": \"A\"}, "
         "{\"_id\": 11, \"k\": \"a\"}, {\"_id\": 12, \"k\": [null, 5]}, {\"_id\": 13, \"k\": "
         "{\"$numberDecimal\": \"2.50\"}}, {\"_id\": 14, \"k\": 2.5}, {\"_id\": 15, \"k\": "
         "{\"$numberDouble\": \"-0.0\"}}, {\"_id\": 16, \"k\": 0}, {\"_id\": 17, \"k\": "
         "{\"$numberDouble\": \"NaN\"}}, {\"_id\": 18, \"k\": {\"$numberDecimal\": \"NaN\"}}, "
         "{\"_id\": 19, \"k\": {\"$numberLong\": \"9007199254740993\"}}, {\"_id\": 20, \"k\": "
         "{\"$numberLong\": \"9007199254740992\"}}, {\"_id\": 21, \"k\": true}, {\"_id\": 22, "
         "\"k\": {\"$date\": \"2024-01-01T00:00:00Z\"}}]");
  EXPECT(c, "indexed equality",
         "[{\"a\": \"none\"}, {\"a\": 1}, {\"a\": {\"$numberLong\": \"1\"}}, {\"a\": 1.0}, {\"a\": "
         "{\"$numberDecimal\": \"1\"}}, {\"a\": \"1\"}, {\"a\": null}, {}, {\"a\": []}, {\"a\": "
         "[1, \"A\"]}, {\"a\": [1, 1.0, {\"$numberLong\": \"1\"}]}, {\"a\": [[1]]}, {\"a\": "
         "{\"x\": 1.0}}, {\"a\": \"a\"}, {\"a\": 2.5}, {\"a\": 0}, {\"a\": {\"$numberDouble\": "
         "\"NaN\"}}, {\"a\": {\"$numberLong\": \"9007199254740993\"}}, {\"a\": "
         "9007199254740992.0}, {\"a\": [5]}, {\"a\": true}, {\"a\": {\"$date\": "
         "\"2024-01-01T00:00:00Z\"}}]",
         "{\"$lookup\": {\"from\": " FROM("typed") ", \"localField\": \"a\", \"foreignField\": "
                                                   "\"k\", \"as\": \"j\"}}, {\"$project\": "
                                                   "{\"_id\": 0, \"ids\": \"$j._id\"}}",
         "[{\"ids\": []}, {\"ids\": [0, 1, 2, 3, 5]}, {\"ids\": [0, 1, 2, 3, 5]}, {\"ids\": [0, 1, "
         "2, 3, 5]}, {\"ids\": [0, 1, 2, 3, 5]}, {\"ids\": [4]}, {\"ids\": [6, 7, 12]}, {\"ids\": "
         "[6, 7, 12]}, {\"ids\": [6, 7, 12]}, {\"ids\": [0, 1, 2, 3, 5, 10]}, {\"ids\": [0, 1, 2, "
         "3, 5]}, {\"ids\": [9]}, {\"ids\": [8]}, {\"ids\": [11]}, {\"ids\": [13, 14]}, {\"ids\": "
         "[15, 16]}, {\"ids\": [17, 18]}, {\"ids\": [19]}, {\"ids\": [20]}, {\"ids\": [12]}, "
         "{\"ids\": [21]}, {\"ids\": [22]}]");
  /* The joined documents are the collection's own, type for type. */
  EXPECT(c, "indexed documents", "[{\"a\": 0}, {\"a\": 2.5}]",
         "{\"$lookup\": {\"from\": " FROM("typed") ", \"localField\": \"a\", \"foreignField\": "
                                                   "\"k\", \"as\": \"j\"}}, {\"$project\": "
                                                   "{\"_id\": 0, \"j\": 1}}",
         "[{\"j\": [{\"_id\": 15, \"k\": {\"$numberDouble\": \"-0.0\"}}, {\"_id\": 16, \"k\": "
         "0}]}, {\"j\": [{\"_id\": 13, \"k\": {\"$numberDecimal\": \"2.50\"}}, {\"_id\": 14, \"k\": "
         "2.5}]}]");
  /* A dotted foreignField walks arrays of documents; where an element or a scalar on
   * the way lacks the field, null matches. */
  insert(c, "paths",
         "[{\"_id\": 0, \"s\": [{\"k\": 4}, {\"k\": 5}]}, {\"_id\": 1, \"s\": {\"k\": [4, 6]}}, "
         "{\"_id\": 2, \"s\": [{\"k\": 4}, {\"j\": 1}]}, {\"_id\": 3, \"s\": 4}, {\"_id\": 4, "
         "\"s\": [1, 2]}, {\"_id\": 5}]");
  EXPECT(c, "indexed dotted path",
         "[{\"a\": \"none\"}, {\"a\": 4}, {\"a\": 5}, {\"a\": null}, {\"a\": [6, 5]}]",
         "{\"$lookup\": {\"from\": " FROM("paths") ", \"localField\": \"a\", \"foreignField\": "
                                                   "\"s.k\", \"as\": \"j\"}}, {\"$project\": "
                                                   "{\"_id\": 0, \"ids\": \"$j._id\"}}",
         "[{\"ids\": []}, {\"ids\": [0, 1, 2]}, {\"ids\": [0]}, {\"ids\": [2, 3, 5]}, {\"ids\": "
         "[0, 1]}]");
  /* An array index in the path is read both as an index and as a field name: scanned. */
  EXPECT(c, "array index in foreignField", "[{\"a\": \"none\"}, {\"a\": 4}, {\"a\": 5}]",
         "{\"$lookup\": {\"from\": " FROM("paths") ", \"localField\": \"a\", \"foreignField\": "
                                                   "\"s.0.k\", \"as\": \"j\"}}, {\"$project\": "
                                                   "{\"_id\": 0, \"ids\": \"$j._id\"}}",
         "[{\"ids\": []}, {\"ids\": [0, 2]}, {\"ids\": []}]");
  /* The combined form: the equality filter through the index, then the pipeline. */
  EXPECT(c, "indexed combined form", "[{\"a\": \"none\"}, {\"a\": 1}, {\"a\": 2.5}]",
         "{\"$lookup\": {\"from\": " FROM("typed") ", \"localField\": \"a\", \"foreignField\": "
                                                   "\"k\", \"pipeline\": [{\"$match\": {\"_id\": "
                                                   "{\"$gte\": 2}}}, {\"$project\": "
                                                   "{\"_id\": 1}}], \"as\": \"j\"}}, "
                                                   "{\"$project\": {\"_id\": 0, \"ids\": "
                                                   "\"$j._id\"}}",
         "[{\"ids\": []}, {\"ids\": [2, 3, 5]}, {\"ids\": [13, 14]}]");
}

/* Runs a command on the database shop. */
static bool shop_run(mongoc_client_t *c, const char *json, bson_t *reply, bson_error_t *error) {
  bson_t *command = bson_new_from_json((const uint8_t *)json, -1, error);
  if (!command) {
    bson_init(reply);
    return false;
  }
  bool ok = mongoc_client_command_simple(c, "shop", command, NULL, reply, error);
  bson_destroy(command);
  return ok;
}

/* Documents of shop.<coll> that match filter_json (the count command's query). */
static int64_t count_where(mongoc_client_t *c, const char *coll, const char *filter_json) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "{\"count\": \"%s\", \"query\": %s}", coll, filter_json);
  bson_t reply;
  bson_error_t error;
  int64_t n = shop_run(c, cmd, &reply, &error) ? wt_int(&reply, "n", NULL) : -1;
  bson_destroy(&reply);
  return n;
}

/* Waits (10 s at most) until shop.latest, where the processor `fresh` keeps each
 * group's join, holds at least `least` documents matching `with` and none matching
 * `other`. */
static bool latest_holds(mongoc_client_t *c, const char *with, int64_t least, const char *other) {
  for (int i = 0; i < 500; i++) {
    if (count_where(c, "latest", with) >= least && count_where(c, "latest", other) == 0) {
      return true;
    }
    usleep(20000);
  }
  fprintf(stderr, "FAIL: no join gave %s\n", with);
  return false;
}

/* Every group joined with a device tagged `tag` since the last write. */
static bool all_tagged(mongoc_client_t *c, const char *tag) {
  char with[128], other[128];
  snprintf(with, sizeof with, "{\"tag\": \"%s\"}", tag);
  snprintf(other, sizeof other, "{\"tag\": {\"$ne\": \"%s\"}}", tag);
  return latest_holds(c, with, 5, other);
}

static void write_ok(mongoc_client_t *c, const char *json) {
  bson_t reply;
  bson_error_t error;
  if (!shop_run(c, json, &reply, &error)) {
    fprintf(stderr, "FAIL: %s: %s\n", json, error.message);
    wt_failures++;
  }
  bson_destroy(&reply);
}

static void insert_devices(mongoc_client_t *c, const char *tag) {
  char docs[2048] = "[";
  for (int g = 0; g <= 10; g++) {
    char one[96];
    snprintf(one, sizeof one, "%s{\"group\": %d, \"tag\": \"%s\"}", g ? ", " : "", g, tag);
    strcat(docs, one);
  }
  strcat(docs, "]");
  insert(c, "devices2", docs);
}

/* A running processor joins the solar source's group_id (0..10) with shop.devices2 and
 * keeps the tag of each group's last device in shop.latest. Its index is built while
 * the collection stays unchanged; each kind of write must then reach the next joins. */
static void index_freshness(mongoc_client_t *c) {
  insert_devices(c, "v1");
  WT_OK(c,
        "{\"createStreamProcessor\": \"fresh\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"fast_solar\"}}, {\"$lookup\": {\"from\": " FROM(
            "devices2") ", \"localField\": \"group_id\", \"foreignField\": \"group\", \"as\": "
                        "\"dev\"}}, {\"$project\": {\"_id\": \"$group_id\", \"tag\": "
                        "{\"$ifNull\": [{\"$last\": \"$dev.tag\"}, \"none\"]}}}, {\"$merge\": "
                        "{\"into\": " FROM("latest") "}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"fresh\"}");
  CHECK(all_tagged(c, "v1"));
  /* The index is state of the operator. */
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"fresh\", \"options\": {\"verbose\": true}}",
               &reply, &error));
  CHECK(wt_double(&reply, "stats.operatorStats.1.stateSize") > 0);
  bson_destroy(&reply);
  write_ok(c,
           "{\"update\": \"devices2\", \"updates\": [{\"q\": {}, \"u\": {\"$set\": {\"tag\": "
           "\"v2\"}}, \"multi\": true}]}");
  CHECK(all_tagged(c, "v2"));
  /* Appended by another processor's $merge: the last device of each group. */
  WT_OK(c,
        "{\"createStreamProcessor\": \"feeder\", \"pipeline\": [{\"$source\": {\"documents\": "
        "[{\"group\": 0}, {\"group\": 1}, {\"group\": 2}, {\"group\": 3}, {\"group\": 4}, "
        "{\"group\": 5}, {\"group\": 6}, {\"group\": 7}, {\"group\": 8}, {\"group\": 9}, "
        "{\"group\": 10}]}}, {\"$addFields\": {\"tag\": \"v3\"}}, {\"$merge\": {\"into\": " FROM(
            "devices2") "}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"feeder\"}");
  CHECK(all_tagged(c, "v3"));
  write_ok(c,
           "{\"delete\": \"devices2\", \"deletes\": [{\"q\": {\"tag\": \"v3\"}, \"limit\": 0}]}");
  CHECK(all_tagged(c, "v2"));
  write_ok(c,
           "{\"findAndModify\": \"devices2\", \"query\": {\"group\": 0}, \"update\": {\"$set\": "
           "{\"tag\": \"fam\"}}}");
  CHECK(latest_holds(c, "{\"_id\": 0, \"tag\": \"fam\"}", 1, "{\"_id\": 0, \"tag\": \"v2\"}"));
  write_ok(c, "{\"drop\": \"devices2\"}");
  CHECK(all_tagged(c, "none"));
  insert_devices(c, "v4");
  CHECK(all_tagged(c, "v4"));
}

/* After a restart the processor joins the collection restored from the store, and
 * writes still reach it. */
static void index_after_restart(aspd_instance_t *inst, const char *dir) {
  aspd_harness_stop(inst);
  const char *no_args[] = {NULL};
  if (!aspd_harness_start(inst, dir, no_args)) {
    fprintf(stderr, "FAIL: aspd did not start again\n");
    wt_failures++;
    return;
  }
  mongoc_client_t *c = wt_client(inst);
  write_ok(c, "{\"drop\": \"latest\"}");
  CHECK(all_tagged(c, "v4"));
  write_ok(c,
           "{\"update\": \"devices2\", \"updates\": [{\"q\": {}, \"u\": {\"$set\": {\"tag\": "
           "\"v5\"}}, \"multi\": true}]}");
  CHECK(all_tagged(c, "v5"));
  WT_OK(c, "{\"stopStreamProcessor\": \"fresh\"}");
  mongoc_client_destroy(c);
}

/* Writes to the foreign collection while a processor runs are seen by later documents. */
static void live_collection(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"join\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"fast_solar\"}}, {\"$lookup\": {\"from\": " FROM(
            "devices") ", \"localField\": \"group_id\", \"foreignField\": \"group\", \"as\": "
                       "\"dev\"}}, {\"$match\": {\"dev\": {\"$ne\": []}}}, {\"$merge\": "
                       "{\"into\": " FROM("joined") "}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"join\"}");
  usleep(300000);
  CHECK(count(c, "joined") == 0);
  /* The solar source's group_id is 0..9: every group gets a device document. */
  char docs[2048] = "[";
  for (int g = 0; g < 10; g++) {
    char one[64];
    snprintf(one, sizeof one, "%s{\"group\": %d, \"site\": \"s%d\"}", g ? ", " : "", g, g);
    strcat(docs, one);
  }
  strcat(docs, "]");
  insert(c, "devices", docs);
  int64_t n = 0;
  for (int i = 0; i < 200 && n < 5; i++) {
    usleep(20000);
    n = count(c, "joined");
  }
  CHECK(n >= 5);
  /* Its stats: the operator's row counts what went in and out. */
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"join\", \"options\": {\"verbose\": true}}",
               &reply, &error));
  char s[64];
  CHECK(!strcmp(wt_str(&reply, "stats.operatorStats.1.name", s, sizeof s), "LookUpOperator"));
  int64_t in = wt_int(&reply, "stats.operatorStats.1.inputMessageCount", NULL);
  CHECK(in > 0 && wt_int(&reply, "stats.operatorStats.1.outputMessageCount", NULL) == in);
  CHECK(wt_double(&reply, "stats.operatorStats.1.outputMessageSize") >
        wt_double(&reply, "stats.operatorStats.1.inputMessageSize"));
  bson_destroy(&reply);
  WT_OK(c, "{\"stopStreamProcessor\": \"join\"}");
}

/* A document whose join cannot be made is dead-lettered, with the reason. */
static void dead_letters(mongoc_client_t *c) {
  bson_t out = BSON_INITIALIZER;
  uint32_t n = wt_process(
      c,
      "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"d\": 0}, {\"d\": 2}]}}, "
      "{\"$lookup\": {\"from\": " FROM("inventory") ", \"let\": {\"q\": {\"$divide\": [240, "
                                                    "\"$d\"]}}, \"pipeline\": [{\"$match\": "
                                                    "{\"$expr\": {\"$eq\": [\"$instock\", "
                                                    "\"$$q\"]}}}], \"as\": \"hit\"}}]}",
      &out);
  CHECK(n == 2);
  char s[256];
  CHECK(strstr(wt_str(&out, "0._dlqMessage.errInfo.reason", s, sizeof s), "divide by zero"));
  CHECK(!strcmp(wt_str(&out, "0._dlqMessage.operatorName", s, sizeof s), "LookUpOperator"));
  CHECK(wt_int(&out, "1.hit.0._id", NULL) == 1);
  bson_destroy(&out);
  /* An error inside the pipeline dead-letters the input document. */
  bson_init(&out);
  n = wt_process(c,
                 "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"d\": 0}]}}, "
                 "{\"$lookup\": {\"from\": " FROM("inventory") ", \"let\": {\"d\": \"$d\"}, "
                                                               "\"pipeline\": [{\"$addFields\": "
                                                               "{\"r\": {\"$divide\": "
                                                               "[\"$instock\", \"$$d\"]}}}], "
                                                               "\"as\": \"hit\"}}]}",
                 &out);
  CHECK(n == 1 && strstr(wt_str(&out, "0._dlqMessage.errInfo.reason", s, sizeof s), "divide"));
  bson_destroy(&out);
}

#define LOOKUP_ERR(c, spec, code, text)                                                          \
  WT_ERR(c,                                                                                      \
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$lookup\": " spec \
         "}]}",                                                                                  \
         code, text)

/* The same single equality join run by the aggregate command on collections, as a
 * driver writes it (`from` a collection of the same database), and in ASP's form. */
static void in_aggregate(mongoc_client_t *c) {
  insert(c, "orders",
         "[{\"_id\": 1, \"item\": \"almonds\", \"price\": 12, \"quantity\": 2}, {\"_id\": 2, "
         "\"item\": \"pecans\", \"price\": 20, \"quantity\": 1}, {\"_id\": 3}]");
  const char *want =
      "{\"v\": [{\"_id\": 1, \"item\": \"almonds\", \"price\": 12, \"quantity\": 2, "
      "\"inventory_docs\": [{\"_id\": 1, \"sku\": \"almonds\", \"description\": \"product 1\", "
      "\"instock\": 120}]}, {\"_id\": 2, \"item\": \"pecans\", \"price\": 20, \"quantity\": 1, "
      "\"inventory_docs\": [{\"_id\": 4, \"sku\": \"pecans\", \"description\": \"product 4\", "
      "\"instock\": 70}]}, {\"_id\": 3, \"inventory_docs\": [{\"_id\": 5, \"sku\": null, "
      "\"description\": \"Incomplete\"}, {\"_id\": 6}]}]}";
  const char *froms[] = {"\"inventory\"", FROM("inventory")};
  for (size_t i = 0; i < 2; i++) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "{\"aggregate\": \"orders\", \"pipeline\": [{\"$lookup\": {\"from\": %s, "
             "\"localField\": \"item\", \"foreignField\": \"sku\", \"as\": "
             "\"inventory_docs\"}}, {\"$sort\": {\"_id\": 1}}], \"cursor\": {}}",
             froms[i]);
    bson_error_t error;
    bson_t *command = bson_new_from_json((const uint8_t *)cmd, -1, &error);
    bson_t reply, got = BSON_INITIALIZER;
    bson_iter_t it;
    if (!mongoc_client_command_simple(c, "shop", command, NULL, &reply, &error)) {
      fprintf(stderr, "FAIL: aggregate with $lookup from %s: %s\n", froms[i], error.message);
      wt_failures++;
    } else if (bson_iter_init(&it, &reply) &&
               bson_iter_find_descendant(&it, "cursor.firstBatch", &it) &&
               BSON_ITER_HOLDS_ARRAY(&it)) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_array(&it, &len, &data);
      bson_t batch;
      bson_init_static(&batch, data, len);
      BSON_APPEND_ARRAY(&got, "v", &batch);
      bson_t *expected = bson_new_from_json((const uint8_t *)want, -1, &error);
      if (!bson_equal(&got, expected)) {
        char *g = bson_as_canonical_extended_json(&got, NULL);
        fprintf(stderr, "FAIL: aggregate with $lookup from %s: got %s\n", froms[i], g);
        bson_free(g);
        wt_failures++;
      }
      bson_destroy(expected);
    } else {
      fprintf(stderr, "FAIL: aggregate with $lookup from %s: no firstBatch\n", froms[i]);
      wt_failures++;
    }
    bson_destroy(&got);
    bson_destroy(&reply);
    bson_destroy(command);
  }
}

static void planner_errors(mongoc_client_t *c) {
  LOOKUP_ERR(c, "1", 9, "the $lookup specification must be an Object");
  LOOKUP_ERR(c,
             "{\"from\": {\"connectionName\": \"nope\", \"db\": \"d\", \"coll\": \"c\"}, "
             "\"localField\": \"a\", \"foreignField\": \"b\", \"as\": \"x\"}",
             420, "Unknown connection name nope");
  LOOKUP_ERR(c,
             "{\"from\": {\"connectionName\": \"kafka0\", \"db\": \"d\", \"coll\": \"c\"}, "
             "\"localField\": \"a\", \"foreignField\": \"b\", \"as\": \"x\"}",
             420, "Only atlas connection type is currently supported for $lookup");
  LOOKUP_ERR(c,
             "{\"from\": {\"connectionName\": \"cluster0\", \"db\": \"d\"}, \"localField\": "
             "\"a\", \"foreignField\": \"b\", \"as\": \"x\"}",
             420, "connectionName, db and coll");
  LOOKUP_ERR(c, "{\"from\": \"c\", \"localField\": \"a\", \"foreignField\": \"b\", \"as\": \"x\"}",
             420, "$lookup.from must be a document");
  LOOKUP_ERR(c, "{\"localField\": \"a\", \"foreignField\": \"b\", \"as\": \"x\"}", 9,
             "$lookup stage without explicit collection");
  LOOKUP_ERR(c, "{\"from\": " FROM("c") ", \"localField\": \"a\", \"foreignField\": \"b\"}", 9,
             "must specify 'as' field for a $lookup");
  LOOKUP_ERR(c, "{\"from\": " FROM("c") ", \"localField\": \"a\", \"as\": \"x\"}", 9,
             "$lookup requires either 'pipeline' or both 'localField' and 'foreignField'");
  LOOKUP_ERR(c, "{\"from\": " FROM("c") ", \"localField\": \"a\", \"pipeline\": [], \"as\": \"x\"}",
             9, "$lookup requires both or neither of 'localField' and 'foreignField'");
  LOOKUP_ERR(c,
             "{\"from\": " FROM("c") ", \"localField\": \"a\", \"foreignField\": \"b\", \"let\": "
                                     "{\"v\": 1}, \"as\": \"x\"}",
             9, "$lookup with a 'let' argument must also specify 'pipeline'");
  LOOKUP_ERR(c, "{\"from\": " FROM("c") ", \"pipeline\": [], \"as\": \"x\", \"colation\": 1}", 9,
             "unknown argument to $lookup: colation");
  LOOKUP_ERR(c, "{\"from\": " FROM("c") ", \"pipeline\": [], \"as\": 1}", 9,
             "$lookup argument 'as' must be a string");
  LOOKUP_ERR(c, "{\"from\": " FROM("c") ", \"pipeline\": {}, \"as\": \"x\"}", 9,
             "'pipeline' option must be specified as an array");
  LOOKUP_ERR(c, "{\"from\": " FROM("c") ", \"let\": 1, \"pipeline\": [], \"as\": \"x\"}", 9,
             "$lookup argument 'let' must be an object");
  LOOKUP_ERR(c, "{\"from\": " FROM("c") ", \"let\": {\"Bad\": 1}, \"pipeline\": [], \"as\": \"x\"}",
             16870, "'Bad' starts with an invalid character");
  LOOKUP_ERR(c,
             "{\"from\": " FROM("c") ", \"pipeline\": [{\"$merge\": {\"into\": " FROM(
                 "d") "}}], \"as\": \"x\"}",
             51047, "$merge is not allowed within a $lookup's sub-pipeline");
  LOOKUP_ERR(c,
             "{\"from\": " FROM("c") ", \"pipeline\": [{\"$tumblingWindow\": {}}], \"as\": \"x\"}",
             51047, "$tumblingWindow is not allowed within a $lookup's sub-pipeline");
  LOOKUP_ERR(c, "{\"from\": " FROM("c") ", \"pipeline\": [{\"$nope\": {}}], \"as\": \"x\"}", 9,
             "Unsupported stage: $nope");
  LOOKUP_ERR(
      c,
      "{\"from\": " FROM(
          "c") ", \"pipeline\": [{\"$match\": {\"$expr\": \"$$undefinedVar\"}}], \"as\": \"x\"}",
      17276, "Use of undefined variable: undefinedVar");
  LOOKUP_ERR(c, "{\"from\": " FROM("c") ", \"pipeline\": [], \"as\": \"x\", \"parallelism\": 0}",
             420, "$lookup.parallelism must be an integer between 1 and 16");
  /* A valid spec with parallelism and partitionBy plans. */
  bson_t out = BSON_INITIALIZER;
  CHECK(wt_process(c,
                   "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"a\": 1}]}}, "
                   "{\"$lookup\": {\"from\": " FROM("c") ", \"pipeline\": [], \"as\": \"x\", "
                                                         "\"parallelism\": 4, \"partitionBy\": "
                                                         "\"$a\"}}]}",
                   &out) == 1);
  bson_destroy(&out);
}

int main(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) return 1;
  aspd_instance_t inst;
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  seed(c);
  documented_examples(c);
  equality_rules(c);
  live_collection(c);
  dead_letters(c);
  in_aggregate(c);
  planner_errors(c);
  indexed_equality(c);
  index_freshness(c);
  mongoc_client_destroy(c);
  index_after_restart(&inst, dir);
  aspd_harness_stop(&inst);
  return wt_finish("test_lookup");
}
