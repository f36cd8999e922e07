-- content_by_lua_file of the nginx smoke test: every lua-asp call runs through
-- ngx.run_worker_thread (libmongoc and libcurl block), via asp.ngx, against the aspd in
-- $ASP_URI and its Admin API ($ASP_ADMIN_API, key pair $ASP_ADMIN_KEY).
-- Answers 200 and "PASS" when every step held, 500 and the failed step otherwise.
local cjson = require "cjson.safe"

local uri = os.getenv("ASP_URI")
local steps = {}

local function fail(step, detail)
  ngx.status = 500
  ngx.say(table.concat(steps, "\n"))
  ngx.say("FAIL ", step, ": ", tostring(detail))
  return ngx.exit(500)
end

-- One asp.ngx operation in the "asp" thread pool; returns the decoded result.
local function run(step, op, ...)
  local ok, res, err = ngx.run_worker_thread("asp", "asp.ngx", "run", uri, nil, op, ...)
  if not ok then return fail(step, "run_worker_thread: " .. tostring(res)) end
  if res == nil then return fail(step, err and err.message) end
  local value = cjson.decode(res)
  if value == nil then return fail(step, "not JSON: " .. res) end
  return value
end

local function check(step, cond, detail)
  if not cond then return fail(step, detail) end
  steps[#steps + 1] = "ok " .. step
end

local name = "nginx_smoke"
local pipeline = '[{"$source":{"connectionName":"sample_stream_solar"}},'
  .. '{"$emit":{"connectionName":"__testLog"}}]'

local conns = run("list_connections", "list_connections")
local found = false
for _, c in ipairs(conns) do found = found or c.name == "sample_stream_solar" end
check("sample_stream_solar listed", found, cjson.encode(conns))

local created = run("create", "create", name, pipeline)
check("create returns the name", created.name == name, cjson.encode(created))
check("start", run("start", "start", name) == true)

local docs = run("sample", "sample", name, { limit = 3 })
check("sample returns 3 solar documents", #docs == 3 and docs[1].device_id ~= nil,
  cjson.encode(docs))

-- A server error comes back as a plain table (no userdata crossed the VM boundary).
local ok, res, err = ngx.run_worker_thread("asp", "asp.ngx", "run", uri, nil, "get_info", "nope")
check("unknown processor is a plain server error",
  ok and res == nil and type(err) == "table" and err.domain == "server",
  tostring(err and err.message))

check("drop", run("drop", "drop", name) == true)
local left = run("list after drop", "list")
local still = false
for _, p in ipairs(left) do still = still or p.name == name end
check("dropped processor is gone", not still, cjson.encode(left))

-- The Admin API (HTTPS through libcurl) the same way: asp.ngx's admin entry.
local root, group, ws = os.getenv("ASP_ADMIN_API"):match(
  "^(https://[^/]+)/api/atlas/v2/groups/([^/]+)/streams/(.+)$")
local pub, priv = os.getenv("ASP_ADMIN_KEY"):match("^([^:]+):(.+)$")
local admin_opts = { base_url = root, group_id = group, public_key = pub, private_key = priv,
                     ca_file = uri:match("tlsCAFile=([^&]+)") }

local function admin(step, method, ...)
  local ok, res, err = ngx.run_worker_thread("asp", "asp.ngx", "admin", admin_opts, method, ...)
  if not ok then return fail(step, "run_worker_thread: " .. tostring(res)) end
  if res == nil then return fail(step, err and err.message) end
  return cjson.decode(res)
end

local made = admin("admin create_connection", "create_connection", ws,
  { name = "nginx_kafka", type = "Kafka", bootstrapServers = "broker:9092",
    authentication = { mechanism = "PLAIN", username = "u", password = "nginx-secret" } })
check("admin create_connection", made.name == "nginx_kafka" and made.authentication.password == nil,
  cjson.encode(made))
local listed = admin("admin list_connections", "list_connections", ws)
local names = {}
for _, c in ipairs(listed) do names[c.name] = true end
check("admin list_connections", names.nginx_kafka and names.sample_stream_solar,
  cjson.encode(listed))
local wire = run("wire sees the REST connection", "list_connections")
local on_wire = false
for _, c in ipairs(wire) do on_wire = on_wire or c.name == "nginx_kafka" end
check("wire sees the REST connection", on_wire, cjson.encode(wire))

ok, res, err = ngx.run_worker_thread("asp", "asp.ngx", "admin", admin_opts, "get_connection", ws,
  "nope")
check("admin 404 is a plain error table",
  ok and res == nil and type(err) == "table" and err.http_status == 404
    and err.error_code == "STREAM_CONNECTION_NOT_FOUND_FOR_NAME", tostring(err and err.message))
check("admin delete_connection",
  admin("admin delete_connection", "delete_connection", ws, "nginx_kafka") == true)

ngx.say(table.concat(steps, "\n"))
ngx.say("PASS")
