#!/usr/bin/env bash
# scripts/pareto.sh: marks a CSV's Pareto-optimal rows over two or three columns (each
# minimised, or COL:max) and draws them with gnuplot (docs/SWEEPS.md). Writes
# DIR/STEM-pareto.png and DIR/STEM-pareto.csv (every row, with a pareto column first);
# a sweep's failed points are left out.
# Usage: scripts/pareto.sh [-o DIR] CSV COL COL [COL]
#   e.g. scripts/pareto.sh -o figs quick.csv time_us energy_pj area_mm2
set -euo pipefail
dir=.
if [ "${1:-}" = -o ]; then dir="${2:?-o needs DIR}"; shift 2; fi
case "${1:-}" in -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
[ $# -ge 3 ] && [ $# -le 4 ] || { echo "pareto.sh: expected CSV and two or three columns (see --help)" >&2; exit 2; }
csv="$1"; shift
cols="$(IFS=,; echo "$*")"
exec "$(dirname "$0")/plot.sh" -o "$dir" --pareto "$cols" "$csv"
