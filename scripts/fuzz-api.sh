#!/usr/bin/env bash
# Fuzzes the running API from its own OpenAPI document with schemathesis (PyPI):
# builds viban, starts it on a throwaway home, runs every phase (examples, coverage,
# fuzzing, stateful) and fails on any 5xx, on a response that does not match the
# document (status, content type, schema), or on a request the document forbids
# being accepted.
#
#   scripts/fuzz-api.sh                 # default budget: 60 s of fuzzing
#   FUZZ_SECONDS=600 scripts/fuzz-api.sh
#   scripts/fuzz-api.sh --seed 42       # extra arguments go to `schemathesis run`
#
# Reports (JUnit and a reproduction script for each failure) land in
# target/fuzz/report. `POST /api/shutdown` is left out: it would stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
work=target/fuzz
venv=$work/venv
mkdir -p "$work"

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "fuzz: installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv" 2>/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

scripts/setup.sh >/dev/null
cargo build --quiet --locked --bin viban
home="$(mktemp -d /tmp/viban-fuzz.XXXXXX)"
# A clone URL from the fuzzer must never reach the network: git may only use local files,
# and update checks go to a closed local port (they report it as the check's error).
# Started from its home, so nothing the fuzzer sends can name this checkout by a
# relative path.
root="$PWD"
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
(cd "$home" && GIT_ALLOW_PROTOCOL=file VIBAN_NO_UPDATE=1 VIBAN_UPDATE_URL=http://127.0.0.1:9 exec "$target_dir/debug/viban" serve --home "$home" --port 0 \
  --no-browser --headless >"$root/$work/viban.log" 2>&1) &
viban_pid=$!
cleanup() {
  kill "$viban_pid" 2>/dev/null && wait "$viban_pid" 2>/dev/null
  rm -rf "$home"
}
trap cleanup EXIT

for _ in $(seq 1 600); do
  url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$home/run/instance.json" 2>/dev/null || true)"
  if [ -n "$url" ] && curl -fsS "${url%/}/api/health" >/dev/null 2>&1; then break; fi
  kill -0 "$viban_pid" 2>/dev/null || { echo "fuzz: viban did not start:" >&2; cat "$work/viban.log" >&2; exit 1; }
  sleep 0.2
done
url="${url%/}"
token="$(cat "$home/token")"
curl -fsS -H "Authorization: Bearer $token" "$url/api/openapi.json" -o "$work/openapi.json"

status=0
# From target/fuzz, where schemathesis keeps its cache. One worker: with two threads,
# CPython 3.11's ast.parse (hypothesis describes its lambdas with it) can fail with
# "AST constructor recursion depth mismatch", a crash of the tool, not of viban.
(cd "$work" && venv/bin/schemathesis --config-file ../../scripts/schemathesis.toml run openapi.json \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
  --exclude-path /api/shutdown \
  --exclude-path /api/ws \
  --max-time "${FUZZ_SECONDS:-60}" \
  --workers 1 \
  --report junit,pytest --report-dir report \
  "$@") || status=$?

if grep -q " ERROR \| panicked" "$work/viban.log"; then
  echo "fuzz: viban logged errors during the run:" >&2
  grep " ERROR \| panicked" "$work/viban.log" | head -20 >&2
  status=1
fi
exit "$status"
