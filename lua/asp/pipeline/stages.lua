-- What every ASP stage looks like, as data: the
-- builder method, where the stage may appear, the form of its spec, and for option
-- stages their fields in documented order (the order the builder emits them in).
-- The builder and the validator both read this table; nothing here runs.

-- An option schema: `fields` in wire order, `nested` schemas for sub-documents.
local function schema(fields, nested)
  return { fields = fields, nested = nested or {} }
end

local DURATION = schema { "size", "unit" }
local CONNECTION_NS = schema { "connectionName", "db", "coll" }

-- Where a stage may appear (asp-engine.md §3.1).
local ANYWHERE = { main = true, window = true, payload = true }
local NOT_PAYLOAD = { main = true, window = true }
local MAIN_ONLY = { main = true }
local WINDOW_ONLY = { window = true }

local WINDOW_FIELDS = {
  tumbling = { "interval", "pipeline", "boundary", "offset", "idleTimeout", "allowedLateness" },
  hopping = { "interval", "hopSize", "pipeline", "boundary", "offset", "idleTimeout", "allowedLateness" },
  session = { "partitionBy", "gap", "pipeline", "boundary", "allowedLateness" },
}
local WINDOW_NESTED = {
  interval = DURATION, hopSize = DURATION, gap = DURATION, idleTimeout = DURATION,
  allowedLateness = DURATION, offset = schema { "offsetFromUtc", "unit" },
}

