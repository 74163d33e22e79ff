#!/usr/bin/env bash
# Builds the fuzzers (the fuzz preset: Clang 16, libFuzzer, ASan+UBSan) and runs each for
# SECONDS, two at a time, from the seed corpus and what earlier runs found. Prints a table of
# runs, coverage and corpus per fuzzer; exits 1 if any found a failing input (kept in
# build/fuzz/fuzz/NAME/artifacts/; run the fuzzer on that file to replay it).
# Usage: scripts/fuzz.sh [SECONDS] [NAME...]     (default: 600 s, every fuzzer)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
(($#)) && shift
scripts/setup.sh
cmake --preset fuzz > /dev/null
cmake --build --preset fuzz
filter=()
(($#)) && filter=(-R "^fuzz\.($(IFS='|'; echo "$*"))\$")
status=0
TENDRIL_FUZZ_SECONDS=$seconds ctest --preset fuzz -j2 "${filter[@]}" || status=1

printf '\n%-16s %12s %10s %9s %8s %8s  %s\n' fuzzer runs "runs/s" coverage corpus "peak MB" result
for test in $(ctest --test-dir build/fuzz -N "${filter[@]}" | awk '/Test +#/ {print $3}'); do
  name=${test#fuzz.}
  log=build/fuzz/fuzz/$name/last-run.log
  stat() { awk -v k="stat::$1:" '$1 == k {print $2}' "$log"; }
  coverage=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  corpus=$(grep -oE 'corp: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  result=ok
  ls build/fuzz/fuzz/"$name"/artifacts/* > /dev/null 2>&1 &&
    result="FAILED: $(ls -t build/fuzz/fuzz/"$name"/artifacts/* | head -n 1)"
  printf '%-16s %12s %10s %9s %8s %8s  %s\n' "$name" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "$coverage" "$corpus" "$(stat peak_rss_mb)" "$result"
done
exit $status
