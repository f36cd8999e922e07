-- Checks a pipeline against the ASP planner's rules
-- and reports every problem, not just the first, with the planner's own texts.
-- Texts marked "own" are not in the reference; docs/pipeline.md lists them.

local values = require "asp.pipeline.values"
local stages = require "asp.pipeline.stages"

local BY_NAME = stages.by_name

local T = {
  -- planner texts (asp-engine.md §2–3), verbatim
  empty = "Pipeline must have at least one stage",
  first = "First stage must be $source, found: %s",
  one_field = "A pipeline stage specification object must contain exactly one field.",
  unsupported = "Unsupported stage: %s",
  only_window = "%s stage is only permitted in the inner pipeline of a window stage",
  not_window = "%s stage is not permitted in the inner pipeline of a window stage",
  not_payload = "%s stage is not permitted in the payload (inner pipeline) of an https stage",
  last = "The last stage in the pipeline must be $merge or $emit.",
  after_sink = "No stages are allowed after a $merge or $emit stage.",
  one_window = "Only one window stage is allowed in a pipeline.",
  interval = "Window interval size must be greater than 0.",
  hop = "Window hopSize size must be greater than 0.",
  lateness_max = "Maximum allowedLateness is 30 minutes",
  lateness_int = "Must specify unit and size for non-zero allowed lateness values",
  idle_int = "Must specify unit and size for non-zero idle timeout values",
  source_connection = "$source must contain 'connectionName' field in it",
  coll_without_db = "If coll is specified, db must be specified.",
  empty_db = "Cannot specify an empty database name to $source when configuring a change stream",
  start_both = "startAfter and startAtOperationTime cannot both be set",
  ts_dotted = "'tsFieldOverride' cannot be a dotted path",
  match_text = "Cannot use $text in $match stage in Atlas Stream Processing.",
  key_format = "Expected config.keyFormat to be specified when config.key is specified",
  merge_on_dup = "Found a duplicate field in the $merge.on list: '%s'",
  when_matched = "Unsupported whenMatched mode: %s",
  when_not_matched = "Unsupported whenNotMatched mode: %s",
  merge_literals = "$merge.into.db and $merge.into.coll must be literals if $merge.parallelism is greater than 1",
  -- the server's aggregation texts for these stages
  group_id = "a group specification must specify an _id",
  sort_empty = "$sort stage must have at least one sort key",
  limit_positive = "the limit must be positive",
  count_name = "the count field must be a non-empty string",
  -- own texts, worded like the server's IDL parser
  missing = "BSON field '%s' is missing but a required field",
  unknown = "BSON field '%s' is an unknown field.",
  -- own texts
  not_array = "pipeline must be an array of stages",
  not_object = "%s specification must be an object",
  second_source = "$source is only allowed as the first stage of a pipeline",
  source_both = "$source cannot contain both 'connectionName' and 'documents'",
  gap = "Window gap size must be greater than 0.",
  duration = "%s must be a duration {size: <number>, unit: ms|second|minute|hour|day}",
  offset = "%s.offset must be {offsetFromUtc: <number>, unit: ms|second|minute|hour}",
  boundary = "%s.boundary must be 'eventTime' or 'processingTime'",
  processing_time = "%s.%s is not allowed with boundary 'processingTime'",
  inner_array = "%s.%s must be an array of stages",
  session_group = "The $sessionWindow.pipeline isn't supported, there must be a $group or $sort in the pipeline.",
  session_meta = "The $sessionWindow.pipeline isn't supported, the pipeline cannot use _stream_meta.window "
    .. "until after the first $group or $sort.",
  session_limit = "The $sessionWindow.pipeline isn't supported, there cannot be a $limit before the first "
    .. "$group or $sort.",
  one_of = "%s must be one of %s, found: %s",
  async_as = "$externalFunction.as must not be set when execution is 'async'",
  unset_fields = "$unset specification must be a string or an array of strings",
  unwind_form = "$unwind specification must be a string or an object",
  stream_meta_key = "$setStreamMeta field names must start with 'stream.', found: %s",
  lookup_from = "$lookup.from must be a collection name or contain connectionName, db and coll",
}

local THIRTY_MINUTES_MS = 30 * 60 * 1000

-- A check run: collects problems; `at` is where the current stage sits.
local Run = {}
Run.__index = Run

