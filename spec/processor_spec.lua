-- Processors through the public API against a live aspd: the whole lifecycle, options on
-- the wire, reply shapes, validation before traffic, byte-exact pipeline round trip.
local asp = require "asp"
local aspd = require "support.aspd"

local function solar_pipeline()
  return {
    { ["$source"] = { connectionName = "sample_stream_solar" } },
    { ["$emit"] = { connectionName = "__testLog" } },
  }
end

-- Polls until the processor reaches state (start is asynchronous on real ASP).
local function wait_state(proc, state)
  local info
  for _ = 1, 100 do
    info = assert(proc:info())
    if info.state == state then return info end
    asp_sleep(0.05)
  end
  error("state " .. tostring(info and info.state) .. " never became " .. state)
end

describe("asp processors", function()
  local server, client, sps

  setup(function()
    _G.asp_sleep = require("asp.core").sleep
    server = aspd.start()
    client = server:connect()
    sps = client:stream_processors()
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  it("runs the lifecycle create, start, stats, stop, modify, start, stop, drop", function()
    local proc = assert(sps:create("life", solar_pipeline()))
    assert.equal("life", proc.name)
    assert.equal("Atlas Stream Processor: life", tostring(proc))
    local info = assert(sps:get_info("life"))
    assert.equal("life", info.name)
    assert.equal("CREATED", info.state)
    assert.equal(2, #info.pipeline)

    assert.is_true(proc:start())
    wait_state(proc, "STARTED")
    local stats = assert(proc:stats())
    assert.equal("life", stats.name)
    assert.is_table(stats.stats)
    assert.is_nil(stats.ok)
    assert.truthy(proc:stats({ verbose = true, scale = 1024 }))

    assert.is_true(proc:stop())
    assert.equal("STOPPED", wait_state(proc, "STOPPED").state)
    local p2 = solar_pipeline()
    table.insert(p2, 2, { ["$match"] = { ["obs.watts"] = { ["$gte"] = 0 } } })
    assert.is_true(proc:modify({ pipeline = p2, resume_from_checkpoint = false }))
    assert.equal(3, #assert(proc:info()).pipeline)
    assert.is_true(proc:modify(solar_pipeline()))
    assert.equal(2, #assert(proc:info()).pipeline)
    assert.is_true(proc:start({ workers = 1, clear_checkpoints = true, tier = "SP10" }))
    wait_state(proc, "STARTED")
    assert.is_true(proc:stop())
    assert.is_true(proc:drop())
    local gone, err = proc:info()
    assert.is_nil(gone)
    assert.equal("server", err.domain)
  end)

  it("creates with options and reports them back", function()
    local proc = assert(sps:create("with_opts", solar_pipeline(), {
      tier = "SP5",
      stream_meta_field_name = "_meta",
      failover = false,
    }))
    local info = assert(proc:info())
    assert.equal("SP5", info.tier)
    assert.is_true(proc:drop())
  end)

  it("renames through modify and the handle follows", function()
    local proc = assert(sps:create("old_name", solar_pipeline()))
    assert.is_true(proc:start())
    wait_state(proc, "STARTED")
    assert.is_true(proc:stop())
    wait_state(proc, "STOPPED")
    assert.is_true(proc:modify({ name = "new_name" }))
    assert.equal("new_name", proc.name)
    assert.equal("new_name", assert(sps:get_info("new_name")).name)
    assert.is_true(proc:drop())
  end)

  it("lists processors with a filter", function()
    local a = assert(sps:create("list_a", solar_pipeline()))
    local b = assert(sps:create("list_b", solar_pipeline()))
    assert.is_true(b:start())
    wait_state(b, "STARTED")
    local all = assert(sps:list())
    local names = {}
    for _, p in ipairs(all) do names[p.name] = p.state end
    assert.equal("CREATED", names.list_a)
    assert.equal("STARTED", names.list_b)
    local started = assert(sps:list({ state = "STARTED" }))
    for _, p in ipairs(started) do assert.equal("STARTED", p.state) end
    local none = assert(sps:list({ name = "no_such" }))
    assert.equal(0, #none)
    assert.is_true(a:drop())
    assert.is_true(b:drop()) -- drop works while STARTED
  end)

  it("gets a local handle without any I/O", function()
    local proc = sps:get("does_not_exist")
    assert.equal("does_not_exist", proc.name)
    local info, err = proc:info()
    assert.is_nil(info)
    assert.equal("server", err.domain)
    assert.is_number(err.code)
    assert.matches("does_not_exist", err.message)
  end)

  it("returns nil, err for server refusals", function()
    assert.truthy(sps:create("dup", solar_pipeline()))
    local again, err = sps:create("dup", solar_pipeline())
    assert.is_nil(again)
    assert.equal("server", err.domain)
    assert.is_string(err.code_name)
    local bad, err2 = sps:create("bad", { { ["$unknownStage"] = {} } })
    assert.is_nil(bad)
    -- the engine reference: planner refusals are StreamProcessorInvalidOptions (420)
    assert.equal("server", err2.domain)
    assert.is_true(err2.code == 420 or err2.code == 9)
    local ok, err3 = sps:get("dup"):stop() -- not running
    assert.is_nil(ok)
    assert.equal("server", err3.domain)
    assert.is_true(sps:get("dup"):drop())
  end)

  it("round-trips a pipeline read back with get_info byte-exactly", function()
    local original = asp.from_json([[
      [ { "$source": { "connectionName": "sample_stream_solar" } },
        { "$match": { "z": { "$gte": 0 }, "a": 1, "m": { "$exists": false } } },
        { "$emit": { "connectionName": "__testLog" } } ] ]])
    assert.truthy(sps:create("rt1", original))
    local back = assert(sps:get_info("rt1")).pipeline
    local bytes = function(p) return asp.bson_encode(asp.ordered { "p", p }) end
    assert.equal(bytes(original), bytes(back))
    assert.truthy(sps:create("rt2", back))
    assert.equal(bytes(original), bytes(assert(sps:get_info("rt2")).pipeline))
    assert.is_true(sps:get("rt1"):drop())
    assert.is_true(sps:get("rt2"):drop())
  end)

  it("accepts an empty pipeline table as an empty array", function()
    local ok, err = sps:create("empty_pipeline", {})
    -- whatever the server says about an empty pipeline, the client sent an array
    if ok then assert.is_true(ok:drop()) else assert.equal("server", err.domain) end
  end)

  it("validates before any traffic and raises naming the argument", function()
    local function raises(fn, text)
      assert.error_matches(fn, text, 1, true)
    end
    raises(function() sps:create("", solar_pipeline()) end,
      "bad argument #1 to 'create' (the processor name must not be empty)")
    raises(function() sps:create("  ", solar_pipeline()) end, "blank")
    raises(function() sps:create(nil, solar_pipeline()) end, "bad argument #1")
    raises(function() sps:create("x", "pipeline") end,
      "bad argument #2 to 'create' (table expected, got string)")
    raises(function() sps:create("x", { ["$match"] = {} }) end, "must be an array")
    raises(function() sps:create("x", { 1, 2 }) end, "pipeline[1]: a stage must be a document")
    raises(function() sps:create("x", solar_pipeline(), { tier = "SP3" }) end, "invalid tier 'SP3'")
    raises(function() sps:create("x", solar_pipeline(), { teir = "SP2" }) end,
      "create: unknown option 'teir'")
    raises(function() sps:create("x", solar_pipeline(), { dlq = "c" }) end,
      "create: option 'dlq' must be a table")
    raises(function() sps:create("x", solar_pipeline(), { failover = 1 }) end,
      "option 'failover' must be a boolean")
    raises(function() sps:get("") end, "empty")
    raises(function() sps:get_info(" ") end, "blank")

    local proc = sps:get("v")
    raises(function() proc:start({ workers = 0 }) end, "workers: must be greater than 0")
    raises(function() proc:start({ workers = 1.5 }) end, "option 'workers' must be an integer")
    raises(function() proc:start({ tier = "SP7" }) end, "invalid tier")
    raises(function() proc:start({ failover = { mode = "FORCED" } }) end, "failover.region")
    raises(function() proc:start({ failover = {} }) end, "failover.region")
    raises(function() proc:start({ failover = { region = "EU", mode = "auto" } }) end,
      "GRACEFUL or FORCED")
    raises(function() proc:start({ failover = { region = "EU", dryrun = true } }) end,
      "unknown option 'dryrun'")
    raises(function() proc:start({ start_after = "token" }) end, "unknown option 'start_after'")
    raises(function() proc:start({ start_at_operation_time = "yesterday" }) end, "timestamp")
    raises(function() proc:start({ start_at_operation_time = { t = -1, i = 0 } }) end, "timestamp")
    raises(function() proc:start({ start_at_operation_time = { t = 1.5, i = 0 } }) end, "timestamp")
    raises(function() proc:stats({ scale = 0 }) end, "scale: must be greater than 0")
    raises(function() proc:stats({ verbose = "yes" }) end, "must be a boolean")
    raises(function() proc:modify({}) end, "nothing to modify")
    raises(function() proc:modify({ resume = true }) end, "unknown option 'resume'")
    raises(function() proc:modify("p") end, "bad argument #1")
    raises(function() proc:modify({ tier = "x" }) end, "invalid tier")
    raises(function() proc:modify({ name = " " }) end, "blank")
    raises(function() proc:modify({ pipeline = "x" }) end, "array of stages expected")
    raises(function() proc:modify(solar_pipeline(), { pipeline = solar_pipeline() }) end,
      "given twice")
    raises(function() proc:sample({ limit = -1 }) end, "option 'limit' must be an integer in 0..")
    raises(function() proc:sample({ limit = 2 ^ 31 }) end, "option 'limit' must be an integer")
    raises(function() proc:sample({ batch_size = -2 }) end, "option 'batch_size'")
    raises(function() proc:sample({ sleep = 1 }) end, "option 'sleep' must be a function")
    raises(function() proc:sample({ limt = 1 }) end, "sample: unknown option 'limt'")
    raises(function() proc:get_samples({ cursor_id = -1 }) end, "cursor_id")
    raises(function() proc:get_samples({ batch_size = -1 }) end, "batch_size")
    raises(function() proc:get_samples({ cursorid = 1 }) end, "unknown option 'cursorid'")
    -- nothing of the above reached the server: the processor still does not exist
    assert.is_nil((sps:get_info("v")))
  end)

  it("starts with a BSON timestamp for start_at_operation_time", function()
    local proc = assert(sps:create("ts_start", solar_pipeline()))
    assert.is_true(proc:start({ start_at_operation_time = asp.timestamp(1715000000, 1) }))
    assert.is_true(proc:drop())
    proc = assert(sps:create("ts_start2", solar_pipeline()))
    assert.is_true(proc:start({ start_at_operation_time = { t = 1715000000, i = 2 } }))
    assert.is_true(proc:drop())
  end)
end)
