-- `asp privatelinks ...`: the project's Private Link connections through the Admin API.
local M = {}

local COLUMNS = {
  { "ID", "_id" }, { "PROVIDER", "provider" }, { "REGION", "region" }, { "STATE", "state" },
  { "DNS DOMAIN", "dnsDomain" }, { "VENDOR", "vendor" },
}

function M.list(ctx)
  ctx.out:list(ctx:check(ctx:admin():list_private_links()), COLUMNS)
end

function M.describe(ctx)
  ctx.out:document(ctx:check(ctx:admin():get_private_link(ctx.args[1])))
end

function M.delete(ctx)
  local admin = ctx:admin()
  ctx:confirm(("Delete Private Link connection %s?"):format(ctx.args[1]))
  ctx:check(admin:delete_private_link(ctx.args[1]))
  ctx.out:done(("deleted Private Link connection %s"):format(ctx.args[1]), { id = ctx.args[1], deleted = true })
end

return M
