-- asp.admin checks made before any request: connect options, the required fields of each
-- connection type, argument types, and secrets kept out of tostring, settings and errors.
-- The handle points at a closed local port: a body that passes the checks fails with a
-- network error instead, which proves the check let it through.
local asp = require "asp"

local GROUP = ("0123456789abcdef01234567")
local CLOSED = "https://127.0.0.1:1" -- nothing listens on port 1

local function admin(extra)
  local opts = { base_url = CLOSED, group_id = GROUP, public_key = "pub-key",
                 private_key = "very-secret-private-key", timeout_ms = 2000 }
  for k, v in pairs(extra or {}) do opts[k] = v or nil end
  return asp.admin.connect(opts)
end

-- The body passed the client-side checks: the request went out and found no server.
local function assert_sent(res, err)
  assert.is_nil(res)
  assert.equal("network", err.domain, tostring(err))
end

describe("asp.admin.connect", function()
  local rows = {
    { "group_id missing", { group_id = false }, "group_id must be a project id" },
    { "group_id not hex", { group_id = ("z"):rep(24) }, "24 lowercase hexadecimal" },
    { "group_id upper case", { group_id = GROUP:upper() }, "24 lowercase hexadecimal" },
    { "http base_url", { base_url = "http://127.0.0.1:1" }, "base_url must be an https:// URL" },
    { "credentials in base_url", { base_url = "https://u:p@127.0.0.1:1" }, "no credentials" },
    { "both credential kinds", { client_id = "id", client_secret = "s" }, "not both" },
    { "half a key pair", { private_key = false }, "'private_key' is required" },
    { "half a service account", { public_key = false, private_key = false, client_id = "id" },
      "'client_secret' is required" },
    { "unknown option", { private_ky = "x" }, "unknown option 'private_ky'" },
    { "wrong option type", { timeout_ms = "5" }, "'timeout_ms' must be an integer" },
    { "negative timeout", { timeout_ms = -1 }, "timeout_ms must be >= 0" },
    { "retries out of range", { retries = 11 }, "retries must be in 0..10" },
  }
  for _, row in ipairs(rows) do
    it("raises on " .. row[1], function()
      local opts = { base_url = CLOSED, group_id = GROUP, public_key = "p", private_key = "k" }
      for k, v in pairs(row[2]) do opts[k] = v or nil end
      local ok, msg = pcall(asp.admin.connect, opts)
      assert.is_false(ok)
      assert.matches(row[3], msg, 1, true)
    end)
  end

  it("raises when options are not a table", function()
    assert.has_error(function() asp.admin.connect("x") end,
      "admin.connect: options must be a table, got string")
  end)

  it("takes the Atlas CLI's environment variables when no credentials are given", function()
    -- a child interpreter with the variables set (Lua cannot set its own environment)
    local lua = arg and arg[-1] or "lua"
    for i = -1, -10, -1 do
      if arg[i] == nil then break end
      lua = arg[i]
    end
    local script = [[
      local asp = require "asp"
      local ok, a = pcall(asp.admin.connect,
        { base_url = "https://127.0.0.1:1", group_id = ("0"):rep(24) })
      if not ok then io.write(a) return end
      local s = a:settings()
      io.write(s.auth, " ", tostring(s.public_key or s.client_id))
    ]]
    local function run(env)
      local p = io.popen(("env -u MONGODB_ATLAS_PUBLIC_KEY -u MONGODB_ATLAS_PRIVATE_KEY "
        .. "-u MONGODB_ATLAS_CLIENT_ID -u MONGODB_ATLAS_CLIENT_SECRET %s %s -e %q 2>/dev/null")
        :format(env, lua, script))
      local out = p:read("*a")
      p:close()
      return out
    end
    assert.equal("digest envpub", run("MONGODB_ATLAS_PUBLIC_KEY=envpub MONGODB_ATLAS_PRIVATE_KEY=x"))
    assert.equal("service_account envid",
      run("MONGODB_ATLAS_CLIENT_ID=envid MONGODB_ATLAS_CLIENT_SECRET=y"))
    assert.matches("no credentials", run(""))
  end)
end)

