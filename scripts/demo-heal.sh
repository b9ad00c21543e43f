#!/usr/bin/env bash
# The quickstart's heal demo, against a running airheald: a real Debian 12 image built from
# bookworm main (mmdebstrap), pushed; advisories from bookworm-security imported; the appliance
# exports what it needs (needs.json, signed with its key); airheal-snapshot collect fetches exactly
# that from the live bookworm-security archive, every signature and hash checked, into a signed
# snapshot; imported; the daemon heals the image with no network and stages it.
# usage: demo-heal.sh STATE_DIR REGISTRY_ADDR
set -euo pipefail
cd "$(dirname "$0")/.."
state=$1
addr=$2
bin=build/dev
ctl() { "$bin/appliance/airhealctl" --state-dir "$state" "$@"; }
work=$(mktemp -d)
export GNUPGHOME="$work/gnupg"
trap 'gpgconf --kill all 2>/dev/null || true; rm -rf "$work"' EXIT

cache=${AIRHEAL_DEMO_CACHE:-/var/tmp/airheal-demo}
mkdir -p "$cache"
if [ ! -f "$cache/bookworm-main.tar" ]; then
  mmdebstrap --quiet --variant=minbase --format=tar bookworm "$cache/bookworm-main.tar.part" http://deb.debian.org/debian
  mv "$cache/bookworm-main.tar.part" "$cache/bookworm-main.tar"
fi
# An OCI layout with that root as its one layer, pushed as demo/debian:12.
python3 - "$cache/bookworm-main.tar" "$work/layout" <<'PY'
import hashlib, json, os, shutil, sys
tar, out = sys.argv[1], sys.argv[2]
blobs = os.path.join(out, "blobs", "sha256"); os.makedirs(blobs)
h = hashlib.sha256()
with open(tar, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk)
d = h.hexdigest(); os.link(tar, os.path.join(blobs, d)) if os.stat(tar).st_dev == os.stat(out).st_dev else shutil.copy(tar, os.path.join(blobs, d))
def put(b):
    x = hashlib.sha256(b).hexdigest(); open(os.path.join(blobs, x), "wb").write(b); return x
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["bash"]},
                  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + d]}}).encode()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + put(cfg), "size": len(cfg)},
                  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + d, "size": os.stat(tar).st_size}]}).encode()
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + put(man),
           "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "12"}}]}, open(os.path.join(out, "index.json"), "w"))
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
skopeo copy --quiet --dest-tls-verify=false "oci:$work/layout:12" "docker://$addr/demo/debian:12"
echo "   pushed demo/debian:12 (Debian 12 minbase from bookworm main)"

