#!/usr/bin/env bash
# bench/instructions.sh — what one request and one stream cost the gateway, in CPU
# instructions counted by callgrind: repeatable on a noisy machine where wall-clock
# figures are not, so every change can show its cost.
#
# Starts the mock upstream and `behest serve` (release build) under
# `valgrind --tool=callgrind` with collection off, sets up a project as bench/behest.sh
# does (POLICY=off|on, see scripts/behest-setup.sh), warms up, then for each kind of call
# waits for the usage flusher, zeroes the counters, sends N calls one after another
# (curl, each on a fresh connection as the load generators' first request is, rotating
# through the users' tokens), waits for the flusher again, dumps, and prints the
# instructions per call. What still varies (±5 k a call) is mostly SQLite preparing a
# usage insert of a new batch size on a pool connection for the first time. Output: one
# line per kind and a JSON line at the end.
#
#   bench/instructions.sh                 # POLICY=off, N=200 plain requests, 100 streams
#   POLICY=on N=500 bench/instructions.sh
#   OUT=/tmp/cg bench/instructions.sh     # keep the dumps: callgrind_annotate /tmp/cg/callgrind.*.2
#
# Needs valgrind (`apt-get install valgrind`) and the release builds (bench/setup.sh).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
N=${N:-200}
STREAMS=${STREAMS:-$((N / 2))}
WARMUP=${WARMUP:-50}
MOCK_PORT=${MOCK_PORT:-18380}
GW_PORT=${GW_PORT:-18390}
export POLICY=${POLICY:-off}

command -v valgrind >/dev/null || { echo "instructions: valgrind is not installed" >&2; exit 1; }
[[ -x $ROOT/target/release/behest && -x $BENCH_DIR/mock-upstream/target/release/mock-upstream ]] \
  || "$BENCH_DIR/setup.sh"

NAME=instructions
# shellcheck source=scripts/processes.sh
source "$BENCH_DIR/scripts/processes.sh"

"$BENCH_DIR/mock-upstream/target/release/mock-upstream" --addr "127.0.0.1:$MOCK_PORT" \
  --chunks "${MOCK_CHUNKS:-20}" > "$WORK/mock.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/health"

# One runtime thread, as bench/behest.sh runs it; the access log off (it is I/O, and
# what it costs is the logging crate's, measured elsewhere).
env TOKIO_WORKER_THREADS=1 RUST_LOG=${BEHEST_LOG:-warn} \
  BEHEST_PROVIDER_OPENAI_API_KEY=sk-bench \
  BEHEST_PROVIDER_OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT/v1" \
  BEHEST_DEFAULT_MODEL=gpt-4o-mini \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.%p" \
  "$ROOT/target/release/behest" serve --listen "127.0.0.1:$GW_PORT" --data-dir "$WORK/data" \
  > "$WORK/gateway.log" 2>&1 &
GW=$!
PIDS+=("$GW")
wait_http "http://127.0.0.1:$GW_PORT/readyz"

setup=$(USERS=${USERS:-20} BEHEST_BENCH_DATA=$WORK BASE_URL="http://127.0.0.1:$GW_PORT" \
  "$BENCH_DIR/scripts/behest-setup.sh")
BASE=$(sed -n 's/^BASE_URL=//p' <<< "$setup")
AUTH_FILE=$(sed -n 's/^AUTH_FILE=//p' <<< "$setup")
mapfile -t AUTHS < "$AUTH_FILE"

PLAIN='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello to the benchmark, please."}]}'
STREAM='{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello to the benchmark, please."}]}'

calls() { # kind count
  local body=$PLAIN
  [[ $1 == stream ]] && body=$STREAM
  for ((i = 0; i < $2; i++)); do
    curl -sf -o /dev/null -N "$BASE/v1/chat/completions" -H "${AUTHS[i % ${#AUTHS[@]}]}" \
      -H 'Content-Type: application/json' -d "$body" || { echo "instructions: a $1 call failed" >&2; exit 1; }
  done
}

# The total instructions of the last dump.
dumped() {
  local file
  file=$(ls -t "$WORK"/callgrind.* | head -n 1)
  sed -n 's/^summary: *//p; s/^totals: *//p' "$file" | head -n 1 | awk '{print $1}'
}

# How long the usage flusher (every 250 ms) needs to have written what is waiting, even
# at valgrind's pace: a window starts after the earlier calls' records are in the store
# and ends after its own are, so each window holds exactly its own calls' usage writes
# (whether a flush fell inside the window or not was most of the run-to-run spread).
SETTLE=${SETTLE:-1.5}

measure() { # kind count -> instructions per call
  sleep "$SETTLE"
  callgrind_control --instr=on "$GW" > /dev/null 2>&1
  callgrind_control --zero "$GW" > /dev/null 2>&1
  calls "$1" "$2"
  sleep "$SETTLE"
  callgrind_control --dump="$1" "$GW" > /dev/null 2>&1
  callgrind_control --instr=off "$GW" > /dev/null 2>&1
  local total
  total=$(dumped)
  echo $((total / $2))
}

calls plain "$WARMUP"
calls stream "$WARMUP"
per_request=$(measure plain "$N")
per_stream=$(measure stream "$STREAMS")
events=$(( ${MOCK_CHUNKS:-20} + 4 ))
printf 'instructions per plain request: %s\n' "$per_request"
printf 'instructions per stream (%s events): %s (%s per event)\n' "$events" "$per_stream" "$((per_stream / events))"
printf '{"policy":"%s","requests":%s,"streams":%s,"instructions_per_request":%s,"instructions_per_stream":%s,"commit":"%s"}\n' \
  "$POLICY" "$N" "$STREAMS" "$per_request" "$per_stream" "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo dev)"
if [[ -n ${OUT:-} ]]; then
  mkdir -p "$OUT"
  cp "$WORK"/callgrind.* "$OUT"/
  echo "dumps in $OUT (callgrind_annotate <file>: the first is the plain requests, the second the streams)"
fi
