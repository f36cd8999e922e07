-- Command monitoring (client:on_command) and libmongoc's log (asp.set_log_handler).
local asp = require "asp"
local aspd = require "support.aspd"

local function pipeline()
  return {
    { ["$source"] = { connectionName = "sample_stream_solar" } },
    { ["$emit"] = { connectionName = "__testLog" } },
  }
end

describe("monitoring", function()
  local server, client, events

  setup(function()
    server = aspd.start()
    client = server:connect()
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  before_each(function()
    events = {}
    client:on_command(function(ev) events[#events + 1] = ev end)
  end)

  local function named(name)
    local out = {}
    for _, ev in ipairs(events) do
      if ev.command_name == name then out[#out + 1] = ev end
    end
    return out
  end

  it("reports a create as started then succeeded, with the command and its duration", function()
    assert.truthy(client:stream_processors():create("mon1", pipeline()))
    local evs = named("createStreamProcessor")
    assert.equal(2, #evs)
    local started, done = evs[1], evs[2]
    assert.equal("started", started.event)
    assert.equal("admin", started.database_name)
    assert.equal("mon1", started.command.createStreamProcessor)
    assert.is_false(started.redacted)
    assert.is_number(started.request_id)
    assert.equal("succeeded", done.event)
    assert.equal(started.request_id, done.request_id)
    assert.is_true(done.reply_ok)
    assert.is_true(done.duration_ms >= 0)
    assert.is_nil(done.error)
  end)

  it("reports a failed command with the error object", function()
    local info, err = client:stream_processors():get_info("missing")
    assert.is_nil(info)
    local evs = named("getStreamProcessor")
    assert.equal(2, #evs)
    assert.equal("failed", evs[2].event)
    assert.is_false(evs[2].reply_ok)
    assert.equal("server", evs[2].error.domain)
    assert.equal(err.code, evs[2].error.code)
    assert.matches("^asp server error", tostring(evs[2].error))
  end)

  it("reports the commands of a sample", function()
    local proc = assert(client:stream_processors():create("mon2", pipeline()))
    assert.truthy(proc:start())
    for _ in proc:sample({ limit = 2 }) do end
    assert.equal("started", named("startSampleStreamProcessor")[1].event)
    assert.equal("succeeded", named("startSampleStreamProcessor")[2].event)
    local more = named("getMoreSampleStreamProcessor")
    assert.is_true(#more >= 2)
    assert.equal("mon2", more[1].command.getMoreSampleStreamProcessor)
    assert.truthy(proc:drop())
  end)

  it("redacts authentication commands and never shows the password", function()
    -- on a client of its own: a saslStart starts authenticating its connection again
    local other = server:connect()
    other:on_command(function(ev) events[#events + 1] = ev end)
    other:command(asp.ordered { "saslStart", 1, "mechanism", "SCRAM-SHA-256",
      "payload", asp.binary("n,,n=" .. server.user .. ",r=" .. server.password) })
    other:close()
    local evs = named("saslStart")
    assert.equal(2, #evs)
    assert.is_true(evs[1].redacted)
    assert.is_nil(evs[1].command)
    for _, ev in ipairs(events) do
      local text = asp.to_json(ev.command or {}) .. tostring(ev.error and ev.error.message)
      assert.is_nil(text:find(server.password, 1, true))
    end
  end)

  it("keeps going when the handler raises, and stops with on_command(nil)", function()
    client:on_command(function() error("handler bug") end)
    assert.truthy(client:stream_processors():list())
    client:on_command(nil)
    events = {}
    assert.truthy(client:stream_processors():list())
    assert.equal(0, #events)
    -- a handler set again gets the events again (monitoring is switched on per handler)
    client:on_command(function(ev) events[#events + 1] = ev end)
    assert.truthy(client:stream_processors():list())
    local seen = {}
    for _, ev in ipairs(events) do
      if ev.command_name == "listStreamProcessors" then seen[ev.event] = true end
    end
    assert.same({ started = true, succeeded = true }, seen)
    client:on_command(nil)
    assert.error_matches(function() client:on_command(42) end,
      "bad argument #1 to 'on_command' (function or nil expected, got number)", 1, true)
  end)

  it("sends libmongoc's warnings to the log handler, and to stderr without one", function()
    local lines = {}
    asp.set_log_handler(function(level, domain, message)
      lines[#lines + 1] = { level = level, domain = domain, message = message }
    end)
    local c = asp.connect(server.uri .. "&notAnOption=1")
    asp.set_log_handler(nil)
    assert.truthy(c)
    c:close()
    assert.is_true(#lines >= 1)
    assert.equal("WARNING", lines[1].level)
    assert.is_string(lines[1].domain)
    assert.matches("notanoption", lines[1].message:lower(), 1, true)

    -- without a handler the same line reaches stderr (in a child process, to read it)
    local lua = os.getenv("ASP_LUA") or (jit and "luajit") or ("lua" .. _VERSION:match("%d+%.%d+"))
    local script = ("local c = require('asp').connect(%q); c:close()"):format(server.uri .. "&notAnOption=1")
    local p = io.popen(lua .. " -e " .. ("%q"):format(script) .. " 2>&1")
    local out = p:read("*a")
    p:close()
    assert.matches("notanoption", out:lower(), 1, true)
  end)
end)
