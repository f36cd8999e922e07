-- Sample cursors and ephemeral processors through the public API against a live aspd,
-- with a fast Sample source (docsPerSecond 0: as fast as the engine goes).
local asp = require "asp"
local aspd = require "support.aspd"

local function pipeline_on(source, extra)
  local p = { { ["$source"] = { connectionName = source } } }
  if extra then p[#p + 1] = extra end
  p[#p + 1] = { ["$emit"] = { connectionName = "__testLog" } }
  return p
end

describe("asp sample cursors", function()
  local server, client, sps, fast, quiet

  setup(function()
    server = aspd.start({
      connections = { { name = "fast_solar", type = "Sample", docsPerSecond = 0 } },
    })
    client = server:connect()
    sps = client:stream_processors()
    fast = assert(sps:create("fast", pipeline_on("fast_solar")))
    assert(fast:start())
    -- started, but never emits anything: for waiting and polling
    quiet = assert(sps:create("quiet",
      pipeline_on("sample_stream_solar", { ["$match"] = { ["obs.watts"] = { ["$lt"] = -1 } } })))
    assert(quiet:start())
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  it("iterates with for and a limit", function()
    local n = 0
    for doc in fast:sample({ limit = 10 }) do
      n = n + 1
      assert.is_string(doc.device_id)
      if doc.obs then assert.is_number(doc.obs.watts) end -- fault documents have no readings
    end
    assert.equal(10, n)
  end)

  -- The generic for's closing value exists from Lua 5.4 on.
  local it_close = (_VERSION == "Lua 5.4") and it or pending
  it_close("closes the cursor on break (Lua 5.4 closing value)", function()
    local seen
    local function tracked(...)
      seen = ...
      return ...
    end
    for _ in tracked(fast:sample()) do break end
    assert.is_true(seen.closed)
  end)

  it_close("closes the cursor when the loop body raises (Lua 5.4 closing value)", function()
    local seen
    local function tracked(...)
      seen = ...
      return ...
    end
    local ok = pcall(function()
      for _ in tracked(fast:sample()) do error("boom") end
    end)
    assert.is_false(ok)
    assert.is_true(seen.closed)
  end)

  it("offers next, id, processor and close", function()
    local cur = assert(fast:sample({ batch_size = 5 }))
    assert.is_not_nil(cur.id)
    assert.not_equal("0", tostring(cur.id))
    if math.type then assert.equal("integer", math.type(cur.id)) end
    assert.equal("fast", cur.processor)
    assert.matches("asp.Cursor", tostring(cur))
    local doc = assert(cur:next())
    assert.is_string(doc.device_id)
    assert.is_nil(getmetatable(doc))
    cur:close()
    cur:close() -- idempotent
    assert.is_true(cur.closed)
    assert.is_nil(cur.id)
    assert.error_matches(function() cur:next() end, "the cursor is closed", 1, true)
    assert.error_matches(function() cur:poll() end, "the cursor is closed", 1, true)
  end)

  it("polls without waiting, honouring batch_size", function()
    local cur = assert(quiet:sample())
    local t0 = require("asp.core").now()
    local docs = assert(cur:poll())
    assert.equal(0, #docs)
    assert.is_true(require("asp.core").now() - t0 < 0.5)
    cur:close()
    cur = assert(fast:sample({ batch_size = 3 }))
    local got = 0
    for _ = 1, 200 do
      docs = assert(cur:poll())
      assert.is_true(#docs <= 3)
      got = got + #docs
      if got > 0 then break end
      require("asp.core").sleep(0.01)
    end
    assert.is_true(got > 0)
    cur:close()
  end)

  it("ends at limit 0 at once", function()
    local n = 0
    for _ in fast:sample({ limit = 0 }) do n = n + 1 end
    assert.equal(0, n)
  end)

  it("bounds a wait with max_wait_ms, sleeping through the host's sleep", function()
    local slept = 0
    -- 600 ms: room for several 20 ms sleeps even when each getMore is slow (valgrind, load)
    local cur = assert(quiet:sample({
      max_wait_ms = 600,
      poll_interval_ms = 20,
      sleep = function(s)
        slept = slept + 1
        assert.is_true(s > 0 and s <= 0.02 + 1e-9)
        require("asp.core").sleep(s)
      end,
    }))
    local t0 = require("asp.core").now()
    assert.is_nil(cur:next())
    local elapsed = require("asp.core").now() - t0
    assert.is_true(elapsed >= 0.59 and elapsed < 10, "elapsed " .. elapsed)
    assert.is_true(slept >= 3)
    assert.is_false(cur.closed) -- a timeout is not the end of the cursor
    cur:close()
  end)

  it("lets a host sleep yield (coroutine in a game loop)", function()
    -- long enough for several empty polls even when each getMore is slow (load, valgrind)
    local cur = assert(quiet:sample({ max_wait_ms = 1000, poll_interval_ms = 10,
      sleep = coroutine.yield }))
    local co = coroutine.wrap(function()
      local doc = cur:next()
      return "done", doc
    end)
    local frames = 0
    local status
    repeat
      frames = frames + 1
      status = co()
      if status ~= "done" then require("asp.core").sleep(0.01) end
    until status == "done"
    assert.is_true(frames > 2)
    cur:close()
  end)

  -- PUC 5.1 cannot yield across the cursor's __call; LuaJIT and 5.2+ can.
  local it_yield = (_VERSION == "Lua 5.1" and not rawget(_G, "jit")) and pending or it
  it_yield("lets a host sleep yield inside a for loop (not on PUC Lua 5.1: no yield across __call)", function()
    local co = coroutine.wrap(function()
      local n = 0
      -- a wait long enough for several empty polls even when each getMore is slow (load)
      for _ in quiet:sample({ max_wait_ms = 1000, poll_interval_ms = 5, sleep = coroutine.yield }) do
        n = n + 1
      end
      return "done", n
    end)
    local status, n
    local yields = 0
    for _ = 1, 10000 do
      status, n = co()
      if status == "done" then break end
      yields = yields + 1
      require("asp.core").sleep(0.005)
    end
    assert.equal("done", status)
    assert.equal(0, n)
    assert.is_true(yields > 2)
  end)

  it("decodes ordered documents on request", function()
    local cur = assert(fast:sample({ limit = 1, ordered = true }))
    local doc = assert(cur:next())
    local mt = getmetatable(doc)
    assert.is_table(mt and mt.__asp_order)
    cur:close()
  end)

  it("offers the spec-literal two phases with get_samples", function()
    local first = assert(fast:get_samples({ limit = 5 }))
    assert.not_equal("0", tostring(first.cursor_id))
    assert.equal(0, #first.documents)
    local got, id = 0, first.cursor_id
    for _ = 1, 200 do
      local page = assert(fast:get_samples({ cursor_id = id, batch_size = 2 }))
      assert.is_true(#page.documents <= 2)
      got = got + #page.documents
      id = page.cursor_id
      if tostring(id) == "0" then break end
      require("asp.core").sleep(0.01)
    end
    assert.equal(5, got)
    assert.equal("0", tostring(id))
    local ok, err = fast:get_samples({ cursor_id = 987654321 })
    assert.is_nil(ok)
    assert.equal("server", err.domain)
  end)

  it("raises the error object when iteration fails, next returns nil, err", function()
    local p = assert(sps:create("stops", pipeline_on("fast_solar")))
    assert(p:start())
    local cur = assert(p:sample())
    assert.truthy(cur:next())
    assert(p:drop())
    -- what was buffered may still arrive; then the server either refuses the cursor (an
    -- error) or ends it (cursor id 0)
    local doc, err
    for _ = 1, 100000 do
      doc, err = cur:next()
      if doc == nil then break end
    end
    assert.is_nil(doc)
    assert.is_true((err ~= nil and err.domain == "server") or tostring(cur.id) == "0")
    if err then
      local ok, raised = pcall(function() for _ in cur do end end)
      assert.is_false(ok)
      assert.equal("server", raised.domain)
      assert.matches("asp server error", tostring(raised))
    end
  end)

  it("fails to sample a processor that is not running with nil, err", function()
    local p = assert(sps:create("idle", pipeline_on("fast_solar")))
    local cur, err = p:sample()
    assert.is_nil(cur)
    assert.equal("server", err.domain)
    assert(p:drop())
  end)

  it("runs an ephemeral pipeline with process and drops it on close", function()
    local cur = assert(client:process(
      { { ["$source"] = { documents = { { a = 1 }, { a = 2 }, { a = 3 } } } } }, { limit = 3 }))
    local name = cur.processor
    assert.is_string(name)
    local seen = {}
    for doc in cur do seen[#seen + 1] = doc.a end
    table.sort(seen)
    assert.same({ 1, 2, 3 }, seen)
    cur:close()
    assert.is_nil((sps:get_info(name)))
  end)

  it("drops an ephemeral processor when its cursor is collected", function()
    local name
    do
      local cur = assert(client:process(pipeline_on("fast_solar"), { batch_size = 2 }))
      name = cur.processor
      assert.truthy(cur:next())
      assert.truthy(sps:get_info(name))
    end
    collectgarbage()
    collectgarbage()
    assert.is_nil((sps:get_info(name)))
  end)

  it("raises after the client is closed and still collects cleanly", function()
    local c = server:connect()
    local cur = assert(c:stream_processors():get("fast"):sample())
    local eph = assert(c:process(pipeline_on("fast_solar")))
    c:close()
    assert.error_matches(function() cur:next() end, "the client is closed", 1, true)
    assert.error_matches(function() eph:poll() end, "the client is closed", 1, true)
    cur:close()
    eph = nil
    collectgarbage()
  end)
end)
