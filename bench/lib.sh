# Shared by the benchmarks (source it after `cd` to the repository root): tools, a scratch folder
# with its own GnuPG home and a signing key, and timing helpers.
# bench_setup PROGRAM...   installs what is missing, builds dev, sets $bin, $work (removed on exit
#                          with bench_cleanup), $GNUPGHOME, $fpr and $work/pub.asc
# bench_bookworm_base      sets $cache and makes (once) $cache/bookworm-main.tar and .tar.gz: Debian
#                          12 minbase from bookworm main (mmdebstrap), behind bookworm-security
# bench_stop_daemon        stops $daemon (set by the benchmark) and cleans up; the EXIT trap
# now / secs T0 T1 / ratio A B

bench_setup() {
  local p
  for p in "$@"; do command -v "$p" >/dev/null || apt-get install -y -qq "$p" >/dev/null; done
  ./scripts/build.sh dev >/dev/null
  bin=build/dev
  work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/airheal-bench-XXXXXX")
  export GNUPGHOME="$work/gnupg"
  mkdir -m 700 "$GNUPGHOME"
  gpg --batch --quiet --passphrase '' --quick-gen-key "Bench Signer <bench@example.test>" ed25519 sign never 2>/dev/null
  fpr=$(gpg --with-colons --list-keys | awk -F: '/^fpr/{print $10; exit}')
  gpg --armor --export "$fpr" >"$work/pub.asc"
}

# Stops every gpg-agent the run started (its own and those of appliance state folders) and removes
# the scratch folder.
bench_cleanup() {
  gpgconf --kill all 2>/dev/null || true
  local h
  for h in "$work"/*/trust/gnupg "$work"/*/keys/gnupg; do
    [ -d "$h" ] && gpgconf --homedir "$h" --kill all 2>/dev/null || true
  done
  [ -n "${BENCH_KEEP:-}" ] && echo "kept: $work" >&2 || rm -rf "$work"
}

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | xargs printf "%.${3:-2}f"; }   # secs T0 T1 [DECIMALS]
ratio() { echo "$1 / $2" | bc -l | xargs printf "%.${3:-1}f"; }  # ratio A B [DECIMALS]

bench_bookworm_base() {
  cache=${AIRHEAL_DEMO_CACHE:-/var/tmp/airheal-demo}
  mkdir -p "$cache"
  if [ ! -f "$cache/bookworm-main.tar" ]; then
    mmdebstrap --quiet --variant=minbase --format=tar bookworm "$cache/bookworm-main.tar.part" http://deb.debian.org/debian
    mv "$cache/bookworm-main.tar.part" "$cache/bookworm-main.tar"
  fi
  [ -f "$cache/bookworm-main.tar.gz" ] || { gzip -6 -n -c "$cache/bookworm-main.tar" >"$cache/bookworm-main.tar.gz.part" && mv "$cache/bookworm-main.tar.gz.part" "$cache/bookworm-main.tar.gz"; }
}

daemon=
bench_stop_daemon() {
  [ -n "$daemon" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
  bench_cleanup
}
