-- The public module `asp`: the C binding (asp.core) plus the parts that are better in
-- Lua: the sample cursor's waiting loop (so that a host-supplied sleep may yield, e.g.
-- ngx.sleep or a coroutine in a game loop), sample/process option tables, and the lazy
-- asp.pipeline.
local core = require "asp.core"

local asp = {}

-- Everything public of asp.core: connect, version, the value API (null, array, ordered,
-- typed values, to_json, from_json, ...). Class method tables and _private helpers stay.
local private = { Client = true, StreamProcessors = true, Processor = true, Cursor = true,
                  sleep = true, now = true, set_error_mt = true }
for k, v in pairs(core) do
  if not private[k] and not k:match("^_") then asp[k] = v end
end

local Client, Processor, Cursor = core.Client, core.Processor, core.Cursor
local sleep_default, now, set_error_mt = core.sleep, core.now, core.set_error_mt
local DEFAULT_POLL_INTERVAL_MS = 100

-- Integer check that works on 5.1/LuaJIT (no math.type) as well as 5.3+.
local function is_integer(v)
  if type(v) ~= "number" then return false end
  if math.type then return math.type(v) == "integer" end
  return v == math.floor(v) and v >= -2 ^ 53 and v <= 2 ^ 53
end

-- Checks an options table (argument n as the user counts) against a whitelist of
-- key -> checker; raises naming the function and the key. Raised messages carry no file
-- position (level 0), like those of the C functions: see the error model in docs/api.md.
local function check_opts(fname, n, opts, spec)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(("bad argument #%d to '%s' (table expected, got %s)"):format(n, fname, type(opts)), 0)
  end
  for k, v in pairs(opts) do
    local check = spec[k]
    if not check then error(("%s: unknown option '%s'"):format(fname, tostring(k)), 0) end
    local ok, expected = check(v)
    if not ok then
      error(("%s: option '%s' must be %s, got %s"):format(fname, k, expected, tostring(v)), 0)
    end
  end
  return opts
end

local INT32_MAX = 2147483647
local function non_negative_integer(v)
  return is_integer(v) and v >= 0 and v <= INT32_MAX, "an integer in 0..2^31-1"
end
local function non_negative_number(v)
  return type(v) == "number" and v >= 0, "a number >= 0"
end
local function is_function(v) return type(v) == "function", "a function" end
local function is_boolean(v) return type(v) == "boolean", "a boolean" end
local function is_table(v) return type(v) == "table", "a table" end

local cursor_spec = {
  limit = non_negative_integer,
  batch_size = non_negative_integer,
  max_wait_ms = non_negative_number,
  poll_interval_ms = non_negative_number,
  sleep = is_function,
  ordered = is_boolean,
  decode = function(v)
    return v == "plain" or v == "ordered" or v == "lazy", 'one of "plain", "ordered", "lazy"'
  end,
  timeout_ms = non_negative_integer,
}

-- The decode mode of a cursor: `decode`, or the older `ordered = true`.
local function decode_mode(fname, opts)
  if opts.decode ~= nil and opts.ordered ~= nil then
    error(("%s: give either decode or ordered, not both"):format(fname), 0)
  end
  return opts.decode or (opts.ordered and "ordered") or "plain"
end
local process_spec = { dlq = is_table }
for k, v in pairs(cursor_spec) do process_spec[k] = v end

-- Waiting settings per cursor; weak keys so a collected cursor takes its entry along.
local waits = setmetatable({}, { __mode = "k" })

local function remember_wait(cur, opts)
  waits[cur] = {
    max_wait = opts.max_wait_ms and opts.max_wait_ms / 1000,
    interval = (opts.poll_interval_ms or DEFAULT_POLL_INTERVAL_MS) / 1000,
    sleep = opts.sleep or sleep_default,
  }
end

-- The generic for gets the cursor as iterator and as closing value (Lua 5.4), so `break`
-- closes it at once; older Luas ignore the fourth value and the collector closes it.
local function iterate(cur, err)
  if not cur then return nil, err end
  return cur, nil, nil, cur
end

--- proc:sample(opts) -> cursor (also usable directly in a generic for) | nil, err
function Processor:sample(opts)
  opts = check_opts("sample", 1, opts, cursor_spec)
  local cur, err = self:_sample(opts.limit, opts.batch_size, decode_mode("sample", opts),
    opts.timeout_ms)
  if cur then remember_wait(cur, opts) end
  return iterate(cur, err)
end

