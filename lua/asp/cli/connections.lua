-- `asp connections ...`: the workspace's connection registry through the Admin API
-- (asp.admin). Files hold a connection in the API's own JSON shape, as for the Atlas CLI.
local M = {}

-- The field that says where a connection points, whatever its type.
local function target(c)
  return c.clusterName or c.bootstrapServers or c.url or (type(c.aws) == "table" and c.aws.roleArn)
    or (type(c.azure) == "table" and c.azure.storageAccountName)
    or (type(c.gcp) == "table" and c.gcp.serviceAccountId) or nil
end

local COLUMNS = { { "NAME", "name" }, { "TYPE", "type" }, { "TARGET", target }, { "STATE", "state" } }

function M.list(ctx)
  local admin, ws = ctx:admin(true)
  ctx.out:list(ctx:check(admin:list_connections(ws)), COLUMNS)
end

function M.describe(ctx)
  local admin, ws = ctx:admin(true)
  ctx.out:document(ctx:check(admin:get_connection(ws, ctx.args[1])))
end

-- The connection in the file, named by the argument when one is given.
local function from_file(ctx)
  local conn = ctx:read_json(ctx.opts.file)
  if type(conn) ~= "table" or conn[1] ~= nil then ctx:fail("%s: a connection must be a JSON object", ctx.opts.file) end
  if ctx.args[1] then conn.name = ctx.args[1] end
  return conn
end

function M.create(ctx)
  local admin, ws = ctx:admin(true)
  local conn = from_file(ctx)
  local stored = ctx:check(admin:create_connection(ws, conn))
  ctx.out:done(("created connection %s"):format(tostring(stored.name or conn.name)), stored)
end

function M.update(ctx)
  local admin, ws = ctx:admin(true)
  local conn = from_file(ctx)
  conn.name = nil -- the path names it
  local stored = ctx:check(admin:update_connection(ws, ctx.args[1], conn))
  ctx.out:done(("updated connection %s"):format(ctx.args[1]), stored)
end

function M.delete(ctx)
  local admin, ws = ctx:admin(true)
  ctx:confirm(("Delete connection %s from workspace %s?"):format(ctx.args[1], ws))
  ctx:check(admin:delete_connection(ws, ctx.args[1]))
  ctx.out:done(("deleted connection %s"):format(ctx.args[1]), { name = ctx.args[1], deleted = true })
end

return M