describe("an admin handle", function()
  it("never shows a secret in tostring or settings", function()
    local a = admin()
    local text = tostring(a)
    assert.matches("asp.Admin", text, 1, true)
    assert.matches("pub-key", text, 1, true)
    assert.not_matches("very-secret", text, 1, true)
    local s = a:settings()
    assert.same({ base_url = CLOSED, group_id = GROUP, auth = "digest", public_key = "pub-key",
                  timeout_ms = 2000, retries = 3 }, s)

    local sa = admin { public_key = false, private_key = false, client_id = "sa-id",
                       client_secret = "sa-secret-value" }
    assert.not_matches("sa-secret-value", tostring(sa), 1, true)
    assert.equal("service_account", sa:settings().auth)
    assert.is_nil(sa:settings().client_secret)
  end)

  it("keeps secrets out of transport errors", function()
    local sa = admin { public_key = false, private_key = false, client_id = "sa-id",
                       client_secret = "sa-secret-value" }
    local res, err = sa:get_connection("ws", "c")
    assert.is_nil(res)
    assert.equal("network", err.domain)
    assert.not_matches("sa-secret-value", tostring(err), 1, true)
    res, err = admin():create_connection("ws", { name = "k", type = "Kafka",
      bootstrapServers = "h:9092",
      authentication = { mechanism = "PLAIN", username = "u", password = "kafka-pass-123" } })
    assert_sent(res, err)
    assert.not_matches("kafka-pass-123", tostring(err), 1, true)
  end)

  it("can be closed, after which every use raises", function()
    local a = admin()
    assert.is_false(a:is_closed())
    assert.is_true(a:close())
    assert.is_true(a:is_closed())
    assert.matches("closed", tostring(a))
    assert.has_error(function() a:get_connection("ws", "c") end, "asp: the admin client is closed")
  end)

  it("raises on wrong argument types, naming the method", function()
    local a = admin()
    local rows = {
      { function() a:get_connection(nil, "c") end, "#1 to 'get_connection'" },
      { function() a:get_connection("ws", "") end, "#2 to 'get_connection'" },
      { function() a:create_connection("ws", "x") end, "#2 to 'create_connection'" },
      { function() a:update_connection("ws", "c") end, "#3 to 'update_connection'" },
      { function() a:get_private_link(42) end, "#1 to 'get_private_link'" },
      { function() a:update_private_link("id") end, "#2 to 'update_private_link'" },
      { function() a:create_processor("ws", "p", "[]") end, "#3 to 'create_processor'" },
      { function() a:connections("ws", { items_per_page = 0 }) end,
        "option 'items_per_page' must be an integer in 1..500" },
      { function() a:list_processors("ws", { page = 2 }) end, "unknown option 'page'" },
      { function() a:get_workspace("ws", { include_connections = 1 }) end,
        "option 'include_connections' must be a boolean" },
      { function() a:start_processor("ws", "p", { failover = { regio = "x" } }) end,
        "unknown option 'regio'" },
      { function() a:get_connection("ws", "a\0b") end, "must not contain NUL bytes" },
    }
    for i, row in ipairs(rows) do
      local ok, msg = pcall(row[1])
      assert(not ok, "row " .. i .. " did not raise")
      assert(tostring(msg):find(row[2], 1, true), ("row %d: %s"):format(i, tostring(msg)))
    end
  end)
end)

