#!/usr/bin/env bash
# Builds aspd and its state-store benchmark if needed, runs it, prints the table.
# Build directory: $ASP_BUILD_DIR (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ASP_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" -DASP_WERROR=ON >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" --target aspd bench_store -- --no-print-directory >/dev/null
# aspd's own log lines (they start with "aspd <time>") are left out of the output.
ASPD_BIN="$BUILD_DIR/bin/aspd" "$BUILD_DIR/bench/bench_store" 2> >(grep -v '^aspd ' >&2)
