-- `asp workspace ...`.
local M = {}

function M.defaults(ctx)
  ctx.out:document(ctx:check(ctx:client():workspace_defaults()))
end

return M
