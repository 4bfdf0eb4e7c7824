#!/usr/bin/env bash
# scripts/sweep.sh: runs a design-space sweep spec (docs/SWEEPS.md) on this machine with
# GNU parallel, or on a SLURM cluster as a job array, into one CSV sorted by point id.
# Usage: scripts/sweep.sh [--slurm] [--jobs N] [--chunk N] [--throttle N] [--wait]
#                         [-o CSV] SPEC
#   --slurm      submit a job array (sbatch --array) of chunks, each into a CSV of its own
#                under CSV.parts/, and a job that merges them when all have ended
#   --jobs N     local: run N chunks at once (default: the CPUs); SLURM: tasks at once
#                (the array's throttle, default 16)
#   --chunk N    points per chunk, one bflysim process each (default 50; 1 in cycle mode)
#   --wait       SLURM: return when the merge job has ended (sbatch --wait)
#   -o CSV       the output (default: the spec's output)
# Points whose id is in the CSV already are skipped, so an interrupted sweep resumes where
# it stopped; a point that fails is recorded with its exit status and message. Set
# BFLYSIM to use a bflysim built elsewhere; SBATCH_ARGS adds options to every sbatch.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${BFLYSIM:-$here/../bflysim}"
slurm=0 jobs="" chunk="" out="" wait=0
die() { echo "sweep: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --slurm) slurm=1 ;;
    --jobs) jobs="${2:?--jobs needs N}"; shift ;;
    --throttle) jobs="${2:?--throttle needs N}"; shift ;;
    --chunk) chunk="${2:?--chunk needs N}"; shift ;;
    --wait) wait=1 ;;
    -o) out="${2:?-o needs CSV}"; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "${spec:-}" ] || die "one SPEC only ('$1')"; spec="$1" ;;
    esac
    shift
done
[ -n "${spec:-}" ] || die "expected a SPEC file (see --help)"
for n in $jobs $chunk; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "'$n' is not a positive whole number"; done
[ -x "$bin" ] || die "$bin is missing; run scripts/setup.sh"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

work="$(mktemp -d "${TMPDIR:-/tmp}/bflysim-sweep-XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$bin" --sweep-points "$spec" >"$work/points" || exit $?
meta() { sed -n "s/^#$1 //p" "$work/points"; }
arch="$(meta arch)" workload="$(meta workload)" mode="$(meta mode)" baseline="$(meta baseline)"
out="${out:-$(meta output)}"
[ -n "$out" ] || die "$spec names no output: give one there (output = \"FILE.csv\";) or -o CSV"
[ -n "$chunk" ] || chunk=$([ "$mode" = analytical ] && echo 50 || echo 1)

# resume: the points whose id the CSV holds are done (failed ones too: delete a row to
# run its point again); a last row cut short by a crash (no newline) is dropped
if [ -s "$out" ] && [ "$(tail -c 1 "$out" | od -An -c | tr -d ' ')" != '\n' ]; then
    keep="$(($(wc -c <"$out") - $(tail -n 1 "$out" | wc -c)))"
    truncate -s "$keep" "$out"
    echo "sweep: dropped a partial last row of $out" >&2
fi
if [ -s "$out" ]; then
    head -n 1 "$out" | grep -q '^point,status,message,' ||
        die "$out is not a sweep CSV (its header does not start with point,status,message)"
    awk 'NR == FNR { if (FNR > 1) { split($0, f, ","); done[f[1]] = 1 }; next }
        /^#/ { next } !($1 in done)' \
        "$out" "$work/points" >"$work/todo"
else
    grep -v '^#' "$work/points" >"$work/todo" || true
fi
total="$(meta points)" todo="$(wc -l <"$work/todo")"
echo "sweep: $spec: $total points, $((total - todo)) done already, $todo to run ($mode mode)" >&2

flags=(-q --model "$mode" $([ "$baseline" = - ] || echo --baseline "$baseline"))
mkdir -p "$work/chunks"
split -l "$chunk" -d -a 6 "$work/todo" "$work/chunks/c."

# sort_csv FILE...: one header, then the rows of every FILE sorted by point id, one row a
# point (the first seen), written atomically over $out
sort_csv() {
    local tmp="$out.sorting.$$"
    {
        head -n 1 "$1"
        for f in "$@"; do tail -n +2 "$f"; done | sort -t, -k1,1 -s | awk -F, '!seen[$1]++'
    } >"$tmp"
    mv -f "$tmp" "$out"
}

