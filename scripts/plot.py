#!/usr/bin/python3
"""plot.py: bflysim's outputs as PNG figures drawn by gnuplot (run through scripts/plot.sh).

Run JSON (--json): the energy breakdown, each op's cycles beside its bounds, and a
roofline of the ops. Timeline (--timeline): MAC utilization over time per pipeline stage,
with DRAM bandwidth and NoC load. Event trace (--trace): MAC utilization over time per op,
with DRAM bandwidth. CSV (--csv rows of a sweep): a y column against an x column, one
curve per value of a series column, or (--pareto) the Pareto-optimal rows over two or
three columns. Standard library only, so Debian's python3 runs it.
"""
import argparse
import csv
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict

BINS = 300  # time bins of the utilization figures
TOP_STAGES = 10  # stages drawn one by one; the rest together
SIZE = (1000, 600)  # pixels

UNITS = {  # CSV columns: how an axis names their unit
    "cycles": "cycles", "time_us": "µs", "energy_pj": "pJ", "average_power_w": "W",
    "gops_per_w": "GOPS/W", "speedup": "x", "energy_efficiency": "x", "utilization": "share",
    "seq_len": "tokens", "hidden": "features", "ffn": "features", "clock_ghz": "GHz",
    "useful_ops": "lane ops", "flops": "flop", "baseline_s": "s", "baseline_j": "J",
    "gpu_cpu_s": "s", "gpu_cpu_j": "J", "compute_bound_cycles": "cycles",
    "dram_bound_cycles": "cycles", "dram_read_bytes": "bytes", "dram_write_bytes": "bytes",
    "array_rows": "PEs", "array_cols": "PEs", "lanes": "lanes", "batch": "sequences",
    "n": "elements", "rows": "vectors", "dense_flops": "flop", "flop_reduction": "x",
    "area_mm2": "mm²", "gops_per_mm2": "GOPS/mm²",
}


class Usage(Exception):
    """A bad input or option: exit status 2."""


def fail(msg):
    raise Usage(msg)


def quote(s):
    """A gnuplot string literal."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Plotter:
    def __init__(self, outdir, work, terminal):
        self.outdir, self.work, self.terminal = outdir, work, terminal
        self.written = []
        self.n = 0

    def data(self, rows):
        """Writes rows (lists of values) to a data file; returns its path."""
        self.n += 1
        path = os.path.join(self.work, "d%d.dat" % self.n)
        with open(path, "w") as f:
            for r in rows:
                if r is None:
                    f.write("\n\n")  # a new data set (index)
                else:
                    f.write(" ".join(quote(v) if isinstance(v, str) else repr(float(v))
                                     for v in r) + "\n")
        return path

    def draw(self, name, script):
        out = os.path.join(self.outdir, name + ".png")
        tmp = os.path.join(self.work, name + ".png")
        head = ("set terminal %s size %d,%d font 'sans,11'\nset output %s\n"
                "set encoding utf8\nset termoption noenhanced\nset grid\n"
                "set format x '%%g'\nset format y '%%g'\nset key outside right top\n"
                % (self.terminal, SIZE[0], SIZE[1], quote(tmp)))
        gp = os.path.join(self.work, name + ".gp")
        with open(gp, "w") as f:
            f.write(head + script + "\nunset output\n")
        r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
        if r.returncode or not os.path.exists(tmp):
            sys.exit("plot.sh: gnuplot failed on %s:\n%s" % (name, r.stderr))
        shutil.move(tmp, out)  # (whole or absent)
        self.written.append(out)


# ---------------------------------------------------------------- run JSON

def number(v):
    """A figure as a label says it: whole with separators from 100 on."""
    return "{:,.0f}".format(v) if abs(v) >= 100 else "{:.3g}".format(v)


def run_title(run):
    return "%s on %s" % (run["workload"]["name"], run["arch"]["name"])


def plot_energy(p, stem, run):
    e = run.get("energy", {})
    if not e.get("priced"):
        return
    parts = [(k, v / 1e6) for k, v in e["breakdown_pj"].items()]
    d = p.data([[i, k, v, number(v)] for i, (k, v) in enumerate(parts)])
    p.draw(stem + "-energy", """
