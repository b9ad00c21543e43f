#!/usr/bin/env bash
# Registry benchmark: airheald and CNCF distribution (Debian's docker-registry, filesystem
# store) measured side by side in one run, on loopback, on this machine.
#   1. manifest GET requests/s with 64 concurrent keep-alive connections (wrk)
#   2. blob GET throughput for a 256 MiB blob (curl, best of 3)
#   3. skopeo copy push and pull time of a 10-layer image
# Prints each figure and the airheal/distribution ratio. A figure, not a test: nothing asserts.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for p in docker-registry wrk skopeo curl; do command -v "$p" >/dev/null || missing+=("$p"); done
if ((${#missing[@]})); then
  pk=(); for m in "${missing[@]}"; do [ "$m" = docker-registry ] && pk+=(docker-registry) || pk+=("$m"); done
  apt-get install -y -qq "${pk[@]}" >/dev/null
fi
./scripts/build.sh dev >/dev/null
bin=build/dev
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
DURATION=${DURATION:-10}
LAYER_BYTES=${LAYER_BYTES:-4194304}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)); }

# airheald
"$bin/appliance/airheald" --state-dir "$work/airheal" --listen 127.0.0.1:0 --ready-file "$work/ready" --log-level warn 2>"$work/airheal.log" &
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
A=$(cat "$work/ready")
# distribution
dport=$(free_port)
cat >"$work/dist.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/dist}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$dport}
YML
docker-registry serve "$work/dist.yml" >"$work/dist.log" 2>&1 &
D=127.0.0.1:$dport
for _ in $(seq 100); do curl -fs "http://$D/v2/" >/dev/null && break; sleep 0.1; done

"$bin/bench/make_oci_image" "$work/layout" v1 10 "$LAYER_BYTES" >/dev/null
head -c $((256 * 1024 * 1024)) /dev/urandom >"$work/blob"
bdigest="sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)"

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf '%.2f'; }
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null

declare -A push pull rps tput
for name in airheal distribution; do
  host=$A; [ "$name" = distribution ] && host=$D
  t0=$(now); skopeo copy -q --dest-tls-verify=false "oci:$work/layout:v1" "docker://$host/bench/img:v1"; t1=$(now)
  push[$name]=$(secs "$t0" "$t1")
  rm -rf "$work/pull-$name"
  t0=$(now); skopeo copy -q --src-tls-verify=false "docker://$host/bench/img:v1" "oci:$work/pull-$name:v1"; t1=$(now)
  pull[$name]=$(secs "$t0" "$t1")
  rps[$name]=$(wrk -t2 -c64 -d"${DURATION}s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$host/v2/bench/img/manifests/v1" | awk '/Requests\/sec/{print $2}')
  # 256 MiB blob: POST + PUT (monolithic), then best of three GETs.
  loc=$(curl -fsSI -X POST "http://$host/v2/bench/big/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case "$loc" in http*) ;; *) loc="http://$host$loc" ;; esac
  sep='?'; [[ "$loc" == *\?* ]] && sep='&'
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$work/blob" "$loc${sep}digest=$bdigest" >/dev/null
  best=0
  for _ in 1 2 3; do
    s=$(curl -fsS -o /dev/null -w '%{speed_download}' "http://$host/v2/bench/big/blobs/$bdigest")
    best=$(echo "if ($s > $best) $s else $best" | bc -l)
  done
  tput[$name]=$(echo "$best / 1048576" | bc -l | xargs printf '%.0f')
done

printf '\n%-34s %14s %14s %8s\n' "benchmark ($(nproc) cores, loopback)" airheal distribution ratio
printf '%-34s %14s %14s %8s\n' "manifest GET, 64 conns (req/s)" "${rps[airheal]}" "${rps[distribution]}" "$(ratio "${rps[airheal]}" "${rps[distribution]}")"
printf '%-34s %14s %14s %8s\n' "256 MiB blob GET (MiB/s)" "${tput[airheal]}" "${tput[distribution]}" "$(ratio "${tput[airheal]}" "${tput[distribution]}")"
printf '%-34s %14s %14s %8s\n' "skopeo push, 10 layers (s)" "${push[airheal]}" "${push[distribution]}" "$(ratio "${push[airheal]}" "${push[distribution]}")"
printf '%-34s %14s %14s %8s\n' "skopeo pull, 10 layers (s)" "${pull[airheal]}" "${pull[distribution]}" "$(ratio "${pull[airheal]}" "${pull[distribution]}")"
echo "(ratios are airheal/distribution: higher is better for req/s and MiB/s, lower for seconds)"
