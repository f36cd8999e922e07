/* BSON -> Lua: asp.core.bson_decode on arbitrary bytes. What decodes must encode again,
 * and that encoding must decode. */
#include "lua_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char chunk[] =
    "local core = ...\n"
    "return function(bytes)\n"
    "  local ok, v = pcall(core.bson_decode, bytes)\n"
    "  if not ok or v == nil then return end\n"
    "  local okj = pcall(core.to_json, v)\n"
    "  local oke, again = pcall(core.bson_encode, v)\n"
    "  if not oke then error('INVARIANT: decoded value does not encode: ' .. tostring(again)) end\n"
    "  local okd, err = pcall(core.bson_decode, again)\n"
    "  if not okd then error('INVARIANT: re-encoded bytes do not decode: ' .. tostring(err)) end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_lua_run(chunk, data, size);
  return 0;
}
