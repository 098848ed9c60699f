#!/usr/bin/env bash
# bench/behest.sh — Behest under the same loads as the baselines, from a fresh clone:
# starts `behest serve` (pinned to one core, fresh data dir) with the OpenAI platform
# provider pointing at the mock upstream and gpt-4o-mini as the default model, signs
# up, creates a project and an API key, mints a token, and runs `run.sh custom`
# against the project's /p/{slug} endpoint through the full request path (routing,
# JWT verification, settings snapshot, provider adapter, upstream relay).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
[[ -x $ROOT/target/release/behest && -x $BENCH_DIR/mock-upstream/target/release/mock-upstream ]] \
  || "$BENCH_DIR/setup.sh"
# The floor first (wrk straight to the mock), unless told to skip it.
if [[ ${SKIP_DIRECT:-} != 1 ]]; then "$BENCH_DIR/run.sh" direct; fi
DATA=$(mktemp -d)
trap 'rm -rf "$DATA"' EXIT
export BEHEST_BENCH_DATA=$DATA BEHEST_BIN=$ROOT/target/release/behest
# One runtime thread on the one core the gateway gets; the access log stays on unless
# RUST_LOG says otherwise.
GATEWAY_CMD='env TOKIO_WORKER_THREADS=1 RUST_LOG=${BEHEST_LOG:-info} BEHEST_PROVIDER_OPENAI_API_KEY=sk-bench BEHEST_PROVIDER_OPENAI_BASE_URL=$MOCK_BASE_URL BEHEST_DEFAULT_MODEL=gpt-4o-mini $BEHEST_BIN serve --listen 127.0.0.1:$GW_PORT --data-dir $BEHEST_BENCH_DATA' \
SETUP_CMD="$BENCH_DIR/scripts/behest-setup.sh" \
BASE_URL=http://127.0.0.1:${GW_PORT:-18090} READY_PATH=/readyz \
NAME=${NAME:-behest} \
GATEWAY_VERSION="behest $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo dev), policy ${POLICY:-off}" \
  "$BENCH_DIR/run.sh" custom
