#!/usr/bin/env bash
# tests/accelergy.sh: --accelergy writes what Accelergy 0.4 reads (docs/ENERGY.md): action
# counts of whole actions under a proper hierarchy of names, DRAM reads and writes apart,
# leakage as `leak`, and an ERT whose per-action energies re-price the counts to the total
# energy of --json. Runs a cycle-level butterfly and a closed-form model on mld-4x4.
set -euo pipefail
src="${BFLYSIM_SRCDIR:-.}"
py=/usr/bin/python3 # Debian's, with python3-yaml (scripts/setup.sh installs both)
if ! [ -x "$py" ] || ! "$py" -c 'import yaml' 2>/dev/null; then
    echo "accelergy: no $py with PyYAML (python3-yaml); skipped"
    exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/bflysim-accelergy-XXXXXX")"
trap 'rm -rf "$work"' EXIT

check() { # NAME BFLYSIM-ARGS...
    local name="$1"
    shift
    ./bflysim -q --json "$work/$name.json" --accelergy "$work/$name.yaml" "$@"
    "$py" - "$work/$name.yaml" "$work/$name.json" "$name" <<'EOF'
import json, re, sys
import yaml

doc = yaml.safe_load(open(sys.argv[1]))
run = json.load(open(sys.argv[2]))
name = sys.argv[3]
energy, counters = run["energy"], run["counters"]


def fail(msg):
    sys.exit(f"accelergy: {name}: {msg}")


def close(got, want, what):
    if abs(got - want) > 1e-3 * abs(want):
        fail(f"{what}: {got} pJ, bflysim says {want}")


if set(doc) != {"action_counts", "ERT"}:
    fail(f"top-level keys {sorted(doc)}")
counts, ert = doc["action_counts"], doc["ERT"]
if str(counts.get("version")) != "0.4" or str(ert.get("version")) != "0.4":
    fail("not version 0.4")

# (component, action) -> count, and -> energy of one action
count, price = {}, {}
for comp in counts["local"]:
    for a in comp["action_counts"]:
        c = a["counts"]
        if type(c) is not int or c < 0:
            fail(f"{comp['name']} {a['name']}: count {c!r} is not a non-negative integer")
        if (comp["name"], a["name"]) in count:
            fail(f"{comp['name']} {a['name']} counted twice")
        count[comp["name"], a["name"]] = c
for table in ert["tables"]:
    for a in table["actions"]:
        e = a["energy"]
        if type(e) not in (int, float) or e < 0:
            fail(f"{table['name']} {a['name']}: energy {e!r}")
        price[table["name"], a["name"]] = e
if set(count) != set(price):
    fail(f"counted but not priced, or priced but not counted: {set(count) ^ set(price)}")


def base(n):  # the name without its instance ranges
    return re.sub(r"\[[^]]*\]", "", n)


# a name is a leaf or a parent, never both, also with the instance ranges removed
names = {c for c, _ in count}
for names_ in (names, {base(n) for n in names}):
    for n in names_:
        for m in names_:
            if m.startswith(n + "."):
                fail(f"{n} is a leaf and a parent of {m}")
if any(a == "idle" for _, a in count):
    fail("an idle action: Accelergy prices leakage as leak")


def one(base_name, action):
    hits = [k for k in count if base(k[0]) == base_name and k[1] == action]
    if len(hits) != 1:
        fail(f"{len(hits)} {base_name} {action} actions, not 1")
    return count[hits[0]], price[hits[0]]


# one count is one action of its class
lanes = run["arch"]["lanes"]
pe = counters["pe_total"]
for unit, ops in pe["fu_vector_ops"].items():
    if one(f"system.chip.pe_array.pe.{unit}", unit)[0] != ops * lanes:
        fail(f"{unit}: not one count a lane operation")
buf = pe["buffer_reads"], pe["buffer_writes"] + pe["weight_elems"]
if (one("system.chip.pe_array.pe.buffer", "read")[0],
        one("system.chip.pe_array.pe.buffer", "write")[0]) != buf:
    fail("buffer reads and writes are not element accesses")
spm = counters["spm"]
if (one("system.chip.spm.bank", "read")[0], one("system.chip.spm.bank", "write")[0]) != (
    spm["reads"],
    spm["writes"],
):
    fail("SPM reads and writes are not bank accesses")
noc = counters["noc"]
if one("system.chip.noc.router", "transfer")[0] != noc["router_traversals"]:
    fail("router transfers are not flits through a router")
if one("system.chip.noc.link", "transfer")[0] != noc["flit_hops"]:
    fail("link transfers are not flit-hops")
elem = {"fp16": 2, "fp32": 4}[run["workload"]["dtype"]]
if abs(one("system.chip.dma", "transfer")[0] * elem - counters["dma"]["bytes"]) >= elem:
    fail("DMA transfers are not elements moved")
rd, wr = one("system.dram", "read"), one("system.dram", "write")
if run["results"]["mode"] == "cycle" and (rd[0], wr[0]) != (
    counters["dram"]["read_bursts"],
    counters["dram"]["write_bursts"],
):
    fail(f"DRAM reads {rd[0]} and writes {wr[0]} are not the run's bursts")

# re-priced: the leakage, the DRAM and the whole
leak = [count[k] * price[k] for k in count if k[1] == "leak"]
if not leak:
    fail("no leak action")
parts = energy["breakdown_pj"]
close(sum(leak), parts["leakage"], "leak actions")
close(rd[0] * rd[1] + wr[0] * wr[1], parts["DRAM"], "DRAM reads and writes")
total = sum(count[k] * price[k] for k in count)
close(total, energy["total_pj"], "re-priced total")
err = (total - energy["total_pj"]) / energy["total_pj"]
print(f"accelergy: {name}: {len(count)} actions re-price to {total:.6g} pJ, "
      f"{err:+.1e} of bflysim's {energy['total_pj']:.6g}")
EOF
}

check butterfly "$src/arch/mld-4x4.cfg" "$src/workloads/butterfly-linear-64.cfg"
check vit --model analytical "$src/arch/mld-4x4.cfg" "$src/workloads/vit-b16-image-1k.cfg"
