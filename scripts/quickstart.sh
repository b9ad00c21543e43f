#!/usr/bin/env bash
# README Quick start, first command: install, build, start airheald on embedded defaults
# (state in ./airheal-state, registry on 127.0.0.1:5000), push a small image to it with
# buildah, show it being served, then carry it in a signed snapshot and import that. Stays in the foreground until Ctrl-C unless --no-wait.
set -euo pipefail
cd "$(dirname "$0")/.."
wait_for_ctrl_c=1
[ "${1:-}" = "--no-wait" ] && wait_for_ctrl_c=0

./scripts/setup.sh
./scripts/build.sh dev
bin=build/dev/appliance

state=./airheal-state
mkdir -p "$state"
"$bin/airheald" --state-dir "$state" --ready-file "$state/ready" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$state/ready" ] && break; kill -0 $daemon || exit 1; sleep 0.1; done
addr=$(cat "$state/ready")
echo
echo "== airheald is serving the OCI registry on http://$addr"
curl -fsS "http://$addr/v2/" >/dev/null && echo "   GET /v2/ -> 200"

# A tiny runnable image from Debian's busybox-static, built and pushed with buildah.
work=$(mktemp -d)
B=(buildah --root "$work/root" --runroot "$work/run" --storage-driver vfs)
ctr=$("${B[@]}" from scratch)
# A Go service built with Debian's Go 1.19: the scanner reads its build information.
(cd scripts/demo-app && CGO_ENABLED=0 GOFLAGS=-mod=mod GOPROXY=off GOCACHE="$work/gocache" GOPATH="$work/gopath" \
  /usr/lib/go-1.19/bin/go build -trimpath -o "$work/hello" .)
"${B[@]}" copy "$ctr" /bin/busybox /bin/busybox >/dev/null
"${B[@]}" copy "$ctr" "$work/hello" /app/hello >/dev/null
"${B[@]}" config --cmd '["/app/hello"]' "$ctr"
"${B[@]}" commit -q "$ctr" localhost/demo/hello:1 >/dev/null
"${B[@]}" push -q --tls-verify=false localhost/demo/hello:1 "docker://$addr/demo/hello:1"
"${B[@]}" push -q localhost/demo/hello:1 "oci:$work/layout:1"
echo "   buildah pushed demo/hello:1"
echo "   catalog:  $(curl -fsS "http://$addr/v2/_catalog")"
echo "   tags:     $(curl -fsS "http://$addr/v2/demo/hello/tags/list")"
digest=$(curl -fsSI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$addr/v2/demo/hello/manifests/1" |
  tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
echo "   digest:   $digest"

# The air-gap loop: on the "connected side", a signer builds and signs a snapshot (the image as
# a base image to mirror, plus a real Go advisory); the appliance trusts only the public key,
# imports the snapshot, and refuses a tampered copy.
snap=build/dev/snapshot-tools/airheal-snapshot
export GNUPGHOME="$work/signer"
mkdir -m 700 "$GNUPGHOME" "$work/advisories"
gpg --batch --quiet --passphrase '' --quick-gen-key "airheal quickstart signer <demo@airheal.invalid>" ed25519 sign 1d 2>/dev/null
fpr=$(gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
gpg --armor --export "$fpr" >"$work/signer.asc" 2>/dev/null
cp tests/data/osv-go/GO-2024-2916.json tests/data/osv-go/GO-2024-2888.json tests/data/osv-go/GO-2025-3563.json \
  tests/data/osv-go/GO-2026-4976.json "$work/advisories/"
echo
echo "== snapshot: create, sign, verify (connected side)"
"$snap" create --channel demo --sequence "$(date +%s)" --expires 30d --out "$work/demo.tar" \
  --advisories "$work/advisories" --image "$work/layout=library/busybox:demo" | head -1 | sed 's/^/   /'
"$snap" sign "$work/demo.tar" --key "$fpr" | sed 's/^/   /'
"$snap" verify "$work/demo.tar" --keyring "$work/signer.asc" | head -1 | sed 's/^/   /'
gpgconf --kill all
unset GNUPGHOME
echo "== snapshot: trust the public key, import (appliance side)"
"$bin/airhealctl" --state-dir "$state" trust add "$work/signer.asc" --channel demo | sed 's/^/   /'
cp "$work/demo.tar" "$work/tampered.tar"
printf 'X' | dd of="$work/tampered.tar" bs=1 seek=$(( $(stat -c %s "$work/demo.tar") / 2 )) conv=notrunc 2>/dev/null
"$bin/airhealctl" --state-dir "$state" import "$work/tampered.tar" 2>&1 | sed 's/^/   /' || true
"$bin/airhealctl" --state-dir "$state" import "$work/demo.tar" | sed 's/^/   /'
echo "   mirrored: $(curl -fsS "http://$addr/v2/library/busybox/tags/list")"
"$bin/airhealctl" --state-dir "$state" advisories show CVE-2024-22261 | head -3 | sed 's/^/   /'
echo
echo "== scan: every pushed or imported image is inventoried and matched; SBOMs are referrers"
"$bin/airhealctl" --state-dir "$state" inventory demo/hello:1 | sed 's/^/   /'
echo "   referrers: $(curl -fsS "http://$addr/v2/demo/hello/referrers/$digest" |
  python3 -c 'import json,sys; print(", ".join(m["artifactType"] for m in json.load(sys.stdin)["manifests"]))')"
"$bin/airhealctl" --state-dir "$state" findings | sed 's/^/   /'
rm -rf "$work"
echo
echo "== heal: a real Debian 12 image, fixed offline from a snapshot of bookworm-security"
./scripts/demo-heal.sh "$state" "$addr"
echo
echo "== operations: REST API, Prometheus metrics, dashboard (served next to /v2/)"
curl -fsS "http://$addr/api/v1/status" | python3 -c 'import json,sys; s=json.load(sys.stdin)
print("   api/v1/status: %d watched images; heals %s; findings %s" % (s["watched_images"],
      {k: v for k, v in s["heals_by_state"].items() if v}, {k: v for k, v in s["findings_by_severity"].items() if v}))'
curl -fsS "http://$addr/metrics" | grep -E '^airheal_(heals\{state="(staged|promoted)"|watched_images|time_to_stage_seconds_count)' | sed 's/^/   metrics: /'
echo "   dashboard: http://$addr/dashboard  (open it in a browser while airheald runs)"
echo
echo "== audit and evidence: the journal verified, a signed bundle exported and checked like an auditor would"
"$bin/airhealctl" --state-dir "$state" audit verify | sed 's/^/   /'
today=$(date -u +%F)
rm -f ./airheal-evidence.tar
"$bin/airhealctl" --state-dir "$state" evidence export --from "$today" --to "$today" --out ./airheal-evidence.tar 2>/dev/null | sed 's/^/   /'
fpr=$(python3 -c 'import json,tarfile; print(json.load(tarfile.open("airheal-evidence.tar").extractfile("bundle.json"))["appliance_key"])')
build/dev/bundles/airheal-evidence verify ./airheal-evidence.tar --key "$fpr" | sed 's/^/   /'
echo "   open report.html inside ./airheal-evidence.tar (tar -xf) in any browser"
echo
"$bin/airhealctl" --state-dir "$state" status
"$bin/airhealctl" --state-dir "$state" store check
echo
echo "Pull it:   podman pull --tls-verify=false $addr/demo/hello:1"
if [ "$wait_for_ctrl_c" = 1 ]; then
  echo "airheald keeps running; press Ctrl-C to stop it."
  wait $daemon
fi
