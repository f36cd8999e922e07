-- The value rules (docs/values.md) "JSON": Extended JSON in and out, relaxed and canonical, through
-- libbson, so that pipelines can live in .json files. Runs without a server.
local asp = require "asp.core"

if not math.type then
  pending("values_json_spec.lua: expects the integer/float subtypes of Lua 5.3+ (1.0 is a double only there); values_compat_spec.lua states the 5.1/5.2/LuaJIT rules")
  return
end

describe("asp.to_json", function()
  local doc = asp.ordered({ "i", 1, "l", 1099511627776, "f", 1.0, "h", 0.5, "s", "x", "n", asp.null,
    "b", true, "d", asp.date(0), "arr", { 1, 2 }, "e", asp.array(), "o", {} })

  it("writes relaxed Extended JSON by default, in the document's key order", function()
    assert.equal('{ "i" : 1, "l" : 1099511627776, "f" : 1.0, "h" : 0.5, "s" : "x", "n" : null, "b" : true, '
      .. '"d" : { "$date" : "1970-01-01T00:00:00Z" }, "arr" : [ 1, 2 ], "e" : [  ], "o" : {  } }',
      asp.to_json(doc))
    assert.equal(asp.to_json(doc), asp.to_json(doc, "relaxed"))
  end)

  it("writes canonical Extended JSON on request", function()
    assert.equal('{ "i" : { "$numberInt" : "1" }, "l" : { "$numberLong" : "1099511627776" }, '
      .. '"f" : { "$numberDouble" : "1.0" }, "h" : { "$numberDouble" : "0.5" }, "s" : "x", "n" : null, '
      .. '"b" : true, "d" : { "$date" : { "$numberLong" : "0" } }, '
      .. '"arr" : [ { "$numberInt" : "1" }, { "$numberInt" : "2" } ], "e" : [  ], "o" : {  } }',
      asp.to_json(doc, "canonical"))
  end)

  it("writes arrays and single values", function()
    assert.equal('[ 1, "x", null ]', asp.to_json({ 1, "x", asp.null }))
    assert.equal("[  ]", asp.to_json(asp.array()))
    assert.equal('[ { "$numberInt" : "1" } ]', asp.to_json({ 1 }, "canonical"))
    assert.equal('{ "$numberDouble" : "1.5" }', asp.to_json(1.5, "canonical"))
    assert.equal('"s"', asp.to_json("s"))
    assert.equal("null", asp.to_json(asp.null))
    assert.equal('{ "$oid" : "65a1b2c3d4e5f60718293a4b" }', asp.to_json(asp.objectid("65a1b2c3d4e5f60718293a4b")))
  end)

  it("writes every typed value in both modes", function()
    local t = asp.ordered({ "ts", asp.timestamp(1, 2), "dec", asp.decimal128("2.5"), "bin", asp.binary("ab", 4),
      "re", asp.regex("^x", "i"), "min", asp.minkey, "max", asp.maxkey, "i64", asp.int64(5), "js", asp.javascript("f()") })
    assert.equal('{ "ts" : { "$timestamp" : { "t" : 1, "i" : 2 } }, "dec" : { "$numberDecimal" : "2.5" }, '
      .. '"bin" : { "$binary" : { "base64" : "YWI=", "subType" : "04" } }, '
      .. '"re" : { "$regularExpression" : { "pattern" : "^x", "options" : "i" } }, '
      .. '"min" : { "$minKey" : 1 }, "max" : { "$maxKey" : 1 }, "i64" : 5, "js" : { "$code" : "f()" } }',
      asp.to_json(t))
    assert.matches('"i64" : { "$numberLong" : "5" }', asp.to_json(t, "canonical"), 1, true)
  end)

  it("returns nil, err for values without a BSON form and raises for a bad mode", function()
    local json, err = asp.to_json({ f = print })
    assert.is_nil(json)
    assert.equal("value.f: function cannot be converted to BSON", err)
    assert.has_error(function() asp.to_json({}, "pretty") end)
  end)
end)

