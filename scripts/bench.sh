#!/usr/bin/env bash
# scripts/bench.sh: host time and peak memory of bflysim on the benchmark cases, printed as
# the Markdown tables that BENCHMARKS.md records. Run scripts/setup.sh first.
# Usage: scripts/bench.sh [REPEATS]   (the best of REPEATS runs is kept; default 3)
#        scripts/bench.sh --against OTHER_BINARY [REPEATS]
#   --against: time ./bflysim and OTHER_BINARY side by side on the speed cases of issue 23
#   (runs interleaved, the best user CPU of each, peak RSS, their ratio, and whether the
#   two JSON results agree), so a speed claim is a ratio measured in one run
set -euo pipefail
cd "$(dirname "$0")/.."
against=""
if [ "${1:-}" = --against ]; then
    against="${2:?--against needs a bflysim binary}"
    [ -x "$against" ] || { echo "bench: $against is not an executable" >&2; exit 2; }
    shift 2
fi
repeats="${1:-3}"
[ -x /usr/bin/time ] || { echo "bench: needs GNU time (/usr/bin/time); run scripts/setup.sh" >&2; exit 1; }
arch=arch/mld-8x8.cfg

# side NAME ARGS...: ./bflysim against $against on ARGS, interleaved REPEATS times: one row
# of best user CPU seconds, peak RSS (MiB), the ratio, and whether the results agree (the
# JSON less its command line)
side() {
    local name="$1" j0 j1 b0="" b1="" k0="" k1=""
    shift
    j0="$(mktemp)" j1="$(mktemp)"
    for _ in $(seq "$repeats"); do
        local i bin j out u kb
        for i in 0 1; do
            if [ "$i" = 0 ]; then bin=./bflysim j="$j0"; else bin="$against" j="$j1"; fi
            out="$( { /usr/bin/time -f "%U %M" "$bin" -q --json "$j" "$@" >/dev/null; } 2>&1 | tail -n 1)" ||
                { echo "bench: $bin $* failed" >&2; exit 1; }
            u="${out% *}" kb="${out#* }"
            if [ "$i" = 0 ]; then
                if [ -z "$b0" ] || awk "BEGIN{exit !($u < $b0)}"; then b0="$u"; fi
                k0="$kb"
            else
                if [ -z "$b1" ] || awk "BEGIN{exit !($u < $b1)}"; then b1="$u"; fi
                k1="$kb"
            fi
        done
    done
    local same=no
    if cmp -s <(sed '/"argv"/,/\]/d' "$j0") <(sed '/"argv"/,/\]/d' "$j1"); then same=yes; fi
    rm -f "$j0" "$j1"
    awk -v n="$name" -v b0="$b0" -v b1="$b1" -v k0="$k0" -v k1="$k1" -v s="$same" 'BEGIN {
        printf "| %s | %.2f | %.2f | %.2fx | %.1f / %.1f | %s |\n", n, b0, b1,
            (b0 > 0 ? b1 / b0 : 0), k0 / 1024, k1 / 1024, s }'
}

if [ -n "$against" ]; then
    # (both read this tree's presets, wherever the other binary was built)
    export BFLYSIM_DATADIR="${BFLYSIM_DATADIR:-$PWD}"
    echo "| case (./bflysim against $against) | user s, this | user s, other | speed-up | peak MiB | same results |"
    echo "|---|---|---|---|---|---|"
    side "BERT-base 4K, cycle level" "$arch" workloads/bert-base-text-4k.cfg
    side "FABNet 4K, cycle level" "$arch" workloads/fabnet-text-4k.cfg
    side "FABNet 16K, cycle level" "$arch" workloads/fabnet-16k.cfg
    side "hybrid-compress 16K, cycle level" "$arch" workloads/hybrid-compress-16k.cfg
    side "FABNet 4K, closed form" -m analytical "$arch" workloads/fabnet-text-4k.cfg
    side "BERT-base 4K, closed form" -m analytical "$arch" workloads/bert-base-text-4k.cfg
    exit 0
fi

