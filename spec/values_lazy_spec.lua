-- Lazy documents (asp.bson_decode(bytes, "lazy"), proc:sample{decode = "lazy"}): every
-- field reads as the plain decoder gives it, on the whole solar dataset and on a document
-- holding every BSON type; pairs, #, to_json, re-encoding and asp.materialize work.
local asp = require "asp"
local aspd = require "support.aspd"

local has_pairs_mm = _VERSION ~= "Lua 5.1" and not jit

-- Compares a lazy value with the plain one, field by field, through the lazy interface.
local function same_value(lazy, plain, path)
  if type(plain) == "table" then
    assert.equal(asp.type(plain), asp.type(lazy), path)
    local n = 0
    for k, v in pairs(plain) do
      same_value(lazy[k], v, path .. "." .. tostring(k))
      n = n + 1
    end
    if asp.type(plain) == "array" then assert.equal(#plain, #lazy, path) end
    assert.same(plain, asp.materialize(lazy), path)
    return n
  end
  assert.equal(plain, lazy, path)
end

-- json_exact: the ordered decoder keeps every type of these bytes, so its JSON is theirs.
local function check_bytes(bytes, json_exact)
  local lazy = assert(asp.bson_decode(bytes, "lazy"))
  local plain = assert(asp.bson_decode(bytes))
  same_value(lazy, plain, "doc")
  assert.equal(bytes, asp.bson_encode(lazy))
  if json_exact then
    assert.equal(asp.to_json(asp.bson_decode(bytes, true), "canonical"), asp.to_json(lazy, "canonical"))
  end
  if has_pairs_mm then
    local keys = {}
    for k, v in pairs(lazy) do
      keys[#keys + 1] = k
      if type(v) ~= "userdata" or asp.type(v) == "document" or asp.type(v) == "array" then
        assert.same(asp.materialize(v), plain[k])
      else
        assert.equal(plain[k], v)
      end
    end
    local n = 0
    for _ in pairs(plain) do n = n + 1 end
    assert.equal(n, #keys)
  end
  return lazy, plain
end

-- BSON by hand, for the types a Lua value cannot produce (undefined, symbol, dbpointer).
local function le32(n)
  return string.char(n % 256, math.floor(n / 256) % 256, math.floor(n / 65536) % 256,
    math.floor(n / 16777216) % 256)
end
local function cstring(s) return s .. "\0" end
local function bstring(s) return le32(#s + 1) .. s .. "\0" end
local function document(elements)
  local body = table.concat(elements)
  return le32(#body + 5) .. body .. "\0"
end
local function element(type_byte, key, payload) return string.char(type_byte) .. cstring(key) .. payload end

describe("lazy documents", function()
  it("read like plain documents on the whole solar dataset", function()
    local src = os.getenv("ASP_SOURCE_DIR") or "."
    local f = assert(io.open(src .. "/bench/data/solar-10k.jsonl"))
    local n = 0
    for line in f:lines() do
      check_bytes(assert(asp.bson_encode(assert(asp.from_json(line)))), true)
      n = n + 1
    end
    f:close()
    assert.equal(10000, n)
  end)

  it("read like plain documents for every BSON type", function()
    local oid = string.rep("\1", 12)
    local encoded = assert(asp.bson_encode(asp.ordered {
      "d", 1.5, "s", "x", "doc", { a = 1 }, "arr", asp.array { 1, "two", { 3 } }, "empty", asp.array {},
      "bin", asp.binary("\1\2\3"), "oid", asp.objectid("65a1b2c3d4e5f60718293a4b"), "t", true,
      "date", asp.date(1700000000000), "nul", asp.null, "re", asp.regex("^a", "i"),
      "code", asp.javascript("f()"), "i32", asp.int32(7), "ts", asp.timestamp(1, 2),
      "i64", asp.int64(123), "dec", asp.decimal128("1.10"), "min", asp.minkey, "max", asp.maxkey,
    }))
    -- append the deprecated types by hand: undefined, symbol, dbpointer, code with scope
    local body = encoded:sub(5, -2)
    local extra = {
      element(0x06, "undef", ""),
      element(0x0E, "sym", bstring("sy")),
      element(0x0C, "dbp", bstring("db.c") .. oid),
      element(0x0F, "cws", (function()
        local code, scope = bstring("g()"), document { element(0x10, "x", le32(1)) }
        return le32(4 + #code + #scope) .. code .. scope
      end)()),
    }
    local bytes = document({ body, table.concat(extra) })
    local lazy, plain = check_bytes(bytes, false)
    assert.matches('"undef" : { "$undefined" : true }', asp.to_json(lazy, "canonical"), 1, true)
    assert.matches('"i64" : { "$numberLong" : "123" }', asp.to_json(lazy, "canonical"), 1, true)
    assert.equal("x", lazy.s)
    assert.equal(1, lazy.doc.a)
    assert.equal("two", lazy.arr[2])
    assert.equal(3, lazy.arr[3][1])
    assert.equal(0, #lazy.empty)
    assert.equal(plain.date, lazy.date)
    assert.equal(asp.null, lazy.undef)
    assert.equal("sy", lazy.sym)
  end)

  it("compare equal by bytes, are read-only, and have no missing fields", function()
    local lazy = asp.bson_decode(asp.bson_encode({ obs = { watts = 5 }, list = { 1, 2 } }), "lazy")
    assert.is_true(lazy.obs == lazy.obs)
    assert.is_true(lazy.list == lazy.list)
    assert.is_false(lazy.obs == lazy.list)
    assert.is_nil(lazy.nothing)
    assert.is_nil(lazy[1])
    assert.is_nil(lazy.list.x)
    assert.is_nil(lazy.list[3])
    assert.error_matches(function() lazy.x = 1 end, "lazy documents are read-only", 1, true)
    assert.equal("document", asp.type(lazy))
    assert.equal("table", type(asp.materialize(lazy)))
    assert.equal(5, asp.materialize(lazy).obs.watts)
    local t = {}
    assert.equal(t, asp.materialize(t))
    assert.is_nil(asp.bson_decode("\5\0\0", "lazy"))
  end)

  it("check their elements when they are read or encoded", function()
    -- an int32 element cut short inside a well-framed nested document
    local bad = document({ element(3, "sub", le32(9) .. "\16x\0" .. "\1\0") })
    local good = document({ element(16, "a", le32(1)) })
    assert.is_nil(asp.bson_decode(document({ "\16x\0" }), "lazy"))
    local lazy = assert(asp.bson_decode(bad, "lazy"))
    local sub = lazy.sub
    assert.equal("document", asp.type(sub))
    assert.error_matches(function() return sub.x end, "invalid BSON in a lazy document", 1, true)
    local bytes, err = asp.bson_encode(sub)
    assert.is_nil(bytes)
    assert.matches("invalid BSON in a lazy document", err, 1, true)
    bytes, err = asp.bson_encode({ wrapped = sub })
    assert.is_nil(bytes)
    assert.matches("invalid BSON in a lazy document", err, 1, true)
    assert.is_nil(asp.to_json(sub))
    assert.equal(good, asp.bson_encode(asp.bson_decode(good, "lazy")))
  end)

  describe("from a sample", function()
    local server, client, proc

    setup(function()
      server = aspd.start()
      client = server:connect()
      proc = assert(client:stream_processors():create("lazy", {
        { ["$source"] = { connectionName = "sample_stream_solar" } },
        { ["$emit"] = { connectionName = "__testLog" } },
      }))
      assert.truthy(proc:start())
    end)

    teardown(function()
      if client then client:close() end
      if server then server:stop() end
    end)

    it("yields lazy documents whose fields, encoding and JSON match their plain form", function()
      local n = 0
      for doc in proc:sample({ limit = 20, decode = "lazy" }) do
        assert.equal("document", asp.type(doc))
        local plain = asp.materialize(doc)
        assert.equal(plain.device_id, doc.device_id)
        if plain.obs then assert.equal(plain.obs.watts, doc.obs.watts) end
        local bytes = asp.bson_encode(doc)
        assert.same(plain, asp.bson_decode(bytes))
        assert.equal(asp.to_json(asp.bson_decode(bytes, true)), asp.to_json(doc))
        n = n + 1
      end
      assert.equal(20, n)
      local docs = assert(assert(proc:sample({ decode = "lazy" })):poll())
      for _, doc in ipairs(docs) do assert.equal("document", asp.type(doc)) end
    end)

    it("checks the decode option", function()
      assert.error_matches(function() proc:sample({ decode = "eager" }) end,
        [[sample: option 'decode' must be one of "plain", "ordered", "lazy", got eager]], 1, true)
      assert.error_matches(function() proc:sample({ decode = "lazy", ordered = true }) end,
        "sample: give either decode or ordered, not both", 1, true)
    end)
  end)
end)
