/* Lua -> BSON: asp.core.bson_encode on tables generated from the input bytes: integers at
 * the int32/int64 edges, floats (NaN, infinities), strings that are not UTF-8, booleans,
 * null, arrays with holes, mixed keys, shared and cyclic tables, nesting past the limit,
 * typed values (asp int32/int64/double/objectid/date/timestamp/decimal128/binary/regex),
 * ordered documents, functions and threads. Whatever encodes must decode. */
#include "lua_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char chunk[] =
    "local core = ...\n"
    "local typed = { 'int32', 'int64', 'double', 'objectid', 'date', 'timestamp',\n"
    "                'decimal128', 'binary', 'regex' }\n"
    "return function(bytes)\n"
    "  local pos = 0\n"
    "  local function byte() pos = pos + 1; return bytes:byte(pos) or 0 end\n"
    "  local function take(n) local s = bytes:sub(pos + 1, pos + n); pos = pos + n; return s end\n"
    "  local made = {}\n"
    "  local gen\n"
    "  local function key()\n"
    "    local k = byte() % 4\n"
    "    if k == 0 then return take(byte() % 8) end\n"
    "    if k == 1 then return byte() % 6 end\n"
    "    if k == 2 then return byte() - 128 end\n"
    "    return ({ '_id', '$match', 'a.b', '' })[byte() % 4 + 1]\n"
    "  end\n"
    "  gen = function(depth)\n"
    "    if pos >= #bytes or depth > 110 then return 1 end\n"
    "    local b = byte() % 16\n"
    "    if b == 0 then return byte() - 128 end\n"
    "    if b == 1 then local s = take(8); if #s == 8 then return (string.unpack('<i8', s)) end "
    "return 0 end\n"
    "    if b == 2 then local s = take(8); if #s == 8 then return (string.unpack('<d', s)) end "
    "return 0.5 end\n"
    "    if b == 3 then return take(byte() % 24) end\n"
    "    if b == 4 then return byte() % 2 == 0 end\n"
    "    if b == 5 then return core.null end\n"
    "    if b == 6 or b == 7 then\n"
    "      local t = {}; made[#made + 1] = t\n"
    "      for i = 1, byte() % 6 do t[i] = gen(depth + 1) end\n"
    "      if b == 7 and byte() % 3 == 0 then t[byte() % 9 + 1] = gen(depth + 1) end\n"
    "      return t\n"
    "    end\n"
    "    if b == 8 or b == 9 then\n"
    "      local t = {}; made[#made + 1] = t\n"
    "      for _ = 1, byte() % 6 do t[key()] = gen(depth + 1) end\n"
    "      return t\n"
    "    end\n"
    "    if b == 10 and #made > 0 then return made[byte() % #made + 1] end\n"
    "    if b == 11 then\n"
    "      local name = typed[byte() % #typed + 1]\n"
    "      local ok, v = pcall(core[name], gen(depth + 1), gen(depth + 1))\n"
    "      if ok then return v end\n"
    "      return take(4)\n"
    "    end\n"
    "    if b == 12 then return core.array({ gen(depth + 1), gen(depth + 1) }) end\n"
    "    if b == 13 then\n"
    "      local parts = {}\n"
    "      for _ = 1, byte() % 4 do parts[#parts + 1] = key(); parts[#parts + 1] = gen(depth + 1) "
    "end\n"
    "      local ok, v = pcall(core.ordered, parts)\n"
    "      if ok then return v end\n"
    "      return parts\n"
    "    end\n"
    "    if b == 14 then return ({ print, coroutine.create(print), io.stdout })[byte() % 3 + 1] "
    "end\n"
    "    return gen(depth + 1)\n"
    "  end\n"
    "  local value = gen(0)\n"
    "  local ok, encoded = pcall(core.bson_encode, value)\n"
    "  if not ok or type(encoded) ~= 'string' then return end\n"
    "  local okd, err = pcall(core.bson_decode, encoded)\n"
    "  if not okd then error('INVARIANT: encoded bytes do not decode: ' .. tostring(err)) end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_lua_run(chunk, data, size);
  return 0;
}
