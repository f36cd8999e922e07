-- The value rules (docs/values.md) "integers": Lua numbers <-> BSON int32 / int64 / double, both ways, and
-- the asp.int32 / asp.int64 / asp.double wrappers. Runs without a server.
local asp = require "asp.core"

if not math.type then
  pending("values_numbers_spec.lua: expects the integer/float subtypes of Lua 5.3+; values_compat_spec.lua states the 5.1/5.2/LuaJIT rules")
  return
end

-- BSON type byte of the only element of a one-key document.
local function btype(bytes) return bytes:byte(5) end
local INT32, INT64, DOUBLE = 0x10, 0x12, 0x01

local function encoded_type(v) return btype(assert(asp.bson_encode({ v = v }))) end
local function roundtrip(v) return assert(asp.bson_decode(assert(asp.bson_encode({ v = v })))).v end

-- A one-element document built by hand, so decoding is checked against bytes that did
-- not come from our encoder.
local function raw(type_byte, payload)
  local body = string.char(type_byte) .. "v\0" .. payload
  return string.pack("<i4", #body + 5) .. body .. "\0"
end

describe("integers (Lua 5.3+ integer subtype)", function()
  local cases = {
    { 0, INT32 }, { 1, INT32 }, { -1, INT32 },
    { 2147483647, INT32 },            -- 2^31 - 1
    { 2147483648, INT64 },            -- 2^31
    { -2147483648, INT32 },           -- -2^31
    { -2147483649, INT64 },           -- -2^31 - 1
    { 9007199254740992, INT64 },      -- 2^53 as an integer
    { 9007199254740993, INT64 },      -- 2^53 + 1: exact on 5.3+
    { math.maxinteger, INT64 },       -- 2^63 - 1
    { math.mininteger, INT64 },       -- -2^63
  }
  for _, c in ipairs(cases) do
    it(("%d encodes as %s and decodes to the same integer"):format(c[1], c[2] == INT32 and "int32" or "int64"), function()
      assert.equal(c[2], encoded_type(c[1]))
      local back = roundtrip(c[1])
      assert.equal("integer", math.type(back))
      assert.equal(c[1], back)
    end)
  end

  it("int32 and int64 decode to Lua integers", function()
    assert.equal(7, asp.bson_decode(raw(INT32, string.pack("<i4", 7))).v)
    assert.equal("integer", math.type(asp.bson_decode(raw(INT32, string.pack("<i4", 7))).v))
    local big = asp.bson_decode(raw(INT64, string.pack("<i8", math.maxinteger))).v
    assert.equal(math.maxinteger, big)
    assert.equal("integer", math.type(big))
    assert.equal(math.mininteger, asp.bson_decode(raw(INT64, string.pack("<i8", math.mininteger))).v)
  end)
end)

describe("floats", function()
  it("float values always encode as double, even integral ones", function()
    for _, v in ipairs({ 0.5, -0.5, 1.0, 2.0 ^ 53, 2.0 ^ 63, 1e300, -1e-300 }) do
      assert.equal(DOUBLE, encoded_type(v))
      local back = roundtrip(v)
      assert.equal("float", math.type(back))
      assert.equal(v, back)
    end
  end)

  it("keeps -0.0, infinities and NaN", function()
    local z = roundtrip(-0.0)
    assert.equal(0, z)
    assert.equal(-math.huge, 1 / z)
    assert.equal(math.huge, roundtrip(math.huge))
    assert.equal(-math.huge, roundtrip(-math.huge))
    local nan = roundtrip(0 / 0)
    assert.is_true(nan ~= nan)
    assert.equal(DOUBLE, encoded_type(0 / 0))
  end)

  it("decodes a BSON double to a Lua float", function()
    local v = asp.bson_decode(raw(DOUBLE, string.pack("<d", 5.0))).v
    assert.equal("float", math.type(v))
    assert.equal(5.0, v)
  end)
end)

describe("number wrappers", function()
  it("asp.int32 / asp.int64 / asp.double override the automatic choice", function()
    assert.equal(INT64, encoded_type(asp.int64(5)))
    assert.equal(INT32, encoded_type(asp.int32(5)))
    assert.equal(DOUBLE, encoded_type(asp.double(5)))
    assert.equal(INT32, encoded_type(asp.int32(-2147483648)))
    assert.equal(INT64, encoded_type(asp.int64(math.maxinteger)))
  end)

  it("write the value given", function()
    assert.equal(5, roundtrip(asp.int64(5)))
    assert.equal(5.0, roundtrip(asp.double(5)))
    assert.equal("float", math.type(roundtrip(asp.double(5))))
    assert.equal(math.maxinteger, roundtrip(asp.int64("9223372036854775807")))
    assert.equal(math.mininteger, roundtrip(asp.int64("-9223372036854775808")))
  end)

  it("expose value, tostring, equality and asp.type", function()
    assert.equal(5, asp.int64(5).value)
    assert.equal("integer", math.type(asp.int64(5).value))
    assert.equal(2.5, asp.double(2.5).value)
    assert.equal("5", tostring(asp.int64(5)))
    assert.equal("-7", tostring(asp.int32(-7)))
    assert.equal(asp.int64(5), asp.int64(5))
    assert.are_not.equal(asp.int64(5), asp.int32(5))
    assert.equal("int64", asp.type(asp.int64(1)))
    assert.equal("int32", asp.type(asp.int32(1)))
    assert.equal("double", asp.type(asp.double(1)))
    assert.is_true(asp.int64(1) < asp.int64(2))
    assert.is_true(asp.double(1) <= asp.double(1))
  end)

  it("accept integral floats and refuse what does not fit", function()
    assert.equal(3, asp.int32(3.0).value)
    assert.has_error(function() asp.int32(2147483648) end)
    assert.has_error(function() asp.int32(-2147483649) end)
    assert.has_error(function() asp.int32(1.5) end)
    assert.has_error(function() asp.int64(2.0 ^ 63) end)
    assert.has_error(function() asp.int64(0 / 0) end)
    assert.has_error(function() asp.int64("12x") end)
    assert.has_error(function() asp.int64("99999999999999999999") end)
    assert.has_error(function() asp.double("x") end)
    assert.has_error(function() asp.int32() end)
  end)
end)

describe("asp.type of numbers", function()
  it("names the BSON type a number encodes to", function()
    assert.equal("int32", asp.type(1))
    assert.equal("int32", asp.type(-2147483648))
    assert.equal("int64", asp.type(2147483648))
    assert.equal("int64", asp.type(math.mininteger))
    assert.equal("double", asp.type(1.0))
    assert.equal("double", asp.type(0.5))
  end)
end)

describe("int64 values that fit int32", function()
  local bytes = raw(INT64, string.pack("<i8", 5))

  it("decode to plain integers", function()
    assert.equal(5, asp.bson_decode(bytes).v)
    assert.equal(5, asp.bson_decode(bytes, true).v)
  end)

  it("re-encode as int32 from a plain decode (the documented drift)", function()
    assert.equal(INT32, btype(asp.bson_encode(asp.bson_decode(bytes))))
  end)

  it("re-encode as int64 from an ordered decode, byte for byte", function()
    local doc = asp.bson_decode(bytes, true)
    assert.equal("int64", getmetatable(doc).__asp_types.v)
    assert.equal(bytes, asp.bson_encode(doc))
    doc.v = 6 -- a new integer keeps the field's type
    assert.equal(INT64, btype(asp.bson_encode(doc)))
    doc.v = 6.5 -- a float is a double whatever the hint
    assert.equal(DOUBLE, btype(asp.bson_encode(doc)))
  end)

  it("inside arrays too", function()
    local body = "\18" .. "0\0" .. string.pack("<i8", 1) .. "\16" .. "1\0" .. string.pack("<i4", 2)
    local arr = string.pack("<i4", #body + 5) .. body .. "\0"
    local bytes2 = raw(0x04, arr)
    local doc = asp.bson_decode(bytes2, true)
    assert.same({ 1, 2 }, { doc.v[1], doc.v[2] })
    assert.equal(bytes2, asp.bson_encode(doc))
  end)
end)