function Run:report(message)
  local p = self.problems
  p[#p + 1] = { index = self.at.index, path = self.at.path, message = message }
end

local function one_of(run, field, value, allowed, label)
  if value == nil then return end
  for _, a in ipairs(allowed) do
    if value == a then return end
  end
  run:report(T.one_of:format(field, label or table.concat(allowed, ", "), tostring(value)))
end

local function is_expression(v)
  if not values.is_document(v) then return false end
  for k in pairs(v) do
    if type(k) == "string" and k:sub(1, 1) == "$" then return true end
  end
  return false
end

-- Option stages: only known fields, required ones present (stages.lua).
local function check_fields(run, d, spec)
  local wire = d.schema.fields
  local known = {}
  for _, f in ipairs(wire) do known[f] = true end
  for _, k in ipairs(values.keys(spec)) do
    if not known[k] then run:report(T.unknown:format(d.name .. "." .. tostring(k))) end
  end
  for _, f in ipairs(d.required or {}) do
    if spec[f] == nil then run:report(T.missing:format(d.name .. "." .. f)) end
  end
end

local function check_namespace(run, label, ns)
  for _, f in ipairs { "connectionName", "db", "coll" } do
    if ns[f] == nil then run:report(T.missing:format(label .. "." .. f)) end
  end
end

-- Durations: {size, unit}; returns milliseconds when valid.
local function duration(run, label, d)
  local ms = values.duration_ms(d)
  if not ms then run:report(T.duration:format(label)) end
  return ms
end

local check_list -- forward: inner pipelines

-- Per-stage checks beyond fields and placement, keyed by stage name.
local CHECK = {}

CHECK["$source"] = function(run, spec)
  local has_conn, has_docs = spec.connectionName ~= nil, spec.documents ~= nil
  if not has_conn and not has_docs then run:report(T.source_connection) end
  if has_conn and has_docs then run:report(T.source_both) end
  if spec.coll ~= nil and spec.db == nil then run:report(T.coll_without_db) end
  if spec.db == "" then run:report(T.empty_db) end
  local ts = spec.tsFieldName or spec.tsFieldOverride
  if type(ts) == "string" and ts:find(".", 1, true) then run:report(T.ts_dotted) end
  local config = spec.config
  if values.is_document(config) and config.startAfter ~= nil and config.startAtOperationTime ~= nil then
    run:report(T.start_both)
  end
  for _, f in ipairs { "partitionIdleTimeout", "shardIdleTimeout" } do
    if spec[f] ~= nil then duration(run, "$source." .. f, spec[f]) end
  end
end

CHECK["$validate"] = function(run, spec)
  one_of(run, "$validate.validationAction", spec.validationAction, { "discard", "dlq" })
end

CHECK["$match"] = function(run, spec)
  if spec["$text"] ~= nil then run:report(T.match_text) end
end

CHECK["$unwind"] = function(run, spec)
  if type(spec) == "string" then return true end
  if not values.is_document(spec) then
    run:report(T.unwind_form)
    return true
  end
end

CHECK["$lookup"] = function(run, spec)
  local from = spec.from
  if from ~= nil and type(from) ~= "string" then
    if not values.is_document(from) or from.connectionName == nil or from.db == nil or from.coll == nil then
      run:report(T.lookup_from)
    end
  end
end

CHECK["$cachedLookup"] = function(run, spec)
  if spec.ttl ~= nil then duration(run, "$cachedLookup.ttl", spec.ttl) end
  if values.is_document(spec.from) then check_namespace(run, "$cachedLookup.from", spec.from) end
end

local ON_ERROR = { "dlq", "ignore", "fail" }

CHECK["$https"] = function(run, spec)
  one_of(run, "$https.method", spec.method, { "GET", "POST", "PUT", "PATCH", "DELETE" })
  one_of(run, "$https.onError", spec.onError, ON_ERROR)
end

CHECK["$externalFunction"] = function(run, spec)
  one_of(run, "$externalFunction.execution", spec.execution, { "sync", "async" })
  one_of(run, "$externalFunction.onError", spec.onError, ON_ERROR)
  if spec.execution == "async" and spec.as ~= nil then run:report(T.async_as) end
end

CHECK["$setStreamMeta"] = function(run, spec)
  for _, k in ipairs(values.keys(spec)) do
    if type(k) ~= "string" or k:sub(1, 7) ~= "stream." then
      run:report(T.stream_meta_key:format(tostring(k)))
    end
  end
end

CHECK["$unset"] = function(run, spec)
  if type(spec) == "string" then return end
  if values.is_array(spec) then
    for _, v in ipairs(spec) do
      if type(v) ~= "string" then
        run:report(T.unset_fields)
        return
      end
    end
    return
  end
  run:report(T.unset_fields)
end

CHECK["$group"] = function(run, spec)
  if spec._id == nil then run:report(T.group_id) end
end

CHECK["$sort"] = function(run, spec)
  if next(spec) == nil then run:report(T.sort_empty) end
end

CHECK["$count"] = function(run, spec)
  if type(spec) ~= "string" or spec == "" then run:report(T.count_name) end
end

CHECK["$limit"] = function(run, spec)
  if type(spec) ~= "number" or spec <= 0 then run:report(T.limit_positive) end
end

-- allowedLateness / idleTimeout: a duration, or the integer 0.
local function lateness(run, name, field, v, int_text)
  if type(v) == "number" then
    if v ~= 0 then run:report(int_text) end
    return
  end
  local ms = duration(run, name .. "." .. field, v)
  if ms and field == "allowedLateness" and ms > THIRTY_MINUTES_MS then run:report(T.lateness_max) end
end

local WINDOW_SIZES = { { "interval", T.interval }, { "hopSize", T.hop }, { "gap", T.gap } }

local function check_window(run, spec, name)
  for _, size in ipairs(WINDOW_SIZES) do
    local field, text = size[1], size[2]
    if spec[field] ~= nil then
      local ms = duration(run, name .. "." .. field, spec[field])
      if ms and ms <= 0 then run:report(text) end
    end
  end
  local offset = spec.offset
  if offset ~= nil and not (values.is_document(offset) and type(offset.offsetFromUtc) == "number"
      and values.UNITS[offset.unit] and offset.unit ~= "day") then
    run:report(T.offset:format(name))
  end
  one_of(run, name .. ".boundary", spec.boundary, { "eventTime", "processingTime" })
  if spec.allowedLateness ~= nil then
    lateness(run, name, "allowedLateness", spec.allowedLateness, T.lateness_int)
  end
  if spec.idleTimeout ~= nil then
    lateness(run, name, "idleTimeout", spec.idleTimeout, T.idle_int)
  end
  if spec.boundary == "processingTime" then
    for _, f in ipairs { "allowedLateness", "idleTimeout" } do
      if spec[f] ~= nil then run:report(T.processing_time:format(name, f)) end
    end
  end
end

CHECK["$tumblingWindow"] = check_window
CHECK["$hoppingWindow"] = check_window

-- Whether a stage spec reads the window's bounds: "$_stream_meta(.window...)", a key
-- "_stream_meta(.window...)", or {$meta: "stream" | "stream.window..."}.
local function reads_window_meta(v)
  if type(v) == "string" then
    return v == "$_stream_meta" or v:sub(1, 20) == "$_stream_meta.window"
  end
  if type(v) ~= "table" then return false end
  for k, x in pairs(v) do
    if k == "$meta" and type(x) == "string" and (x == "stream" or x:sub(1, 13) == "stream.window") then
      return true
    end
    if type(k) == "string" and (k == "_stream_meta" or k:sub(1, 19) == "_stream_meta.window") then return true end
    if reads_window_meta(x) then return true end
  end
  return false
end

-- A session's bounds are known only once a blocking stage ($group, $sort; $count is a
-- $group) has seen the whole session, so nothing before it may read them or $limit.
CHECK["$sessionWindow"] = function(run, spec, name)
  check_window(run, spec, name)
  if not values.is_array(spec.pipeline) then return end
  local blocking, meta, limit = false, false, false
  for _, s in ipairs(spec.pipeline) do
    if type(s) == "table" then
      blocking = s["$group"] ~= nil or s["$sort"] ~= nil or s["$count"] ~= nil
      meta = meta or reads_window_meta(s)
      limit = limit or s["$limit"] ~= nil
      if blocking then break end
    end
  end
  if not blocking then
    run:report(T.session_group)
  elseif meta then
    run:report(T.session_meta)
  elseif limit then
    run:report(T.session_limit)
  end
