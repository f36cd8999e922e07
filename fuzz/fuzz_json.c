/* Extended JSON input: asp.core.from_json on arbitrary text, both output modes of
 * to_json on what it gives, and from_json again on that output. */
#include "lua_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char chunk[] =
    "local core = ...\n"
    "return function(text)\n"
    "  local ok, v = pcall(core.from_json, text)\n"
    "  if not ok or v == nil then return end\n"
    "  for _, mode in ipairs({ 'relaxed', 'canonical' }) do\n"
    "    local okj, out = pcall(core.to_json, v, mode)\n"
    "    if not okj then error('INVARIANT: to_json(' .. mode .. ') failed: ' .. tostring(out)) "
    "end\n"
    "    local okb, back, err = pcall(core.from_json, out)\n"
    "    if not okb or back == nil then\n"
    "      error('INVARIANT: to_json output does not parse: ' .. tostring(back or err))\n"
    "    end\n"
    "  end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_lua_run(chunk, data, size);
  return 0;
}
