-- The registry over HTTPS and processors over the wire share one workspace: a Kafka
-- connection created with asp.admin is usable at once by a processor created with the
-- wire client, and the Admin API refuses to change or delete it while that processor
-- runs.
local aspd = require "support.aspd"
local asp = require "asp"

describe("asp.admin with the wire client", function()
  local server, admin, client, ws

  setup(function()
    server = aspd.start {}
    ws = server.workspace
    admin = server:admin()
    client = server:connect()
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  local function wire_names()
    local out = {}
    for _, c in ipairs(assert(client:list_connections())) do out[c.name] = c.type end
    return out
  end

  it("creates a Kafka connection over REST that a wire processor emits to", function()
    assert(admin:create_connection(ws, {
      name = "events", type = "Kafka", bootstrapServers = "broker:9092",
      authentication = { mechanism = "PLAIN", username = "app", password = "flow-secret" },
      security = { protocol = "SASL_SSL" } }))
    assert.equal("kafka", wire_names().events:lower())

    local sps = client:stream_processors()
    local proc = assert(sps:create("to_kafka", {
      { ["$source"] = { connectionName = "sample_stream_solar" } },
      { ["$emit"] = { connectionName = "events", topic = "solar" } },
    }))

    -- not running yet: an update goes through, and the wire side sees it
    local updated = assert(admin:update_connection(ws, "events", {
      type = "Kafka", bootstrapServers = "broker2:9092",
      authentication = { mechanism = "PLAIN", username = "app" },
      security = { protocol = "SASL_SSL" } }))
    assert.equal("broker2:9092", updated.bootstrapServers)

    assert(proc:start())
    local _, err = admin:delete_connection(ws, "events")
    assert.equal(403, err.http_status)
    assert.equal("STREAM_CONNECTION_HAS_STREAM_PROCESSORS", err.error_code)
    _, err = admin:update_connection(ws, "events", { type = "Kafka",
      bootstrapServers = "broker3:9092" })
    assert.equal(403, err.http_status)
    assert.equal("STREAM_CONNECTION_HAS_STREAM_PROCESSORS", err.error_code)
    assert.equal("broker2:9092", assert(admin:get_connection(ws, "events")).bootstrapServers)

    assert(proc:stop())
    assert.is_true(admin:delete_connection(ws, "events"))
    assert.is_nil(wire_names().events)
    local res
    res, err = admin:get_connection(ws, "events")
    assert.is_nil(res)
    assert.equal(404, err.http_status)
    assert(proc:drop())
  end)
end)
