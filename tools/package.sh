#!/usr/bin/env bash
# Builds the Debian package: target/debian/neural-style-studio_<version>-1_<arch>.deb with the
# binary, its menu entry, icons and licences (metadata in Cargo.toml, [package.metadata.deb]).
# Reproducible: file times are the last commit's (SOURCE_DATE_EPOCH) and the build is --locked,
# so the same commit and toolchain give the same package.
#   tools/package.sh             build it
#   sudo apt install ./target/debian/neural-style-studio_*.deb    install it
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
fi
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate assets/neural-style-studio.desktop
fi
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)"
export SOURCE_DATE_EPOCH
cargo deb --locked --strip
ls -l target/debian/*.deb