describe("asp.from_json", function()
  it("reads documents as ordered documents", function()
    local d = asp.from_json('{ "z" : 1, "a" : { "y" : 2, "b" : 3 } }')
    assert.same({ "z", "a" }, getmetatable(d).__asp_order)
    assert.same({ "y", "b" }, getmetatable(d.a).__asp_order)
    assert.equal('{ "z" : 1, "a" : { "y" : 2, "b" : 3 } }', asp.to_json(d))
  end)

  it("reads a top-level array as an array", function()
    local a = asp.from_json(' [1, {"b": 2}, []]')
    assert.equal("array", asp.type(a))
    assert.equal(1, a[1])
    assert.equal(2, a[2].b)
    assert.equal("array", asp.type(a[3]))
    assert.equal("array", asp.type(asp.from_json("[]")))
  end)

  it("reads every Extended JSON type", function()
    local d = asp.from_json([[{
      "oid": {"$oid": "65a1b2c3d4e5f60718293a4b"},
      "date": {"$date": "2026-11-23T00:00:04.500Z"},
      "date2": {"$date": {"$numberLong": "1795392004500"}},
      "ts": {"$timestamp": {"t": 5, "i": 6}},
      "dec": {"$numberDecimal": "1.5"},
      "bin": {"$binary": {"base64": "AAE=", "subType": "00"}},
      "re": {"$regularExpression": {"pattern": "a", "options": "i"}},
      "min": {"$minKey": 1}, "max": {"$maxKey": 1},
      "i32": {"$numberInt": "7"}, "i64": {"$numberLong": "9007199254740993"},
      "dbl": {"$numberDouble": "2.0"}, "inf": {"$numberDouble": "-Infinity"}
    }]])
    local kinds = { oid = "objectid", date = "date", date2 = "date", ts = "timestamp", dec = "decimal128",
      bin = "binary", re = "regex", min = "minkey", max = "maxkey" }
    for k, kind in pairs(kinds) do assert.equal(kind, asp.type(d[k]), k) end
    assert.equal(d.date, d.date2)
    assert.equal("\0\1", d.bin.data)
    assert.equal(7, d.i32)
    assert.equal(9007199254740993, d.i64)
    assert.equal("float", math.type(d.dbl))
    assert.equal(-math.huge, d.inf)
  end)

  it("load -> save gives back the canonical text", function()
    local text = '{ "name" : "solar", "pipeline" : [ { "$source" : { "connectionName" : "sample_stream_solar" } }, '
      .. '{ "$match" : { "obs.watts" : { "$gt" : { "$numberLong" : "100" } } } }, '
      .. '{ "$group" : { "_id" : { "device" : "$device_id", "group" : "$group_id" }, "n" : { "$sum" : { "$numberInt" : "1" } } } }, '
      .. '{ "$sort" : { "n" : { "$numberInt" : "-1" }, "_id.device" : { "$numberDouble" : "1.0" } } }, '
      .. '{ "$project" : { "tags" : [  ], "gone" : null, "when" : { "$date" : { "$numberLong" : "0" } } } } ], '
      .. '"options" : {  } }'
    assert.equal(text, asp.to_json(asp.from_json(text), "canonical"))
  end)

  it("relaxed text of the sample data survives load -> save -> load", function()
    local src = os.getenv("ASP_SOURCE_DIR") or "."
    local f = assert(io.open(src .. "/bench/data/solar-10k.jsonl"))
    local n = 0
    for line in f:lines() do
      local doc = assert(asp.from_json(line))
      local again = assert(asp.from_json(asp.to_json(doc)))
      assert.equal(asp.bson_encode(doc), asp.bson_encode(again))
      n = n + 1
      if n == 500 then break end
    end
    f:close()
  end)

  it("returns nil, err for invalid JSON", function()
    for _, text in ipairs({ "", "{", "{bad}", "{} trailing", "5", '{"a": {"$oid": "xyz"}}', '{"a": 1,}' }) do
      local d, err = asp.from_json(text)
      assert.is_nil(d, text)
      assert.matches("^invalid JSON: ", err)
    end
    assert.has_error(function() asp.from_json() end)
  end)
end)
