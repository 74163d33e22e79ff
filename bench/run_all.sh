#!/usr/bin/env bash
# Builds the release preset, runs every benchmark (each figure the median and range of
# TENDRIL_BENCH_RUNS runs, the peer beside ours), and draws each chart as a PNG in bench/plots.
# The full output goes to bench/plots/output.txt, the figures to bench/plots/figures.tsv.
#   bench/run_all.sh     (about 15 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release
out=bench/plots
mkdir -p "$out"
data=$out/figures.tsv
: > "$data"
export TENDRIL_BENCH_DATA=$PWD/$data
bin=build/release/bench
{
  "$bin/pipeline_bench" 1000000
  "$bin/flow_bench" 100000
  "$bin/async_bench" 10000
  "$bin/process_bench" 20000
  "$bin/publisher_bench" 1000000
  "$bin/stream_bench" 200000
  bench/scan_bench.sh build/release/cli/tendril 2000 256
  PYTHONPATH=python:build/release/python /usr/bin/python3 bench/python/pipeline_bench.py 100000
} 2>&1 | tee "$out/output.txt"
bench/plot.sh "$data" "$out"
