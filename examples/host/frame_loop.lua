-- The script asp_host runs: set up once, then one cheap step per frame. Each frame polls
-- the sample cursor, which never waits: it returns what has arrived (often nothing).
-- Environment: ASP_URI (the workspace), ASP_HOST_SOURCE (a Sample connection; default
-- sample_stream_solar), ASP_HOST_DOCS (how many documents to collect; default 30).
local asp = require "asp"

local game = {}
local client, proc, cur
local want = tonumber(os.getenv("ASP_HOST_DOCS") or "30")
local got, name = 0, nil

function game.init(id)
  name = "host_" .. id
  local uri = assert(os.getenv("ASP_URI"), "ASP_URI is not set")
  client = assert(asp.connect(uri))
  local sps = client:stream_processors()
  proc = assert(sps:create(name, {
    { ["$source"] = { connectionName = os.getenv("ASP_HOST_SOURCE") or "sample_stream_solar" } },
    { ["$emit"] = { connectionName = "__testLog" } },
  }))
  assert(proc:start())
  cur = assert(proc:sample({ batch_size = 100 }))
end

function game.frame()
  local docs = assert(cur:poll())
  got = got + #docs
  return got >= want
end

function game.finish()
  cur:close()
  assert(proc:stop())
  assert(proc:drop())
  client:close()
  return ("%s: %d documents"):format(name, got)
end

return game