end

CHECK["$emit"] = function(run, spec)
  local config = spec.config
  if values.is_document(config) then
    if config.key ~= nil and config.keyFormat == nil then run:report(T.key_format) end
    if values.is_document(config.writeOptions) and config.writeOptions.interval ~= nil then
      duration(run, "$emit.config.writeOptions.interval", config.writeOptions.interval)
    end
  end
end

CHECK["$merge"] = function(run, spec)
  local into = spec.into
  if into ~= nil then
    if values.is_document(into) then
      check_namespace(run, "$merge.into", into)
      if type(spec.parallelism) == "number" and spec.parallelism > 1
          and (is_expression(into.db) or is_expression(into.coll)) then
        run:report(T.merge_literals)
      end
    else
      run:report(T.not_object:format("$merge.into"))
    end
  end
  if values.is_array(spec.on) then
    local seen = {}
    for _, f in ipairs(spec.on) do
      if seen[f] then run:report(T.merge_on_dup:format(tostring(f))) end
      seen[f] = true
    end
  end
  if spec.whenMatched == "fail" then run:report(T.when_matched:format("fail")) end
  if spec.whenNotMatched == "fail" then run:report(T.when_not_matched:format("fail")) end
end

-- Stage forms whose spec is not an object (stages.lua `form`).
local NOT_OBJECT_FORMS = { expression = true, unset = true, count = true, limit = true, unwind = true }

