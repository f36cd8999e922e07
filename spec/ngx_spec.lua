-- asp.ngx, the OpenResty worker-thread entry module: plain values in and out.
local aspd = require "support.aspd"
local ngx_entry = require "asp.ngx"

describe("asp.ngx", function()
  local server

  setup(function() server = aspd.start() end)
  teardown(function()
    if server then
      ngx_entry.close(server.uri)
      server:stop()
    end
  end)

  it("runs operations and returns JSON text or a plain error table", function()
    local uri = server.uri
    assert.matches("sample_stream_solar", assert(ngx_entry.run(uri, nil, "list_connections")))
    local pipeline = '[{"$source":{"connectionName":"sample_stream_solar"}},'
      .. '{"$emit":{"connectionName":"__testLog"}}]'
    assert.matches('"p1"', assert(ngx_entry.run(uri, nil, "create", "p1", pipeline)))
    assert.equal("true", ngx_entry.run(uri, nil, "start", "p1"))
    local docs = assert(ngx_entry.run(uri, nil, "sample", "p1", { limit = 2 }))
    assert.matches('"device_id"', docs)
    local res, err = ngx_entry.run(uri, nil, "get_info", "nope")
    assert.is_nil(res)
    assert.equal("server", err.domain)
    assert.is_nil(getmetatable(err))
    res, err = ngx_entry.run(uri, nil, "create", " ", {})
    assert.is_nil(res)
    assert.matches("blank", err.message)
    res, err = ngx_entry.run(uri, nil, "no_such_op")
    assert.is_nil(res)
    assert.matches("unknown operation", err.message)
    assert.equal("true", ngx_entry.run(uri, nil, "drop", "p1"))
  end)

  it("reports connection failures as plain errors", function()
    local res, err = ngx_entry.run(server:uri_for(server.user, "wrong-password"), nil,
      "workspace_defaults")
    assert.is_nil(res)
    assert.equal("auth", err.domain)
  end)
end)
