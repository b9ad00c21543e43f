#!/usr/bin/env bash
# Builds the .deb packages (airheal, airheal-evidence, airheal-snapshot) with dpkg-buildpackage
# from a copy of this source tree, then checks them with lintian.
#   packaging/deb/build.sh [OUTDIR]      (default: build/packages/deb)
# Needs debhelper, help2man, lintian and the build dependencies in debian/control
# (scripts/setup.sh installs them).
#   packaging/deb/build.sh --prebuilt BUILD_DIR [OUTDIR]
#                                         packages the binaries of BUILD_DIR (a tree configured
#                                         with the dev preset, e.g. build/dev after the tests ran)
#                                         instead of compiling the project again.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
prebuilt=
if [ "${1:-}" = --prebuilt ]; then
  prebuilt="$(cd "$2" && pwd)"
  shift 2
  "$root/packaging/check-prebuilt.sh" "$prebuilt"
  export AIRHEAL_PREBUILT="$prebuilt"
fi
out="$(mkdir -p "${1:-$root/build/packages/deb}" && cd "${1:-$root/build/packages/deb}" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/airheal-deb.XXXXXX")"
trap 'rm -rf "$work"' EXIT

version="$(dpkg-parsechangelog -l "$root/packaging/deb/debian/changelog" -S Version)"
src="$work/airheal-$version"
mkdir -p "$src"
# The source as committed or edited, without build outputs and local state.
( cd "$root" && tar --exclude=./build --exclude=./.git --exclude=./airheal-state \
    --exclude=./airheal-evidence.tar -cf - . ) | tar -xf - -C "$src"
rm -rf "$src/debian"
cp -a "$root/packaging/deb/debian" "$src/debian"

echo "deb: building airheal $version in $src${prebuilt:+ from the binaries in $prebuilt}"
( cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)" )

rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mv "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
echo "deb: packages in $out"
ls -l "$out"/*.deb

if command -v lintian >/dev/null; then
  echo "deb: lintian"
  lintian --fail-on error,warning --display-info "$out"/*.changes
  echo "deb: lintian clean (no errors, no warnings, no overrides)"
fi
