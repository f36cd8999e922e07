-- asp.admin: the Atlas Administration API v2 for stream processing, from Lua. The C core
-- (src/core/admin_*.c) does HTTPS, authentication, retries, JSON and the per-endpoint
-- checks; this file names the operations, maps snake_case options to the API's query
-- parameters and fields, and pages through lists.
--
--   local admin = assert(asp.admin.connect{ group_id = "...", public_key = "...",
--                                           private_key = "..." })
--   for conn in admin:connections("workspace") do print(conn.name, conn.type) end
--
-- Documents (connections, workspaces, Private Link connections) are the API's own JSON
-- shapes with its camelCase field names, as the Atlas CLI reads them from files.
local core = require "asp.core"

local Admin = core._Admin
local M = {}

local DEFAULT_PAGE_SIZE = 100
local MAX_PAGE_SIZE = 500

local function is_integer(v)
  if type(v) ~= "number" then return false end
  if math.type then return math.type(v) == "integer" end
  return v == math.floor(v)
end

local function check_string(fname, n, v, what)
  if type(v) ~= "string" or v == "" then
    error(("bad argument #%d to '%s' (%s: non-empty string expected, got %s)"):format(n, fname,
      what, v == "" and "an empty string" or type(v)), 3)
  end
end

local function check_table(fname, n, v, what)
  if type(v) ~= "table" then
    error(("bad argument #%d to '%s' (%s: table expected, got %s)"):format(n, fname, what,
      type(v)), 3)
  end
end

-- Options: a table whose keys are all in spec (key -> {query or field name, checker}).
local function opts_to(fname, opts, spec, out)
  out = out or {}
  if opts == nil then return out end
  if type(opts) ~= "table" then
    error(("%s: options must be a table, got %s"):format(fname, type(opts)), 3)
  end
  for k, v in pairs(opts) do
    local row = spec[k]
    if not row then error(("%s: unknown option '%s'"):format(fname, tostring(k)), 3) end
    local ok, expected = row[2](v)
    if not ok then
      error(("%s: option '%s' must be %s, got %s"):format(fname, k, expected, tostring(v)), 3)
    end
    out[row[1]] = v
  end
  return out
end

local function page_size(v)
  return is_integer(v) and v >= 1 and v <= MAX_PAGE_SIZE, "an integer in 1.." .. MAX_PAGE_SIZE
end
local function is_boolean(v) return type(v) == "boolean", "a boolean" end
local function is_string(v) return type(v) == "string", "a string" end
local function is_table(v) return type(v) == "table", "a table" end

local list_spec = { items_per_page = { "itemsPerPage", page_size } }
local function list_spec_with(extra)
  local spec = { items_per_page = list_spec.items_per_page }
  for k, v in pairs(extra) do spec[k] = v end
  return spec
end
local processors_list_spec = list_spec_with { include_count = { "includeCount", is_boolean } }
local vpc_list_spec = list_spec_with {
  requester_account_id = { "requesterAccountId", is_string } }

-- One page: the reply {results, totalCount, links}.
local function fetch_page(self, endpoint, ws, query, page_num)
  query.pageNum = page_num
  query.itemsPerPage = query.itemsPerPage or DEFAULT_PAGE_SIZE
  return self:_call(endpoint, ws, nil, query)
end

-- Whether the page just read was the last: a short or empty page, or every item counted.
local function last_page(page, per_page, seen)
  local n = page.results and #page.results or 0
  local total = page.totalCount
  return n == 0 or n < per_page or (type(total) == "number" and seen >= total)
end

-- A lazy iterator over every item of a paginated list, one page fetched at a time. A
-- failure raises the error object (a for loop cannot return nil, err).
local function iterate(self, endpoint, ws, query)
  local page_num, items, i, seen, done = 0, {}, 0, 0, false
  return function()
    while true do
      if i < #items then
        i = i + 1
        return items[i]
      end
      if done then return nil end
      page_num = page_num + 1
      local page, err = fetch_page(self, endpoint, ws, query, page_num)
      if not page then error(err, 0) end
      items, i = page.results or {}, 0
      seen = seen + #items
      done = last_page(page, query.itemsPerPage, seen)
    end
  end
end

-- Every item of a paginated list as one array, or nil, err.
local function collect(self, endpoint, ws, query)
  local all, page_num, seen = core.array {}, 0, 0
  while true do
    page_num = page_num + 1
    local page, err = fetch_page(self, endpoint, ws, query, page_num)
    if not page then return nil, err end
    for _, item in ipairs(page.results or {}) do
      seen = seen + 1
      all[seen] = item
    end
    if last_page(page, query.itemsPerPage, seen) then return all end
  end
end

-- A deletion (202 {} or 204) and the start/stop commands (200, no body) succeed with true.
local function ack(reply, err)
  if reply == nil then return nil, err end
  return true
