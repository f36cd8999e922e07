-- Codec benchmarks (a) and (b) of issue 3, side by side in one run:
--   (a) BSON -> Lua decode (asp.core.bson_decode) vs cjson.decode of the same documents as JSON
--   (b) Lua -> BSON encode (asp.core.bson_encode) vs cjson.encode of the same tables
-- Usage: lua5.4 bench/codec.lua [build-dir]   (default: $ASP_BUILD_DIR or build)
-- Data: $ASP_SHARED_DIR/data/solar-10k.jsonl (default ../shared next to the repository).
local script_dir = (arg[0]:match("^(.*)/[^/]*$") or ".")
local repo = script_dir .. "/.."
local build = arg[1] or os.getenv("ASP_BUILD_DIR") or (repo .. "/build")
package.cpath = build .. "/lua/?.so;" .. package.cpath
package.path = repo .. "/lua/?.lua;" .. repo .. "/lua/?/init.lua;" .. package.path

local asp = require "asp.core"
local cjson = require "cjson"

local shared = os.getenv("ASP_SHARED_DIR") or (repo .. "/../shared")
local path = shared .. "/data/solar-10k.jsonl"
local f = assert(io.open(path, "r"))
local lines = {}
for line in f:lines() do
  if line ~= "" then lines[#lines + 1] = line end
end
f:close()

-- The BSON form of each line as libbson reads the JSON (integers become int32, as the
-- source sends them).
-- Both inputs are laid out alike: the JSON lines come from one read loop, and the BSON
-- strings are cut from one buffer in one loop too, rather than left scattered among the
-- garbage of the conversion (which costs the decoder cache misses cjson does not pay).
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
local ROUNDS = tonumber(os.getenv("ASP_BENCH_ROUNDS")) or 25

-- One timed pass over all inputs, in seconds of CPU time.
local function pass(fn, input)
  collectgarbage()
  collectgarbage()
  local t0 = clock()
  for i = 1, n do fn(input[i]) end
  return clock() - t0
end

-- The two sides of a comparison alternate round by round, so that a busy machine
-- slows both alike; the best round of each (the least disturbed) gives its rate.
local function compare(fn_a, input_a, fn_b, input_b)
  local best_a, best_b = math.huge, math.huge
  for _ = 1, ROUNDS do
    best_a = math.min(best_a, pass(fn_a, input_a))
    best_b = math.min(best_b, pass(fn_b, input_b))
  end
  return n / best_a, n / best_b
end

local bson_decode, bson_encode = asp.bson_decode, asp.bson_encode
local cjson_decode, cjson_encode = cjson.decode, cjson.encode

local function line(label, r)
  print(string.format("  %-34s %12.0f docs/s", label, r))
end

print(string.format("codec benchmark: %d documents from %s, best of %d rounds, %s",
  n, path, ROUNDS, _VERSION))
local cj_dec, asp_dec = compare(cjson_decode, lines, bson_decode, bsons)
line("cjson.decode (JSON -> Lua)", cj_dec)
line("asp bson_decode (BSON -> Lua)", asp_dec)
-- The tables both encoders get are made only now, so that the decode comparison above
-- runs with the same small live heap on both sides as a program that consumes its
-- documents would have.
local tables = {}
for i = 1, n do tables[i] = bson_decode(bsons[i]) end
local cj_enc, asp_enc = compare(cjson_encode, tables, bson_encode, tables)
line("cjson.encode (Lua -> JSON)", cj_enc)
line("asp bson_encode (Lua -> BSON)", asp_enc)
local ratio_a, ratio_b = asp_dec / cj_dec, asp_enc / cj_enc
print(string.format("(a) decode ratio asp/cjson: %.2f (target >= 2.0) %s", ratio_a,
  ratio_a >= 2.0 and "ok" or "BELOW TARGET"))
print(string.format("(b) encode ratio asp/cjson: %.2f (target >= 1.0) %s", ratio_b,
  ratio_b >= 1.0 and "ok" or "BELOW TARGET"))
