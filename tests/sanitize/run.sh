#!/usr/bin/env bash
# Runs tests against a sanitizer tree made by build.sh.
#   run.sh asan <asan-dir>            C tests (aspd.*, core.*) built in that tree, then every
#                                     Lua spec with the instrumented module and aspd
#   run.sh tsan <tsan-dir> <main-dir> the concurrency C tests and specs of the main build
#                                     against the TSan aspd
# A report from any process fails the run: aspd exits non-zero (the test harnesses check
# that), the module aborts the Lua process, and the report files are checked at the end.
# Environment: ASP_SOURCE_DIR, BUSTED_SCRIPT, ASP_LUA_BIN.
set -uo pipefail
kind=$1
dir=$2
src=$ASP_SOURCE_DIR
logs=$(mktemp -d "${TMPDIR:-/tmp}/asp-$kind-XXXXXX")
trap 'rm -rf "$logs"' EXIT
status=0
export LUA_PATH="$src/lua/?.lua;$src/lua/?/init.lua;$src/spec/?.lua;;"

run_specs() { # <module dir> <spec files...>
  local module_dir=$1
  shift
  (cd "$src" && LUA_CPATH="$module_dir/lua/?.so;;" \
     "$ASP_LUA_BIN" "$BUSTED_SCRIPT" --helper="$src/spec/helper.lua" -o utfTerminal "$@") ||
    status=1
}

case $kind in
  asan)
    export ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_leaks=1:log_path=$logs/asan"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
    # The C tests of the sanitizer tree (their own aspd). auth_timing measures, it does not
    # exercise memory; mongosh needs a browser-grade runtime that ASan slows past its timeouts.
    (cd "$dir" && ctest -j 2 --timeout 300 --output-on-failure -R '^(aspd|core|fault)\.' \
       -E '^aspd\.(auth_timing|mongosh)$') || status=1
    # The specs: lua5.4 is not instrumented, so the ASan runtime is preloaded. Only the
    # runtime: every process the specs start inherits the preload, and some (mkdir) hang
    # with the module preloaded. Leak checking is off for these processes: lua_close
    # unloads the module before the check, which then reports its memory as lost at an
    # unknown module. The module's leaks are valgrind's job (spec.valgrind); aspd's and the
    # core's are checked in the C tests above.
    export ASPD_BIN=$dir/bin/aspd ASP_CLI=$dir/bin/asp
    export SCRIPTED_ADMIN_SERVER_BIN=$dir/tests/scripted_admin_server
    ASAN_OPTIONS="${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}" \
      LD_PRELOAD="$("${ASP_CC:-cc}" -print-file-name=libasan.so)" \
      run_specs "$dir" "$src"/spec/*_spec.lua
    ;;
  tsan)
    main=$3
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$logs/tsan"
    export ASPD_BIN=$dir/bin/aspd ASP_SOURCE_DIR=$src ASP_CLI=$main/bin/asp
    # The tests that make aspd's threads meet: many clients, processors, cursors, restarts.
    for t in concurrency parallel sample process persistence lifecycle limits fault_kill \
      limits_definitions fault_readonly; do
      [ -x "$main/tests/aspd_test_$t" ] || continue
      echo "tsan: aspd.$t"
      "$main/tests/aspd_test_$t" > "$logs/$t.out" 2>&1 || { cat "$logs/$t.out"; status=1; }
    done
    run_specs "$main" "$src/spec/sample_spec.lua" "$src/spec/processor_spec.lua"
    ;;
esac

if compgen -G "$logs/*san.*" > /dev/null; then
  echo "sanitize: reports from $kind:" >&2
  cat "$logs"/*san.* >&2
  status=1
fi
exit $status
