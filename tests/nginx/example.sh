#!/usr/bin/env bash
# examples/openresty against a live aspd: Debian's nginx runs the example's nginx.conf and
# api.lua unchanged (only asp_paths.conf and asp_listen.conf are written for the test),
# every endpoint is called with curl, and 8 concurrent slow calls (samples that wait)
# must finish in well under 8 times one call.
#   example.sh <luajit-module-build-dir>     (tests/compat's compat-jit tree)
# Environment: ASPD_BIN, ASP_SOURCE_DIR. Skips (77) when nginx or its lua module is missing.
set -euo pipefail
module_dir=$1
src=$ASP_SOURCE_DIR
. "$src/tests/support/aspd.sh"

nginx_bin=$(command -v nginx || true)
if [ -z "$nginx_bin" ] || [ ! -f /usr/lib/nginx/modules/ngx_http_lua_module.so ]; then
  echo "nginx: nginx or libnginx-mod-http-lua not installed (scripts/setup.sh); skipped"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/asp-openresty.XXXXXX")
nginx_pid=""
status=1
cleanup() {
  [ -z "$nginx_pid" ] || { kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; }
  aspd_stop
  if [ "$status" -ne 0 ] && [ -f "$work/error.log" ]; then
    echo "--- error.log"
    tail -n 30 "$work/error.log"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

aspd_start "$work/aspd"
cp "$src"/examples/openresty/* "$work/"
cat >"$work/asp_paths.conf" <<CONF
lua_package_path "$src/lua/?.lua;$src/lua/?/init.lua;;";
lua_package_cpath "$module_dir/lua/?.so;;";
CONF

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# nginx has no "port 0": try random free ports until one binds.
port=""
for _ in $(seq 1 10); do
  candidate=$((20000 + RANDOM % 40000))
  port_open "$candidate" && continue
  echo "listen 127.0.0.1:$candidate;" >"$work/asp_listen.conf"
  # timeout: nginx must not outlive a test that CTest kills
  timeout 200 "$nginx_bin" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
  nginx_pid=$!
  for _ in $(seq 1 50); do
    kill -0 "$nginx_pid" 2>/dev/null || break
    if port_open "$candidate"; then port=$candidate; break; fi
    sleep 0.1
  done
  [ -n "$port" ] && break
  kill "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
  nginx_pid=""
done
[ -n "$port" ] || { echo "openresty: could not start nginx" >&2; exit 1; }
base="http://127.0.0.1:$port"

# call METHOD PATH [BODY] -> prints the body; fails unless the status is 200
call() {
  local out code
  out=$(curl -sS -m 60 -X "$1" ${3:+--data-binary "$3"} -w '\n%{http_code}' "$base$2")
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  if [ "$code" != 200 ]; then
    echo "openresty: $1 $2 answered $code: $out" >&2
    return 1
  fi
  printf '%s\n' "$out"
}
expect() { # expect WHAT TEXT PATTERN
  if ! grep -q -- "$3" <<<"$2"; then echo "openresty: $1: no '$3' in: $2" >&2; exit 1; fi
  echo "ok $1"
}

pipeline='[{"$source":{"connectionName":"sample_stream_solar"}},{"$emit":{"connectionName":"__testLog"}}]'
expect "GET /connections" "$(call GET /connections)" '"sample_stream_solar"'
expect "POST /processors/solar" "$(call POST /processors/solar "$pipeline")" '"name" : "solar"'
expect "GET /processors" "$(call GET /processors)" '"name" : "solar"'
expect "POST /processors/solar/start" "$(call POST /processors/solar/start)" true
expect "GET /processors/solar/sample?n=3" "$(call GET '/processors/solar/sample?n=3&wait_ms=20000')" '"device_id"'
expect "GET /processors/solar/stats" "$(call GET /processors/solar/stats)" '"outputMessageCount"'
expect "POST /processors/solar/stop" "$(call POST /processors/solar/stop)" true
expect "DELETE /processors/solar" "$(call DELETE /processors/solar)" true
missing=$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X DELETE "$base/processors/solar")
[ "$missing" = 400 ] || { echo "openresty: dropping a missing processor answered $missing" >&2; exit 1; }
echo "ok DELETE of a missing processor is 400"

# Slow calls: samples of a processor that never emits, each waiting wait_ms for nothing.
quiet='[{"$source":{"connectionName":"sample_stream_solar"}},{"$match":{"obs.watts":{"$lt":-1}}},{"$emit":{"connectionName":"__testLog"}}]'
call POST /processors/quiet "$quiet" >/dev/null
call POST /processors/quiet/start >/dev/null
slow="/processors/quiet/sample?n=1&wait_ms=1500"
now() { date +%s.%N; }
call GET "$slow" >/dev/null # every thread VM connects on its first call: warm one up
t0=$(now)
call GET "$slow" >/dev/null
t1=$(now)
pids=()
for i in 1 2 3 4 5 6 7 8; do
  call GET "$slow" >"$work/slow.$i" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
t2=$(now)
one=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
eight=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')
ratio=$(awk -v a="$one" -v b="$eight" 'BEGIN { printf "%.2f", b / a }')
echo "openresty: one slow call ${one}s, 8 concurrent ${eight}s (ratio ${ratio}, serial would be 8)"
# Well under 8x: the thread pool runs them side by side (4x leaves room for a loaded machine).
awk -v r="$ratio" 'BEGIN { exit !(r < 4) }' || { echo "openresty: 8 calls took ${ratio}x one" >&2; exit 1; }
call DELETE /processors/quiet >/dev/null

echo "openresty: PASS"
status=0
