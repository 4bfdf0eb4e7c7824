#!/usr/bin/env bash
# tests/timeline.sh: --timeline writes a Chrome/Perfetto trace-event file (traces/README.md):
# valid JSON with the fields Perfetto's importer needs, slices that never overlap on a
# track, sums that equal the run's counters (each PE's MAC busy cycles, DMA and DRAM bytes,
# and the counters' integrals: DRAM bytes, NoC flit-hops, SPM words), ops named and timed
# as in the per-op table (at the arch's clock), PE slices that are the --trace's firings
# merged by the documented rule, at most --timeline-slices slices per track and unit, the
# window kept, and a whole file after SIGINT.
set -euo pipefail
py=/usr/bin/python3 # Debian's (scripts/setup.sh installs it)
if ! [ -x "$py" ]; then
    echo "timeline: no $py; skipped"
    exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/bflysim-timeline-XXXXXX")"
trap 'rm -rf "$work"' EXIT

# check NAME MAX_SLICES [WINDOW_LO WINDOW_HI] -- BFLYSIM-ARGS...: the run's timeline against
# its --json and its --trace (same window)
check() {
    local name="$1" max="$2" lo="${3:-0}" hi="${4:-0}"
    shift 5 # (and the --)
    ./bflysim -q --json "$work/$name.json" --timeline "$work/$name.tl.json" \
        --trace "$work/$name.csv.gz" "$@"
    "$py" - "$work/$name.tl.json" "$work/$name.json" "$max" "$lo" "$hi" "$work/$name.csv.gz" <<'EOF'
import gzip, json, sys
from collections import defaultdict

tl = json.load(open(sys.argv[1]))
run = json.load(open(sys.argv[2]))
max_slices, lo, hi = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
windowed = lo > 0 or hi > 0
c = run["counters"]
fires = defaultdict(list)  # PE -> (start, end, tag) of each firing, from --trace
with gzip.open(sys.argv[6], "rt") as f:
    for r in f:
        w = r.split(",")
        if len(w) == 7 and w[2] == "pe":
            fires[int(w[1][2:])].append((int(w[0]), int(w[0]) + int(w[5]), int(w[3])))


def fail(msg):
    sys.exit("timeline %s: %s" % (sys.argv[1], msg))


def close(got, want, rel, what):
    if abs(got - want) > rel * max(abs(want), 1):
        fail("%s: %.6g in the timeline, %.6g in --json" % (what, got, want))


meta = tl["otherData"]
if not meta["format"].startswith("bflysim timeline 1"):
    fail("format " + meta["format"])
ev = tl["traceEvents"]
names = {}
slices = defaultdict(list)
samples = defaultdict(list)
for e in ev:
    for k, t in (("ph", str), ("pid", int), ("tid", int), ("name", str)):
        if not isinstance(e.get(k), t):
            fail("an event without %s: %r" % (k, e))
    if e["ph"] == "M":
        if e["name"] in ("process_name", "thread_name"):
            names[(e["pid"], e["tid"] if e["name"] == "thread_name" else None)] = e["args"]["name"]
        elif not isinstance(e["args"]["sort_index"], int):
            fail("metadata %r" % e)
    elif e["ph"] == "X":
        if not (e["ts"] >= 0 and e["dur"] >= 0):
            fail("a slice without ts or dur: %r" % e)
        slices[(e["pid"], e["tid"])].append(e)
    elif e["ph"] == "C":
        if not all(isinstance(v, (int, float)) for v in e["args"].values()) or e["ts"] < 0:
            fail("a counter sample %r" % e)
        samples[e["name"]].append(e)
    else:
        fail("unknown phase %r" % e)
for (pid, tid) in slices:
    if (pid, None) not in names or (pid, tid) not in names:
        fail("a track without a name: pid %d tid %d" % (pid, tid))

# Perfetto nests slices of a track: here none may overlap (ns, as the importer keeps them)
for key, s in slices.items():
    s.sort(key=lambda e: e["ts"])
    for a, b in zip(s, s[1:]):
        if round(b["ts"] * 1000) < round((a["ts"] + a["dur"]) * 1000):
            fail("slices overlap on %r: %r and %r" % (names[key], a, b))

ops = slices[(1, 100001)]
units = [o for blk in run.get("blocks", []) for o in blk["ops"] if o["cycles"]] or [
    {"name": "butterfly-linear", "cycles": run["results"]["cycles"]}]
if [o["name"] for o in ops] != [u["name"] for u in units]:
    fail("ops %r, per-op table %r" % ([o["name"] for o in ops], [u["name"] for u in units]))
ghz = meta["clock_ghz"]
for o, u in zip(ops, units):
    cyc = o["args"]["cycles"]
    if cyc[1] - cyc[0] != u["cycles"]:
        fail("op %s: %d cycles, per-op table %d" % (o["name"], cyc[1] - cyc[0], u["cycles"]))
    if abs(o["dur"] * 1e3 * ghz - u["cycles"]) > 1e-3 * ghz + 1e-9 * u["cycles"]:
        fail("op %s: %.6f us at %g GHz for %d cycles" % (o["name"], o["dur"], ghz, u["cycles"]))


def unit_of(cycle):
    for i, o in enumerate(ops):
        if o["args"]["cycles"][0] <= cycle < o["args"]["cycles"][1]:
            return i
    fail("cycle %d in no op" % cycle)


pe_busy = defaultdict(int)
pe_events = defaultdict(int)
dma = dram = 0
per_unit = defaultdict(int)
for (pid, tid), s in slices.items():
    for e in s:
        a = e["args"]
        c0 = a["cycles"][0]
        if pid == 2:
            pe_busy[tid - 200001] += a["mac_busy_cycles"]
            pe_events[tid - 200001] += a["events"]
        elif pid == 3:
            dma += a["bytes"]
        elif pid == 4:
            dram += a["bytes"]
        if pid != 1:
            per_unit[(pid, tid, unit_of(c0))] += 1
        if pid != 1 and windowed and (c0 < lo or (hi and c0 >= hi)):
            fail("a slice outside the window: %r" % e)
for k, n in per_unit.items():
    if n > max_slices:
        fail("%d slices on track %d in op %s, more than %d" % (n, k[1], ops[k[2]]["name"], max_slices))

# every firing the --trace keeps (same window) is in a PE slice; where no unit needed
# coarsening, the slices are the firings merged where they overlap, or touch on one tag
if sum(pe_events.values()) == 0:
    fail("no PE slice")
for pe, fs in fires.items():
    if pe_events[pe] != len(fs):
        fail("PE %d: %d firings in its slices, %d in --trace" % (pe, pe_events[pe], len(fs)))
    want = []
    for a, b, tag in sorted(fs):
        if want and (a < want[-1][1] or (a == want[-1][1] and tag == want[-1][2])):
            want[-1][1], want[-1][2] = max(want[-1][1], b), tag
        else:
            want.append([a, b, tag])
    per = defaultdict(int)
    for a, b, tag in want:
        per[unit_of(a)] += 1
    if all(n <= max_slices for n in per.values()):
        got = [e["args"]["cycles"] for e in slices[(2, 200001 + pe)]]
        if got != [[a, b] for a, b, _ in want]:
            fail("PE %d: slices %r, firings merged %r" % (pe, got[:5], want[:5]))

if not windowed:
    for i, p in enumerate(c["pes"]):
        if pe_busy[i] != p["fu_busy_cycles"]["mac"]:
            fail("PE %d: MAC busy %d, --json %d" % (i, pe_busy[i], p["fu_busy_cycles"]["mac"]))
    close(dma, c["dma"]["bytes"], 0, "DMA bytes")
    close(dram, c["dram"]["read_bytes"] + c["dram"]["write_bytes"], 0, "DRAM bytes")

    def integral(name, key):  # a sample holds until the next one (of its unit)
        s = sorted(samples[name], key=lambda e: e["ts"])
        tot = 0.0
        for a, b in zip(s, s[1:]):
            tot += a["args"][key] * (b["ts"] - a["ts"])
        return tot

    # GB/s x us = 1e3 bytes
    got = 1e3 * (integral("DRAM bandwidth (GB/s)", "read") + integral("DRAM bandwidth (GB/s)", "write"))
    close(got, c["dram"]["read_bytes"] + c["dram"]["write_bytes"], 2e-3, "DRAM bandwidth integral")
    # percent x us x GHz x 1e3 = percent x cycles
    got = integral("NoC link load (%)", "percent") / 100 * meta["noc_links"] * ghz * 1e3
    close(got, c["noc"]["flit_hops"], 2e-3, "NoC link load integral (flit-hops)")
    got = integral("SPM banks busy (%)", "percent") / 100 * meta["spm_bank_ports"] * ghz * 1e3
    close(got, c["spm"]["reads"] + c["spm"]["writes"], 2e-3, "SPM banks busy integral (words)")
    for name, s in samples.items():
        if len(s) > (max_slices + 1) * len(ops):
            fail("%s: %d samples for %d ops" % (name, len(s), len(ops)))
EOF
    echo "timeline $name: ok"
}