end

--- asp.admin.connect{base_url, group_id, public_key, private_key | client_id,
--- client_secret, ca_file, timeout_ms, retries} -> admin. No traffic; bad options raise.
function M.connect(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("admin.connect: options must be a table, got %s"):format(type(opts)), 2)
  end
  return core._admin_connect(opts or {})
end

-- ---- connections of a workspace ---------------------------------------------------------

function Admin:connections(ws, opts)
  check_string("connections", 1, ws, "workspace")
  return iterate(self, "connections.list", ws, opts_to("connections", opts, list_spec))
end

function Admin:list_connections(ws, opts)
  check_string("list_connections", 1, ws, "workspace")
  return collect(self, "connections.list", ws, opts_to("list_connections", opts, list_spec))
end

function Admin:get_connection(ws, name)
  check_string("get_connection", 1, ws, "workspace")
  check_string("get_connection", 2, name, "connection name")
  return self:_call("connection.get", ws, name)
end

function Admin:create_connection(ws, conn)
  check_string("create_connection", 1, ws, "workspace")
  check_table("create_connection", 2, conn, "connection")
  return self:_call("connection.create", ws, nil, nil, conn)
end

function Admin:update_connection(ws, name, conn)
  check_string("update_connection", 1, ws, "workspace")
  check_string("update_connection", 2, name, "connection name")
  check_table("update_connection", 3, conn, "connection")
  return self:_call("connection.update", ws, name, nil, conn)
end

function Admin:delete_connection(ws, name)
  check_string("delete_connection", 1, ws, "workspace")
  check_string("delete_connection", 2, name, "connection name")
  return ack(self:_call("connection.delete", ws, name))
end

-- ---- Private Link connections of the project -------------------------------------------

function Admin:private_links(opts)
  return iterate(self, "private_links.list", nil, opts_to("private_links", opts, list_spec))
end

function Admin:list_private_links(opts)
  return collect(self, "private_links.list", nil, opts_to("list_private_links", opts, list_spec))
end

function Admin:get_private_link(id)
  check_string("get_private_link", 1, id, "id")
  return self:_call("private_link.get", nil, id)
end

function Admin:create_private_link(def)
  check_table("create_private_link", 1, def, "private link")
  return self:_call("private_link.create", nil, nil, nil, def)
end

--- admin:update_private_link(id, dns_domain) -> the connection: only dnsDomain can change.
function Admin:update_private_link(id, dns_domain)
  check_string("update_private_link", 1, id, "id")
  check_string("update_private_link", 2, dns_domain, "dnsDomain")
  return self:_call("private_link.update", nil, id, nil, { dnsDomain = dns_domain })
end

function Admin:delete_private_link(id)
  check_string("delete_private_link", 1, id, "id")
  return ack(self:_call("private_link.delete", nil, id))
end

-- ---- VPC peering -----------------------------------------------------------------------

function Admin:vpc_peerings(opts)
  return iterate(self, "vpc_peerings.list", nil, opts_to("vpc_peerings", opts, vpc_list_spec))
end

function Admin:list_vpc_peerings(opts)
  return collect(self, "vpc_peerings.list", nil,
    opts_to("list_vpc_peerings", opts, vpc_list_spec))
end

--- admin:accept_vpc_peering(id, {requesterAccountId = ..., requesterVpcId = ...})
function Admin:accept_vpc_peering(id, body)
  check_string("accept_vpc_peering", 1, id, "id")
  check_table("accept_vpc_peering", 2, body, "body")
  return ack(self:_call("vpc_peering.accept", nil, id, nil, body))
end

function Admin:reject_vpc_peering(id)
  check_string("reject_vpc_peering", 1, id, "id")
  return ack(self:_call("vpc_peering.reject", nil, id))
end

function Admin:delete_vpc_peering(id)
  check_string("delete_vpc_peering", 1, id, "id")
  return ack(self:_call("vpc_peering.delete", nil, id))
end

-- ---- workspaces ------------------------------------------------------------------------

function Admin:workspaces(opts)
  return iterate(self, "workspaces.list", nil, opts_to("workspaces", opts, list_spec))
end

function Admin:list_workspaces(opts)
  return collect(self, "workspaces.list", nil, opts_to("list_workspaces", opts, list_spec))
end

local get_workspace_spec = { include_connections = { "includeConnections", is_boolean } }

function Admin:get_workspace(name, opts)
  check_string("get_workspace", 1, name, "workspace")
  local query = opts_to("get_workspace", opts, get_workspace_spec)
  return self:_call("workspace.get", name, nil, next(query) and query or nil)
end

function Admin:create_workspace(def)
  check_table("create_workspace", 1, def, "workspace")
  return self:_call("workspace.create", nil, nil, nil, def)
end

