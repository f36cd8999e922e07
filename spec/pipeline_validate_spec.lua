-- pipeline:validate: one block per planner rule, asserting the exact text and the
-- stage index (and the path for inner pipelines). Pure Lua.
local P = require "asp.pipeline"

local SOURCE = { ["$source"] = { connectionName = "sample_stream_solar" } }
local SINK = { ["$emit"] = { connectionName = "__testLog" } }

local function window(spec)
  return { ["$tumblingWindow"] = spec }
end

local function dur(size, unit)
  return { size = size, unit = unit }
end

-- Validates `list`; expects exactly the problems given as {index, message[, path]}.
local function expect(list, expected, opts)
  local ok, problems = P.validate(list, opts)
  assert.is_nil(ok)
  local got = {}
  for i, p in ipairs(problems) do
    got[i] = { p.index, p.message }
    if expected[i] and expected[i][3] then got[i][3] = p.path end
  end
  assert.same(expected, got)
end

-- A main pipeline source -> stage -> sink with one problem in `stage`.
local function expect_stage(stage, message, path)
  expect({ SOURCE, stage, SINK }, { { 2, message, path } })
end

local function valid(list, opts)
  local ok, problems = P.validate(list, opts)
  assert.same({}, problems or {})
  assert.is_true(ok)
end

