-- Limits checked before the wire: names (non-empty, UTF-8, no NUL), the server's
-- maxBsonObjectSize, unreadable TLS files, and the argument checks that used to slip
-- through (numbers taken for strings, negative timeouts, options a phase ignores).
local asp = require "asp"
local aspd = require "support.aspd"

local function pipeline()
  return {
    { ["$source"] = { connectionName = "sample_stream_solar" } },
    { ["$emit"] = { connectionName = "__testLog" } },
  }
end

local function raises(fn, text)
  local ok, msg = pcall(fn)
  assert.is_false(ok, "did not raise")
  assert.is_string(msg)
  assert.is_nil(msg:find("%.lua:%d+:"), "file position in: " .. msg)
  assert.is_truthy(msg:find(text, 1, true), ("%q lacks %q"):format(msg, text))
end

describe("limits before the wire", function()
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

  it("refuses names with a NUL byte everywhere a name is taken, so nothing is truncated", function()
    assert.truthy(sps:create("victim", pipeline()))
    raises(function() sps:get("victim\0x") end,
      "bad argument #1 to 'get' (the processor name must not contain NUL bytes)")
    raises(function() sps:get("victim\0x"):drop() end, "NUL")
    raises(function() sps:create("victim\0x", pipeline()) end,
      "bad argument #1 to 'create' (the processor name must not contain NUL bytes)")
    raises(function() sps:get_info("victim\0") end, "bad argument #1 to 'get_info'")
    raises(function() sps:get("victim"):modify({ name = "a\0b" }) end,
      "modify: name: the processor name must not contain NUL bytes")
    -- and "victim" is untouched
    assert.equal("victim", assert(sps:get_info("victim")).name)
    assert.truthy(sps:get("victim"):drop())
  end)

  it("refuses names that are not valid UTF-8, empty or blank", function()
    raises(function() sps:create("caf\233", pipeline()) end,
      "bad argument #1 to 'create' (the processor name is not valid UTF-8)")
    raises(function() sps:get("\255\254") end, "not valid UTF-8")
    raises(function() sps:get("x"):modify({ name = "\195" }) end, "modify: name: the processor name is not valid UTF-8")
    raises(function() sps:create("", pipeline()) end, "must not be empty")
    raises(function() sps:get("   ") end, "must not be blank")
  end)

  it("refuses a command above the server's maxBsonObjectSize with both sizes, sending nothing",
    function()
      local big = string.rep("x", 17 * 1024 * 1024)
      local reply, err = client:command(asp.ordered { "listStreamProcessors", 1, "comment", big })
      assert.is_nil(reply)
      assert.equal("client", err.domain)
      assert.equal(10334, err.code)
      assert.equal("BSONObjectTooLarge", err.code_name)
      assert.matches("the command is %d+ bytes, more than the server's maxBsonObjectSize of 16777216 bytes",
        err.message)
      assert.is_truthy(err.message:find(tostring(#big), 1, true) or err.message:find("178", 1, true))
      -- a pipeline that large goes the same way, through create
      local stage = { ["$match"] = { note = big } }
      local proc, err2 = sps:create("big", { pipeline()[1], stage, pipeline()[2] })
      assert.is_nil(proc)
      assert.equal(10334, err2.code)
      -- the client still works
      assert.truthy(sps:list())
    end)

  it("names an unreadable CA file instead of failing the handshake", function()
    local c, err = asp.connect(server.uri, { tls_ca_file = "/nonexistent/ca.pem" })
    assert.is_nil(c)
    assert.equal("tls", err.domain)
    assert.matches("cannot read the CA file '/nonexistent/ca.pem': No such file or directory",
      err.message, 1, true)
    c, err = asp.connect((server.uri:gsub("tlsCAFile=[^&]+", "tlsCAFile=/nonexistent/x.pem")))
    assert.is_nil(c)
    assert.equal("tls", err.domain)
    assert.matches("/nonexistent/x.pem", err.message, 1, true)
    c, err = asp.connect(server.uri, { tls_certificate_key_file = "/nonexistent/key.pem" })
    assert.is_nil(c)
    assert.matches("cannot read the certificate key file '/nonexistent/key.pem'", err.message, 1, true)
  end)

  it("raises for arguments of the wrong type instead of converting them", function()
    raises(function() asp.connect(42) end, "bad argument #1 to 'connect' (string expected, got number)")
    raises(function() asp.connect() end, "bad argument #1 to 'connect' (string expected, got no value)")
    raises(function() sps:create(42, pipeline()) end,
      "bad argument #1 to 'create' (string expected, got number)")
    raises(function() sps:get(42) end, "bad argument #1 to 'get' (string expected, got number)")
    raises(function() sps.create(42) end, "calling 'create' on bad self")
    raises(function() client.command(sps, {}) end, "calling 'command' on bad self")
    raises(function() client:command({ ping = 1 }, 42) end,
      "bad argument #2 to 'command' (string expected, got number)")
    raises(function() sps:get("x"):sample(5) end, "bad argument #1 to 'sample' (table expected, got number)")
    raises(function() client:process(5) end, "bad argument #1 to 'process' (table expected, got number)")
    raises(function() sps:get("x"):sample({ limit = -1 }) end, "sample: option 'limit' must be")
    for _, key in ipairs({ "connect_timeout_ms", "server_selection_timeout_ms", "socket_timeout_ms" }) do
      raises(function() asp.connect(server.uri, { [key] = -1 }) end,
        "connect: timeouts must be 0 or more milliseconds")
    end
  end)

  it("get_samples refuses options its phase does not send and marks documents as an array", function()
    local proc = assert(sps:create("gs", pipeline()))
    raises(function() proc:get_samples({ batch_size = 5 }) end,
      "get_samples: batch_size applies to a continuation (cursor_id > 0) only")
    raises(function() proc:get_samples({ cursor_id = 7, limit = 2 }) end,
      "get_samples: limit applies to the start (no cursor_id) only")
    raises(function() proc:get_samples({ limit = -2 }) end, "get_samples: limit must be 0 or more")
    assert.truthy(proc:start())
    local page = assert(proc:get_samples({ limit = 2 }))
    assert.equal("array", asp.type(page.documents))
    assert.equal("[]", (asp.to_json(page.documents):gsub("%s", "")))
    assert.truthy(proc:drop())
  end)
end)
