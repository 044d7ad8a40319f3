#!/usr/bin/env bash
# Lints viban (clippy, warnings denied) for the release targets this Linux machine
# cannot run, macOS (arm64) and Windows (x64), so that platform code that only compiles
# there (the tray, signals, paths) is checked before a tag push reaches the release
# workflow's runners.
#
# Checking still runs build scripts: ring compiles its C for the target (clang,
# with a stand-in for the one Apple SDK header it reads; mingw-w64 for Windows) and
# postgresql_embedded wants the target's PostgreSQL archive staged. Nothing is linked.
#
# Usage: scripts/check-targets.sh [TARGET ...]
#        (default: aarch64-apple-darwin x86_64-pc-windows-gnu)
set -euo pipefail
cd "$(dirname "$0")/.."

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-apple-darwin x86_64-pc-windows-gnu)

need_packages=()
command -v clang >/dev/null || need_packages+=(clang)
command -v x86_64-w64-mingw32-gcc >/dev/null || need_packages+=(gcc-mingw-w64-x86-64)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo "check-targets: installing ${need_packages[*]} with apt"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${need_packages[@]}" >/dev/null
fi

sdk="$(mktemp -d)"
trap 'rm -rf "$sdk"' EXIT
# The only SDK header ring's C includes beyond the compiler's own freestanding ones.
cat >"$sdk/TargetConditionals.h" <<'H'
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
H

cache="${HOME:?HOME must be set}/.theseus/postgresql"
for target in "${targets[@]}"; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
  case "$target" in
    *-windows-gnu)
      # The npm build is the MSVC one; its files are the same for a gnu-linked viban.
      msvc="${target%-gnu}-msvc"
      scripts/stage-postgres.sh "$msvc"
      for archive in "$cache"/postgresql-*-"$msvc".tar.gz; do
        ln -sf "$archive" "${archive%-"$msvc".tar.gz}-$target.tar.gz"
      done
      ;;
    *-apple-darwin)
      scripts/stage-postgres.sh "$target"
      variable="${target//-/_}"
      export "CC_$variable=clang"
      export "CFLAGS_$variable=-ffreestanding -nostdlibinc -DRING_CORE_NOSTDLIBINC -isystem $sdk"
      ;;
    *) scripts/stage-postgres.sh "$target" ;;
  esac
  echo "check-targets: cargo clippy --target $target"
  cargo clippy --locked --target "$target" --lib --bins -- -D warnings
done
