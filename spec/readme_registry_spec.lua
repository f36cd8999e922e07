-- The registry examples of README.md ("The connection registry") and docs/registry.md ("A
-- walk through") run as written against a live aspd's Admin API, with their output checked,
-- so neither page can drift from the code.
local aspd = require "support.aspd"

local SRC = os.getenv("ASP_SOURCE_DIR") or "."

local function lua_block(file, heading)
  local f = assert(io.open(SRC .. "/" .. file, "rb"))
  local text = f:read("*a")
  f:close()
  local code = text:match("## " .. heading:gsub("%p", "%%%0") .. "\n.-```lua\n(.-)```")
  assert(code, file .. " has no ```lua block under '## " .. heading .. "'")
  return code
end

-- Runs code with the server's Admin API settings as locals; returns what it printed.
local function run(server, code)
  local chunk = assert((loadstring or load)(
    "local base_url, group_id, ws, public_key, private_key, ca_file = ...\n" .. code, "=example"))
  local printed = {}
  local real_print = print
  _G.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    printed[#printed + 1] = table.concat(parts, "\t")
  end
  local ok, err = pcall(chunk, server.admin_root, server.group_id, server.workspace,
    server.admin_public_key, server.admin_private_key, server.ca_file)
  _G.print = real_print
  assert(ok, err)
  return printed
end

describe("registry examples", function()
  local server

  setup(function() server = aspd.start {} end)
  teardown(function() if server then server:stop() end end)

  it("README.md runs as written", function()
    local out = run(server, lua_block("README.md", "The connection registry"))
    table.sort(out, function(a, b) return a < b end)
    assert.same({ "404\tSTREAM_CONNECTION_NOT_FOUND_FOR_NAME", "events\tKafka", "nil",
                  "sample_stream_solar\tSample" }, out)
  end)

  it("docs/registry.md runs as written", function()
    local out = run(server, lua_block("docs/registry.md", "A walk through"))
    assert.equal("false\tconnection (type Kafka): field 'bootstrapServers' (a non-empty string) "
      .. "is required", out[1])
    local listed = { out[2], out[3], out[4] }
    table.sort(listed)
    assert.same({ "atlas\tCluster", "hooks\tHttps", "sample_stream_solar\tSample" }, listed)
    assert.equal("409\tSTREAM_CONNECTION_NAME_ALREADY_EXISTS", out[5])
    assert.equal(5, #out)
  end)
end)
