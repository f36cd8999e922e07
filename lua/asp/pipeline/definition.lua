-- The canonical processor definition {name, pipeline, options} as an Extended JSON
-- file, the form ASP users keep in version control. The codec is asp.core's
-- (libbson); this module adds the shape check and a stable layout (two-space
-- indent, one value per line) so that load -> save reproduces a file byte for byte.

local values = require "asp.pipeline.values"

local D = {}

local MODES = { relaxed = true, canonical = true }

-- Processor options: in the file as on the wire (camelCase), in Lua as sps:create
-- takes them (snake_case), so that sps:create(def.name, def.pipeline, def.options) works.
local OPTIONS = {
  { "dlq", "dlq" },
  { "tier", "tier" },
  { "streamMetaFieldName", "stream_meta_field_name" },
  { "failover", "failover" },
}
local TO_LUA, TO_WIRE, RANK = {}, {}, {}
for i, o in ipairs(OPTIONS) do
  local wire, lua = o[1], o[2]
  TO_LUA[wire], TO_LUA[lua] = lua, lua
  TO_WIRE[wire], TO_WIRE[lua] = wire, wire
  RANK[wire], RANK[lua] = i, i
end

-- A copy of `options` with every key renamed through `names`, in the same order
-- (documented order for a plain table), or nil, err for an unknown option.
local function rename_options(options, names)
  local keys = values.keys(options)
  if not values.order_of(options) then
    table.sort(keys, function(a, b) return (RANK[a] or 0) < (RANK[b] or 0) end)
  end
  local out, order = {}, {}
  for _, k in ipairs(keys) do
    local name = names[k]
    if not name then
      return nil, "unknown option '" .. tostring(k) .. "' in definition.options (expected dlq, tier, "
        .. "streamMetaFieldName, failover)"
    end
    if out[name] ~= nil then return nil, "option '" .. name .. "' given twice in definition.options" end
    out[name] = options[k]
    order[#order + 1] = name
  end
  return values.with_order(out, order)
end

local function core()
  local ok, c = pcall(require, "asp.core")
  if not ok or type(c) ~= "table" or type(c.to_json) ~= "function" or type(c.from_json) ~= "function" then
    return nil, "asp.pipeline: JSON definitions need asp.core with to_json and from_json"
  end
  return c
end

-- nil, or why `def` is not a definition.
local function shape_error(def)
  if not values.is_document(def) then return "a definition must be an object {name, pipeline, options}" end
  for k in pairs(def) do
    if k ~= "name" and k ~= "pipeline" and k ~= "options" then
      return "unknown field '" .. tostring(k) .. "' in definition (expected name, pipeline, options)"
    end
  end
  if type(def.name) ~= "string" or def.name == "" then return "definition.name must be a non-empty string" end
  local p = def.pipeline
  if type(p) ~= "table" or (next(p) ~= nil and not values.is_array(p)) then
    return "definition.pipeline must be an array of stages"
  end
  if def.options ~= nil and not values.is_document(def.options) then
    return "definition.options must be an object"
  end
  if def.options ~= nil then
    local _, err = rename_options(def.options, TO_LUA)
    return err
  end
  return nil
end

-- A copy in which every plain table has its keys sorted: Lua's pairs() order changes
-- from run to run, a saved file must not. Ordered documents and arrays keep their
-- order; a table met again while copying (a cycle) is left for the encoder to report.
local function stable(v, visiting, is_list)
  if type(v) ~= "table" or visiting[v] then return v end
  visiting[v] = true
  local copy
  if is_list or values.is_array(v) then
    copy = values.array()
    for i, x in ipairs(v) do copy[i] = stable(x, visiting) end
  else
    local keys = values.keys(v)
    copy = values.with_order({}, {})
    for _, k in ipairs(keys) do copy[k] = stable(v[k], visiting) end
  end
  visiting[v] = nil
  return copy
end

-- The programmer mistake in a definition about to be written, if any: asp.pipeline
-- raises it at its caller (the functions here never raise).
function D.usage_error(def, mode)
  if mode ~= nil and not MODES[mode] then
    return "asp.pipeline: JSON mode must be 'relaxed' or 'canonical', got " .. tostring(mode)
  end
  local shape = shape_error(def)
  return shape and "asp.pipeline: " .. shape
end

-- An ordered definition document (options left out when nil), or nil, err.
function D.new(name, pipeline, options)
  local def = values.ordered("name", name, "pipeline", pipeline)
  if options ~= nil then def.options = options end
  local err = D.usage_error(def)
  if err then return nil, err end
  return def
end

-- Re-lays out compact JSON: two-space indent, one member or element per line,
-- `"key": value`, empty containers as {} and []. Strings are copied untouched.
local function layout(json)
  local out, depth, i, n = {}, 0, 1, #json
  local function newline()
    out[#out + 1] = "\n" .. string.rep("  ", depth)
  end
  while i <= n do
    local c = json:sub(i, i)
    if c == '"' then
      local j = i + 1
      while true do
        local q = json:find('["\\]', j)
        if not q then return nil, "unterminated string in JSON" end
        if json:sub(q, q) == "\\" then
          j = q + 2
        else
          j = q
          break
        end
      end
      out[#out + 1] = json:sub(i, j)
      i = j + 1
    elseif c == "{" or c == "[" then
      local close = c == "{" and "}" or "]"
      local k = json:find("%S", i + 1)
      if k and json:sub(k, k) == close then
        out[#out + 1] = c .. close
        i = k + 1
      else
        depth = depth + 1
        out[#out + 1] = c
        newline()
        i = i + 1
      end
    elseif c == "}" or c == "]" then
      depth = depth - 1
      newline()
      out[#out + 1] = c
      i = i + 1
    elseif c == "," then
      out[#out + 1] = ","
      newline()
      i = i + 1
    elseif c == ":" then
      out[#out + 1] = ": "
      i = i + 1
    elseif c:find("%s") then
      i = i + 1
    else
      local j = json:find("[%s,:%]}]", i) or n + 1
      out[#out + 1] = json:sub(i, j - 1)
      i = j
    end
  end
  return table.concat(out) .. "\n"
end

-- JSON text -> definition (ordered documents, as asp.core decodes them), or nil, err.
function D.decode(json)
  local c, cerr = core()
  if not c then return nil, cerr end
  if type(json) ~= "string" then return nil, "asp.pipeline: decode_definition takes a JSON string" end
  local ok, def, err = pcall(c.from_json, json)
  if not ok then return nil, "asp.pipeline: invalid definition JSON: " .. tostring(def) end
  if def == nil then return nil, "asp.pipeline: invalid definition JSON: " .. tostring(err) end
  local shape = shape_error(def)
  if shape then return nil, "asp.pipeline: " .. shape end
  if def.options ~= nil then def.options = rename_options(def.options, TO_LUA) end
  return def
end

-- definition -> JSON text in `mode` ("relaxed", the default, or "canonical"), or nil, err.
function D.encode(def, mode)
  local usage = D.usage_error(def, mode)
  if usage then return nil, usage end
  local c, cerr = core()
  if not c then return nil, cerr end
  -- Emit name, pipeline, options in that order whatever table `def` is.
  local doc = values.ordered("name", def.name, "pipeline", stable(def.pipeline, {}, true))
  if def.options ~= nil then doc.options = stable(rename_options(def.options, TO_WIRE), {}) end
  local ok, json, err = pcall(c.to_json, doc, mode or "relaxed")
  if not ok then return nil, "asp.pipeline: cannot encode definition: " .. tostring(json) end
  if json == nil then return nil, "asp.pipeline: cannot encode definition: " .. tostring(err) end
  local text, lerr = layout(json)
  if not text then return nil, "asp.pipeline: " .. lerr end
  return text
end

function D.load(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, "asp.pipeline: " .. tostring(err) end
  local json = f:read("*a")
  f:close()
  local def, derr = D.decode(json)
  if not def then return nil, derr .. " (" .. path .. ")" end
  return def
end

-- Writes to a temporary file first so a failed save never leaves half a definition.
function D.save(path, def, mode)
  local json, err = D.encode(def, mode)
  if not json then return nil, err end
  local tmp = path .. ".tmp"
  local f, ferr = io.open(tmp, "wb")
  if not f then return nil, "asp.pipeline: " .. tostring(ferr) end
  local ok, werr = f:write(json)
  f:close()
  if not ok then
    os.remove(tmp)
    return nil, "asp.pipeline: " .. tostring(werr)
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    return nil, "asp.pipeline: " .. tostring(rerr)
  end
  return true
end

return D
