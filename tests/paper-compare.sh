#!/usr/bin/env bash
# tests/paper-compare.sh: scripts/paper-compare.sh --quick gives a table of the right shape
# whose figures are sane: positive, finite, the average the mean of the rows, the maximum
# their largest, and the paper's figures printed beside them; in the closed-form mode and
# at cycle level. Inputs that leave nothing to compare (no baseline, an arch without an
# energy table) are errors.
set -euo pipefail
src="${BFLYSIM_SRCDIR:-.}"
export BFLYSIM="$PWD/bflysim"
fail() { echo "paper-compare: $*" >&2; exit 1; }

# refused: exit 2 with the reason on stderr, nothing on stdout, and after one run at
# most (bflysim counts its runs in BFLYSIM_RUNS)
refused() { # PHRASE ARGS...
    local phrase="$1" out rc=0
    shift
    : >"$runs"
    out="$(BFLYSIM="$counting" "$src/scripts/paper-compare.sh" --quick "$@" 2>"$errs")" || rc=$?
    [ "$rc" = 2 ] || fail "$* exited $rc, not 2"
    grep -q -- "$phrase" "$errs" || fail "$* did not say '$phrase': $(cat "$errs")"
    [ -z "$out" ] || fail "$* printed to stdout: $out"
    [ "$(wc -l <"$runs")" -le 1 ] || fail "$* ran bflysim $(wc -l <"$runs") times before refusing"
}
work="$(mktemp -d "${TMPDIR:-/tmp}/bflysim-paper-compare-XXXXXX")"
trap 'rm -rf "$work"' EXIT
runs="$work/runs" errs="$work/errs" counting="$work/bflysim" no_table="$work/no-table.cfg"
printf '#!/usr/bin/env bash\necho run >>"%s"\nexec "%s" "$@"\n' "$runs" "$BFLYSIM" >"$counting"
chmod +x "$counting"
refused "--baseline none leaves nothing to compare with" --baseline none
sed '/^energy = {/,/^};/d' "$src/arch/mld-8x8.cfg" >"$no_table"
grep -q '^energy' "$no_table" && fail "could not strip the energy group from mld-8x8.cfg"
refused "has no energy table" --arch "$no_table"

