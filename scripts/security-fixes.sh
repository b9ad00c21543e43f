#!/usr/bin/env bash
# The connected side's part of a heal, for the demo and the heal benchmark: advisories for a
# Debian root from bookworm-security's changelogs, and the fixed builds of every binary package
# the root has from each affected source (Debian's archive is the only network these machines
# reach).
# usage: security-fixes.sh ROOT_TAR OUT_DIR CACHE_DIR
#   writes OUT_DIR/status, OUT_DIR/adv/debian-security.json and OUT_DIR/debs/*.deb; prints what
#   the advisory generator reports.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$1
out=$2
cache=$3
mkdir -p "$out/adv" "$out/debs"
tar -xOf "$root" ./var/lib/dpkg/status >"$out/status"
python3 tests/fixtures/debian_security_advisories.py "$out/status" "$out/adv/debian-security.json" --cache "$cache/archive"
python3 - "$out/status" "$out/adv/debian-security.json" <<'PY' >"$out/binaries"
import json, re, sys
sources = set(json.load(open(sys.argv[2])))
for block in open(sys.argv[1]).read().split("\n\n"):
    f = dict(re.findall(r"^(\S+): (.*)$", block, re.M))
    src = f.get("Source", f.get("Package", "")).split(" ")[0]
    if f.get("Status", "").endswith(" installed") and src in sources:
        print(f["Package"])
PY
while read -r pkg; do
  v=$(apt-cache madison "$pkg" | awk -F'|' '/-security/{gsub(/ /,"",$2); print $2; exit}')
  [ -n "$v" ] && (cd "$out/debs" && apt-get download -qq "$pkg=$v" 2>/dev/null)
done <"$out/binaries"
