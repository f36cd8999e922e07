-- Admin API round trips from Lua (asp.admin) against the curl command line tool doing the
-- same requests on the same aspd: get one connection, and list 100 connections (one page).
-- Each round times N_GET gets and N_LIST lists on each side, alternating which side goes
-- first; curl gets all the URLs of a block in one invocation, so it reuses its connection
-- as asp.admin does. Prints round trips per second from Lua and the Lua/curl time ratio
-- (min, median, max over rounds). Any failed request stops the run with an error.
--
-- The same get once more with a service account (OAuth2 bearer token), where both sides
-- send one request per call: the curl tool answers a Digest challenge for every URL, while
-- asp.admin reuses the server's nonce for a URL it has just used.
--
--   lua5.4 bench/admin.lua ADMIN_ROOT GROUP_ID WORKSPACE PUBLIC PRIVATE CA_FILE CLIENT_ID SECRET
--   (ROUNDS, N_GET, N_LIST from the environment)
local asp = require "asp"
local now = require("asp.core").now

local root, group, ws, pub, priv, ca, sa_id, sa_secret = (table.unpack or unpack)(arg, 1, 8)
assert(root and group and ws and pub and priv and ca and sa_id and sa_secret,
  "usage: admin.lua ADMIN_ROOT GROUP_ID WORKSPACE PUBLIC PRIVATE CA_FILE CLIENT_ID SECRET")
local ROUNDS = tonumber(os.getenv("ROUNDS") or "7")
local N_GET = tonumber(os.getenv("N_GET") or "200")
local N_LIST = tonumber(os.getenv("N_LIST") or "50")
local MEDIA = "application/vnd.atlas.2023-02-01+json"

local admin = assert(asp.admin.connect { base_url = root, group_id = group, public_key = pub,
                                         private_key = priv, ca_file = ca })

-- 100 connections in the workspace: its sample source and 99 more.
local have = assert(admin:list_connections(ws))
for i = #have + 1, 100 do
  assert(admin:create_connection(ws, { name = ("bench-%03d"):format(i), type = "Sample" }))
end
assert(#assert(admin:list_connections(ws)) >= 100, "could not prepare 100 connections")

local base = ("%s/api/atlas/v2/groups/%s/streams/%s/connections"):format(root, group, ws)
local get_url = base .. "/sample_stream_solar"
local list_url = base .. "?pageNum=1&itemsPerPage=100"

local sa = assert(asp.admin.connect { base_url = root, group_id = group, client_id = sa_id,
                                      client_secret = sa_secret, ca_file = ca })

local function lua_get()
  for _ = 1, N_GET do assert(admin:get_connection(ws, "sample_stream_solar")) end
end

local function lua_get_bearer()
  for _ = 1, N_GET do assert(sa:get_connection(ws, "sample_stream_solar")) end
end

-- A token for the curl side, from the same token endpoint.
local function curl_token()
  local p = assert(io.popen(("curl -sS --fail --cacert '%s' -u '%s:%s' -d grant_type=client_credentials '%s/api/oauth/token'")
    :format(ca, sa_id, sa_secret, root)))
  local reply = p:read("*a")
  p:close()
  return assert(reply:match('"access_token"%s*:%s*"([^"]+)"'), "no token: " .. reply)
end
local token = curl_token()

local function lua_list()
  for _ = 1, N_LIST do
    local page = assert(admin:_call("connections.list", ws, nil,
      { pageNum = 1, itemsPerPage = 100 }))
    assert(#page.results == 100, "a page of 100")
  end
end

-- One curl process for n requests of url (a config file carries the URLs and secrets, so
-- they appear neither in the process list nor in a shell command line).
local work = os.tmpname()
local function curl_block(url, n, bearer)
  local f = assert(io.open(work, "w"))
  if bearer then
    f:write(('oauth2-bearer = "%s"\n'):format(bearer))
  else
    f:write(('user = "%s:%s"\ndigest\n'):format(pub, priv))
  end
  f:write(('cacert = "%s"\nheader = "Accept: %s"\nfail\nsilent\nshow-error\n'):format(ca, MEDIA))
  for _ = 1, n do f:write(('url = "%s"\noutput = "/dev/null"\n'):format(url)) end
  f:close()
  return function()
    local ok, how, code = os.execute("curl --config " .. work)
    if ok ~= true and ok ~= 0 then
      error(("curl failed (%s %s)"):format(tostring(how), tostring(code)))
    end
  end
end

local function time(fn)
  local t0 = now()
  fn()
  return now() - t0
end

local function stats(xs)
  table.sort(xs)
  local n = #xs
  local med = n % 2 == 1 and xs[(n + 1) / 2] or (xs[n / 2] + xs[n / 2 + 1]) / 2
  return xs[1], med, xs[n]
end

local parts = {
  { name = "get one connection", n = N_GET, lua = lua_get, url = get_url,
    rates = {}, ratios = {} },
  { name = "list 100 connections", n = N_LIST, lua = lua_list, url = list_url,
    rates = {}, ratios = {} },
  { name = "get one (bearer token)", n = N_GET, lua = lua_get_bearer, url = get_url,
    bearer = token, rates = {}, ratios = {} },
}
local exchanges_before = admin:_stats().requests
for round = 1, ROUNDS do
  for _, p in ipairs(parts) do
    local curl = curl_block(p.url, p.n, p.bearer)
    local t_lua, t_curl
    if round % 2 == 1 then
      t_lua = time(p.lua)
      t_curl = time(curl)
    else
      t_curl = time(curl)
      t_lua = time(p.lua)
    end
    p.rates[#p.rates + 1] = p.n / t_lua
    p.ratios[#p.ratios + 1] = t_lua / t_curl
  end
end
os.remove(work)

print(("Admin API from Lua vs the curl tool (%d rounds, interleaved; keep-alive)"):format(ROUNDS))
for _, p in ipairs(parts) do
  local rmin, rmed, rmax = stats(p.rates)
  local qmin, qmed, qmax = stats(p.ratios)
  print(("  %-22s Lua %7.0f round trips/s (min %.0f, max %.0f);  Lua/curl time %.3f (min %.3f, max %.3f)")
    :format(p.name, rmed, rmin, rmax, qmed, qmin, qmax))
end
print(("  HTTP exchanges per Digest call from Lua: %.2f (a challenge counts as one)")
  :format((admin:_stats().requests - exchanges_before) / (ROUNDS * (N_GET + N_LIST))))
