#!/usr/bin/env bash
# tests/energy-tables.sh: the shipped tables arch/energy/NODE.cfg are exactly what
# scripts/energy-tables.py writes, so a reference figure or a factor changed in one place
# cannot leave the other behind.
set -euo pipefail
src="${BFLYSIM_SRCDIR:-.}"
command -v python3 >/dev/null || { echo "energy-tables: no python3; skipped"; exit 77; }
work="$(mktemp -d "${TMPDIR:-/tmp}/bflysim-energy-tables-XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/arch/energy"
(cd "$work" && python3 "$src/scripts/energy-tables.py")
diff -r "$src/arch/energy" "$work/arch/energy"
echo "energy-tables: the $(ls "$work/arch/energy" | wc -l) tables match the script"
