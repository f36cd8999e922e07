-- lua-asp quickstart: connect, look around, run a processor on the sample solar source,
-- sample its output, read its stats, clean up.
--
--   lua5.4 examples/quickstart.lua 'mongodb://user:password@host:port/?tlsCAFile=...'
local asp = require "asp"

local uri = arg[1] or os.getenv("ASP_URI")
if not uri then
  io.stderr:write("usage: lua5.4 examples/quickstart.lua MONGODB_URI\n")
  os.exit(2)
end

local function step(fmt, ...)
  print(("== " .. fmt):format(...))
end

local client = assert(asp.connect(uri))
step("connected (lua-asp %s)", asp.version)

step("connections in the workspace")
for _, conn in ipairs(assert(client:list_connections())) do
  print(("   %-24s %s"):format(conn.name, conn.type))
end

local sps = client:stream_processors()
local name = "quickstart_solar"
-- A previous run that was interrupted may have left the processor behind.
sps:get(name):drop()

local pipeline = {
  { ["$source"] = { connectionName = "sample_stream_solar" } },
  { ["$emit"] = { connectionName = "__testLog" } },
}
local proc = assert(sps:create(name, pipeline))
step("created %s", proc.name)
assert(proc:start())
step("started; state is %s", assert(proc:info()).state)

step("ten sampled documents (relaxed Extended JSON)")
local n = 0
-- ordered = true keeps the server's key order, so the JSON reads as the source wrote it
for doc in assert(proc:sample({ limit = 10, ordered = true })) do
  n = n + 1
  print(("%3d %s"):format(n, asp.to_json(doc)))
end

local stats = assert(proc:stats())
step("stats")
local s = stats.stats or {}
print(("   state %s, %d documents in, %d out, %.0f bytes out"):format(stats.state,
  s.inputMessageCount or 0, s.outputMessageCount or 0, s.outputMessageSize or 0))

assert(proc:stop())
step("stopped; state is %s", assert(proc:info()).state)
assert(proc:drop())
step("dropped %s", name)
client:close()
