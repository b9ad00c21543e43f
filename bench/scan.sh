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
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
IMAGES=${IMAGES:-200}
bench_setup gpg tar bc python3
trap bench_cleanup EXIT
ctl() { "$bin/appliance/airhealctl" --state-dir "$work/state" "$@"; }
snap() {  # snap CHANNEL SEQ OUT ARGS...
  local ch=$1 seq=$2 out=$3
  shift 3
  "$bin/snapshot-tools/airheal-snapshot" create --channel "$ch" --sequence "$seq" --out "$out" "$@" >/dev/null
  "$bin/snapshot-tools/airheal-snapshot" sign "$out" --key "$fpr" >/dev/null
}

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
python3 - "$work/layout" <<'PY' | while read -r blob; do tar -xOf "$blob" >/dev/null; done
import json, os, sys
lay = sys.argv[1]
for m in json.load(open(os.path.join(lay, "index.json")))["manifests"]:
    man = json.load(open(os.path.join(lay, "blobs/sha256", m["digest"][7:])))
    for l in man["layers"]:
        print(os.path.join(lay, "blobs/sha256", l["digest"][7:]))
PY
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
