#!/usr/bin/env bash
# Runs one fuzzer for $TENDRIL_FUZZ_SECONDS (default 20). In WORK it keeps corpus/ (what this
# and earlier runs found), artifacts/ (a failing input) and last-run.log.
#   run_fuzzer.sh FUZZER WORK DICT SEED_DIR...
set -euo pipefail
fuzzer=$1 work=$2 dict=$3
shift 3
mkdir -p "$work/corpus" "$work/artifacts"
set +e
"$fuzzer" -max_total_time="${TENDRIL_FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" -dict="$dict" \
  "$work/corpus" "$@" > "$work/last-run.log" 2>&1
status=$?
set -e
tail -n 40 "$work/last-run.log"
exit $status
