#!/usr/bin/env bash
# The README's first program must be examples/quick_start.cpp, word for word (minus the
# example's one-line header comment), so that the README cannot rot.
#   readme_program_check.sh SOURCE_DIR
set -euo pipefail
source=$1
readme_block=$(awk '/^```cpp$/ {inside = 1; next} /^```$/ && inside {exit} inside' "$source/README.md")
example=$(tail -n +2 "$source/examples/quick_start.cpp")
if [ "$readme_block" == "$example" ]; then
  echo "README first program matches examples/quick_start.cpp"
else
  diff <(echo "$readme_block") <(echo "$example") || true
  echo "README's first program differs from examples/quick_start.cpp" >&2
  exit 1
fi
