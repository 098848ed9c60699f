#!/usr/bin/env bash
# Prepares the browser end-to-end test (tests/browser): Debian's Chromium, and the
# pinned npm packages (openai SDK, playwright-core, esbuild). Idempotent; runs as root.
# Playwright's own browser downloads are never used (no `npx playwright install`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q chromium
fi

command -v node >/dev/null || { echo "browser-setup: node is required" >&2; exit 1; }
(cd tests/browser && npm ci --no-audit --no-fund)

echo "browser e2e ready: $(/usr/bin/chromium --version 2>/dev/null), openai $(node -p 'require("./tests/browser/node_modules/openai/package.json").version')"