set title %s
set ylabel "energy (µJ)"
set xlabel "component"
set style fill solid 0.8 border -1
set boxwidth 0.7
set yrange [0:*]
unset key
plot %s using 1:3:xtic(2) with boxes lc rgb "#4477aa", '' using 1:3:4 with labels offset 0,0.8 notitle
""" % (quote("Energy: %s, %s µJ in all (%s)" % (run_title(run), number(e["total_pj"] / 1e6),
                                                  e["table"])),
       quote(d)))


def units_of(run):
    """The run's units (ops, chains, fused groups) with their figures."""
    blocks = run.get("blocks")
    if not blocks:
        r, c = run["results"], run["counters"]
        return [{"name": "butterfly-linear", "cycles": r["cycles"], "useful_ops": r["useful_ops"],
                 "compute_bound_cycles": r["compute_bound_cycles"],
                 "dram_bound_cycles": r["dram_bound_cycles"],
                 "dram_bytes": c["dram"]["read_bytes"] + c["dram"]["write_bytes"]}]
    out = []
    for b, blk in enumerate(blocks):
        for o in blk["ops"]:
            if o["cycles"]:
                u = dict(o)
                u["name"] = ("b%d " % b if len(blocks) > 1 else "") + o["name"]
                u["dram_bytes"] = o["dram_read_bytes"] + o["dram_write_bytes"]
                out.append(u)
    return out


def plot_ops(p, stem, run):
    units = units_of(run)
    rows = [[i, u["name"], u["cycles"], max(u["compute_bound_cycles"], 1),
             max(u["dram_bound_cycles"], 1)] for i, u in enumerate(units)]
    d = p.data(rows)
    p.draw(stem + "-ops", """
set title %s
set ylabel "cycles (log scale)"
set xlabel "op (a fused group or chain under its first op)"
set logscale y
set key inside top left opaque
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -35
set yrange [1:*]
plot %s using 3:xtic(2) title "simulated" lc rgb "#4477aa", \
     '' using 4 title "compute bound (lane ops / PE lanes)" lc rgb "#66ccee", \
     '' using 5 title "DRAM bound (bytes / bandwidth)" lc rgb "#ee6677"
""" % (quote("Cycles per op and their bounds: " + run_title(run)), quote(d)))


def plot_roofline(p, stem, run):
    a = run["arch"]
    ghz, bw = a["clock_ghz"], a.get("dram_bandwidth_gbs")
    if not bw:
        return
    peak = a["rows"] * a["cols"] * a["lanes"] * ghz  # G lane ops per second
    pts = []
    for u in units_of(run):
        if u["dram_bytes"] and u["cycles"] and u["useful_ops"]:
            ai = u["useful_ops"] / u["dram_bytes"]
            pts.append([ai, u["useful_ops"] / u["cycles"] * ghz, u["name"]])
    if not pts:
        return
    d = p.data(pts)
    lo = min(x[0] for x in pts) / 4
    hi = max(max(x[0] for x in pts) * 4, 4 * peak / bw)
    p.draw(stem + "-roofline", """
set title %s
set xlabel "operational intensity (useful lane ops per DRAM byte, log scale)"
set ylabel "performance (G lane ops/s, log scale)"
set logscale xy
set key inside top left opaque
set xrange [%r:%r]
set yrange [*:%r]
peak = %r
bw = %r
roof(x) = (bw * x < peak) ? bw * x : peak
set samples 400
plot roof(x) title sprintf("roof: %%.4g G lane ops/s, %%.4g GB/s", peak, bw) lw 2 lc rgb "#222222", \
     %s using 1:2 with points pt 7 ps 1.3 lc rgb "#4477aa" title "ops (simulated)", \
     '' using 1:2:3 with labels offset 0.8,0.6 left font ',9' notitle
""" % (quote("Roofline: " + run_title(run)), lo, hi, peak * 2, peak, bw, quote(d)))