# Connected side, part 1: advisories for the image's packages from bookworm-security's
# changelogs (Debian's archive is the only network these machines reach), carried in a signed
# snapshot of their own.
mkdir -p "$work/adv"
tar -xOf "$cache/bookworm-main.tar" ./var/lib/dpkg/status >"$work/status"
python3 tests/fixtures/debian_security_advisories.py "$work/status" "$work/adv/debian-security.json" \
  --suite bookworm --cache "$cache/archive" | sed 's/^/   advisories: /'
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "airheal demo Debian mirror <mirror@airheal.invalid>" ed25519 sign 1d 2>/dev/null
fpr=$(gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
gpg --armor --export "$fpr" >"$work/mirror.asc" 2>/dev/null
seq=$(date +%s)
"$bin/snapshot-tools/airheal-snapshot" create --channel debian-advisories --sequence "$seq" --expires 30d \
  --out "$work/advisories.tar" --advisories "$work/adv" >/dev/null
"$bin/snapshot-tools/airheal-snapshot" sign "$work/advisories.tar" --key "$fpr" >/dev/null
ctl trust add "$work/mirror.asc" --channel debian-advisories >/dev/null
ctl trust add "$work/mirror.asc" --channel debian-demo >/dev/null
ctl import "$work/advisories.tar" | sed 's/^/   /'
for _ in $(seq 60); do
  [ "$(ctl --json findings --image demo/debian:12 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" != 0 ] && break
  sleep 1
done

# Appliance side: what it needs, signed with its key, carried out.
ctl needs export --out "$work/needs.json" | sed 's/^/   /'
ctl audit key --export "$work/appliance.asc" >/dev/null

# Connected side, part 2: collect exactly that from the live bookworm-security archive (InRelease
# checked with Debian's keyring, every index and .deb against it), then a snapshot of it.
cat >"$work/collect.yaml" <<YAML
cache: $cache/collect
apt:
  - name: debian-security
    url: http://deb.debian.org/debian-security
    suite: bookworm-security
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
YAML
rc=0
"$bin/snapshot-tools/airheal-snapshot" collect --config "$work/collect.yaml" --needs "$work/needs.json" \
  --needs-key "$work/appliance.asc" --out "$work/collected" >"$work/collect.out" || rc=$?
sed 's/^/   collect: /' "$work/collect.out"
if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
  echo "demo-heal: FAILED: airheal-snapshot collect refused what bookworm-security served (exit $rc)" >&2
  exit 1
fi
echo "   fixed packages collected from bookworm-security: $(ls "$work/collected/packages" | wc -l)"
"$bin/snapshot-tools/airheal-snapshot" create --channel debian-demo --sequence "$seq" --expires 30d \
  --out "$work/debian.tar" --collected "$work/collected" | head -1 | sed 's/^/   /'
"$bin/snapshot-tools/airheal-snapshot" sign "$work/debian.tar" --key "$fpr" >/dev/null

# Appliance side.
ctl import "$work/debian.tar" | sed 's/^/   /'
ctl findings --image demo/debian:12 | tail -1 | sed 's/^/   findings in demo\/debian:12: /'
ctl heal plan demo/debian:12 | sed 's/^/   plan: /'
strategy=$(ctl --json heal plan demo/debian:12 | python3 -c 'import json,sys; print(json.load(sys.stdin)["strategy"])')
if [ "$strategy" != package-patch ]; then
  if [ "$(ls "$work/collected/packages" | wc -l)" -eq 0 ]; then
    echo "   (bookworm-security has no fix newer than bookworm main for this image today: nothing to heal)"
    exit 0
  fi
  echo "demo-heal: FAILED: fixed packages were imported but the plan is \"$strategy\", not a package patch:" >&2
  ctl heal plan demo/debian:12 >&2
  exit 1
fi
echo "   airheald heals it now (buildah, --network none) ..."
st=
for _ in $(seq 900); do
  st=$(ctl --json heals | python3 -c 'import json,sys; h=[x for x in json.load(sys.stdin) if x["repository"]=="demo/debian"]; print(h[-1]["state"] if h else "")')
  case "$st" in staged|promoted|held|failed) break ;; esac
  sleep 1
done
id=$(ctl --json heals | python3 -c 'import json,sys; h=[x for x in json.load(sys.stdin) if x["repository"]=="demo/debian"]; print(h[-1]["id"] if h else "")')
[ -n "$id" ] && ctl heal show "$id" | sed 's/^/   /'
# The demo tells the truth: a heal that did not reach "staged" fails it, with the reason.
if [ "$st" != staged ]; then
  echo >&2
  echo "demo-heal: FAILED: the heal of demo/debian:12 ended ${st:-nowhere} (not staged) after the import of today's bookworm-security fixes." >&2
  [ -n "$id" ] && ctl --json heal show "$id" | python3 -c 'import json,sys; h=json.load(sys.stdin); print("demo-heal: reason: " + h.get("reason", "")); f=h.get("failure");
print("demo-heal: " + f["class"] + ":\n" + f["lines"]) if f else None' >&2
  exit 1
fi
staged=$(ctl --json heal show "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("staged_tag",""))')
ctl findings --image "demo/debian:$staged" | tail -1 | sed 's/^/   findings in the healed image: /'
echo "   approve it with: airhealctl --state-dir $state heal approve $id"
