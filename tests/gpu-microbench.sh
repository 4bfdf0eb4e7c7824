#!/usr/bin/env bash
# tests/gpu-microbench.sh: scripts/gpu-microbench.py answers --help without PyTorch, and
# where a Python with PyTorch is found, a quick host dry run writes a CSV that
# bflysim --gpu-calibrate fits and whose preset a run then uses as its baseline.
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
        # what the script writes today, bflysim calibrates and then runs against; the
        # host may outrun the Xavier NX's roofline, so the base preset's peaks are raised
        bfly="$PWD/bflysim"
        preset="${out%.csv}.cfg"
        trap 'rm -f "$out" "$preset"' EXIT
        "$bfly" --gpu-calibrate "$out" --set gpu.peak.tensor_fp16_gflops=1e7 \
            --set gpu.peak.cuda_fp16_gflops=1e7 --set gpu.peak.fp32_gflops=1e7 \
            --set gpu.memory.bandwidth_gbs=1e5 >"$preset"
        grep -q "calibrated by bflysim --gpu-calibrate from $out" "$preset"
        "$bfly" -m analytical -b "$preset" "$src/arch/mld-4x4.cfg" \
            "$src/workloads/butterfly-linear-64.cfg" | grep -q "^speedup "
        echo "gpu-microbench: --help, a host dry run ($py) and its calibration work"
        exit 0
    fi
done
echo "gpu-microbench: --help works (no PyTorch here for a dry run)"
