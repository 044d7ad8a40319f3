#!/usr/bin/env bash
# Installs what building viban needs that cargo does not fetch: Node.js 20+ and npm
# for the web UI, and the PostgreSQL archive embedded in the binary. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]
}

if ! node_ok && command -v apt-get >/dev/null; then
  echo "setup: installing Node.js and npm with apt"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if ! node_ok; then
  echo "setup: viban's web UI needs Node.js 20 or newer with npm at build time; install it and re-run" >&2
  exit 1
fi
command -v cargo >/dev/null || { echo "setup: install Rust first (https://rustup.rs)" >&2; exit 1; }

scripts/stage-postgres.sh
# `npm install --no-save` rather than `npm ci`: where npm is set to keep registry
# addresses out of lock files (omit-lockfile-registry-resolved), the lock it writes
# lacks other platforms' optional packages and `npm ci` rejects it.
(cd assets/web && [ -f node_modules/.package-lock.json ] || npm install --no-save --no-audit --no-fund --loglevel=error)
