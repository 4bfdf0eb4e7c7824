#!/usr/bin/env bash
# tests/layers.sh: checks that each sim/ folder includes only the folders below it
# (docs/ARCHITECTURE.md, "Layers"), and that engine internals stay inside the engine.
set -euo pipefail
src="${BFLYSIM_SRCDIR:-.}/sim"
declare -A allowed=(
    [util]=""
    [arch]="util"
    [workload]="util"
    [ref]="util"
    [config]="system gpu peer mapper arch workload util"
    [engine]="arch util"
    [mapper]="engine arch workload util"
    [run]="energy mapper engine ref arch workload util"
    [energy]="engine arch util"
    [gpu]="workload util"
    [peer]="arch workload util"
    [report]="system gpu peer energy run mapper engine ref arch workload util"
    [system]="gpu energy run mapper engine ref arch workload util"
    [systemc]="config mapper engine ref arch workload util"
    [cli]="config report system systemc gpu peer energy run mapper engine ref arch workload util"
)
status=0
for dir in "$src"/*/; do
    mod="$(basename "$dir")"
    if [ -z "${allowed[$mod]+set}" ]; then
        echo "layers: sim/$mod is not in the layer table of tests/layers.sh" >&2
        status=1
        continue
    fi
    for f in "$dir"*.[ch] "$dir"*.[ch]pp; do
        [ -e "$f" ] || continue
        while IFS= read -r inc; do
            target="${inc#../}"
            target="${target%%/*}"
            case " ${allowed[$mod]} " in
            *" $target "*) ;;
            *)
                echo "layers: $f includes sim/$target, which sim/$mod may not use" >&2
                status=1
                ;;
            esac
        done < <(sed -n 's/^#include "\(\.\.\/[a-z]*\/[a-z_]*\.h\)".*/\1/p' "$f")
        if [ "$mod" != engine ] && grep -q '#include "../engine/internal.h"' "$f"; then
            echo "layers: $f includes engine internals" >&2
            status=1
        fi
    done
done
[ $status -eq 0 ] && echo "layers: every include follows the layer order"
exit $status
