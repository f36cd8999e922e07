-- proc:wait(state[, {timeout_ms, interval_ms}]): polls get_info until the state, FAILED
-- or the timeout, returning the info or nil, err with the last state seen.
local asp = require "asp"
local aspd = require "support.aspd"

local function pipeline(source)
  return {
    { ["$source"] = { connectionName = source or "sample_stream_solar" } },
    { ["$emit"] = { connectionName = "__testLog" } },
  }
end

describe("proc:wait", function()
  local server, client, sps

  setup(function()
    server = aspd.start()
    client = server:connect()
    sps = client:stream_processors()
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  it("returns the info once the state is reached", function()
    local proc = assert(sps:create("w1", pipeline()))
    assert.equal("CREATED", assert(proc:wait("CREATED")).state)
    assert.truthy(proc:start())
    local info = assert(proc:wait("STARTED", { timeout_ms = 10000, interval_ms = 20 }))
    assert.equal("STARTED", info.state)
    assert.equal("w1", info.name)
    assert.truthy(proc:drop())
  end)

  it("gives up after timeout_ms with the last state seen, sleeping with the given sleep", function()
    local proc = assert(sps:create("w2", pipeline()))
    local naps = 0
    local info, err = proc:wait("STARTED", { timeout_ms = 300, interval_ms = 50,
      sleep = function(s) naps = naps + 1; require("asp.core").sleep(s) end })
    assert.is_nil(info)
    assert.equal("timeout", err.domain)
    assert.equal("CREATED", err.state)
    assert.matches("wait: processor w2 did not reach STARTED within 300 ms (last state CREATED)",
      err.message, 1, true)
    assert.matches("^asp timeout error: ", tostring(err))
    assert.is_true(naps >= 2)
    assert.truthy(proc:drop())
  end)

  it("returns the server's error for a processor that does not exist", function()
    local info, err = sps:get("nope"):wait("STARTED", { timeout_ms = 1000 })
    assert.is_nil(info)
    assert.equal("server", err.domain)
    assert.equal(125, err.code)
  end)

  it("stops at FAILED with the processor's errorMsg", function()
    local conns = { { name = "gone_soon", type = "Sample", docsPerSecond = 10 } }
    local other = aspd.start({ connections = conns })
    local dir = other.state_dir
    finally(function()
      if other then other:stop() end
      os.execute("rm -rf '" .. dir .. "'")
    end)
    local c = other:connect()
    local proc = assert(c:stream_processors():create("w3", pipeline("gone_soon")))
    assert.truthy(proc:start())
    c:close()
    other:stop(true)
    other = nil
    -- restarted without the connection (the registry is a record of aspd's SQLite
    -- store; without it only the built-ins remain): the processor cannot be planned any
    -- more and comes back FAILED
    assert.truthy(os.execute("sqlite3 '" .. dir
      .. "/aspd.db' \"DELETE FROM records WHERE kind = 'registry'\""))
    other = aspd.start({ state_dir = dir })
    c = other:connect()
    local info, err = c:stream_processors():get("w3"):wait("STARTED", { timeout_ms = 5000 })
    assert.is_nil(info)
    assert.equal("server", err.domain)
    assert.equal("FAILED", err.state)
    assert.matches("wait: processor w3 is FAILED: .*gone_soon", err.message)
    c:close()
  end)

  it("raises for a state that is not a string and for unknown options", function()
    local proc = sps:get("w4")
    assert.error_matches(function() proc:wait(1) end,
      "bad argument #1 to 'wait' (string expected, got number)", 1, true)
    assert.error_matches(function() proc:wait("STARTED", { timeout = 1 }) end,
      "wait: unknown option 'timeout'", 1, true)
    assert.error_matches(function() proc:wait("STARTED", { timeout_ms = -1 }) end,
      "wait: option 'timeout_ms' must be", 1, true)
  end)
end)
