#!/usr/bin/env bash
# `tendril scan` against `find DIR -type f -print0 | xargs -0 -P2 sha256sum` on the same tree,
# warm cache, and against the limit: what OpenSSL's SHA-256 hashes in memory on every core
# (`openssl speed -multi CORES -evp sha256 -bytes 16384`). Each figure: the median and range of
# TENDRIL_BENCH_RUNS (5) wall-clock runs, the commands taking turns. With TENDRIL_BENCH_DATA=FILE
# the figures are appended to FILE for bench/plot.sh.
#   scan_bench.sh PATH_TO_TENDRIL [FILES] [KIB_PER_FILE]
set -euo pipefail
tendril=$1 files=${2:-2000} kib=${3:-256}
runs=${TENDRIL_BENCH_RUNS:-5}
cores=$(nproc)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
for ((i = 0; i < files; i++)); do
  d=$tree/d$((i % 20)); mkdir -p "$d"
  head -c $((kib * 1024)) /dev/urandom > "$d/f$i"
done
find "$tree" -type f -print0 | xargs -0 cat > /dev/null   # warm the page cache
mib=$(echo "$files * $kib / 1024" | bc -l)

names=("tendril scan --workers $cores" "find | xargs -0 -P$cores sha256sum (the issue's command)"
       "find | xargs -0 -P$cores -n 64 sha256sum (every core busy)")
commands=("'$tendril' scan --workers $cores --no-progress '$tree'"
          "find '$tree' -type f -print0 | xargs -0 -P$cores sha256sum"
          "find '$tree' -type f -print0 | xargs -0 -P$cores -n 64 sha256sum")
declare -a rates=("" "" "")
for ((round = 0; round < runs; round++)); do
  for ((k = 0; k < 3; k++)); do
    i=$(((k + round) % 3))
    start=$(date +%s.%N); bash -c "${commands[$i]}" > /dev/null 2>&1 || true; end=$(date +%s.%N)
    rates[$i]+="$(echo "$mib / ($end - $start)" | bc -l) "
  done
done
# OpenSSL's own loop over 16 KiB buffers in memory, every core: the most hashing can give.
limit=$(openssl speed -multi "$cores" -seconds 2 -evp sha256 -bytes 16384 2>/dev/null |
  awk '/^sha256|^SHA256/ {v=$NF; sub(/k$/, "", v); print v * 1000 / 1048576}' | tail -1)

spread() {  # "median low high" of the numbers given
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
    m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%.0f %.0f %.0f", m, v[1], v[NR]}'
}
printf 'machine: %s, %s cores, %s; %s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  "$cores" "$(uname -sr)" "$(date -u '+%Y-%m-%d %H:%M UTC')"
printf 'tree: %d files of %d KiB (%.0f MiB), warm cache; each figure: median [lowest-highest] of %d runs\n' \
  "$files" "$kib" "$mib" "$runs"
printf '%-60s %22s\n' "command" "MiB/s"
for i in 0 1 2; do
  # shellcheck disable=SC2086
  read -r median low high <<< "$(spread ${rates[$i]})"
  printf '%-60s %22s\n' "${names[$i]}" "$median [$low-$high]"
  eval "m$i=$median"
  if [[ -n ${TENDRIL_BENCH_DATA:-} ]]; then
    printf 'scan\t%s\tMiB per second, warm cache (higher is better)\t%s\t%s\t%s\t%s\t%s\n' \
      "${names[$i]}" "$median" "$low" "$high" "$runs" "$((i == 0))" >> "$TENDRIL_BENCH_DATA"
  fi
done
printf '%-60s %22.0f\n' "the limit: openssl speed -multi $cores -evp sha256, 16 KiB" "$limit"
if [[ -n ${TENDRIL_BENCH_DATA:-} ]]; then
  printf 'scan\t%s\tMiB per second, warm cache (higher is better)\t%s\t%s\t%s\t1\t0\n' \
    "the limit: openssl speed, every core" "$limit" "$limit" "$limit" >> "$TENDRIL_BENCH_DATA"
fi
# shellcheck disable=SC2154
printf 'medians: %.2fx the issue command, %.2fx the -n 64 form, %.0f%% of the limit\n' \
  "$(echo "$m0 / $m1" | bc -l)" "$(echo "$m0 / $m2" | bc -l)" "$(echo "100 * $m0 / $limit" | bc -l)"
