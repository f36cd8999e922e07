-- Codec benchmarks, each side by side with its reference in interleaved rounds (the two
-- sides alternate, and which goes first alternates too), every figure the ratio of the
-- two rates with its min / median / max over the rounds:
--   decode   BSON -> Lua (asp.core.bson_decode) vs cjson.decode of the same documents as JSON
--   encode   Lua -> BSON (asp.core.bson_encode) vs cjson.encode of the same tables
--   ordered  ordered decode (as for every info, list and stats reply) vs plain decode
--   lazy     a lazy decode reading obs.watts and device_id vs a plain decode reading them
-- Usage: lua5.4 bench/codec.lua [build-dir]   (default: $ASP_BUILD_DIR or build)
-- Data: bench/data/solar-10k.jsonl. A missing file or module is an error.
local script_dir = (arg[0]:match("^(.*)/[^/]*$") or ".")
local repo = script_dir .. "/.."
local build = arg[1] or os.getenv("ASP_BUILD_DIR") or (repo .. "/build")
package.cpath = build .. "/lua/?.so;" .. package.cpath
package.path = repo .. "/lua/?.lua;" .. repo .. "/lua/?/init.lua;" .. package.path

local asp = require "asp.core"
local cjson = require "cjson"

local path = script_dir .. "/data/solar-10k.jsonl"
local f = assert(io.open(path, "r"))
local lines = {}
for line in f:lines() do
  if line ~= "" then lines[#lines + 1] = line end
end
f:close()
assert(#lines > 0, "no documents in " .. path)

-- The BSON form of each line as libbson reads the JSON. Both inputs are laid out alike:
-- the JSON lines come from one read loop, and the BSON strings are cut from one buffer in
-- one loop too, rather than left scattered among the garbage of the conversion.
local n = #lines
local encoded, sizes = {}, {}
for i, line in ipairs(lines) do
  encoded[i] = assert(asp.bson_encode(assert(asp.from_json(line))))
  sizes[i] = #encoded[i]
end
local buffer = table.concat(encoded)
encoded = nil
collectgarbage()
local bsons, pos = {}, 1
for i = 1, n do
  bsons[i] = buffer:sub(pos, pos + sizes[i] - 1)
  pos = pos + sizes[i]
end

local clock = os.clock
local ROUNDS = tonumber(os.getenv("ASP_BENCH_ROUNDS")) or 15

-- One timed pass over all inputs, in seconds of CPU time.
local function pass(fn, input)
  collectgarbage()
  collectgarbage()
  local t0 = clock()
  for i = 1, n do fn(input[i]) end
  return clock() - t0
end

-- Interleaved rounds; returns the ratios rate_a / rate_b, one per round.
local function ratios(fn_a, input_a, fn_b, input_b)
  local out = {}
  for round = 1, ROUNDS do
    local ta, tb
    if round % 2 == 1 then
      ta = pass(fn_a, input_a)
      tb = pass(fn_b, input_b)
    else
      tb = pass(fn_b, input_b)
      ta = pass(fn_a, input_a)
    end
    out[round] = tb / ta
  end
  return out
end

local function spread(r)
  table.sort(r)
  local m = #r % 2 == 1 and r[(#r + 1) / 2] or (r[#r / 2] + r[#r / 2 + 1]) / 2
  return ("min %.3f  median %.3f  max %.3f"):format(r[1], m, r[#r]), m
end

local bson_decode, bson_encode = asp.bson_decode, asp.bson_encode
local cjson_decode, cjson_encode = cjson.decode, cjson.encode

print(("codec: %d documents from bench/data, %d interleaved rounds, %s"):format(n, ROUNDS,
  _VERSION))
local text, median = spread(ratios(bson_decode, bsons, cjson_decode, lines))
print(("  decode   rate asp/cjson            %s   (target >= 2.0)"):format(text))

-- The tables both encoders get are made only now, so that the decode comparison above
-- runs with the same small live heap on both sides.
local tables = {}
for i = 1, n do tables[i] = bson_decode(bsons[i]) end
text = spread(ratios(bson_encode, tables, cjson_encode, tables))
print(("  encode   rate asp/cjson            %s   (target >= 1.0)"):format(text))
tables = nil

local function ordered(b) return bson_decode(b, true) end
text, median = spread(ratios(bson_decode, bsons, ordered, bsons))
print(("  ordered  cost ordered/plain        %s   (target <= 1.6)"):format(text))

local sink = 0
-- fault documents carry no readings
local function read2(doc)
  local obs = doc.obs
  if obs then sink = sink + obs.watts end
  sink = sink + #doc.device_id
end
local function plain_read(b) read2(bson_decode(b)) end
local function lazy_read(b) read2(bson_decode(b, "lazy")) end
text = spread(ratios(lazy_read, bsons, plain_read, bsons))
print(("  lazy     rate lazy/plain, 2 fields %s"):format(text))
assert(sink > 0)
