-- `asp processors ...`: one function per command (rows in commands.lua).
local asp = require "asp"
local core = require "asp.core"
local output = require "asp.cli.output"

local M = {}

local LIST_COLUMNS = {
  { "NAME", "name" },
  { "STATE", "state" },
  { "TIER", "tier" },
  { "STAGES", function(p) return type(p.pipeline) == "table" and #p.pipeline or nil end },
  { "LAST MODIFIED", "lastModified" },
  { "ERROR", "errorMsg" },
}

local function canonical(v)
  if v == nil then return "null" end
  return asp.to_json(v, "canonical")
end

local function not_found(err)
  local msg = type(err) == "table" and err.message or tostring(err)
  return msg:find("does not exist", 1, true) or msg:find("not found", 1, true)
end

-- A pipeline file holds either a pipeline (array) or a definition {name, pipeline, options}.
-- Returns pipeline, options (snake_case, as sps:create takes them), name.
local function read_pipeline(ctx, path)
  local v = ctx:read_json(path)
  if getmetatable(v) == getmetatable(asp.array {}) or (type(v) == "table" and v[1] ~= nil) then
    return v
  end
  local def, err = asp.pipeline.decode_definition(ctx:read_file(path))
  if not def then ctx:fail("%s: %s", path, tostring(err)) end
  return def.pipeline, def.options, def.name
end

-- Polls the processor until its state is `target`; a spinner on a terminal meanwhile.
-- Fails on FAILED (with the server's errorMsg) or after --timeout seconds.
local function wait_for(ctx, name, target)
  if ctx.opts.no_wait then return nil end
  local sps = ctx:client():stream_processors()
  local spin = output.spinner(("waiting for %s to be %s"):format(name, target))
  local deadline = core.now() + (ctx.opts.timeout or 60)
  while true do
    local info, err = sps:get_info(name)
    if not info then
      spin.stop()
      ctx:fail(tostring(err))
    end
    if info.state == target then
      spin.stop()
      return info
    end
    if info.state == "FAILED" and target ~= "FAILED" then
      spin.stop()
      ctx:fail("processor %s failed: %s", name, tostring(info.errorMsg))
    end
    if core.now() > deadline then
      spin.stop()
      ctx:fail("processor %s is %s, not %s, after %d s", name, tostring(info.state), target, ctx.opts.timeout or 60)
    end
    spin.tick()
    core.sleep(0.2)
  end
end

function M.list(ctx)
  local filter = ctx.opts.state and { state = ctx.opts.state } or nil
  local list = ctx:check(ctx:client():stream_processors():list(filter))
  ctx.out:list(list, LIST_COLUMNS)
end

function M.describe(ctx)
  ctx.out:document(ctx:check(ctx:client():stream_processors():get_info(ctx.args[1])))
end

function M.create(ctx)
  local pipeline, options, def_name = read_pipeline(ctx, ctx.opts.file)
  local name = ctx.args[1] or def_name
  if not name then ctx:fail("%s holds no name: give one (asp processors create NAME -f FILE)", ctx.opts.file) end
  options = options or {}
  if ctx.opts.tier then options.tier = ctx.opts.tier end
  ctx:check(ctx:client():stream_processors():create(name, pipeline, options))
  ctx.out:done(("created processor %s"):format(name), { name = name, state = "CREATED" })
end

function M.start(ctx)
  local name = ctx.args[1]
  local o = ctx.opts
  ctx:check(ctx:client():stream_processors():get(name):start({
    workers = o.workers, clear_checkpoints = o.clear_checkpoints, tier = o.tier }))
  local info = wait_for(ctx, name, "STARTED")
  ctx.out:done(("started processor %s"):format(name), { name = name, state = info and info.state or "STARTING" })
end

function M.stop(ctx)
  local name = ctx.args[1]
  ctx:check(ctx:client():stream_processors():get(name):stop())
  local info = wait_for(ctx, name, "STOPPED")
  ctx.out:done(("stopped processor %s"):format(name), { name = name, state = info and info.state or "STOPPING" })
end

function M.drop(ctx)
  local name = ctx.args[1]
  ctx:confirm(("Drop stream processor %s?"):format(name))
  ctx:check(ctx:client():stream_processors():get(name):drop())
  ctx.out:done(("dropped processor %s"):format(name), { name = name, dropped = true })
end

function M.stats(ctx)
  local reply = ctx:check(ctx:client():stream_processors():get(ctx.args[1]):stats({
    verbose = ctx.opts.verbose, scale = ctx.opts.scale }))
  -- A table shows the counters themselves; JSON keeps the whole reply.
  ctx.out:document(ctx.out.format == "table" and type(reply.stats) == "table" and reply.stats or reply)
end

function M.modify(ctx)
  local o, change = ctx.opts, {}
  if o.file then change.pipeline = read_pipeline(ctx, o.file) end
  change.name, change.tier = o.new_name, o.tier
  if o.no_dlq then change.dlq = {} end
  if o.resume_from_checkpoint then change.resume_from_checkpoint = true end
  if o.no_resume_from_checkpoint then change.resume_from_checkpoint = false end
  if next(change) == nil then
    require("asp.cli.args").usage_error("asp processors modify needs --file, --new-name, --tier or --no-dlq")
  end
  ctx:check(ctx:client():stream_processors():get(ctx.args[1]):modify(change))
  ctx.out:done(("modified processor %s"):format(o.new_name or ctx.args[1]), { name = o.new_name or ctx.args[1], modified = true })
end

-- What differs between a definition and the processor's info, as modify options plus
-- one line per change. Options modify cannot change are reported as an error.
local function differences(ctx, def, info)
  local change, lines = {}, {}
  local opts = def.options or {}
  if canonical(asp.array(def.pipeline)) ~= canonical(info.pipeline) then
    change.pipeline = def.pipeline
    lines[#lines + 1] = ("pipeline: %d stages -> %d stages"):format(
      type(info.pipeline) == "table" and #info.pipeline or 0, #def.pipeline)
  end
  if opts.tier and opts.tier ~= info.tier then
    change.tier = opts.tier
    lines[#lines + 1] = ("tier: %s -> %s"):format(tostring(info.tier), opts.tier)
  end
  local info_dlq = info.dlq or (type(info.options) == "table" and info.options.dlq) or nil
  if opts.dlq and canonical(opts.dlq) ~= canonical(info_dlq) then
    change.dlq = opts.dlq
    lines[#lines + 1] = "dlq: " .. output.cell(info_dlq) .. " -> " .. output.cell(opts.dlq)
  end
  for _, fixed in ipairs({ "stream_meta_field_name", "failover" }) do
    if opts[fixed] ~= nil then
      local wire = fixed == "failover" and "failover" or "streamMetaFieldName"
      local current = info[wire] or (type(info.options) == "table" and info.options[wire]) or nil
      if canonical(opts[fixed]) ~= canonical(current) then
        ctx:fail("%s: %s differs and cannot be modified; drop and create the processor", def.name, wire)
      end
    end
  end
  return change, lines
end

function M.apply(ctx)
  local def, err = asp.pipeline.load_definition(ctx.opts.file)
  if not def then ctx:fail(tostring(err)) end
  local sps = ctx:client():stream_processors()
  local info, ierr = sps:get_info(def.name)
  if not info and not not_found(ierr) then ctx:fail(tostring(ierr)) end
  local result = { name = def.name, changes = asp.array {} }
  local lines = {}
  if not info then
    ctx:check(sps:create(def.name, def.pipeline, def.options))
    result.action = "created"
    lines[1] = ("created processor %s"):format(def.name)
  else
    local change, changed = differences(ctx, def, info)
    if next(change) == nil then
      result.action = "unchanged"
      lines[1] = ("processor %s is up to date"):format(def.name)
    else
      local running = info.state == "STARTED"
      local proc = sps:get(def.name)
      if running then
        ctx:check(proc:stop())
        wait_for(ctx, def.name, "STOPPED")
      end
      ctx:check(proc:modify(change))
      if running then
        ctx:check(proc:start())
        wait_for(ctx, def.name, "STARTED")
      end
      result.action, result.restarted = "modified", running
      lines[1] = ("modified processor %s%s"):format(def.name, running and " (stopped and restarted)" or "")
      for i, l in ipairs(changed) do
        result.changes[i] = l
        lines[#lines + 1] = "  " .. l
      end
    end
  end
  if ctx.opts.start then
    local now = info and sps:get_info(def.name) or { state = "CREATED" }
    if now.state ~= "STARTED" then
      ctx:check(sps:get(def.name):start())
      wait_for(ctx, def.name, "STARTED")
      result.started = true
      lines[#lines + 1] = ("started processor %s"):format(def.name)
    end
  end
  ctx.out:done(table.concat(lines, "\n"), result)
end

return M
