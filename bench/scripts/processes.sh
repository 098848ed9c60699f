# Sourced by the bench scripts that start their own mock and gateway (instructions.sh,
# open-streams.sh): a scratch dir, the processes to stop on exit, and waiting for HTTP.
# The caller sets NAME (for messages) before sourcing.
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_http() {
  for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "$NAME: $1 did not answer" >&2
  exit 1
}
