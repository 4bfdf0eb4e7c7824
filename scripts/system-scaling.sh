#!/usr/bin/env bash
# scripts/system-scaling.sh: one model on 1, 2, 4, 8 and 16 arrays of a system preset
# (--model analytical unless --cycle), as a table: time, speedup over one device,
# parallel efficiency, K/V all-gather time and what of it attention did not hide, the
# system's energy, its links' share, and the energy over one device's.
# Usage: scripts/system-scaling.sh [--cycle] [--seq N | --kv N] [--gbs G] [SYSTEM [WORKLOAD]]
#   defaults: mld-8x8-ring4 bert-base-text-4k at 16384 tokens (docs/SYSTEM.md); --kv
#   sets a decode step's cache instead (e.g. --kv 8191 mld-8x8-ring8 bert-base-decode-8k)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=analytical seq=16384 kv="" gbs=""
while [ $# -gt 0 ]; do
    case "$1" in
    --cycle) mode=cycle; shift ;;
    --seq) seq="$2"; shift 2 ;;
    --kv) kv="$2"; shift 2 ;;
    --gbs) gbs="$2"; shift 2 ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "system-scaling: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
system="${1:-mld-8x8-ring4}" workload="${2:-bert-base-text-4k}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
extra=()
[ -n "$gbs" ] && extra=(--set "system.link.bandwidth_gbs=$gbs")
if [ -n "$kv" ]; then
    extra+=(--set "workload.kv_len=$kv")
else
    extra+=(--set "workload.seq_len=$seq")
fi
printf '%-8s %12s %9s %11s %12s %14s %11s %9s %8s\n' devices time_ms speedup efficiency comm_ms \
    exposed_ms energy_mJ link_mJ vs_one
for p in 1 2 4 8 16; do
    ./bflysim -q --model "$mode" --json "$tmp/r.json" --set "system.devices=$p" \
        ${extra[@]+"${extra[@]}"} "$system" "$workload"
    /usr/bin/python3 - "$tmp/r.json" "$p" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
energy = ("%11.1f %9.2f %8.3f" % (r["energy_j"] * 1e3, r["link_energy_j"] * 1e3,
          r["energy_j"] / r["single_device_energy_j"])) if r["has_energy"] else "%11s %9s %8s" % ("-", "-", "-")
print("%-8s %12.1f %9.3f %10.1f%% %12.2f %14.2f %s" % (sys.argv[2], r["total_s"] * 1e3,
      r["speedup"], 100 * r["efficiency"], r["comm_s"] * 1e3, r["exposed_comm_s"] * 1e3, energy))
PY
done
