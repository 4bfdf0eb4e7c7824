#!/usr/bin/env bash
# tests/plot.sh: scripts/plot.sh draws every figure it promises (README, "Traces and figures") from a
# shipped example's --json, --timeline, --trace and a --csv sweep: PNG files (signature,
# 1000x600 from the header, more than a blank chart's bytes), and refuses bad input with
# exit 2 and a message naming the file, leaving no figure behind.
set -euo pipefail
src="${BFLYSIM_SRCDIR:-.}"
if ! [ -x /usr/bin/python3 ] || ! command -v gnuplot >/dev/null; then
    echo "plot: no /usr/bin/python3 or gnuplot (gnuplot-nox; scripts/setup.sh installs it); skipped"
    exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/bflysim-plot-XXXXXX")"
trap 'rm -rf "$work"' EXIT
plot="$src/scripts/plot.sh"

./bflysim -q -s workload.seq_len=64 -s workload.blocks.0.repeat=1 --json "$work/model.json" \
    --timeline "$work/model.tl.json" --trace "$work/model.csv.gz" mld-8x8 fabnet-image-1k
./bflysim -q --json "$work/layer.json" mld-8x8 butterfly-linear-64
for a in mld-4x4 mld-8x8; do
    for s in 256 512 1024; do
        ./bflysim -q -m analytical -s workload.seq_len=$s --csv "$work/sweep.csv" $a fabnet-image-1k
    done
done

"$plot" -o "$work/figs" "$work/model.json" "$work/model.tl.json" "$work/model.csv.gz" \
    "$work/layer.json" >"$work/out"
"$plot" -o "$work/figs" --x seq_len --y cycles --series arch --logy "$work/sweep.csv" >>"$work/out"
want="model-energy model-ops model-roofline model.tl-stages model-utilization layer-energy
layer-ops layer-roofline sweep-sweep"
for f in $want; do
    png="$work/figs/$f.png"
    grep -qxF "$png" "$work/out" || { echo "plot: $f.png not listed: $(cat "$work/out")"; exit 1; }
    /usr/bin/python3 - "$png" <<'PYEOF'
import struct, sys, os
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
    sys.exit("plot: %s is not a PNG" % sys.argv[1])
w, h = struct.unpack(">II", data[16:24])
# a blank 1000x600 chart with its axes, grid, labels and title is 15.6 KB (gnuplot 5.4's
# pngcairo, measured); these figures' curves and bars take them past 20 KB
if (w, h) != (1000, 600) or not 20000 < len(data) < 2000000:
    sys.exit("plot: %s is %dx%d, %d bytes" % (sys.argv[1], w, h, len(data)))
PYEOF
done
[ "$(wc -l <"$work/out")" = 9 ] || { echo "plot: wrote $(cat "$work/out")"; exit 1; }
echo "plot: 9 figures ok"

expect() { # MESSAGE PLOT-ARGS...
    local msg="$1" rc=0
    shift
    "$plot" -o "$work/bad" "$@" >/dev/null 2>"$work/err" || rc=$?
    [ "$rc" = 2 ] && grep -qF -- "$msg" "$work/err" ||
        { echo "plot: '$*' gave $rc: $(cat "$work/err"), wanted 2: $msg"; exit 1; }
    [ -z "$(ls -A "$work/bad" 2>/dev/null)" ] || { echo "plot: '$*' left figures"; exit 1; }
}
expect "sweep.csv: a CSV needs --x COLUMN and --y COLUMN" "$work/sweep.csv"
expect "--y cycels: no such column (columns: arch," --x seq_len --y cycels "$work/sweep.csv"
expect "nothing.json: no such file" "$work/nothing.json"
echo '{"a": 1}' >"$work/other.json"
expect "other.json: a JSON file that is neither" "$work/other.json"
echo "plot: bad input refused"
