-- Timeouts: a frozen server (SIGSTOP) fails a call within seconds with the default
-- timeouts, and within timeout_ms when the call gives one, in the timeout domain.
local asp = require "asp"
local aspd = require "support.aspd"
local core = require "asp.core"
local signal = require "support.signal"

local function pipeline()
  return {
    { ["$source"] = { connectionName = "sample_stream_solar" } },
    { ["$emit"] = { connectionName = "__testLog" } },
  }
end

local function timed(fn)
  local t0 = core.now()
  local a, b = fn()
  return core.now() - t0, a, b
end

describe("timeouts", function()
  local server, frozen

  setup(function()
    server = aspd.start()
  end)

  teardown(function()
    if server then
      if frozen then os.execute("kill -CONT " .. server.pid) end
      server:stop()
    end
  end)

  it("rejects negative timeout_ms on every kind of call", function()
    local c = server:connect()
    local sps = c:stream_processors()
    local proc = sps:get("none")
    local function raises(fn)
      local ok, msg = pcall(fn)
      assert.is_false(ok)
      assert.matches("option 'timeout_ms' must be", msg)
    end
    raises(function() proc:info({ timeout_ms = -1 }) end)
    raises(function() proc:stop({ timeout_ms = -1 }) end)
    raises(function() proc:start({ timeout_ms = -5 }) end)
    raises(function() sps:get_info("x", { timeout_ms = -1 }) end)
    raises(function() sps:list(nil, { timeout_ms = -1 }) end)
    raises(function() c:command({ ping = 1 }, nil, { timeout_ms = -1 }) end)
    raises(function() proc:sample({ timeout_ms = -1 }) end)
    assert.error_matches(function() proc:stop({ timeoutms = 1 }) end, "stop: unknown option 'timeoutms'",
      1, true)
    -- and accepts them on every call
    assert.truthy(sps:list(nil, { timeout_ms = 5000 }))
    assert.truthy(c:list_connections(nil, { timeout_ms = 5000 }))
    assert.truthy(c:workspace_defaults({ timeout_ms = 5000 }))
    assert.truthy(c:command({ ping = 1 }, "admin", { timeout_ms = 5000 }))
    local p = assert(sps:create("t1", pipeline(), { timeout_ms = 5000 }))
    assert.truthy(p:start({ timeout_ms = 5000 }))
    assert.truthy(p:info({ timeout_ms = 5000 }))
    assert.truthy(p:stats({ timeout_ms = 5000 }))
    assert.truthy(sps:get_info("t1", { timeout_ms = 5000 }))
    assert.truthy(p:get_samples({ timeout_ms = 5000 }))
    assert.truthy(p:stop({ timeout_ms = 5000 }))
    assert.truthy(p:modify({ tier = "SP10", timeout_ms = 5000 }))
    assert.truthy(p:drop({ timeout_ms = 5000 }))
    c:close()
  end)

  it("fails calls to a frozen server within timeout_ms, or within seconds by default", function()
    -- connected before the freeze: the calls below meet a server that accepted the
    -- connection and then stopped answering
    local default = server:connect()
    local bounded = server:connect()
    local sampler = server:connect()
    local proc = assert(default:stream_processors():create("frozen", pipeline()))
    assert.truthy(proc:start())
    local cur = assert(sampler:stream_processors():get("frozen"):sample({ timeout_ms = 400 }))
    assert.is_table(cur:poll())

    frozen = true
    signal.freeze(server.pid)

    local elapsed, info, err = timed(function()
      return bounded:stream_processors():get("frozen"):info({ timeout_ms = 300 })
    end)
    assert.is_nil(info)
    assert.equal("timeout", err.domain)
    assert.matches("getStreamProcessor: no reply within timeout_ms = 300", err.message, 1, true)
    assert.is_true(elapsed < 5, "took " .. elapsed .. " s")

    -- a sample loop raises the error object
    elapsed = timed(function()
      local ok, e = pcall(function() for _ in cur do end end)
      assert.is_false(ok)
      assert.equal("timeout", e.domain)
      assert.matches("getMoreSampleStreamProcessor", e.message, 1, true)
    end)
    assert.is_true(elapsed < 5, "took " .. elapsed .. " s")

    -- default timeouts: the socket timeout (10 s), never libmongoc's 5 minutes
    elapsed, info, err = timed(function() return proc:info() end)
    assert.is_nil(info)
    assert.equal("timeout", err.domain)
    assert.matches("no reply within the socket timeout of 10000 ms", err.message, 1, true)
    assert.is_true(elapsed < 25, "took " .. elapsed .. " s")

    -- the next call must reconnect, and the frozen server fails that within seconds too
    elapsed, info, err = timed(function() return proc:info() end)
    assert.is_nil(info)
    assert.is_table(err)
    assert.is_true(elapsed < 25, "took " .. elapsed .. " s")

    signal.thaw(server.pid)
    frozen = false
    -- and the client recovers once the server answers again
    local ok
    for _ = 1, 60 do
      ok = bounded:stream_processors():get_info("frozen")
      if ok then break end
      core.sleep(0.25)
    end
    assert.truthy(ok)
    cur:close()
    default:close()
    bounded:close()
    sampler:close()
  end)
end)
