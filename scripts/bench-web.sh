#!/usr/bin/env bash
# The web UI's budgets: a release viban with a 1,000-card board (issue 13) and a task
# panel on a 100,000-line run with five agents streaming (issue 14), measured in
# Debian's headless Chromium. Prints figures; nothing here fails on a slow machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
cd tests/e2e
[ -f node_modules/.package-lock.json ] || npm install --no-save --no-audit --no-fund --loglevel=error
VIBAN_BIN="$PWD/../../target/release/viban" npx playwright test --config bench.config.ts "$@"
