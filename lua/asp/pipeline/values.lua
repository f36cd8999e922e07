-- Plain-Lua values shared with the C value mapping (asp.core): ordered documents,
-- arrays, and the small documents ASP stages are made of (durations, $meta).
-- Conventions (src/binding/lasp_values.h): an ordered document is a table whose
-- metatable carries `__asp_order` (its keys in order); an array may carry
-- `__asp_array = true`, and must when it is empty so it does not encode as {}.

local M = {}

local UNITS = { ms = 1, second = 1000, minute = 60000, hour = 3600000, day = 86400000 }
M.UNITS = UNITS
M.UNIT_NAMES = "ms, second, minute, hour, day"

-- Keys assigned after construction join the order, so `doc.x = 1` keeps working
-- (a key already listed, whose value was nil, keeps its place).
local function ordered_meta(order)
  return {
    __asp_order = order,
    __newindex = function(t, k, v)
      local listed = false
      for _, o in ipairs(order) do
        if o == k then listed = true end
      end
      if not listed then order[#order + 1] = k end
      rawset(t, k, v)
    end,
  }
end

-- ordered("a", 1, "b", -1) or ordered{"a", 1, "b", -1} (the form of asp.ordered):
-- { a = 1, b = -1 } that encodes as a, then b.
function M.ordered(...)
  local args, n = { ... }, select("#", ...)
  if n == 1 and type(args[1]) == "table" and getmetatable(args[1]) == nil then
    args, n = args[1], 0
    for k in pairs(args) do
      if type(k) == "number" and k > n then n = k end
    end
    if n % 2 ~= 0 then n = n + 1 end -- a trailing nil value
  end
  if n % 2 ~= 0 then
    error("asp.pipeline: ordered() takes key, value pairs", 2)
  end
  local doc, order, seen = {}, {}, {}
  for i = 1, n, 2 do
    local k = args[i]
    if type(k) ~= "string" then
      error("asp.pipeline: ordered() keys must be strings, got " .. type(k) .. " at position " .. i, 2)
    end
    if seen[k] then error("asp.pipeline: ordered(): duplicate key '" .. k .. "'", 2) end
    seen[k] = true
    order[#order + 1] = k
    doc[k] = args[i + 1]
  end
  return M.with_order(doc, order)
end

-- Gives an existing table the key order `order` (an array of its keys).
function M.with_order(t, order)
  return setmetatable(t, ordered_meta(order))
end

-- The declared key order of a document, or nil for a plain table.
function M.order_of(t)
  local mt = getmetatable(t)
  return type(mt) == "table" and rawget(mt, "__asp_order") or nil
end

local ARRAY_META = { __asp_array = true }

-- array{...}: marks a list as an array so it stays one when empty; array() is [].
function M.array(t)
  if t == nil then t = {} end
  if type(t) ~= "table" or getmetatable(t) ~= nil then
    error("asp.pipeline: array() takes a plain table", 2)
  end
  return setmetatable(t, ARRAY_META)
end

-- True for a table with keys exactly 1..n (n >= 1) or one marked as an array.
function M.is_array(t)
  if type(t) ~= "table" then return false end
  local mt = getmetatable(t)
  if type(mt) == "table" and rawget(mt, "__asp_array") then return true end
  if M.order_of(t) then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  if n == 0 then return false end
  for i = 1, n do
    if t[i] == nil then return false end
  end
  return true
end

-- A document: a table that is not an array.
function M.is_document(t)
  return type(t) == "table" and not M.is_array(t)
end

-- The keys of a document: declared order first, then the rest sorted (deterministic).
function M.keys(t)
  local seen, keys = {}, {}
  for _, k in ipairs(M.order_of(t) or {}) do
    if t[k] ~= nil and not seen[k] then
      seen[k] = true
      keys[#keys + 1] = k
    end
  end
  local rest = {}
  for k in pairs(t) do
    if not seen[k] then rest[#rest + 1] = k end
  end
  table.sort(rest, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  return keys
end

function M.count_keys(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- { size = n, unit = u }, the duration document of windows, timeouts and TTLs.
function M.duration(size, unit)
  if type(size) ~= "number" then
    error("asp.pipeline: duration size must be a number, got " .. type(size), 2)
  end
  if not UNITS[unit] then
    error("asp.pipeline: duration unit must be one of " .. M.UNIT_NAMES .. ", got " .. tostring(unit), 2)
  end
  return M.ordered("size", size, "unit", unit)
end

-- Milliseconds of a duration document, or nil when it is not a valid one.
function M.duration_ms(d)
  if type(d) ~= "table" or type(d.size) ~= "number" or not UNITS[d.unit] then return nil end
  return d.size * UNITS[d.unit]
end

-- { offsetFromUtc = n, unit = u }, the window offset document.
function M.offset(n, unit)
  if type(n) ~= "number" then
    error("asp.pipeline: offset must be a number, got " .. type(n), 2)
  end
  if not UNITS[unit] or unit == "day" then
    error("asp.pipeline: offset unit must be one of ms, second, minute, hour, got " .. tostring(unit), 2)
  end
  return M.ordered("offsetFromUtc", n, "unit", unit)
end

-- { $meta = "stream.source.ts" }; meta("source.ts") and meta() ("stream") work too.
function M.meta(path)
  if path == nil then
    path = "stream"
  elseif type(path) ~= "string" then
    error("asp.pipeline: meta path must be a string, got " .. type(path), 2)
  elseif path ~= "stream" and path:sub(1, 7) ~= "stream." then
    path = "stream." .. path
  end
  return { ["$meta"] = path }
end

return M
