-- docs/api.md "Every error you can meet", row by row: the spec reads both tables from the
-- page and runs one case per row, so a row without a case, or a case whose row is gone,
-- fails. Each case makes the error happen through the public API, the way a user would,
-- and checks what the row promises (message, domain, code).
local asp = require "asp"
local aspd = require "support.aspd"
local signal = require "support.signal"

local function read_rows()
  local path = assert(os.getenv("ASP_SOURCE_DIR"), "ASP_SOURCE_DIR is not set") .. "/docs/api.md"
  local f = assert(io.open(path))
  local text = f:read("*a")
  f:close()
  local section = assert(text:match("\n### Every error you can meet\n(.-)\n## "), "no error table")
  local raised, returned = {}, {}
  local into
  for line in section:gmatch("[^\n]+") do
    if line:match("^| situation | message |") then
      into = raised
    elseif line:match("^| domain | code") then
      into = returned
    elseif into and line:match("^| ") and not line:match("^| %-%-%-") then
      local cells = {}
      for cell in line:gmatch("|%s*(.-)%s*%f[|]") do cells[#cells + 1] = cell end
      into[#into + 1] = cells
    end
  end
  return raised, returned
end

-- The error a call raises, as a string.
local function raised_by(fn)
  local ok, msg = pcall(fn)
  assert.is_false(ok, "expected an error")
  assert.is_string(msg)
  return msg
end

local function assert_returned(err, domain, code)
  assert.is_table(err, "expected an error object")
  assert.equal(domain, err.domain, err.message)
  if code then assert.equal(code, err.code, err.message) end
  assert.matches("^asp " .. domain .. " error: ", tostring(err))
end

local function pipeline(name)
  return {
    { ["$source"] = { connectionName = "sample_stream_solar" } },
    { ["$emit"] = { connectionName = "__testLog" } },
  }, name
end

describe("docs/api.md error table", function()
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

  -- Raised, keyed by the start of the row's "situation" cell.
  local raised_cases = {
    ["wrong argument type"] = function()
      assert.equal("bad argument #1 to 'create' (string expected, got number)",
        raised_by(function() sps:create(42, pipeline()) end))
    end,
    ["a method called on the wrong object"] = function()
      assert.equal("calling 'get' on bad self (asp.StreamProcessors expected, got nil)",
        raised_by(function() sps.get(nil, "x") end))
    end,
    ["processor name empty"] = function()
      local function create_msg(name) return raised_by(function() sps:create(name, pipeline()) end) end
      assert.equal("bad argument #1 to 'create' (the processor name must not contain NUL bytes)",
        create_msg("victim\0x"))
      assert.equal("bad argument #1 to 'create' (the processor name must not be empty)", create_msg(""))
      assert.equal("bad argument #1 to 'create' (the processor name must not be blank)", create_msg("  "))
      assert.equal("bad argument #1 to 'create' (the processor name is not valid UTF-8)", create_msg("a\255"))
      local proc = assert(sps:create("table_rename", pipeline()))
      finally(function() proc:drop() end)
      assert.matches("^modify: name: .*NUL", raised_by(function() proc:modify({ name = "a\0b" }) end))
      assert.is_table(assert(sps:get_info("table_rename")), "nothing was renamed")
    end,
    ["options not a table"] = function()
      local proc = sps:get("not_created")
      assert.equal("bad argument #1 to 'sample' (table expected, got number)",
        raised_by(function() proc:sample(5) end))
      assert.equal("connect: options must be a table, got number",
        raised_by(function() asp.connect(server.uri, 5) end))
    end,
    ["unknown option key"] = function()
      assert.equal("start: unknown option 'clear_checkpoint'",
        raised_by(function() sps:get("x"):start({ clear_checkpoint = true }) end))
    end,
    ["option of the wrong type or range"] = function()
      assert.equal("start: option 'workers' must be an integer, got string",
        raised_by(function() sps:get("x"):start({ workers = "2" }) end))
      assert.equal("sample: option 'limit' must be an integer in 0..2^31-1, got -1",
        raised_by(function() sps:get("x"):sample({ limit = -1 }) end))
    end,
    ["negative connect timeout"] = function()
      assert.equal("connect: timeouts must be 0 or more milliseconds",
        raised_by(function() asp.connect(server.uri, { connect_timeout_ms = -1 }) end))
    end,
    ["an option the call would not send"] = function()
      local proc = sps:get("x")
      assert.equal("get_samples: batch_size applies to a continuation (cursor_id > 0) only",
        raised_by(function() proc:get_samples({ batch_size = 5 }) end))
      assert.equal("get_samples: limit applies to the start (no cursor_id) only",
        raised_by(function() proc:get_samples({ cursor_id = 7, limit = 5 }) end))
    end,
    ["invalid values the client checks"] = function()
      assert.equal("start: workers: must be greater than 0",
        raised_by(function() sps:get("x"):start({ workers = 0 }) end))
      assert.equal("create: tier: invalid tier 'SP3' (expected SP2, SP5, SP10, SP30 or SP50)",
        raised_by(function() sps:create("x", pipeline(), { tier = "SP3" }) end))
      assert.equal("start: failover.region: required when failover is given",
        raised_by(function() sps:get("x"):start({ failover = { mode = "GRACEFUL" } }) end))
    end,
    ["pipeline shape"] = function()
      assert.equal("create: pipeline[1]: a stage must be a document",
        raised_by(function() sps:create("x", { 5 }) end))
      assert.equal("create: pipeline: must be an array of stages",
        raised_by(function() sps:create("x", { stage = {} }) end))
    end,
    ["a value with no BSON form"] = function()
      local cyclic = {}
      cyclic.self = cyclic
      local p = pipeline()
      table.insert(p, 2, { ["$match"] = { x = cyclic } })
      assert.matches("^create: pipeline%[2%]%.%$match%.x.*: cycle detected$",
        raised_by(function() sps:create("x", p) end))
      assert.is_nil(sps:get_info("x"), "nothing was created")
    end,
    ["a command table whose key order is unknown"] = function()
      assert.matches("^bad argument #1 to 'command' %(a document with several keys must be asp%.ordered",
        raised_by(function() client:command({ ping = 1, comment = "x" }) end))
    end,
    ["using a closed client"] = function()
      local c = server:connect()
      local s = c:stream_processors()
      c:close()
      assert.equal("list: the client is closed", raised_by(function() s:list() end))
    end,
    ["using a closed cursor"] = function()
      local proc = assert(sps:create("table_cursor", pipeline()))
      finally(function() proc:drop() end)
      assert(proc:start())
      local cur = assert(proc:sample({ max_wait_ms = 10 }))
      cur:close()
      assert.equal("poll: the cursor is closed", raised_by(function() cur:poll() end))
    end,
  }

  -- Returned as nil, err; keyed by "<domain> | <start of the 'when' cell>" (no backquotes).
  local returned_cases = {
    ["client | asp.connect: a URI refused"] = function()
      local c, err = asp.connect("mongodb+srv://cluster0.example.net/")
      assert.is_nil(c)
      assert_returned(err, "client", 0)
      -- libmongoc warns that tls is given twice; the handler keeps that off stderr
      local warnings = {}
      asp.set_log_handler(function(_, _, message) warnings[#warnings + 1] = message end)
      c, err = asp.connect(server.uri .. "&tls=false")
      asp.set_log_handler(nil)
      assert.is_nil(c)
      assert_returned(err, "client", 0)
    end,
    ["client | a command larger than the server's"] = function()
      local p = pipeline()
      table.insert(p, 2, { ["$match"] = { x = string.rep("x", 17 * 1024 * 1024) } })
      local proc, err = sps:create("table_big", p)
      assert.is_nil(proc)
      assert_returned(err, "client", 10334)
      assert.equal("BSONObjectTooLarge", err.code_name)
      assert.matches("the command is %d+ bytes, more than the server's maxBsonObjectSize of 16777216 bytes",
        err.message)
      assert.is_nil(sps:get_info("table_big"), "nothing was sent")
    end,
    ["tls | asp.connect: the CA file"] = function()
      local c, err = asp.connect((server.uri:gsub("tlsCAFile=[^&]+", "tlsCAFile=/nonexistent/ca.pem")))
      assert.is_nil(c)
      assert_returned(err, "tls", 0)
      assert.equal("cannot read the CA file '/nonexistent/ca.pem': No such file or directory", err.message)
    end,
    ["tls | TLS handshake or certificate verification failed"] = function()
      -- the system's CAs do not know aspd's development CA
      local c, err = asp.connect((server.uri:gsub("tlsCAFile=[^&]+", "tlsCAFile=/etc/ssl/certs/ca-certificates.crt"))
        .. "&serverSelectionTimeoutMS=2000")
      assert.is_nil(c)
      assert_returned(err, "tls")
    end,
    ["auth | authentication failed"] = function()
      local c, err = asp.connect(server:uri_for(server.user, "not-the-password"))
      assert.is_nil(c)
      assert_returned(err, "auth")
      assert.is_nil(tostring(err):find("not-the-password", 1, true), "no password in the message")
    end,
    ["network | connection refused"] = function()
      local port = server.port == 1 and 2 or 1
      local c, err = asp.connect((server.uri:gsub(":%d+/", ":" .. port .. "/", 1)),
        { server_selection_timeout_ms = 500, connect_timeout_ms = 500 })
      assert.is_nil(c)
      assert_returned(err, "network")
    end,
    ["timeout | no reply within the call's"] = function()
      local frozen = aspd.start()
      local c = frozen:connect()
      finally(function()
        signal.thaw(frozen.pid)
        c:close()
        frozen:stop()
      end)
      local s = c:stream_processors()
      assert(s:list()) -- connected and authenticated before the freeze
      signal.freeze(frozen.pid)
      local info, err = s:get_info("x", { timeout_ms = 300 })
      assert.is_nil(info)
      assert_returned(err, "timeout")
      assert.matches("^getStreamProcessor: no reply within timeout_ms = 300", err.message)
    end,
    ["timeout | proc:wait: the state was not reached"] = function()
      local proc = assert(sps:create("table_wait", pipeline()))
      finally(function() proc:drop() end)
      local info, err = proc:wait("STARTED", { timeout_ms = 300, interval_ms = 50 })
      assert.is_nil(info)
      assert_returned(err, "timeout", 0)
      assert.equal("CREATED", err.state)
    end,
    ["server | proc:wait: the processor is FAILED"] = function()
      -- started on a Sample connection; aspd restarts with a start-up file that makes the
      -- connection an Https one, so the processor can no longer be planned and comes back
      -- FAILED
      local other = aspd.start({ connections = { { name = "changes", type = "Sample", docsPerSecond = 10 } } })
      local dir = other.state_dir
      finally(function()
        if other then other:stop() end
        os.execute("rm -rf '" .. dir .. "'")
      end)
      local c = other:connect()
      local proc = assert(c:stream_processors():create("table_failed", {
        { ["$source"] = { connectionName = "changes" } },
        { ["$emit"] = { connectionName = "__testLog" } },
      }))
      assert(proc:start())
      c:close()
      other:stop(true)
      other = aspd.start({ state_dir = dir,
        connections = { { name = "changes", type = "Https", url = "https://hooks.example.com" } } })
      c = other:connect()
      local info, err = c:stream_processors():get("table_failed"):wait("STARTED", { timeout_ms = 5000 })
      c:close()
      assert.is_nil(info)
      assert_returned(err, "server", 0)
      assert.equal("FAILED", err.state)
      assert.matches("^wait: processor table_failed is FAILED: .*source connection type", err.message)
    end,
    ["server | the server replied"] = function()
      local info, err = sps:get_info("table_missing")
      assert.is_nil(info)
      assert_returned(err, "server", 125)
      assert.is_string(err.code_name)
    end,
    ["bson | a reply the client cannot read"] = function()
      local bin = os.getenv("SCRIPTED_ADMIN_SERVER_BIN")
      if not bin then
        pending("SCRIPTED_ADMIN_SERVER_BIN is not set: this run has no server that sends unreadable replies")
        return
      end
      -- the scripted server answers with a body that is not JSON, as a proxy might
      local dev = server.state_dir .. "/dev/"
      local pipe = assert(io.popen(("echo $$; exec '%s' --cert '%sserver.pem' --key '%sserver.key'"):format(bin,
        dev, dev)))
      local pid = tonumber(pipe:read("*l"))
      local port = tonumber(pipe:read("*l"))
      finally(function()
        os.execute("kill " .. pid)
        pipe:close()
      end)
      assert.is_number(port, "the scripted server did not start")
      local admin = server:admin({ base_url = ("https://127.0.0.1:%d"):format(port),
        group_id = "0123456789abcdef01234567", public_key = "pub", private_key = "priv-secret" })
      local conn, err = admin:get_connection("ws", "notjson")
      assert.is_nil(conn)
      assert_returned(err, "bson", 0)
      assert.matches("not a JSON object", err.message)
    end,
  }

  local raised_rows, returned_rows = read_rows()

  local function case_for(cases, key_text, used)
    local found
    for prefix, fn in pairs(cases) do
      if key_text:sub(1, #prefix) == prefix then
        assert(not found, "two cases for the row: " .. key_text)
        found = fn
        used[prefix] = true
      end
    end
    return found
  end

  local used_raised, used_returned = {}, {}
  it("has both tables", function()
    assert.is_true(#raised_rows >= 10)
    assert.is_true(#returned_rows >= 10)
  end)

  for _, row in ipairs(raised_rows) do
    local fn = case_for(raised_cases, row[1], used_raised)
    it("raises: " .. row[1], function()
      assert(fn, "no case for this row")
      fn()
    end)
  end

  for _, row in ipairs(returned_rows) do
    local key = row[1]:gsub("`", "") .. " | " .. row[3]:gsub("`", "")
    local fn = case_for(returned_cases, key, used_returned)
    it("returns: " .. key, function()
      assert(fn, "no case for this row")
      fn()
    end)
  end

  it("has no case whose row is gone", function()
    for prefix in pairs(raised_cases) do assert.is_true(used_raised[prefix] == true, prefix) end
    for prefix in pairs(returned_cases) do assert.is_true(used_returned[prefix] == true, prefix) end
  end)
end)
