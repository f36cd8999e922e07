-- The URI rules seen from Lua: TLS forced on, authSource admin unless given, appname
-- lua-asp/<version> unless given, srv and non-TLS refused, credentials never shown.
local asp = require "asp"
local aspd = require "support.aspd"

describe("asp URI rules", function()
  local server

  setup(function() server = aspd.start() end)
  teardown(function() if server then server:stop() end end)

  it("applies the defaults", function()
    local c = server:connect()
    local s = c:settings()
    assert.is_true(s.tls)
    assert.equal("admin", s.authSource)
    assert.equal("lua-asp/" .. asp.version, s.appname)
    assert.equal(server.user, s.username)
    assert.equal(server.ca_file, s.tlsCAFile)
    assert.equal(1, #s.hosts)
    assert.equal("127.0.0.1:" .. server.port, s.hosts[1])
    for k, v in pairs(s) do
      assert.is_nil(tostring(v):find(server.password, 1, true), k)
    end
    c:close()
  end)

  it("keeps what the URI or the options say", function()
    local c = assert(asp.connect(server.uri .. "&appName=mytool&authSource=admin&directConnection=true"))
    local s = c:settings()
    assert.equal("mytool", s.appname)
    assert.equal("admin", s.authSource)
    c:close()
    c = assert(asp.connect(server.uri, { app_name = "opt-tool" }))
    assert.equal("opt-tool", c:settings().appname)
    c:close()
    -- TLS is on even when the URI does not ask for it
    local bare = ("mongodb://%s:%s@127.0.0.1:%d/"):format(server.user, server.password, server.port)
    c = assert(asp.connect(bare, { tls_ca_file = server.ca_file }))
    assert.is_true(c:settings().tls)
    c:close()
  end)

  it("refuses what ASP cannot serve, without echoing credentials", function()
    for _, uri in ipairs({
      "mongodb+srv://u:pw-in-uri@atlas-stream-abc-def.virginia-usa.a.query.mongodb.net/",
      "mongodb://u:pw-in-uri@127.0.0.1:1/?tls=false",
      "mongodb://u:pw-in-uri@127.0.0.1:1/?ssl=false",
      "postgres://u:pw-in-uri@127.0.0.1:1/",
      "mongodb://u:pw-in-uri@127.0.0.1:notaport/",
    }) do
      local c, err = asp.connect(uri)
      assert.is_nil(c)
      assert.equal("client", err.domain)
      assert.is_nil(tostring(err):find("pw-in-uri", 1, true), tostring(err))
    end
  end)
end)
