-- The client through the public API against a live aspd: connect, workspace commands,
-- the command escape hatch, close, argument checking.
local asp = require "asp"
local aspd = require "support.aspd"

describe("asp client", function()
  local server, client

  setup(function()
    server = aspd.start()
    client = server:connect()
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  it("connects with TLS verified against the server's CA", function()
    assert.equal("asp.Client (open)", tostring(client))
    assert.is_false(client:is_closed())
  end)

  it("connects with the CA and credentials given as options", function()
    local uri = ("mongodb://127.0.0.1:%d/"):format(server.port)
    local c, err = asp.connect(uri, {
      tls_ca_file = server.ca_file,
      username = server.user,
      password = server.password,
      app_name = "client-spec",
      connect_timeout_ms = 2000,
      server_selection_timeout_ms = 2000,
      socket_timeout_ms = 5000,
    })
    assert.is_nil(err)
    assert.truthy(c:list_connections())
    c:close()
  end)

  it("lists connections, with a filter", function()
    local conns = assert(client:list_connections())
    local names = {}
    for _, c in ipairs(conns) do names[c.name] = c.type end
    assert.truthy(names.sample_stream_solar)
    local only = assert(client:list_connections({ name = "sample_stream_solar" }))
    assert.equal(1, #only)
    assert.equal("sample_stream_solar", only[1].name)
    local none = assert(client:list_connections({ name = "nope" }))
    assert.equal(0, #none)
    assert.equal("[]", asp.to_json(none):gsub("%s+", ""))
  end)

  it("reads the workspace defaults", function()
    local d = assert(client:workspace_defaults())
    assert.is_string(d.defaultTierSize)
    assert.is_string(d.maxTierSize)
    assert.is_nil(d.ok)
  end)

  it("runs raw commands on admin and returns the whole reply", function()
    local reply = assert(client:command(asp.ordered{ "listStreamConnections", 1 }))
    assert.equal(1, reply.ok)
    assert.is_table(reply.connections)
    local r, err = client:command({ noSuchCommand = 1 })
    assert.is_nil(r)
    assert.equal("server", err.domain)
    assert.is_number(err.code)
  end)

  it("raises for wrong argument types and unknown option keys, naming them", function()
    assert.has_error(function() asp.connect({}) end)
    assert.error_matches(function() asp.connect(server.uri, { tls_cafile = "x" }) end,
      "connect: unknown option 'tls_cafile'", 1, true)
    assert.error_matches(function() asp.connect(server.uri, { app_name = 3 }) end,
      "connect: option 'app_name' must be a string", 1, true)
    assert.error_matches(function() asp.connect(server.uri, { connect_timeout_ms = "x" }) end,
      "option 'connect_timeout_ms' must be an integer", 1, true)
    assert.error_matches(function() client:list_connections("name") end,
      "bad argument #1 to 'list_connections' (table expected, got string)", 1, true)
    assert.error_matches(function() client:command("ping") end,
      "bad argument #1 to 'command' (table expected, got string)", 1, true)
    assert.error_matches(function() client:command({}) end, "empty", 1, true)
    assert.error_matches(function() client:command({ listStreamProcessors = 1, filter = {} }) end,
      "asp.ordered", 1, true)
    assert.truthy(client:command(asp.ordered { "listStreamProcessors", 1, "filter", {} }))
  end)

  it("refuses srv and non-TLS URIs with nil, err in the client domain", function()
    local c, err = asp.connect("mongodb+srv://u:pw123456@x.example.net/")
    assert.is_nil(c)
    assert.equal("client", err.domain)
    assert.matches("SRV", err.message)
    assert.is_nil(tostring(err):find("pw123456", 1, true))
    c, err = asp.connect(server.uri:gsub("tls=true", "tls=false"), nil)
    assert.is_nil(c)
    assert.equal("client", err.domain)
    assert.matches("only accepts TLS", err.message)
    c, err = asp.connect(server.uri .. "&ssl=false")
    assert.is_nil(c)
  end)

  it("makes every use after close a clear error, never a crash", function()
    local c = server:connect()
    local sps = c:stream_processors()
    local proc = sps:get("never_created")
    assert.is_true(c:close())
    assert.is_true(c:close()) -- idempotent
    assert.is_true(c:is_closed())
    assert.equal("asp.Client (closed)", tostring(c))
    for _, fn in ipairs({
      function() return c:list_connections() end,
      function() return c:workspace_defaults() end,
      function() return c:command({ ping = 1 }) end,
      function() return c:stream_processors() end,
      function() return c:process({}) end,
      function() return sps:get_info("x") end,
      function() return sps:get("x") end,
      function() return sps:list() end,
      function() return proc:start() end,
      function() return proc:info() end,
      function() return proc:sample() end,
    }) do
      assert.error_matches(fn, "the client is closed", 1, true)
    end
    assert.equal("never_created", proc.name)
  end)

  it("keeps its client alive through processors and cursors", function()
    local proc = server:connect():stream_processors():get("kept")
    collectgarbage()
    collectgarbage()
    -- the client is only reachable through the processor handle and still works
    local info, err = proc:info()
    assert.is_nil(info)
    assert.equal("server", err.domain)
  end)

  it("survives collection in any order", function()
    for _ = 1, 20 do
      local c = server:connect()
      local p = c:stream_processors():get("x")
      if math.random() < 0.5 then c:close() end
      c, p = nil, nil
    end
    collectgarbage()
    collectgarbage()
  end)

  -- <close> variables exist from Lua 5.4 on.
  local it_close = (_VERSION == "Lua 5.4") and it or pending
  it_close("closes with a Lua 5.4 to-be-closed variable", function()
    local outside
    assert(load([[
      local server, out = ...
      do
        local c <close> = server:connect()
        out.c = c
        assert(not c:is_closed())
      end
    ]]))(server, setmetatable({}, { __newindex = function(_, _, v) outside = v end }))
    assert.is_true(outside:is_closed())
  end)

  it("loads asp.pipeline lazily", function()
    assert.is_nil(rawget(asp, "pipeline"))
    assert.is_table(asp.pipeline)
    assert.equal(require "asp.pipeline", asp.pipeline)
  end)
end)