# a butterfly layer, in full detail and in 16 slices per track
check layer 500 0 0 -- mld-8x8 butterfly-linear-1k
check layer16 16 0 0 -- --timeline-slices 16 mld-8x8 butterfly-linear-1k
# clocks that are not whole nanoseconds (times are kept to the picosecond)
check clock 500 0 0 -- -s arch.clock_ghz=3 mld-8x8 butterfly-linear-64
check clock16 16 0 0 -- --timeline-slices 16 -s arch.clock_ghz=0.7 mld-4x4 butterfly-linear-1k
# a model with a fused group (pipeline stages on the PE tracks) and one op by op
check fused 500 0 0 -- -s workload.seq_len=64 -s workload.blocks.0.repeat=1 mld-8x8 fabnet-image-1k
check unfused 500 0 0 -- --no-fuse -s workload.seq_len=32 -s workload.blocks.0.repeat=1 \
    mld-4x4 bert-base-image-1k
grep -q '"name":"ffn1 stages' "$work/fused.tl.json" ||
    { echo "timeline: no PE slice names a pipeline stage of the fused group"; exit 1; }
check window 500 2000 6000 -- --trace-window 2000:6000 mld-8x8 butterfly-linear-1k
# a model whose op names repeat across blocks (slices capped per unit, not per name)
check blocks 64 0 0 -- --timeline-slices 64 -s workload.seq_len=64 -s workload.hidden=128 \
    -s workload.heads=2 -s workload.ffn=256 -s workload.blocks.0.repeat=1 \
    -s workload.blocks.1.repeat=1 mld-4x4 hybrid-butterfly-image-1k