if [ "$slurm" = 0 ]; then
    if [ "$todo" -gt 0 ]; then
        command -v parallel >/dev/null || die "GNU parallel is missing; run scripts/setup.sh"
        # (a chunk appends its rows to the one CSV under a lock; bflysim holds signals back
        # while it writes, so an interrupt leaves whole rows)
        # (-q: each word passes as it is, a path with spaces included)
        parallel -q --will-cite --halt never --jobs "${jobs:-100%}" \
            "$bin" --batch {} --csv "$out" "${flags[@]}" "$arch" "$workload" ::: "$work"/chunks/c.* ||
            echo "sweep: some chunks ended early" >&2
    fi
    if [ -s "$out" ]; then sort_csv "$out"; fi
    have=$(($([ -s "$out" ] && wc -l <"$out" || echo 1) - 1))
    echo "sweep: $out: $have of $total points" >&2
    [ "$have" -ge "$total" ] || { echo "sweep: run it again to finish the rest" >&2; exit 1; }
    exit 0
fi

# SLURM: the chunks and the command live beside the output, where every node sees them
command -v sbatch >/dev/null || die "sbatch is missing: --slurm needs a SLURM client (slurm-wlm)"
parts="$out.parts"
[ ! -e "$parts" ] || die "$parts exists: a submitted sweep has not been merged yet (wait for its merge job, or remove $parts if it will never run)"
mkdir -p "$parts"
# (SLURM's default MaxArraySize is 1001: more chunks are merged into fewer, larger ones)
chunks=("$work"/chunks/c.*)
if [ "${#chunks[@]}" -gt 1000 ]; then
    rm -f "$work"/chunks/c.*
    split -n "l/1000" -d -a 6 "$work/todo" "$work/chunks/c."
fi
cp "$work"/chunks/c.* "$parts"/ 2>/dev/null || true
n="$(find "$parts" -name 'c.*' | wc -l)"
[ "$n" -gt 0 ] || { [ -s "$out" ] && sort_csv "$out"; echo "sweep: nothing to run" >&2; exit 0; }
{
    echo '#!/usr/bin/env bash'
    echo 'set -eu'
    printf 'cd %q\n' "$PWD"
    printf 'chunk=$(printf %%s/c.%%06d %q "$SLURM_ARRAY_TASK_ID")\n' "$parts"
    printf 'exec %q --batch "$chunk" --csv "$chunk.csv"' "$bin"
    printf ' %q' "${flags[@]}" "$arch" "$workload"
    echo
} >"$parts/task.sh"
{
    echo '#!/usr/bin/env bash'
    echo 'set -eu'
    printf 'cd %q\n' "$PWD"
    printf 'out=%q parts=%q\n' "$out" "$parts"
    declare -f sort_csv
    printf 'total=%q\n' "$total"
    # (the parts merge with what the output held; a failed task keeps the parts and its
    # log, and the job fails, so that --wait and the user see it)
    echo 'set -- ; [ -s "$out" ] && set -- "$out"'
    echo 'for f in "$parts"/c.*.csv; do [ -e "$f" ] && set -- "$@" "$f"; done'
    echo 'if [ $# -gt 0 ]; then sort_csv "$@"; fi'
    echo 'have=$(($([ -s "$out" ] && wc -l <"$out" || echo 1) - 1))'
    echo 'echo "sweep: $out: $have of $total points"'
    echo 'if [ "$have" -lt "$total" ]; then echo "sweep: tasks failed: see $parts/task-*.log, then remove $parts and run the sweep again" >&2; exit 1; fi'
    echo 'rm -rf "$parts"'
} >"$parts/merge.sh"
chmod +x "$parts/task.sh" "$parts/merge.sh"
# shellcheck disable=SC2086
array="$(sbatch --parsable ${SBATCH_ARGS:-} --job-name=bflysim-sweep --array="0-$((n - 1))%${jobs:-16}" \
    --output="$parts/task-%a.log" "$parts/task.sh")"
# shellcheck disable=SC2086
merge="$(sbatch --parsable ${SBATCH_ARGS:-} $([ "$wait" = 1 ] && echo --wait) --job-name=bflysim-merge \
    --dependency="afterany:${array%%;*}" --output="$out.merge.log" "$parts/merge.sh")"
echo "sweep: submitted $n chunks as job array ${array%%;*} and the merge as job ${merge%%;*}" >&2
