#!/usr/bin/env bash
# clang-tidy with the repository's allow-list (.clang-tidy) over the appliance's sources, using the
# dev build's compile_commands.json. Slow (minutes per heavy file on 2 cores), so not part of every
# build: run it before a release or on the files a change touches (scripts/tidy.sh FILE...).
set -euo pipefail
cd "$(dirname "$0")/.."
db=build/dev
[ -f "$db/compile_commands.json" ] || { echo "tidy: configure first (cmake --preset dev)" >&2; exit 1; }
if (($#)); then files=("$@"); else mapfile -t files < <(git ls-files 'appliance/*.cpp' 'snapshot-tools/*.cpp' 'bundles/*.cpp'); fi
clang-tidy -p "$db" --quiet "${files[@]}"
