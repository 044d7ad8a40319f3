#!/usr/bin/env bash
# Builds viban (release) and runs it: `scripts/run.sh [viban arguments]`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --release --quiet -- "$@"
