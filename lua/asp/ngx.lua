-- The OpenResty entry module: run lua-asp inside ngx.run_worker_thread, where blocking is
-- allowed, with only plain values crossing between the request's VM and the thread's VM
-- (userdata cannot cross between the worker's VM and a thread's VM).
--
--   local ok, res, err = ngx.run_worker_thread("asp", "asp.ngx", "run", uri, nil,
--                                              "get_info", "solar")
--   -- ok: the thread ran; res: the result as relaxed Extended JSON text (decode it with
--   -- cjson), or nil with err a plain error table {message, code, code_name, domain, labels}
--
-- Arguments may be plain tables or JSON text (documents and pipelines). Clients are cached
-- per thread VM and URI, so the TLS handshake and authentication happen once per VM.
-- M.admin does the same for asp.admin (the Admin API over HTTPS).
local asp = require "asp"

local M = {}

local clients = {}

local function client_for(uri, opts)
  local c = clients[uri]
  if c and not c:is_closed() then return c end
  local err
  c, err = asp.connect(uri, opts)
  if not c then return nil, err end
  clients[uri] = c
  return c
end

local function value(v)
  if type(v) == "string" and v:match("^%s*[%[{]") then return assert(asp.from_json(v)) end
  return v
end

-- The error object without its metatable: a plain table crosses VMs.
local function plain_error(err)
  if type(err) ~= "table" then return { message = tostring(err), domain = "client" } end
  return { message = err.message, code = err.code, code_name = err.code_name,
           domain = err.domain, labels = err.labels, http_status = err.http_status,
           error_code = err.error_code, reason = err.reason, parameters = err.parameters }
end

-- Sampling inside a thread must end by itself: a limit and a wait bound are required.
local function sample_into(cur, err)
  if not cur then return nil, err end
  local docs = {}
  while true do
    local doc, e = cur:next()
    if e then cur:close() return nil, e end
    if doc == nil then break end
    docs[#docs + 1] = doc
  end
  cur:close()
  return asp.array(docs)
end

local function sample_opts(opts)
  opts = value(opts) or {}
  opts.limit = opts.limit or 10
  opts.max_wait_ms = opts.max_wait_ms or 5000
  return opts
end

local ops = {
  list_connections = function(c, filter) return c:list_connections(value(filter)) end,
  workspace_defaults = function(c) return c:workspace_defaults() end,
  command = function(c, doc) return c:command(value(doc)) end,
  create = function(c, name, pipeline, opts)
    local p, err = c:stream_processors():create(name, value(pipeline), value(opts))
    return p and { name = p.name }, err
  end,
  get_info = function(c, name) return c:stream_processors():get_info(name) end,
  list = function(c, filter) return c:stream_processors():list(value(filter)) end,
  start = function(c, name, opts) return c:stream_processors():get(name):start(value(opts)) end,
  stop = function(c, name) return c:stream_processors():get(name):stop() end,
  drop = function(c, name) return c:stream_processors():get(name):drop() end,
  stats = function(c, name, opts) return c:stream_processors():get(name):stats(value(opts)) end,
  modify = function(c, name, opts) return c:stream_processors():get(name):modify(value(opts)) end,
  sample = function(c, name, opts)
    return sample_into(c:stream_processors():get(name):sample(sample_opts(opts)))
  end,
  process = function(c, pipeline, opts)
    return sample_into(c:process(value(pipeline), sample_opts(opts)))
  end,
}

--- run(uri, connect_opts, op, ...) -> json_text | nil, plain_err
--- op: list_connections, workspace_defaults, command, create, get_info, list, start, stop,
--- drop, stats, modify, sample (opts.limit default 10, max_wait_ms 5000), process.
function M.run(uri, connect_opts, op, ...)
  local fn = ops[op]
  if not fn then return nil, plain_error("asp.ngx: unknown operation '" .. tostring(op) .. "'") end
  local ok, res, err = pcall(function(...)
    local c, cerr = client_for(uri, connect_opts)
    if not c then return nil, cerr end
    return fn(c, ...)
  end, ...)
  if not ok then return nil, plain_error(res) end
  if res == nil then return nil, plain_error(err) end
  if res == true then return "true" end
  return asp.to_json(res, "relaxed")
end

-- Admin API handles per thread VM, keyed by their connect options.
local admins = {}

local function admin_for(opts)
  local keys = {}
  for k in pairs(opts) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "=" .. tostring(opts[k]) end
  local key = table.concat(parts, "\0")
  local a = admins[key]
  if a and not a:is_closed() then return a end
  a = asp.admin.connect(opts)
  admins[key] = a
  return a
end

--- admin(connect_opts, method, ...) -> json_text | nil, plain_err: one asp.admin method
--- (get_connection, list_connections, create_connection, ...) on a
--- handle cached per thread VM and connect options. `true` comes back as "true".
function M.admin(connect_opts, method, ...)
  local ok, res, err = pcall(function(...)
    local a = admin_for(connect_opts or {})
    local fn = type(method) == "string" and not method:match("^_") and a[method]
    if type(fn) ~= "function" then
      error("asp.ngx: unknown admin operation '" .. tostring(method) .. "'", 0)
    end
    local r, e = fn(a, ...)
    if type(r) == "function" then
      error("asp.ngx: '" .. method .. "' returns an iterator; use its list_ form", 0)
    end
    return r, e
  end, ...)
  if not ok then return nil, plain_error(res) end
  if res == nil then return nil, plain_error(err) end
  if res == true then return "true" end
  return asp.to_json(res, "relaxed")
end

--- close(uri): closes this VM's cached client for uri (e.g. from exit_worker_by_lua).
function M.close(uri)
  local c = clients[uri]
  clients[uri] = nil
  if c then c:close() end
  return true
end

return M
