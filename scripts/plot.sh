#!/usr/bin/env bash
# scripts/plot.sh: draws bflysim's outputs (--json, --timeline, --trace, --csv) as PNG
# figures with gnuplot; scripts/plot.py does the work (README, "Traces and figures").
# Usage: scripts/plot.sh [-o DIR] [--x COL --y COL [--series COL]] FILE...
set -euo pipefail
py=/usr/bin/python3 # Debian's (scripts/setup.sh installs it, with gnuplot-nox)
if ! [ -x "$py" ]; then
    echo "plot.sh: $py not found (Debian: apt-get install python3)" >&2
    exit 2
fi
exec "$py" "$(dirname "$0")/plot.py" "$@"
