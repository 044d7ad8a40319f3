#!/usr/bin/env bash
# Runs viban's library unit tests as a Windows program under Wine, so that the
# Windows-only code (PATHEXT lookups, the control pipe's helpers, paths) runs somewhere
# before a release. Cross-compiles for x86_64-pc-windows-gnu (scripts/check-targets.sh
# stages what that needs) and installs Debian's wine64.
#
# Wine 8 (Debian 12) has no bcryptprimitives.dll, which Rust's standard library loads
# for ProcessPrng; a stand-in built here with mingw-w64 answers from RtlGenRandom. Real
# Windows has the DLL; the stand-in is only put beside the test binaries.
#
# Usage: scripts/test-windows-wine.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-pc-windows-gnu
scripts/check-targets.sh "$target"

if ! [ -x /usr/lib/wine/wine64 ]; then
  echo "test-windows-wine: installing Debian's wine64"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends wine64 >/dev/null
fi

deps="${CARGO_TARGET_DIR:-target}/$target/debug/deps"
mkdir -p "$deps"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/bcryptprimitives.c" <<'C'
#include <windows.h>
#include <ntsecapi.h>
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!RtlGenRandom(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
C
x86_64-w64-mingw32-gcc -shared -o "$deps/bcryptprimitives.dll" "$work/bcryptprimitives.c" -ladvapi32

export WINEPREFIX="${WINEPREFIX:-$PWD/target/wine}" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64
cargo test --locked --target "$target" --lib "$@"
