#!/usr/bin/env bash
# `cmake --install` of the build into a fresh prefix, then, with only that prefix on the
# Lua paths, `require "asp"` and the installed `asp` command against a live aspd.
#   run.sh <cmake> <build-dir> <lua-interpreter>
# Environment: ASPD_BIN, ASP_SOURCE_DIR.
set -euo pipefail
cmake_bin=$1
build=$2
interp=$3
. "$ASP_SOURCE_DIR/tests/support/aspd.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/asp-install.XXXXXX")
cleanup() { aspd_stop; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

"$cmake_bin" --install "$build" --prefix "$work/prefix" >"$work/install.log"
prefix=$work/prefix
cd "$work"
unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4
# The launcher carries the prefix's paths; the interpreter alone gets them from the env.
ver=$("$interp" -e 'io.write((_VERSION:gsub("Lua ", "")))')
LUA_PATH="$prefix/share/lua/$ver/?.lua;$prefix/share/lua/$ver/?/init.lua" \
LUA_CPATH="$prefix/lib/lua/$ver/?.so" \
  "$interp" -e 'local asp = require "asp"; print("install: require \"asp\" " .. asp.version)'

aspd_start "$work/aspd"
"$prefix/bin/asp" --help | head -n 1
out=$("$prefix/bin/asp" workspace defaults -o json)
echo "$out"
grep -q '"defaultTierSize"' <<<"$out"
echo "install: PASS"
