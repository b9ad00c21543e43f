#!/bin/bash
# Fuzzes every parser of untrusted bytes with clang's libFuzzer (ASan + UBSan), each for a bounded
# time, starting from real documents (tests/data, the committed corpus). Any crash, sanitizer
# report, leak, timeout or out-of-memory fails the run; the input is copied into
# tests/fuzz/corpus/TARGET/ so that the unit tests replay it on every build from then on.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default $AIRHEAL_FUZZ_SECONDS or 10 s, every target)
#
# Only the parsers and what they need are compiled (once, into $AIRHEAL_FUZZ_DIR), never the
# whole project. Needs clang and libclang-rt-dev (scripts/setup.sh installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-${AIRHEAL_FUZZ_SECONDS:-10}}
shift || true
work=${AIRHEAL_FUZZ_DIR:-$root/build/fuzz}
mkdir -p "$work/obj"

cxx=$(command -v clang++ || command -v clang++-14 || true)
[ -n "$cxx" ] || { echo "fuzz: clang++ is not installed (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

sources=(
  appliance/core/result.cpp appliance/core/digest.cpp appliance/core/json.cpp appliance/core/yaml.cpp appliance/core/oci.cpp
  appliance/core/time.cpp appliance/snapshot/format.cpp appliance/core/pgp.cpp appliance/advisory/advisory.cpp appliance/advisory/csaf.cpp appliance/version/version.cpp
  appliance/heal/deb/control.cpp appliance/scan/pkgdb.cpp appliance/scan/lockfile.cpp tests/fuzz/targets.cpp
  appliance/core/archive_path.cpp appliance/core/apk.cpp appliance/core/rpm.cpp appliance/core/zip.cpp
  appliance/scan/java.cpp appliance/scan/app_manifest.cpp appliance/version/app_versions.cpp appliance/version/ranges.cpp
  snapshot-tools/collect/apt_index.cpp snapshot-tools/collect/url.cpp snapshot-tools/collect/xml.cpp
  snapshot-tools/collect/rpm_metadata.cpp appliance/heal/builder_protocol.cpp appliance/heal/failure.cpp
)
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -I"$root/appliance" -I"$root/snapshot-tools" -I"$root/tests" -DSPDLOG_FMT_EXTERNAL)
objs=()
jobs=${AIRHEAL_FUZZ_JOBS:-$(nproc)}
pids=()
for s in "${sources[@]}"; do
  o="$work/obj/$(echo "$s" | tr / _).o"
  if [ ! -f "$o" ] || [ "$root/$s" -nt "$o" ] || find "$root/appliance" "$root/tests/fuzz" -name '*.hpp' -newer "$o" | grep -q .; then
    rm -f "$o"
    "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$root/$s" -o "$o" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}" || { echo "fuzz: compiling failed" >&2; exit 1; }; pids=("${pids[@]:1}"); fi
  fi
  objs+=("$o")
done
for p in "${pids[@]}"; do wait "$p" || { echo "fuzz: compiling failed" >&2; exit 1; }; done
libs=(-lyaml-cpp -lgpgme -lsqlite3 -lcrypto -lz -lfmt -larchive)

