-- The `asp` command line: finds the command row for the words given (commands.lua),
-- parses its flags, resolves the configuration, runs it, and turns the outcome into an
-- exit code: 0 success, 1 operation error, 2 usage. Errors go to stderr, one line each,
-- with every secret blanked.
local args = require "asp.cli.args"
local config = require "asp.cli.config"
local output = require "asp.cli.output"
local commands = require "asp.cli.commands"

local M = {}

local OK, FAILED, USAGE = 0, 1, 2

-- Flags every command takes.
local GLOBAL_FLAGS = {
  { "--output", short = "-o", arg = "FORMAT", kind = "choice", choices = output.FORMATS,
    help = "table (default), json or jsonl (relaxed Extended JSON)" },
  { "--uri", arg = "URI", help = "workspace connection string (env ASP_URI)" },
  { "--tls-ca-file", arg = "FILE", help = "CA bundle that signs the workspace's certificate" },
  { "--profile", arg = "NAME", help = "profile of the configuration file (env ASP_PROFILE)" },
  { "--config", arg = "FILE", help = "configuration file (env ASP_CONFIG; default ~/.config/asp/config.toml)" },
  { "--help", short = "-h", help = "show help for the command" },
}

-- Flags of the Admin API commands (connections, privatelinks).
local ADMIN_FLAGS = {
  { "--admin-url", arg = "URL", help = "Admin API base URL (env ASP_ADMIN_URL; default https://cloud.mongodb.com)" },
  { "--project-id", arg = "ID", help = "project (group) id (env MONGODB_ATLAS_PROJECT_ID)" },
  { "--workspace", arg = "NAME", help = "stream processing workspace name (env ASP_WORKSPACE)" },
  { "--public-key", arg = "KEY", help = "API public key (env MONGODB_ATLAS_PUBLIC_KEY)" },
  { "--private-key", arg = "KEY", help = "API private key (env MONGODB_ATLAS_PRIVATE_KEY)" },
  { "--client-id", arg = "ID", help = "service account client id (env MONGODB_ATLAS_CLIENT_ID)" },
  { "--client-secret", arg = "SECRET", help = "service account secret (env MONGODB_ATLAS_CLIENT_SECRET)" },
}

local Failure = {}
Failure.__tostring = function(e) return e.message end

local Context = {}
Context.__index = Context

--- Ends the command with an operation error (exit code 1).
function Context:fail(fmt, ...)
  local msg = select("#", ...) > 0 and fmt:format(...) or fmt
  error(setmetatable({ message = msg }, Failure), 0)
end

--- v, or fail with err's text (the `nil, err` convention of the library).
function Context:check(v, err, what)
  if v == nil or v == false then
    self:fail((what and (what .. ": ") or "") .. tostring(err))
  end
  return v
end

--- The workspace client, connected on first use.
function Context:client()
  if self._client then return self._client end
  local uri = self.settings.uri
  if not uri then
    args.usage_error("no workspace URI: give --uri, set ASP_URI or add uri to a profile")
  end
  local asp = require "asp"
  local opts = { app_name = "asp-cli" }
  if self.settings.tls_ca_file then opts.tls_ca_file = self.settings.tls_ca_file end
  self._client = self:check(asp.connect(uri, opts))
  return self._client
end