-- Checks one stage whose shape (one field) is known good.
local function check_stage(run, name, spec, context)
  local d = BY_NAME[name]
  if not d then
    run:report(T.unsupported:format(name))
    return
  end
  if not d.where[context] then
    if context == "main" then
      run:report(T.only_window:format(name))
    elseif context == "window" then
      run:report(T.not_window:format(name))
    else
      run:report(T.not_payload:format(name))
    end
  end
  local check = CHECK[name]
  if not NOT_OBJECT_FORMS[d.form] and not values.is_document(spec) then
    run:report(T.not_object:format(name))
    return
  end
  if check and check(run, spec, name) then return end
  if d.schema and values.is_document(spec) then check_fields(run, d, spec) end
  for field, inner in pairs(d.inner or {}) do
    local list = spec[field]
    if list ~= nil then
      if values.is_array(list) or (type(list) == "table" and next(list) == nil) then
        check_list(run, list, inner, run.at.path .. "." .. name .. "." .. field)
      else
        run:report(T.inner_array:format(name, field))
      end
    end
  end
end

-- The single key of a stage object, or nil when it has none or several.
local function stage_name(stage)
  if type(stage) ~= "table" then return nil end
  local name = next(stage)
  if type(name) ~= "string" or next(stage, name) ~= nil then return nil end
  return name
end

-- An inner pipeline: placement and stage checks only. Problems keep the index of
-- the enclosing main stage; the path says where inside it they are.
function check_list(run, list, context, prefix)
  local outer = run.at
  for i, stage in ipairs(list) do
    run.at = { index = outer.index or i, path = prefix .. "[" .. i .. "]" }
    local name = stage_name(stage)
    if name then
      check_stage(run, name, stage[name], context)
    else
      run:report(T.one_field)
    end
  end
  run.at = outer
end

-- The main pipeline: the inner rules plus $source first, one window, the sink last.
local function check_main(run, list, ephemeral)
  local sink_at, windows, reported_after_sink = nil, 0, false
  for i, stage in ipairs(list) do
    run.at = { index = i, path = "pipeline[" .. i .. "]" }
    local name = stage_name(stage)
    if not name then
      run:report(T.one_field)
    else
      local d = BY_NAME[name]
      if i == 1 and name ~= "$source" then run:report(T.first:format(name)) end
      if i > 1 and name == "$source" then run:report(T.second_source) end
      if sink_at and not reported_after_sink then
        run:report(T.after_sink)
        reported_after_sink = true
      end
      if d and d.window then
        windows = windows + 1
        if windows > 1 then run:report(T.one_window) end
      end
      if d and d.sink and not sink_at then sink_at = i end
      check_stage(run, name, stage[name], "main")
    end
  end
  if not sink_at and not ephemeral then
    run.at = { index = #list, path = "pipeline[" .. #list .. "]" }
    run:report(T.last)
  end
end

local V = {}

-- The problem list prints as one "path: message" line per problem, so that
-- assert(p:validate()) fails with a readable message.
local PROBLEMS_META = {
  __tostring = function(list)
    local lines = {}
    for i, p in ipairs(list) do lines[i] = p.path .. ": " .. p.message end
    return table.concat(lines, "\n")
  end,
}

-- check(list, kind, {ephemeral = bool}) -> true | nil, problems
function V.check(list, kind, opts)
  local ephemeral = type(opts) == "table" and opts.ephemeral or false
  local run = setmetatable({ problems = {}, at = { index = 0, path = "pipeline" } }, Run)
  if type(list) ~= "table" or (next(list) ~= nil and not values.is_array(list)) then
    run:report(T.not_array)
  elseif next(list) == nil then
    run:report(T.empty)
  elseif kind == "main" or kind == nil then
    check_main(run, list, ephemeral)
  else
    run.at = { path = "pipeline" }
    check_list(run, list, kind, "pipeline")
  end
  if #run.problems == 0 then return true end
  return nil, setmetatable(run.problems, PROBLEMS_META)
end

return V
