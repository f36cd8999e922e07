-- The value API as users see it: `require "asp"` exposes what asp.core registers.
describe("the value API of require 'asp'", function()
  local ok, asp = pcall(require, "asp")
  local core = require "asp.core"

  it("is the value API of asp.core", function()
    assert.is_true(ok, tostring(asp))
    for _, name in ipairs({ "null", "array", "array_mt", "ordered", "type", "int32", "int64", "double",
      "objectid", "date", "timestamp", "decimal128", "binary", "regex", "minkey", "maxkey", "javascript",
      "to_json", "from_json", "bson_encode", "bson_decode" }) do
      assert.is_not_nil(core[name], name)
      assert.equal(core[name], asp[name], name)
    end
  end)

  it("round-trips a document through the public names", function()
    local doc = asp.ordered({ "a", asp.null, "b", asp.array(), "c", asp.date(0) })
    assert.equal('{ "a" : null, "b" : [  ], "c" : { "$date" : "1970-01-01T00:00:00Z" } }',
      asp.to_json(asp.from_json(asp.to_json(doc))))
  end)
end)
