#!/usr/bin/env bash
# Admin API round trips per second from Lua (asp.admin) against aspd, and the Lua/curl time
# ratio for the same requests (get one connection; list 100; get one with a bearer token),
# from interleaved rounds with min, median and max. bench/admin.lua does the measuring; any failed request fails the run.
# Usage: bench/admin.sh   (BUILD_DIR from $ASP_BUILD_DIR, default build; ASPD, the server
#        binary, default $BUILD_DIR/bin/aspd; ROUNDS, N_GET, N_LIST override the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=$(realpath "${ASP_BUILD_DIR:-build}")
ASPD=${ASPD:-$BUILD_DIR/bin/aspd}
command -v curl >/dev/null || { echo "bench/admin.sh: the curl tool is missing (scripts/setup.sh)" >&2; exit 1; }
if [ ! -x "$ASPD" ] || [ ! -f "$BUILD_DIR/lua/asp/core.so" ]; then
  ASP_BUILD_DIR="$BUILD_DIR" scripts/build.sh
fi
export LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;"
export LUA_CPATH="$BUILD_DIR/lua/?.so;;"

work=$(mktemp -d)
# a service account too, for the bearer-token round (its secret stays in this run)
sa_secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$ASPD" --dev --port 0 --state-dir "$work/state" \
  --service-account "bench-sa:$sa_secret:GROUP_OWNER" >"$work/out" 2>"$work/aspd.log" &
aspd_pid=$!
trap 'kill "$aspd_pid" 2>/dev/null; wait "$aspd_pid" 2>/dev/null; rm -rf "$work"' EXIT
uri=""
for _ in $(seq 1 100); do
  uri=$(grep -m1 '^mongodb://' "$work/out" || true)
  [ -n "$uri" ] && break
  kill -0 "$aspd_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$uri" ] || { echo "bench/admin.sh: aspd did not start" >&2; cat "$work/aspd.log" >&2; exit 1; }
api=$(grep -m1 '^admin-api: ' "$work/out" | cut -d' ' -f2)
key=$(grep -m1 '^admin-api-key: ' "$work/out" | cut -d' ' -f2)
[ -n "$api" ] && [ -n "$key" ] || { echo "bench/admin.sh: aspd printed no admin-api lines" >&2; exit 1; }
ca=${uri##*tlsCAFile=}
ca=${ca%%&*}
# https://HOST:PORT/api/atlas/v2/groups/GROUP/streams/WORKSPACE
root=${api%%/api/atlas/v2/*}
rest=${api#*/groups/}
group=${rest%%/*}
workspace=${rest##*/streams/}
lua5.4 bench/admin.lua "$root" "$group" "$workspace" "${key%%:*}" "${key#*:}" "$ca" \
  bench-sa "$sa_secret"
