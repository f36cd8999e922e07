-- Realistic pipelines after the examples of the ASP documentation, rebuilt with the builder and compared with their JSON definitions in
-- spec/fixtures/pipelines/. Key order is checked wherever the builder declares one.
local P = require "asp.pipeline"

local FIXTURES = (os.getenv("ASP_SOURCE_DIR") or ".") .. "/spec/fixtures/pipelines/"

-- The fixtures are decoded with asp.core's Extended JSON reader when it is built;
-- otherwise with this small reader of plain JSON that keeps key order the same way
-- (ordered documents, marked arrays), so the comparison runs without the C module.
local function plain_json_decode(s)
  local pos = 1
  local value
  local function skip()
    pos = s:find("%S", pos) or #s + 1
  end
  local function fail(what)
    error(("fixture JSON: %s at byte %d"):format(what, pos))
  end
  local ESC = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = s:sub(pos, pos)
      if c == "" then fail("unterminated string") end
      if c == '"' then
        pos = pos + 1
        return table.concat(out)
      end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        if e == "u" then fail("\\u escapes are not supported") end
        out[#out + 1] = ESC[e] or e
        pos = pos + 2
      else
        out[#out + 1] = c
        pos = pos + 1
      end
    end
  end
  function value()
    skip()
    local c = s:sub(pos, pos)
    if c == "{" then
      local doc = P.ordered()
      pos = pos + 1
      skip()
      if s:sub(pos, pos) == "}" then
        pos = pos + 1
        return doc
      end
      while true do
        skip()
        local k = str()
        skip()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        doc[k] = value()
        skip()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return doc end
        if d ~= "," then fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local arr = P.array()
      pos = pos + 1
      skip()
      if s:sub(pos, pos) == "]" then
        pos = pos + 1
        return arr
      end
      while true do
        arr[#arr + 1] = value()
        skip()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    end
    for lit, v in pairs { ["true"] = true, ["false"] = false } do
      if s:sub(pos, pos + #lit - 1) == lit then
        pos = pos + #lit
        return v
      end
    end
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or num == "" then fail("unexpected character") end
    pos = pos + #num
    return tonumber(num)
  end
  local v = value()
  skip()
  if pos <= #s then fail("trailing characters") end
  return v
end

local has_core, core = pcall(require, "asp.core")
local decode = (has_core and type(core.from_json) == "function") and core.from_json or plain_json_decode

local function fixture(name)
  local f = assert(io.open(FIXTURES .. name .. ".json", "rb"))
  local s = f:read("*a")
  f:close()
  return assert(decode(s))
end

local function order(t)
  local mt = getmetatable(t)
  return type(mt) == "table" and mt.__asp_order or nil
end

local function is_array(t)
  local mt = getmetatable(t)
  if type(mt) == "table" and mt.__asp_array then return true end
  if order(t) then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and #t == n
end

-- Expected (decoded JSON) vs built: same values; where the built table declares a
-- key order, the JSON's keys start with exactly that order. Returns nil or where
-- and how they differ.
local function diff(expected, built, path)
  if type(expected) ~= type(built) then
    return ("%s: expected %s, built %s"):format(path, type(expected), type(built))
  end
  if type(expected) ~= "table" then
    if expected ~= built then
      return ("%s: expected %s, built %s"):format(path, tostring(expected), tostring(built))
    end
    return nil
  end
  if is_array(expected) ~= is_array(built) and next(expected) ~= nil then
    return path .. ": array vs document"
  end
  for k, v in pairs(expected) do
    local d = diff(v, built[k], path .. "." .. tostring(k))
    if d then return d end
  end
  for k in pairs(built) do
    if expected[k] == nil then return path .. "." .. tostring(k) .. ": not in the JSON" end
  end
  local want = order(built)
  if want then
    local have = order(expected) or {}
    for i, k in ipairs(want) do
      if have[i] ~= k then
        return ("%s: key order %s, JSON has %s"):format(path, table.concat(want, ","), table.concat(have, ","))
      end
    end
  end
  return nil
end

local function matches_fixture(name, def)
  local expected = fixture(name)
  local d = diff(expected, def, name)
  assert(d == nil, d)
  assert.is_true(P.validate(def.pipeline))
end

local dur = P.duration

describe("pipelines from the ASP documentation", function()
  it("solar tumbling window with $group max/avg into $merge", function()
    local p = P.new()
      :source { connection_name = "sample_stream_solar",
        time_field = { ["$dateFromString"] = { dateString = "$timestamp" } } }
      :match { event_type = 0 }
      :tumbling_window {
        interval = dur(10, "second"),
        allowed_lateness = dur(3, "second"),
        pipeline = P.inner()
          :group(P.ordered("_id", "$group_id",
            "max_temp", { ["$max"] = "$obs.temp" },
            "avg_watts", { ["$avg"] = "$obs.watts" }))
          :sort("avg_watts", -1, "_id", 1),
      }
      :merge { into = { connection_name = "mongodb1", db = "solarDb", coll = "solarColl" } }
    matches_fixture("solar_tumbling", P.definition("solarDemo", p,
      { dlq = P.ordered("connectionName", "mongodb1", "db", "solarDb", "coll", "solarDlq") }))
  end)

  it("Kafka source, $validate to the DLQ, $merge", function()
    local p = P.new()
      :source { connection_name = "sample_weatherdata", topic = "my_weatherdata",
        ts_field_name = "ingestionTime", config = { auto_offset_reset = "earliest" } }
      :validate_stage {
        validator = { ["$jsonSchema"] = {
          required = { "st", "position", "elevation", "callLetters" },
          properties = {
            elevation = { bsonType = "int", minimum = -1000, maximum = 10000 },
            callLetters = { bsonType = "string" },
          },
        } },
        validation_action = "dlq",
      }
      :merge { into = { connection_name = "weatherStreamOutput", db = "sample_weatherstream",
        coll = "sampleweatherstream" }, when_matched = "replace", when_not_matched = "insert" }
    matches_fixture("kafka_validate_merge", P.definition("weatherValidate", p,
      { dlq = { connectionName = "weatherStreamOutput", db = "sample_weatherstream", coll = "dlq" } }))
  end)

  it("$https enrichment with a payload pipeline", function()
    local p = P.new()
      :source { connection_name = "kafkaprod", topic = "orders" }
      :https {
        connection_name = "pricingApi",
        path = { ["$concat"] = { "/prices/", "$sku" } },
        method = "POST",
        headers = { ["X-Request-Id"] = "$orderId" },
        as = "price",
        on_error = "ignore",
        payload = P.payload():project { _id = 0, sku = 1, qty = 1 },
        config = { request_timeout_sec = 10 },
      }
      :add_fields { total = { ["$multiply"] = { "$qty", "$price.amount" } } }
      :merge { into = { connection_name = "atlascluster", db = "shop", coll = "pricedOrders" } }
    matches_fixture("https_enrichment", P.definition("orderPricing", p))
  end)

  it("$lookup against an Atlas collection, $unwind, $project", function()
    local p = P.new()
      :source { connection_name = "kafkaprod", topic = "sensor_readings", time_field = { ["$toDate"] = "$ts" } }
      :lookup { from = { connection_name = "atlascluster", db = "production", coll = "sensors" },
        local_field = "sensorId", foreign_field = "_id", as = "sensorInfo" }
      :unwind("$sensorInfo")
      :project { sensorId = 1, reading = 1, location = "$sensorInfo.location" }
      :merge { into = { connection_name = "atlascluster", db = "production", coll = "enrichedReadings" } }
    matches_fixture("lookup", P.definition("sensorLookup", p))
  end)

  it("hopping window with $median, $emit to Kafka", function()
    local p = P.new()
      :source { connection_name = "sample_stream_solar" }
      :hopping_window {
        interval = dur(1, "minute"),
        hop_size = dur(20, "second"),
        pipeline = P.inner():group(P.ordered("_id", "$device_id",
          "median_watts", { ["$median"] = P.ordered("input", "$obs.watts", "method", "approximate") },
          "readings", { ["$sum"] = 1 })),
      }
      :emit { connection_name = "kafkaOut", topic = "solar_medians",
        config = { acks = "all", output_format = "relaxedJson" } }
    matches_fixture("hopping_window", P.definition("solarMedians", p))
  end)

  it("session window per user, $merge on _id", function()
    local p = P.new()
      :source { connection_name = "kafkaprod", topic = "clickstream", partition_idle_timeout = dur(30, "second") }
      :session_window {
        partition_by = "$userId",
        gap = dur(5, "minute"),
        allowed_lateness = dur(10, "second"),
        pipeline = P.inner()
          :group(P.ordered("_id", "$userId", "clicks", { ["$sum"] = 1 }, "pages", { ["$push"] = "$page" }))
          :sort { clicks = -1 },
      }
      :merge { into = { connection_name = "atlascluster", db = "web", coll = "sessions" }, on = { "_id" },
        when_matched = "merge", when_not_matched = "insert" }
    matches_fixture("session_window", P.definition("clickSessions", p))
  end)

  it("tumbling window with window metadata, $emit to a time-series collection", function()
    local p = P.new()
      :source { connection_name = "sample_stream_solar", ts_field_name = "ingest_ts" }
      :tumbling_window {
        interval = dur(1, "minute"),
        pipeline = P.inner()
          :group(P.ordered("_id", "$device_id", "avg_watts", { ["$avg"] = "$obs.watts" }))
          :project(P.ordered("_id", 0, "device", "$_id", "avg_watts", 1,
            "window_start", P.meta("stream.window.start"))),
      }
      :emit { connection_name = "atlascluster", db = "metrics", coll = "solar_ts",
        timeseries = { time_field = "window_start", meta_field = "device", granularity = "minutes" } }
    matches_fixture("emit_timeseries", P.definition("solarTimeseries", p))
  end)

  it("change stream, $cachedLookup, $setStreamMeta and a dynamic $merge", function()
    local p = P.new()
      :source { connection_name = "atlascluster", db = "shop", coll = "orders",
        config = { full_document = "updateLookup", full_document_only = true } }
      :cached_lookup { ttl = dur(5, "minute"), max_mem_usage_bytes = 10485760,
        from = { connection_name = "atlascluster", db = "shop", coll = "customers" },
        local_field = "customerId", foreign_field = "_id", as = "customer" }
      :set_stream_meta { ["stream.region"] = "$customer.region" }
      :merge { into = { connection_name = "atlascluster", db = "analytics", coll = P.meta("stream.region") },
        when_matched = "merge" }
    matches_fixture("change_stream_cached_lookup", P.definition("ordersByRegion", p,
      P.ordered("dlq", P.ordered("connectionName", "atlascluster", "db", "analytics", "coll", "dlq"),
        "tier", "SP10")))
  end)

  it("multi-topic Kafka source, $unset, $emit to S3", function()
    local p = P.new()
      :source { connection_name = "kafkaprod", topic = { "events", "audit" } }
      :unset("password", "token")
      :emit { connection_name = "s3out", bucket = "archive", region = "us-east-1", path = "events/",
        config = { output_format = "basicJson", compression = "gzip",
          write_options = { count = 1000, interval = dur(1, "minute") } } }
    matches_fixture("emit_s3", P.definition("archiveEvents", p))
  end)

  it("inline documents, $replaceRoot, $emit to Kinesis", function()
    local p = P.new()
      :source { documents = { { id = 1, kind = "a" }, { id = 2, kind = "b" } } }
      :replace_root { new_root = { ["$mergeObjects"] = { "$$ROOT", { source = "inline" } } } }
      :emit { connection_name = "kinesisOut", region = "eu-west-1", stream = "events", partition_key = "$kind",
        config = { output_format = "canonicalJson" } }
    matches_fixture("emit_kinesis", P.definition("inlineToKinesis", p))
  end)

  it("a key order mismatch is caught", function()
    local p = P.new():source { connection_name = "sample_stream_solar" }
      :hopping_window { interval = dur(1, "minute"), hop_size = dur(20, "second"),
        pipeline = P.inner():group(P.ordered("_id", "$device_id", "readings", { ["$sum"] = 1 },
          "median_watts", { ["$median"] = { input = "$obs.watts", method = "approximate" } })) }
      :emit { connection_name = "kafkaOut", topic = "solar_medians",
        config = { acks = "all", output_format = "relaxedJson" } }
    local d = diff(fixture("hopping_window"), P.definition("solarMedians", p), "hopping_window")
    assert.matches("key order _id,readings,median_watts", d, 1, true)
  end)
end)
