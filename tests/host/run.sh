#!/usr/bin/env bash
# examples/host against a live aspd: asp_host (Lua 5.4 embedded, lua-asp linked
# statically) runs examples/host/frame_loop.lua in its 60 Hz loop, in one lua_State or in
# several threads at once, and must finish cleanly with every state's documents.
#   run.sh <asp_host> [--threads N]
# Environment: ASPD_BIN, ASP_SOURCE_DIR.
set -euo pipefail
host=$1
shift
src=$ASP_SOURCE_DIR
. "$src/tests/support/aspd.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/asp-host.XXXXXX")
cleanup() { aspd_stop; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

# A Sample source at 60 documents a second: a second or so of frames per state.
echo '[{"name": "solar60", "type": "Sample", "docsPerSecond": 60}]' >"$work/connections.json"
aspd_start "$work/aspd" --connections "$work/connections.json"

# Only the source tree's Lua files: asp.core itself is linked into the program.
export LUA_PATH="$src/lua/?.lua;$src/lua/?/init.lua"
export LUA_CPATH=""
export ASP_HOST_SOURCE=solar60 ASP_HOST_DOCS=60
rc=0
out=$("$host" "$src/examples/host/frame_loop.lua" "$@") || rc=$?
echo "$out"
[ "$rc" = 0 ] || { echo "host: asp_host exited $rc" >&2; exit 1; }
states=${2:-1}
[ "$(grep -c 'documents; [0-9]* frames at 60 Hz, longest frame' <<<"$out")" = "$states" ] ||
  { echo "host: expected $states finished states" >&2; exit 1; }
# Frames only poll: even on a loaded machine no frame should come near 100 ms.
awk '{ for (i = 1; i <= NF; i++) if ($i == "frame") { v = $(i + 1) + 0; if (v > max) max = v } }
     END { exit !(max < 100) }' <<<"$out" || { echo "host: a frame took 100 ms or more" >&2; exit 1; }
echo "host: PASS"
