#!/usr/bin/env bash
# Configures and builds a sanitizer tree of the project (-O1, one sanitizer set).
#   build.sh <asan|tsan> <build-dir> <target>...
# Environment: ASP_SOURCE_DIR, ASP_CMAKE, ASP_CC (set by tests/sanitize/CMakeLists.txt).
set -euo pipefail
kind=$1
build_dir=$2
shift 2
case $kind in
  # Every undefined behaviour aborts: nothing is "reported and carried on".
  asan) flags="-fsanitize=address,undefined -fno-sanitize-recover=all" ;;
  tsan) flags="-fsanitize=thread" ;;
  *) echo "sanitize: unknown kind $kind" >&2; exit 2 ;;
esac
flags="$flags -fno-omit-frame-pointer"
log="$build_dir.log"
start=$(date +%s)
if ! { "$ASP_CMAKE" -S "$ASP_SOURCE_DIR" -B "$build_dir" -DCMAKE_C_COMPILER="$ASP_CC" \
         -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DCMAKE_C_FLAGS="$flags" \
         -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_MODULE_LINKER_FLAGS="$flags" \
         -DCMAKE_SHARED_LINKER_FLAGS="$flags" -DCMAKE_C_STANDARD_LIBRARIES=-lm \
         -DCMAKE_C_COMPILER_LAUNCHER= -DLUA_VERSION=5.4 &&
       "$ASP_CMAKE" --build "$build_dir" --parallel 2 --target "$@"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "sanitize: the $kind build failed (log: $log)" >&2
  exit 1
fi
echo "sanitize: built $kind tree $build_dir in $(( $(date +%s) - start )) s"
