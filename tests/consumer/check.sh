#!/usr/bin/env bash
# Builds and runs a tiny program that uses Tendril the way a consumer project would.
#   check.sh find_package|add_subdirectory SOURCE_DIR BUILD_DIR WORK_DIR
set -euo pipefail
mode=$1 source=$2 build=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
case $mode in
  find_package)
    cmake --install "$build" --prefix "$work/prefix" >/dev/null
    # A component that does not exist is a clear configure error naming it.
    if out=$(cmake -S "$source/tests/consumer" -B "$work/bad" "${generator[@]}" \
               -DCONSUMER_MODE=find_package -DCONSUMER_CONFIGURE_ONLY=ON \
               "-DCONSUMER_COMPONENTS=flow;nosuch" -DCMAKE_PREFIX_PATH="$work/prefix" 2>&1); then
      echo "find_package(tendril COMPONENTS nosuch) was accepted" >&2; exit 1
    fi
    grep -q "tendril has no component 'nosuch'" <<<"$out" || { echo "$out" >&2; exit 1; }
    cmake -S "$source/tests/consumer" -B "$work/build" "${generator[@]}" \
      -DCONSUMER_MODE=find_package "-DCONSUMER_COMPONENTS=flow;state;stream" \
      -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null ;;
  add_subdirectory)
    # Compiled as the main build compiles (release flags, -Werror, ccache), so the objects
    # come from the cache the main build just filled: the test is about the wiring.
    launcher=()
    command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    cmake -S "$source/tests/consumer" -B "$work/build" "${generator[@]}" "${launcher[@]}" \
      -DCMAKE_BUILD_TYPE=Release -DTENDRIL_WERROR=ON \
      -DCONSUMER_MODE=add_subdirectory -DTENDRIL_SOURCE_DIR="$source" >/dev/null ;;
  *) echo "unknown mode: $mode" >&2; exit 2 ;;
esac
cmake --build "$work/build" >/dev/null
"$work/build/consumer"
