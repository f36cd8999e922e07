-- The project-level parts of the Admin API with asp.admin against a live aspd: workspaces
-- (with their connections embedded on request), Private Link connections and VPC peering.
local aspd = require "support.aspd"
local asp = require "asp"

describe("asp.admin project resources", function()
  local server, admin, ws

  setup(function()
    server = aspd.start {}
    ws = server.workspace
    admin = server:admin()
  end)

  teardown(function()
    if server then server:stop() end
  end)

  it("lists, gets, creates, updates and deletes workspaces", function()
    local names = {}
    for w in admin:workspaces() do names[#names + 1] = w.name end
    assert.same({ ws }, names)

    local got = assert(admin:get_workspace(ws))
    assert.equal(ws, got.name)
    assert.is_nil(got.connections)
    local with = assert(admin:get_workspace(ws, { include_connections = true }))
    local conns = {}
    for _, c in ipairs(with.connections) do conns[#conns + 1] = c.name end
    assert.same({ "sample_stream_solar" }, conns)

    local made = assert(admin:create_workspace {
      name = "second", dataProcessRegion = { cloudProvider = "AWS", region = "VIRGINIA_USA" },
      streamConfig = { tier = "SP10" } })
    assert.equal("second", made.name)
    assert.equal(2, #assert(admin:list_workspaces()))
    assert(admin:update_workspace("second", { cloudProvider = "AWS", region = "VIRGINIA_USA" }))
    assert.is_true(admin:delete_workspace("second"))
    local res, err = admin:get_workspace("second")
    assert.is_nil(res)
    assert.equal(404, err.http_status)
    assert.equal("STREAM_TENANT_NOT_FOUND_FOR_NAME", err.error_code)
  end)

  it("manages Private Link connections", function()
    local made = assert(admin:create_private_link {
      provider = "AWS", vendor = "CONFLUENT", region = "us-east-1",
      serviceEndpointId = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
      dnsDomain = "abc.us-east-1.aws.confluent.cloud", dnsSubDomain = asp.array {} })
    local id = made._id
    assert.is_string(id)
    assert.equal("abc.us-east-1.aws.confluent.cloud", assert(admin:get_private_link(id)).dnsDomain)
    local ids = {}
    for pl in admin:private_links() do ids[#ids + 1] = pl._id end
    assert.same({ id }, ids)
    local updated = assert(admin:update_private_link(id, "def.us-east-1.aws.confluent.cloud"))
    assert.equal("def.us-east-1.aws.confluent.cloud", updated.dnsDomain)
    assert.is_true(admin:delete_private_link(id))
    local res, err = admin:get_private_link(id)
    assert.is_nil(res)
    assert.equal(404, err.http_status)
    assert.equal(0, #assert(admin:list_private_links()))
  end)

  it("lists VPC peering connections and answers 404 for an unknown one", function()
    assert.equal(0, #assert(admin:list_vpc_peerings()))
    local res, err = admin:accept_vpc_peering("pcx-0123456789abcdef0",
      { requesterAccountId = "123456789012", requesterVpcId = "vpc-0123" })
    assert.is_nil(res)
    assert.equal(404, err.http_status)
    res, err = admin:reject_vpc_peering("pcx-0123456789abcdef0")
    assert.is_nil(res)
    assert.equal(404, err.http_status)
    res, err = admin:delete_vpc_peering("pcx-0123456789abcdef0")
    assert.is_nil(res)
    assert.equal(404, err.http_status)
  end)
end)
