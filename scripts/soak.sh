#!/usr/bin/env bash
# The soak: pipelines, flows and a tool-state publisher together for SECONDS under ASan+UBSan,
# then under TSan, with their Redis killed and restarted every 30 s (tests/soak/soak.cpp).
# Prints a sample every 10 s and each run's verdict; exits 1 if either run lost anything or grew.
# Not part of CI (20 minutes at the default).
# Usage: scripts/soak.sh [SECONDS] [PRESET...]   (default: 600 s; asan tsan)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
(($#)) && shift
presets=("$@")
((${#presets[@]})) || presets=(asan tsan)
scripts/setup.sh
status=0
for preset in "${presets[@]}"; do
  cmake --preset "$preset" > /dev/null
  cmake --build --preset "$preset" --target tendril_soak
  echo "=== soak under $preset, $seconds s ==="
  case $preset in
    asan) export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1 ;;
    tsan) export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ;;
  esac
  "build/$preset/tests/tendril_soak" "$seconds" || status=1
done
exit $status
