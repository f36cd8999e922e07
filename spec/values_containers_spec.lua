-- The value rules (docs/values.md) "null", "arrays", "key order": documents, arrays, ordered documents and
-- the byte-exact round trip of a pipeline read back from a server. Runs without a server.
local asp = require "asp.core"

if not string.pack then
  pending("values_containers_spec.lua: builds its BSON by hand with string.pack (Lua 5.3+)")
  return
end

-- A tiny BSON writer independent of the module under test (string.pack only).
local B = {}
local function cstr(k) return k .. "\0" end
function B.doc(elements) local body = table.concat(elements) return string.pack("<i4", #body + 5) .. body .. "\0" end
function B.str(k, s) return "\2" .. cstr(k) .. string.pack("<i4", #s + 1) .. s .. "\0" end
function B.i32(k, v) return "\16" .. cstr(k) .. string.pack("<i4", v) end
function B.i64(k, v) return "\18" .. cstr(k) .. string.pack("<i8", v) end
function B.dbl(k, v) return "\1" .. cstr(k) .. string.pack("<d", v) end
function B.bool(k, v) return "\8" .. cstr(k) .. (v and "\1" or "\0") end
function B.null(k) return "\10" .. cstr(k) end
function B.sub(k, elements) return "\3" .. cstr(k) .. B.doc(elements) end
-- items: functions of the array key ("0", "1", ...)
function B.arr(k, items)
  local els = {}
  for i, f in ipairs(items) do els[i] = f(tostring(i - 1)) end
  return "\4" .. cstr(k) .. B.doc(els)
end

describe("null", function()
  it("is the NULL light userdata, the same value as cjson.null", function()
    assert.equal("userdata", type(asp.null))
    local ok, cjson = pcall(require, "cjson")
    if ok then assert.equal(cjson.null, asp.null) end
    assert.equal("null", asp.type(asp.null))
  end)

  it("encodes as BSON null and decodes back to asp.null", function()
    local bytes = assert(asp.bson_encode({ v = asp.null }))
    assert.equal(B.doc({ B.null("v") }), bytes)
    assert.equal(asp.null, asp.bson_decode(bytes).v)
  end)

  it("keeps array positions", function()
    local t = asp.bson_decode(assert(asp.bson_encode({ v = { 1, asp.null, 3 } }))).v
    assert.equal(3, #t)
    assert.equal(asp.null, t[2])
  end)

  it("decodes the deprecated undefined as null", function()
    local body = "\6v\0"
    assert.equal(asp.null, asp.bson_decode(string.pack("<i4", #body + 5) .. body .. "\0").v)
  end)
end)

describe("arrays", function()
  it("a table with keys exactly 1..n encodes as an array", function()
    assert.equal(B.doc({ B.arr("v", { function(k) return B.i32(k, 1) end, function(k) return B.str(k, "x") end }) }),
      asp.bson_encode({ v = { 1, "x" } }))
  end)

  it("decoded arrays carry the shared marker metatable", function()
    local t = asp.bson_decode(asp.bson_encode({ v = { 1, 2 } })).v
    assert.is_true(getmetatable(t).__asp_array)
    assert.equal(asp.array_mt, getmetatable(t))
    assert.equal("array", asp.type(t))
  end)

  it("an empty decoded array stays an array", function()
    local bytes = B.doc({ B.arr("v", {}) })
    local t = asp.bson_decode(bytes).v
    assert.same({}, t)
    assert.equal("array", asp.type(t))
    assert.equal(bytes, asp.bson_encode({ v = t }))
  end)

  it("asp.array marks a table (or makes an empty one)", function()
    assert.equal(B.doc({ B.arr("v", {}) }), asp.bson_encode({ v = asp.array() }))
    assert.equal(B.doc({ B.arr("v", {}) }), asp.bson_encode({ v = asp.array({}) }))
    local t = { 5 }
    assert.equal(t, asp.array(t))
    assert.equal("array", asp.type(t))
  end)

  it("any metatable with __asp_array marks an array (pure-Lua modules)", function()
    local t = setmetatable({}, { __asp_array = true })
    assert.equal(B.doc({ B.arr("v", {}) }), asp.bson_encode({ v = t }))
  end)

  it("an empty plain table is an empty document", function()
    assert.equal(B.doc({ B.sub("v", {}) }), asp.bson_encode({ v = {} }))
    local t = asp.bson_decode(B.doc({ B.sub("v", {}) })).v
    assert.same({}, t)
    assert.is_nil(getmetatable(t))
    assert.equal("document", asp.type(t))
  end)

  it("nests", function()
    local v = { { 1 }, { 2, { 3, {} } }, asp.array() }
    local back = asp.bson_decode(asp.bson_encode({ v = v })).v
    assert.equal(1, back[1][1])
    assert.equal(3, back[2][2][1])
    assert.equal("document", asp.type(back[2][2][2]))
    assert.equal("array", asp.type(back[3]))
  end)

  it("tables with holes or extra keys are not arrays", function()
    local _, err = asp.bson_encode({ v = { [1] = 1, [3] = 3 } })
    assert.matches("^value%.v: document key %d is not a string", err)
    _, err = asp.bson_encode({ v = { 1, 2, x = 3 } })
    assert.matches("^value%.v: document key 1 is not a string", err)
  end)

  it("a top-level array is not a document", function()
    local bytes, err = asp.bson_encode({ 1, 2 })
    assert.is_nil(bytes)
    assert.matches("document expected, got an array", err)
  end)
end)

describe("key order", function()
  it("asp.ordered keeps the given order", function()
    local d = asp.ordered({ "b", 1, "a", 2, "c", 3 })
    assert.same({ "b", "a", "c" }, getmetatable(d).__asp_order)
    assert.equal(B.doc({ B.i32("b", 1), B.i32("a", 2), B.i32("c", 3) }), asp.bson_encode(d))
    assert.equal(1, d.b)
    assert.equal("document", asp.type(d))
  end)

  it("keys added later follow, keys set to nil are skipped", function()
    local d = asp.ordered({ "z", 1, "y", 2 })
    d.y = nil
    d.x = 3
    assert.equal(B.doc({ B.i32("z", 1), B.i32("x", 3) }), asp.bson_encode(d))
  end)

  it("a nil value leaves the key out until it is set", function()
    local d = asp.ordered({ "a", nil, "b", 2 })
    assert.equal(B.doc({ B.i32("b", 2) }), asp.bson_encode(d))
    d.a = 1
    assert.equal(B.doc({ B.i32("a", 1), B.i32("b", 2) }), asp.bson_encode(d))
  end)

  it("asp.ordered refuses non-string and duplicate keys", function()
    assert.has_error(function() asp.ordered({ 1, 2 }) end)
    assert.has_error(function() asp.ordered({ "a", 1, "a", 2 }) end)
    assert.same({}, asp.ordered())
  end)

  it("ordered decode records each document's order, nested ones too", function()
    local bytes = B.doc({ B.i32("z", 1), B.sub("m", { B.i32("q", 1), B.i32("b", 2) }), B.i32("a", 3) })
    local d = asp.bson_decode(bytes, true)
    assert.same({ "z", "m", "a" }, getmetatable(d).__asp_order)
    assert.same({ "q", "b" }, getmetatable(d.m).__asp_order)
    assert.equal(bytes, asp.bson_encode(d))
  end)

  it("plain decode gives plain tables", function()
    local d = asp.bson_decode(B.doc({ B.sub("m", { B.i32("q", 1) }) }))
    assert.is_nil(getmetatable(d))
    assert.is_nil(getmetatable(d.m))
  end)

  it("any metatable with __asp_order is an ordered document (pure-Lua modules)", function()
    local d = setmetatable({ a = 1, b = 2 }, { __asp_order = { "b", "a" } })
    assert.equal(B.doc({ B.i32("b", 2), B.i32("a", 1) }), asp.bson_encode(d))
  end)

  it("ordered documents with non-string keys are refused", function()
    local d = asp.ordered({ "a", 1 })
    d[1] = true
    local _, err = asp.bson_encode({ v = d })
    assert.matches("^value%.v: document key 1 is not a string", err)
  end)
end)

describe("a pipeline read back from the server", function()
  -- What a server returns for a pipeline created by another client: $sort and $group
  -- with several keys, int64 and integral doubles (mongosh numbers), nested arrays,
  -- booleans, null and an empty array.
  local function el(maker, ...) local args = { ... } return function(k) return maker(k, table.unpack(args)) end end
  local pipeline = B.doc({
    B.str("name", "solar"),
    B.arr("pipeline", {
      el(B.sub, { B.sub("$source", { B.str("connectionName", "sample_stream_solar"), B.str("timeField", "$timestamp") }) }),
      el(B.sub, { B.sub("$match", { B.sub("obs.watts", { B.i64("$gt", 100), B.dbl("$lte", 450.0) }),
                                    B.sub("event_type", { B.arr("$in", { el(B.i32, 0), el(B.dbl, 1.0) }) }) }) }),
      el(B.sub, { B.sub("$tumblingWindow", {
        B.sub("interval", { B.dbl("size", 10.0), B.str("unit", "second") }),
        B.arr("pipeline", {
          el(B.sub, { B.sub("$group", {
            B.sub("_id", { B.str("device", "$device_id"), B.str("group", "$group_id") }),
            B.sub("max", { B.str("$max", "$obs.watts") }),
            B.sub("n", { B.i64("$sum", 1) }),
          }) }),
          el(B.sub, { B.sub("$sort", { B.i32("max", -1), B.i32("_id.device", 1), B.dbl("n", -1.0) }) }),
        }),
      }) }),
      el(B.sub, { B.sub("$project", { B.bool("_id", false), B.null("gone"), B.arr("tags", {}) }) }),
      el(B.sub, { B.sub("$merge", { B.sub("into", { B.str("connectionName", "atlas"), B.str("db", "d"), B.str("coll", "c") }) }) }),
    }),
  })

  it("encodes back to the same bytes after an ordered decode", function()
    local doc = asp.bson_decode(pipeline, true)
    assert.equal(pipeline, asp.bson_encode(doc))
  end)

  it("and after a second trip", function()
    local doc = asp.bson_decode(asp.bson_encode(asp.bson_decode(pipeline, true)), true)
    assert.equal(pipeline, asp.bson_encode(doc))
  end)

  it("reads as ordinary Lua values", function()
    local doc = asp.bson_decode(pipeline, true)
    assert.equal("solar", doc.name)
    assert.equal(5, #doc.pipeline)
    assert.equal(100, doc.pipeline[2]["$match"]["obs.watts"]["$gt"])
    assert.same({ "max", "_id.device", "n" },
      getmetatable(doc.pipeline[3]["$tumblingWindow"].pipeline[2]["$sort"]).__asp_order)
    assert.equal("array", asp.type(doc.pipeline[4]["$project"].tags))
    assert.equal(asp.null, doc.pipeline[4]["$project"].gone)
  end)

  it("goes through Extended JSON unchanged", function()
    local doc = asp.bson_decode(pipeline, true)
    local json = asp.to_json(doc, "canonical")
    assert.equal(pipeline, asp.bson_encode(asp.from_json(json)))
  end)
end)

describe("pairs() on ordered documents", function()
  local function collect(t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    return keys
  end

  it("follows the recorded order, then keys added later", function()
    local d = asp.ordered({ "z", 1, "m", 2, "a", 3 })
    assert.same({ "z", "m", "a" }, collect(d))
    d.m = nil
    d.b = 4
    assert.same({ "z", "a", "b" }, collect(d))
  end)

  it("works on decoded documents", function()
    local d = asp.bson_decode(B.doc({ B.i32("q", 1), B.i32("c", 2), B.i32("k", 3) }), true)
    assert.same({ "q", "c", "k" }, collect(d))
    local n = 0
    for _, v in pairs(d) do n = n + v end
    assert.equal(6, n)
  end)
end)

describe("assigning to ordered documents", function()
  it("appends new keys to the order in assignment order", function()
    local d = asp.ordered({ "a", 1 })
    d.k3 = 3
    d.k1 = 1
    d.k2 = 2
    assert.same({ "a", "k3", "k1", "k2" }, getmetatable(d).__asp_order)
    assert.equal(B.doc({ B.i32("a", 1), B.i32("k3", 3), B.i32("k1", 1), B.i32("k2", 2) }), asp.bson_encode(d))
  end)

  it("keeps the place of a key set to nil and back", function()
    local d = asp.bson_decode(B.doc({ B.i32("x", 1), B.i32("y", 2) }), true)
    d.x = nil
    d.z = 3
    d.x = 4
    assert.same({ "x", "y", "z" }, getmetatable(d).__asp_order)
    assert.equal(B.doc({ B.i32("x", 4), B.i32("y", 2), B.i32("z", 3) }), asp.bson_encode(d))
  end)

  it("a new key on one decoded document leaves others of the same shape alone", function()
    -- documents of one shape may share their metatable: a new key must not leak
    local bytes = B.doc({ B.i32("x", 1), B.i64("y", 2), B.sub("s", { B.i32("p", 1), B.i32("q", 2) }) })
    local a, b = asp.bson_decode(bytes, true), asp.bson_decode(bytes, true)
    a.z = 3
    a.s.r = 4
    rawset(a, "w", 5)
    assert.same({ "x", "y", "s", "z" }, getmetatable(a).__asp_order)
    assert.same({ "p", "q", "r" }, getmetatable(a.s).__asp_order)
    assert.same({ "x", "y", "s" }, getmetatable(b).__asp_order)
    assert.same({ "p", "q" }, getmetatable(b.s).__asp_order)
    assert.equal(bytes, asp.bson_encode(b))
    assert.equal(bytes, asp.bson_encode(asp.bson_decode(bytes, true)))
    assert.equal(B.doc({ B.i32("x", 1), B.i64("y", 2), B.sub("s", { B.i32("p", 1), B.i32("q", 2), B.i32("r", 4) }),
      B.i32("z", 3), B.i32("w", 5) }), asp.bson_encode(a))
    -- a's own metatable keeps working: one more key, a listed key set again
    a.x = nil
    a.v = 6
    a.x = 7
    assert.same({ "x", "y", "s", "z", "v" }, getmetatable(a).__asp_order)
  end)

  it("documents with the same keys but other number types keep their own hints", function()
    local as_i64 = B.doc({ B.i64("n", 1), B.i32("m", 2) })
    local as_i32 = B.doc({ B.i32("n", 1), B.i32("m", 2) })
    local x, y = asp.bson_decode(as_i64, true), asp.bson_decode(as_i32, true)
    assert.equal(as_i64, asp.bson_encode(x))
    assert.equal(as_i32, asp.bson_encode(y))
    assert.equal(as_i64, asp.bson_encode(asp.bson_decode(as_i64, true)))
  end)

  it("rawset keys still encode, after the ordered ones", function()
    local d = asp.ordered({ "a", 1 })
    rawset(d, "r", 2)
    assert.equal(B.doc({ B.i32("a", 1), B.i32("r", 2) }), asp.bson_encode(d))
  end)
end)
