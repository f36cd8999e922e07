#!/usr/bin/env bash
# The client benchmarks, each side by side with its reference, every figure a ratio from
# interleaved rounds (the two sides alternate, and which goes first alternates too, so a
# busy machine slows both alike), printed as min / median / max over the rounds:
#   codec    bench/codec.lua: BSON <-> Lua vs lua-cjson, ordered vs plain decode, lazy reads
#   sample   sampled documents per second through the Lua iterator, reading obs.watts and
#            device_id of each, vs the same loop in C on libmongoc (bench_sample_ref): plain
#            and lazy decode with an unthrottled source (targets plain >= 0.85, lazy >= 0.95),
#            and plain at a fixed source rate; each also as the ratio of client CPU time per
#            document, which leaves out the time both sides spend waiting for aspd
#   get_info a getStreamProcessor round trip vs libmongoc reading every field of the reply
#            (bench_get_info_ref), time per call Lua/C (target <= 1.05)
# Any part that fails makes the script fail.
# Usage: bench/client.sh   (BUILD_DIR from $ASP_BUILD_DIR, default build; ASPD, the server
#        binary, default $BUILD_DIR/bin/aspd; N_SAMPLE, N_FAST, N_INFO, INFO_BLOCKS, ROUNDS,
#        INFO_ROUNDS, BATCH_SIZE, POLL_MS, DOCS_PER_SECOND override the defaults)
set -Eeuo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too
trap 'echo "bench/client.sh: failed: $BASH_COMMAND (line $LINENO)" >&2' ERR
cd "$(dirname "$0")/.."
BUILD_DIR=$(realpath "${ASP_BUILD_DIR:-build}")
ASPD=${ASPD:-$BUILD_DIR/bin/aspd}
N_SAMPLE=${N_SAMPLE:-50000}
N_FAST=${N_FAST:-100000} # a sample session ends at 40 MB (about 195,000 solar documents)
N_INFO=${N_INFO:-200}    # calls per timed block
INFO_BLOCKS=${INFO_BLOCKS:-5}
INFO_ROUNDS=${INFO_ROUNDS:-12}
ROUNDS=${ROUNDS:-6}
BATCH_SIZE=${BATCH_SIZE:-1000}
POLL_MS=${POLL_MS:-5}
DOCS_PER_SECOND=${DOCS_PER_SECOND:-50000}

if [ ! -x "$BUILD_DIR/bench/bench_sample_ref" ] || [ ! -x "$BUILD_DIR/bench/bench_get_info_ref" ]; then
  ASP_BUILD_DIR="$BUILD_DIR" scripts/build.sh
fi
export LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;"
export LUA_CPATH="$BUILD_DIR/lua/?.so;;"

echo "== codec"
lua5.4 bench/codec.lua "$BUILD_DIR"

work=$(mktemp -d)
# bench_solar: a fixed source rate; bench_fast: as fast as aspd goes, which makes the
# client the bottleneck. Only one runs at a time: an unthrottled processor keeps a core busy.
printf '[{"name": "bench_solar", "type": "Sample", "docsPerSecond": %s},
 {"name": "bench_fast", "type": "Sample", "docsPerSecond": 0}]\n' "$DOCS_PER_SECOND" >"$work/connections.json"
"$ASPD" --dev --port 0 --state-dir "$work/state" --connections "$work/connections.json" \
  >"$work/out" 2>"$work/aspd.log" &
aspd_pid=$!
trap 'kill "$aspd_pid" 2>/dev/null; wait "$aspd_pid" 2>/dev/null; rm -rf "$work"' EXIT
uri=""
for _ in $(seq 1 100); do
  uri=$(grep -m1 '^mongodb://' "$work/out" || true)
  [ -n "$uri" ] && break
  sleep 0.1
done
[ -n "$uri" ] || { echo "bench: aspd did not start" >&2; cat "$work/aspd.log" >&2; exit 1; }

e2e() { lua5.4 bench/client_e2e.lua "$@"; }
# reads numbers, one a line; prints "min X  median Y  max Z"
spread() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit 1
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "min %.3f  median %.3f  max %.3f", v[1], m, v[NR] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) exit 1; printf "%.4f", a / b }'; }
min_of() { sort -g | head -1; }

