-- Starts a real aspd for one spec file: a free port, a fresh state directory, TLS verified
-- against the CA it generates, the --dev user's real password.
--
--   local aspd = require "support.aspd"
--   local server = aspd.start{ connections = {...}, users = {"viewer:pw:read"} }
--   ... server.uri, server.ca_file, server.user, server.password, server.port ...
--   server:stop()   -- in teardown; --exit-with-parent covers a crashed busted
local M = {}

local Server = {}
Server.__index = Server

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function write_file(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- Minimal JSON for the connections file (strings, numbers, booleans, arrays, objects).
local function to_json(v)
  local t = type(v)
  if t == "string" then return ('"%s"'):format(v:gsub('[%c"\\]', function(c)
      return ("\\u%04x"):format(c:byte())
    end))
  elseif t == "number" or t == "boolean" then return tostring(v)
  elseif t == "table" then
    if #v > 0 or next(v) == nil then
      local out = {}
      for i = 1, #v do out[i] = to_json(v[i]) end
      return "[" .. table.concat(out, ",") .. "]"
    end
    local out = {}
    for k, val in pairs(v) do out[#out + 1] = to_json(tostring(k)) .. ":" .. to_json(val) end
    return "{" .. table.concat(out, ",") .. "}"
  end
  error("cannot encode " .. t)
end

--- opts.connections: array of connection definitions (e.g. a fast Sample source)
--- opts.users: array of "name:password[:role,...]" for --user
--- opts.state_dir: reuse a state directory (restart tests)
function M.start(opts)
  opts = opts or {}
  local bin = assert(os.getenv("ASPD_BIN"), "ASPD_BIN is not set")
  local dir = opts.state_dir
  if not dir then
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. shell_quote(dir)))
  end
  local extra_files = {}
  local args = { "--dev", "--port", "0", "--state-dir", shell_quote(dir), "--exit-with-parent" }
  if opts.connections then
    -- a temporary file of its own, removed at stop
    local path = os.tmpname()
    write_file(path, to_json(opts.connections))
    extra_files[#extra_files + 1] = path
    args[#args + 1] = "--connections " .. shell_quote(path)
  end
  for _, u in ipairs(opts.users or {}) do args[#args + 1] = "--user " .. shell_quote(u) end
  -- popen's shell prints its own pid and then becomes aspd (exec), so the pid is aspd's
  -- and aspd's parent is this process: --exit-with-parent then means "when busted dies".
  local cmd = ("echo $$; exec %s %s 2>>%s"):format(shell_quote(bin), table.concat(args, " "),
    shell_quote(dir .. "/aspd.log"))
  local pipe = assert(io.popen(cmd, "r"))
  local pid = tonumber(pipe:read("*l"))
  local uri
  for line in pipe:lines() do
    if line:match("^mongodb://") then
      uri = line
      break
    end
  end
  if not uri then
    pipe:close()
    local log = io.open(dir .. "/aspd.log")
    error("aspd did not print its URI: " .. (log and log:read("*a") or "?"))
  end
  local user, password, port = uri:match("^mongodb://([^:]+):([^@]+)@[^:/]+:(%d+)")
  return setmetatable({
    pid = pid,
    pipe = pipe,
    uri = uri,
    user = user,
    password = password,
    port = tonumber(port),
    ca_file = uri:match("tlsCAFile=([^&]+)"),
    state_dir = dir,
    extra_files = extra_files,
    owns_dir = opts.state_dir == nil,
  }, Server)
end

--- A URI for another user on this server (same host, port and CA).
function Server:uri_for(user, password)
  return ("mongodb://%s:%s@127.0.0.1:%d/?tls=true&tlsCAFile=%s"):format(user, password, self.port,
    self.ca_file)
end

--- Stops the server (idempotent); keep_state leaves the state directory for a restart.
function Server:stop(keep_state)
  if not self.pid then return end
  os.execute("kill " .. self.pid .. " 2>/dev/null")
  self.pipe:close()
  self.pid = nil
  for _, f in ipairs(self.extra_files) do os.remove(f) end
  if self.owns_dir and not keep_state then os.execute("rm -rf " .. shell_quote(self.state_dir)) end
end

--- A connected client (asserting), with the defaults a spec wants.
function Server:connect(opts)
  local asp = require "asp"
  return assert(asp.connect(self.uri, opts))
end

M.to_json = to_json
return M
