-- Processors over HTTPS with asp.admin against a live aspd: the whole lifecycle (create,
-- get, list, modify, start, startWith, stop, delete), the same processors the wire client
-- sees with the same name, state and pipeline.
local aspd = require "support.aspd"
local asp = require "asp"

local PIPELINE = {
  { ["$source"] = { connectionName = "sample_stream_solar" } },
  { ["$match"] = { ["obs.watts"] = { ["$gte"] = 0 } } },
  { ["$emit"] = { connectionName = "__testLog" } },
}

describe("asp.admin processors", function()
  local server, admin, client, ws

  setup(function()
    server = aspd.start {}
    ws = server.workspace
    admin = server:admin()
    client = server:connect()
  end)

  teardown(function()
    if client then client:close() end
    if server then server:stop() end
  end)

  it("creates, starts, modifies, stops and deletes a processor", function()
    local created = assert(admin:create_processor(ws, "rest_proc", PIPELINE, { tier = "SP10" }))
    assert.equal("rest_proc", created.name)
    assert.equal(3, #created.pipeline)

    -- the wire client sees the same processor, with the same pipeline
    local sps = client:stream_processors()
    local info = assert(sps:get_info("rest_proc"))
    assert.equal("CREATED", info.state)
    local got = assert(admin:get_processor(ws, "rest_proc"))
    assert.equal(info.state, got.state)
    assert.equal(asp.to_json(info.pipeline), asp.to_json(got.pipeline))

    assert.is_true(admin:start_processor(ws, "rest_proc"))
    assert.equal("STARTED", assert(sps:get_info("rest_proc")).state)
    assert.equal("STARTED", assert(admin:get_processor(ws, "rest_proc")).state)

    -- modifying a running processor is refused; stopped, it works
    local res, err = admin:modify_processor(ws, "rest_proc", { pipeline = PIPELINE })
    assert.is_nil(res)
    assert.equal("admin", err.domain)
    assert.is_number(err.http_status)
    assert.is_true(admin:stop_processor(ws, "rest_proc"))
    assert.equal("STOPPED", assert(admin:get_processor(ws, "rest_proc")).state)
    local short = { PIPELINE[1], PIPELINE[3] }
    local modified = assert(admin:modify_processor(ws, "rest_proc", { pipeline = short }))
    assert.equal(2, #modified.pipeline)
    assert.equal(2, #assert(sps:get_info("rest_proc")).pipeline)

    -- startWith: options go to :startWith
    assert.is_true(admin:start_processor(ws, "rest_proc", { resume_from_checkpoint = false }))
    assert.equal("STARTED", assert(admin:get_processor(ws, "rest_proc")).state)
    assert.is_true(admin:stop_processor(ws, "rest_proc"))

    assert.is_true(admin:delete_processor(ws, "rest_proc"))
    res, err = admin:get_processor(ws, "rest_proc")
    assert.is_nil(res)
    assert.equal(404, err.http_status)
    res, err = sps:get_info("rest_proc")
    assert.is_nil(res)
  end)

  it("lists processors made over the wire and over HTTPS, every page", function()
    local sps = client:stream_processors()
    assert(sps:create("wire_proc", PIPELINE))
    for i = 1, 5 do assert(admin:create_processor(ws, "rest_" .. i, PIPELINE)) end
    local names = {}
    for p in admin:processors(ws, { items_per_page = 2 }) do names[#names + 1] = p.name end
    table.sort(names)
    assert.same({ "rest_1", "rest_2", "rest_3", "rest_4", "rest_5", "wire_proc" }, names)
    assert.equal(6, #assert(admin:list_processors(ws)))
    local wire = {}
    for _, p in ipairs(assert(sps:list())) do wire[#wire + 1] = p.name end
    table.sort(wire)
    assert.same(names, wire)
    for _, n in ipairs(names) do assert.is_true(admin:delete_processor(ws, n)) end
    assert.equal(0, #assert(admin:list_processors(ws)))
  end)

  it("refuses a processor whose connection does not exist", function()
    local res, err = admin:create_processor(ws, "bad", {
      { ["$source"] = { connectionName = "no_such_connection" } },
      { ["$emit"] = { connectionName = "__testLog" } },
    })
    assert.is_nil(res)
    assert.equal("admin", err.domain)
    assert.equal(400, err.http_status)
    assert.matches("no_such_connection", err.message, 1, true)
  end)
end)
