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
