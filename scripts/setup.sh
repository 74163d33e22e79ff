#!/usr/bin/env bash
# Installs what building, testing, fuzzing and benchmarking Tendril needs on Debian 12, if it is
# missing.
set -euo pipefail
packages=(cmake ninja-build g++ ccache pkg-config googletest libgtest-dev libbenchmark-dev
          libfmt-dev libcli11-dev nlohmann-json3-dev libssl-dev libtbb-dev libhiredis-dev
          redis-server libasio-dev bsdutils valgrind bc graphviz clang-format git
          clang-16 libclang-rt-16-dev python3 python3-jsonschema go-md2man groff-base
          python3-dev pybind11-dev python3-pytest python3-pytest-asyncio python3-pip
          python3-setuptools python3-wheel)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
