#!/usr/bin/env bash
# What rootless builds cost airheal-builder, measured side by side in one run: the same heal build
# step on the same image (Debian 12 bookworm main, bench_bookworm_base) with buildah as root (the
# builder without --build-user) and rootless, the way airheal-builder.service runs it (an
# unprivileged user with subordinate UID/GID ranges from systemd/airheal-subids, newuidmap and
# newgidmap, the same vfs storage driver and runc): from the OCI layout,
# a `run --network none` of a command, a copy, and commit to an OCI layout. RUNS times each
# (default 3, the median counts). Prints both medians and rootless/rootful.
#   ./bench/builder.sh            (as root; adds the user airheal-bench-rootless and its ranges)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
for p in buildah runc uidmap bc; do
  command -v "${p/uidmap/newuidmap}" >/dev/null || apt-get install -y -qq "$p" >/dev/null
done
bench_bookworm_base
runs=${RUNS:-3}
# (lower case: buildah names an oci: image after its path)
work="${BENCH_DIR:-/var/tmp}/airheal-bench-builder-$$-$RANDOM"
mkdir "$work"
chmod 0755 "$work"
trap 'rm -rf "$work"' EXIT
user=airheal-bench-rootless
if ! id "$user" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
fi
# Its own ranges, overlapping no other user's (as the packages give airheal-build its ranges).
systemd/airheal-subids "$user" >/dev/null

# The image, as an OCI layout both sides read.
b() { buildah --root "$work/setup/root" --runroot "$work/setup/run" --storage-driver vfs "$@"; }
ctr=$(b from scratch)
b add "$ctr" "$cache/bookworm-main.tar" / >/dev/null
b config --cmd '["/bin/sh"]' "$ctr"
b commit --quiet --format oci "$ctr" "oci:$work/base:img" >/dev/null
b rm "$ctr" >/dev/null
chmod -R a+rX "$work/base"
echo "fixed /usr/share/doc/heal-marker" >"$work/marker"
chmod 0644 "$work/marker"

# One heal build step with the storage in DIR, as the caller of `as` (root or the user).
step() {
  local as=$1 dir=$2 n=$3
  local -a run=()
  if [ "$as" = rootless ]; then
    mkdir -p "$dir/xdg"
    chown -R "$user:" "$dir"
    chmod 0700 "$dir/xdg"
    run=(setpriv --reuid "$user" --regid "$user" --init-groups env HOME="$dir" XDG_RUNTIME_DIR="$dir/xdg")
  fi
  local B=("${run[@]}" buildah --root "$dir/root" --runroot "$dir/run" --storage-driver vfs)
  local c
  c=$("${B[@]}" from --pull-never --name "heal-$n" "oci:$work/base:img")
  "${B[@]}" copy --chmod 0644 "$c" "$work/marker" /usr/share/doc/heal-marker >/dev/null
  "${B[@]}" run --runtime runc --network none "$c" -- sh -c 'dpkg-query -W | wc -l' >/dev/null
  "${B[@]}" commit --quiet --disable-compression=false --format oci "$c" "oci:$dir/out:healed" >/dev/null
  "${B[@]}" rm "$c" >/dev/null
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A times
for mode in rootful rootless; do
  for i in $(seq "$runs"); do
    dir="$work/$mode-$i"
    mkdir -p "$dir"
    t0=$(now)
    if ! step "$mode" "$dir" "$i" 2>"$work/$mode.err"; then
      echo "builder: the $mode build failed on this kernel:" >&2
      tail -5 "$work/$mode.err" >&2
      exit 1
    fi
    t1=$(now)
    times[$mode]+="$(secs "$t0" "$t1") "
  done
done
rootful=$(echo "${times[rootful]}" | tr ' ' '\n' | grep . | median)
rootless=$(echo "${times[rootless]}" | tr ' ' '\n' | grep . | median)
echo "builder: one heal step (from, copy, run --network none, commit) on bookworm main, median of $runs"
echo "  rootful buildah (builder without --build-user): ${rootful} s   [${times[rootful]% }]"
echo "  rootless buildah (--build-user, the unit):      ${rootless} s   [${times[rootless]% }]"
echo "  rootless / rootful: $(ratio "$rootless" "$rootful" 2)x"
