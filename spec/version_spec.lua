-- One version string: src/core/version.h is read by CMake (project version) and compiled
-- into both the CMake and the LuaRocks builds, which pass no version of their own.
local asp = require "asp"

local function read(path)
  local f = assert(io.open(path))
  local text = f:read("*a")
  f:close()
  return text
end

describe("asp.version", function()
  local src = os.getenv("ASP_SOURCE_DIR") or "."

  it("is the version written in src/core/version.h", function()
    local v = read(src .. "/src/core/version.h"):match('#define ASP_VERSION "([0-9.]+)"')
    assert.is_string(v)
    assert.equal(v, asp.version)
  end)

  it("is not redefined by the rockspec or the CMake targets", function()
    assert.is_nil(read(src .. "/lua-asp-0.1.0-1.rockspec"):find("ASP_VERSION", 1, true))
    for _, dir in ipairs({ "src/core", "src/binding" }) do
      assert.is_nil(read(src .. "/" .. dir .. "/CMakeLists.txt"):find("ASP_VERSION", 1, true))
    end
  end)
end)
