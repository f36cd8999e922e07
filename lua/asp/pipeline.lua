-- asp.pipeline: build, check, load and save Atlas Stream Processing pipelines.
-- Pure Lua: the builder and the validator need no C module; only the JSON
-- definition functions load asp.core (for its Extended JSON codec). See docs/pipeline.md.

local values = require "asp.pipeline.values"
local stages = require "asp.pipeline.stages"

local P = {}

local Pipeline = {}
Pipeline.__index = Pipeline

local KINDS = { main = true, window = true, payload = true }

local function new(kind, list)
  return setmetatable({ _kind = kind, _stages = list or {} }, Pipeline)
end

local function is_pipeline(v)
  return getmetatable(v) == Pipeline
end

-- Option documents: Lua keys (snake_case or camelCase) -> wire fields in documented
-- order; nested pipelines given as builders become arrays. Returns nil, err on a
-- mistake so the stage method can raise it at the caller's line.
local normalize_options

-- Fields that hold arrays: an empty plain table there means [], not {}.
local LIST_FIELDS = { pipeline = true, payload = true, documents = true }

local function normalize_value(v, sub, label, wire)
  if is_pipeline(v) then return v:build() end
  if LIST_FIELDS[wire] and type(v) == "table" and next(v) == nil and getmetatable(v) == nil then
    return values.array()
  end
  if sub and values.is_document(v) then return normalize_options(v, sub, label) end
  return v
end

