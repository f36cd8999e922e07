-- The error model: nil, err with {message, code, code_name, domain, labels} for everything
-- that depends on the server or the network; no message ever contains a password.
local asp = require "asp"
local aspd = require "support.aspd"

local SECRET = "Sup3rSecretPassw0rd"

-- A port nothing listens on.
local function dead_port(server)
  return server.port == 1 and 2 or 1
end

local function assert_error_object(err, domain)
  assert.is_table(err)
  assert.equal(domain, err.domain)
  assert.is_string(err.message)
  assert.is_number(err.code)
  assert.is_table(err.labels)
  local text = tostring(err)
  assert.matches("^asp " .. domain .. " error: ", text)
  assert.is_nil(text:find(SECRET, 1, true), "password in: " .. text)
  assert.is_nil(err.message:find(SECRET, 1, true))
end

describe("asp errors", function()
  local server

  setup(function()
    server = aspd.start({ users = { "viewer:" .. SECRET .. ":read" } })
  end)

  teardown(function()
    if server then server:stop() end
  end)

  it("reports a wrong password in the auth domain without the password", function()
    local c, err = asp.connect(server:uri_for(server.user, SECRET))
    assert.is_nil(c)
    assert_error_object(err, "auth")
    c, err = asp.connect(("mongodb://127.0.0.1:%d/"):format(server.port),
      { username = server.user, password = SECRET, tls_ca_file = server.ca_file })
    assert.is_nil(c)
    assert_error_object(err, "auth")
  end)

  it("reports a dead server in the network domain without the password", function()
    local uri = ("mongodb://%s:%s@127.0.0.1:%d/?serverSelectionTimeoutMS=500&connectTimeoutMS=500")
      :format(server.user, SECRET, dead_port(server))
    local c, err = asp.connect(uri)
    assert.is_nil(c)
    assert_error_object(err, "network")
  end)

  it("reports an unverifiable certificate in the tls domain", function()
    local uri = ("mongodb://%s:%s@localhost:%d/?serverSelectionTimeoutMS=2000"):format(server.user,
      SECRET, server.port)
    local c, err = asp.connect(uri, { tls_ca_file = "/etc/ssl/certs/ca-certificates.crt" })
    assert.is_nil(c)
    assert_error_object(err, "tls")
  end)

  it("keeps server codes, code names and messages", function()
    local c = server:connect()
    local info, err = c:stream_processors():get_info("missing")
    assert.is_nil(info)
    assert_error_object(err, "server")
    assert.is_true(err.code > 0)
    assert.is_string(err.code_name)
    assert.matches(err.code_name, tostring(err), 1, true)
    assert.matches("code " .. err.code, tostring(err), 1, true)
    c:close()
  end)

  it("refuses ASP commands to a user without atlasAdmin", function()
    local c = assert(asp.connect(server:uri_for("viewer", SECRET)))
    local list, err = c:stream_processors():list()
    assert.is_nil(list)
    assert_error_object(err, "server")
    assert.equal(13, err.code)
    c:close()
  end)

  it("reports a server that went away in the network domain", function()
    local other = aspd.start()
    local c = other:connect({ server_selection_timeout_ms = 500, connect_timeout_ms = 500 })
    local sps = c:stream_processors()
    other:stop()
    local list, err = sps:list()
    assert.is_nil(list)
    assert_error_object(err, "network")
    -- reads are retried once, then fail the same way
    local info, err2 = sps:get_info("x")
    assert.is_nil(info)
    assert_error_object(err2, "network")
    c:close()
  end)

  it("raises plain errors for programmer mistakes", function()
    local c = server:connect()
    local ok, msg = pcall(function() return c:stream_processors():create("x", 5) end)
    assert.is_false(ok)
    assert.is_string(msg)
    assert.equal("bad argument #2 to 'create' (table expected, got number)", msg)
    c:close()
  end)
end)
