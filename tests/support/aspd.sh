# Sourced by the shell tests: aspd_start <dir> starts `$ASPD_BIN --dev` on a free port with
# its state in <dir>, sets ASPD_PID and ASP_URI (exported), and returns once the URI is
# printed. The caller's EXIT trap must call aspd_stop; --exit-with-parent covers the rest.
aspd_start() {
  local dir=$1
  mkdir -p "$dir"
  "$ASPD_BIN" --dev --port 0 --state-dir "$dir" --exit-with-parent "${@:2}" \
    >"$dir/aspd.out" 2>"$dir/aspd.log" &
  ASPD_PID=$!
  ASP_URI=""
  for _ in $(seq 1 100); do
    ASP_URI=$(grep -m1 '^mongodb://' "$dir/aspd.out" || true)
    [ -n "$ASP_URI" ] && break
    kill -0 "$ASPD_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ASP_URI" ]; then
    echo "aspd did not print its URI:" >&2
    tail -n 20 "$dir/aspd.log" >&2
    return 1
  fi
  export ASP_URI
}

aspd_stop() {
  [ -z "${ASPD_PID:-}" ] && return 0
  kill "$ASPD_PID" 2>/dev/null || true
  wait "$ASPD_PID" 2>/dev/null || true
  ASPD_PID=""
}
