#!/usr/bin/env bash
# aspd under load: 200 concurrent clients x 1,000 commands, then 20 concurrent samplers on
# one processor with sequence-numbered input. Prints commands/s, p50/p99 latency and aspd's
# memory; fails (exit 1) on any error, lost, duplicated or reordered document.
# Build directory: $ASP_BUILD_DIR (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ASP_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" >/dev/null
fi
cmake --build "$BUILD_DIR" -j 2 --target aspd bench_load -- --no-print-directory >/dev/null
ulimit -n 4096 2>/dev/null || true
ASPD_BIN="$BUILD_DIR/bin/aspd" "$BUILD_DIR/bench/bench_load" 2> >(grep -v '^aspd ' >&2)
