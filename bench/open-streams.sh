#!/usr/bin/env bash
# bench/open-streams.sh — what open streams cost the gateway: holds N streams open at
# once (default 10,000) through `behest serve` (release build, one runtime thread, as
# bench/behest.sh runs it) and reports its resident memory idle, with them all open,
# and the peak, in total and per stream.
#
# The mock upstream sends one event every MOCK_CHUNK_DELAY_MS (default 500 ms) for
# MOCK_CHUNKS events (default 240), so each stream stays open for minutes while
# open-streams (bench/mock-upstream) opens the rest, rotating through the end users'
# tokens; POLICY=off|on as for bench/behest.sh (scripts/behest-setup.sh).
#
#   bench/open-streams.sh               # N=10000, POLICY=off
#   POLICY=on N=10000 bench/open-streams.sh
#   GATEWAY_WRAP="valgrind --tool=massif --massif-out-file=/tmp/ms.%p" N=500 bench/open-streams.sh
#                                       # where the memory goes: ms_print /tmp/ms.*
#
# Needs file descriptors for 2 × N sockets in the gateway (client and upstream): the
# script raises its limit (as root it can) and says so when it cannot.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
N=${N:-10000}
MOCK_PORT=${MOCK_PORT:-18480}
GW_PORT=${GW_PORT:-18490}
export POLICY=${POLICY:-off}
TOOLS=$BENCH_DIR/mock-upstream/target/release

[[ -x $ROOT/target/release/behest && -x $TOOLS/mock-upstream ]] || "$BENCH_DIR/setup.sh"
[[ -x $TOOLS/open-streams ]] || (cd "$BENCH_DIR/mock-upstream" && cargo build --release --quiet)
want=$((2 * N + 1024))
if (( $(ulimit -n) < want )); then
  ulimit -Hn "$want" 2>/dev/null || true
  ulimit -n "$want" 2>/dev/null || {
    echo "open-streams: N=$N needs $want file descriptors, the limit here is $(ulimit -Hn): try N=$((($(ulimit -Hn) - 1024) / 2))" >&2
    exit 1
  }
fi

NAME=open-streams
# shellcheck source=scripts/processes.sh
source "$BENCH_DIR/scripts/processes.sh"
kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

"$TOOLS/mock-upstream" --addr "127.0.0.1:$MOCK_PORT" --chunks "${MOCK_CHUNKS:-240}" \
  --chunk-delay-ms "${MOCK_CHUNK_DELAY_MS:-500}" > "$WORK/mock.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/health"

env TOKIO_WORKER_THREADS=1 RUST_LOG=${BEHEST_LOG:-warn} \
  BEHEST_PROVIDER_OPENAI_API_KEY=sk-bench \
  BEHEST_PROVIDER_OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT/v1" \
  BEHEST_DEFAULT_MODEL=gpt-4o-mini BEHEST_MAX_CONNECTIONS=$((N + 1000)) \
  ${GATEWAY_WRAP:-} "$ROOT/target/release/behest" serve --listen "127.0.0.1:$GW_PORT" --data-dir "$WORK/data" \
  > "$WORK/gateway.log" 2>&1 &
GW=$!
PIDS+=("$GW")
wait_http "http://127.0.0.1:$GW_PORT/readyz"

setup=$(USERS=${USERS:-200} BEHEST_BENCH_DATA=$WORK BASE_URL="http://127.0.0.1:$GW_PORT" \
  "$BENCH_DIR/scripts/behest-setup.sh")
BASE=$(sed -n 's/^BASE_URL=//p' <<< "$setup")
AUTH_FILE=$(sed -n 's/^AUTH_FILE=//p' <<< "$setup")
# A few streams first, so what every stream shares (the tokenizer, pools) is loaded.
OPEN_STREAMS_AUTH_FILE=$AUTH_FILE "$TOOLS/open-streams" --url "$BASE/v1/chat/completions" \
  -n 20 --hold-secs 0 > /dev/null
sleep 1
idle=$(kib "$GW" VmRSS)

OPEN_STREAMS_AUTH_FILE=$AUTH_FILE "$TOOLS/open-streams" --url "$BASE/v1/chat/completions" \
  -n "$N" --hold-secs 3 > "$WORK/open.txt" &
probe=$!
# Sample once every stream is open (the tool prints `open …` then holds them).
for _ in $(seq 1 1200); do grep -q '^open ' "$WORK/open.txt" 2>/dev/null && break; sleep 0.1; done
sleep 1
loaded=$(kib "$GW" VmRSS)
wait "$probe"
peak=$(kib "$GW" VmHWM)
opened=$(sed -n 's/^open \([0-9]*\).*/\1/p' "$WORK/open.txt")
held=$(sed -n 's/^held //p' "$WORK/open.txt")
per=$(( (loaded - idle) * 1024 / (opened > 0 ? opened : 1) ))
echo "open streams: $(sed -n 1p "$WORK/open.txt"), still open after the hold: $held"
echo "gateway RSS: idle $((idle / 1024)) MiB, with $opened streams open $((loaded / 1024)) MiB, peak $((peak / 1024)) MiB; $per bytes per open stream"
printf '{"policy":"%s","streams":%s,"open":%s,"held":%s,"rss_idle_kib":%s,"rss_open_kib":%s,"rss_peak_kib":%s,"bytes_per_stream":%s,"commit":"%s"}\n' \
  "$POLICY" "$N" "${opened:-0}" "${held:-0}" "$idle" "$loaded" "$peak" "$per" \
  "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo dev)"