# sample_ratios PROCESSOR N DECODE -> per round: the Lua/C docs-per-second ratio, then the
# Lua/C ratio of client CPU time per document (each side's own process, the wait for
# replies excluded)
sample_ratios() {
  local lua_r c_r lua_rate lua_cpu c_rate c_cpu rate_ratio cpu_ratio
  for round in $(seq 1 "$ROUNDS"); do
    if ((round % 2)); then
      c_r=$("$BUILD_DIR/bench/bench_sample_ref" "$uri" "$1" "$2" "$BATCH_SIZE" "$POLL_MS" 2>/dev/null)
      lua_r=$(e2e sample "$uri" "$1" "$2" "$BATCH_SIZE" "$POLL_MS" "$3" 2>/dev/null)
    else
      lua_r=$(e2e sample "$uri" "$1" "$2" "$BATCH_SIZE" "$POLL_MS" "$3" 2>/dev/null)
      c_r=$("$BUILD_DIR/bench/bench_sample_ref" "$uri" "$1" "$2" "$BATCH_SIZE" "$POLL_MS" 2>/dev/null)
    fi
    read -r lua_rate lua_cpu <<<"$lua_r"
    read -r c_rate c_cpu <<<"$c_r"
    rate_ratio=$(ratio "$lua_rate" "$c_rate")
    cpu_ratio=$(ratio "$lua_cpu" "$c_cpu")
    echo "$rate_ratio $cpu_ratio"
    echo "   round $round: Lua $lua_rate docs/s ($lua_cpu CPU us/doc), C $c_rate docs/s ($c_cpu CPU us/doc)" >&2
  done
}
# sample_report LABEL TARGET RATIOS: the two spreads of sample_ratios' output (assigned
# first, so that a failed part stops the script)
sample_report() {
  local rates cpu
  rates=$(cut -d' ' -f1 <<<"$3" | spread)
  cpu=$(cut -d' ' -f2 <<<"$3" | spread)
  echo "   $1: ratio Lua/C docs/s         $rates${2:+   (target $2)}"
  echo "   $1: ratio Lua/C CPU per doc    $cpu"
}

# get_info: each round times INFO_BLOCKS blocks of N_INFO calls per side; the round's ratio
# is best block against best block, measured moments apart.
info_blocks() { # SIDE -> one line per block, microseconds per call
  if [ "$1" = c ]; then
    "$BUILD_DIR/bench/bench_get_info_ref" "$uri" bench_rate "$N_INFO" "$INFO_BLOCKS" 2>/dev/null
  else
    e2e get_info "$uri" bench_rate "$N_INFO" "$INFO_BLOCKS"
  fi
}
info_ratios() {
  local lua_round c_round
  for round in $(seq 1 "$INFO_ROUNDS"); do
    if ((round % 2)); then
      c_round=$(info_blocks c)
      lua_round=$(info_blocks lua)
    else
      lua_round=$(info_blocks lua)
      c_round=$(info_blocks c)
    fi
    ratio "$(min_of <<<"$lua_round")" "$(min_of <<<"$c_round")"
    echo
  done
}

e2e setup "$uri" bench_fast bench_fast
echo "== sample, unthrottled source, $N_FAST documents, batch_size $BATCH_SIZE, $ROUNDS rounds"
fast_plain=$(sample_ratios bench_fast "$N_FAST" plain)
sample_report "plain decode" ">= 0.85" "$fast_plain"
fast_lazy=$(sample_ratios bench_fast "$N_FAST" lazy)
sample_report "lazy decode " ">= 0.95" "$fast_lazy"
e2e teardown "$uri" bench_fast

e2e setup "$uri" bench_rate bench_solar
echo "== sample, source at $DOCS_PER_SECOND docs/s, $N_SAMPLE documents, poll ${POLL_MS} ms"
rate_plain=$(sample_ratios bench_rate "$N_SAMPLE" plain)
sample_report "plain decode" "" "$rate_plain"
echo "== get_info round trip, $INFO_ROUNDS rounds x $INFO_BLOCKS blocks of $N_INFO calls"
info=$(info_ratios)
echo "   ratio Lua/C time per call  $(spread <<<"$info")   (target <= 1.05)"
e2e teardown "$uri" bench_rate
