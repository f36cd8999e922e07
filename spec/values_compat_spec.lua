-- Number rules on Lua versions without an integer subtype (5.1, 5.2, LuaJIT), written in
-- Lua that runs everywhere. CTest runs it on 5.4 (where it checks the common rules); run it
-- on 5.1 / LuaJIT with that interpreter's busted against a build made with
-- -DLUA_VERSION=5.1 or jit.
local asp = require "asp.core"

local HAS_INTEGERS = math.type ~= nil
local function btype(v) return asp.bson_encode({ v = v }):byte(5) end
local INT32, INT64, DOUBLE = 0x10, 0x12, 0x01

local function canonical(json) return asp.to_json(asp.from_json(json), "canonical") end

describe("numbers on every Lua version", function()
  it("small integral values are int32, fractions double", function()
    assert.equal(INT32, btype(5))
    assert.equal(INT32, btype(-2147483648))
    assert.equal(INT64, btype(2147483648))
    assert.equal(DOUBLE, btype(0.5))
  end)

  it("int64 beyond 2^53 survives a round trip exactly", function()
    local json = '{ "v" : { "$numberLong" : "9223372036854775807" } }'
    assert.equal(json, canonical(json))
    local d = asp.bson_decode(asp.bson_encode(asp.from_json(json)))
    assert.equal(json, asp.to_json(d, "canonical"))
    assert.equal("9223372036854775807", tostring(d.v))
  end)

  it("ordered decode keeps int64 and double types of integral values", function()
    local json = '{ "l" : { "$numberLong" : "5" }, "d" : { "$numberDouble" : "5.0" }, "i" : { "$numberInt" : "5" } }'
    assert.equal(json, canonical(json))
  end)
end)

if not HAS_INTEGERS then
  describe("Lua 5.1 / LuaJIT number rules", function()
    it("integral numbers within 2^53 are integers, beyond are doubles", function()
      assert.equal(INT64, btype(2 ^ 53))
      assert.equal(INT64, btype(-(2 ^ 53)))
      assert.equal(DOUBLE, btype(2 ^ 53 + 2))
      assert.equal(DOUBLE, btype(1 / 0))
      assert.equal(INT32, btype(1.0))
    end)

    it("int64 beyond 2^53 decodes to a boxed asp.int64", function()
      local d = asp.from_json('{ "v" : { "$numberLong" : "9007199254740993" } }')
      assert.equal("int64", asp.type(d.v))
      assert.equal("9007199254740993", tostring(d.v))
      assert.equal(asp.int64("9007199254740993"), d.v)
      local small = asp.from_json('{ "v" : { "$numberLong" : "9007199254740992" } }')
      assert.equal("number", type(small.v))
    end)

    it("a plain decode turns integral doubles into integers (documented drift)", function()
      local d = asp.bson_decode(asp.bson_encode(asp.from_json('{ "d" : { "$numberDouble" : "5.0" } }')))
      assert.equal(INT32, btype(d.d))
    end)
  end)
end

describe("int64 boxes on every Lua version", function()
  local BIG = "9007199254740993" -- 2^53 + 1: no double holds it

  it("2^53+1 round-trips through BSON and adds exactly", function()
    local d = asp.bson_decode(asp.bson_encode({ v = asp.int64(BIG) }))
    assert.equal(BIG, tostring(d.v))
    assert.equal(INT64, btype(d.v))
    local sum = d.v + 1
    assert.equal("9007199254740994", tostring(sum))
    assert.equal(INT64, btype(sum))
    assert.equal(BIG, tostring(sum - 1))
    -- decoded from Extended JSON too
    local j = asp.from_json('{ "v" : { "$numberLong" : "' .. BIG .. '" } }')
    assert.equal("9007199254740995", tostring(j.v + asp.int64(2)))
    if not HAS_INTEGERS then
      assert.equal("userdata", type(sum)) -- beyond 2^53 the result stays boxed
      assert.equal(asp.int64("9007199254740994"), sum)
    end
  end)

  it("does integer arithmetic with boxes and integral numbers", function()
    local a, b = asp.int64(BIG), asp.int64(10)
    assert.equal("90071992547409930", tostring(a * b))
    assert.equal(3, asp.tonumber(a % b))
    assert.equal(3, asp.tonumber(asp.int64(-7) % asp.int64(10)))
    assert.equal(-1, asp.tonumber(asp.idiv(asp.int64(-7), 10)))
    assert.equal("-" .. BIG, tostring(-a))
    assert.equal(15, asp.tonumber(asp.int32(5) + 10))
    assert.equal(2.5, asp.int64(5) / 2)
    -- small results are plain numbers
    assert.equal("number", type(asp.int64(5) + 1))
  end)

  it("refuses overflow and inexact operands instead of rounding", function()
    assert.has_error(function() return asp.int64("9223372036854775807") + 1 end, "int64 overflow in +")
    assert.has_error(function() return -asp.int64("-9223372036854775808") end, "int64 overflow in unary -")
    assert.has_error(function() return asp.int64(1) % 0 end, "int64 modulo by zero")
    assert.matches("needs integers", select(2, pcall(function() return asp.int64(1) + 1.5 end)))
    assert.matches("needs integers", select(2, pcall(function() return asp.int64(1) + asp.objectid() end)))
  end)

  it("compares by value, int32 with int64 too", function()
    local a, b = asp.int64(BIG), asp.int64("9007199254740994")
    assert.is_true(a < b)
    assert.is_true(a <= a)
    assert.is_false(b < a)
    assert.is_true(asp.int32(5) < asp.int64(6))
    assert.equal(asp.int64(BIG), a)
    if HAS_INTEGERS then assert.is_true(a < 9007199254740994) end -- mixed: 5.3+ only
  end)

  it("asp.tonumber gives a number where it is exact", function()
    assert.equal(5, asp.tonumber(asp.int64(5)))
    assert.equal(1.5, asp.tonumber(asp.double(1.5)))
    assert.equal(7, asp.tonumber(7))
    local n, err = asp.tonumber(asp.int64(BIG))
    if HAS_INTEGERS then
      assert.equal(9007199254740993, n)
    else
      assert.is_nil(n)
      assert.matches("2%^53", err)
    end
    assert.is_nil(asp.tonumber(asp.objectid()))
    assert.is_nil(asp.tonumber("12"))
  end)
end)
