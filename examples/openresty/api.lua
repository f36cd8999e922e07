-- The endpoints of the example API: one row per endpoint (method, path pattern, handler).
-- Each handler runs one asp.ngx operation in the "asp" thread pool and answers its JSON.
--
--   GET    /processors                      list processors
--   POST   /processors/NAME                 create (body: the pipeline, a JSON array)
--   POST   /processors/NAME/start           start
--   GET    /processors/NAME/sample?n=5&wait_ms=5000
--                                           up to n documents of its output, waiting at
--                                           most wait_ms for them
--   GET    /processors/NAME/stats           statistics
--   POST   /processors/NAME/stop            stop
--   DELETE /processors/NAME                 drop
--   GET    /connections                     the connection registry
--
-- Errors answer {"error", "code", "code_name"}: 400 for what the server or the client
-- refused, 502 when the workspace could not be reached.
local cjson = require "cjson.safe"

local URI = os.getenv("ASP_URI")
local POOL = "asp"

-- One lua-asp operation in a worker thread; result as JSON text, or nil, plain error.
local function call(op, ...)
  local ok, res, err = ngx.run_worker_thread(POOL, "asp.ngx", "run", URI, nil, op, ...)
  if not ok then return nil, { message = tostring(res), domain = "nginx" } end
  return res, err
end

local function json_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body or body == "" then return nil end
  return body
end

local NAME = "([%w_%-]+)"

local ROUTES = {
  { "GET", "^/processors$", function() return call("list") end },
  { "POST", "^/processors/" .. NAME .. "$", function(name)
    local pipeline = json_body()
    if not pipeline then return nil, { message = "the body must be the pipeline (a JSON array)", domain = "client" } end
    return call("create", name, pipeline)
  end },
  { "POST", "^/processors/" .. NAME .. "/start$", function(name) return call("start", name) end },
  { "GET", "^/processors/" .. NAME .. "/sample$", function(name)
    local args = ngx.req.get_uri_args()
    return call("sample", name, { limit = tonumber(args.n) or 10, max_wait_ms = tonumber(args.wait_ms) or 5000 })
  end },
  { "GET", "^/processors/" .. NAME .. "/stats$", function(name) return call("stats", name) end },
  { "POST", "^/processors/" .. NAME .. "/stop$", function(name) return call("stop", name) end },
  { "DELETE", "^/processors/" .. NAME .. "$", function(name) return call("drop", name) end },
  { "GET", "^/connections$", function() return call("list_connections") end },
}

local function answer(status, body)
  ngx.status = status
  ngx.header.content_type = "application/json"
  ngx.say(body)
  return ngx.exit(status)
end

local method, path = ngx.req.get_method(), ngx.var.uri
for _, route in ipairs(ROUTES) do
  if route[1] == method then
    local captures = { path:match(route[2]) }
    if captures[1] then
      local res, err = route[3](unpack(captures))
      if res then return answer(200, res) end
      local status = (err.domain == "server" or err.domain == "client") and 400 or 502
      return answer(status, cjson.encode({ error = err.message, code = err.code, code_name = err.code_name }))
    end
  end
end
return answer(404, cjson.encode({ error = "no such endpoint: " .. method .. " " .. path }))
