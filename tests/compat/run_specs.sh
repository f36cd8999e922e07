#!/usr/bin/env bash
# Runs the Lua specs under <interp> against the asp.core that build_module.sh made for
# that ABI in <build-dir>, and against the main build's aspd.
#   run_specs.sh <lua-version> <interp> <build-dir>
# Environment (set by tests/compat/CMakeLists.txt): ASP_SOURCE_DIR, ASPD_BIN, BUSTED_SCRIPT.
set -euo pipefail
version=$1
interp=$2
build_dir=$3
src=$ASP_SOURCE_DIR

# Spec files written for Lua 5.3+ by design: they build their expectations with
# string.pack / math.type and the integer subtype. values_compat_spec.lua states the
# 5.1 / LuaJIT number rules instead.
skip_files=(
  values_containers_spec.lua
  values_json_spec.lua
  values_numbers_spec.lua
  values_typed_spec.lua
)
# Single tests in otherwise portable files that use 5.3+ helpers (busted --filter-out
# takes Lua patterns on the full test name).
skip_tests=(
  "sampled documents decode to plain Lua values"   # values_live_spec.lua: math.type
  "101 levels are an error on decode"              # values_errors_spec.lua: string.pack
  "corrupt BSON is refused with nil, err"          # values_errors_spec.lua: string.pack
)
# PUC 5.1's coroutine.create takes Lua functions only; the specs make threads of `print`.
if [ "$version" = 5.1 ]; then
  skip_tests+=(
    "use the name the caller gives"                # values_errors_spec.lua:52
    "functions, threads and userdata are refused"  # values_errors_spec.lua:61
  )
fi

specs=()
for spec in "$src"/spec/*_spec.lua; do
  name=${spec##*/}
  [[ " ${skip_files[*]} " == *" $name "* ]] || specs+=("$spec")
done
filters=()
for t in "${skip_tests[@]}"; do filters+=("--filter-out=$t"); done

export LUA_PATH="$src/lua/?.lua;$src/lua/?/init.lua;$src/spec/?.lua;;"
export LUA_CPATH="$build_dir/lua/?.so;;"
# spec/cli_spec.lua runs bin/asp with this interpreter.
export ASP_LUA=$interp
cd "$src"
echo "compat: $("$interp" -v 2>&1 | head -n 1), module $build_dir/lua/asp/core.so"
exec "$interp" "$BUSTED_SCRIPT" --helper="$src/spec/helper.lua" -o utfTerminal \
  "${filters[@]}" "${specs[@]}"
