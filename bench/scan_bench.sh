#!/usr/bin/env bash
# `tendril scan` against `find DIR -type f -print0 | xargs -0 -P2 sha256sum` on the same tree,
# warm cache, best of 3 wall-clock runs each.
#   scan_bench.sh PATH_TO_TENDRIL [FILES] [KIB_PER_FILE]
set -euo pipefail
tendril=$1 files=${2:-2000} kib=${3:-256}
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
for ((i = 0; i < files; i++)); do
  d=$tree/d$((i % 20)); mkdir -p "$d"
  head -c $((kib * 1024)) /dev/urandom > "$d/f$i"
done
find "$tree" -type f -print0 | xargs -0 cat > /dev/null   # warm the page cache

best() {  # best wall time in seconds of 3 runs of "$@"
  local best=999999 start end t
  for _ in 1 2 3; do
    start=$(date +%s.%N); "$@" > /dev/null 2>&1 || true; end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc -l)
    best=$(echo "if ($t < $best) $t else $best" | bc -l)
  done
  printf '%.3f' "$best"
}
mb=$(echo "$files * $kib / 1024" | bc -l)
ours=$(best "$tendril" scan --workers 2 --no-progress "$tree")
peer=$(best bash -c "find '$tree' -type f -print0 | xargs -0 -P2 sha256sum")
peer_n=$(best bash -c "find '$tree' -type f -print0 | xargs -0 -P2 -n 64 sha256sum")
printf 'tree: %d files of %d KiB (%.0f MiB), warm cache, %s\n' "$files" "$kib" "$mb" "$(nproc) cores"
printf '%-58s %8s s %8.0f MiB/s\n' "tendril scan --workers 2" "$ours" "$(echo "$mb / $ours" | bc -l)"
printf '%-58s %8s s %8.0f MiB/s\n' "find | xargs -0 -P2 sha256sum (the issue's command)" "$peer" "$(echo "$mb / $peer" | bc -l)"
printf '%-58s %8s s %8.0f MiB/s\n' "find | xargs -0 -P2 -n 64 sha256sum (both cores busy)" "$peer_n" "$(echo "$mb / $peer_n" | bc -l)"
printf 'ratio (peer time / tendril time): %.2fx against the issue command, %.2fx against -n 64\n' \
  "$(echo "$peer / $ours" | bc -l)" "$(echo "$peer_n / $ours" | bc -l)"
