-- asp.pipeline builder: one block per stage builder, plus the value helpers.
-- Pure Lua: needs no C module.
local P = require "asp.pipeline"

local function order(t)
  local mt = getmetatable(t)
  return mt and mt.__asp_order
end

-- The single stage a one-stage builder produced: name, spec.
local function only(p)
  local list = p:build()
  assert.are.equal(1, #list)
  local name, spec = next(list[1])
  assert.is_nil(next(list[1], name))
  return name, spec
end

local function raises(pattern, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  assert.matches(pattern, tostring(err), 1, true)
  -- Raised at the caller's line, not inside the builder.
  assert.matches("pipeline_builder_spec.lua", tostring(err), 1, true)
end

describe("asp.pipeline values", function()
  it("ordered keeps key order and appends later keys", function()
    local d = P.ordered("b", 1, "a", 2)
    assert.same({ b = 1, a = 2 }, d)
    assert.same({ "b", "a" }, order(d))
    d.c = 3
    assert.same({ "b", "a", "c" }, order(d))
  end)

  it("ordered also takes one list, like asp.ordered, with nil values keeping their place", function()
    local d = P.ordered { "b", 1, "a", nil }
    assert.same({ b = 1 }, d)
    assert.same({ "b", "a" }, order(d))
    d.a = 2
    assert.same({ "b", "a" }, order(d))
  end)

  it("ordered rejects odd arguments, non-string and duplicate keys", function()
    assert.has_error(function() P.ordered("a") end)
    assert.has_error(function() P.ordered(1, 2) end)
    assert.has_error(function() P.ordered("a", 1, "a", 2) end, "asp.pipeline: ordered(): duplicate key 'a'")
  end)

  it("array marks tables so empty arrays stay arrays", function()
    assert.is_true(getmetatable(P.array()).__asp_array)
    local t = P.array { 1, 2 }
    assert.same({ 1, 2 }, t)
    assert.is_true(getmetatable(t).__asp_array)
  end)

  it("duration builds {size, unit} in that order and checks the unit", function()
    local d = P.duration(10, "second")
    assert.same({ size = 10, unit = "second" }, d)
    assert.same({ "size", "unit" }, order(d))
    for _, u in ipairs { "ms", "second", "minute", "hour", "day" } do
      assert.equal(u, P.duration(1, u).unit)
    end
    assert.has_error(function() P.duration(1, "week") end,
      "asp.pipeline: duration unit must be one of ms, second, minute, hour, day, got week")
    assert.has_error(function() P.duration("1", "ms") end)
  end)

  it("offset builds {offsetFromUtc, unit}", function()
    local o = P.offset(-5, "hour")
    assert.same({ offsetFromUtc = -5, unit = "hour" }, o)
    assert.same({ "offsetFromUtc", "unit" }, order(o))
    assert.has_error(function() P.offset(1, "day") end)
  end)

  it("meta builds stream metadata references", function()
    assert.same({ ["$meta"] = "stream.source.ts" }, P.meta("stream.source.ts"))
    assert.same({ ["$meta"] = "stream.window.start" }, P.meta("window.start"))
    assert.same({ ["$meta"] = "stream" }, P.meta())
  end)
end)

describe("asp.pipeline builder", function()
  it("build returns a new array of one-key stage tables", function()
    local p = P.new():source { connection_name = "sample_stream_solar" }:emit { connection_name = "__testLog" }
    local a, b = p:build(), p:build()
    assert.are_not.equal(a, b)
    assert.same({
      { ["$source"] = { connectionName = "sample_stream_solar" } },
      { ["$emit"] = { connectionName = "__testLog" } },
    }, a)
    assert.is_true(getmetatable(a).__asp_array)
  end)

  it("an empty pipeline builds an empty array", function()
    local a = P.new():build()
    assert.same({}, a)
    assert.is_true(getmetatable(a).__asp_array)
  end)

  it("options accept snake_case and camelCase, emitted as camelCase", function()
    local _, a = only(P.new():source { connection_name = "k", ts_field_name = "ts" })
    local _, b = only(P.new():source { connectionName = "k", tsFieldName = "ts" })
    assert.same({ connectionName = "k", tsFieldName = "ts" }, a)
    assert.same(a, b)
  end)

  it("unknown options raise naming the option and the stage", function()
    raises("unknown option 'conection_name' for $source", function()
      P.new():source { conection_name = "x" }
    end)
    raises("unknown option 'colection' for $merge.into", function()
      P.new():merge { into = { connection_name = "c", db = "d", colection = "x" } }
    end)
    raises("unknown option 'foo' for $tumblingWindow", function()
      P.new():tumbling_window { interval = P.duration(1, "second"), pipeline = {}, foo = 1 }
    end)
    raises("unknown option 'bogus' for $source.config", function()
      P.new():source { connection_name = "k", config = { bogus = true } }
    end)
  end)

  it("the same option given twice raises", function()
    raises("option 'tsFieldName' given twice for $source", function()
      P.new():source { ts_field_name = "a", tsFieldName = "b" }
    end)
  end)

  it("options must be a table", function()
    raises("$merge takes a table of options, got string", function() P.new():merge("x") end)
  end)

  it("stage methods return the pipeline for chaining", function()
    local p = P.new()
    assert.equal(p, p:match { a = 1 })
  end)
end)

describe("stage builders", function()
  describe("source", function()
    it("Kafka: topic, timeField, partitionIdleTimeout and config in documented order", function()
      local name, spec = only(P.new():source {
        config = { auto_offset_reset = "earliest", group_id = "g", enable_auto_commit = false,
          key_format = "string", key_format_error = "dlq" },
        partition_idle_timeout = P.duration(1, "minute"),
        time_field = { ["$dateFromString"] = { dateString = "$timestamp" } },
        topic = { "a", "b" },
        connection_name = "kafka",
        ts_field_name = "ingest_ts",
        schema_registry = { connection_name = "registry" },
      })
      assert.equal("$source", name)
      assert.same({ "connectionName", "topic", "timeField", "tsFieldName", "partitionIdleTimeout",
        "schemaRegistry", "config" }, order(spec))
      assert.same({ auto_offset_reset = "earliest", group_id = "g", enable_auto_commit = false,
        keyFormat = "string", keyFormatError = "dlq" }, spec.config)
      assert.same({ "auto_offset_reset", "group_id", "enable_auto_commit", "keyFormat", "keyFormatError" },
        order(spec.config))
      assert.same({ connectionName = "registry" }, spec.schemaRegistry)
    end)

    it("change stream: db, coll, initialSync, readPreference and config", function()
      local _, spec = only(P.new():source {
        connection_name = "atlas", db = "shop", coll = { "orders", "items" },
        initial_sync = { enable = true, parallelism = 2 },
        read_preference = "secondary",
        config = { full_document = "updateLookup", full_document_before_change = "whenAvailable",
          max_await_time_ms = 500, pipeline = { { ["$match"] = { operationType = "insert" } } } },
      })
      assert.same({ "connectionName", "db", "coll", "initialSync", "readPreference", "config" }, order(spec))
      assert.same({ "fullDocument", "fullDocumentBeforeChange", "pipeline", "maxAwaitTimeMS" }, order(spec.config))
      assert.same({ "enable", "parallelism" }, order(spec.initialSync))
    end)

    it("Kinesis: stream, region, shardIdleTimeout and config", function()
      local _, spec = only(P.new():source {
        connection_name = "kinesis", stream = "s", region = "us-east-1",
        shard_idle_timeout = P.duration(5, "second"),
        config = { consumer_arn = "arn:x", initial_position = "TRIM_HORIZON",
          reshard_detection_interval_secs = 60 },
      })
      assert.same({ "connectionName", "stream", "region", "shardIdleTimeout", "config" }, order(spec))
      assert.same({ consumerARN = "arn:x", initialPosition = "TRIM_HORIZON", reshardDetectionIntervalSecs = 60 },
        spec.config)
    end)

    it("inline documents", function()
      local docs = { { a = 1 }, { a = 2 } }
      local _, spec = only(P.new():source { documents = docs, ts_field_name = "ts" })
      assert.equal(docs, spec.documents)
      assert.same({ "documents", "tsFieldName" }, order(spec))
    end)
  end)

  it("validate_stage builds $validate", function()
    local name, spec = only(P.new():validate_stage {
      validation_action = "dlq", validator = { ["$jsonSchema"] = { required = { "a" } } } })
    assert.equal("$validate", name)
    assert.same({ "validator", "validationAction" }, order(spec))
  end)

  it("match, project, add_fields, set and set_stream_meta pass documents through", function()
    for _, case in ipairs {
      { "match", "$match" }, { "project", "$project" }, { "add_fields", "$addFields" },
      { "set", "$set" }, { "set_stream_meta", "$setStreamMeta" },
    } do
      local doc = P.ordered("b", 1, "a", 0)
      local name, spec = only(P.new()[case[1]](P.new(), doc))
      assert.equal(case[2], name)
      assert.equal(doc, spec)
    end
    raises("match takes a document, got string", function() P.new():match("x") end)
    raises("project takes a document, got an array", function() P.new():project { "a" } end)
  end)

  it("unset takes one field, several, or a list", function()
    assert.same({ { ["$unset"] = "a" } }, P.new():unset("a"):build())
    assert.same({ { ["$unset"] = { "a", "b" } } }, P.new():unset("a", "b"):build())
    assert.same({ { ["$unset"] = { "a", "b" } } }, P.new():unset { "a", "b" }:build())
    raises("unset takes field names", function() P.new():unset(1) end)
  end)

  it("replace_root takes new_root, replace_with and redact take an expression", function()
    local _, spec = only(P.new():replace_root { new_root = "$doc" })
    assert.same({ newRoot = "$doc" }, spec)
    assert.same({ { ["$replaceWith"] = "$doc" } }, P.new():replace_with("$doc"):build())
    local expr = { ["$cond"] = { ["if"] = true, ["then"] = "$$KEEP", ["else"] = "$$PRUNE" } }
    assert.same({ { ["$redact"] = expr } }, P.new():redact(expr):build())
    raises("replace_with takes an expression", function() P.new():replace_with() end)
  end)

  it("unwind takes a path or options", function()
    assert.same({ { ["$unwind"] = "$items" } }, P.new():unwind("$items"):build())
    local _, spec = only(P.new():unwind { preserve_null_and_empty_arrays = true, path = "$items",
      include_array_index = "i" })
    assert.same({ "path", "includeArrayIndex", "preserveNullAndEmptyArrays" }, order(spec))
  end)

  it("lookup: from namespace, equality and pipeline forms", function()
    local _, spec = only(P.new():lookup {
      as = "x", foreign_field = "_id", local_field = "id",
      from = { coll = "c", db = "d", connection_name = "atlas" },
      parallelism = 2,
    })
    assert.same({ "from", "localField", "foreignField", "as", "parallelism" }, order(spec))
    assert.same({ "connectionName", "db", "coll" }, order(spec.from))
    local _, spec2 = only(P.new():lookup {
      from = "coll", let = { v = "$v" }, pipeline = P.from { { ["$match"] = { a = 1 } } }, as = "y" })
    assert.equal("coll", spec2.from)
    assert.same({ { ["$match"] = { a = 1 } } }, spec2.pipeline)
  end)

  it("cached_lookup", function()
    local _, spec = only(P.new():cached_lookup {
      from = { connection_name = "atlas", db = "d", coll = "c" }, local_field = "a", foreign_field = "b",
      as = "r", ttl = P.duration(10, "minute"), max_mem_usage_bytes = 1048576 })
    assert.same({ "ttl", "maxMemUsageBytes", "from", "localField", "foreignField", "as" }, order(spec))
  end)

  it("https with a payload pipeline and config", function()
    local name, spec = only(P.new():https {
      connection_name = "api", path = "/v1/x", method = "POST", as = "resp", on_error = "ignore",
      headers = { ["X-Id"] = "$id" }, parameters = { q = "$q" },
      payload = P.payload():project { a = 1 },
      config = { connection_timeout_sec = 5, request_timeout_sec = 10, parse_json_strings = true },
    })
    assert.equal("$https", name)
    assert.same({ "connectionName", "path", "parameters", "method", "headers", "as", "onError", "payload",
      "config" }, order(spec))
    assert.same({ { ["$project"] = { a = 1 } } }, spec.payload)
    assert.same({ connectionTimeoutSec = 5, requestTimeoutSec = 10, parseJsonStrings = true }, spec.config)
  end)

  it("external_function", function()
    local name, spec = only(P.new():external_function {
      connection_name = "lambda", function_name = "arn:aws:lambda:f", execution = "sync", as = "out",
      on_error = "fail", payload = { { ["$set"] = { x = 1 } } } })
    assert.equal("$externalFunction", name)
    assert.same({ "connectionName", "functionName", "execution", "as", "onError", "payload" }, order(spec))
  end)

  it("windows take inner pipelines as builders or arrays", function()
    local inner = P.inner():group { _id = "$k", n = { ["$sum"] = 1 } }
    local _, t = only(P.new():tumbling_window { pipeline = inner, interval = P.duration(10, "second"),
      allowed_lateness = P.duration(5, "second"), idle_timeout = P.duration(1, "minute"),
      offset = P.offset(1, "hour"), boundary = "eventTime" })
    assert.same({ "interval", "pipeline", "boundary", "offset", "idleTimeout", "allowedLateness" }, order(t))
    assert.same(inner:build(), t.pipeline)
    local name, h = only(P.new():hopping_window { interval = P.duration(1, "minute"),
      hop_size = P.duration(10, "second"), pipeline = { { ["$count"] = "n" } } })
    assert.equal("$hoppingWindow", name)
    assert.same({ "interval", "hopSize", "pipeline" }, order(h))
    local sname, s = only(P.new():session_window { partition_by = "$user", gap = P.duration(30, "second"),
      pipeline = inner })
    assert.equal("$sessionWindow", sname)
    assert.same({ "partitionBy", "gap", "pipeline" }, order(s))
  end)

  it("an empty inner pipeline stays an array", function()
    local _, t = only(P.new():tumbling_window { interval = P.duration(1, "second"), pipeline = {} })
    assert.is_true(getmetatable(t.pipeline).__asp_array)
    local _, s = only(P.new():source { documents = {} })
    assert.is_true(getmetatable(s.documents).__asp_array)
  end)

  it("group puts _id first and needs an ordered compound _id", function()
    local _, g = only(P.new():group { total = { ["$sum"] = 1 }, _id = "$k" })
    assert.same({ "_id" }, order(g))
    local id = P.ordered("device", "$device_id", "group", "$group_id")
    local _, g2 = only(P.new():group { _id = id, n = { ["$sum"] = 1 } })
    assert.equal(id, g2._id)
    local _, g3 = only(P.new():group { _id = { ["$dateTrunc"] = { date = "$ts", unit = "hour" } } })
    assert.same({ "_id" }, order(g3))
    raises("compound _id needs a key order", function()
      P.new():group { _id = { a = "$a", b = "$b" } }
    end)
    local ordered = P.ordered("_id", "$k", "b", 1, "a", 2)
    local _, g4 = only(P.new():group(ordered))
    assert.equal(ordered, g4)
  end)

  it("sort takes pairs, an ordered document or one key", function()
    local _, s = only(P.new():sort("a", 1, "b", -1))
    assert.same({ a = 1, b = -1 }, s)
    assert.same({ "a", "b" }, order(s))
    local o = P.ordered("x", -1, "y", 1)
    local _, s2 = only(P.new():sort(o))
    assert.equal(o, s2)
    local _, s3 = only(P.new():sort { z = 1 })
    assert.same({ z = 1 }, s3)
    raises("more than one key needs a key order", function() P.new():sort { a = 1, b = 1 } end)
  end)

  it("count and limit", function()
    assert.same({ { ["$count"] = "n" }, { ["$limit"] = 5 } }, P.inner():count("n"):limit(5):build())
    raises("count takes the name of the output field", function() P.inner():count(1) end)
    raises("limit takes a number", function() P.inner():limit("5") end)
  end)

  describe("emit", function()
    it("Kafka", function()
      local _, spec = only(P.new():emit { connection_name = "kafka", topic = "out",
        config = { acks = "all", compression_type = "zstd", key = "$id", key_format = "string",
          output_format = "canonicalJson", date_format = "ISO8601", headers = "$hdrs",
          tombstone_when = { ["$eq"] = { "$deleted", true } } } })
      assert.same({ "connectionName", "topic", "config" }, order(spec))
      assert.same({ "acks", "compression_type", "dateFormat", "headers", "key", "keyFormat", "outputFormat",
        "tombstoneWhen" }, order(spec.config))
    end)

    it("time-series collection", function()
      local _, spec = only(P.new():emit { connection_name = "atlas", db = "d", coll = "ts",
        timeseries = { time_field = "ts", meta_field = "device", granularity = "seconds" } })
      assert.same({ "connectionName", "db", "coll", "timeseries" }, order(spec))
      assert.same({ "timeField", "metaField", "granularity" }, order(spec.timeseries))
    end)

    it("S3", function()
      local _, spec = only(P.new():emit { connection_name = "s3", bucket = "b", region = "us-east-1",
        path = "out/", config = { write_options = { count = 100, bytes = 1000000,
          interval = P.duration(1, "minute") }, compression = "gzip", compression_level = 6,
          output_format = "basicJson", delimiter = "\n" } })
      assert.same({ "connectionName", "bucket", "region", "path", "config" }, order(spec))
      assert.same({ "outputFormat", "writeOptions", "delimiter", "compression", "compressionLevel" },
        order(spec.config))
      assert.same({ "count", "bytes", "interval" }, order(spec.config.writeOptions))
    end)

    it("Kinesis", function()
      local _, spec = only(P.new():emit { connection_name = "kinesis", stream = "s", region = "eu-west-1",
        partition_key = "$id", config = { output_format = "basicJson" } })
      assert.same({ "connectionName", "region", "stream", "partitionKey", "config" }, order(spec))
    end)
  end)

  it("merge", function()
    local name, spec = only(P.new():merge {
      when_not_matched = "insert", when_matched = "merge", on = { "a" }, parallelism = 2,
      into = { connection_name = "atlas", db = "d", coll = P.meta("stream.coll") } })
    assert.equal("$merge", name)
    assert.same({ "into", "on", "whenMatched", "whenNotMatched", "parallelism" }, order(spec))
    assert.same({ ["$meta"] = "stream.coll" }, spec.into.coll)
  end)

  it("stage appends any stage as given; add appends stage tables and pipelines", function()
    local p = P.new():stage("$function", { body = "x" }):add { ["$match"] = { a = 1 } }
    p:add(P.from { { ["$project"] = { a = 1 } } })
    assert.same({ { ["$function"] = { body = "x" } }, { ["$match"] = { a = 1 } },
      { ["$project"] = { a = 1 } } }, p:build())
    raises("add takes a stage table or a pipeline, got string", function() P.new():add("x") end)
  end)
end)

describe("P.from", function()
  it("wraps an existing array without changing it and extends it", function()
    local stages = { { ["$source"] = { connectionName = "sample_stream_solar" } } }
    local p = P.from(stages):emit { connection_name = "__testLog" }
    assert.equal(1, #stages)
    assert.equal(2, #p:build())
    assert.is_true(p:validate())
  end)

  it("takes a builder, an empty array and a kind", function()
    local inner = P.inner():count("n")
    local copy = P.from(inner, "window")
    assert.equal("window", copy:kind())
    assert.same(inner:build(), copy:build())
    assert.same({}, P.from({}):build())
    assert.has_error(function() P.from({}, "nope") end)
    assert.has_error(function() P.from("x") end)
  end)
end)