# ---------------------------------------------------------------- timeline

def spread(bins, width, t0, t1, amount):
    """Adds amount over [t0, t1) to the bins it overlaps, in proportion."""
    if t1 <= t0:
        b = min(int(t0 / width), len(bins) - 1)
        bins[b] += amount
        return
    b0, b1 = int(t0 / width), min(int((t1 - 1e-12) / width), len(bins) - 1)
    for b in range(b0, b1 + 1):
        lo, hi = max(t0, b * width), min(t1, (b + 1) * width)
        bins[b] += amount * (hi - lo) / (t1 - t0)


def plot_timeline(p, stem, tl):
    ghz = tl["otherData"]["clock_ghz"]
    ev = tl["traceEvents"]
    pe = [e for e in ev if e["ph"] == "X" and e["pid"] == 2]
    ops = [e for e in ev if e["ph"] == "X" and e["pid"] == 1]
    if not ops:
        fail("%s: a timeline without ops" % stem)
    end = max(e["ts"] + e["dur"] for e in ops)
    width = end / BINS if end > 0 else 1
    if not pe:
        fail("%s: no PE slices to draw (a --trace-window that holds no firing?)" % stem)
    busy = defaultdict(float)
    for e in pe:
        busy[e["name"]] += e["args"]["mac_busy_cycles"]
    top = sorted(busy, key=lambda k: -busy[k])[:TOP_STAGES]
    # the rest together, op by op (so that a share is of PEs that work at the same time)
    series = defaultdict(lambda: [0.0] * BINS)
    pes = defaultdict(set)
    names = list(top)
    for e in pe:
        k = e["name"] if e["name"] in top else "other stages of " + e["args"]["op"]
        if k not in names:
            names.append(k)
        spread(series[k], width, e["ts"], e["ts"] + e["dur"], e["args"]["mac_busy_cycles"])
        pes[k].add(e["tid"])
    rows = []
    for k in names:
        cap = len(pes[k]) * width * 1e3 * ghz  # PE-cycles per bin
        rows += [[(b + 0.5) * width, series[k][b] / cap] for b in range(BINS)] + [None]
    d = p.data(rows)
    counters = defaultdict(list)
    for e in ev:
        if e["ph"] == "C":
            counters[e["name"]].append(e)
    def binned(name, key):  # a sample holds until the next: its average over each bin
        s = sorted(counters.get(name, []), key=lambda e: e["ts"])
        acc = [0.0] * BINS
        for a, b in zip(s, s[1:]):
            spread(acc, width, a["ts"], b["ts"], a["args"][key] * (b["ts"] - a["ts"]))
        return [[(i + 0.5) * width, acc[i] / width] for i in range(BINS)] + [None]
    dram = p.data(binned("DRAM bandwidth (GB/s)", "read") + binned("DRAM bandwidth (GB/s)", "write")
                  + binned("NoC link load (%)", "percent"))
    plots = ", ".join("%s index %d using 1:2 with lines lw 1.5 dt %d title %s"
                      % (quote(d) if i == 0 else "''", i, 1 + i // 8,
                         quote("%s (%d PEs)" % (k, len(pes[k])))) for i, k in enumerate(names))
    op_marks = "\n".join("set arrow from %r, graph 0 to %r, graph 1 nohead dt 3 lc rgb '#999999'"
                         % (o["ts"], o["ts"]) for o in ops[1:] if len(ops) <= 40)
    p.draw(stem + "-stages", """
set multiplot layout 2,1
set lmargin at screen 0.08
set rmargin at screen 0.62
set title %s
set key outside right top font ',9' spacing 0.8 samplen 2 maxcols 1
set ylabel "MAC busy (share of the stage's PEs)"
set xlabel "time (µs)"
set yrange [0:1.05]
set xrange [0:%r]
%s
plot %s
unset arrow
set title "Memory and network"
set ylabel "DRAM bandwidth (GB/s)"
set y2label "NoC link load (%%)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
plot %s index 0 using 1:2 with lines lc rgb "#4477aa" title "DRAM read", \
     '' index 1 using 1:2 with lines lc rgb "#ee6677" title "DRAM write", \
     '' index 2 using 1:2 axes x1y2 with lines lc rgb "#228833" title "NoC link load"
unset multiplot
""" % (quote("Utilization over time per stage (dotted: op boundaries): " + stem), end, op_marks,
       plots, quote(dram)))