# measure JSON ARGS...: runs bflysim REPEATS times with --json JSON; sets best_s (host
# seconds, best run) and best_kb (peak RSS in KiB, smallest run)
measure() {
    local json="$1"
    shift
    best_s="" best_kb=""
    for _ in $(seq "$repeats"); do
        local kb t0 t1 s
        t0="$EPOCHREALTIME"
        kb="$( { /usr/bin/time -f "%M" ./bflysim -q --json "$json" "$@" >/dev/null; } 2>&1 |
               tail -n 1)"
        t1="$EPOCHREALTIME"
        s="$(awk "BEGIN{printf \"%.3f\", ${t1/,/.} - ${t0/,/.}}")"
        if [ -z "$best_s" ] || awk "BEGIN{exit !($s < $best_s)}"; then best_s="$s"; fi
        if [ -z "$best_kb" ] || [ "$kb" -lt "$best_kb" ]; then best_kb="$kb"; fi
    done
}

# run NAME N ROWS [extra options...]: prints one table row
run() {
    local name="$1" n="$2" rows="$3" json
    shift 3
    json="$(mktemp)"
    measure "$json" --set workload.n="$n" --set workload.rows="$rows" "$@" \
        "$arch" workloads/butterfly-linear-4k.cfg
    local cycles events
    cycles="$(sed -n 's/^ *"cycles": \([0-9]*\).*/\1/p' "$json" | head -n 1)"
    events="$(sed -n 's/^ *"events": \([0-9]*\).*/\1/p' "$json" | head -n 1)"
    rm -f "$json"
    local mb
    mb="$(awk "BEGIN{printf \"%.1f\", $n * $rows * 2 / 1048576}")"
    printf '| %s | %s x %s | %s | %s | %s | %s | %.1f |\n' "$name" "$n" "$rows" "$mb" \
        "$cycles" "$events" "$best_s" "$(awk "BEGIN{print $best_kb / 1024}")"
}

# model NAME WORKLOAD [extra options...]: one model run, one table row
model() {
    local name="$1" wl="$2" json
    shift 2
    json="$(mktemp)"
    measure "$json" "$@" "$arch" "$wl"
    local cycles flops events util
    cycles="$(field "$json" cycles)" flops="$(field "$json" flops)"
    util="$(field "$json" utilization)"
    events="$(sed -n '/"counters"/,$s/^ *"events": \([0-9]*\).*/\1/p' "$json" | head -n 1)"
    rm -f "$json"
    printf '| %s | %s | %s | %.1f%% | %s | %s | %.1f |\n' "$name" "$cycles" "$flops" \
        "$(awk "BEGIN{print 100 * $util}")" "$events" "$best_s" \
        "$(awk "BEGIN{print $best_kb / 1024}")"
}

# field JSON NAME: the numeric value of "NAME" in the results section (not in its objects)
field() {
    sed -n "/\"results\"/,/^  }/s/^    \"$2\": \([0-9.e+-]*\).*/\1/p" "$1" | head -n 1
}

# mfield FILE KEY: a number from the "mapping" object of a --json file
mfield() {
    sed -n "/\"mapping\"/,/\"tags\"/s/^ *\"$2\": \([0-9]*\).*/\1/p" "$1" | head -n 1
}

