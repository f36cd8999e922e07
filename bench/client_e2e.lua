-- Benchmarks (c) and (d), the Lua side; bench/client.sh runs it next to the C references.
--   lua5.4 bench/client_e2e.lua setup URI PROCESSOR SOURCE     create + start the processor
--   lua5.4 bench/client_e2e.lua sample URI PROCESSOR N BATCH_SIZE POLL_MS [DECODE]
--                                 -> docs per second and CPU microseconds per document, reading
--                                    obs.watts and device_id of each document (DECODE: plain,
--                                    the default, or lazy)
--   lua5.4 bench/client_e2e.lua get_info URI PROCESSOR N [BLOCKS]
--                                 -> microseconds per round trip, one line per block of N
--   lua5.4 bench/client_e2e.lua teardown URI PROCESSOR         stop + drop
local asp = require "asp"
local core = require "asp.core"

local mode, uri, name = arg[1], arg[2], arg[3]
local client = assert(asp.connect(uri))
local sps = client:stream_processors()

if mode == "setup" then
  sps:get(name):drop()
  local proc = assert(sps:create(name, {
    { ["$source"] = { connectionName = arg[4] } },
    { ["$emit"] = { connectionName = "__testLog" } },
  }))
  assert(proc:start())
elseif mode == "sample" then
  local n, batch_size, poll_ms = tonumber(arg[4]), tonumber(arg[5]), tonumber(arg[6])
  local got, watts, id_bytes = 0, 0, 0
  local cur = assert(sps:get(name):sample({ batch_size = batch_size, poll_interval_ms = poll_ms,
    decode = arg[7] or "plain" }))
  local t0, c0 = core.now(), os.clock()
  for doc in cur do
    local obs = doc.obs -- fault documents carry no readings
    if obs then watts = watts + (obs.watts or 0) end
    local id = doc.device_id
    if id then id_bytes = id_bytes + #id end
    got = got + 1
    if got == n then break end
  end
  local elapsed, cpu = core.now() - t0, os.clock() - c0
  cur:close()
  print(("%.0f %.4f"):format(got / elapsed, cpu / got * 1e6))
  io.stderr:write(("client_e2e: %d documents in %.3f s (watts sum %d, %d id bytes)\n"):format(got,
    elapsed, watts, id_bytes))
elseif mode == "get_info" then
  local n, blocks = tonumber(arg[4]), tonumber(arg[5] or 1)
  assert(sps:get_info(name)) -- warm up
  for _ = 1, blocks do
    local t0 = core.now()
    for _ = 1, n do assert(sps:get_info(name)) end
    print(("%.2f"):format((core.now() - t0) / n * 1e6))
  end
elseif mode == "teardown" then
  local proc = sps:get(name)
  proc:stop()
  assert(proc:drop())
else
  error("unknown mode " .. tostring(mode))
end
client:close()