for mode in analytical cycle; do
    out="$("$src/scripts/paper-compare.sh" --quick --model "$mode")"
    echo "$out"
    main="$(sed -n '1,/^| \*\*maximum/p' <<<"$out")" # (the first table)
    rows="$(grep -c '^| \(hybrid-butterfly\|fabnet\)-' <<<"$main")"
    [ "$rows" = 10 ] || fail "expected 10 workload rows (2 models x 5 LRA tasks), got $rows"
    grep -q '^| \*\*average\*\* (10 workloads) |' <<<"$out" || fail "no average row"
    grep -q '^| \*\*maximum\*\* |' <<<"$out" || fail "no maximum row"
    grep -q 'up to 14.34x, 9.29x on average | 11.14x' <<<"$out" || fail "the paper's figures are missing"
    # columns 4, 5, 7, 8, 9, 10 of a row: speedup, energy efficiency, the GPU+CPU pair, and
    # the like-for-like energy efficiency, never above the plain one (the floor only adds
    # to the accelerator's energy)
    awk -F'|' '
    function num(s) { gsub(/[ x*]/, "", s); return s + 0 }
    /^\| (hybrid-butterfly|fabnet)-/ {
        n++
        if (!(num($10) <= num($6))) { printf "row %d: like for like %s above %s\n", n, $10, $6; bad = 1 }
        for (c = 3; c <= 10; c++) {
            v = num($c)
            if (!(v > 0) || v > 1e6) { printf "row %d column %d is not a positive finite number: %s\n", n, c, $c; bad = 1 }
        }
        # the accelerator time over the GPU time is the speedup (2-decimal rounding allowed)
        if (num($4) / num($3) - num($5) > 0.006 + 0.002 * num($5) || num($5) - num($4) / num($3) > 0.006 + 0.002 * num($5)) {
            printf "row %d: GPU ms / accelerator ms = %g, speedup column %s\n", n, num($4) / num($3), $5; bad = 1
        }
        for (c = 5; c <= 10; c++) { if (c == 7) continue; sum[c] += num($c); if (num($c) > max[c]) max[c] = num($c) }
    }
    /^\| \*\*average/ { for (c = 5; c <= 10; c++) if (c != 7) avg[c] = num($c) }
    /^\| \*\*maximum/ { for (c = 5; c <= 10; c++) if (c != 7) mx[c] = num($c) }
    END {
        for (c = 5; c <= 10; c++) {
            if (c == 7) continue
            if ((avg[c] - sum[c] / n) ^ 2 > (0.011) ^ 2) { printf "column %d: average %g, mean of rows %g\n", c, avg[c], sum[c] / n; bad = 1 }
            if ((mx[c] - max[c]) ^ 2 > 1e-6) { printf "column %d: maximum %g, largest row %g\n", c, mx[c], max[c]; bad = 1 }
        }
        exit bad
    }' <<<"$main" || fail "the table is inconsistent"
    grep -q "($mode mode, sequences at 1/8 length)" <<<"$out" || fail "the title does not say $mode mode"
    # the GPU-kernel table: five kernel choices; the default's figures are the main table's
    # (the same GPU priced again), and fusing the butterfly stages can only shorten the GPU
    awk -F'|' '
    function num(s) { gsub(/[ x*]/, "", s); return s + 0 }
    /^\| \*\*average/ && !avg { avg = num($5); avge = num($6) }
    /^\| \*\*maximum/ && !mx { mx = num($5) }
    /^\| (per-stage|fused|monarch), (unfused|fused)/ {
        k++
        for (c = 3; c <= 6; c++) if (!(num($c) > 0) || num($c) > 1e6) { printf "kernel row %d column %d: %s\n", k, c, $c; bad = 1 }
        if (k == 1 && ((num($3) - avg) ^ 2 > 0.011 ^ 2 || (num($4) - mx) ^ 2 > 1e-6 || (num($5) - avge) ^ 2 > 0.011 ^ 2)) {
            printf "the default kernels give %s, %s, %s; the main table %g, %g, %g\n", $3, $4, $5, avg, mx, avge; bad = 1
        }
        if (k == 1) per = num($3)
        if (k == 2 && !(num($3) <= per)) { printf "fused butterfly stages made the GPU slower: %s against %g\n", $3, per; bad = 1 }
    }
    END { if (k != 5) { printf "%d kernel rows, not 5\n", k; bad = 1 }; exit bad }' <<<"$out" || fail "the GPU-kernel table is inconsistent"
    # the equal-peak peers: a row per workload (after the peer table's header), each cell
    # efficiency / energy, positive, the average their mean, the paper's second claim
    # beside them; on the FABNet models the butterfly peer (column 5) beats the dense
    # systolic one (column 3), which runs the butterflies as dense matrices
    awk -F'|' '
    function num(s) { gsub(/[ x*]/, "", s); return s + 0 }
    /^\| workload \| systolic-eq-.*fabnet-eq-.*sanger-eq-/ { on = 1; next }
    on && /^\| (hybrid-butterfly|fabnet)-/ {
        n++
        for (c = 3; c <= 6; c++) {
            split($c, v, "/")
            for (i = 1; i <= 2; i++) {
                if (!(num(v[i]) > 0) || num(v[i]) > 1e6) { printf "peer row %d column %d: %s\n", n, c, $c; bad = 1 }
                sum[c, i] += num(v[i])
            }
        }
        split($3, dense, "/"); split($5, bfly, "/")
        if ($2 ~ /fabnet/ && !(num(bfly[1]) < num(dense[1]))) { printf "%s: the butterfly peer %s, dense %s\n", $2, $5, $3; bad = 1 }
    }
    on && /^\| \*\*average/ {
        for (c = 3; c <= 6; c++) {
            split($c, v, "/")
            for (i = 1; i <= 2; i++) if ((num(v[i]) - sum[c, i] / n) ^ 2 > 0.011 ^ 2) { printf "peer column %d: average %s, mean %g\n", c, $c, sum[c, i] / n; bad = 1 }
        }
    }
    on && /2.38x - 4.7x \/ 6.60x - 15.37x/ { paper = 1 }
    END { if (n != 10 || !paper) { printf "%d peer rows, paper line %d\n", n, paper; bad = 1 }; exit bad }' <<<"$out" || fail "the equal-peak table is inconsistent"
done
echo "paper-compare: table shape and figures check out in both modes; bad inputs are refused"
