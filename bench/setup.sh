#!/usr/bin/env bash
# bench/setup.sh — what bench/behest.sh needs: wrk (apt), the mock upstream and SSE
# probe (cargo), and a release build of behest. (LiteLLM and Portkey baselines were
# measured with the shared harness; their figures are in results/BASELINES.md.)
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! command -v wrk >/dev/null || ! command -v taskset >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk util-linux curl
fi
(cd "$BENCH_DIR/mock-upstream" && cargo build --release --quiet)
(cd "$BENCH_DIR/.." && cargo build --release --quiet -p behest)
echo "bench ready: $(wrk -v 2>&1 | head -1)"
