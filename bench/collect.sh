#!/usr/bin/env bash
# Collect benchmark, in one run on this machine: an appliance serving N images (default 50) on one
# real base (Debian 12 bookworm main, built with mmdebstrap; each image adds a small application
# layer) with bookworm-security's advisories imported exports what it needs; then, from the live
# bookworm-security archive:
#   airheal: `airheal-snapshot collect --needs` with a cold cache (InRelease checked with Debian's
#            keyring, the Packages index and every .deb against it), then the same again a moment
#            later with the cache warm (the second run of the week: what it fetches is the delta),
#            and the snapshot of the second run as a delta of the first (`create --previous`);
#   peer:    what an operator does by hand for the same set: a private apt configuration for
#            bookworm-security, `apt-get update`, `apt-get download NAME=VERSION...` of exactly the
#            builds collect chose (apt checks the same signature and hashes).
# Printed: time and package bytes of each, the ratio, and the bytes of the second run and of the
# delta snapshot. A figure, not a test: nothing asserts. Needs Debian's archive.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${IMAGES:-50}
bench_setup gpg bc python3 skopeo mmdebstrap
trap bench_stop_daemon EXIT

bench_bookworm_base

# The appliance: N images, and bookworm-security's advisories for their packages.
state="$work/state"
mkdir -p "$state" "$work/adv"
printf 'scan:\n  poll_interval: 1s\nheal:\n  rules:\n    - {repository: "*", mode: advisory}\n' >"$work/airheal.yaml"
"$bin/appliance/airheald" --state-dir "$state" --config "$work/airheal.yaml" --listen 127.0.0.1:0 \
  --ready-file "$state/ready" >"$work/airheald.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do [ -s "$state/ready" ] && break; sleep 0.1; done
ctl=("$bin/appliance/airhealctl" --state-dir "$state")
python3 bench/heal_images.py "$cache/bookworm-main.tar.gz" "$work/layout" "$N"
args=()
for i in $(seq 0 $((N - 1))); do args+=(--image "$work/layout:app$i=bench/app$i:1"); done
tar -xOf "$cache/bookworm-main.tar" ./var/lib/dpkg/status >"$work/status"
python3 tests/fixtures/debian_security_advisories.py "$work/status" "$work/adv/debian-security.json" \
  --suite bookworm --cache "$cache/archive" >/dev/null
seq=$(date +%s)
"$bin/snapshot-tools/airheal-snapshot" create --channel fleet --sequence "$seq" --expires 30d \
  --out "$work/fleet.tar" --advisories "$work/adv" "${args[@]}" >/dev/null
"$bin/snapshot-tools/airheal-snapshot" sign "$work/fleet.tar" --key "$fpr" >/dev/null
"${ctl[@]}" trust add "$work/pub.asc" --channel fleet >/dev/null
"${ctl[@]}" import "$work/fleet.tar" >/dev/null
for _ in $(seq 300); do
  w=$("${ctl[@]}" --json needs show | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["images_waiting"])')
  [ "$w" -ge "$N" ] && break
  sleep 1
done
"${ctl[@]}" needs export --out "$work/needs.json" >/dev/null
"${ctl[@]}" audit key --export "$work/appliance.asc" >/dev/null
kill -TERM "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=
sources=$(python3 -c 'import base64,json,sys; d=json.loads(base64.b64decode(json.load(open(sys.argv[1]))["payload"])); print(len(d["packages"]), d["summary"]["images_waiting"])' "$work/needs.json")

cat >"$work/collect.yaml" <<YAML
cache: $work/collect-cache
apt:
  - name: debian-security
    url: http://deb.debian.org/debian-security
    suite: bookworm-security
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
YAML
collect() {  # collect OUT -> seconds and the JSON report
  local t0 t1 rc=0
  t0=$(now)
  "$bin/snapshot-tools/airheal-snapshot" collect --config "$work/collect.yaml" --needs "$work/needs.json" \
    --needs-key "$work/appliance.asc" --out "$1" --json >"$1.json" 2>/dev/null || rc=$?
  t1=$(now)
  [ "$rc" = 0 ] || [ "$rc" = 3 ] || { echo "collect failed (exit $rc)" >&2; exit 1; }
  secs "$t0" "$t1"
}
t_cold=$(collect "$work/week1")
t_warm=$(collect "$work/week1-again")
bytes() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r[sys.argv[2]])' "$1" "$2"; }
cold_bytes=$(bytes "$work/week1.json" bytes_fetched)
warm_bytes=$(bytes "$work/week1-again.json" bytes_fetched)
npk=$(bytes "$work/week1.json" packages)

# The peer: the same builds with apt-get download and a private apt configuration.
python3 - "$work/week1/artifacts/collect.log" >"$work/wanted" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event") == "apt.package":
        print("%s:%s=%s" % (r["package"], r["architecture"], r["version"]))
PY
apt_dir="$work/peer-apt"
mkdir -p "$apt_dir"/{etc/sources.list.d,etc/preferences.d,state/lists/partial,cache/archives/partial,debs}
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main" >"$apt_dir/etc/sources.list"
: >"$apt_dir/status"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/etc/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$apt_dir/etc/preferences" -o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d"
  -o "Dir::State=$apt_dir/state" -o "Dir::State::status=$apt_dir/status" -o "Dir::Cache=$apt_dir/cache"
  -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Acquire::Languages=none -o quiet=2)
t0=$(now)
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download $(sed 's/:all=/=/' "$work/wanted") >/dev/null)
t1=$(now)
t_peer=$(secs "$t0" "$t1")
peer_n=$(ls "$apt_dir/debs" | wc -l)
peer_bytes=$(du -cb "$apt_dir"/debs/*.deb | tail -1 | cut -f1)

# The snapshots: the first run's, then the second run's as a delta of it.
"$bin/snapshot-tools/airheal-snapshot" create --collected "$work/week1" --channel debian --sequence 1 \
  --out "$work/s1.tar" >/dev/null
"$bin/snapshot-tools/airheal-snapshot" create --collected "$work/week1-again" --channel debian --sequence 2 \
  --out "$work/s2.tar" --previous "$work/s1.tar" >/dev/null
s1=$(stat -c %s "$work/s1.tar")
s2=$(stat -c %s "$work/s2.tar")

set -- $sources
echo "collect: $N images on bookworm main need $1 fixed source package(s) from bookworm-security today"
printf '%-58s %10s %14s\n' "" "seconds" "package bytes"
printf '%-58s %10s %14s\n' "airheal-snapshot collect --needs (cold cache, $npk .debs)" "$t_cold" "$cold_bytes"
printf '%-58s %10s %14s\n' "peer: apt-get update + apt-get download ($peer_n .debs)" "$t_peer" "$peer_bytes"
printf '%-58s %10s %14s\n' "airheal-snapshot collect again (warm cache: the delta)" "$t_warm" "$warm_bytes"
echo "ratio collect/peer (time): $(ratio "$t_cold" "$t_peer" 2)"
echo "snapshot of the first run: $s1 bytes; the second run's as a delta of it: $s2 bytes"
