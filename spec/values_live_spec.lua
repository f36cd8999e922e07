-- The value mapping against a live aspd through the public API: every kind of value a
-- pipeline can hold survives create -> get_info -> create byte for byte, and sampled
-- documents decode to the documented Lua values.
local asp = require "asp"
local aspd = require "support.aspd"

local function bytes(v) return assert(asp.bson_encode(asp.ordered({ "v", v }))) end

describe("values through a live aspd", function()
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

  it("a pipeline with every number type, typed values and key orders round-trips", function()
    local pipeline = asp.from_json([[ [
      { "$source": { "connectionName": "sample_stream_solar" } },
      { "$match": { "obs.watts": { "$gte": { "$numberLong": "0" }, "$lte": { "$numberDouble": "1000.0" } },
                    "group_id": { "$in": [ 1, { "$numberLong": "2" }, { "$numberDouble": "3.0" }, 4.5 ] },
                    "device_id": { "$ne": null },
                    "when": { "$lt": { "$date": "2100-01-01T00:00:00Z" } },
                    "big": { "$ne": { "$numberLong": "9223372036854775807" } },
                    "dec": { "$ne": { "$numberDecimal": "1.5" } },
                    "tags": { "$nin": [] } } },
      { "$project": { "_id": 0, "device_id": 1, "group_id": 1, "obs": 1, "z": { "$literal": "é ✓" } } },
      { "$emit": { "connectionName": "__testLog" } }
    ] ]])
    assert.truthy(sps:create("values_rt1", pipeline))
    local back = assert(sps:get_info("values_rt1")).pipeline
    assert.equal(bytes(pipeline), bytes(back))
    -- what came back reads as ordinary values
    local match = back[2]["$match"]
    assert.equal(0, match["obs.watts"]["$gte"])
    assert.equal("date", asp.type(match.when["$lt"]))
    assert.equal("array", asp.type(match.tags["$nin"]))
    assert.equal(asp.null, match.device_id["$ne"])
    -- and sent again it is the same pipeline
    assert.truthy(sps:create("values_rt2", back))
    assert.equal(bytes(pipeline), bytes(assert(sps:get_info("values_rt2")).pipeline))
    assert.is_true(sps:get("values_rt1"):drop())
    assert.is_true(sps:get("values_rt2"):drop())
  end)

  it("sampled documents decode to plain Lua values", function()
    local proc = assert(sps:create("values_sample", {
      { ["$source"] = { connectionName = "sample_stream_solar" } },
      { ["$emit"] = { connectionName = "__testLog" } },
    }))
    assert.is_true(proc:start())
    local n = 0
    for doc in proc:sample({ limit = 5, max_wait_ms = 20000 }) do
      n = n + 1
      assert.is_string(doc.device_id)
      assert.is_number(doc.group_id)
      -- an integer: the subtype on 5.3+, an integral number elsewhere
      if math.type then assert.equal("integer", math.type(doc.group_id)) end
      assert.equal(math.floor(doc.group_id), doc.group_id)
      assert.is_nil(getmetatable(doc))
      if doc.obs and math.type then assert.equal("integer", math.type(doc.obs.watts)) end
      assert.truthy(asp.to_json(doc))
    end
    assert.equal(5, n)
    assert.is_true(proc:stop())
    assert.is_true(proc:drop())
  end)
end)
