-- Processor definitions {name, pipeline, options} as Extended JSON files: load -> save
-- reproduces every fixture byte for byte, in relaxed and canonical mode. Needs the
-- built asp.core (to_json / from_json); pending without it.
local P = require "asp.pipeline"

local DIR = (os.getenv("ASP_SOURCE_DIR") or ".") .. "/spec/fixtures/pipelines/"

local has_core, core = pcall(require, "asp.core")
has_core = has_core and type(core.to_json) == "function" and type(core.from_json) == "function"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local FIXTURES = {
  "solar_tumbling", "kafka_validate_merge", "https_enrichment", "lookup", "hopping_window",
  "session_window", "emit_timeseries", "change_stream_cached_lookup", "emit_s3", "emit_kinesis",
  "ejson_types",
}

local function tmpname()
  local name = os.tmpname()
  os.remove(name)
  return name .. ".json"
end

describe("definition files", function()
  if not has_core then
    pending("asp.core with to_json/from_json is not built")
    return
  end

  for _, name in ipairs(FIXTURES) do
    it("load -> save reproduces " .. name .. ".json", function()
      local path = DIR .. name .. ".json"
      local def = assert(P.load_definition(path))
      local out = tmpname()
      assert.is_true(P.save_definition(out, def))
      local saved = read(out)
      os.remove(out)
      assert.equal(read(path), saved)
    end)
  end

  it("decode -> encode reproduces the text, relaxed and canonical", function()
    for _, file in ipairs { "ejson_types.json", "ejson_types.canonical.json" } do
      local text = read(DIR .. file)
      local mode = file:find("canonical", 1, true) and "canonical" or "relaxed"
      assert.equal(text, assert(P.encode_definition(assert(P.decode_definition(text)), mode)))
    end
  end)

  it("canonical and relaxed files hold the same definition", function()
    local relaxed = read(DIR .. "ejson_types.json")
    local canonical = assert(P.decode_definition(read(DIR .. "ejson_types.canonical.json")))
    assert.equal(relaxed, assert(P.encode_definition(canonical)))
  end)

  it("a loaded definition keeps its shape and key order, ready for create", function()
    local def = assert(P.load_definition(DIR .. "solar_tumbling.json"))
    assert.same({ "name", "pipeline", "options" }, getmetatable(def).__asp_order)
    assert.equal("solarDemo", def.name)
    assert.equal(4, #def.pipeline)
    assert.equal("mongodb1", def.options.dlq.connectionName)
    -- the form sps:create(def.name, def.pipeline, def.options) takes
    assert.is_true(P.validate(def.pipeline))
  end)

  it("options are snake_case in Lua, as sps:create takes them, and camelCase in the file", function()
    local def = assert(P.load_definition(DIR .. "ejson_types.json"))
    assert.same({ stream_meta_field_name = "meta" }, def.options)
    local json = assert(P.encode_definition(P.definition("x", P.new(),
      { failover = true, stream_meta_field_name = "m", tier = "SP5", dlq = { connectionName = "a" } })))
    assert.matches('"options": {\n    "dlq": {\n      "connectionName": "a"\n    },\n    "tier": "SP5",\n'
      .. '    "streamMetaFieldName": "m",\n    "failover": true\n  }', json, 1, true)
    local back = assert(P.decode_definition(json))
    assert.same({ "dlq", "tier", "stream_meta_field_name", "failover" }, getmetatable(back.options).__asp_order)
    local bad, err = P.decode_definition('{"name": "x", "pipeline": [], "options": {"tierSize": "SP5"}}')
    assert.is_nil(bad)
    assert.equal("asp.pipeline: unknown option 'tierSize' in definition.options (expected dlq, tier, "
      .. "streamMetaFieldName, failover)", err)
  end)

  it("typed values survive a load", function()
    local def = assert(P.load_definition(DIR .. "ejson_types.json"))
    local match = def.pipeline[2]["$match"]
    assert.equal("date", core.type(match.createdAt["$gte"]))
    assert.equal("objectid", core.type(match.customer))
    assert.equal(core.null, match.deleted)
    assert.is_true(getmetatable(match.tags).__asp_array)
  end)

  it("saves a definition made with the builder, in name, pipeline, options order", function()
    local p = P.new():source { connection_name = "sample_stream_solar" }:emit { connection_name = "__testLog" }
    local json = assert(P.encode_definition { options = { tier = "SP10" }, pipeline = p, name = "demo" })
    assert.equal([[
{
  "name": "demo",
  "pipeline": [
    {
      "$source": {
        "connectionName": "sample_stream_solar"
      }
    },
    {
      "$emit": {
        "connectionName": "__testLog"
      }
    }
  ],
  "options": {
    "tier": "SP10"
  }
}
]], json)
    local back = assert(P.decode_definition(json))
    assert.same(p:build(), back.pipeline)
  end)

  it("writes plain tables with sorted keys, so a saved file is the same on every run", function()
    local p = P.new():source { connection_name = "sample_stream_solar" }
      :match { zeta = 1, alpha = { y = 2, x = 1 }, mid = { 3, 2, 1 } }
      :emit { connection_name = "__testLog" }
    local json = assert(P.encode_definition(P.definition("x", p, { dlq = { db = "d", coll = "c", connectionName = "a" } })))
    local def = assert(P.decode_definition(json))
    assert.same({ "alpha", "mid", "zeta" }, getmetatable(def.pipeline[2]["$match"]).__asp_order)
    assert.same({ "x", "y" }, getmetatable(def.pipeline[2]["$match"].alpha).__asp_order)
    assert.same({ 3, 2, 1 }, def.pipeline[2]["$match"].mid)
    assert.same({ "coll", "connectionName", "db" }, getmetatable(def.options.dlq).__asp_order)
    assert.equal(json, assert(P.encode_definition(def)))
  end)

  it("reports a cycle instead of looping", function()
    local m = { a = 1 }
    m.self = m
    local json, err = P.encode_definition { name = "x", pipeline = { { ["$match"] = m } } }
    assert.is_nil(json)
    assert.matches("^asp.pipeline: cannot encode definition: ", err)
  end)

  it("leaves options out when there are none", function()
    local json = assert(P.encode_definition(P.definition("x", P.new())))
    assert.equal('{\n  "name": "x",\n  "pipeline": []\n}\n', json)
    assert.equal(json, assert(P.encode_definition { name = "x", pipeline = {} }))
  end)

  it("rejects what is not a definition", function()
    local cases = {
      { "[1]", "a definition must be an object {name, pipeline, options}" },
      { '{"name": "x", "pipeline": [], "extra": 1}', "unknown field 'extra' in definition (expected name, pipeline, options)" },
      { '{"pipeline": []}', "definition.name must be a non-empty string" },
      { '{"name": "x", "pipeline": {"a": 1}}', "definition.pipeline must be an array of stages" },
      { '{"name": "x", "pipeline": [], "options": 3}', "definition.options must be an object" },
    }
    for _, case in ipairs(cases) do
      local def, err = P.decode_definition(case[1])
      assert.is_nil(def)
      assert.equal("asp.pipeline: " .. case[2], err)
    end
    local def, err = P.decode_definition("{nope")
    assert.is_nil(def)
    assert.matches("^asp.pipeline: invalid definition JSON: ", err)
  end)

  it("load reports missing files and bad content with the path", function()
    local def, err = P.load_definition(DIR .. "does-not-exist.json")
    assert.is_nil(def)
    assert.matches("does%-not%-exist.json", err)
    local bad = tmpname()
    local f = assert(io.open(bad, "wb"))
    f:write('{"name": ""}')
    f:close()
    def, err = P.load_definition(bad)
    os.remove(bad)
    assert.is_nil(def)
    assert.equal("asp.pipeline: definition.name must be a non-empty string (" .. bad .. ")", err)
  end)

  it("save reports an unwritable path and raises on a bad mode or shape", function()
    local ok, err = P.save_definition("/nonexistent-dir/x.json", P.definition("x", P.new()))
    assert.is_nil(ok)
    assert.matches("^asp.pipeline: ", err)
    local function raises_here(fn, text)
      local ok, e = pcall(fn)
      assert.is_false(ok)
      assert.matches("pipeline_json_spec.lua:%d+: " .. text:gsub("%p", "%%%0") .. "$", e)
    end
    raises_here(function() P.encode_definition(P.definition("x", P.new()), "pretty") end,
      "asp.pipeline: JSON mode must be 'relaxed' or 'canonical', got pretty")
    raises_here(function() P.encode_definition { name = "x" } end,
      "asp.pipeline: definition.pipeline must be an array of stages")
    raises_here(function() P.save_definition("/tmp/x.json", { name = "", pipeline = {} }) end,
      "asp.pipeline: definition.name must be a non-empty string")
    raises_here(function() P.definition("x", {}, { tiers = "SP5" }) end,
      "asp.pipeline: unknown option 'tiers' in definition.options (expected dlq, tier, streamMetaFieldName, failover)")
  end)
end)