# bad options: exit 2 with the option named
expect() { # STATUS MESSAGE BFLYSIM-ARGS...
    local want="$1" msg="$2" rc=0
    shift 2
    ./bflysim -q "$@" 2>"$work/err" >/dev/null || rc=$?
    [ "$rc" = "$want" ] && grep -qF -- "$msg" "$work/err" ||
        { echo "timeline: '$*' gave $rc: $(cat "$work/err"), wanted $want: $msg"; exit 1; }
}
expect 2 "--timeline-slices=8: expected a whole number from 16" --timeline "$work/x.json" \
    --timeline-slices 8 mld-8x8 butterfly-linear-64
expect 2 "--timeline-slices needs --timeline FILE" --timeline-slices 20 mld-8x8 butterfly-linear-64
expect 2 "--timeline needs --model=cycle" -m analytical --timeline "$work/x.json" mld-8x8 \
    butterfly-linear-64
[ ! -e "$work/x.json" ] || { echo "timeline: a refused run wrote its file"; exit 1; }

# SIGINT mid-run: the run stops (fewer ops than the model has), exits 130 and leaves a
# whole file that holds the run so far
./bflysim -q -m analytical --json "$work/all.json" mld-8x8 bert-base-text-4k
rc=0
timeout --preserve-status -s INT 0.5 ./bflysim -q --timeline "$work/int.json" mld-8x8 \
    bert-base-text-4k 2>/dev/null || rc=$?
[ "$rc" = 130 ] || { echo "timeline: SIGINT gave exit $rc, wanted 130"; exit 1; }
"$py" - "$work/int.json" "$work/all.json" <<'EOF'
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
units = [o for b in json.load(open(sys.argv[2]))["blocks"] for o in b["ops"] if o["cycles"]]
ops = [e for e in ev if e["ph"] == "X" and e["pid"] == 1]
if not 1 <= len(ops) < len(units):
    sys.exit("timeline: the interrupted run wrote %d ops of %d" % (len(ops), len(units)))
EOF
echo "timeline: interrupted run ok"
