-- Command-line parsing for `asp`: flags described by tables, a usage error type, and the
-- help text built from the same tables, so a flag is declared once.
--
-- A flag row: { "--workers", arg = "N", kind = "integer", help = "..." }, optionally
-- short = "-o". Its value lands in opts[key], key = the long name without dashes and with
-- "-" turned into "_" (workers, clear_checkpoints). Rows without `arg` are booleans.
local M = {}

local Usage = {}
Usage.__index = Usage
Usage.__tostring = function(e) return e.message end

--- A usage mistake (exit code 2); raised with error() and recognised by the main loop.
function M.usage_error(fmt, ...)
  error(setmetatable({ message = fmt:format(...) }, Usage), 0)
end

function M.is_usage_error(e) return getmetatable(e) == Usage end

local function key_of(long) return (long:gsub("^%-%-", ""):gsub("%-", "_")) end

local CONVERT = {
  string = function(v) return v end,
  integer = function(v, flag)
    local n = tonumber(v)
    if not n or n ~= math.floor(n) or not v:match("^%-?%d+$") then
      M.usage_error("%s expects an integer, got '%s'", flag, v)
    end
    return n
  end,
  choice = function(v, flag, row)
    for _, c in ipairs(row.choices) do
      if c == v then return v end
    end
    M.usage_error("%s must be one of %s, got '%s'", flag, table.concat(row.choices, ", "), v)
  end,
}

local function index_flags(rows)
  local by_name = {}
  for _, row in ipairs(rows) do
    by_name[row[1]] = row
    if row.short then by_name[row.short] = row end
  end
  return by_name
end

--- Parses argv (from position `first`) against the flag rows.
--- Returns opts (flag values by key), positionals (array). Raises usage errors.
function M.parse(argv, first, rows)
  local by_name = index_flags(rows)
  local opts, positionals = {}, {}
  local i = first
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do positionals[#positionals + 1] = argv[j] end
      break
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
      name = name or a
      local row = by_name[name]
      if not row then M.usage_error("unknown flag %s", name) end
      local key = key_of(row[1])
      if row.arg then
        local v = inline
        if v == nil then
          i = i + 1
          v = argv[i]
          if v == nil then M.usage_error("%s needs a value (%s)", name, row.arg) end
        end
        opts[key] = CONVERT[row.kind or "string"](v, name, row)
      else
        if inline ~= nil then M.usage_error("%s takes no value", name) end
        opts[key] = true
      end
    else
      positionals[#positionals + 1] = a
    end
    i = i + 1
  end
  return opts, positionals
end

--- The help lines for a set of flag rows, aligned.
function M.flag_help(rows)
  local left, width = {}, 0
  for i, row in ipairs(rows) do
    local s = (row.short and (row.short .. ", ") or "    ") .. row[1] .. (row.arg and (" " .. row.arg) or "")
    left[i] = s
    if #s > width then width = #s end
  end
  local out = {}
  for i, row in ipairs(rows) do
    out[i] = ("  %-" .. width .. "s  %s"):format(left[i], row.help or "")
  end
  return table.concat(out, "\n")
end

return M