describe("pipeline:validate", function()
  it("accepts a minimal pipeline and returns true", function()
    valid { SOURCE, SINK }
    assert.is_true(P.new():source { connection_name = "sample_stream_solar" }
      :emit { connection_name = "__testLog" }:validate())
  end)

  it("reports every problem, in stage order, with a path", function()
    local ok, problems = P.new():match { a = 1 }:group { _id = "$a" }:validate()
    assert.is_nil(ok)
    assert.same({
      { index = 1, path = "pipeline[1]", message = "First stage must be $source, found: $match" },
      { index = 2, path = "pipeline[2]", message = "$group stage is only permitted in the inner pipeline of a window stage" },
      { index = 2, path = "pipeline[2]", message = "The last stage in the pipeline must be $merge or $emit." },
    }, problems)
  end)

  it("the problem list prints one line per problem, for assert", function()
    local ok, err = pcall(function() assert(P.new():match { a = 1 }:validate()) end)
    assert.is_false(ok)
    assert.equal("pipeline[1]: First stage must be $source, found: $match\n"
      .. "pipeline[1]: The last stage in the pipeline must be $merge or $emit.", tostring(err))
  end)

  describe("pipeline shape", function()
    it("Pipeline must have at least one stage", function()
      expect({}, { { 0, "Pipeline must have at least one stage" } })
      expect(P.new(), { { 0, "Pipeline must have at least one stage" } })
    end)

    it("not an array", function()
      expect({ a = 1 }, { { 0, "pipeline must be an array of stages" } })
    end)

    it("First stage must be $source, found: <stage>", function()
      expect({ { ["$match"] = {} }, SINK }, { { 1, "First stage must be $source, found: $match" } })
    end)

    it("only one $source", function()
      expect({ SOURCE, SOURCE, SINK }, { { 2, "$source is only allowed as the first stage of a pipeline" } })
    end)

    it("A pipeline stage specification object must contain exactly one field.", function()
      local text = "A pipeline stage specification object must contain exactly one field."
      expect({ SOURCE, { ["$match"] = {}, ["$project"] = { a = 1 } }, SINK }, { { 2, text } })
      expect({ SOURCE, {}, SINK }, { { 2, text } })
      expect({ SOURCE, "x", SINK }, { { 2, text } })
    end)

    it("Unsupported stage: <name>", function()
      expect_stage({ ["$facet"] = {} }, "Unsupported stage: $facet")
    end)
  end)

  describe("sink", function()
    it("The last stage in the pipeline must be $merge or $emit.", function()
      expect({ SOURCE, { ["$match"] = {} } }, { { 2, "The last stage in the pipeline must be $merge or $emit." } })
      expect({ SOURCE }, { { 1, "The last stage in the pipeline must be $merge or $emit." } })
    end)

    it("ephemeral pipelines need no sink", function()
      valid({ SOURCE, { ["$match"] = {} } }, { ephemeral = true })
      assert.is_true(P.new():source { connection_name = "sample_stream_solar" }:validate { ephemeral = true })
    end)

    it("No stages are allowed after a $merge or $emit stage.", function()
      local text = "No stages are allowed after a $merge or $emit stage."
      expect({ SOURCE, SINK, { ["$match"] = {} } }, { { 3, text } })
      expect({ SOURCE, SINK, { ["$match"] = {} }, SINK }, { { 3, text } })
      expect({ SOURCE, SINK, SINK }, { { 3, text } })
      expect({ SOURCE, SINK, { ["$match"] = {} } }, { { 3, text } }, { ephemeral = true })
    end)
  end)

  describe("placement", function()
    it("<name> stage is only permitted in the inner pipeline of a window stage", function()
      for _, s in ipairs { { ["$group"] = { _id = 1 } }, { ["$sort"] = { a = 1 } }, { ["$count"] = "n" },
        { ["$limit"] = 1 } } do
        local name = next(s)
        expect_stage(s, name .. " stage is only permitted in the inner pipeline of a window stage")
      end
    end)

    it("<name> stage is not permitted in the inner pipeline of a window stage", function()
      for _, s in ipairs { { ["$cachedLookup"] = { ttl = dur(1, "minute"), maxMemUsageBytes = 1,
        from = { connectionName = "a", db = "b", coll = "c" }, localField = "a", foreignField = "b", as = "c" } },
        { ["$setStreamMeta"] = { ["stream.x"] = 1 } }, { ["$merge"] = { into = { connectionName = "a", db = "b",
        coll = "c" } } }, SINK, SOURCE,
        window { interval = dur(1, "second"), pipeline = {} } } do
        local name = next(s)
        expect_stage(window { interval = dur(1, "second"), pipeline = { s } },
          name .. " stage is not permitted in the inner pipeline of a window stage",
          "pipeline[2].$tumblingWindow.pipeline[1]")
      end
    end)

    it("stateless stages, $validate, $lookup and $https are allowed in a window", function()
      valid { SOURCE, window { interval = dur(1, "second"), pipeline = {
        { ["$match"] = { a = 1 } }, { ["$project"] = { a = 1 } }, { ["$addFields"] = { b = 1 } },
        { ["$set"] = { c = 1 } }, { ["$unset"] = "c" }, { ["$replaceRoot"] = { newRoot = "$$ROOT" } },
        { ["$replaceWith"] = "$$ROOT" }, { ["$redact"] = "$$KEEP" }, { ["$unwind"] = "$a" },
        { ["$validate"] = { validator = {} } }, { ["$lookup"] = { from = { connectionName = "a", db = "b",
        coll = "c" }, localField = "a", foreignField = "b", as = "l" } },
        { ["$https"] = { connectionName = "h", as = "r" } },
        { ["$externalFunction"] = { connectionName = "l", functionName = "f", as = "r" } },
        { ["$group"] = { _id = "$a" } }, { ["$sort"] = { a = 1 } }, { ["$count"] = "n" }, { ["$limit"] = 1 },
      } }, SINK }
    end)

    it("<name> stage is not permitted in the payload (inner pipeline) of an https stage", function()
      for _, s in ipairs { { ["$match"] = {} }, { ["$unwind"] = "$a" }, { ["$redact"] = "$$KEEP" },
        { ["$group"] = { _id = 1 } } } do
        local name = next(s)
        expect_stage({ ["$https"] = { connectionName = "h", as = "r", payload = { s } } },
          name .. " stage is not permitted in the payload (inner pipeline) of an https stage",
          "pipeline[2].$https.payload[1]")
      end
      expect_stage({ ["$externalFunction"] = { connectionName = "l", functionName = "f", as = "r",
        payload = { { ["$match"] = {} } } } },
        "$match stage is not permitted in the payload (inner pipeline) of an https stage",
        "pipeline[2].$externalFunction.payload[1]")
      valid { SOURCE, { ["$https"] = { connectionName = "h", as = "r", payload = {
        { ["$project"] = { a = 1 } }, { ["$addFields"] = { b = 1 } }, { ["$set"] = { c = 1 } },
        { ["$replaceRoot"] = { newRoot = "$a" } } } } }, SINK }
    end)

    it("inner pipelines validated on their own keep their own indexes", function()
      local ok, problems = P.inner():group { _id = 1 }:merge { into = { connection_name = "a", db = "b",
        coll = "c" } }:validate()
      assert.is_nil(ok)
      assert.same({ { index = 2, path = "pipeline[2]",
        message = "$merge stage is not permitted in the inner pipeline of a window stage" } }, problems)
      assert.is_true(P.payload():project { a = 1 }:validate())
    end)

    it("the stage specification must be an object", function()
      expect_stage({ ["$match"] = "x" }, "$match specification must be an object")
    end)
  end)

  describe("windows", function()
    it("Only one window stage is allowed in a pipeline.", function()
      local w = window { interval = dur(1, "second"), pipeline = {} }
      expect({ SOURCE, w, w, SINK }, { { 3, "Only one window stage is allowed in a pipeline." } })
      expect({ SOURCE, w, { ["$sessionWindow"] = { partitionBy = "$a", gap = dur(1, "second"), pipeline = {
        { ["$group"] = { _id = 1 } } } } }, SINK }, { { 3, "Only one window stage is allowed in a pipeline." } })
    end)

    it("Window interval size must be greater than 0.", function()
      expect_stage(window { interval = dur(0, "second"), pipeline = {} }, "Window interval size must be greater than 0.")
      expect_stage({ ["$hoppingWindow"] = { interval = dur(-1, "ms"), hopSize = dur(1, "ms"), pipeline = {} } },
        "Window interval size must be greater than 0.")
    end)

    it("Window hopSize size must be greater than 0.", function()
      expect_stage({ ["$hoppingWindow"] = { interval = dur(1, "minute"), hopSize = dur(0, "ms"), pipeline = {} } },
        "Window hopSize size must be greater than 0.")
    end)

    it("session gap must be greater than 0", function()
      expect_stage({ ["$sessionWindow"] = { partitionBy = "$a", gap = dur(0, "second"),
        pipeline = { { ["$group"] = { _id = 1 } } } } }, "Window gap size must be greater than 0.")
    end)

    it("Maximum allowedLateness is 30 minutes", function()
      expect_stage(window { interval = dur(1, "hour"), pipeline = {}, allowedLateness = dur(31, "minute") },
        "Maximum allowedLateness is 30 minutes")
      valid { SOURCE, window { interval = dur(1, "hour"), pipeline = {}, allowedLateness = dur(30, "minute") }, SINK }
      valid { SOURCE, window { interval = dur(1, "hour"), pipeline = {}, allowedLateness = 0, idleTimeout = 0 }, SINK }
    end)

    it("non-zero bare integers for allowedLateness and idleTimeout", function()
      expect_stage(window { interval = dur(1, "hour"), pipeline = {}, allowedLateness = 5 },
        "Must specify unit and size for non-zero allowed lateness values")
      expect_stage(window { interval = dur(1, "hour"), pipeline = {}, idleTimeout = 5 },
        "Must specify unit and size for non-zero idle timeout values")
    end)

    it("durations must be {size, unit}", function()
      expect_stage(window { interval = { size = 1, unit = "week" }, pipeline = {} },
        "$tumblingWindow.interval must be a duration {size: <number>, unit: ms|second|minute|hour|day}")
    end)

    it("boundary and processingTime", function()
      expect_stage(window { interval = dur(1, "hour"), pipeline = {}, boundary = "wallClock" },
        "$tumblingWindow.boundary must be one of eventTime, processingTime, found: wallClock")
      expect_stage(window { interval = dur(1, "hour"), pipeline = {}, boundary = "processingTime",
        allowedLateness = dur(1, "second") }, "$tumblingWindow.allowedLateness is not allowed with boundary 'processingTime'")
    end)

    it("offset", function()
      valid { SOURCE, window { interval = dur(1, "day"), pipeline = {}, offset = { offsetFromUtc = -5, unit = "hour" } },
        SINK }
      expect_stage(window { interval = dur(1, "day"), pipeline = {}, offset = 5 },
        "$tumblingWindow.offset must be {offsetFromUtc: <number>, unit: ms|second|minute|hour}")
    end)

    it("required fields: interval, hopSize, pipeline, partitionBy, gap", function()
      expect_stage(window { pipeline = {} }, "BSON field '$tumblingWindow.interval' is missing but a required field")
      expect_stage(window { interval = dur(1, "second") },
        "BSON field '$tumblingWindow.pipeline' is missing but a required field")
      expect_stage({ ["$hoppingWindow"] = { interval = dur(1, "second"), pipeline = {} } },
        "BSON field '$hoppingWindow.hopSize' is missing but a required field")
      expect({ SOURCE, { ["$sessionWindow"] = { pipeline = { { ["$sort"] = { a = 1 } } } } }, SINK }, {
        { 2, "BSON field '$sessionWindow.partitionBy' is missing but a required field" },
        { 2, "BSON field '$sessionWindow.gap' is missing but a required field" },
      })
    end)

    it("the inner pipeline must be an array", function()
      expect_stage(window { interval = dur(1, "second"), pipeline = "x" }, "$tumblingWindow.pipeline must be an array of stages")
    end)

    it("session windows need $group or $sort, with no window bounds or $limit before it", function()
      local function session(pipeline)
        return { ["$sessionWindow"] = { partitionBy = "$a", gap = dur(1, "minute"), pipeline = pipeline } }
      end
      expect_stage(session { { ["$match"] = {} } },
        "The $sessionWindow.pipeline isn't supported, there must be a $group or $sort in the pipeline.")
      expect_stage(session { { ["$limit"] = 1 }, { ["$sort"] = { a = 1 } } },
        "The $sessionWindow.pipeline isn't supported, there cannot be a $limit before the first $group or $sort.")
      expect_stage(session { { ["$set"] = { s = { ["$meta"] = "stream.window.start" } } }, { ["$sort"] = { a = 1 } } },
        "The $sessionWindow.pipeline isn't supported, the pipeline cannot use _stream_meta.window until after "
          .. "the first $group or $sort.")
      expect_stage(session { { ["$match"] = { ["_stream_meta.window.start"] = { ["$exists"] = true } } },
                             { ["$group"] = { _id = "$a" } } },
        "The $sessionWindow.pipeline isn't supported, the pipeline cannot use _stream_meta.window until after "
          .. "the first $group or $sort.")
      valid { SOURCE, session { { ["$sort"] = { a = 1 } }, { ["$limit"] = 1 } }, SINK }
      valid { SOURCE, session { { ["$count"] = "n" }, { ["$set"] = { s = { ["$meta"] = "stream.window.start" } } } },
              SINK }
    end)
  end)

  describe("required fields and stage rules", function()
    it("$source must contain 'connectionName' field in it", function()
      expect({ { ["$source"] = { topic = "t" } }, SINK }, { { 1, "$source must contain 'connectionName' field in it" } })
      valid { { ["$source"] = { documents = { { a = 1 } } } }, SINK }
    end)

    it("$source: connectionName and documents together", function()
      expect({ { ["$source"] = { connectionName = "c", documents = {} } }, SINK },
        { { 1, "$source cannot contain both 'connectionName' and 'documents'" } })
    end)

    it("If coll is specified, db must be specified.", function()
      expect({ { ["$source"] = { connectionName = "c", coll = "x" } }, SINK },
        { { 1, "If coll is specified, db must be specified." } })
    end)

    it("empty database name", function()
      expect({ { ["$source"] = { connectionName = "c", db = "" } }, SINK },
        { { 1, "Cannot specify an empty database name to $source when configuring a change stream" } })
    end)

    it("startAfter and startAtOperationTime cannot both be set", function()
      expect({ { ["$source"] = { connectionName = "c", db = "d", config = { startAfter = {}, startAtOperationTime = 1 } } },
        SINK }, { { 1, "startAfter and startAtOperationTime cannot both be set" } })
    end)

    it("tsFieldName cannot be dotted", function()
      expect({ { ["$source"] = { connectionName = "c", tsFieldName = "a.b" } }, SINK },
        { { 1, "'tsFieldOverride' cannot be a dotted path" } })
    end)

    it("unknown fields of option stages", function()
      expect({ { ["$source"] = { connectionName = "c", topc = "t" } }, SINK },
        { { 1, "BSON field '$source.topc' is an unknown field." } })
    end)

    it("$validate: validator and validationAction", function()
      expect_stage({ ["$validate"] = { validationAction = "dlq" } },
        "BSON field '$validate.validator' is missing but a required field")
      expect_stage({ ["$validate"] = { validator = {}, validationAction = "drop" } },
        "$validate.validationAction must be one of discard, dlq, found: drop")
    end)

    it("$match cannot use $text", function()
      expect_stage({ ["$match"] = { ["$text"] = { ["$search"] = "x" } } },
        "Cannot use $text in $match stage in Atlas Stream Processing.")
    end)

    it("$replaceRoot needs newRoot", function()
      expect_stage({ ["$replaceRoot"] = {} }, "BSON field '$replaceRoot.newRoot' is missing but a required field")
    end)

    it("$unset takes field names", function()
      expect_stage({ ["$unset"] = { 1 } }, "$unset specification must be a string or an array of strings")
      expect_stage({ ["$unset"] = 1 }, "$unset specification must be a string or an array of strings")
    end)

    it("$unwind needs a path", function()
      expect_stage({ ["$unwind"] = { includeArrayIndex = "i" } }, "BSON field '$unwind.path' is missing but a required field")
      expect_stage({ ["$unwind"] = 1 }, "$unwind specification must be a string or an object")
    end)

    it("$lookup needs as, and a full from namespace", function()
      expect_stage({ ["$lookup"] = { from = { connectionName = "a", db = "b", coll = "c" }, localField = "a",
        foreignField = "b" } }, "BSON field '$lookup.as' is missing but a required field")
      expect_stage({ ["$lookup"] = { from = { connectionName = "a" }, localField = "a", foreignField = "b", as = "x" } },
        "$lookup.from must be a collection name or contain connectionName, db and coll")
    end)

    it("$cachedLookup needs ttl, maxMemUsageBytes, from, localField, foreignField, as", function()
      expect({ SOURCE, { ["$cachedLookup"] = { ttl = dur(1, "minute"), maxMemUsageBytes = 1, from = {
        connectionName = "a", db = "b" }, localField = "a", foreignField = "b" } }, SINK }, {
        { 2, "BSON field '$cachedLookup.from.coll' is missing but a required field" },
        { 2, "BSON field '$cachedLookup.as' is missing but a required field" },
      })
      expect_stage({ ["$cachedLookup"] = { ttl = dur(1, "year"), maxMemUsageBytes = 1, from = {
        connectionName = "a", db = "b", coll = "c" }, localField = "a", foreignField = "b", as = "x" } },
        "$cachedLookup.ttl must be a duration {size: <number>, unit: ms|second|minute|hour|day}")
    end)

    it("$https needs connectionName and as", function()
      expect({ SOURCE, { ["$https"] = { path = "/x" } }, SINK }, {
        { 2, "BSON field '$https.connectionName' is missing but a required field" },
        { 2, "BSON field '$https.as' is missing but a required field" },
      })
      expect_stage({ ["$https"] = { connectionName = "h", as = "r", method = "GETT" } },
        "$https.method must be one of GET, POST, PUT, PATCH, DELETE, found: GETT")
      expect_stage({ ["$https"] = { connectionName = "h", as = "r", onError = "retry" } },
        "$https.onError must be one of dlq, ignore, fail, found: retry")
    end)

    it("$externalFunction: functionName, execution, as with async", function()
      expect_stage({ ["$externalFunction"] = { connectionName = "l" } },
        "BSON field '$externalFunction.functionName' is missing but a required field")
      expect_stage({ ["$externalFunction"] = { connectionName = "l", functionName = "f", execution = "async",
        as = "x" } }, "$externalFunction.as must not be set when execution is 'async'")
    end)

    it("$setStreamMeta field names", function()
      expect_stage({ ["$setStreamMeta"] = { coll = "x" } },
        "$setStreamMeta field names must start with 'stream.', found: coll")
    end)

    it("$group, $sort, $count, $limit specs", function()
      local function inner(s, message)
        expect_stage(window { interval = dur(1, "second"), pipeline = { s } }, message,
          "pipeline[2].$tumblingWindow.pipeline[1]")
      end
      inner({ ["$group"] = { n = { ["$sum"] = 1 } } }, "a group specification must specify an _id")
      inner({ ["$sort"] = {} }, "$sort stage must have at least one sort key")
      inner({ ["$count"] = "" }, "the count field must be a non-empty string")
      inner({ ["$limit"] = 0 }, "the limit must be positive")
    end)

    it("$emit: config.key needs config.keyFormat", function()
      expect({ SOURCE, { ["$emit"] = { connectionName = "k", topic = "t", config = { key = "$id" } } } },
        { { 2, "Expected config.keyFormat to be specified when config.key is specified" } })
      expect({ SOURCE, { ["$emit"] = { topic = "t" } } },
        { { 2, "BSON field '$emit.connectionName' is missing but a required field" } })
    end)

    it("$merge needs into with connectionName, db and coll", function()
      expect({ SOURCE, { ["$merge"] = {} } }, { { 2, "BSON field '$merge.into' is missing but a required field" } })
      expect({ SOURCE, { ["$merge"] = { into = { connectionName = "a", db = "d" } } } },
        { { 2, "BSON field '$merge.into.coll' is missing but a required field" } })
    end)

    it("$merge: on duplicates, fail modes, dynamic names with parallelism", function()
      local into = { connectionName = "a", db = "d", coll = "c" }
      expect({ SOURCE, { ["$merge"] = { into = into, on = { "a", "b", "a" } } } },
        { { 2, "Found a duplicate field in the $merge.on list: 'a'" } })
      expect({ SOURCE, { ["$merge"] = { into = into, whenMatched = "fail", whenNotMatched = "fail" } } }, {
        { 2, "Unsupported whenMatched mode: fail" },
        { 2, "Unsupported whenNotMatched mode: fail" },
      })
      expect({ SOURCE, { ["$merge"] = { into = { connectionName = "a", db = "d", coll = { ["$meta"] = "stream.c" } },
        parallelism = 2 } } },
        { { 2, "$merge.into.db and $merge.into.coll must be literals if $merge.parallelism is greater than 1" } })
    end)
  end)
end)
