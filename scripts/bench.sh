#!/usr/bin/env bash
# scripts/bench.sh: host time and peak memory of bflysim on the benchmark cases, printed as
# the Markdown tables that BENCHMARKS.md records. Run scripts/setup.sh first.
# Usage: scripts/bench.sh [REPEATS]   (the best of REPEATS runs is kept; default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${1:-3}"
[ -x /usr/bin/time ] || { echo "bench: needs GNU time (/usr/bin/time); run scripts/setup.sh" >&2; exit 1; }
arch=arch/mld-8x8.cfg

# run NAME N ROWS [extra options...]: prints one table row
run() {
    local name="$1" n="$2" rows="$3"
    shift 3
    local best_s="" best_kb="" json
    json="$(mktemp)"
    for _ in $(seq "$repeats"); do
        local out t0 t1
        t0="$EPOCHREALTIME"
        out="$( { /usr/bin/time -f "%M" ./bflysim -q --json "$json" \
                  --set workload.n="$n" --set workload.rows="$rows" "$@" \
                  "$arch" workloads/butterfly-linear-4k.cfg >/dev/null; } 2>&1 | tail -n 1)"
        t1="$EPOCHREALTIME"
        local s kb="$out"
        s="$(awk "BEGIN{printf \"%.3f\", ${t1/,/.} - ${t0/,/.}}")"
        if [ -z "$best_s" ] || awk "BEGIN{exit !($s < $best_s)}"; then best_s="$s"; fi
        if [ -z "$best_kb" ] || [ "$kb" -lt "$best_kb" ]; then best_kb="$kb"; fi
    done
    local cycles events
    cycles="$(sed -n 's/^ *"cycles": \([0-9]*\).*/\1/p' "$json" | head -n 1)"
    events="$(sed -n 's/^ *"events": \([0-9]*\).*/\1/p' "$json" | head -n 1)"
    rm -f "$json"
    local mb
    mb="$(awk "BEGIN{printf \"%.1f\", $n * $rows * 2 / 1048576}")"
    printf '| %s | %s x %s | %s | %s | %s | %s | %.1f |\n' "$name" "$n" "$rows" "$mb" \
        "$cycles" "$events" "$best_s" "$(awk "BEGIN{print $best_kb / 1024}")"
}

echo "bflysim bench on $(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; best of $repeats runs; $arch"
echo
echo "| case | n x rows | data MB | simulated cycles | events | host s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
run "issue-2 target: 4K x 768" 4096 768
run "64K, 16 vectors" 65536 16
run "4K x 3072 (4x the data)" 4096 3072
run "4K x 12288 (16x the data)" 4096 12288
run "64K x 256 (16x the data)" 65536 256
run "functional 4K x 768" 4096 768 --functional
