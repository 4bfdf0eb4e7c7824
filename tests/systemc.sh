#!/usr/bin/env bash
# tests/systemc.sh: --engine=systemc (the engine's components as SystemC processes) gives
# the native engine's JSON, byte for byte apart from the engine's name and the command
# line, on every shipped workload at test sizes, on the full butterfly-linear-4k and with
# --functional; its --vcd waveforms agree with the native engine's event trace (each PE
# busy exactly over the union of its firings, the SPM conflicts adding up to the run's),
# are the same file twice, and are finished whole by SIGINT.
set -euo pipefail
src="${BFLYSIM_SRCDIR:-.}"
py=/usr/bin/python3 # Debian's (scripts/setup.sh installs it)
if ! [ -x "$py" ]; then
    echo "systemc: no $py; skipped"
    exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/bflysim-systemc-XXXXXX")"
trap 'rm -rf "$work"' EXIT

# same NAME BFLYSIM-ARGS...: the two engines' JSON, apart from the engine and the argv
same() {
    local name="$1"
    shift
    ./bflysim -q --json "$work/n.json" "$@"
    ./bflysim -q --json "$work/s.json" --engine=systemc "$@"
    "$py" - "$work/n.json" "$work/s.json" "$name" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
if a["results"]["engine"] != "native" or b["results"]["engine"] != "systemc":
    sys.exit("systemc %s: engines %s and %s" % (sys.argv[3], a["results"]["engine"],
                                                b["results"]["engine"]))
for d in (a, b):
    del d["invocation"], d["results"]["engine"]
if a != b:
    for k in a:
        if a[k] != b.get(k):
            sys.exit("systemc %s: '%s' differs from the native engine's" % (sys.argv[3], k))
EOF
}

