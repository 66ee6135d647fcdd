#!/usr/bin/env bash
# Set up (see setup.sh), then run every test: lint, unit, end-to-end with the real models, browser.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1; then
    echo "Installing Debian's chromium for the browser tests..."
    (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null
fi
.venv/bin/ruff check assistant tests
.venv/bin/python -m pytest "$@"