# ---------------------------------------------------------------- event trace

def plot_trace(p, stem, path):
    rows = []
    pes, end = set(), 0
    with gzip.open(path, "rt") as f:
        first = f.readline()
        if not first.startswith("# bflysim trace"):
            fail("%s: not a bflysim event trace (no '# bflysim trace' line)" % path)
        for r in csv.DictReader(f):
            c, dur = int(r["cycle"]), int(r["duration"])
            end = max(end, c + max(dur, 1))
            if r["kind"] in ("pe", "dram"):
                rows.append((r["kind"], r["op"], c, dur, int(r["amount"])))
                if r["kind"] == "pe":
                    pes.add(r["component"])
    if not pes:
        fail("%s: no pe rows (trace with --trace-events including pe)" % path)
    width = end / BINS
    per_op, dram = defaultdict(lambda: [0.0] * BINS), [0.0] * BINS
    order = []
    for kind, op, c, dur, amount in rows:
        if kind == "pe":
            if op not in per_op:
                order.append(op)
            spread(per_op[op], width, c, c + dur, amount)
        else:
            spread(dram, width, c, c + dur, amount)
    data = []
    for op in order:
        data += [[(b + 0.5) * width, per_op[op][b] / (len(pes) * width)] for b in range(BINS)]
        data.append(None)
    d = p.data(data)
    dd = p.data([[(b + 0.5) * width, dram[b] / width] for b in range(BINS)])
    plots = ", ".join("%s index %d using 1:2 with lines lw 1.5 title %s"
                      % (quote(d) if i == 0 else "''", i, quote(op)) for i, op in enumerate(order))
    p.draw(stem + "-utilization", """
set multiplot layout 2,1
set lmargin at screen 0.08
set rmargin at screen 0.80
set title %s
set ylabel "MAC busy (share of the %d PEs that fired)"
set xlabel "cycle (from the run's start)"
set yrange [0:1.05]
set xrange [0:%r]
plot %s
set title "DRAM"
set ylabel "DRAM traffic (bytes/cycle)"
set yrange [0:*]
plot %s using 1:2 with lines lc rgb "#ee6677" title "read + write"
unset multiplot
""" % (quote("Utilization over time per op: " + stem), len(pes), end, plots, quote(dd)))


# ---------------------------------------------------------------- sweep CSV

def axis_label(col, given):
    if given:
        return given
    unit = UNITS.get(col)
    return "%s (%s)" % (col, unit) if unit and unit != col else col


