#!/usr/bin/env bash
# Heal benchmark, in one run on this machine: time to heal from a snapshot import to staged, for
# 1 image and for N images (default 50) sharing one real base (Debian 12 bookworm main, built with
# mmdebstrap; each image adds a small application layer), healed with bookworm-security's own
# advisories and fixed .debs carried in one signed snapshot. airheald runs with its defaults
# (autonomous-staging, concurrency 1 unless HEAL_CONCURRENCY is set); every heal is verified
# (rescan, smoke test of the image's command). Printed with the heal layer's size against the
# image's size, and against a peer measured in the same run:
#   peer: what a person does by hand with the advisory-mode Containerfile, `buildah bud
#         --network none` (FROM the image, COPY the .debs, RUN dpkg -i), one image after another,
#         for PEER_IMAGES of the N images (default 10), scaled to N and labelled as such.
# A figure, not a test: nothing asserts. Needs network to Debian's archive for the fixtures only.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${IMAGES:-50}
PEER=${PEER_IMAGES:-10}
CONC=${HEAL_CONCURRENCY:-1}
bench_setup gpg bc python3 buildah mmdebstrap skopeo
daemon=
cleanup() {
  [ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
  bench_cleanup
}
trap cleanup EXIT

# Fixtures (cached): the base, gzip-compressed once; advisories from bookworm-security's
# changelogs; the fixed builds of every binary the base has from an affected source.
cache=${AIRHEAL_DEMO_CACHE:-/var/tmp/airheal-demo}
mkdir -p "$cache"
if [ ! -f "$cache/bookworm-main.tar" ]; then
  mmdebstrap --quiet --variant=minbase --format=tar bookworm "$cache/bookworm-main.tar.part" http://deb.debian.org/debian
  mv "$cache/bookworm-main.tar.part" "$cache/bookworm-main.tar"
fi
[ -f "$cache/bookworm-main.tar.gz" ] || { gzip -6 -n -c "$cache/bookworm-main.tar" >"$cache/bookworm-main.tar.gz.part" && mv "$cache/bookworm-main.tar.gz.part" "$cache/bookworm-main.tar.gz"; }
./scripts/security-fixes.sh "$cache/bookworm-main.tar" "$work" "$cache" >/dev/null
ndebs=$(ls "$work/debs" | wc -l)
[ "$ndebs" -gt 0 ] || { echo "bookworm-security has no fix newer than bookworm main today: nothing to heal"; exit 0; }

snap() {  # snap CHANNEL OUT ARGS...
  local ch=$1 out=$2
  shift 2
  "$bin/snapshot-tools/airheal-snapshot" create --channel "$ch" --sequence "$(date +%s%N | cut -c1-15)" --expires 30d --out "$out" "$@" >/dev/null
  "$bin/snapshot-tools/airheal-snapshot" sign "$out" --key "$fpr" >/dev/null
}
snap debian "$work/fix.tar" --advisories "$work/adv" --packages "$work/debs"

run_airheal() {  # run_airheal COUNT NAME -> prints seconds, staged count, layer and image sizes
  local n=$1 run=$2 state="$work/state-$2"
  mkdir -p "$state"
  printf 'heal:\n  concurrency: %s\nscan:\n  poll_interval: 1s\n' "$CONC" >"$work/airheal-$run.yaml"
  "$bin/appliance/airheald" --state-dir "$state" --config "$work/airheal-$run.yaml" --listen 127.0.0.1:0 \
    --ready-file "$state/ready" >"$work/airheald-$run.log" 2>&1 &
  daemon=$!
  for _ in $(seq 100); do [ -s "$state/ready" ] && break; sleep 0.1; done
  local ctl=("$bin/appliance/airhealctl" --state-dir "$state")
  python3 bench/heal_images.py "$cache/bookworm-main.tar.gz" "$work/layout-$run" "$n"
  local args=()
  for i in $(seq 0 $((n - 1))); do args+=(--image "$work/layout-$run:app$i=bench/app$i:1"); done
  snap images "$work/images-$run.tar" "${args[@]}"
  "${ctl[@]}" trust add "$work/pub.asc" --channel images >/dev/null
  "${ctl[@]}" trust add "$work/pub.asc" --channel debian >/dev/null
  "${ctl[@]}" import "$work/images-$run.tar" >/dev/null  # images first: scanned, nothing to heal yet
  local t0 t1
  t0=$(now)
  "${ctl[@]}" import "$work/fix.tar" >/dev/null
  while :; do
    "${ctl[@]}" --json heals >"$work/heals-$run.json"
    done=$(python3 -c 'import json,sys; h=json.load(open(sys.argv[1])); print(sum(x["state"] in ("staged","promoted","held","failed") for x in h))' "$work/heals-$run.json")
    [ "$done" -ge "$n" ] && break
    sleep 1
  done
  t1=$(now)
  kill -TERM "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=
  python3 - "$work/heals-$run.json" "$(secs "$t0" "$t1" 1)" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
staged = [x for x in h if x["state"] == "staged"]
layer = max((x.get("heal_layer_bytes", 0) for x in staged), default=0)
image = max((x.get("image_bytes", 0) for x in staged), default=0)
print(sys.argv[2], len(staged), layer, image)
PY
}

run_peer() {  # run_peer COUNT -> seconds for COUNT buildah bud rebuilds, one after another
  local n=$1 b=(buildah --root "$work/peer-root" --runroot "$work/peer-run" --storage-driver vfs)
  mkdir -p "$work/peer/debs"
  cp "$work/debs"/*.deb "$work/peer/debs/"
  ln -sfn "$work/layout-many" "$work/peer/layout"
  local files
  files=$(cd "$work/peer/debs" && ls *.deb | sed 's|^|/tmp/airheal-heal/|' | tr '\n' ' ')
  local t0 t1
  t0=$(now)
  for i in $(seq 0 $((n - 1))); do
    # (a relative oci: path: buildah derives an image name from it, and names are lowercase)
    printf 'FROM oci:layout:app%s\nCOPY debs/ /tmp/airheal-heal/\nRUN dpkg -i %s && rm -rf /tmp/airheal-heal\n' \
      "$i" "$files" >"$work/peer/Containerfile"
    (cd "$work/peer" && "${b[@]}" bud --quiet --runtime runc --network none --layers=false --pull-never -f Containerfile \
      -t "localhost/peer$i" . >/dev/null)
  done
  t1=$(now)
  secs "$t0" "$t1" 1
}

peer_layer() {  # peer_layer -> bytes of the layer buildah bud added to app0, as buildah pushes it (gzip)
  local b=(buildah --root "$work/peer-root" --runroot "$work/peer-run" --storage-driver vfs)
  "${b[@]}" push --quiet --compression-format gzip localhost/peer0 "oci:$work/peer-out:peer0" >/dev/null
  python3 - "$work/peer-out" <<'PY'
import json, sys, os
root = sys.argv[1]
blob = lambda d: os.path.join(root, "blobs", *d.split(":"))
index = json.load(open(os.path.join(root, "index.json")))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
print(manifest["layers"][-1]["size"])
PY
}

echo "heal benchmark: bookworm main base + app layer; $ndebs fixed .debs from bookworm-security in one signed snapshot; concurrency $CONC"
read -r one_s one_n one_layer one_image < <(run_airheal 1 one)
read -r many_s many_n many_layer many_image < <(run_airheal "$N" many)
peer1=$(run_peer 1)
peer_bytes=$(peer_layer)
peerk=$(run_peer "$PEER")
peerN=$(echo "$peerk * $N / $PEER" | bc -l | xargs printf '%.1f')
pct=$(echo "100 * $one_layer / $one_image" | bc -l | xargs printf '%.1f')
mib() { echo "$1 / 1048576" | bc -l | xargs printf '%.1f'; }
echo
printf '%-44s %10s %14s %12s\n' "" "airheal" "buildah bud" "bud/airheal"
printf '%-44s %9ss %13ss %7sx\n' "1 image: import -> staged ($one_n staged)" "$one_s" "$peer1" "$(echo "$peer1 / $one_s" | bc -l | xargs printf '%.1f')"
printf '%-44s %9ss %13ss %7sx\n' "$N images: import -> staged ($many_n staged)" "$many_s" "$peerN" "$(echo "$peerN / $many_s" | bc -l | xargs printf '%.1f')"
echo "   (peer for $N images: $PEER rebuilds measured, ${peerk}s, scaled to $N)"
echo "heal layer: $(mib "$one_layer") MiB over a $(mib "$one_image") MiB image (${pct}%, gzip, as stored);" \
  "buildah bud's new layer: $(mib "$peer_bytes") MiB ($(echo "100 * $peer_bytes / $one_image" | bc -l | xargs printf '%.1f')%, gzip as buildah pushes it)"
echo "targets: 1 image < 120 s; $N images < 900 s; heal layer <= 10% of the image"
