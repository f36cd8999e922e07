-- How `asp` prints: results as an aligned table, JSON or JSON lines (relaxed Extended
-- JSON through asp.to_json), a spinner on a terminal while waiting, and one-line errors
-- with every secret blanked out.
local asp = require "asp"

local M = {}

M.FORMATS = { "table", "json", "jsonl" }

-- 5.1 returns a status number, 5.2+ true/nil.
local function succeeded(r) return r == true or r == 0 end

--- Whether file descriptor fd (1 or 2) is a terminal: `test -t` inherits our descriptors.
function M.is_tty(fd)
  return succeeded(os.execute("test -t " .. fd))
end

-- Columns of the terminal on stdout; nil when stdout is not one (pipes get whole lines).
local function terminal_width()
  local cols = tonumber(os.getenv("COLUMNS") or "")
  if cols and cols > 0 then return cols end
  if not M.is_tty(1) then return nil end
  local p = io.popen("stty size </dev/tty 2>/dev/null")
  local line = p and p:read("*l")
  if p then p:close() end
  return tonumber(line and line:match("^%d+ (%d+)$") or "")
end

-- UTF-8 aware length and truncation, so a cut never splits a character.
local function ulen(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

local function utruncate(s, width)
  if ulen(s) <= width then return s end
  if width <= 3 then return ("."):rep(width) end
  local out, n = {}, 0
  for ch in s:gmatch("[%z\1-\127\192-\255][\128-\191]*") do
    if n == width - 3 then break end
    out[#out + 1] = ch
    n = n + 1
  end
  return table.concat(out) .. "..."
end

local function json(v) return asp.to_json(v, "relaxed") end

--- One table cell: scalars as text, documents and arrays as compact JSON.
function M.cell(v)
  local t = type(v)
  if v == nil then return "" end
  if t == "string" then return (v:gsub("[\r\n\t]", " ")) end
  if t == "table" then return json(v) end
  if v == asp.null then return "null" end
  return tostring(v)
end

-- The value at a dotted path (stats.outputMessageCount) or computed by a function.
local function pick(doc, col)
  local get = col[2]
  if type(get) == "function" then return get(doc) end
  local v = doc
  for part in get:gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    v = v[part]
  end
  return v
end

-- Shrinks the widest column until the row fits, keeping each at least 4 wide; if that is
-- not enough, the rightmost columns go.
local function fit(widths, total_width)
  if not total_width then return widths end
  local function total()
    local s = 2 * (#widths - 1)
    for _, w in ipairs(widths) do s = s + w end
    return s
  end
  while total() > total_width do
    local widest = 1
    for i, w in ipairs(widths) do
      if w > widths[widest] then widest = i end
    end
    if widths[widest] <= 4 then
      if #widths == 1 then break end
      widths[#widths] = nil
    else
      widths[widest] = widths[widest] - 1
    end
  end
  return widths
end

--- Lines of an aligned table: headers, then one line per row.
function M.table_lines(headers, rows, total_width)
  local widths = {}
  for i, h in ipairs(headers) do widths[i] = ulen(h) end
  for _, r in ipairs(rows) do
    for i = 1, #headers do
      local n = ulen(r[i])
      if n > widths[i] then widths[i] = n end
    end
  end
  widths = fit(widths, total_width)
  local function line(cells)
    local parts = {}
    for i = 1, #widths do
      local s = utruncate(cells[i], widths[i])
      parts[i] = i == #widths and s or s .. (" "):rep(widths[i] - ulen(s))
    end
    return (table.concat(parts, "  "):gsub("%s+$", ""))
  end
  local out = { line(headers) }
  for _, r in ipairs(rows) do out[#out + 1] = line(r) end
  return out
end

local Writer = {}
Writer.__index = Writer

--- A writer for one format; `stdout` is a file (io.stdout by default).
function M.writer(format, stdout)
  return setmetatable({ format = format, out = stdout or io.stdout }, Writer)
end

function Writer:line(s) self.out:write(s, "\n") end

--- Prints a list of documents. columns: { {"NAME", "name"}, {"STATE", "state"}, ... }
function Writer:list(docs, columns)
  if self.format == "json" then return self:line(json(asp.array(docs))) end
  if self.format == "jsonl" then
    for _, d in ipairs(docs) do self:line(json(d)) end
    return
  end
  local headers, rows = {}, {}
  for i, c in ipairs(columns) do headers[i] = c[1] end
  for r, d in ipairs(docs) do
    rows[r] = {}
    for i, c in ipairs(columns) do rows[r][i] = M.cell(pick(d, c)) end
  end
  for _, l in ipairs(M.table_lines(headers, rows, terminal_width())) do self:line(l) end
end

--- Prints one document: as FIELD / VALUE lines in a table, else as one JSON text.
function Writer:document(doc)
  if self.format ~= "table" then return self:line(json(doc)) end
  local keys = {}
  local mt = getmetatable(doc)
  local order = mt and mt.__asp_order
  if order then
    for _, k in ipairs(order) do
      if doc[k] ~= nil then keys[#keys + 1] = k end
    end
  else
    for k in pairs(doc) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
  end
  local rows = {}
  for i, k in ipairs(keys) do rows[i] = { k, M.cell(doc[k]) } end
  for _, l in ipairs(M.table_lines({ "FIELD", "VALUE" }, rows, terminal_width())) do self:line(l) end
end

--- Reports an action: a sentence in table form, the document otherwise.
function Writer:done(message, doc)
  if self.format == "table" then return self:line(message) end
  self:line(json(doc))
end

--- A stream of documents (sample, process): one JSON text per line, except that "json"
--- wraps them in one array, closed by :finish() however the stream ends.
function Writer:stream_begin()
  self.streamed = 0
  if self.format == "json" then self.out:write("[") end
end

function Writer:stream(doc)
  local text = json(doc)
  if self.format == "json" then
    self.out:write(self.streamed == 0 and "\n" or ",\n", text)
  else
    self:line(text)
  end
  self.out:flush()
  self.streamed = self.streamed + 1
end

function Writer:stream_end()
  if self.format == "json" then self.out:write(self.streamed == 0 and "]\n" or "\n]\n") end
  self.out:flush()
end

--- A spinner on stderr while waiting, only when stderr is a terminal.
function M.spinner(message)
  local s = { frames = { "|", "/", "-", "\\" }, n = 0, on = M.is_tty(2), message = message }
  function s.tick()
    if not s.on then return end
    s.n = s.n + 1
    io.stderr:write("\r", s.frames[s.n % 4 + 1], " ", s.message)
    io.stderr:flush()
  end
  function s.stop()
    if s.on and s.n > 0 then io.stderr:write("\r\27[K") end
  end
  return s
end

--- One error line on stderr, with each secret replaced by "***".
function M.error_line(message, secrets)
  -- The library's own messages start with "asp ..."; say it once.
  message = tostring(message):gsub("[\r\n]+", " "):gsub("^asp:? ", "")
  for _, s in ipairs(secrets or {}) do
    if #s >= 4 then
      local plain = s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
      message = message:gsub(plain, "***")
    end
  end
  io.stderr:write("asp: ", message, "\n")
end

return M
