#!/usr/bin/env bash
# The registry flow with independent clients: curl (--digest, certificate verified) for
# the Admin API, mongosh for the wire protocol. Create a Kafka connection over HTTPS,
# create a processor that $emits to it over the wire, see the connection in
# listStreamConnections, update it, be refused deleting it while the processor runs,
# stop the processor, delete it. Exit 77 (skip) without mongosh.
set -euo pipefail
mongosh="$ASP_SOURCE_DIR/.deps/mongosh/node_modules/.bin/mongosh"
if [ ! -x "$mongosh" ]; then
  echo "mongosh not installed (scripts/setup.sh installs it); skipped"
  exit 77
fi
work=$(mktemp -d)
aspd_pid=""
cleanup() {
  if [ -n "$aspd_pid" ]; then kill "$aspd_pid" 2>/dev/null || true; wait "$aspd_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "---- aspd log ----" >&2
  cat "$work/aspd.log" >&2 || true
  exit 1
}

"$ASPD_BIN" --dev --port 0 --state-dir "$work/state" --exit-with-parent >"$work/out" 2>"$work/aspd.log" &
aspd_pid=$!
for _ in $(seq 1 300); do
  grep -q '^mongodb://' "$work/out" && break
  sleep 0.1
done
uri=$(grep -m1 '^mongodb://' "$work/out") || fail "aspd printed no mongodb:// line"
# --dev prints exactly three lines: the two Admin API lines, then the only mongodb:// line.
sleep 0.2
[ "$(wc -l <"$work/out")" = 3 ] && [ "$(grep -c '^mongodb://' "$work/out")" = 1 ] &&
  grep -q '^admin-api: https://127.0.0.1:[0-9]*/api/atlas/v2/groups/[0-9a-f]\{24\}/streams/' "$work/out" &&
  grep -q '^admin-api-key: [a-z]*:[0-9a-f-]*$' "$work/out" || fail "stdout: $(cat "$work/out")"
base=$(sed -n 's/^admin-api: //p' "$work/out")
key=$(sed -n 's/^admin-api-key: //p' "$work/out")
ca="$work/state/dev/ca.pem"
[ -n "$base" ] && [ -n "$key" ] || fail "aspd printed no admin-api lines"

# status BODY_FILE METHOD PATH [JSON]: the HTTP status of one Digest request.
api() {
  local out=$1 method=$2 path=$3
  shift 3
  curl -sS --digest --user "$key" --cacert "$ca" -X "$method" \
    -H 'Accept: application/vnd.atlas.2023-02-01+json' \
    -H 'Content-Type: application/vnd.atlas.2023-02-01+json' \
    -o "$out" -w '%{http_code}' "$@" "$base$path"
}
expect() {  # expect STATUS METHOD PATH [curl args...]
  local want=$1
  shift
  local got
  got=$(api "$work/body" "$@") || fail "curl failed: $*"
  [ "$got" = "$want" ] || fail "$1 $2 -> $got (wanted $want): $(cat "$work/body")"
}
shell() {  # runs JavaScript in mongosh against aspd; prints its output
  HOME="$work" timeout 120 "$mongosh" "$uri" --quiet --norc --eval "$1" 2>&1
}

# Without credentials: 401 with the Digest challenge.
code=$(curl -sS --cacert "$ca" -o /dev/null -D "$work/headers" -w '%{http_code}' "$base/connections")
[ "$code" = 401 ] && grep -qi '^WWW-Authenticate: Digest realm="MMS Public API"' "$work/headers" ||
  fail "no Digest challenge without credentials ($code)"

expect 200 POST /connections --data '{"name": "flowKafka", "type": "Kafka",
  "bootstrapServers": "broker1:9092", "security": {"protocol": "SASL_SSL"},
  "authentication": {"mechanism": "SCRAM-256", "username": "flow", "password": "flow-secret"}}'
grep -q '"state" : "READY"' "$work/body" || fail "create reply: $(cat "$work/body")"
! grep -q flow-secret "$work/body" || fail "the password was echoed"

out=$(shell "
const p = sp.createStreamProcessor('flowProc', [
  {\$source: {connectionName: 'sample_stream_solar'}},
  {\$emit: {connectionName: 'flowKafka', topic: 'flowTopic'}}]);
const names = db.adminCommand({listStreamConnections: 1}).connections.map(c => c.name + ':' + c.type);
print('LISTED ' + names.join(','));")
grep -q 'LISTED .*flowKafka:kafka' <<<"$out" || fail "listStreamConnections: $out"

expect 200 PATCH /connections/flowKafka --data '{"bootstrapServers": "broker2:9092"}'
grep -q '"bootstrapServers" : "broker2:9092"' "$work/body" || fail "update: $(cat "$work/body")"

out=$(shell "sp.flowProc.start(); print('STATE ' + sp.listStreamProcessors().find(p => p.name === 'flowProc').state);")
grep -q 'STATE STARTED' <<<"$out" || fail "start: $out"
expect 403 DELETE /connections/flowKafka
grep -q STREAM_CONNECTION_HAS_STREAM_PROCESSORS "$work/body" || fail "in-use: $(cat "$work/body")"
expect 403 PATCH /connections/flowKafka --data '{"bootstrapServers": "broker3:9092"}'

out=$(shell "sp.flowProc.stop(); print('STATE ' + sp.listStreamProcessors().find(p => p.name === 'flowProc').state);")
grep -q 'STATE STOPPED' <<<"$out" || fail "stop: $out"
expect 202 DELETE /connections/flowKafka
[ "$(tr -d ' \n' <"$work/body")" = "{}" ] || fail "delete reply: $(cat "$work/body")"
expect 404 GET /connections/flowKafka
grep -q STREAM_CONNECTION_NOT_FOUND_FOR_NAME "$work/body" || fail "after delete: $(cat "$work/body")"

out=$(shell "print('LISTED ' + db.adminCommand({listStreamConnections: 1}).connections.map(c => c.name).join(','));")
grep -q 'LISTED' <<<"$out" && ! grep -q flowKafka <<<"$out" || fail "still listed: $out"
! grep -rq flow-secret "$work/out" "$work/aspd.log" || fail "the password reached aspd's output"
echo "admin_curl_flow: all checks passed"
