#!/usr/bin/env bash
# The README's demo: start the embedded default workspace (aspd --dev) and run the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
BUILD_DIR=$(cd "${ASP_BUILD_DIR:-build}" && pwd)

out=$(mktemp)
"$BUILD_DIR/bin/aspd" --dev --port 0 --state-dir "$BUILD_DIR/dev-state" >"$out" 2>"$BUILD_DIR/aspd-demo.log" &
aspd_pid=$!
trap 'kill "$aspd_pid" 2>/dev/null; wait "$aspd_pid" 2>/dev/null; rm -f "$out"' EXIT

uri=""
for _ in $(seq 1 100); do
  uri=$(grep -m1 '^mongodb://' "$out" || true)
  [ -n "$uri" ] && break
  sleep 0.1
done
if [ -z "$uri" ]; then
  echo "demo: aspd did not start; see $BUILD_DIR/aspd-demo.log" >&2
  exit 1
fi

export LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;"
export LUA_CPATH="$BUILD_DIR/lua/?.so;;"
lua5.4 examples/quickstart.lua "$uri"
