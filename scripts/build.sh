#!/usr/bin/env bash
# Configures and builds into build/ (or $ASP_BUILD_DIR). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ASP_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DASP_WERROR=ON "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" -- --no-print-directory >/dev/null
