#!/usr/bin/env bash
# Scanner benchmark, in one run on this machine: IMAGES images (default 200) over 3 real Debian
# bases (bench/scan_images.py: bookworm minbase, minbase without perl, a distroless-style root),
# each with an application layer of its own, imported from one signed snapshot. Measures
#   cold:     airhealctl scan --all with an empty layer cache (each distinct layer read once)
#   re-match: importing one changed advisory (perl) re-matches only the images that hold perl
#   warm:     re-scanning every image with inventories cached (a full re-match)
# against, in the same run,
#   full:     a per-image full rescan (airhealctl scan --force: every layer of every image read)
#   tar:      tar -xOf over every layer of every image (the bare cost of reading them per image)
# A figure, not a test: nothing asserts.
#
# SET=apps: the application image set instead: a Java image (every jar of Debian bookworm's first
# JAVA_PACKAGES lib*-java packages under /app/lib, and the same jars again stored inside
# Spring-Boot-style fat jars), a Python image (the dist-packages of bookworm's first
# PYTHON_PACKAGES python3-* packages, arch all, as a virtualenv's site-packages) and a Node image
# (an npm install of NODE_PACKAGES from the registry), with the 40 GitHub advisories of
# tests/data/ghsa-sample: airheal's cold inventory + match against tar -xOf of the same layers,
# the component counts, and a sample of findings to compare with the OSV records by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
IMAGES=${IMAGES:-200}
bench_setup gpg tar bc python3
trap bench_cleanup EXIT
ctl() { "$bin/appliance/airhealctl" --state-dir "$work/state" "$@"; }
# The peer: tar reading every layer of every image of an OCI layout (the bare cost of reading them).
tar_every_layer() {
  python3 - "$1" <<'PY' | while read -r blob; do tar -xOf "$blob" >/dev/null; done
import json, os, sys
lay = sys.argv[1]
for m in json.load(open(os.path.join(lay, "index.json")))["manifests"]:
    man = json.load(open(os.path.join(lay, "blobs/sha256", m["digest"][7:])))
    for l in man["layers"]:
        print(os.path.join(lay, "blobs/sha256", l["digest"][7:]))
PY
}
snap() {  # snap CHANNEL SEQ OUT ARGS...
  local ch=$1 seq=$2 out=$3
  shift 3
  "$bin/snapshot-tools/airheal-snapshot" create --channel "$ch" --sequence "$seq" --out "$out" "$@" >/dev/null
  "$bin/snapshot-tools/airheal-snapshot" sign "$out" --key "$fpr" >/dev/null
}
if [ "${SET:-}" = apps ]; then
  cache=${APPS_CACHE:-/var/tmp/airheal-bench-apps}
  mkdir -p "$cache/java-debs" "$cache/python-debs" "$cache/node"
  JAVA_PACKAGES=${JAVA_PACKAGES:-260}
  PYTHON_PACKAGES=${PYTHON_PACKAGES:-150}
  NODE_PACKAGES=${NODE_PACKAGES:-"eslint@8 webpack@5 jest@29 express@4 lodash@4.17.20 minimist@1.2.5 semver@7.5.1 ws@8.17.0 qs@6.9.6 json5@2.2.1 tough-cookie@4.1.2 @babel/core@7 @babel/preset-env@7 typescript@5 @angular-devkit/build-angular@17 @vue/cli-service@5"}
  echo "downloading the application set (cached in $cache) ..."
  if [ -z "$(ls "$cache/java-debs")" ]; then
    (cd "$cache/java-debs" && apt-cache search --names-only '^lib[a-z0-9.+-]*-java$' | awk '{print $1}' | sort |
      head -n "$JAVA_PACKAGES" | xargs apt-get download -qq >/dev/null 2>&1 || true)
  fi
  if [ -z "$(ls "$cache/python-debs")" ]; then
    (cd "$cache/python-debs" &&
      { printf '%s\n' python3-requests python3-urllib3 python3-jinja2 python3-setuptools python3-certifi python3-idna python3-cryptography
        apt-cache search --names-only '^python3-[a-z0-9-]*$' | awk '{print $1}' | sort; } |
      awk '!seen[$0]++' | while read -r p; do
        apt-cache show "$p" 2>/dev/null | grep -q '^Architecture: all' && echo "$p"; done |
      head -n "$PYTHON_PACKAGES" | xargs apt-get download -qq >/dev/null 2>&1 || true)
  fi
  if [ ! -d "$cache/node/node_modules" ]; then
    (cd "$cache/node" && echo '{"name":"bench","version":"1.0.0"}' >package.json &&
      npm install --silent --no-audit --no-fund --ignore-scripts $NODE_PACKAGES >/dev/null)
  fi
  rm -rf "$work/java" "$work/python"
  mkdir -p "$work/java" "$work/python-root" "$work/python"
  for d in "$cache"/java-debs/*.deb; do dpkg-deb -x "$d" "$work/java"; done
  for d in "$cache"/python-debs/*.deb; do dpkg-deb -x "$d" "$work/python-root"; done
  cp -r "$work/python-root/usr/lib/python3/dist-packages/." "$work/python/"
  stats=$(python3 bench/scan_apps.py "$work/java" "$work/python" "$cache/node" "$work/layout")
  snap images 1 "$work/images.tar" --image "$work/layout:java=bench/java:1" \
    --image "$work/layout:python=bench/python:1" --image "$work/layout:node=bench/node:1"
  mkdir -p "$work/adv"
  find tests/data/ghsa-sample -name 'GHSA-*.json' -exec cp {} "$work/adv/" \;
  snap ghsa 1 "$work/adv.tar" --advisories "$work/adv"
  ctl trust add "$work/pub.asc" --channel images >/dev/null
  ctl trust add "$work/pub.asc" --channel ghsa >/dev/null
  ctl import --no-scan "$work/images.tar" >/dev/null
  ctl import --no-scan "$work/adv.tar" >/dev/null
  sync
  t0=$(now); ctl --json scan --all >"$work/cold.json"; t1=$(now)
  cold=$(secs "$t0" "$t1")
  t0=$(now)
  tar_every_layer "$work/layout"
  t1=$(now)
  tarpeer=$(secs "$t0" "$t1")
  echo
  echo "application image set: $stats"
  for img in java python node; do
    ctl --json inventory "bench/$img:1" | python3 -c "
import json, sys, collections
inv = json.load(sys.stdin)
c = collections.Counter(x['type'] for x in inv['components'])
print('  bench/$img:1 components:', dict(c), 'problems:', len(inv.get('problems', [])))"
  done
  printf '%-52s %8s s\n' "cold inventory + match of the 3 images (airheal)" "$cold"
  printf '%-52s %8s s\n' "tar -xOf of their layers (peer)" "$tarpeer"
  echo "airheal / tar: $(ratio "$cold" "$tarpeer")x the time of only reading the layers"
  echo "findings (a sample to compare with the OSV records in tests/data/ghsa-sample by hand):"
  ctl --json findings | python3 -c "
import json, sys, collections
fs = json.load(sys.stdin)
print('  total:', len(fs), dict(collections.Counter(f['ecosystem'] for f in fs)))
seen = set()
for f in fs:
    k = (f['ecosystem'], f['package'])
    if k in seen: continue
    seen.add(k)
    print('  %-9s %-45s %-14s %-22s fixed %s' % (f['ecosystem'], f['package'], f['installed'], f['advisory'], f['fixed']))"
  exit 0
fi

minbase=${MINBASE_TAR:-/tmp/airheal-fixtures/bookworm-minbase.tar}
if [ ! -f "$minbase" ]; then
  command -v mmdebstrap >/dev/null || apt-get install -y -qq mmdebstrap >/dev/null
  mkdir -p "$(dirname "$minbase")"
  mmdebstrap --quiet --variant=minbase --format=tar bookworm "$minbase.part" http://deb.debian.org/debian
  mv "$minbase.part" "$minbase"
fi
echo "building $IMAGES images over 3 bases ..."
python3 bench/scan_images.py "$minbase" "$work/layout" "$IMAGES"
args=()
for i in $(seq 0 $((IMAGES - 1))); do args+=(--image "$work/layout:app$i=bench/app$i:1"); done
snap images 1 "$work/images.tar" "${args[@]}"
ctl trust add "$work/pub.asc" --channel images >/dev/null
ctl trust add "$work/pub.asc" --channel debian >/dev/null
ctl import --no-scan "$work/images.tar" >/dev/null
refs=()
for i in $(seq 0 $((IMAGES - 1))); do refs+=("bench/app$i:1"); done

# Advisories: perl and pcre2 issues as the Debian tracker publishes them.
mkdir -p "$work/adv1" "$work/adv2"
# (awk reads to the end: an early exit would kill tar with SIGPIPE, fatal under pipefail)
perl_v=$(tar -xOf "$minbase" ./var/lib/dpkg/status | awk '/^Package: perl-base$/{p=1} p&&/^Version:/&&!v{v=$2} END{print v}')
cat >"$work/adv1/tracker.json" <<JSON
{"perl": {"CVE-2099-0001": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "$perl_v+deb12u99", "urgency": "high"}}}},
 "pcre2": {"CVE-2099-0002": {"releases": {"bookworm": {"status": "open", "urgency": "low"}}}}}
JSON
sed 's/"perl": {/"perl": {"CVE-2099-0003": {"releases": {"bookworm": {"status": "open", "urgency": "medium"}}}, /' \
  "$work/adv1/tracker.json" >"$work/adv2/tracker.json"
snap debian 1 "$work/adv1.tar" --advisories "$work/adv1"
snap debian 2 "$work/adv2.tar" --advisories "$work/adv2"
ctl import --no-scan "$work/adv1.tar" >/dev/null

sync
t0=$(now); ctl --json scan --all >"$work/cold.json"; t1=$(now)
cold=$(secs "$t0" "$t1")
cold_read=$(python3 -c "import json,sys; print(sum(r['layers_read'] for r in json.load(open(sys.argv[1]))))" "$work/cold.json")

t0=$(now); ctl --json import "$work/adv2.tar" >"$work/rematch.json"; t1=$(now)
inc=$(secs "$t0" "$t1")
inc_images=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['scan']['rematched'])" "$work/rematch.json")

t0=$(now); ctl --json scan "${refs[@]}" >"$work/warm.json"; t1=$(now)
warm=$(secs "$t0" "$t1")

t0=$(now); ctl --json scan --force "${refs[@]}" >"$work/full.json"; t1=$(now)
full=$(secs "$t0" "$t1")
full_read=$(python3 -c "import json,sys; print(sum(r['layers_read'] for r in json.load(open(sys.argv[1]))))" "$work/full.json")

# Peer: tar reading every layer of every image.
t0=$(now)
tar_every_layer "$work/layout"
t1=$(now)
tarpeer=$(secs "$t0" "$t1")
findings=$(ctl --json findings | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")

echo
echo "$IMAGES images, 3 bases + $IMAGES application layers ($((IMAGES + 3)) distinct layers, $((2 * IMAGES)) layer references)"
printf '%-52s %8s s  %s\n' "cold scan, empty layer cache (airheal)" "$cold" "$cold_read layers read"
printf '%-52s %8s s  %s\n' "per-image full rescan (airheal scan --force)" "$full" "$full_read layers read"
printf '%-52s %8s s\n' "tar -xOf of every layer of every image (peer)" "$tarpeer"
printf '%-52s %8s s  %s\n' "warm rescan, inventories cached (full re-match)" "$warm" "0 layers read"
printf '%-52s %8s s  %s\n' "import of one changed advisory + re-match" "$inc" "$inc_images of $IMAGES images re-matched"
echo "cold vs per-image full rescan: $(ratio "$full" "$cold")x faster; vs tar: $(ratio "$tarpeer" "$cold")x"
echo "findings after the run: $findings"