# every shipped workload, small: 16 vectors, or 64 tokens (512 for chunks of 256, a
# 63-token cache) of width 128
small="-s workload.hidden=128 -s workload.heads=2 -s workload.ffn=256"
n=0
for f in "$src"/workloads/*.cfg; do
    # (gemm workloads run on the peer accelerators, not on the engine)
    ! grep -q '^kind = "gemm"' "$f" || continue
    if grep -q 'kind = "butterfly-linear"' "$f"; then
        ov="-s workload.rows=16"
    elif grep -q '^kv_len' "$f"; then
        ov="-s workload.kv_len=63 $small"
    elif grep -q 'chunk' "$f"; then
        ov="-s workload.seq_len=512 $small"
    else
        ov="-s workload.seq_len=64 $small"
    fi
    # shellcheck disable=SC2086
    same "$(basename "$f")" $ov mld-4x4 "$f"
    n=$((n + 1))
done
[ "$n" -ge 30 ] || { echo "systemc: only $n workloads"; exit 1; }
same butterfly-linear-4k mld-8x8 butterfly-linear-4k
same "functional butterfly" -f mld-8x8 butterfly-linear-1k
same "functional model" -f -s workload.seq_len=64 -s workload.blocks.0.repeat=2 mld-8x8 \
    fabnet-image-1k
# functional runs of each family of models (one instance of each block entry)
one="-s workload.blocks.0.repeat=1"
for w in bert-base-image-1k hybrid-fourier-image-1k hybrid-butterfly-image-1k decoder-1b-decode-2k; do
    ov="-s workload.seq_len=64"
    [ "$w" != decoder-1b-decode-2k ] || ov="-s workload.kv_len=63"
    blocks="$one"
    [ "$w" != hybrid-butterfly-image-1k ] || blocks="$one -s workload.blocks.1.repeat=1"
    # shellcheck disable=SC2086
    same "functional $w" -f $ov $small $blocks mld-4x4 "$w"
done
echo "systemc: $((n + 7)) runs give the native engine's JSON"

# the waveforms against the native engine's trace and timeline
./bflysim -q --json "$work/n.json" --trace "$work/t.csv.gz" --timeline "$work/t.json" mld-8x8 \
    butterfly-linear-1k
./bflysim -q --engine=systemc --vcd "$work/w.vcd" mld-8x8 butterfly-linear-1k
./bflysim -q --engine=systemc --vcd "$work/w2.vcd" mld-8x8 butterfly-linear-1k
cmp "$work/w.vcd" "$work/w2.vcd" || { echo "systemc: two runs gave different VCD files"; exit 1; }
"$py" - "$work/w.vcd" "$work/t.csv.gz" "$work/n.json" "$work/t.json" <<'EOF'
import gzip, json, sys
from collections import defaultdict

ps = 1000  # a cycle at 1 GHz, in the file's 1 ps
names, scope, changes = {}, [], defaultdict(list)
t = 0
for line in open(sys.argv[1]):
    w = line.split()
    if not w:
        continue
    if w[0] == "$date":
        sys.exit("systemc: the VCD file has a $date")
    if w[0] == "$scope":
        scope.append(w[2])
    elif w[0] == "$upscope":
        scope.pop()
    elif w[0] == "$var":
        names[w[3]] = ".".join(scope[1:] + [w[4]])
    elif w[0].startswith("#"):
        nt = int(w[0][1:])
        if nt < t:
            sys.exit("systemc: VCD time goes back")
        t = nt
    elif w[0][0] in "01" and len(w) == 1:
        changes[names[w[0][1:]]].append((t, int(w[0][0])))
    elif w[0][0] == "b":
        changes[names[w[1]]].append((t, int(w[0][1:], 2)))

def union(iv):  # intervals [a, b) joined where they overlap or touch
    out = []
    for a, b in sorted(iv):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def high(ch):  # the cycles a signal is high, from its changes
    out, up = [], None
    for tt, v in ch:
        if v and up is None:
            up = tt
        elif not v and up is not None:
            out.append([up // ps, tt // ps])
            up = None
    return out


# each PE busy exactly over the union of [cycle, cycle + duration) of its firings
fire = defaultdict(list)
with gzip.open(sys.argv[2], "rt") as f:
    for r in f:
        c = r.split(",")
        if len(c) == 7 and c[2] == "pe":
            fire[int(c[1][2:])].append((int(c[0]), int(c[0]) + int(c[5])))
for pe, iv in fire.items():
    iv.sort()
    want = union(iv)
    key = [k for k in changes if k.startswith("pe%d_" % pe) and k.endswith("busy")]
    got = high(changes[key[0]])
    if got != want:
        sys.exit("systemc: PE %d busy %s, firings %s" % (pe, got[:4], want[:4]))
# the per-cycle SPM conflicts add up to the run's
run = json.load(open(sys.argv[3]))
total = sum(v for _, v in changes["spm.conflicts"])
if total != run["counters"]["spm"]["bank_conflicts"]:
    sys.exit("systemc: %d conflicts in the VCD, %d in --json"
             % (total, run["counters"]["spm"]["bank_conflicts"]))
# each DMA channel busy exactly over the native timeline's slices of that channel (a
# descriptor from taking the channel to letting it go; back-to-back ones join)
tl = json.load(open(sys.argv[4]))["traceEvents"]
lanes = defaultdict(list)
for e in tl:
    if e["ph"] == "X" and e["pid"] == 3:
        lanes[e["tid"] - 300001].append(e["args"]["cycles"])
for lane, iv in lanes.items():
    want, got = union(iv), high(changes["dma%d.busy" % lane])
    if got != want:
        sys.exit("systemc: DMA channel %d busy %s, timeline %s" % (lane, got[:4], want[:4]))
if not lanes or not any(v for _, v in changes["dram0.busy"]):
    sys.exit("systemc: no DMA slices, or dram0 never rises")
print("systemc: the waveforms match the native trace (%d PEs, %d conflicts)" % (len(fire), total))
EOF

# bad options, and SIGINT: a whole VCD file and exit 130
rc=0
./bflysim -q --vcd "$work/x.vcd" mld-4x4 butterfly-linear-64 2>"$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--vcd needs --engine=systemc" "$work/err" ||
    { echo "systemc: --vcd alone gave $rc: $(cat "$work/err")"; exit 1; }
rc=0
./bflysim -q --engine=gem5 mld-4x4 butterfly-linear-64 2>"$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--engine=gem5: expected 'native' or 'systemc'" "$work/err" ||
    { echo "systemc: --engine=gem5 gave $rc: $(cat "$work/err")"; exit 1; }
rc=0
timeout --preserve-status -s INT 1 ./bflysim -q --engine=systemc --vcd "$work/int.vcd" \
    --trace-window 0:100000 mld-8x8 bert-base-text-4k 2>/dev/null || rc=$?
[ "$rc" = 130 ] || { echo "systemc: SIGINT gave exit $rc, wanted 130"; exit 1; }
grep -q '^\$enddefinitions' "$work/int.vcd" || { echo "systemc: interrupted VCD not whole"; exit 1; }
echo "systemc: options checked, interrupted VCD whole"
