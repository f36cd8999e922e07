-- The value rules (docs/values.md) "strings" and "safety": invalid UTF-8, cycles, depth, values without a
-- BSON form, non-string keys and corrupt BSON are errors with a path, never a crash.
-- Runs without a server.
local asp = require "asp.core"

-- A little-endian int32 for hand-made BSON, on every Lua version (no string.pack).
local function i4(n)
  n = n % 2 ^ 32
  local b = {}
  for i = 1, 4 do
    b[i] = n % 256
    n = math.floor(n / 256)
  end
  return string.char(b[1], b[2], b[3], b[4])
end

local function encode_err(v)
  local bytes, err = asp.bson_encode(v)
  assert.is_nil(bytes)
  assert.is_string(err)
  return err
end

local function nest(levels)
  -- `levels` tables in all, the root included
  local root = {}
  local t = root
  for _ = 2, levels do
    t.x = {}
    t = t.x
  end
  return root
end

describe("strings", function()
  it("must be valid UTF-8", function()
    for _, s in ipairs({ "\255", "a\192\128", "\237\160\128", "abc\226\130", ("x"):rep(20) .. "\128" }) do
      assert.equal("value.s: invalid UTF-8 string (use asp.binary for bytes)", encode_err({ s = s }))
    end
  end)

  it("may be any valid UTF-8, including NUL bytes", function()
    for _, s in ipairs({ "", "plain", "h\195\169 \226\130\172 \240\159\152\128", "a\0b", ("long ascii "):rep(30) }) do
      assert.equal(s, asp.bson_decode(assert(asp.bson_encode({ s = s }))).s)
    end
  end)

  it("keys must be valid UTF-8 without NUL", function()
    assert.matches("^value: key is not valid UTF%-8 or contains a NUL byte", encode_err({ ["\255"] = 1 }))
    assert.matches("^value: key is not valid UTF%-8 or contains a NUL byte", encode_err({ ["a\0b"] = 1 }))
    assert.matches("^value%.sub: key", encode_err({ sub = { ["a\0"] = 1 } }))
  end)
end)

describe("paths in error messages", function()
  it("name document keys and 1-based array positions", function()
    local pipeline = { { ["$source"] = { connectionName = "x" } }, { ["$match"] = { x = print } } }
    assert.equal("value.pipeline[2].$match.x: function cannot be converted to BSON",
      encode_err({ pipeline = pipeline }))
  end)

  it("use the name the caller gives (to_json calls it value)", function()
    local json, err = asp.to_json({ a = { b = { coroutine.create(function() end) } } })
    assert.is_nil(json)
    assert.equal("value.a.b[1]: thread cannot be converted to BSON", err)
  end)
end)

describe("values without a BSON form", function()
  it("functions, threads and userdata are refused", function()
    assert.equal("value.f: function cannot be converted to BSON", encode_err({ f = function() end }))
    assert.equal("value.c: thread cannot be converted to BSON", encode_err({ c = coroutine.create(function() end) }))
    assert.equal("value.u: userdata cannot be converted to BSON", encode_err({ u = io.stdout }))
  end)

  it("non-string keys in documents are refused", function()
    assert.matches("^value: document key of type boolean is not a string", encode_err({ [true] = 1 }))
    assert.matches("^value: document key 1%.5 is not a string", encode_err({ [1.5] = 1 }))
    assert.matches("^value%.t: document key of type table is not a string", encode_err({ t = { [{}] = 1 } }))
  end)

  it("non-tables are not documents", function()
    assert.equal("value: table expected, got number", encode_err(5))
    assert.equal("value: table expected, got string", encode_err("x"))
  end)
end)

describe("cycles", function()
  it("are detected, with a path", function()
    local t = {}
    t.self = t
    assert.equal("value.self: cycle detected", encode_err(t))
    local a = { list = {} }
    a.list[1] = { back = a }
    assert.equal("value.list[1].back: cycle detected", encode_err(a))
  end)

  it("shared (non-cyclic) subtables are fine", function()
    local shared = { 1, 2 }
    local back = asp.bson_decode(assert(asp.bson_encode({ a = shared, b = shared, c = { shared } })))
    assert.same({ 1, 2 }, back.a)
    assert.same({ 1, 2 }, back.c[1])
  end)
end)

describe("depth", function()
  it("100 levels encode and decode", function()
    local bytes = assert(asp.bson_encode(nest(100)))
    local t = assert(asp.bson_decode(bytes))
    for _ = 2, 100 do t = t.x end
    assert.same({}, t)
  end)

  it("101 levels are an error on encode", function()
    local err = encode_err(nest(101))
    assert.equal("value" .. (".x"):rep(100) .. ": depth exceeds 100", err)
  end)

  it("101 levels are an error on decode", function()
    -- built by hand: the encoder would refuse it
    local doc = i4(5) .. "\0"
    for _ = 2, 101 do
      local body = "\3x\0" .. doc
      doc = i4(#body + 5) .. body .. "\0"
    end
    local t, err = asp.bson_decode(doc)
    assert.is_nil(t)
    assert.equal("invalid BSON: document nests deeper than 100 levels", err)
  end)

  it("deep arrays count the same way", function()
    local root = {}
    local t = root
    for _ = 2, 101 do
      t[1] = {}
      t = t[1]
    end
    assert.matches("depth exceeds 100$", encode_err({ v = root }))
  end)
end)

describe("corrupt BSON", function()
  local good = assert(asp.bson_encode(asp.ordered({ "s", "text", "n", 5, "d", { a = { 1, 2.5, true } },
    "o", asp.objectid(), "r", asp.regex("x", "i"), "b", asp.binary("bin", 0), "t", asp.date(0) })))

  it("is refused with nil, err", function()
    local cases = {
      "", "abc", good:sub(1, -2), good .. "\0", i4(4) .. "\0",
      i4(#good + 1) .. good:sub(5) .. "\0",
      i4(12) .. "\2a\0" .. i4(100) .. "\0", -- string length past the end
      i4(11) .. "\99a\0" .. "\0\0\0\0\0", -- unknown type
      i4(9) .. "\8a\0\2\0", -- boolean that is not 0 or 1
    }
    for _, bytes in ipairs(cases) do
      local t, err = asp.bson_decode(bytes)
      assert.is_nil(t)
      assert.matches("^invalid BSON", err)
    end
  end)

  it("never crashes the decoder (mutation fuzz)", function()
    math.randomseed(42)
    local decoded, refused = 0, 0
    for _ = 1, 5000 do
      local b = { good:byte(1, -1) }
      for _ = 1, math.random(1, 4) do
        b[math.random(1, #b)] = math.random(0, 255)
      end
      local t = asp.bson_decode(string.char(table.unpack(b)), math.random() < 0.5)
      if t then decoded = decoded + 1 else refused = refused + 1 end
    end
    assert.is_true(decoded + refused == 5000 and refused > 0)
  end)

  it("is refused by from_json's caller too (invalid JSON)", function()
    local t, err = asp.from_json("{bad json")
    assert.is_nil(t)
    assert.matches("^invalid JSON: ", err)
  end)
end)
