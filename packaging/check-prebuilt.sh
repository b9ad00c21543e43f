#!/usr/bin/env bash
# Refuses to package a build tree that would lay the files out differently from the packages:
# packaging/*/build.sh --prebuilt DIR needs a tree configured as the dev preset (prefix /usr,
# units in /lib/systemd/system) with the four executables built.
set -euo pipefail
dir=$1
cache="$dir/CMakeCache.txt"
[ -f "$cache" ] || { echo "--prebuilt $dir: not a CMake build tree (no CMakeCache.txt)" >&2; exit 2; }
value() { sed -n "s/^$1:[A-Z]*=//p" "$cache"; }
[ "$(value CMAKE_INSTALL_PREFIX)" = /usr ] || { echo "--prebuilt $dir: CMAKE_INSTALL_PREFIX is '$(value CMAKE_INSTALL_PREFIX)', not /usr (configure with the dev preset)" >&2; exit 2; }
[ "$(value AIRHEAL_SYSTEMD_UNIT_DIR)" = /lib/systemd/system ] || { echo "--prebuilt $dir: AIRHEAL_SYSTEMD_UNIT_DIR is '$(value AIRHEAL_SYSTEMD_UNIT_DIR)', not /lib/systemd/system" >&2; exit 2; }
for b in appliance/airheald appliance/airhealctl bundles/airheal-evidence snapshot-tools/airheal-snapshot; do
  [ -x "$dir/$b" ] || { echo "--prebuilt $dir: $b is not built" >&2; exit 2; }
done