def plot_sweep(p, stem, path, opt):
    if not opt.x or not opt.y:
        fail("%s: a CSV needs --x COLUMN and --y COLUMN (and --series COLUMN for one curve per "
             "value)" % path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        fail("%s: no rows" % path)
    cols = list(rows[0].keys())
    for what, c in (("--x", opt.x), ("--y", opt.y), ("--series", opt.series)):
        if c and c not in cols:
            fail("%s: %s %s: no such column (columns: %s)" % (path, what, c, ", ".join(cols)))
    curves = defaultdict(list)
    for i, r in enumerate(rows):
        try:
            x, y = float(r[opt.x]), float(r[opt.y])
        except ValueError:
            fail("%s:%d: %s=%r, %s=%r: not numbers" % (path, i + 2, opt.x, r[opt.x], opt.y, r[opt.y]))
        curves[r[opt.series] if opt.series else opt.y].append((x, y))
    keys = sorted(curves, key=lambda k: (len(k), k))
    data = []
    for k in keys:
        data += [list(v) for v in sorted(curves[k])] + [None]
    d = p.data(data)
    plots = ", ".join("%s index %d using 1:2 with linespoints lw 1.5 pt 7 title %s"
                      % (quote(d) if i == 0 else "''", i,
                         quote("%s = %s" % (opt.series, k) if opt.series else k))
                      for i, k in enumerate(keys))
    logs = ("set logscale x\n" if opt.logx else "") + ("set logscale y\n" if opt.logy else "")
    p.draw(stem + "-sweep", """
set title %s
set xlabel %s
set ylabel %s
%s
plot %s
""" % (quote("%s against %s: %s" % (opt.y, opt.x, os.path.basename(path))),
       quote(axis_label(opt.x, opt.xlabel) + (" (log scale)" if opt.logx else "")),
       quote(axis_label(opt.y, opt.ylabel) + (" (log scale)" if opt.logy else "")), logs, plots))


# ---------------------------------------------------------------- Pareto

def pareto_front(points):
    """Indices of the points no other point dominates (every objective minimised: at least
    as good in all, better in one)."""
    front = []
    for i, a in enumerate(points):
        if not any(all(b[k] <= a[k] for k in range(len(a))) and b != a for b in points):
            front.append(i)
    return front


def plot_pareto(p, stem, path, opt):
    cols, signs = [], []
    for c in opt.pareto.split(","):
        name, _, how = c.partition(":")
        if how not in ("", "min", "max"):
            fail("--pareto %s: say COLUMN, COLUMN:min or COLUMN:max" % c)
        cols.append(name)
        signs.append(-1.0 if how == "max" else 1.0)
    if not 2 <= len(cols) <= 3:
        fail("--pareto takes two or three columns (COL,COL[,COL])")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        header = reader.fieldnames or []
    for c in cols:
        if c not in header:
            fail("%s: --pareto %s: no such column (columns: %s)" % (path, c, ", ".join(header)))
    good, pts = [], []
    for i, r in enumerate(rows):
        if r.get("status", "0") != "0":  # (a sweep's failed point)
            continue
        try:
            v = [float(r[c]) for c in cols]
        except ValueError:
            fail("%s:%d: %s: not numbers" % (path, i + 2, ", ".join("%s=%r" % (c, r[c]) for c in cols)))
        good.append(r)
        pts.append([s * x for s, x in zip(signs, v)])
    if not good:
        fail("%s: no rows to compare" % path)
    front = set(pareto_front(pts))
    out = os.path.join(p.outdir, stem + "-pareto.csv")
    with open(out + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["pareto"] + header, lineterminator="\n")
        w.writeheader()
        for i, r in enumerate(good):
            w.writerow(dict(r, pareto="yes" if i in front else "no"))
    os.replace(out + ".tmp", out)
    p.written.append(out)
    raw = [[float(r[c]) for c in cols] for r in good]
    best = sorted(raw[i] for i in front)
    z = len(cols) == 3
    d_all, d_best = p.data(raw), p.data(best)
    using = "1:2:3" if z else "1:2"
    style = "points pt 7 ps 1.2 palette" if z else "points pt 7 ps 1 lc rgb '#9a9a9a'"
    front_style = ("points pt 6 ps 2.2 lw 2 lc rgb 'black'" if z
                   else "linespoints pt 7 ps 1.6 lw 2 lc rgb '#c0392b'")
    # (an axis spanning more than 20x is drawn on a log scale, so both ends stay readable)
    logs, labels = "", []
    for axis, k in (("x", 0), ("y", 1)):
        lo, hi = min(v[k] for v in raw), max(v[k] for v in raw)
        log = lo > 0 and hi / lo > 20
        logs += "set logscale %s\n" % axis if log else ""
        labels.append(axis_label(cols[k], opt.xlabel if k == 0 else opt.ylabel) +
                      (" (log scale)" if log else ""))
    p.draw(stem + "-pareto", """
set title %s
set xlabel %s
set ylabel %s
set xtics rotate by -30
%s%s
plot %s using %s with %s title %s, %s using 1:2 with %s title %s
""" % (quote("Pareto front of %s: %s" % (", ".join(opt.pareto.split(",")), os.path.basename(path))),
       quote(labels[0]), quote(labels[1]), logs,
       ("set cblabel %s" % quote(axis_label(cols[2], None))) if z else "",
       quote(d_all), using, style, quote("all points"),
       quote(d_best), front_style, quote("Pareto-optimal (%d of %d)" % (len(front), len(good)))))


# ---------------------------------------------------------------- main

def stem_of(path):
    b = os.path.basename(path)
    for ext in (".csv.gz", ".json", ".csv"):
        if b.endswith(ext):
            return b[: -len(ext)]
    return b


def plot_file(p, path, opt):
    stem = stem_of(path)
    if path.endswith(".gz"):
        plot_trace(p, stem, path)
        return
    with open(path, "rb") as f:
        head = f.read(1).decode("latin-1")
    if head == "{":
        try:
            doc = json.load(open(path))
        except ValueError as e:
            fail("%s: not valid JSON (%s)" % (path, e))
        if "traceEvents" in doc:
            plot_timeline(p, stem, doc)
        elif "results" in doc and "arch" in doc and "counters" in doc:
            plot_energy(p, stem, doc)
            plot_ops(p, stem, doc)
            plot_roofline(p, stem, doc)
        else:
            fail("%s: a JSON file that is neither bflysim's --json of one array nor its "
                 "--timeline (system runs are not drawn)" % path)
    elif opt.pareto:
        plot_pareto(p, stem, path, opt)
    else:
        plot_sweep(p, stem, path, opt)


def main():
    ap = argparse.ArgumentParser(
        prog="plot.sh", description="Draws bflysim's outputs as PNG figures with gnuplot.")
    ap.add_argument("-o", dest="outdir", default=".", help="where the PNGs go (default: .)")
    ap.add_argument("--x", help="a CSV's x column")
    ap.add_argument("--y", help="a CSV's y column")
    ap.add_argument("--series", help="a CSV's column whose values make one curve each")
    ap.add_argument("--xlabel", help="the x axis label (default: the column and its unit)")
    ap.add_argument("--ylabel", help="the y axis label")
    ap.add_argument("--logx", action="store_true", help="log-scale x")
    ap.add_argument("--logy", action="store_true", help="log-scale y")
    ap.add_argument("--pareto", metavar="COL,COL[,COL]",
                    help="a CSV's Pareto-optimal rows over two or three columns (each "
                         "minimised; COL:max to maximise): a figure and FILE-pareto.csv")
    ap.add_argument("files", nargs="+", metavar="FILE",
                    help="--json, --timeline, --trace (.csv.gz) or --csv outputs")
    opt = ap.parse_args()
    if not shutil.which("gnuplot"):
        sys.stderr.write("plot.sh: gnuplot not found (Debian: apt-get install gnuplot-nox; "
                         "scripts/setup.sh installs it)\n")
        return 2
    try:
        for path in opt.files:
            if not os.path.isfile(path):
                fail("%s: no such file" % path)
        os.makedirs(opt.outdir, exist_ok=True)
        probe = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], capture_output=True)
        terminal = "pngcairo" if probe.returncode == 0 and not probe.stderr else "png"
        with tempfile.TemporaryDirectory(prefix="bflysim-plot-") as work:
            p = Plotter(opt.outdir, work, terminal)
            for path in opt.files:
                plot_file(p, path, opt)
    except Usage as e:
        sys.stderr.write("plot.sh: %s\n" % e)
        return 2
    for w in p.written:
        print(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
