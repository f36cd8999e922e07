-- `asp sample` and `asp process`: stream documents as they arrive until --limit or
-- Ctrl-C, and always close the cursor (for `process`, closing drops the ephemeral
-- processor).
local M = {}

-- The Lua interpreter turns Ctrl-C into this error in the running Lua code.
local function interrupted(err) return tostring(err):find("interrupted!", 1, true) ~= nil end

local function drain(ctx, cur)
  ctx.out:stream_begin()
  local ok, err = pcall(function()
    while true do
      local doc, e = cur:next()
      if e then return error(e, 0) end
      if doc == nil then return end
      ctx.out:stream(doc)
    end
  end)
  cur:close()
  ctx.out:stream_end()
  if not ok and not interrupted(err) then ctx:fail(tostring(err)) end
end

local function cursor_opts(ctx)
  return { limit = ctx.opts.limit, batch_size = ctx.opts.batch_size }
end

function M.sample(ctx)
  local proc = ctx:client():stream_processors():get(ctx.args[1])
  drain(ctx, ctx:check(proc:sample(cursor_opts(ctx))))
end

function M.process(ctx)
  local pipeline = ctx:read_json(ctx.opts.file)
  if type(pipeline) == "table" and pipeline.pipeline ~= nil then pipeline = pipeline.pipeline end
  drain(ctx, ctx:check(ctx:client():process(pipeline, cursor_opts(ctx))))
end

return M
