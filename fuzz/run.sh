#!/usr/bin/env bash
# The fuzz tests.
#   run.sh build <tree> <target>...       configure (clang, -DASP_FUZZ=ON) and build the fuzzers
#   run.sh run <tree> <target> <seconds>  replay fuzz/regressions/<target>/*, then fuzz for
#                                         <seconds> from fuzz/corpus/<target> (new inputs go
#                                         to a scratch directory; the repo is never written)
# A crash, a leak, a sanitizer report or an INVARIANT failure fails the test; libFuzzer
# saves the input as <tree>/artifacts/<target>/crash-* (make it a regression input).
# Environment: ASP_SOURCE_DIR, ASP_CMAKE, ASP_CLANG, ASP_FUZZ_SEED (0 or unset: random).
set -euo pipefail
mode=$1
tree=$2
shift 2
src=$ASP_SOURCE_DIR

if [ "$mode" = build ]; then
  log="$tree.log"
  if ! { "$ASP_CMAKE" -S "$src" -B "$tree" -DCMAKE_C_COMPILER="$ASP_CLANG" -DASP_FUZZ=ON \
           -DASP_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
           -DCMAKE_C_COMPILER_LAUNCHER= -DLUA_VERSION=5.4 &&
         "$ASP_CMAKE" --build "$tree" --parallel 2 --target "$@"; } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: building the fuzzers failed (log: $log)" >&2
    exit 1
  fi
  echo "fuzz: built $* in $tree"
  exit 0
fi

target=$1
seconds=$2
bin="$tree/fuzz/$target"
seeds="$src/fuzz/corpus/$target"
regressions="$src/fuzz/regressions/$target"
artifacts="$tree/artifacts/$target"
mkdir -p "$artifacts"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
dict=()
[ -f "$src/fuzz/$target.dict" ] && dict=("-dict=$src/fuzz/$target.dict")
# Lua's collector frees later than the input that allocated, which libFuzzer's per-input
# leak check takes for a leak (and checks so often it runs 100 times slower). The
# binding's leaks are LeakSanitizer's job in the sanitize-asan specs instead.
case $target in *lua* | *json*) dict+=("-detect_leaks=0") ;; esac

# Every input that once failed, on its own: a fixed bug stays fixed.
if compgen -G "$regressions/*" > /dev/null; then
  "$bin" "${dict[@]}" -runs=1 "$regressions"/*
  echo "fuzz: $target: $(ls "$regressions" | wc -l) regression input(s) pass"
fi
# New inputs go to ASP_FUZZ_CORPUS/<target> when set (long runs keep what they found),
# else to a scratch directory.
if [ -n "${ASP_FUZZ_CORPUS:-}" ]; then
  work="$ASP_FUZZ_CORPUS/$target"
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/asp-$target-XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
"$bin" "${dict[@]}" -seed="${ASP_FUZZ_SEED:-0}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$seeds"
