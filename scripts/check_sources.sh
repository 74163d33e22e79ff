#!/usr/bin/env bash
# Checks what must hold of the sources before anything is built:
#   - every C++ file is clang-format clean (the root .clang-format);
#   - every public header compiles on its own (it includes what it uses).
# Usage: scripts/check_sources.sh   (from anywhere; exits non-zero naming each offender)
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

mapfile -t sources < <(git ls-files '*.hpp' '*.cpp')
if ! clang-format --dry-run --Werror "${sources[@]}"; then
  echo "check: files above are not clang-format clean (run: clang-format -i FILE)" >&2
  status=1
fi

cxx=${CXX:-g++}
export cxx
mapfile -t headers < <(git ls-files 'include/*.hpp')
check_header() {
  local header=${1#include/}
  echo "#include <$header>" | "$cxx" -std=c++23 -fsyntax-only -Wall -Wextra -Wpedantic -Werror \
    -Wno-maybe-uninitialized -I include -x c++ - 2>&1 | sed "s|^|$header: |" || return 1
  return "${PIPESTATUS[1]}"
}
export -f check_header
if ! printf '%s\n' "${headers[@]}" | xargs -P "$(nproc)" -I{} bash -c 'check_header "$@"' _ {}; then
  echo "check: a public header does not compile on its own (see above)" >&2
  status=1
fi

((status == 0)) && echo "check: ${#sources[@]} files clang-format clean, ${#headers[@]} public headers compile alone"
exit $status
