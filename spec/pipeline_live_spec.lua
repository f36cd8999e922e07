-- asp.pipeline against a live aspd: a definition file is created as it is, read back
-- byte-exactly, wrapped and extended; and the validator reports the same texts as the
-- workspace's planner. Pending when no aspd binary is configured (ASPD_BIN).
local P = require "asp.pipeline"

local function tmpname()
  local name = os.tmpname()
  os.remove(name)
  return name .. ".json"
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local SOLAR = { connection_name = "sample_stream_solar" }
local LOG = { connection_name = "__testLog" }

describe("asp.pipeline with a workspace", function()
  if not os.getenv("ASPD_BIN") then
    pending("ASPD_BIN is not set")
    return
  end

  local aspd = require "support.aspd"
  local server, client, sps

  setup(function()
    server = aspd.start()
    client = server:connect()
    sps = client:stream_processors()
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  it("creates a processor from a definition file and reads the same pipeline back", function()
    local pipeline = P.new()
      :source { connection_name = "sample_stream_solar", ts_field_name = "ingest_ts" }
      :match(P.ordered("event_type", 0, "obs.watts", { ["$gte"] = 10 }))
      :emit(LOG)
    local path = tmpname()
    assert(P.save_definition(path, P.definition("fromFile", pipeline, { tier = "SP10" })))

    local def = assert(P.load_definition(path))
    local proc = assert(sps:create(def.name, def.pipeline, def.options))

    local info = assert(sps:get_info("fromFile"))
    local back = P.definition(info.name, info.pipeline, def.options)
    assert.equal(read(path), assert(P.encode_definition(back)))
    os.remove(path)
    assert.is_true(proc:drop())
  end)

  it("wraps a pipeline read back with get_info, extends it and creates the result", function()
    assert(sps:create("wrapped", P.new():source(SOLAR):emit(LOG):build()))
    local info = assert(sps:get_info("wrapped"))
    local stages = info.pipeline
    local sink = table.remove(stages)
    local extended = P.from(stages):match { event_type = 0 }:add(sink)
    assert.is_true(extended:validate())
    assert(sps:create("wrapped2", extended:build()))
    local again = assert(sps:get_info("wrapped2")).pipeline
    assert.equal(3, #again)
    assert.same({ event_type = 0 }, again[2]["$match"])
    assert.is_true(sps:get("wrapped"):drop())
    assert.is_true(sps:get("wrapped2"):drop())
  end)

  it("reports the planner's own texts", function()
    local cases = {
      P.new():match { a = 1 }:emit(LOG),
      P.new():source(SOLAR):group { _id = 1 }:emit(LOG),
      P.new():source(SOLAR),
      P.new():source(SOLAR):emit(LOG):match { a = 1 },
      P.new():source { topic = "x" }:emit(LOG),
      P.new():source(SOLAR):stage("$facet", {}):emit(LOG),
    }
    for i, p in ipairs(cases) do
      local ok, problems = p:validate()
      assert.is_nil(ok)
      local created, err = sps:create("planner" .. i, p:build())
      assert.is_nil(created)
      assert.equal(problems[1].message, err.message)
    end
  end)
end)
