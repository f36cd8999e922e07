-- Runs every ```lua block of docs/pipeline.md, so the documentation cannot drift from
-- the code. Blocks that read or write JSON files need asp.core (pending without it);
-- the block that needs a workspace runs against a stand-in `sps` that checks what
-- sps:create receives.
local DOC = (os.getenv("ASP_SOURCE_DIR") or ".") .. "/docs/pipeline.md"

local has_core, core = pcall(require, "asp.core")
has_core = has_core and type(core.to_json) == "function"

local function blocks()
  local f = assert(io.open(DOC, "rb"))
  local text = f:read("*a")
  f:close()
  local list, pos = {}, 1
  while true do
    local s, e = text:find("```lua\n", pos, true)
    if not s then break end
    local close = assert(text:find("\n```", e, true), "unclosed ```lua block")
    local _, newlines = text:sub(1, e):gsub("\n", "")
    list[#list + 1] = { line = newlines + 1, code = text:sub(e + 1, close) }
    pos = close + 4
  end
  return list
end

-- sps:create(name, pipeline, options) as the binding checks it, without a server.
local function stand_in_sps(calls)
  return {
    create = function(_, name, pipeline, options)
      assert(type(name) == "string" and name ~= "")
      assert(type(pipeline) == "table" and #pipeline > 0)
      for k in pairs(options or {}) do
        assert(({ dlq = true, tier = true, stream_meta_field_name = true, failover = true })[k],
          "create: unknown option '" .. tostring(k) .. "'")
      end
      calls[#calls + 1] = name
      return {}
    end,
  }
end

local function run(code, name, env)
  local chunk
  if setfenv then
    chunk = assert(loadstring(code, name))
    setfenv(chunk, env)
  else
    chunk = assert(load(code, name, "t", env))
  end
  chunk()
end

describe("docs/pipeline.md examples", function()
  local list = blocks()

  it("has examples", function()
    assert.is_true(#list >= 6)
  end)

  for _, block in ipairs(list) do
    local needs_core = block.code:find("_definition(", 1, true)
    local title = "block at line " .. block.line
    if needs_core and not has_core then
      pending(title .. " (needs asp.core)")
    else
      it(title, function()
        local calls = {}
        local env = setmetatable({ sps = stand_in_sps(calls) }, { __index = _G })
        run(block.code, "@docs/pipeline.md:" .. block.line, env)
        if block.code:find("assert(sps:create", 1, true) then assert.same({ "solarDemo" }, calls) end
      end)
    end
  end
end)
