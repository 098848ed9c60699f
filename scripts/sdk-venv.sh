#!/usr/bin/env bash
# Creates .venv with the published SDKs the conformance tests drive (tests/sdk).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt
echo ".venv ready: $(.venv/bin/python -c 'import behest; print("behest-ai", behest.__version__)')"
