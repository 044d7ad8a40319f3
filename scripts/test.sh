#!/usr/bin/env bash
# Runs viban's whole test suite. Installs and starts what the tests need: the staged
# PostgreSQL archive (via setup.sh), the real agent CLIs from npm for the contract
# tests, Debian's Chromium for the browser test and, for
# the external-database test (T1), a scratch cluster of Debian's PostgreSQL on a free
# loopback port, removed afterwards.
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

start_external_postgres() {
  if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    echo "test: installing Debian's PostgreSQL for the external-database test"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  scratch="$(mktemp -d /tmp/viban-external-pg.XXXXXX)"
  local run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses root; Debian's package brings the `postgres` account.
    chown postgres: "$scratch"
    run_as=(runuser -u postgres --)
  fi
  local port password=viban-test
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  echo "$password" > "$scratch/pw" && chmod 600 "$scratch/pw"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$scratch/pw"
  "${run_as[@]}" "$bin/initdb" -D "$scratch/data" -U viban --auth=scram-sha-256 --pwfile="$scratch/pw" >/dev/null
  "${run_as[@]}" "$bin/pg_ctl" -D "$scratch/data" -l "$scratch/log" -w -o "-p $port -k $scratch -c listen_addresses=127.0.0.1" start >/dev/null
  trap 'runuser_stop' EXIT
  PGPASSWORD=$password "$bin/createdb" -h 127.0.0.1 -p "$port" -U viban viban_test
  export VIBAN_TEST_DATABASE_URL="postgres://viban:$password@127.0.0.1:$port/viban_test"
  stop_cmd=("${run_as[@]}" "$bin/pg_ctl" -D "$scratch/data" -m fast -w stop)
}

runuser_stop() {
  "${stop_cmd[@]}" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}

# The workflow test validates .github/workflows with check-jsonschema from PyPI.
if [ -z "${VIBAN_TEST_CHECK_JSONSCHEMA:-}" ]; then
  tools=target/tools
  if ! [ -x "$tools/bin/check-jsonschema" ]; then
    echo "test: installing check-jsonschema from PyPI for the workflow test"
    python3 -m venv "$tools" 2>/dev/null || {
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$tools"
    }
    "$tools/bin/pip" install --quiet --disable-pip-version-check check-jsonschema
  fi
  export VIBAN_TEST_CHECK_JSONSCHEMA="$PWD/$tools/bin/check-jsonschema"
fi

# The service test validates the systemd unit with systemd-analyze.
if ! command -v systemd-analyze >/dev/null; then
  echo "test: installing Debian's systemd for systemd-analyze"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

# The tray test runs a real desktop: Xvfb, a D-Bus session bus, xfce4-panel (its
# status tray hosts StatusNotifierItems), gdbus to click the menu, xwd and netpbm for
# the screenshot. The unwritable-folder update test runs viban as nobody (setpriv).
desktop_tools="Xvfb:xvfb xfce4-panel:xfce4-panel dbus-daemon:dbus gdbus:libglib2.0-bin xwd:x11-apps xwdtopnm:netpbm setpriv:util-linux"
missing=""
for pair in $desktop_tools; do
  command -v "${pair%%:*}" >/dev/null || missing="$missing ${pair#*:}"
done
if [ -n "$missing" ]; then
  echo "test: installing Debian's$missing for the tray and update tests"
  as_root apt-get update -qq
  # shellcheck disable=SC2086 # one package per word
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The desktop-notification test (tests/notifications.rs) runs a real notification
# daemon on the same kind of desktop, watched with dbus-monitor.
missing=""
command -v dbus-monitor >/dev/null || missing="$missing dbus-bin"
[ -x /usr/lib/notification-daemon/notification-daemon ] || missing="$missing notification-daemon"
if [ -n "$missing" ]; then
  echo "test: installing Debian's$missing for the desktop-notification test"
  as_root apt-get update -qq
  # shellcheck disable=SC2086 # one package per word
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The browser test drives Debian's Chromium headless.
if [ -z "${VIBAN_TEST_CHROMIUM:-}" ] && ! [ -x /usr/bin/chromium ]; then
  echo "test: installing Debian's Chromium for the browser test"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The real agent CLIs, from the npm registry, for the contract tests (agent_clis.rs).
# They cannot reach their model APIs here; their offline and signed-out output is
# what the tests check viban against.
if [ -z "${VIBAN_TEST_AGENT_CLIS:-}" ]; then
  clis=target/agent-clis
  if ! [ -x "$clis/node_modules/.bin/claude" ] || ! [ -x "$clis/node_modules/.bin/codex" ] ||
    ! [ -x "$clis/node_modules/.bin/gemini" ]; then
    echo "test: installing Claude Code, Codex and Gemini CLI from npm for the contract tests"
    mkdir -p "$clis"
    npm install --prefix "$clis" --no-save --no-audit --no-fund --loglevel=error \
      @anthropic-ai/claude-code @openai/codex @google/gemini-cli >/dev/null
  fi
  export VIBAN_TEST_AGENT_CLIS="$PWD/$clis/node_modules/.bin"
fi

if [ -z "${VIBAN_TEST_DATABASE_URL:-}" ]; then
  start_external_postgres
fi
# Plain `cargo test`: lib, binary and integration tests (clippy already builds the bench).
cargo test "$@"

# The MCP conformance suite against the binary cargo test just built.
scripts/mcp-conformance.sh target/debug/viban

# The web UI end to end: Playwright drives Debian's Chromium against the binary cargo
# test just built (tests/e2e; screenshots land in target/artifacts/e2e).
(
  cd tests/e2e
  [ -f node_modules/.package-lock.json ] || npm install --no-save --no-audit --no-fund --loglevel=error
  VIBAN_BIN="$PWD/../../target/debug/viban" npx playwright test
)
