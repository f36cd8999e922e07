-- The value rules (docs/values.md) "other types": ObjectId, date, timestamp, decimal128, binary, regex,
-- min/max key (and JavaScript code, DBPointer) decode to small typed values with
-- __tostring and __eq and encode back to the same type. Runs without a server.
local asp = require "asp.core"

if not string.pack then
  pending("values_typed_spec.lua: builds its BSON by hand with string.pack and checks math.type (Lua 5.3+)")
  return
end

local function raw(type_byte, payload)
  local body = string.char(type_byte) .. "v\0" .. payload
  return string.pack("<i4", #body + 5) .. body .. "\0"
end
local function decode_raw(type_byte, payload) return assert(asp.bson_decode(raw(type_byte, payload))).v end
local function encode(v) return assert(asp.bson_encode({ v = v })) end

describe("ObjectId", function()
  local hex = "65a1b2c3d4e5f60718293a4b"
  local bytes = raw(0x07, (hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end)))

  it("decodes from BSON and encodes back to the same bytes", function()
    local oid = decode_raw(0x07, (hex:gsub("..", function(h) return string.char(tonumber(h, 16)) end)))
    assert.equal("objectid", asp.type(oid))
    assert.equal(hex, tostring(oid))
    assert.equal(hex, oid.hex)
    assert.equal(bytes, encode(oid))
  end)

  it("is built from hex or generated", function()
    assert.equal(bytes, encode(asp.objectid(hex)))
    assert.equal(asp.objectid(hex), asp.objectid(hex:upper()))
    local a, b = asp.objectid(), asp.objectid()
    assert.are_not.equal(a, b)
    assert.equal(24, #tostring(a))
    assert.has_error(function() asp.objectid("xyz") end)
    assert.has_error(function() asp.objectid(("g"):rep(24)) end)
  end)

  it("compares by bytes", function()
    assert.is_true(asp.objectid("000000000000000000000001") < asp.objectid("000000000000000000000002"))
  end)
end)

describe("date", function()
  it("decodes from BSON milliseconds and encodes back", function()
    local d = decode_raw(0x09, string.pack("<i8", 1795392004500))
    assert.equal("date", asp.type(d))
    assert.equal(1795392004500, d.ms)
    assert.equal("integer", math.type(d.ms))
    assert.equal("2026-11-23T00:00:04.500Z", tostring(d))
    assert.equal(raw(0x09, string.pack("<i8", 1795392004500)), encode(d))
  end)

  it("is built from milliseconds, an ISO-8601 string, or now", function()
    assert.equal(asp.date(1795392004500), asp.date("2026-11-23T00:00:04.500Z"))
    assert.equal(asp.date(1795392004500), asp.date("2026-11-23T00:00:04.500+00:00"))
    assert.equal(0, asp.date("1970-01-01T00:00:00Z").ms)
    local now = asp.date()
    assert.is_true(now.ms > 1700000000000)
    assert.has_error(function() asp.date("yesterday") end)
    assert.has_error(function() asp.date(1.5) end)
  end)

  it("compares and prints dates before the epoch", function()
    assert.is_true(asp.date(1) < asp.date(2))
    assert.is_true(asp.date(2) <= asp.date(2))
    assert.is_false(asp.date(3) < asp.date(2))
    assert.equal(asp.date(5), asp.date(5))
    assert.equal("1969-12-31T23:59:59.999Z", tostring(asp.date(-1)))
    assert.equal("2000-02-29T12:00:00.000Z", tostring(asp.date("2000-02-29T12:00:00Z")))
  end)

  it("does not compare with other kinds", function()
    assert.has_error(function() return asp.date(1) < asp.timestamp(1, 1) end)
    assert.are_not.equal(asp.date(1), asp.int64(1))
  end)
end)

describe("timestamp", function()
  it("decodes (increment first on the wire) and encodes back", function()
    local ts = decode_raw(0x11, string.pack("<I4I4", 9, 1700000000))
    assert.equal("timestamp", asp.type(ts))
    assert.equal(1700000000, ts.t)
    assert.equal(9, ts.i)
    assert.equal("Timestamp(1700000000, 9)", tostring(ts))
    assert.equal(raw(0x11, string.pack("<I4I4", 9, 1700000000)), encode(ts))
  end)

  it("is built from (t, i) and ordered by t then i", function()
    assert.equal(asp.timestamp(5, 1), asp.timestamp(5, 1))
    assert.is_true(asp.timestamp(5, 2) < asp.timestamp(6, 1))
    assert.is_true(asp.timestamp(5, 1) < asp.timestamp(5, 2))
    assert.equal(4294967295, asp.timestamp(4294967295, 0).t)
    assert.has_error(function() asp.timestamp(-1, 0) end)
    assert.has_error(function() asp.timestamp(4294967296, 0) end)
    assert.has_error(function() asp.timestamp(1) end)
  end)
end)

describe("decimal128", function()
  it("round-trips through BSON and prints its decimal form", function()
    for _, s in ipairs({ "1.5", "-0", "1E+6144", "0.000001234", "NaN", "-Infinity", "1234567890123456789012345678901234" }) do
      local d = asp.decimal128(s)
      assert.equal("decimal128", asp.type(d))
      local back = asp.bson_decode(encode(d)).v
      assert.equal(d, back)
      assert.equal(tostring(d), tostring(back))
    end
    assert.equal("1.5", tostring(asp.decimal128("1.5")))
  end)

  it("decodes what libbson writes", function()
    local d = asp.from_json('{"v": {"$numberDecimal": "3.14159"}}').v
    assert.equal("3.14159", tostring(d))
    assert.equal(asp.decimal128("3.14159"), d)
    assert.are_not.equal(asp.decimal128("3.14"), d)
  end)

  it("refuses non-numbers and has no order", function()
    assert.has_error(function() asp.decimal128("abc") end)
    assert.has_error(function() return asp.decimal128("1") < asp.decimal128("2") end)
  end)
end)

describe("binary", function()
  it("keeps bytes and subtype both ways", function()
    local payload = "\0\1\2\255"
    local bytes = raw(0x05, string.pack("<i4", #payload) .. "\128" .. payload)
    local b = asp.bson_decode(bytes).v
    assert.equal("binary", asp.type(b))
    assert.equal(payload, b.data)
    assert.equal(128, b.subtype)
    assert.equal(bytes, encode(b))
    assert.equal(bytes, encode(asp.binary(payload, 128)))
    assert.equal(0, asp.binary("x").subtype)
  end)

  it("reads the old subtype 2 layout and writes it back", function()
    local bytes = raw(0x05, string.pack("<i4", 7) .. "\2" .. string.pack("<i4", 3) .. "abc")
    local b = asp.bson_decode(bytes).v
    assert.equal("abc", b.data)
    assert.equal(2, b.subtype)
    assert.equal(bytes, encode(b))
  end)

  it("compares by subtype and bytes, prints as Extended JSON", function()
    assert.equal(asp.binary("ab", 0), asp.binary("ab", 0))
    assert.are_not.equal(asp.binary("ab", 0), asp.binary("ab", 4))
    assert.are_not.equal(asp.binary("ab"), asp.binary("ac"))
    assert.matches('"base64" : "YWI="', tostring(asp.binary("ab")))
    assert.has_error(function() asp.binary("x", 256) end)
  end)

  it("is how bytes that are not UTF-8 get into BSON", function()
    assert.is_nil((asp.bson_encode({ v = "\255" })))
    assert.equal("\255", asp.bson_decode(encode(asp.binary("\255"))).v.data)
  end)
end)

describe("regex", function()
  it("keeps pattern and options both ways", function()
    local bytes = raw(0x0B, "^a.c$\0im\0")
    local r = asp.bson_decode(bytes).v
    assert.equal("regex", asp.type(r))
    assert.equal("^a.c$", r.pattern)
    assert.equal("im", r.options)
    assert.equal("/^a.c$/im", tostring(r))
    assert.equal(bytes, encode(r))
    assert.equal(bytes, encode(asp.regex("^a.c$", "im")))
    assert.equal(asp.regex("x"), asp.regex("x", ""))
    assert.are_not.equal(asp.regex("x", "i"), asp.regex("x", "m"))
  end)

  it("refuses NUL bytes and unknown options", function()
    assert.has_error(function() asp.regex("a\0b") end)
    assert.has_error(function() asp.regex("a", "q") end)
  end)
end)

describe("min and max key", function()
  it("are values that round-trip", function()
    assert.equal("minkey", asp.type(asp.minkey))
    assert.equal("maxkey", asp.type(asp.maxkey))
    assert.equal(raw(0xFF, ""), encode(asp.minkey))
    assert.equal(raw(0x7F, ""), encode(asp.maxkey))
    assert.equal(asp.minkey, asp.bson_decode(raw(0xFF, "")).v)
    assert.equal(asp.maxkey, asp.bson_decode(raw(0x7F, "")).v)
    assert.are_not.equal(asp.minkey, asp.maxkey)
    assert.equal("MinKey", tostring(asp.minkey))
    assert.equal("MaxKey", tostring(asp.maxkey))
  end)
end)

describe("JavaScript code and DBPointer", function()
  it("code round-trips", function()
    local bytes = raw(0x0D, string.pack("<i4", 4) .. "f()\0")
    local c = asp.bson_decode(bytes).v
    assert.equal("javascript", asp.type(c))
    assert.equal("f()", c.code)
    assert.equal(bytes, encode(c))
    assert.equal(bytes, encode(asp.javascript("f()")))
  end)

  it("code with scope round-trips and exposes its scope", function()
    local c = asp.from_json('{"v": {"$code": "x + y", "$scope": {"y": 1}}}').v
    assert.equal("javascript", asp.type(c))
    assert.equal("x + y", c.code)
    assert.equal(1, c.scope.y)
    local bytes = encode(c)
    assert.equal(bytes, encode(asp.bson_decode(bytes).v))
  end)

  it("DBPointer round-trips", function()
    local p = asp.from_json('{"v": {"$dbPointer": {"$ref": "db.c", "$id": {"$oid": "65a1b2c3d4e5f60718293a4b"}}}}').v
    assert.equal("dbpointer", asp.type(p))
    assert.equal("db.c", p.collection)
    assert.equal(asp.objectid("65a1b2c3d4e5f60718293a4b"), p.id)
    local bytes = encode(p)
    assert.equal(bytes, encode(asp.bson_decode(bytes).v))
  end)

  it("a symbol decodes to a string", function()
    assert.equal("sym", asp.bson_decode(raw(0x0E, string.pack("<i4", 4) .. "sym\0")).v)
  end)
end)

describe("typed values in general", function()
  it("are not equal to other values and have no unknown fields", function()
    assert.are_not.equal(asp.date(1), 1)
    assert.is_nil(asp.date(1).nope)
    assert.is_nil(asp.objectid().ms)
    assert.is_false(getmetatable(asp.date(1)))
  end)

  it("survive an ordered decode and re-encode in documents and arrays", function()
    local doc = asp.ordered({ "o", asp.objectid("65a1b2c3d4e5f60718293a4b"), "d", asp.date(5),
      "a", { asp.timestamp(1, 2), asp.decimal128("2.5"), asp.binary("z", 5), asp.regex("r", "s"), asp.minkey, asp.maxkey } })
    local bytes = assert(asp.bson_encode(doc))
    assert.equal(bytes, asp.bson_encode(asp.bson_decode(bytes, true)))
    -- a plain decode loses the key order, not the types
    assert.equal(#bytes, #asp.bson_encode(asp.bson_decode(bytes)))
  end)
end)

describe("date strings", function()
  it("accept +HH:MM offsets as sample_stream_solar prints them", function()
    assert.equal(asp.date("2026-11-23T00:00:04.500Z"), asp.date("2026-11-23T01:00:04.500+01:00"))
    assert.equal(asp.date("2026-11-23T00:00:04.500Z"), asp.date("2026-11-22T23:00:04.500-0100"))
  end)
end)
