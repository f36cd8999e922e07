#!/usr/bin/env bash
# Long fuzzing: builds the fuzzers (clang, ASan+UBSan) and runs each for SECONDS (default
# 3600), two at a time, keeping the inputs they find in $ASP_FUZZ_CORPUS (default
# build/fuzz-corpus) so the next run starts from there.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 14400 fuzz_wire
# A failure leaves the input in build/fuzz-tree/artifacts/<target>/crash-*: copy it to
# fuzz/regressions/<target>/ (named for what it found), fix the bug, and add a test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-3600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_wire fuzz_scram fuzz_pipeline fuzz_admin fuzz_bson_lua fuzz_lua_bson fuzz_json)
build=${ASP_BUILD_DIR:-build}
export ASP_SOURCE_DIR=$PWD ASP_CMAKE=cmake ASP_CLANG=${ASP_CLANG:-clang}
export ASP_FUZZ_CORPUS=${ASP_FUZZ_CORPUS:-$PWD/$build/fuzz-corpus}
fuzz/run.sh build "$PWD/$build/fuzz-tree" "${targets[@]}"
status=0
printf '%s\n' "${targets[@]}" |
  xargs -P 2 -I{} sh -c 'fuzz/run.sh run "$1" {} "$2" > "$1/{}.out" 2>&1 || { echo "{}: FAILED (see $1/{}.out)"; exit 1; }; echo "{}: ok"' _ "$PWD/$build/fuzz-tree" "$seconds" ||
  status=1
exit $status
