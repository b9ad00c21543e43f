#!/usr/bin/env bash
# README Quick start, first command: install, build, start airheald on embedded defaults
# (state in ./airheal-state, registry on 127.0.0.1:5000), push a small image to it with
# buildah, and show it being served. Stays in the foreground until Ctrl-C unless --no-wait.
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
"${B[@]}" copy "$ctr" /bin/busybox /bin/busybox >/dev/null
"${B[@]}" config --cmd '["/bin/busybox","echo","hello from airheal"]' "$ctr"
"${B[@]}" commit -q "$ctr" localhost/demo/hello:1 >/dev/null
"${B[@]}" push -q --tls-verify=false localhost/demo/hello:1 "docker://$addr/demo/hello:1"
rm -rf "$work"
echo "   buildah pushed demo/hello:1"
echo "   catalog:  $(curl -fsS "http://$addr/v2/_catalog")"
echo "   tags:     $(curl -fsS "http://$addr/v2/demo/hello/tags/list")"
digest=$(curl -fsSI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$addr/v2/demo/hello/manifests/1" |
  tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
echo "   digest:   $digest"
echo
"$bin/airhealctl" --state-dir "$state" status
"$bin/airhealctl" --state-dir "$state" store check
echo
echo "Pull it:   podman pull --tls-verify=false $addr/demo/hello:1"
if [ "$wait_for_ctrl_c" = 1 ]; then
  echo "airheald keeps running; press Ctrl-C to stop it."
  wait $daemon
fi
