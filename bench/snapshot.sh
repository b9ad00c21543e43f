#!/usr/bin/env bash
# Snapshot import benchmark, in one run on this machine:
#   airhealctl import of a signed snapshot holding several base images (default 2 GiB), against
#   - the naive pipeline on the same file: gpg --verify of a signed SHA256SUMS, tar -x, sha256sum -c, sync
#   - the disk bound: cp of the same bytes + sync
# and the size of a delta that changes one layer of one image against the full snapshot.
# All runs start with the snapshot file in the page cache (it was just written); each writes to a
# fresh directory on the same file system. A figure, not a test: nothing asserts.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
TOTAL_MB=${TOTAL_MB:-2048}
IMAGES=${IMAGES:-4}
LAYERS=${LAYERS:-8}
layer_bytes=$((TOTAL_MB * 1024 * 1024 / IMAGES / LAYERS))
bench_setup gpg sha256sum tar bc
trap bench_cleanup EXIT

echo "building $IMAGES images x $LAYERS layers x $((layer_bytes / 1048576)) MiB ..."
args=()
for i in $(seq "$IMAGES"); do
  "$bin/bench/make_oci_image" "$work/img$i" v1 "$LAYERS" "$layer_bytes" "$i" >/dev/null
  args+=(--image "$work/img$i=bench/base$i:1")
done
snap="$work/full.tar"
"$bin/snapshot-tools/airheal-snapshot" create --channel bench --sequence 1 --out "$snap" "${args[@]}" >/dev/null
"$bin/snapshot-tools/airheal-snapshot" sign "$snap" --key "$fpr" >/dev/null
size=$(stat -c %s "$snap")
mib=$(echo "$size / 1048576" | bc -l | xargs printf '%.0f')

# Each contender runs RUNS times (default 3) into a fresh directory, the previous run's output
# removed first; the best time counts (this machine's timings vary between runs).
RUNS=${RUNS:-3}
best() {  # best A B -> the smaller
  if [ -z "$1" ] || [ "$(echo "$2 < $1" | bc -l)" = 1 ]; then echo "$2"; else echo "$1"; fi
}

# airheal: verify signatures, stream, hash, stage, fsync, commit. The compared figure is the
# import alone (--no-scan: the peers do not scan either); one more run includes the scan of the
# imported images that a plain `airhealctl import` does next, for information.
airheal_import() {  # airheal_import [ARGS...] -> seconds
  [ -d "$work/state/trust/gnupg" ] && gpgconf --homedir "$work/state/trust/gnupg" --kill all 2>/dev/null || true
  rm -rf "$work/state"
  "$bin/appliance/airhealctl" --state-dir "$work/state" trust add "$work/pub.asc" --channel bench >/dev/null
  sync
  local t0 t1
  t0=$(now); "$bin/appliance/airhealctl" --state-dir "$work/state" import "$@" "$snap" >/dev/null; t1=$(now)
  secs "$t0" "$t1"
}
airheal=
for r in $(seq "$RUNS"); do airheal=$(best "$airheal" "$(airheal_import --no-scan)"); done
scanned=$(airheal_import)

# Naive: a signed SHA256SUMS over the same entries, then gpg --verify, tar -x, sha256sum -c, sync.
python3 - "$snap" >"$work/SHA256SUMS" <<'PY'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    m = json.load(t.extractfile("airheal-snapshot.json"))
for e in m["entries"]:
    print(f'{e["sha256"]}  {e["path"]}')
PY
gpg --batch --quiet --armor --detach-sign --output "$work/SHA256SUMS.asc" "$work/SHA256SUMS"
naive=
for r in $(seq "$RUNS"); do
  rm -rf "$work/naive"
  mkdir "$work/naive"
  sync
  t0=$(now)
  gpg --batch --quiet --verify "$work/SHA256SUMS.asc" "$work/SHA256SUMS" 2>/dev/null
  tar -xf "$snap" -C "$work/naive"
  (cd "$work/naive" && sha256sum --quiet -c "$work/SHA256SUMS")
  sync
  t1=$(now)
  naive=$(best "$naive" "$(secs "$t0" "$t1")")
done
rm -rf "$work/naive"

# Disk bound: cp + sync of the same bytes.
cpsync=
for r in $(seq "$RUNS"); do
  rm -f "$work/copy.tar"
  sync
  t0=$(now); cp "$snap" "$work/copy.tar"; sync; t1=$(now)
  cpsync=$(best "$cpsync" "$(secs "$t0" "$t1")")
done
rm -f "$work/copy.tar"

# Delta: image 1 gains a layer (its other layers are shared), everything else unchanged.
"$bin/bench/make_oci_image" "$work/img1b" v2 "$((LAYERS + 1))" "$layer_bytes" 1 >/dev/null
args2=(--image "$work/img1b=bench/base1:1")
for i in $(seq 2 "$IMAGES"); do args2+=(--image "$work/img$i=bench/base$i:1"); done
"$bin/snapshot-tools/airheal-snapshot" create --channel bench --sequence 2 --out "$work/full2.tar" "${args2[@]}" >/dev/null
"$bin/snapshot-tools/airheal-snapshot" create --channel bench --sequence 2 --out "$work/delta2.tar" --previous "$snap" "${args2[@]}" >/dev/null
full2=$(stat -c %s "$work/full2.tar"); delta2=$(stat -c %s "$work/delta2.tar")

echo "snapshot: $mib MiB, $IMAGES images, $((IMAGES * LAYERS)) layers ($(nproc) cores; file in page cache; best of $RUNS runs each)"
printf '%-44s %8s s  %7s MiB/s\n' "airhealctl import --no-scan" "$airheal" "$(echo "$size / 1048576 / $airheal" | bc -l | xargs printf '%.0f')"
printf '%-44s %8s s  %7s MiB/s\n' "gpg --verify + tar -x + sha256sum -c + sync" "$naive" "$(echo "$size / 1048576 / $naive" | bc -l | xargs printf '%.0f')"
printf '%-44s %8s s  %7s MiB/s\n' "cp + sync" "$cpsync" "$(echo "$size / 1048576 / $cpsync" | bc -l | xargs printf '%.0f')"
printf '%-44s %8s s  (one run; not compared)\n' "  airhealctl import, then scanning the images" "$scanned"
echo "speed-up over the naive pipeline: $(ratio "$naive" "$airheal" 2)x (target >= 2x)"
echo "fraction of cp + sync:            $(echo "100 * $cpsync / $airheal" | bc -l | xargs printf '%.0f')% (target >= 90%)"
echo "delta (one new layer in one image): $((delta2 / 1048576)) MiB vs full $((full2 / 1048576)) MiB ($(echo "100 * $delta2 / $full2" | bc -l | xargs printf '%.1f')%)"