# steady ARCH N [SETTINGS...]: steady-state utilization of a butterfly layer's stages, from
# two runs of 512 and 1024 vectors under the same mapping (the difference cancels
# configuration, fill and drain), and the share of that steady state the DRAM traffic
# alone needs
steady() {
    local a="$1" n="$2" j1 j2
    shift 2
    j1="$(mktemp)" j2="$(mktemp)"
    ./bflysim -q --json "$j1" --set workload.n="$n" --set workload.rows=512 "$@" "$a" \
        workloads/butterfly-linear-4k.cfg
    ./bflysim -q --json "$j2" --set workload.n="$n" --set workload.rows=1024 "$@" "$a" \
        workloads/butterfly-linear-4k.cfg
    local c1 c2 o1 o2 u1 d1 d2 m1 m2
    c1="$(field "$j1" cycles)" c2="$(field "$j2" cycles)"
    o1="$(field "$j1" useful_ops)" o2="$(field "$j2" useful_ops)"
    u1="$(field "$j1" lane_op_rate)"
    d1="$(field "$j1" dram_bound_cycles)" d2="$(field "$j2" dram_bound_cycles)"
    m1="$(mfield "$j1" pipelines) x $(mfield "$j1" rows_used)"
    m2="$(mfield "$j2" pipelines) x $(mfield "$j2" rows_used)"
    rm -f "$j1" "$j2"
    awk -v a="$a${*:+ ($*)}" -v n="$n" -v c1="$c1" -v c2="$c2" -v o1="$o1" -v o2="$o2" -v u1="$u1" \
        -v d1="$d1" -v d2="$d2" -v m1="$m1" -v m2="$m2" 'BEGIN {
        peak = o1 / (u1 * c1)   # lane operations per cycle of the whole array
        if (m1 != m2) {   # the difference means nothing across two mappings
            printf "| %s | %s | %s; %s | %.1f%% | n/a | n/a |\n", a, n, m1, m2, 100 * u1
            exit
        }
        printf "| %s | %s | %s | %.1f%% | %.1f%% | %.0f%% |\n", a, n, m1,
            100 * u1, 100 * (o2 - o1) / (peak * (c2 - c1)),
            100 * (d2 - d1) / (c2 - c1) }'
}

# roofline NAME WORKLOAD: a preset model's utilization beside its roofline: the compute
# bound over the larger of it and the compulsory DRAM bound (input, weights, output
# once), and over the DRAM bound of the traffic the chosen mapping moves
roofline() {
    local name="$1" wl="$2" json
    json="$(mktemp)"
    ./bflysim -q --json "$json" "$arch" "$wl"
    awk -v name="$name" -v cyc="$(field "$json" cycles)" -v u="$(field "$json" lane_op_rate)" \
        -v cb="$(field "$json" compute_bound_cycles)" -v db="$(field "$json" dram_bound_cycles)" \
        -v kb="$(field "$json" compulsory_dram_bound_cycles)" 'BEGIN {
        printf "| %s | %s | %.1f%% | %.1f%% | %.1f%% |\n", name, cyc, 100 * u,
            100 * cb / (cb > kb ? cb : kb), 100 * cb / (cb > db ? cb : db) }'
    rm -f "$json"
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
run "SystemC engine (issue 20), 4K x 768" 4096 768 --engine=systemc
run "analytical 4K x 768" 4096 768 --model=analytical
run "analytical 4K x 12288" 4096 12288 --model=analytical

echo
echo "| model (issue 3) | simulated cycles | flops | MAC util | events | host s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
model "FABNet-style, Text 4K (12 blocks, hidden 768)" workloads/fabnet-text-4k.cfg
model "hybrid-fourier, Text 4K" workloads/hybrid-fourier-text-4k.cfg
model "BERT-base, Text 4K" workloads/bert-base-text-4k.cfg
model "BERT-base, Image 1K (1/4 the tokens)" workloads/bert-base-image-1k.cfg
model "BERT-base, ListOps 2K (1/2 the tokens)" workloads/bert-base-listops-2k.cfg
model "FABNet-style, 16K" workloads/fabnet-16k.cfg
model "hybrid-compress, 16K (2 attention blocks)" workloads/hybrid-compress-16k.cfg

echo
echo "| traced (issue 19), same run | simulated cycles | flops | MAC util | events | host s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
traces="$(mktemp -d)"
model "FABNet-style, Text 4K, untraced" workloads/fabnet-text-4k.cfg
model "FABNet-style, Text 4K, --trace" workloads/fabnet-text-4k.cfg --trace "$traces/t.csv.gz"
model "FABNet-style, Text 4K, --timeline" workloads/fabnet-text-4k.cfg --timeline "$traces/t.json"
model "BERT-base, Text 4K, untraced" workloads/bert-base-text-4k.cfg
model "BERT-base, Text 4K, --timeline" workloads/bert-base-text-4k.cfg --timeline "$traces/t.json"
model "FABNet-style, Text 4K, --engine=systemc (issue 20)" workloads/fabnet-text-4k.cfg --engine=systemc
rm -rf "$traces"