all=(json yaml snapshot_manifest advisory oci_manifest deb_control deb_relations pgp_signature package_databases lockfiles digest apk_package rpm_package app_packages apt_metadata)
[ $# -gt 0 ] && all=("$@")

# Seeds: real documents, with the selector byte some targets read first.
seed() {  # TARGET PREFIX_BYTE_OR_EMPTY FILE...
  local t=$1 p=$2
  shift 2
  mkdir -p "$work/seeds/$t"
  for f in "$@"; do
    [ -f "$f" ] || continue
    local out="$work/seeds/$t/$(basename "$f")"
    if [ -n "$p" ]; then { printf "\\x$p"; head -c 200000 "$f"; } > "$out"; else head -c 200000 "$f" > "$out"; fi
  done
}
d=$root/tests/data
rm -rf "$work/seeds"
seed json "" "$d"/osv-go/*.json
seed yaml "" "$d"/alpine-secdb/*.yaml
seed advisory 00 "$d"/osv-go/*.json
seed advisory 02 "$d"/alpine-secdb/*.yaml
seed advisory 03 "$d"/csaf/*.json
seed deb_control "" "$d"/debian/*.Packages "$d"/debian/*.status
seed package_databases 00 "$d"/debian/*.status
seed apt_metadata 00 "$d"/debian/bookworm-security.InRelease
seed apt_metadata 01 "$d"/debian/*.Packages
seed oci_manifest 00 $(find "$d" -name '*.json' -path '*oci*' 2>/dev/null | head -20)
seed snapshot_manifest "" $(find "$root/tests" -name 'manifest*.json' 2>/dev/null | head -20)
mkdir -p "$work/seeds/deb_relations" && printf 'libc6 (>= 2.36), libssl3 (>= 3.0.0) | libssl1.1, perl:any [amd64] <!nocheck>' > "$work/seeds/deb_relations/seed"
mkdir -p "$work/seeds/digest" && printf 'sha256:%064d' 0 > "$work/seeds/digest/seed"

failed=()
for t in "${all[@]}"; do
  bin="$work/fuzz_$t"
  "$cxx" "${flags[@]}" -fsanitize=fuzzer -DAIRHEAL_FUZZ_TARGET="\"$t\"" "$here/libfuzzer_main.cpp" "${objs[@]}" "${libs[@]}" -o "$bin"
  mkdir -p "$here/corpus/$t" "$work/corpus/$t" "$work/seeds/$t" "$work/artifacts/$t"
  log="$work/fuzz_$t.log"
  set +e
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$t/" "$work/corpus/$t" "$work/seeds/$t" "$here/corpus/$t" > "$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t FAILED after $runs executions (exit $rc); log: $log" >&2
    grep -m5 -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" >&2 || true
    for a in "$work/artifacts/$t"/*; do
      [ -f "$a" ] || continue
      cp "$a" "$here/corpus/$t/"
      echo "fuzz: kept $(basename "$a") in tests/fuzz/corpus/$t/ (replayed by the unit tests from now on)" >&2
    done
    failed+=("$t")
  else
    echo "fuzz: $t ok, $runs executions in ${seconds}s"
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: findings in: ${failed[*]}" >&2; exit 1; }

# The parsers' own unit tests, linked from the same ASan + UBSan objects (the project itself is
# built once, without sanitizers): JSON, YAML, OCI, RFC 3339 times, snapshot manifests, and every
# corpus input replayed (lockfiles among them). A sanitizer report fails the run like a failed assertion.
[ $# -gt 0 ] && exit 0  # (a chosen subset of targets: fuzzing only)
unit=(tests/unit/main.cpp tests/unit/core/json_test.cpp tests/unit/core/yaml_test.cpp tests/unit/core/oci_test.cpp
      tests/unit/core/time_test.cpp tests/unit/snapshot/format_test.cpp tests/unit/fuzz/replay_test.cpp)
tobjs=()
pids=()
for s in "${unit[@]}"; do
  o="$work/obj/unit_$(echo "$s" | tr / _).o"
  if [ ! -f "$o" ] || [ "$root/$s" -nt "$o" ] || find "$root/appliance" "$root/tests/fuzz" -name '*.hpp' -newer "$o" | grep -q .; then
    rm -f "$o"
    "$cxx" "${flags[@]}" -DAIRHEAL_SOURCE_DIR="\"$root\"" -c "$root/$s" -o "$o" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then wait "${pids[0]}" || { echo "fuzz: compiling the unit tests failed" >&2; exit 1; }; pids=("${pids[@]:1}"); fi
  fi
  tobjs+=("$o")
done
for p in "${pids[@]}"; do wait "$p" || { echo "fuzz: compiling the unit tests failed" >&2; exit 1; }; done
"$cxx" "${flags[@]}" "${tobjs[@]}" "${objs[@]}" "${libs[@]}" -o "$work/sanitized_unit_tests"
if ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$work/sanitized_unit_tests" --warn NoTests > "$work/sanitized_unit_tests.log" 2>&1; then
  echo "fuzz: the parsers' unit tests pass under ASan + UBSan: $(grep -E '^(All tests passed|test cases:)' "$work/sanitized_unit_tests.log" | tail -1)"
else
  echo "fuzz: the parsers' unit tests FAILED under ASan + UBSan; log: $work/sanitized_unit_tests.log" >&2
  grep -m10 -E 'FAILED|ERROR: AddressSanitizer|runtime error|SUMMARY' "$work/sanitized_unit_tests.log" >&2 || true
  exit 1
fi