function normalize_options(spec, sc, label)
  if not values.is_document(spec) then
    return nil, label .. " takes a table of options, got " .. (type(spec) == "table" and "an array" or type(spec))
  end
  local out, given = {}, {}
  for k, v in pairs(spec) do
    local wire = type(k) == "string" and sc.wire[k]
    if not wire then
      return nil, ("unknown option '%s' for %s"):format(tostring(k), label)
    end
    if given[wire] then
      return nil, ("option '%s' given twice for %s (as '%s' and '%s')"):format(wire, label, given[wire], k)
    end
    given[wire] = k
    local value, err = normalize_value(v, sc.nested[wire], label .. "." .. wire, wire)
    if err then return nil, err end
    out[wire] = value
  end
  local order = {}
  for _, f in ipairs(sc.fields) do
    if out[f] ~= nil then order[#order + 1] = f end
  end
  return values.with_order(out, order)
end

local function is_string_list(t)
  if not values.is_array(t) then return false end
  for _, v in ipairs(t) do
    if type(v) ~= "string" then return false end
  end
  return true
end

-- One function per stage form (stages.lua): method arguments -> stage spec, or nil, err.
local FORMS = {}

function FORMS.options(d, spec)
  return normalize_options(spec, d.schema, d.name)
end

function FORMS.document(d, spec)
  if not values.is_document(spec) then
    return nil, d.method .. " takes a document, got " .. (type(spec) == "table" and "an array" or type(spec))
  end
  return spec
end

function FORMS.expression(d, expr)
  if expr == nil then return nil, d.method .. " takes an expression" end
  return expr
end

-- unset("a"), unset("a", "b") or unset{"a", "b"}
function FORMS.unset(d, ...)
  local n, first = select("#", ...), ...
  if n == 1 and type(first) == "string" then return first end
  local list = (n == 1 and type(first) == "table") and first or { ... }
  if not is_string_list(list) then
    return nil, d.method .. " takes field names: unset(\"a\"), unset(\"a\", \"b\") or unset{\"a\", \"b\"}"
  end
  return list
end

-- unwind("$items") or unwind{path = "$items", include_array_index = "i", ...}
function FORMS.unwind(d, spec)
  if type(spec) == "string" then return spec end
  return normalize_options(spec, d.schema, d.name)
end

-- group{_id = ..., total = {["$sum"] = 1}}: _id goes first. A compound _id has no
-- order in a plain table, so it must be an ordered document.
function FORMS.group(d, spec)
  if not values.is_document(spec) then return nil, "group takes a document" end
  local id = spec._id
  if values.is_document(id) and not values.order_of(id) and values.count_keys(id) > 1 then
    return nil, "group: a compound _id needs a key order, use P.ordered(...)"
  end
  if values.order_of(spec) then return spec end
  local out, order = {}, {}
  for k, v in pairs(spec) do out[k] = v end
  if id ~= nil then order[1] = "_id" end
  return values.with_order(out, order)
end

-- sort("a", 1, "b", -1), sort(P.ordered(...)) or sort{a = 1} (one key only).
function FORMS.sort(d, ...)
  local n, first = select("#", ...), ...
  if n > 1 then
    local ok, doc = pcall(values.ordered, ...)
    if not ok then return nil, "sort takes field, direction pairs" end
    return doc
  end
  if not values.is_document(first) then return nil, "sort takes a document or field, direction pairs" end
  if not values.order_of(first) and values.count_keys(first) > 1 then
    return nil, "sort: more than one key needs a key order, use sort(\"a\", 1, \"b\", -1) or P.ordered(...)"
  end
  return first
end

function FORMS.count(d, field)
  if type(field) ~= "string" then return nil, "count takes the name of the output field" end
  return field
end

function FORMS.limit(d, n)
  if type(n) ~= "number" then return nil, "limit takes a number" end
  return n
end

-- A builder method per stage: p:match{...}, p:tumbling_window{...}, ...
for name, d in pairs(stages.by_name) do
  local form = FORMS[d.form]
  Pipeline[d.method] = function(self, ...)
    local spec, err = form(d, ...)
    if spec == nil then error("asp.pipeline: " .. err, 2) end
    self._stages[#self._stages + 1] = { [name] = spec }
    return self
  end
end

-- Escape hatch: append a stage as given, e.g. p:stage("$function", {...}).
function Pipeline:stage(name, spec)
  if type(name) ~= "string" or spec == nil then
    error("asp.pipeline: stage takes a stage name and its spec", 2)
  end
  self._stages[#self._stages + 1] = { [name] = spec }
  return self
end

-- Append a stage table ({ $match = {...} }) or every stage of another pipeline.
function Pipeline:add(stage)
  if is_pipeline(stage) then
    for _, s in ipairs(stage._stages) do self._stages[#self._stages + 1] = s end
  elseif type(stage) == "table" then
    self._stages[#self._stages + 1] = stage
  else
    error("asp.pipeline: add takes a stage table or a pipeline, got " .. type(stage), 2)
  end
  return self
end

-- The stages as a new array, ready for create, modify and process. The stage tables
-- themselves are shared with the builder.
function Pipeline:build()
  local out = {}
  for i, s in ipairs(self._stages) do out[i] = s end
  return values.array(out)
end

-- true, or nil and every problem found ({index, path, message}); see validate.lua.
function Pipeline:validate(opts)
  return require("asp.pipeline.validate").check(self:build(), self._kind, opts)
end

function Pipeline:kind()
  return self._kind
end

-- Pipelines: the main one, the inner pipeline of a window, the payload of $https /
-- $externalFunction. The kind only decides which placement rules validate applies.
function P.new()
  return new("main")
end

function P.inner()
  return new("window")
end

function P.payload()
  return new("payload")
end

-- Wraps an existing pipeline (a Lua array, one from get_info or a loaded definition,
-- or another builder) to extend or check it. The array is copied, not changed.
function P.from(list, kind)
  kind = kind or "main"
  if not KINDS[kind] then
    error("asp.pipeline: from: kind must be main, window or payload, got " .. tostring(kind), 2)
  end
  if is_pipeline(list) then list = list._stages end
  if type(list) ~= "table" or (next(list) ~= nil and not values.is_array(list)) then
    error("asp.pipeline: from takes an array of stages, got " .. type(list), 2)
  end
  local copy = {}
  for i, s in ipairs(list) do copy[i] = s end
  return new(kind, copy)
end

P.is_pipeline = is_pipeline

-- Checks a plain array of stages, like pipeline:validate.
function P.validate(list, opts)
  if is_pipeline(list) then return list:validate(opts) end
  return require("asp.pipeline.validate").check(list, "main", opts)
end

P.ordered = values.ordered
P.array = values.array
P.duration = values.duration
P.offset = values.offset
P.meta = values.meta

-- Processor definitions {name, pipeline, options} as Extended JSON (definition.lua).
local function definition()
  return require "asp.pipeline.definition"
end

-- A definition whose pipeline is a builder is written with the built array.
local function with_built_pipeline(def)
  if type(def) ~= "table" or not is_pipeline(def.pipeline) then return def end
  return { name = def.name, pipeline = def.pipeline:build(), options = def.options }
end

-- Mistakes in what is about to be written raise here, at the caller's line.
local function checked(def, mode)
  def = with_built_pipeline(def)
  local err = definition().usage_error(def, mode)
  if err then error(err, 3) end
  return def
end

function P.definition(name, pipeline, options)
  if is_pipeline(pipeline) then pipeline = pipeline:build() end
  local def, err = definition().new(name, pipeline, options)
  if not def then error(err, 2) end
  return def
end

function P.decode_definition(json)
  return definition().decode(json)
end

function P.encode_definition(def, mode)
  def = checked(def, mode)
  return definition().encode(def, mode)
end

function P.load_definition(path)
  return definition().load(path)
end

function P.save_definition(path, def, mode)
  def = checked(def, mode)
  return definition().save(path, def, mode)
end

return P