echo
echo "| --model analytical (issue 4) | estimated cycles | flops | MAC util | events | host s | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
model "BERT-base, Text 4K" workloads/bert-base-text-4k.cfg --model=analytical
model "FABNet-style, Text 4K" workloads/fabnet-text-4k.cfg --model=analytical
model "hybrid-compress, 16K" workloads/hybrid-compress-16k.cfg --model=analytical

echo
echo "| butterfly stages (issue 4) | n | pipelines x layer PEs | util, 512 vectors | steady-state util | DRAM share of steady state |"
echo "|---|---|---|---|---|---|"
fast="--set arch.dram.bandwidth_gbs=1000 --set arch.dram.channels=8 --set arch.dma.channels=8"
for a in arch/mld-4x4.cfg arch/mld-8x8.cfg; do
    for n in 1024 4096; do
        steady "$a" "$n"
        # shellcheck disable=SC2086 # the settings split into arguments
        steady "$a" "$n" $fast
    done
done
echo
echo "| preset on $arch (issue 4) | simulated cycles | lane-op rate | roofline ceiling | ceiling with the mapping's traffic |"
echo "|---|---|---|---|---|"
for t in listops-2k text-4k retrieval-4k image-1k pathfinder-1k; do
    for m in bert-base fabnet hybrid-fourier hybrid-butterfly; do
        roofline "$m-$t" "workloads/$m-$t.cfg"
    done
done
roofline vit-b16 workloads/vit-b16.cfg

# chained NAME WORKLOAD ARCH HIDDEN TOKENS: one small model with --no-chain and as the
# mapper chains it (the default), the ratio of their simulated cycles, and the chained
# estimate's error
chained() {
    local name="$1" wl="$2" a="$3" h="$4" n="$5" j0 j1
    local shape=(--set workload.seq_len="$n" --set workload.hidden="$h"
                 --set workload.ffn="$((2 * h))" --set workload.heads=4)
    j0="$(mktemp)" j1="$(mktemp)"
    ./bflysim -q --no-fuse --no-chain --json "$j0" "${shape[@]}" "$a" "$wl"
    ./bflysim -q --no-fuse --json "$j1" "${shape[@]}" "$a" "$wl"
    local c0 c1 e1 chains
    c0="$(field "$j0" cycles)" c1="$(field "$j1" cycles)"
    e1="$(./bflysim --no-fuse -m analytical "${shape[@]}" "$a" "$wl" | awk '/^cycles/{print $2}')"
    chains="$(grep -cE '"chained_ops": ([2-9]|[1-9][0-9])' "$j1" || true)"
    rm -f "$j0" "$j1"
    printf '| %s | %s | %s | %s | %s | %s | %+.1f%% | %+.1f%% |\n' "$name" "$(basename "$a" .cfg)" \
        "$h x $n" "$c0" "$c1" "$chains" "$(awk "BEGIN{print 100 * ($c1 - $c0) / $c0}")" \
        "$(awk "BEGIN{print 100 * ($e1 - $c1) / $c1}")"
}

echo
echo "| chaining (issue 4) | arch | hidden x tokens | cycles apart | cycles chained | chains | chained vs apart | chained estimate vs engine |"
echo "|---|---|---|---|---|---|---|---|"
for a in arch/mld-4x4.cfg arch/mld-8x8.cfg; do
    for m in bert-base fabnet hybrid-butterfly hybrid-fourier; do
        chained "$m-image-1k" "workloads/$m-image-1k.cfg" "$a" 64 256
    done
done

# dram FILE: DRAM bytes read and written, from the counters of a --json file
dram() {
    sed -n '/"counters"/,$p' "$1" | sed -n '/"dram": {/,/}/s/^ *"\(read\|write\)_bytes": \([0-9]*\).*/\2/p' |
        awk '{s += $1} END {print s}'
}

