#!/usr/bin/env bash
# tests/gpu-microbench.sh: scripts/gpu-microbench.py answers --help without PyTorch, and
# where a Python with PyTorch is found, a quick host dry run writes the calibration CSV.
set -euo pipefail
src="${BFLYSIM_SRCDIR:-.}"
script="$src/scripts/gpu-microbench.py"
command -v python3 >/dev/null || { echo "gpu-microbench: no python3; skipped"; exit 77; }
help="$(python3 "$script" --help)"
grep -q -- "--gpu-calibrate" <<<"$help"
for py in python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null && "$py" -c "import torch" 2>/dev/null; then
        out="$(mktemp "${TMPDIR:-/tmp}/bflysim-microbench-XXXXXX.csv")"
        trap 'rm -f "$out"' EXIT
        "$py" "$script" --quick --device cpu --dtypes fp32 --out "$out" 2>/dev/null
        grep -qx "name,class,dtype,flops,bytes,stride_bytes,seconds,launches" "$out"
        for cls in gemm elementwise softmax fft butterfly launch; do
            grep -q "^[^,]*,$cls,fp32," "$out" || { echo "no $cls row in $out" >&2; exit 1; }
        done
        echo "gpu-microbench: --help and a host dry run ($py) work"
        exit 0
    fi
done
echo "gpu-microbench: --help works (no PyTorch here for a dry run)"
