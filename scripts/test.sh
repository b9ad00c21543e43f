#!/usr/bin/env bash
# README Quick start, second command: install, build and run the whole test suite (unit and
# integration, including the [slow] cases that drive skopeo, buildah and podman).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh dev
ctest --preset dev -j "$(nproc)" "$@"