--- The Admin API handle (asp.admin), and the workspace name when `needs_workspace`.
function Context:admin(needs_workspace)
  local s = self.settings
  -- The admin-api line of `aspd --dev` (a workspace's URL) also names project and workspace.
  local root, group, ws = (s.admin_url or ""):match("^(https://[^/]+)/api/atlas/v2/groups/([^/]+)/streams/([^/?]+)")
  if root then
    s.admin_url, s.project_id, s.workspace = root, s.project_id or group, s.workspace or ws
  end
  if not s.project_id then
    args.usage_error("no project id: give --project-id, set MONGODB_ATLAS_PROJECT_ID or add project_id to a profile")
  end
  if needs_workspace and not s.workspace then
    args.usage_error("no workspace: give --workspace, set ASP_WORKSPACE or add workspace to a profile")
  end
  if self._admin then return self._admin, s.workspace end
  local opts = { group_id = s.project_id, base_url = s.admin_url, ca_file = s.tls_ca_file }
  if s.public_key or s.private_key then
    if not (s.public_key and s.private_key) then
      args.usage_error("an API key needs both halves: --public-key and --private-key")
    end
    opts.public_key, opts.private_key = s.public_key, s.private_key
  elseif s.client_id or s.client_secret then
    if not (s.client_id and s.client_secret) then
      args.usage_error("a service account needs --client-id and --client-secret")
    end
    opts.client_id, opts.client_secret = s.client_id, s.client_secret
  else
    args.usage_error("no Admin API credentials: give --public-key/--private-key or --client-id/--client-secret "
      .. "(or MONGODB_ATLAS_PUBLIC_KEY/PRIVATE_KEY, MONGODB_ATLAS_CLIENT_ID/CLIENT_SECRET)")
  end
  local asp = require "asp"
  -- connect raises on malformed options (a bad URL or project id): the user's input.
  local ok, admin, err = pcall(asp.admin.connect, opts)
  if not ok then args.usage_error("%s", tostring(admin)) end
  self._admin = self:check(admin, err)
  return self._admin, s.workspace
end

--- Asks before something destructive; --force answers yes. Anything but y/yes aborts.
function Context:confirm(question)
  if self.opts.force then return end
  io.stderr:write(question, " [y/N] ")
  io.stderr:flush()
  local answer = io.read("*l")
  if not answer or not answer:lower():match("^%s*y[es]*%s*$") then
    self:fail("aborted (use --force to skip the question)")
  end
end

--- Reads a whole file, failing with a message naming it.
function Context:read_file(path)
  local f, err = io.open(path, "rb")
  if not f then self:fail("cannot read %s", tostring(err)) end
  local text = f:read("*a")
  f:close()
  return text
end

--- A JSON file (Extended JSON) decoded to Lua values.
function Context:read_json(path)
  local asp = require "asp"
  local v, err = asp.from_json(self:read_file(path))
  if v == nil then self:fail("%s: %s", path, tostring(err)) end
  return v
end

local function path_of(row) return row.noun .. (row.verb and (" " .. row.verb) or "") end

local function flags_of(row)
  local all = {}
  for _, f in ipairs(row.flags or {}) do all[#all + 1] = f end
  if row.admin then
    for _, f in ipairs(ADMIN_FLAGS) do all[#all + 1] = f end
  end
  for _, f in ipairs(GLOBAL_FLAGS) do all[#all + 1] = f end
  return all
end

local function command_help(row)
  return ("usage: asp %s%s [flags]\n\n%s\n\nflags:\n%s\n"):format(path_of(row),
    #row.args > 0 and (" " .. table.concat(row.args, " ")) or "", row.summary,
    args.flag_help(flags_of(row)))
end

local function group_help(noun)
  local lines = { ("usage: asp %s <command> [flags]\n\ncommands:"):format(noun) }
  for _, row in ipairs(commands) do
    if row.noun == noun then
      lines[#lines + 1] = ("  %-28s %s"):format(path_of(row), row.summary)
    end
  end
  lines[#lines + 1] = "\nRun 'asp " .. noun .. " <command> --help' for a command's flags."
  return table.concat(lines, "\n") .. "\n"
end

local function top_help()
  local lines = { "usage: asp <command> [flags]\n\nDrive Atlas Stream Processing from the shell.\n\ncommands:" }
  for _, row in ipairs(commands) do
    lines[#lines + 1] = ("  %-28s %s"):format(path_of(row), row.summary)
  end
  lines[#lines + 1] = "\nglobal flags:\n" .. args.flag_help(GLOBAL_FLAGS)
  lines[#lines + 1] = "\nExit codes: 0 success, 1 operation error, 2 usage error."
  return table.concat(lines, "\n") .. "\n"
end

-- The first two words that are not flags (skipping the values of flags that take one),
-- and whether --help or -h was given.
local VALUE_FLAGS = {}
for _, f in ipairs(GLOBAL_FLAGS) do
  if f.arg then
    VALUE_FLAGS[f[1]] = true
    if f.short then VALUE_FLAGS[f.short] = true end
  end
end
for _, f in ipairs(ADMIN_FLAGS) do VALUE_FLAGS[f[1]] = true end
for _, row in ipairs(commands) do
  for _, f in ipairs(row.flags or {}) do
    if f.arg then
      VALUE_FLAGS[f[1]] = true
      if f.short then VALUE_FLAGS[f.short] = true end
    end
  end
end

local function scan(argv)
  local words, help, i = {}, false, 1
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then
      help = true
    elseif a == "--" then
      break
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      if VALUE_FLAGS[a] then i = i + 1 end
    elseif #words < 2 then
      words[#words + 1] = a
    end
    i = i + 1
  end
  return words, help
end

local function find(words)
  local noun_known = false
  for _, row in ipairs(commands) do
    if row.noun == words[1] then
      noun_known = true
      if row.verb == nil or row.verb == words[2] then return row end
    end
  end
  return nil, noun_known
end

-- Runs one command; returns the exit code. Raises only usage errors and failures.
local function run(argv, state)
  local words, help = scan(argv)
  local row, noun_known = find(words)
  if not row then
    if help and (noun_known or #words == 0) then
      io.stdout:write(noun_known and group_help(words[1]) or top_help())
      return OK
    end
    if #words == 0 then
      io.stderr:write(top_help())
      return USAGE
    end
    if noun_known then
      if words[2] == nil then args.usage_error("'asp %s' needs a command (see asp %s --help)", words[1], words[1]) end
      args.usage_error("unknown command 'asp %s %s' (see asp %s --help)", words[1], words[2], words[1])
    end
    args.usage_error("unknown command '%s' (see asp --help)", words[1])
  end
  if help then
    io.stdout:write(command_help(row))
    return OK
  end

  local opts, positionals = args.parse(argv, 1, flags_of(row))
  -- Drop the command's own words from the positionals.
  table.remove(positionals, 1)
  if row.verb then table.remove(positionals, 1) end
  local required, optional = 0, 0
  for _, a in ipairs(row.args) do
    if a:match("^%[") then optional = optional + 1 else required = required + 1 end
  end
  if #positionals < required or #positionals > required + optional then
    args.usage_error("usage: asp %s %s", path_of(row), table.concat(row.args, " "))
  end
  for _, f in ipairs(row.required_flags or {}) do
    if opts[f:gsub("^%-%-", ""):gsub("%-", "_")] == nil then
      args.usage_error("asp %s needs %s", path_of(row), f)
    end
  end

  local settings = config.resolve(opts)
  state.secrets = settings.secrets
  local format = settings.output or "table"
  local valid = false
  for _, f in ipairs(output.FORMATS) do valid = valid or f == format end
  if not valid then args.usage_error("output format must be table, json or jsonl, got '%s'", format) end

  local ctx = setmetatable({ opts = opts, args = positionals, settings = settings,
                             out = output.writer(format) }, Context)
  state.ctx = ctx
  return row.run(ctx) or OK
end

--- Runs `asp` with argv (the script's `arg`); returns the exit code.
function M.main(argv)
  local state = {}
  local ok, result = pcall(run, argv, state)
  if state.ctx and state.ctx._client then state.ctx._client:close() end
  if state.ctx and state.ctx._admin then state.ctx._admin:close() end
  if ok then return result end
  if args.is_usage_error(result) then
    output.error_line(result.message, state.secrets)
    return USAGE
  end
  -- A Failure, an error object of the library, or a raised message (a value the library
  -- refused, such as an unknown tier): all operation errors.
  local msg = getmetatable(result) == Failure and result.message or tostring(result)
  output.error_line(msg, state.secrets)
  return FAILED
end

M.GLOBAL_FLAGS, M.ADMIN_FLAGS = GLOBAL_FLAGS, ADMIN_FLAGS
return M
