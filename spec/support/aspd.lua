-- Starts a real aspd for one spec file: a free port, a fresh state directory, TLS verified
-- against the CA it generates, the --dev user's real password.
--
--   local aspd = require "support.aspd"
--   local server = aspd.start{ connections = {...}, users = {"viewer:pw:read"} }
--   ... server.uri, server.ca_file, server.user, server.password, server.port ...
--   The Admin API (HTTPS, same CA): server.admin_url (the workspace's base URL),
--   server.admin_root (https://127.0.0.1:PORT), server.group_id, server.workspace,
--   server.admin_public_key / server.admin_private_key (a project owner's key pair).
--   server:stop()   -- in teardown; raises unless aspd exited 0 (a sanitizer report fails
--                   -- the spec); --exit-with-parent covers a crashed busted
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
--- opts.api_keys: array of "PUBLIC:PRIVATE[:ROLE,...]" for --api-key (roles GROUP_OWNER,
---   GROUP_STREAM_PROCESSING_OWNER, GROUP_READ_ONLY)
--- opts.service_accounts: array of "CLIENT_ID:SECRET[:ROLE,...]" for --service-account
--- opts.token_ttl: OAuth2 token lifetime in seconds (--oauth-token-ttl)
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
  for _, k in ipairs(opts.api_keys or {}) do args[#args + 1] = "--api-key " .. shell_quote(k) end
  for _, a in ipairs(opts.service_accounts or {}) do
    args[#args + 1] = "--service-account " .. shell_quote(a)
  end
  if opts.token_ttl then args[#args + 1] = "--oauth-token-ttl " .. tonumber(opts.token_ttl) end
  -- popen's shell prints its own pid and then becomes aspd (exec), so the pid is aspd's
  -- and aspd's parent is this process: --exit-with-parent then means "when busted dies".
  local cmd = ("echo $$; exec %s %s 2>>%s"):format(shell_quote(bin), table.concat(args, " "),
    shell_quote(dir .. "/aspd.log"))
  local pipe = assert(io.popen(cmd, "r"))
  local pid = tonumber(pipe:read("*l"))
  local uri, admin_url, admin_key
  for line in pipe:lines() do
    -- the admin-api lines come before the mongodb:// line
    admin_url = line:match("^admin%-api: (.*)$") or admin_url
    admin_key = line:match("^admin%-api%-key: (.*)$") or admin_key
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
  local admin_root, group_id, workspace
  if admin_url then
    admin_root, group_id, workspace =
      admin_url:match("^(https://[^/]+)/api/atlas/v2/groups/([^/]+)/streams/(.+)$")
  end
  local admin_public_key, admin_private_key
  if admin_key then admin_public_key, admin_private_key = admin_key:match("^([^:]+):(.+)$") end
  return setmetatable({
    pid = pid,
    pipe = pipe,
    uri = uri,
    user = user,
    password = password,
    port = tonumber(port),
    ca_file = uri:match("tlsCAFile=([^&]+)"),
    admin_url = admin_url,
    admin_root = admin_root,
    group_id = group_id,
    workspace = workspace,
    admin_public_key = admin_public_key,
    admin_private_key = admin_private_key,
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

-- Seconds aspd gets to exit after SIGTERM (it drains commands for up to 5 s), as in
-- tests/support/aspd_harness.c.
local STOP_TIMEOUT = 10

-- How the child pid ended: nil while it runs, else "exit", status or "signal", number.
-- aspd is this process's child (exec), so it stays a zombie until the pipe's close() reaps
-- it, and a zombie's /proc/PID/stat carries its waitpid() status (field 52, Linux 3.5+).
-- close() itself reports the status on 5.2+ only, not on 5.1/LuaJIT.
local function exit_status(pid)
  local f = assert(io.open("/proc/" .. pid .. "/stat"))
  local stat = f:read("*a")
  f:close()
  local fields = {}
  for w in stat:match("^.*%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = w end
  if fields[1] ~= "Z" then return nil end
  local status = assert(tonumber(fields[50]))
  if status % 128 == 0 then return "exit", math.floor(status / 256) end
  return "signal", status % 128
end

--- Stops the server (idempotent); keep_state leaves the state directory for a restart.
--- Raises, after printing aspd.log, unless aspd exited 0: also when it died earlier or
--- was still running STOP_TIMEOUT seconds after SIGTERM. Its state directory is then kept.
function Server:stop(keep_state)
  if not self.pid then return end
  local pid = self.pid
  self.pid = nil
  os.execute("kill " .. pid .. " 2>/dev/null")
  local how, code = exit_status(pid)
  local waited = 0
  while not how and waited < STOP_TIMEOUT do
    os.execute("sleep 0.05")
    waited = waited + 0.05
    how, code = exit_status(pid)
  end
  if not how then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
  self.pipe:close()
  for _, f in ipairs(self.extra_files) do os.remove(f) end
  if how ~= "exit" or code ~= 0 then
    local why = not how and ("still running %d s after SIGTERM"):format(STOP_TIMEOUT)
      or how == "exit" and ("exit status %d"):format(code)
      or ("killed by signal %d"):format(code)
    local log = io.open(self.state_dir .. "/aspd.log")
    io.stderr:write("---- aspd.log (pid ", pid, ") ----\n", log and log:read("*a") or "?\n",
      "---- end of aspd.log ----\n")
    if log then log:close() end
    error(("aspd (pid %d) did not stop cleanly: %s; state directory kept: %s"):format(pid, why,
      self.state_dir), 2)
  end
  if self.owns_dir and not keep_state then os.execute("rm -rf " .. shell_quote(self.state_dir)) end
end

--- A connected client (asserting), with the defaults a spec wants.
function Server:connect(opts)
  local asp = require "asp"
  return assert(asp.connect(self.uri, opts))
end

--- An Admin API handle on this server with its --dev API key; extra replaces options, or
--- removes them when false.
function Server:admin(extra)
  local asp = require "asp"
  local opts = { base_url = self.admin_root, group_id = self.group_id, public_key = self.admin_public_key,
                 private_key = self.admin_private_key, ca_file = self.ca_file }
  for k, v in pairs(extra or {}) do opts[k] = v or nil end
  return asp.admin.connect(opts)
end

M.to_json = to_json
return M
