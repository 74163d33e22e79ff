#!/usr/bin/env bash
# Checks the sources (clang-format, headers alone), then builds and runs every test: release,
# then ASan+UBSan, then TSan, then each fuzzer for 20 seconds (Clang 16's libFuzzer).
# Usage: scripts/test.sh [PRESET...]   (default: release asan tsan fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/check_sources.sh
presets=("$@")
((${#presets[@]})) || presets=(release asan tsan fuzz)
for preset in "${presets[@]}"; do
  echo "=== $preset ==="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  ctest --preset "$preset" -j2
done
