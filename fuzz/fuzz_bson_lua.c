/* BSON -> Lua: asp.core.bson_decode on arbitrary bytes. What decodes must encode again,
 * and that encoding must decode. The ordered mode must give the same bytes on a second
 * decode (which goes through the shape cache the first one filled), and a lazy document
 * must encode to the bytes it was made from. */
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
    "  local o1, o2 = core.bson_decode(bytes, true), core.bson_decode(bytes, true)\n"
    "  if o1 == nil or o2 == nil then error('INVARIANT: ordered decode fails where plain works') "
    "end\n"
    "  local e1, e2 = core.bson_encode(o1), core.bson_encode(o2)\n"
    "  if e1 == nil or e1 ~= e2 then error('INVARIANT: a second ordered decode differs') end\n"
    "  o2.__fuzz_new_key = 1\n"
    "  if core.bson_encode(core.bson_decode(bytes, true)) ~= e1 then\n"
    "    error('INVARIANT: a key added to one ordered document shows in another')\n"
    "  end\n"
    "  local z = core.bson_decode(bytes, 'lazy')\n"
    "  if z == nil then error('INVARIANT: lazy decode fails where plain works') end\n"
    "  if core.bson_encode(z) ~= bytes then error('INVARIANT: a lazy document changes its bytes') "
    "end\n"
    "  pcall(core.materialize, z)\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_lua_run(chunk, data, size);
  return 0;
}
