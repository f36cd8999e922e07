#!/usr/bin/env bash
# LuaRocks: `luarocks make` of the top-level rockspec into a fresh tree, then, with only
# that tree on the Lua paths, `require "asp"` and the installed `asp` command against a
# live aspd.
#   run.sh <lua-version> <project-version>
# Environment: ASP_SOURCE_DIR, ASPD_BIN. The rockspec's version must be the project's.
set -euo pipefail
version=$1
project_version=$2
src=$ASP_SOURCE_DIR
. "$src/tests/support/aspd.sh"

rockspec=$(cd "$src" && ls lua-asp-*.rockspec)
[ "$(echo "$rockspec" | wc -l)" = 1 ] || { echo "luarocks: expected one rockspec, found: $rockspec" >&2; exit 1; }
[ "$rockspec" = "lua-asp-$project_version-1.rockspec" ] ||
  { echo "luarocks: $rockspec does not match the CMake project version $project_version" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/asp-luarocks.XXXXXX")
cleanup() { aspd_stop; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

# A copy of what the rockspec builds from: builtin builds put objects beside the sources,
# and two versions build at once.
mkdir "$work/src"
cp -r "$src/$rockspec" "$src/src" "$src/lua" "$src/bin" "$work/src/"
tree="$work/tree"
if ! (cd "$work/src" && luarocks --lua-version "$version" --tree "$tree" make "$rockspec") >"$work/make.log" 2>&1; then
  tail -n 30 "$work/make.log" >&2
  echo "luarocks: make failed for Lua $version" >&2
  exit 1
fi
tail -n 1 "$work/make.log"
rm -rf "$work/src"

interp=lua$version
[ "$version" = 5.1 ] && interp=lua5.1
empty="$work/empty"
mkdir "$empty"
cd "$empty"
# Only the tree: no ";;", so neither the system's paths nor the source tree count.
export LUA_PATH="$tree/share/lua/$version/?.lua;$tree/share/lua/$version/?/init.lua"
export LUA_CPATH="$tree/lib/lua/$version/?.so"
ASP_EXPECTED_VERSION=$project_version "$interp" -e '
  local asp = require "asp"
  local want = os.getenv("ASP_EXPECTED_VERSION")
  assert(asp.version == want, "asp.version " .. tostring(asp.version) .. " ~= " .. want)
  print("luarocks: require \"asp\" " .. asp.version .. " on " .. _VERSION)
' || { echo "luarocks: require failed" >&2; exit 1; }

aspd_start "$work/aspd"
"$tree/bin/asp" --help | head -n 1
"$tree/bin/asp" workspace defaults -o json
"$tree/bin/asp" workspace defaults -o json | grep -q '"defaultTierSize"'
echo "luarocks: PASS (Lua $version)"
