#!/usr/bin/env bash
# Prepares the TypeScript SDK and the Next.js quickstart (and so the quickstart's
# browser test, crates/behest/tests/quickstart.rs): builds and packs @behest/client-ts
# (sdk/typescript -> behest-client-ts-1.5.0-beta.1.tgz), runs its unit tests, and
# installs the example's pinned packages (examples/nextjs-quickstart), which take the SDK
# from that tarball. Idempotent; packages from the npm registry only (Chromium comes
# from scripts/browser-setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v node >/dev/null || { echo "quickstart-setup: node (18+) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "quickstart-setup: npm is required" >&2; exit 1; }

TGZ=behest-client-ts-1.5.0-beta.1.tgz

echo "== @behest/client-ts: install, build, pack"
(
  cd sdk/typescript
  npm ci --no-audit --no-fund
  npm run build
  npm pack --silent >/dev/null   # prepack builds again; the tarball is byte-for-byte reproducible
  test -f "$TGZ"
)

echo "== @behest/client-ts: unit tests"
(cd sdk/typescript && npm test)

echo "== examples/nextjs-quickstart: install"
# The lockfile pins the tarball's integrity: an SDK change needs a new lockfile
# (`npm install ../../sdk/typescript/$TGZ` in the example, then commit package-lock.json).
packed=$(node -e "const c=require('crypto');process.stdout.write('sha512-'+c.createHash('sha512').update(require('fs').readFileSync(process.argv[1])).digest('base64'))" "sdk/typescript/$TGZ")
locked=$(node -e "process.stdout.write(require(process.argv[1]).packages['node_modules/@behest/client-ts'].integrity||'')" "$PWD/examples/nextjs-quickstart/package-lock.json")
if [ "$packed" != "$locked" ]; then
  if [ -n "${CI:-}" ]; then
    echo "quickstart-setup: examples/nextjs-quickstart/package-lock.json pins another build of the SDK" >&2
    echo "  run: (cd examples/nextjs-quickstart && npm install ../../sdk/typescript/$TGZ) and commit package-lock.json" >&2
    exit 1
  fi
  echo "the SDK changed: updating examples/nextjs-quickstart/package-lock.json (commit it)"
  (cd examples/nextjs-quickstart && npm install --no-audit --no-fund "../../sdk/typescript/$TGZ")
fi
(cd examples/nextjs-quickstart && npm ci --no-audit --no-fund)

echo "quickstart ready: next $(node -p 'require("./examples/nextjs-quickstart/node_modules/next/package.json").version'), @behest/client-ts $(node -p 'require("./examples/nextjs-quickstart/node_modules/@behest/client-ts/package.json").version')"
