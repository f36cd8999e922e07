#!/usr/bin/env bash
# OpenResty smoke test: a throwaway nginx (Debian's, with lua-nginx-module on OpenResty's
# LuaJIT) whose handler drives a live aspd through ngx.run_worker_thread and asp.ngx.
#   run.sh <luajit-module-build-dir>     (tests/compat's compat-jit tree)
# Environment: ASPD_BIN, ASP_SOURCE_DIR. Skips (77) when nginx or its lua module is missing.
set -euo pipefail
module_dir=$1
src=$ASP_SOURCE_DIR

nginx_bin=$(command -v nginx || true)
if [ -z "$nginx_bin" ] || [ ! -f /usr/lib/nginx/modules/ngx_http_lua_module.so ]; then
  echo "nginx: nginx or libnginx-mod-http-lua not installed (scripts/setup.sh); skipped"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/asp-nginx.XXXXXX")
aspd_pid=""
nginx_pid=""
status=1
cleanup() {
  [ -z "$nginx_pid" ] || { kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; }
  [ -z "$aspd_pid" ] || { kill "$aspd_pid" 2>/dev/null; wait "$aspd_pid" 2>/dev/null; }
  if [ "$status" -ne 0 ]; then
    for log in "$work"/error.log "$work"/aspd.log; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 30 "$log"; }
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# aspd as in the C tests: a free port, its own state, gone when this script goes.
"$ASPD_BIN" --dev --port 0 --state-dir "$work/aspd" --exit-with-parent \
  >"$work/aspd.out" 2>"$work/aspd.log" &
aspd_pid=$!
uri=""
for _ in $(seq 1 100); do
  uri=$(grep -m1 '^mongodb://' "$work/aspd.out" || true)
  [ -n "$uri" ] && break
  kill -0 "$aspd_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$uri" ] || { echo "nginx: aspd did not print its URI" >&2; exit 1; }
export ASP_URI=$uri
# the Admin API lines come before the mongodb:// line
export ASP_ADMIN_API=$(grep -m1 '^admin-api: ' "$work/aspd.out" | cut -d' ' -f2)
export ASP_ADMIN_KEY=$(grep -m1 '^admin-api-key: ' "$work/aspd.out" | cut -d' ' -f2)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# nginx has no "port 0": try random free ports until one binds.
port=""
for _ in $(seq 1 10); do
  candidate=$((20000 + RANDOM % 40000))
  port_open "$candidate" && continue
  sed -e "s|@WORK@|$work|g" -e "s|@PORT@|$candidate|g" -e "s|@SRC@|$src|g" \
      -e "s|@CPATH@|$module_dir/lua/?.so|g" "$src/tests/nginx/nginx.conf.in" >"$work/nginx.conf"
  # timeout: nginx must not outlive a test that CTest kills (TIMEOUT 120); signals to
  # timeout reach nginx.
  timeout 100 "$nginx_bin" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
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
[ -n "$port" ] || { echo "nginx: could not start nginx" >&2; exit 1; }

# A plain HTTP/1.0 GET over bash's /dev/tcp: no HTTP client needed.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /smoke HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
response=$(timeout 60 cat <&3 | tr -d '\r')
exec 3<&-
echo "$response"

if [[ "$(head -n 1 <<<"$response")" == "HTTP/1.1 200"* ]] && grep -qx PASS <<<"$response"; then
  status=0
fi
exit "$status"
