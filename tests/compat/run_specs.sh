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

# Every spec file; those that cannot apply to this version mark themselves pending with
# the reason (busted lists them).
specs=("$src"/spec/*_spec.lua)

export LUA_PATH="$src/lua/?.lua;$src/lua/?/init.lua;$src/spec/?.lua;;"
export LUA_CPATH="$build_dir/lua/?.so;;"
# spec/cli_spec.lua runs bin/asp with this interpreter.
export ASP_LUA=$interp
cd "$src"
echo "compat: $("$interp" -v 2>&1 | head -n 1), module $build_dir/lua/asp/core.so"
exec "$interp" "$BUSTED_SCRIPT" --helper="$src/spec/helper.lua" -o utfTerminal \
  "${specs[@]}"
