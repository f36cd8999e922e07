-- asp.admin against a live aspd over HTTPS (certificate verified against its CA): the
-- connection registry with both authentication methods, every error status the API
-- gives, pagination beyond one page, and secrets that never come back.
local aspd = require "support.aspd"
local asp = require "asp"

local RO_KEY, RO_SECRET = "ro-public", "ro-private-key-value"
local SA_ID, SA_SECRET = "sa-client", "sa-client-secret-value"

describe("asp.admin connections", function()
  local server, ws

  -- A handle on this server; extra replaces or removes (false) options.
  local function admin(extra)
    return server:admin(extra)
  end

  local function service_account(secret)
    return admin { public_key = false, private_key = false, client_id = SA_ID,
                   client_secret = secret or SA_SECRET }
  end

  local function names(list)
    local out = {}
    for i, c in ipairs(list) do out[i] = c.name end
    table.sort(out)
    return out
  end

  setup(function()
    server = aspd.start {
      api_keys = { RO_KEY .. ":" .. RO_SECRET .. ":GROUP_READ_ONLY" },
      service_accounts = { SA_ID .. ":" .. SA_SECRET .. ":GROUP_STREAM_PROCESSING_OWNER" },
    }
    ws = server.workspace
  end)

  teardown(function()
    if server then server:stop() end
  end)

  it("lists the workspace's connections, as the wire client does", function()
    local a = admin()
    local list = assert(a:list_connections(ws))
    assert.same({ "sample_stream_solar" }, names(list))
    assert.equal("Sample", list[1].type)
    local wire = server:connect()
    assert.same(names(assert(wire:list_connections())), names(list))
    wire:close()
  end)

  -- Every connection type of the API, with its nested settings; the secret fields are
  -- stored but never read back.
  local bodies = {
    { name = "kafka-scram", type = "Kafka", bootstrapServers = "k1:9092,k2:9092",
      authentication = { mechanism = "SCRAM-256", username = "app", password = "kafka-pw-1" },
      security = { protocol = "SASL_SSL" }, config = { ["auto.offset.reset"] = "earliest" } },
    { name = "kafka-oauth", type = "Kafka", bootstrapServers = "k:9093",
      authentication = { mechanism = "OAUTHBEARER", method = "OIDC",
                         tokenEndpointUrl = "https://idp/token", clientId = "cid",
                         clientSecret = "oauth-secret-2", scope = "read" },
      security = { protocol = "SSL", brokerPublicCertificate = "-----BEGIN CERT-----" },
      networking = { access = { type = "PUBLIC" } } },
    { name = "cluster", type = "Cluster", clusterName = "Cluster0",
      dbRoleToExecute = { role = "atlasAdmin", type = "BUILT_IN" } },
    { name = "sample2", type = "Sample" },
    { name = "https", type = "Https", url = "https://api.example.com/v1",
      headers = { Authorization = "Bearer header-secret-3" } },
    { name = "s3", type = "S3", aws = { roleArn = "arn:aws:iam::123456789012:role/s3" } },
    { name = "lambda", type = "AWSLambda", aws = { roleArn = "arn:aws:iam::1:role/l" } },
    { name = "kinesis", type = "AWSKinesisDataStreams", aws = { roleArn = "arn:aws:iam::1:role/k" } },
    { name = "azure", type = "AzureBlobStorage",
      azure = { servicePrincipalId = "sp-1", storageAccountName = "acct" } },
    { name = "pubsub", type = "GCPPubSub", gcp = { serviceAccountId = "sa@p.iam" } },
    { name = "registry", type = "SchemaRegistry", provider = "CONFLUENT",
      schemaRegistryUrls = asp.array { "https://registry.example.com" },
      schemaRegistryAuthentication = { type = "USER_INFO", username = "u",
                                       password = "registry-pw-4" } },
  }
  local secrets = { "kafka-pw-1", "oauth-secret-2", "registry-pw-4" }

  it("creates, reads, updates and deletes every connection type", function()
    local a = admin()
    for _, body in ipairs(bodies) do
      local created = assert(a:create_connection(ws, body))
      assert.equal(body.name, created.name)
      assert.equal(body.type, created.type)
      local got = assert(a:get_connection(ws, body.name))
      assert.equal(body.type, got.type)
      assert.equal("READY", got.state)
    end
    local kafka = assert(a:get_connection(ws, "kafka-scram"))
    assert.equal("k1:9092,k2:9092", kafka.bootstrapServers)
    assert.equal("app", kafka.authentication.username)
    assert.equal("SASL_SSL", kafka.security.protocol)
    assert.equal("earliest", kafka.config["auto.offset.reset"])
    assert.equal("atlasAdmin", assert(a:get_connection(ws, "cluster")).dbRoleToExecute.role)
    assert.equal("arn:aws:iam::123456789012:role/s3", assert(a:get_connection(ws, "s3")).aws.roleArn)
    assert.equal("acct", assert(a:get_connection(ws, "azure")).azure.storageAccountName)

    -- the secrets are stored but never returned, neither by get nor by list
    local listed = asp.to_json(assert(a:list_connections(ws)))
    for _, s in ipairs(secrets) do assert.not_matches(s, listed, 1, true) end
    assert.is_nil(kafka.authentication.password)
    assert.is_nil(assert(a:get_connection(ws, "kafka-oauth")).authentication.clientSecret)
    assert.is_nil(assert(a:get_connection(ws, "registry")).schemaRegistryAuthentication.password)

    local updated = assert(a:update_connection(ws, "kafka-scram", {
      type = "Kafka", bootstrapServers = "k3:9092",
      authentication = { mechanism = "SCRAM-512", username = "app2" },
      security = { protocol = "SASL_SSL" } }))
    assert.equal("k3:9092", updated.bootstrapServers)
    assert.equal("SCRAM-512", assert(a:get_connection(ws, "kafka-scram")).authentication.mechanism)

    for _, body in ipairs(bodies) do assert.is_true(a:delete_connection(ws, body.name)) end
    assert.same({ "sample_stream_solar" }, names(assert(a:list_connections(ws))))
  end)

  it("answers each error status with Atlas's error document", function()
    local a = admin()
    assert(a:create_connection(ws, { name = "dup", type = "Sample" }))
    local rows = {
      { function() return a:get_connection(ws, "nope") end,
        404, "STREAM_CONNECTION_NOT_FOUND_FOR_NAME", "nope" },
      { function() return a:delete_connection(ws, "nope") end,
        404, "STREAM_CONNECTION_NOT_FOUND_FOR_NAME", "nope" },
      { function() return a:list_connections("no-such-workspace") end,
        404, "STREAM_TENANT_NOT_FOUND_FOR_NAME", "no-such-workspace" },
      { function() return a:create_connection(ws, { name = "dup", type = "Sample" }) end,
        409, "STREAM_CONNECTION_NAME_ALREADY_EXISTS", "dup" },
      -- a field the client does not know about goes out and the server refuses it
      { function() return a:create_connection(ws, { name = "x", type = "Sample", bogus = 1 }) end,
        400, nil, "bogus" },
      { function()
          return admin { public_key = RO_KEY, private_key = RO_SECRET }
            :create_connection(ws, { name = "ro", type = "Sample" })
        end, 403, nil, nil },
      { function()
          return admin { private_key = "wrong-private-key" }:list_connections(ws)
        end, 401, nil, nil },
      { function()
          return admin { public_key = "unknown", private_key = "x" }:get_connection(ws, "dup")
        end, 401, nil, nil },
    }
    for i, row in ipairs(rows) do
      local res, err = row[1]()
      assert(res == nil, "row " .. i .. " succeeded")
      assert.equal("admin", err.domain, tostring(err))
      assert.equal(row[2], err.http_status, tostring(err))
      assert.equal(row[2], err.code)
      if row[3] then
        assert.equal(row[3], err.error_code)
        assert.equal(row[3], err.code_name)
      end
      if row[4] then assert.matches(row[4], err.message, 1, true) end
      assert.is_string(err.reason)
      assert.matches("^asp admin error: ", tostring(err))
      assert.not_matches(server.admin_private_key, tostring(err), 1, true)
      assert.not_matches("wrong-private-key", tostring(err), 1, true)
    end
    assert.is_true(a:delete_connection(ws, "dup"))
  end)

  it("gives a read-only key list and get, and 403 on every change", function()
    local a = admin()
    assert(a:create_connection(ws, { name = "ro-target", type = "Sample" }))
    local ro = admin { public_key = RO_KEY, private_key = RO_SECRET }
    assert.truthy(#assert(ro:list_connections(ws)) >= 2)
    assert.equal("Sample", assert(ro:get_connection(ws, "ro-target")).type)
    local _, err = ro:update_connection(ws, "ro-target", { type = "Sample" })
    assert.equal(403, err.http_status)
    _, err = ro:delete_connection(ws, "ro-target")
    assert.equal(403, err.http_status)
    assert.is_true(a:delete_connection(ws, "ro-target"))
  end)

  it("authenticates a service account with a cached OAuth2 token", function()
    local sa = service_account()
    assert(sa:create_connection(ws, { name = "by-sa", type = "Sample" }))
    assert.equal("Sample", assert(sa:get_connection(ws, "by-sa")).type)
    assert.truthy(#assert(sa:list_connections(ws)) >= 2)
    assert.equal(1, sa:_stats().tokens) -- one token for three calls

    sa:_expire_token() -- as if its lifetime were over: the next call gets a new one
    assert(sa:get_connection(ws, "by-sa"))
    assert.equal(2, sa:_stats().tokens)
    assert.is_true(sa:delete_connection(ws, "by-sa"))

    local res, err = service_account("wrong-secret"):list_connections(ws)
    assert.is_nil(res)
    assert.equal("admin", err.domain)
    assert.equal(401, err.http_status)
    assert.equal("invalid_client", err.error_code)
    assert.not_matches("wrong-secret", tostring(err), 1, true)
  end)

  it("verifies the server certificate", function()
    -- without aspd's CA file the system's CAs do not know the server
    local res, err = admin { ca_file = false }:list_connections(ws)
    assert.is_nil(res)
    assert.equal("tls", err.domain, tostring(err))
    res, err = admin { ca_file = "/nonexistent/ca.pem" }:list_connections(ws)
    assert.is_nil(res)
    assert.equal("tls", err.domain, tostring(err))
    assert.matches("/nonexistent/ca.pem", err.message, 1, true)
  end)

  it("pages through more than 100 connections, lazily and all at once", function()
    local a = admin()
    for i = 1, 120 do
      assert(a:create_connection(ws, { name = ("page-%03d"):format(i), type = "Sample" }))
    end
    local all = assert(a:list_connections(ws))
    assert.equal(121, #all)
    local seen = {}
    for _, c in ipairs(all) do
      assert.is_nil(seen[c.name], "listed twice: " .. c.name)
      seen[c.name] = true
    end

    -- the iterator, three pages of 50
    local before = a:_stats().requests
    local n = 0
    for conn in a:connections(ws, { items_per_page = 50 }) do
      n = n + 1
      assert.truthy(seen[conn.name])
    end
    assert.equal(121, n)
    local used = a:_stats().requests - before
    assert.truthy(used >= 3 and used <= 6, "requests for three pages: " .. used)

    -- a break stops fetching: one page
    before = a:_stats().requests
    for _ in a:connections(ws, { items_per_page = 10 }) do break end
    used = a:_stats().requests - before
    assert.truthy(used >= 1 and used <= 2, "requests for one page: " .. used)

    -- an error in the middle of a loop raises the error object
    local ok, err = pcall(function()
      for _ in a:connections("no-such-workspace") do end
    end)
    assert.is_false(ok)
    assert.equal(404, err.http_status)

    for i = 1, 120 do assert(a:delete_connection(ws, ("page-%03d"):format(i))) end
  end)
end)

describe("asp.admin service account tokens", function()
  local server

  setup(function()
    server = aspd.start { service_accounts = { "sa:sa-secret:GROUP_OWNER" }, token_ttl = 3 }
  end)
  teardown(function() if server then server:stop() end end)

  it("renews the token before it expires, without a refused request", function()
    local sa = asp.admin.connect { base_url = server.admin_root, group_id = server.group_id,
                                   client_id = "sa", client_secret = "sa-secret",
                                   ca_file = server.ca_file }
    assert(sa:list_connections(server.workspace))
    local first = sa:_stats()
    assert.equal(1, first.tokens)
    os.execute("sleep 3.3") -- past the token's 3 s lifetime
    assert(sa:list_connections(server.workspace))
    local second = sa:_stats()
    assert.equal(2, second.tokens)
    -- one token request and one API call: the expired token was never sent
    assert.equal(first.requests + 2, second.requests)
  end)
end)
