#!/usr/bin/env bash
# Draws each chart of a benchmark data file (rows from bench/machine.hpp's record(): chart,
# label, unit, median, low, high, runs, ours) as a PNG bar chart: one bar per engine at its
# median, a line from its lowest to its highest run, Tendril's bars green and the peers' grey.
#   bench/plot.sh DATA.tsv [OUT_DIR]     (OUT_DIR defaults to bench/plots)
# Needs gnuplot (Debian's gnuplot-nox, installed when missing).
set -euo pipefail
data=$1 out=${2:-$(dirname "$0")/plots}
command -v gnuplot >/dev/null || apt-get install -y --no-install-recommends gnuplot-nox >/dev/null
mkdir -p "$out"
for chart in $(cut -f1 "$data" | awk '!seen[$0]++'); do
  rows=$(mktemp)
  awk -F'\t' -v c="$chart" '$1 == c' "$data" > "$rows"
  unit=$(head -1 "$rows" | cut -f3)
  n=$(wc -l < "$rows")
  gnuplot <<GNUPLOT
set terminal pngcairo size 900,$((160 + 34 * n)) font "sans,10"
set output "$out/$chart.png"
set datafile separator "\t"
set title "$chart: $unit" noenhanced
set style fill solid 0.85 border -1
set boxwidth 0.6
set yrange [$n - 0.4:-0.6]
set ytics nomirror noenhanced
set xtics nomirror
set xrange [0:*]
set offsets 0, graph 0.12, 0, 0  # room right of the longest bar for its label
set format x "%.0f"
set grid xtics
set key off
set lmargin 38
# Horizontal bars: each row a box from 0 to the median, and the runs' range as an error bar.
plot "$rows" using (\$4/2):0:(\$4/2):(0.3):(\$8 > 0 ? 0x2e8b57 : 0x999999):ytic(2) \
       with boxxyerror lc rgb variable, \
     "" using 4:0:5:6 with xerrorbars lc rgb "black" pt 0, \
     "" using 6:0:(sprintf(\$4 >= 10000 ? "  %.0f" : "  %.4g", \$4)) with labels left font "sans,9"
GNUPLOT
  rm -f "$rows"
  echo "$out/$chart.png"
done
