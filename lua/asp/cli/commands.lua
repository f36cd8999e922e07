-- Every `asp` command, one row each: its words (the Atlas CLI's nouns and verbs where they
-- overlap), positional arguments, flags, a one-line summary and the function that runs
-- it. Adding a command is adding a row here and its function in the noun's file.
local processors = require "asp.cli.processors"
local stream = require "asp.cli.stream"
local workspace = require "asp.cli.workspace"
local connections = require "asp.cli.connections"
local privatelinks = require "asp.cli.privatelinks"

local WAIT = {
  { "--no-wait", help = "return at once instead of waiting for the new state" },
  { "--timeout", arg = "SECONDS", kind = "integer", help = "how long to wait for the new state (default 60)" },
}
local FORCE = { { "--force", help = "do not ask for confirmation" } }
local TIER = { "--tier", arg = "TIER", help = "SP2, SP5, SP10, SP30 or SP50" }
local LIMIT = { "--limit", arg = "N", kind = "integer", help = "stop after N documents (default: until Ctrl-C)" }
local CONN_FILE = { "--file", short = "-f", arg = "FILE", help = "a connection as JSON, e.g. {\"name\": \"k\", \"type\": \"Kafka\", ...}" }
local BATCH = { "--batch-size", arg = "N", kind = "integer", help = "documents per getMore" }

local function with(list, ...)
  local out = {}
  for _, f in ipairs(list) do out[#out + 1] = f end
  for _, f in ipairs({ ... }) do out[#out + 1] = f end
  return out
end

return {
  { noun = "processors", verb = "list", args = {}, run = processors.list,
    summary = "list the workspace's stream processors",
    flags = { { "--state", arg = "STATE", help = "only processors in this state (e.g. STARTED)" } } },
  { noun = "processors", verb = "describe", args = { "NAME" }, run = processors.describe,
    summary = "show one processor: state, pipeline, options" },
  { noun = "processors", verb = "create", args = { "[NAME]" }, run = processors.create,
    summary = "create a processor from a pipeline or definition file",
    required_flags = { "--file" },
    flags = { { "--file", short = "-f", arg = "FILE", help = "a JSON pipeline array or a definition {name, pipeline, options}" },
              TIER } },
  { noun = "processors", verb = "start", args = { "NAME" }, run = processors.start,
    summary = "start a processor and wait until it runs",
    flags = with(WAIT, { "--workers", arg = "N", kind = "integer", help = "number of workers" },
      { "--clear-checkpoints", help = "start from scratch instead of the last checkpoint" }, TIER) },
  { noun = "processors", verb = "stop", args = { "NAME" }, run = processors.stop,
    summary = "stop a processor and wait until it has stopped", flags = WAIT },
  { noun = "processors", verb = "drop", args = { "NAME" }, run = processors.drop,
    summary = "delete a processor (asks first)", flags = FORCE },
  { noun = "processors", verb = "stats", args = { "NAME" }, run = processors.stats,
    summary = "show a processor's statistics",
    flags = { { "--verbose", help = "per-operator statistics" },
              { "--scale", arg = "N", kind = "integer", help = "divide sizes by N (1024: KiB)" } } },
  { noun = "processors", verb = "modify", args = { "NAME" }, run = processors.modify,
    summary = "change a stopped processor's pipeline, name, tier or DLQ",
    flags = { { "--file", short = "-f", arg = "FILE", help = "new pipeline (JSON array) or definition" },
              { "--new-name", arg = "NAME", help = "rename the processor" }, TIER,
              { "--no-dlq", help = "remove the dead letter queue" },
              { "--resume-from-checkpoint", help = "keep the checkpoint across the change" },
              { "--no-resume-from-checkpoint", help = "start over after the change" } } },
  { noun = "processors", verb = "apply", args = {}, run = processors.apply,
    summary = "create or modify a processor to match a definition file",
    required_flags = { "--file" },
    flags = with(WAIT, { "--file", short = "-f", arg = "FILE", help = "definition {name, pipeline, options}" },
      { "--start", help = "start the processor if it is not running" }) },
  { noun = "sample", args = { "NAME" }, run = stream.sample,
    summary = "stream a running processor's output until --limit or Ctrl-C",
    flags = { LIMIT, BATCH } },
  { noun = "process", args = {}, run = stream.process,
    summary = "run a pipeline as an ephemeral processor and stream its output",
    required_flags = { "--file" },
    flags = { { "--file", short = "-f", arg = "FILE", help = "a JSON pipeline array or a definition" }, LIMIT, BATCH } },
  { noun = "workspace", verb = "defaults", args = {}, run = workspace.defaults,
    summary = "show the workspace's default and maximum tier" },
  -- The Admin API (HTTPS): admin = true adds its flags (URL, project, workspace, keys).
  { noun = "connections", verb = "list", args = {}, run = connections.list, admin = true,
    summary = "list the workspace's connection registry" },
  { noun = "connections", verb = "describe", args = { "NAME" }, run = connections.describe, admin = true,
    summary = "show one connection" },
  { noun = "connections", verb = "create", args = { "[NAME]" }, run = connections.create, admin = true,
    summary = "add a connection from a JSON file (the Admin API's shape)", required_flags = { "--file" },
    flags = { CONN_FILE } },
  { noun = "connections", verb = "update", args = { "NAME" }, run = connections.update, admin = true,
    summary = "change a connection to the JSON file's fields", required_flags = { "--file" },
    flags = { CONN_FILE } },
  { noun = "connections", verb = "delete", args = { "NAME" }, run = connections.delete, admin = true,
    summary = "remove a connection (asks first)", flags = FORCE },
  { noun = "privatelinks", verb = "list", args = {}, run = privatelinks.list, admin = true,
    summary = "list the project's Private Link connections" },
  { noun = "privatelinks", verb = "describe", args = { "ID" }, run = privatelinks.describe, admin = true,
    summary = "show one Private Link connection" },
  { noun = "privatelinks", verb = "delete", args = { "ID" }, run = privatelinks.delete, admin = true,
    summary = "remove a Private Link connection (asks first)", flags = FORCE },
}
