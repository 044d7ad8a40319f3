#!/usr/bin/env bash
# The approvals budget (issue 16): an agent's approval request visible in an open task
# panel ≤ 200 ms after it asked, against a release viban in Debian's headless Chromium.
# Prints the figures; nothing here fails on a slow machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
cd tests/e2e
[ -f node_modules/.package-lock.json ] || npm install --no-save --no-audit --no-fund --loglevel=error
VIBAN_BIN="$PWD/../../target/release/viban" npx playwright test --config bench.config.ts approvals.bench.ts
