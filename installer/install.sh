#!/bin/sh
# Installs viban for the current user: downloads the release archive for this OS and
# processor and the release's SHA256SUMS, checks the archive against it, and puts
# the binary in ~/.local/bin (no sudo). Nothing is installed unless the checksum
# matches.
#
#   curl -fsSL https://github.com/viban-dev/viban/releases/latest/download/install.sh | sh
#
# VIBAN_DOWNLOAD_URL  where the release assets are (default: the latest GitHub release)
# VIBAN_INSTALL_DIR   where the binary goes (default: ~/.local/bin)
set -eu

base="${VIBAN_DOWNLOAD_URL:-https://github.com/viban-dev/viban/releases/latest/download}"
dest="${VIBAN_INSTALL_DIR:-$HOME/.local/bin}"
releases="https://github.com/viban-dev/viban/releases"

say() { printf 'viban install: %s\n' "$*"; }
fail() { printf 'viban install: %s\n' "$*" >&2; exit 1; }

case "$(uname -s)" in
  Linux) system=unknown-linux-gnu ;;
  Darwin) system=apple-darwin ;;
  *) fail "no build for $(uname -s); on Windows use install.ps1, elsewhere download a release from $releases" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) processor=x86_64 ;;
  aarch64 | arm64) processor=aarch64 ;;
  *) fail "no build for the $(uname -m) processor; see $releases" ;;
esac
asset="viban-$processor-$system.tar.gz"

download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 -o "$2" "$1" || fail "could not download $1 (is the address right, and are you online?)"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" || fail "could not download $1 (is the address right, and are you online?)"
  else
    fail "neither curl nor wget is installed; install one and run this again"
  fi
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    fail "no sha256sum or shasum to check the download with; install coreutils and run this again"
  fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM

say "downloading $asset"
download "$base/$asset" "$work/$asset"
download "$base/SHA256SUMS" "$work/SHA256SUMS"
expected="$(awk -v name="$asset" '$2 == name || $2 == "*" name { print $1 }' "$work/SHA256SUMS")"
[ -n "$expected" ] || fail "SHA256SUMS lists no $asset; nothing was installed"
actual="$(sha256 "$work/$asset")"
if [ "$expected" != "$actual" ]; then
  fail "the download does not match SHA256SUMS (expected $expected, got $actual); nothing was installed. Try again, or download it from $releases"
fi

mkdir -p "$work/unpacked"
tar -xzf "$work/$asset" -C "$work/unpacked" || fail "$asset is not a readable archive; nothing was installed"
[ -f "$work/unpacked/viban" ] || fail "$asset holds no viban binary; nothing was installed"

mkdir -p "$dest"
# Copy beside the old binary, then rename over it: a running viban keeps working.
cp "$work/unpacked/viban" "$dest/.viban.new"
chmod 0755 "$dest/.viban.new"
mv -f "$dest/.viban.new" "$dest/viban"
say "installed $("$dest/viban" --version 2>/dev/null || echo viban) to $dest/viban"

case ":$PATH:" in
  *":$dest:"*) ;;
  *) say "$dest is not on your PATH; add it, e.g.: echo 'export PATH=\"$dest:\$PATH\"' >> ~/.profile" ;;
esac
cat <<NEXT

Next:
  viban                     start it (opens http://127.0.0.1:7777 in your browser)
  viban doctor              check git, gh and the coding agents
NEXT
