#!/usr/bin/env bash
# The connected side's part of a heal, for the demo and the heal benchmark: advisories for a
# Debian root from SUITE-security's changelogs, and the newest security build of every binary the
# root has from each source package the security suite updated (Debian's archive is the only
# network these machines reach). A private apt configuration per suite (its own sources, lists
# and cache under CACHE_DIR; Debian's keyring checks the suite's InRelease), so any release works
# on any host.
# usage: security-fixes.sh ROOT_TAR OUT_DIR CACHE_DIR [SUITE]     (SUITE: bookworm by default)
#   writes OUT_DIR/status, OUT_DIR/adv/debian-security.json and OUT_DIR/debs/*.deb; prints what
#   the advisory generator reports.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$1
out=$2
cache=$3
suite=${4:-bookworm}
mkdir -p "$out/adv" "$out/debs"
tar -xOf "$root" ./var/lib/dpkg/status >"$out/status"
python3 tests/fixtures/debian_security_advisories.py "$out/status" "$out/adv/debian-security.json" --suite "$suite" --cache "$cache/archive"

apt_dir="$cache/apt-$suite-security"
mkdir -p "$apt_dir"/{etc/sources.list.d,etc/preferences.d,state/lists/partial,cache/archives/partial,debs}
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security $suite-security main" \
  >"$apt_dir/etc/sources.list"
: >"$apt_dir/etc/preferences"
: >"$apt_dir/status"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/etc/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$apt_dir/etc/preferences" -o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d"
  -o "Dir::State=$apt_dir/state" -o "Dir::State::status=$apt_dir/status" -o "Dir::Cache=$apt_dir/cache"
  -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Acquire::Languages=none -o Acquire::GzipIndexes=false -o quiet=1)
apt-get "${apt_opts[@]}" update >/dev/null

# Every installed binary of a source the suite has a newer build of, with that build's version.
python3 - "$out/status" "$apt_dir"/state/lists/*_main_binary-amd64_Packages <<'PY' >"$out/binaries"
import re, subprocess, sys

def paragraphs(text):
    for block in re.split(r"\n\s*\n", text):
        fields = {}
        for line in block.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                k, v = line.split(":", 1)
                fields[k] = v.strip()
        if fields:
            yield fields

def source(p):
    m = re.match(r"(\S+)\s*\((.+)\)", p.get("Source", p["Package"]))
    return (m.group(1), m.group(2)) if m else (p.get("Source", p["Package"]), p["Version"])

def newer(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0

installed = [p for p in paragraphs(open(sys.argv[1]).read()) if p.get("Status", "").endswith(" installed")]
best, src_best = {}, {}
for p in paragraphs(open(sys.argv[2]).read()):
    if p.get("Architecture") not in ("amd64", "all"):
        continue
    if p["Package"] not in best or newer(p["Version"], best[p["Package"]]):
        best[p["Package"]] = p["Version"]
    s, sv = source(p)
    if s not in src_best or newer(sv, src_best[s]):
        src_best[s] = sv
for p in installed:
    s, sv = source(p)
    if s in src_best and newer(src_best[s], sv) and p["Package"] in best and newer(best[p["Package"]], p["Version"]):
        print(p["Package"] + "=" + best[p["Package"]])
PY
if [ -s "$out/binaries" ]; then
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download $(cat "$out/binaries") >/dev/null 2>&1 || true)
  while IFS== read -r pkg ver; do
    f=$(ls "$apt_dir/debs/${pkg}_${ver/:/%3a}_"*.deb 2>/dev/null | head -1)
    [ -n "$f" ] || { echo "security-fixes: apt-get download $pkg=$ver left no .deb" >&2; exit 1; }
    cp "$f" "$out/debs/"
  done <"$out/binaries"
fi