describe("connection bodies", function()
  local a
  setup(function() a = admin() end)

  -- Each row: a body, and the field the error must name (nil: the body is complete).
  local kafka = function(extra)
    local c = { name = "k", type = "Kafka", bootstrapServers = "h:9092" }
    for k, v in pairs(extra or {}) do c[k] = v end
    return c
  end
  local rows = {
    { {}, "field 'name'" },
    { { name = "x" }, "field 'type' is required" },
    { { name = "x", type = "Bogus" }, "unknown type 'Bogus'" },
    { { name = "s", type = "Sample" }, nil },
    { { name = "s", type = "Sample", networking = { access = { type = "PUBLIC" } } },
      "field 'networking' is not supported" },
    { { name = "c", type = "Cluster" }, "field 'clusterName'" },
    { { name = "c", type = "Cluster", clusterName = "C0" }, nil },
    { { name = "c", type = "Cluster", clusterName = "C0", dbRoleToExecute = { type = "BUILT_IN" } },
      "field 'dbRoleToExecute.role'" },
    { { name = "c", type = "Cluster", clusterName = "C0", dbRoleToExecute = { role = "atlasAdmin" } },
      "field 'dbRoleToExecute.type'" },
    { { name = "c", type = "Cluster", clusterName = "C0",
        dbRoleToExecute = { role = "atlasAdmin", type = "builtin" } },
      "field 'dbRoleToExecute.type' must be one of BUILT_IN, CUSTOM" },
    { { name = "c", type = "Cluster", clusterName = "C0",
        dbRoleToExecute = { role = "atlasAdmin", type = "BUILT_IN" } }, nil },
    { { name = "k", type = "Kafka" }, "field 'bootstrapServers'" },
    { kafka(), nil },
    { kafka { authentication = "PLAIN" }, "field 'authentication' must be a document" },
    { kafka { authentication = {} }, "field 'authentication.mechanism'" },
    { kafka { authentication = { mechanism = "SCRAM-SHA-256" } },
      "field 'authentication.mechanism' must be one of PLAIN, SCRAM-256" },
    { kafka { authentication = { mechanism = "SCRAM-256" } }, "field 'authentication.username'" },
    { kafka { authentication = { mechanism = "SCRAM-256", username = "u" } },
      "field 'authentication.password'" },
    { kafka { authentication = { mechanism = "PLAIN", username = "u", password = "p" } }, nil },
    { kafka { authentication = { mechanism = "OAUTHBEARER", method = "OIDC" } },
      "field 'authentication.tokenEndpointUrl'" },
    { kafka { authentication = { mechanism = "OAUTHBEARER", tokenEndpointUrl = "https://t",
                                 clientId = "c" } }, "field 'authentication.clientSecret'" },
    { kafka { security = { protocol = "TLS" } }, "field 'security.protocol' must be one of" },
    { kafka { security = { protocol = "SASL_SSL" },
              networking = { access = { type = "PUBLIC" } } }, nil },
    { { name = "h", type = "Https" }, "field 'url'" },
    { { name = "h", type = "Https", url = "https://x", headers = { a = 1 } },
      "field 'headers' must be a document of strings" },
    { { name = "h", type = "Https", url = "https://x", headers = { Authorization = "t" } }, nil },
    { { name = "s3", type = "S3" }, "field 'aws.roleArn'" },
    { { name = "s3", type = "S3", aws = { roleArn = "arn:aws:iam::1:role/r" } }, nil },
    { { name = "l", type = "AWSLambda", aws = {} }, "field 'aws.roleArn'" },
    { { name = "k", type = "AWSKinesisDataStreams" }, "field 'aws.roleArn'" },
    { { name = "az", type = "AzureBlobStorage", azure = {} }, "field 'azure.servicePrincipalId'" },
    { { name = "az", type = "AzureBlobStorage", azure = { servicePrincipalId = "p" } }, nil },
    { { name = "g", type = "GCPPubSub" }, "field 'gcp.serviceAccountId'" },
    { { name = "r", type = "SchemaRegistry" }, "field 'provider'" },
    { { name = "r", type = "SchemaRegistry", provider = "CONFLUENT" }, "field 'schemaRegistryUrls'" },
    { { name = "r", type = "SchemaRegistry", provider = "CONFLUENT",
        schemaRegistryUrls = { "https://r" } }, "field 'schemaRegistryAuthentication.type'" },
    { { name = "r", type = "SchemaRegistry", provider = "CONFLUENT",
        schemaRegistryUrls = { "https://r" },
        schemaRegistryAuthentication = { type = "USER_INFO", username = "u" } },
      "field 'schemaRegistryAuthentication.password'" },
    { { name = "r", type = "SchemaRegistry", provider = "CONFLUENT",
        schemaRegistryUrls = { "https://r" },
        schemaRegistryAuthentication = { type = "SASL_INHERIT" } }, nil },
  }
  for i, row in ipairs(rows) do
    it(("row %d: %s"):format(i, row[2] or "complete body is sent"), function()
      if row[2] then
        local ok, msg = pcall(a.create_connection, a, "ws", row[1])
        assert.is_false(ok)
        assert.matches(row[2], msg, 1, true)
      else
        assert_sent(a:create_connection("ws", row[1]))
      end
    end)
  end

  it("lets an update leave out the name and the write-only secrets", function()
    assert_sent(a:update_connection("ws", "k", { type = "Kafka", bootstrapServers = "h:1",
      authentication = { mechanism = "PLAIN", username = "u" } }))
    local ok, msg = pcall(a.update_connection, a, "ws", "k", { type = "Kafka" })
    assert.is_false(ok)
    assert.matches("field 'bootstrapServers'", msg, 1, true)
  end)

  it("checks the other bodies' required fields", function()
    local rows = {
      { function() return a:create_private_link({ region = "US_EAST_1" }) end, "field 'provider'" },
      { function() return a:accept_vpc_peering("pcx-1", { requesterAccountId = "1" }) end,
        "field 'requesterVpcId'" },
      { function() return a:create_workspace({ name = "w" }) end,
        "field 'dataProcessRegion.cloudProvider'" },
    }
    for _, row in ipairs(rows) do
      local ok, msg = pcall(row[1])
      assert.is_false(ok)
      assert.matches(row[2], msg, 1, true)
    end
  end)
end)

describe("asp.ngx admin", function()
  local ngx_entry = require "asp.ngx"
  local opts = { base_url = CLOSED, group_id = GROUP, public_key = "p",
                 private_key = "ngx-private-key", timeout_ms = 2000 }

  it("returns plain error tables, never userdata or secrets", function()
    local res, err = ngx_entry.admin(opts, "get_connection", "ws", "c")
    assert.is_nil(res)
    assert.is_nil(getmetatable(err))
    assert.equal("network", err.domain)
    assert.not_matches("ngx-private-key", err.message, 1, true)
    res, err = ngx_entry.admin(opts, "create_connection", "ws", { name = "x" })
    assert.is_nil(res)
    assert.matches("field 'type' is required", err.message, 1, true)
    res, err = ngx_entry.admin(opts, "no_such_thing")
    assert.is_nil(res)
    assert.matches("unknown admin operation", err.message, 1, true)
    res, err = ngx_entry.admin(opts, "_call", "connection.get")
    assert.is_nil(res)
    assert.matches("unknown admin operation", err.message, 1, true)
    res, err = ngx_entry.admin(opts, "connections", "ws")
    assert.is_nil(res)
    assert.matches("use its list_ form", err.message, 1, true)
  end)
end)