-- form: "options" (a document of known fields), "document" (any document, passed
-- through), "expression" (any value), or the name of a dedicated builder shape.
local S = {
  ["$source"] = {
    method = "source", where = MAIN_ONLY, form = "options",
    schema = schema({
      "connectionName", "topic", "db", "coll", "stream", "region", "documents",
      "timeField", "tsFieldName", "tsFieldOverride", "partitionIdleTimeout", "shardIdleTimeout",
      "schemaRegistry", "initialSync", "readPreference", "readPreferenceTags", "config",
    }, {
      partitionIdleTimeout = DURATION,
      shardIdleTimeout = DURATION,
      schemaRegistry = schema { "connectionName" },
      initialSync = schema { "enable", "parallelism" },
      config = schema {
        -- Kafka
        "auto_offset_reset", "group_id", "enable_auto_commit", "keyFormat", "keyFormatError",
        -- change streams
        "startAfter", "startAtOperationTime", "fullDocument", "fullDocumentOnly",
        "fullDocumentBeforeChange", "pipeline", "maxAwaitTimeMS",
        -- Kinesis
        "consumerARN", "initialPosition", "atTimestamp", "reshardDetectionIntervalSecs",
      },
    }),
  },
  ["$validate"] = {
    method = "validate_stage", where = NOT_PAYLOAD, form = "options",
    schema = schema { "validator", "validationAction" },
    required = { "validator" },
  },
  ["$match"] = { method = "match", where = NOT_PAYLOAD, form = "document" },
  ["$project"] = { method = "project", where = ANYWHERE, form = "document" },
  ["$addFields"] = { method = "add_fields", where = ANYWHERE, form = "document" },
  ["$set"] = { method = "set", where = ANYWHERE, form = "document" },
  ["$unset"] = { method = "unset", where = NOT_PAYLOAD, form = "unset" },
  ["$replaceRoot"] = {
    method = "replace_root", where = ANYWHERE, form = "options",
    schema = schema { "newRoot" },
    required = { "newRoot" },
  },
  ["$replaceWith"] = { method = "replace_with", where = NOT_PAYLOAD, form = "expression" },
  ["$redact"] = { method = "redact", where = NOT_PAYLOAD, form = "expression" },
  ["$unwind"] = {
    method = "unwind", where = NOT_PAYLOAD, form = "unwind",
    schema = schema { "path", "includeArrayIndex", "preserveNullAndEmptyArrays" },
    required = { "path" },
  },
  ["$lookup"] = {
    method = "lookup", where = NOT_PAYLOAD, form = "options",
    schema = schema({
      "from", "localField", "foreignField", "let", "pipeline", "as", "parallelism", "partitionBy",
    }, { from = CONNECTION_NS }),
    required = { "as" },
  },
  ["$cachedLookup"] = {
    method = "cached_lookup", where = MAIN_ONLY, form = "options",
    schema = schema({ "ttl", "maxMemUsageBytes", "from", "localField", "foreignField", "as" },
      { ttl = DURATION, from = CONNECTION_NS }),
    required = { "ttl", "maxMemUsageBytes", "from", "localField", "foreignField", "as" },
  },
  ["$https"] = {
    method = "https", where = NOT_PAYLOAD, form = "options",
    schema = schema({
      "connectionName", "path", "parameters", "method", "headers", "as", "onError", "payload", "config",
    }, { config = schema { "connectionTimeoutSec", "requestTimeoutSec", "parseJsonStrings" } }),
    required = { "connectionName", "as" },
    inner = { payload = "payload" },
  },
  ["$externalFunction"] = {
    method = "external_function", where = NOT_PAYLOAD, form = "options",
    schema = schema {
      "connectionName", "functionName", "execution", "as", "onError", "payload", "parallelism", "partitionBy",
    },
    required = { "connectionName", "functionName" },
    inner = { payload = "payload" },
  },
  ["$setStreamMeta"] = { method = "set_stream_meta", where = MAIN_ONLY, form = "document" },
  ["$tumblingWindow"] = {
    method = "tumbling_window", where = MAIN_ONLY, form = "options", window = true,
    schema = schema(WINDOW_FIELDS.tumbling, WINDOW_NESTED),
    required = { "interval", "pipeline" },
    inner = { pipeline = "window" },
  },
  ["$hoppingWindow"] = {
    method = "hopping_window", where = MAIN_ONLY, form = "options", window = true,
    schema = schema(WINDOW_FIELDS.hopping, WINDOW_NESTED),
    required = { "interval", "hopSize", "pipeline" },
    inner = { pipeline = "window" },
  },
  ["$sessionWindow"] = {
    method = "session_window", where = MAIN_ONLY, form = "options", window = true,
    schema = schema(WINDOW_FIELDS.session, WINDOW_NESTED),
    required = { "partitionBy", "gap", "pipeline" },
    inner = { pipeline = "window" },
  },
  ["$group"] = { method = "group", where = WINDOW_ONLY, form = "group" },
  ["$sort"] = { method = "sort", where = WINDOW_ONLY, form = "sort" },
  ["$count"] = { method = "count", where = WINDOW_ONLY, form = "count" },
  ["$limit"] = { method = "limit", where = WINDOW_ONLY, form = "limit" },
  ["$emit"] = {
    method = "emit", where = MAIN_ONLY, form = "options", sink = true,
    schema = schema({
      "connectionName", "topic", "db", "coll", "timeseries", "bucket", "region", "path",
      "stream", "partitionKey", "config",
    }, {
      timeseries = schema {
        "timeField", "metaField", "granularity", "bucketMaxSpanSeconds", "bucketRoundingSeconds",
      },
      config = schema({
        -- Kafka
        "acks", "compression_type", "dateFormat", "headers", "key", "keyFormat", "outputFormat",
        "tombstoneWhen",
        -- S3
        "writeOptions", "delimiter", "compression", "compressionLevel",
      }, { writeOptions = schema({ "count", "bytes", "interval" }, { interval = DURATION }) }),
    }),
    required = { "connectionName" },
  },
  ["$merge"] = {
    method = "merge", where = MAIN_ONLY, form = "options", sink = true,
    schema = schema({ "into", "on", "let", "whenMatched", "whenNotMatched", "parallelism" },
      { into = CONNECTION_NS }),
    required = { "into" },
  },
}

-- snake_case spelling of a wire name: tsFieldName -> ts_field_name, maxAwaitTimeMS ->
-- max_await_time_ms. Names already in snake_case (auto_offset_reset) map to themselves.
local function snake(name)
  local s = name:gsub("(%l)(%u)", "%1_%2"):gsub("(%d)(%u)", "%1_%2")
  return (s:lower())
end

-- Each schema also answers "which wire field does this Lua key mean?".
local function index_schema(sc)
  if sc.wire then return end
  sc.wire = {}
  for _, f in ipairs(sc.fields) do
    sc.wire[f] = f
    sc.wire[snake(f)] = f
  end
  for _, sub in pairs(sc.nested) do index_schema(sub) end
end

for name, d in pairs(S) do
  d.name = name
  if d.schema then index_schema(d.schema) end
end

return { by_name = S }