--- client:process(pipeline, opts) -> cursor | nil, err: an ephemeral processor, dropped
--- when the cursor is closed or collected.
function Client:process(pipeline, opts)
  opts = check_opts("process", 2, opts, process_spec)
  local cur, err = self:_process(pipeline, opts.dlq, opts.limit, opts.batch_size,
    decode_mode("process", opts), opts.timeout_ms)
  if cur then remember_wait(cur, opts) end
  return iterate(cur, err)
end

local DEFAULT_WAIT_MS = 30000
local DEFAULT_WAIT_INTERVAL_MS = 200
local wait_spec = {
  timeout_ms = non_negative_integer,
  interval_ms = non_negative_integer,
  sleep = is_function,
}

-- An error object made in Lua, shaped and printed like those made in C.
local function new_error(domain, message, extra)
  local err = { domain = domain, message = message, code = 0, labels = {} }
  for k, v in pairs(extra or {}) do err[k] = v end
  return set_error_mt(err)
end

--- proc:wait(state[, {timeout_ms, interval_ms, sleep}]) -> info | nil, err
--- Polls get_info until the processor is in `state`. nil, err when it is FAILED instead
--- (domain server), when timeout_ms passes first (domain timeout), or when get_info
--- fails; err.state is the last state seen.
function Processor:wait(state, opts)
  if type(state) ~= "string" then
    error(("bad argument #1 to 'wait' (string expected, got %s)"):format(type(state)), 0)
  end
  opts = check_opts("wait", 2, opts, wait_spec)
  local timeout_ms = opts.timeout_ms or DEFAULT_WAIT_MS
  local interval = (opts.interval_ms or DEFAULT_WAIT_INTERVAL_MS) / 1000
  local sleep = opts.sleep or sleep_default
  local deadline = now() + timeout_ms / 1000
  local last
  while true do
    -- each poll gets what is left of the wait, so a frozen server cannot outlast it
    local left_ms = math.max(1, math.floor((deadline - now()) * 1000))
    local info, err = self:info({ timeout_ms = left_ms })
    if not info then
      if type(err) == "table" then err.state = last end
      return nil, err
    end
    last = info.state
    if last == state then return info end
    if last == "FAILED" then
      return nil, new_error("server", ("wait: processor %s is FAILED: %s"):format(self.name,
        tostring(info.errorMsg or "no error message")), { state = last })
    end
    local left = deadline - now()
    if left > 0 then sleep(math.min(interval, left)) end
    if now() >= deadline then
      return nil, new_error("timeout", ("wait: processor %s did not reach %s within %d ms (last state %s)")
        :format(self.name, state, timeout_ms, tostring(last)), { state = last })
    end
  end
end

-- Method lookups on the cursor go through a C __index (for cur.id); the hot path calls
-- the C functions directly instead.
local take, more, is_done = Cursor._take, Cursor._more, Cursor._done

--- cur:next() -> doc | nil (exhausted, limit reached, or max_wait_ms elapsed) | nil, err
local function next_doc(self)
  local doc = take(self)
  if doc ~= nil then return doc end
  local w = waits[self] or { interval = DEFAULT_POLL_INTERVAL_MS / 1000, sleep = sleep_default }
  local deadline = w.max_wait and now() + w.max_wait
  while not is_done(self) do
    local ok, err = more(self)
    if not ok then return nil, err end
    doc = take(self)
    if doc ~= nil then return doc end
    if is_done(self) then break end
    if deadline then
      local left = deadline - now()
      if left <= 0 then return nil end
      w.sleep(math.min(w.interval, left))
    else
      w.sleep(w.interval)
    end
  end
  return nil
end
Cursor.next = next_doc

-- One step of `for doc in cursor`: a failure mid-iteration raises the error object (a
-- loop cannot return nil, err); use cur:next() to get nil, err instead.
local function step(self)
  local doc = take(self)
  if doc ~= nil then return doc end
  local err
  doc, err = next_doc(self)
  if err ~= nil then error(err, 2) end
  return doc
end
-- The cursor's __call: step itself, or on Lua 5.3+ a C step that hands out the documents
-- of the current batch and calls step for the rest.
local call = core._cursor_call(step)

--- for doc in cur:each() do ... end: the generic for gets the cursor as its closing value,
--- so on Lua 5.4 `break` (or an error) closes it; a plain `for doc in cur` cannot.
function Cursor:each()
  return call, self, nil, self
end

-- asp.pipeline and asp.admin are loaded on first use: scripts that never use them do not pay.
local lazy = { pipeline = "asp.pipeline", admin = "asp.admin" }
return setmetatable(asp, {
  __index = function(t, k)
    if lazy[k] then
      local m = require(lazy[k])
      rawset(t, k, m)
      return m
    end
  end,
})
