-- Which loops close their cursor on `break` (Lua 5.4's closing value): proc:sample(),
-- client:process() and cur:each() do; a plain `for doc in cur` cannot. Also <close> on
-- clients and cursors. The 5.4-only syntax is compiled with load() so this file parses
-- everywhere.
local aspd = require "support.aspd"

local is54 = _VERSION == "Lua 5.4" and not jit

local function pipeline()
  return {
    { ["$source"] = { connectionName = "sample_stream_solar" } },
    { ["$emit"] = { connectionName = "__testLog" } },
  }
end

describe("cursor closing", function()
  local server, client, proc

  setup(function()
    server = aspd.start()
    client = server:connect()
    proc = assert(client:stream_processors():create("cc", pipeline()))
    assert.truthy(proc:start())
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  local function ephemeral_count()
    local n = 0
    for _, p in ipairs(assert(client:stream_processors():list())) do
      if p.name ~= "cc" then n = n + 1 end
    end
    return n
  end

  it("closes proc:sample() and cur:each() loops on break (5.4)", function()
    if not is54 then return pending("the generic for has no closing value before Lua 5.4") end
    local f, s, c, cur = proc:sample()
    for _ in f, s, c, cur do break end
    assert.is_true(cur.closed)

    local cur2 = assert(proc:sample())
    for _ in cur2:each() do break end
    assert.is_true(cur2.closed)

    -- an error in the loop body closes it too
    local cur3 = assert(proc:sample())
    assert.has_error(function() for _ in cur3:each() do error("body") end end)
    assert.is_true(cur3.closed)
  end)

  it("drops the ephemeral processor of a process() loop on break (5.4)", function()
    if not is54 then return pending("the generic for has no closing value before Lua 5.4") end
    for _ in client:process(pipeline()) do break end
    assert.equal(0, ephemeral_count())
  end)

  it("does not close a cursor iterated as `for doc in cur`", function()
    local cur = assert(proc:sample())
    for _ in cur do break end
    assert.is_false(cur.closed)
    cur:close()
    assert.is_true(cur.closed)
  end)

  it("closes clients and cursors held in <close> variables (5.4)", function()
    if not is54 then return pending("<close> is Lua 5.4 syntax") end
    local chunk = assert(load([[
      local server, proc = ...
      local c, cur
      do
        local client <close> = server:connect()
        c = client
        local sample <close> = assert(proc:sample())
        cur = sample
      end
      return c, cur
    ]]))
    local c, cur = chunk(server, proc)
    assert.is_true(c:is_closed())
    assert.is_true(cur.closed)
  end)
end)
