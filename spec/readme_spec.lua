-- Runs the README's Lua example against a live aspd, so the front page cannot drift
-- from the code. Its output is captured and checked: ten sampled solar documents, the
-- output count from stats, and a pipeline the local checker accepts.
local aspd = require "support.aspd"

local README = (os.getenv("ASP_SOURCE_DIR") or ".") .. "/README.md"

local function readme_example()
  local f = assert(io.open(README, "rb"))
  local text = f:read("*a")
  f:close()
  local code = text:match("## A taste\n\n```lua\n(.-)```")
  assert(code, "README.md has no ```lua block under '## A taste'")
  return code
end

describe("README example", function()
  local server

  setup(function()
    server = aspd.start{}
  end)

  teardown(function()
    if server then server:stop() end
  end)

  it("runs as written against aspd", function()
    local chunk = assert((loadstring or load)("local uri = ...\n" .. readme_example(), "=README"))
    local printed = {}
    local real_print = print
    _G.print = function(...)
      local parts = {}
      for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
      printed[#printed + 1] = table.concat(parts, "\t")
    end
    local ok, err = pcall(chunk, server.uri)
    _G.print = real_print
    assert(ok, err)

    assert.are.equal(11, #printed) -- ten documents, then the output count
    for i = 1, 10 do
      assert.truthy(printed[i]:match("^device_%d+\t"), printed[i])
    end
    assert.truthy(tonumber(printed[11]) >= 10, printed[11])
  end)
end)