function Admin:update_workspace(name, changes)
  check_string("update_workspace", 1, name, "workspace")
  check_table("update_workspace", 2, changes, "changes")
  return self:_call("workspace.update", name, nil, nil, changes)
end

function Admin:delete_workspace(name)
  check_string("delete_workspace", 1, name, "workspace")
  return ack(self:_call("workspace.delete", name))
end

-- ---- processors (the same processors the wire protocol sees) ---------------------------

function Admin:processors(ws, opts)
  check_string("processors", 1, ws, "workspace")
  return iterate(self, "processors.list", ws, opts_to("processors", opts, processors_list_spec))
end

function Admin:list_processors(ws, opts)
  check_string("list_processors", 1, ws, "workspace")
  return collect(self, "processors.list", ws,
    opts_to("list_processors", opts, processors_list_spec))
end

local create_spec = {
  dlq = { "dlq", is_table },
  tier = { "tier", is_string },
  failover_enabled = { "failoverEnabled", is_boolean },
}

--- admin:create_processor(ws, name, pipeline [, {dlq, tier, failover_enabled}]) -> the
--- processor document {_id, name, pipeline, options, ...}
function Admin:create_processor(ws, name, pipeline, opts)
  check_string("create_processor", 1, ws, "workspace")
  check_string("create_processor", 2, name, "processor name")
  check_table("create_processor", 3, pipeline, "pipeline")
  local o = opts_to("create_processor", opts, create_spec)
  local body = { name = name, pipeline = core.array(pipeline), tier = o.tier,
                 failoverEnabled = o.failoverEnabled }
  if o.dlq then body.options = { dlq = o.dlq } end
  return self:_call("processor.create", ws, nil, nil, body)
end

--- admin:get_processor(ws, name) -> {_id, name, pipeline, state, stats, ...}
function Admin:get_processor(ws, name)
  check_string("get_processor", 1, ws, "workspace")
  check_string("get_processor", 2, name, "processor name")
  return self:_call("processor.get", ws, name)
end

local modify_spec = {
  pipeline = { "pipeline", is_table },
  name = { "name", is_string },
  dlq = { "dlq", is_table },
  resume_from_checkpoint = { "resumeFromCheckpoint", is_boolean },
  tier = { "tier", is_string },
  failover_enabled = { "failoverEnabled", is_boolean },
}

--- admin:modify_processor(ws, name, {pipeline, name, dlq, resume_from_checkpoint, tier,
--- failover_enabled}) -> the processor document. The processor must be stopped.
function Admin:modify_processor(ws, name, opts)
  check_string("modify_processor", 1, ws, "workspace")
  check_string("modify_processor", 2, name, "processor name")
  check_table("modify_processor", 3, opts, "options")
  local o = opts_to("modify_processor", opts, modify_spec)
  local body = { name = o.name, pipeline = o.pipeline and core.array(o.pipeline), tier = o.tier,
                 failoverEnabled = o.failoverEnabled }
  if o.dlq ~= nil or o.resumeFromCheckpoint ~= nil then
    body.options = { dlq = o.dlq, resumeFromCheckpoint = o.resumeFromCheckpoint }
  end
  return self:_call("processor.modify", ws, name, nil, body)
end

local failover_spec = {
  region = { "region", is_string },
  mode = { "mode", is_string },
  dry_run = { "dryRun", is_boolean },
  clear_checkpoint = { "clearCheckpoint", is_boolean },
}
local start_spec = {
  resume_from_checkpoint = { "resumeFromCheckpoint", is_boolean },
  start_at_operation_time = { "startAtOperationTime", is_string },
  tier = { "tier", is_string },
  failover = { "failover", is_table },
}

--- admin:start_processor(ws, name [, {resume_from_checkpoint, start_at_operation_time
--- (ISO 8601 text), tier, failover = {region, mode, dry_run, clear_checkpoint}}]) -> true.
--- With options it is the API's :startWith.
function Admin:start_processor(ws, name, opts)
  check_string("start_processor", 1, ws, "workspace")
  check_string("start_processor", 2, name, "processor name")
  if opts == nil then return ack(self:_call("processor.start", ws, name)) end
  local body = opts_to("start_processor", opts, start_spec)
  if body.failover then body.failover = opts_to("start_processor: failover", body.failover,
      failover_spec) end
  return ack(self:_call("processor.start_with", ws, name, nil, body))
end

function Admin:stop_processor(ws, name)
  check_string("stop_processor", 1, ws, "workspace")
  check_string("stop_processor", 2, name, "processor name")
  return ack(self:_call("processor.stop", ws, name))
end

function Admin:delete_processor(ws, name)
  check_string("delete_processor", 1, ws, "workspace")
  check_string("delete_processor", 2, name, "processor name")
  return ack(self:_call("processor.delete", ws, name))
end

return M
