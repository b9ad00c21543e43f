#!/usr/bin/env bash
# Builds the .rpm packages (airheal, airheal-evidence, airheal-snapshot) from airheal.spec with
# rpmbuild, from a tarball of this source tree.
#   packaging/rpm/build.sh [OUTDIR]      (default: build/packages/rpm)
# On an RPM distribution the spec's BuildRequires are checked. On Debian (this project's CI)
# there is no RPM database to check them against, so AIRHEAL_RPM_NODEPS=1 passes --nodeps:
# the Debian -dev packages scripts/setup.sh installs are the same libraries.
#   packaging/rpm/build.sh --prebuilt BUILD_DIR [OUTDIR]   packages BUILD_DIR's binaries (see
#                                                          packaging/deb/build.sh) without compiling
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
prebuilt=()
if [ "${1:-}" = --prebuilt ]; then
  dir="$(cd "$2" && pwd)"
  shift 2
  "$root/packaging/check-prebuilt.sh" "$dir"
  prebuilt=(--define "airheal_prebuilt $dir")
fi
out="$(mkdir -p "${1:-$root/build/packages/rpm}" && cd "${1:-$root/build/packages/rpm}" && pwd)"
top="$(mktemp -d "${TMPDIR:-/tmp}/airheal-rpm.XXXXXX")"
trap 'rm -rf "$top"' EXIT
spec="$root/packaging/rpm/airheal.spec"
version="$(rpmspec -q --qf '%{version}\n' --srpm "$spec" 2>/dev/null | head -1)"
mkdir -p "$top"/{SOURCES,SPECS,BUILD,RPMS,SRPMS}
( cd "$root" && tar --exclude=./build --exclude=./.git --exclude=./airheal-state --exclude=./airheal-evidence.tar \
    --transform "s,^\.,airheal-$version," -czf "$top/SOURCES/airheal-$version.tar.gz" . )
nodeps=()
[ "${AIRHEAL_RPM_NODEPS:-0}" = 1 ] && nodeps=(--nodeps)
echo "rpm: building airheal $version"
rpmbuild -ba "${nodeps[@]}" "${prebuilt[@]}" --define "_topdir $top" --define "_smp_mflags -j$(nproc)" "$spec"
rm -f "$out"/*.rpm
find "$top/RPMS" "$top/SRPMS" -name '*.rpm' -exec mv {} "$out"/ \;
echo "rpm: packages in $out"
ls -l "$out"
