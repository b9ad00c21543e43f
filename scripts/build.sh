#!/usr/bin/env bash
# Configures and builds with the given CMake preset (default: dev).
# AIRHEAL_SANITIZE=1 in the environment builds the same tree with AddressSanitizer and
# UndefinedBehaviorSanitizer (what CI does: one build, demoed, tested and packaged, sanitized).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-dev}"
extra=()
case "${AIRHEAL_SANITIZE:-}" in
  1 | ON | on | yes) extra=(-DAIRHEAL_SANITIZE=ON) ;;
  "" | 0 | OFF | off | no) ;;
  *) echo "AIRHEAL_SANITIZE must be 1 or 0, not '$AIRHEAL_SANITIZE'" >&2; exit 2 ;;
esac
cmake --preset "$preset" "${extra[@]}" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
