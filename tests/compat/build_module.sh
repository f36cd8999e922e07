#!/usr/bin/env bash
# Builds asp.core for another Lua ABI into its own tree (<build-dir>/lua/asp/core.so).
#   build_module.sh <lua-version> <build-dir> [cmake configure arguments...]
# Only the module target: aspd and the C tests come from the main build. Environment:
# ASP_SOURCE_DIR, ASP_CMAKE (both set by tests/compat/CMakeLists.txt).
set -euo pipefail
version=$1
build_dir=$2
shift 2

log="$build_dir.log"
if ! { "$ASP_CMAKE" -S "$ASP_SOURCE_DIR" -B "$build_dir" -DLUA_VERSION="$version" \
         -DASP_BUILD_TESTS=OFF "$@" &&
       "$ASP_CMAKE" --build "$build_dir" --target asp_binding --parallel "$(nproc)"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "compat: building asp.core for Lua $version failed (log: $log)" >&2
  exit 1
fi
echo "compat: built $build_dir/lua/asp/core.so for Lua $version"