# fused NAME WORKLOAD ARCH: the per-op plan (--no-fuse) and the fused one side by side, each
# timed REPEATS times in the same run: cycles, MAC-unit utilization, lane-op rate, DRAM
# bytes, events and host seconds, and the fused plan's ratios
fused() {
    local name="$1" wl="$2" a="$3" j0 j1 s0 s1
    j0="$(mktemp)" j1="$(mktemp)"
    measure "$j0" --no-fuse "$a" "$wl"
    s0="$best_s"
    measure "$j1" "$a" "$wl"
    s1="$best_s"
    local c0 c1 u0 u1 r0 r1 d0 d1 e0 e1
    c0="$(field "$j0" cycles)" c1="$(field "$j1" cycles)"
    u0="$(field "$j0" utilization)" u1="$(field "$j1" utilization)"
    r0="$(field "$j0" lane_op_rate)" r1="$(field "$j1" lane_op_rate)"
    d0="$(dram "$j0")" d1="$(dram "$j1")"
    e0="$(sed -n '/"counters"/,$s/^ *"events": \([0-9]*\).*/\1/p' "$j0" | head -n 1)"
    e1="$(sed -n '/"counters"/,$s/^ *"events": \([0-9]*\).*/\1/p' "$j1" | head -n 1)"
    rm -f "$j0" "$j1"
    awk -v n="$name" -v a="$(basename "$a" .cfg)" -v c0="$c0" -v c1="$c1" -v u0="$u0" -v u1="$u1" \
        -v r0="$r0" -v r1="$r1" -v d0="$d0" -v d1="$d1" -v e0="$e0" -v e1="$e1" -v s0="$s0" \
        -v s1="$s1" 'BEGIN {
        printf "| %s | %s | %d / %d (%.2fx) | %.1f%% / %.1f%% | %.1f%% / %.1f%% | %.1f / %.1f MB (%.2fx) | %d / %d | %s / %s (%.2fx) |\n",
            n, a, c0, c1, c0 / c1, 100 * u0, 100 * u1, 100 * r0, 100 * r1, d0 / 1e6, d1 / 1e6,
            d0 / d1, e0, e1, s0, s1, s1 / s0 }'
}

echo
echo "| fused groups (issue 16): per op / fused | arch | cycles | MAC util | lane-op rate | DRAM bytes | events | host s |"
echo "|---|---|---|---|---|---|---|---|"
for a in arch/mld-4x4.cfg arch/mld-8x8.cfg arch/mld-16x16.cfg; do
    fused "FABNet-style, Text 4K" workloads/fabnet-text-4k.cfg "$a"
done
fused "hybrid-fourier, Text 4K" workloads/hybrid-fourier-text-4k.cfg arch/mld-8x8.cfg
fused "hybrid-butterfly, Text 4K" workloads/hybrid-butterfly-text-4k.cfg arch/mld-16x16.cfg
fused "FABNet-style, 16K" workloads/fabnet-16k.cfg arch/mld-8x8.cfg
fused "BERT-base, Image 1K" workloads/bert-base-image-1k.cfg arch/mld-8x8.cfg

# The sweep of issue 22: FABNet-4K variations (DRAM bandwidth x SPM bank size x length)
# in closed form through scripts/sweep.sh on every core (bflysim --batch), wall time and
# points a second; the target is 1,000 points in under 30 s on two cores.
spec="$(mktemp --suffix=.cfg)" out="$(mktemp --suffix=.csv)"
cat >"$spec" <<'SPEC'
arch = "mld-8x8";
workload = "fabnet-text-4k";
mode = "analytical";
baseline = "none";
axes = (
  { key = "arch.dram.bandwidth_gbs"; from = 12.8; to = 128.0; step = 12.8; },
  { key = "arch.spm.bank_kb"; values = [16, 32, 64]; },
  { key = "workload.seq_len"; values = [2048, 4096]; }
);
SPEC
rm -f "$out"
t0="$EPOCHREALTIME"
BFLYSIM="$PWD/bflysim" scripts/sweep.sh -o "$out" "$spec" 2>/dev/null
t1="$EPOCHREALTIME"
points="$(($(wc -l <"$out") - 1))"
rm -f "$spec" "$out"
echo
echo "| sweep (issue 22) | points | cores | wall s | points / s | 1,000 points |"
echo "|---|---|---|---|---|---|"
awk -v p="$points" -v c="$(nproc)" -v t0="${t0/,/.}" -v t1="${t1/,/.}" 'BEGIN {
    s = t1 - t0; printf "| FABNet-4K, closed form, --batch | %d | %d | %.1f | %.2f | %.0f s |\n", p, c, s, p / s, 1000 * s / p }'
