-- Where each setting of `asp` comes from: a flag, else an environment variable, else the
-- selected profile of the configuration file. The file is a small TOML subset, the shape
-- the Atlas CLI uses (one [section] per profile, key = "value" lines):
--
--   [default]
--   uri = "mongodb://user:pw@host/?tls=true"
--   output = "table"
--
-- Every setting is one row here: its key (the flag and file key), its variables, whether
-- it is a secret (then it never appears in a message).
local args = require "asp.cli.args"

local M = {}

M.SETTINGS = {
  { "uri", env = { "ASP_URI" }, secret = true },
  { "tls_ca_file", env = { "ASP_TLS_CA_FILE" } },
  { "output", env = { "ASP_OUTPUT" } },
  { "admin_url", env = { "ASP_ADMIN_URL", "MONGODB_ATLAS_OPS_MANAGER_URL" } },
  { "project_id", env = { "ASP_PROJECT_ID", "MONGODB_ATLAS_PROJECT_ID" } },
  { "workspace", env = { "ASP_WORKSPACE" } },
  { "public_key", env = { "MONGODB_ATLAS_PUBLIC_KEY", "MONGODB_ATLAS_PUBLIC_API_KEY" } },
  { "private_key", env = { "MONGODB_ATLAS_PRIVATE_KEY", "MONGODB_ATLAS_PRIVATE_API_KEY" }, secret = true },
  { "client_id", env = { "MONGODB_ATLAS_CLIENT_ID" } },
  { "client_secret", env = { "MONGODB_ATLAS_CLIENT_SECRET" }, secret = true },
}
local KNOWN = {}
for _, s in ipairs(M.SETTINGS) do KNOWN[s[1]] = s end

local function unquote(v, where)
  local body = v:match('^"(.*)"$') or v:match("^'(.*)'$")
  if not body then
    if v:find("[%s\"'=]") then args.usage_error("%s: a value with spaces or quotes must be quoted", where) end
    return v
  end
  if v:sub(1, 1) == "'" then return body end
  return (body:gsub("\\(.)", { n = "\n", t = "\t", ['"'] = '"', ["\\"] = "\\" }))
end

--- Parses the file text into { profile = { key = value } }. Raises usage errors naming
--- path:line.
function M.parse(text, path)
  local profiles, current, n = {}, nil, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local where = ("%s:%d"):format(path, n)
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    if line == "" or line:sub(1, 1) == "#" then
      -- blank or comment
    elseif line:match("^%[") then
      local name = line:match("^%[%s*([%w_%-%.]+)%s*%]$")
      if not name then args.usage_error("%s: bad profile header", where) end
      current = profiles[name] or {}
      profiles[name] = current
    else
      local k, v = line:match("^([%w_]+)%s*=%s*(.-)$")
      if not k then args.usage_error("%s: expected key = \"value\"", where) end
      if not KNOWN[k] then args.usage_error("%s: unknown setting '%s'", where, k) end
      if not current then args.usage_error("%s: '%s' outside a [profile] section", where, k) end
      current[k] = unquote(v, where)
    end
  end
  return profiles
end

local function default_path(getenv)
  local xdg = getenv("XDG_CONFIG_HOME")
  if xdg and xdg ~= "" then return xdg .. "/asp/config.toml", false end
  local home = getenv("HOME")
  if home and home ~= "" then return home .. "/.config/asp/config.toml", false end
  return nil
end

--- Resolves every setting. flags: the parsed global flags (uri, profile, config, ...);
--- getenv: os.getenv (injectable). Returns settings { key = value, secrets = {...} }.
function M.resolve(flags, getenv)
  getenv = getenv or os.getenv
  local path, explicit = flags.config, true
  if not path then
    path = getenv("ASP_CONFIG")
    if not path or path == "" then path, explicit = default_path(getenv) end
  end
  local profiles = {}
  if path then
    local f = io.open(path, "rb")
    if f then
      profiles = M.parse(f:read("*a"), path)
      f:close()
    elseif explicit then
      args.usage_error("cannot read the configuration file %s", path)
    end
  end
  local name = flags.profile or getenv("ASP_PROFILE")
  local profile = {}
  if name and name ~= "" then
    profile = profiles[name]
    if not profile then args.usage_error("no profile [%s] in %s", name, tostring(path)) end
  else
    profile = profiles.default or {}
  end

  local settings, secrets = {}, {}
  for _, s in ipairs(M.SETTINGS) do
    local key, v = s[1], flags[s[1]]
    if v == nil then
      for _, var in ipairs(s.env) do
        local e = getenv(var)
        if e and e ~= "" then
          v = e
          break
        end
      end
    end
    if v == nil then v = profile[key] end
    settings[key] = v
    if s.secret and v then secrets[#secrets + 1] = v end
  end
  -- The password inside a URI is a secret on its own (it may show up without the rest).
  local pw = settings.uri and settings.uri:match("^%a[%w+.-]*://[^:/@]*:([^@]*)@")
  if pw and pw ~= "" then secrets[#secrets + 1] = pw end
  settings.secrets = secrets
  return settings
end

return M
