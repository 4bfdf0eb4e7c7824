#!/usr/bin/env bash
# tests/sweep.sh: scripts/sweep.sh (docs/SWEEPS.md) on scripts/sweeps/quick.cfg: the points
# and their ids; the CSV against single runs; resume after kills at random moments gives
# the uninterrupted CSV row for row; a failing point is recorded; bad specs exit 2 naming
# FILE:LINE; and a real single-node SLURM cluster (munge, slurmctld, slurmd in a temporary
# directory) gives the local run's CSV.
set -euo pipefail
src="${BFLYSIM_SRCDIR:-.}"
bin="$PWD/bflysim"
export BFLYSIM="$bin"
fail() { echo "sweep: $*" >&2; exit 1; }
command -v parallel >/dev/null || { echo "sweep: GNU parallel is missing (scripts/setup.sh installs it); skipped"; exit 77; }
work="$(mktemp -d "${TMPDIR:-/tmp}/bflysim-sweep-test-XXXXXX")"
daemons=""
# (the daemons write their state as they stop: wait for them before removing it, and keep
# the test's own status)
cleanup() {
    local rc=$?
    for p in $daemons; do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 50); do
        local alive=0
        for p in $daemons; do # (a zombie no one reaps has stopped too)
            kill -0 "$p" 2>/dev/null && ! grep -q ') Z ' "/proc/$p/stat" 2>/dev/null && alive=1
        done
        [ "$alive" = 0 ] && break
        sleep 0.2
    done
    rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work" 2>/dev/null; } || true
    exit "$rc"
}
trap cleanup EXIT
spec="$src/scripts/sweeps/quick.cfg"
sweep="$src/scripts/sweep.sh"

# the points: 2 zipped array sizes x 3 bandwidths (25.6 x 2^k up to 102.4) x 3 lengths,
# the last axis fastest; each id is FNV-1a of its overrides, so the same every run
"$bin" --sweep-points "$spec" >"$work/points"
[ "$(grep -vc '^#' "$work/points")" = 18 ] || fail "expected 18 points"
grep -q '^#points 18$' "$work/points" || fail "no #points line"
sed -n '7p' "$work/points" | grep -q ' arch.array.rows=4 arch.array.cols=4 arch.dram.bandwidth_gbs=25.6 workload.seq_len=256$' ||
    fail "first point: $(sed -n 7p "$work/points")"
sed -n '8p' "$work/points" | grep -q 'arch.dram.bandwidth_gbs=25.6 workload.seq_len=512$' || fail "the last axis is not fastest"
sed -n '24p' "$work/points" | grep -q 'rows=8 arch.array.cols=8 arch.dram.bandwidth_gbs=102.4 workload.seq_len=1024$' ||
    fail "last point: $(sed -n 24p "$work/points")"
[ "$(grep -v '^#' "$work/points" | cut -d' ' -f1 | sort -u | wc -l)" = 18 ] || fail "ids repeat"
"$bin" --sweep-points "$spec" | cmp -s - "$work/points" || fail "points differ between runs"
# an id is FNV-1a 64 of "KEY=VALUE\n" per override, computed here independently
line="$(sed -n 7p "$work/points")"
want="$(/usr/bin/python3 -c '
import sys
h = 0xcbf29ce484222325
for w in sys.argv[1:]:
    for b in (w + "\n").encode():
        h = ((h ^ b) * 0x100000001b3) % 2**64
print("%016x" % h)' ${line#* })"
[ "${line%% *}" = "$want" ] || fail "id ${line%% *}, FNV-1a gives $want"

# the uninterrupted run, sorted by id, one header, each row the single run's row
"$sweep" --jobs 2 -o "$work/full.csv" "$spec" 2>"$work/log"
[ "$(wc -l <"$work/full.csv")" = 19 ] || fail "expected 18 rows: $(cat "$work/log")"
head -n 1 "$work/full.csv" | grep -q '^point,status,message,arch,workload,kind,' || fail "header: $(head -n 1 "$work/full.csv")"
tail -n +2 "$work/full.csv" | cut -d, -f1 | sort -c || fail "rows are not sorted by point id"
[ "$(cut -d, -f2 "$work/full.csv" | grep -c '^0$')" = 18 ] || fail "not every point succeeded"
sets="$(grep "^${line%% *} " "$work/points" | cut -d' ' -f2-)"
args=()
for s in $sets; do args+=(--set "$s"); done
"$bin" -q -m analytical -b none --csv "$work/single.csv" "${args[@]}" mld-8x8 fabnet-image-1k
row="$(grep "^${line%% *}," "$work/full.csv")"
[ "${row#*,0,,}" = "$(tail -n 1 "$work/single.csv")" ] || fail "the sweep's row differs from a single run's"

# resume: kill a running sweep at random moments (SIGINT, SIGTERM, SIGKILL of the whole
# process group), run it again until it finishes, and the CSV is the uninterrupted one
signals=(INT TERM KILL)
for round in 0 1 2; do
    rm -f "$work/resumed.csv"
    setsid "$sweep" --jobs 2 --chunk 1 -o "$work/resumed.csv" "$spec" 2>/dev/null &
    pid=$!
    sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 1 + 3 * rand() }')"
    kill -"${signals[$round]}" -- -"$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -s "$work/resumed.csv" ]; then
        awk -F, 'NR > 1 && NF < 20 { exit 1 }' "$work/resumed.csv" || fail "a partial row after SIG${signals[$round]}"
    fi
    "$sweep" --jobs 2 -o "$work/resumed.csv" "$spec" 2>"$work/log"
    cmp -s "$work/resumed.csv" "$work/full.csv" || fail "round $round (SIG${signals[$round]}): the resumed CSV differs: $(cat "$work/log")"
done

# a failing point is recorded (its status and message), and the sweep goes on
cat >"$work/bad.cfg" <<EOF
arch = "mld-8x8";
workload = "fabnet-image-1k";
mode = "analytical";
sets = ["workload.seq_len=256"];
axes = ( { key = "arch.array.rows"; values = [0, 4]; } );
EOF
"$sweep" -o "$work/bad.csv" "$work/bad.cfg" 2>/dev/null
grep -q ',2,--set arch.array.rows=0: array.rows = 0 is out of range (allowed 1..64),.*,workload.seq_len=256 arch.array.rows=0$' "$work/bad.csv" ||
    fail "the failing point is not recorded with its overrides: $(cat "$work/bad.csv")"
[ "$(cut -d, -f2 "$work/bad.csv" | grep -c '^0$')" = 1 ] || fail "the good point did not run"

# --batch: every line checked before anything runs (FILE:LINE, exit 2, no row written),
# a CSV is required, a line without an id gets its overrides' FNV-1a id
printf 'p1 workload.seq_len=256\np2 workload.seq_len\n' >"$work/lines"
rc=0
"$bin" --batch "$work/lines" --csv "$work/b.csv" -m analytical mld-8x8 fabnet-image-1k 2>"$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q "lines:2: " "$work/err" && [ ! -e "$work/b.csv" ] ||
    fail "a bad batch line: exit $rc, $(cat "$work/err")"
rc=0
"$bin" --batch "$work/lines" mld-8x8 fabnet-image-1k 2>"$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q "needs --csv" "$work/err" || fail "--batch without --csv: exit $rc"
# (the arch is checked once, before any point: one error, no failed rows)
rc=0
"$bin" --batch "$work/lines" --csv "$work/c.csv" mld-8x8-typo fabnet-image-1k 2>"$work/err" || rc=$?
[ "$rc" = 2 ] && [ ! -e "$work/c.csv" ] || fail "--batch on a missing arch: exit $rc"
printf '# a comment\n\n%s\n' "$sets" >"$work/lines"
"$bin" --batch "$work/lines" --csv "$work/b.csv" -m analytical -b none mld-8x8 fabnet-image-1k
[ "$(tail -n 1 "$work/b.csv")" = "$row" ] || fail "a batch line without an id: $(tail -n 1 "$work/b.csv")"

# bad specs: exit 2, FILE:LINE, a suggestion for a misspelt key
bad() {
    printf '%s\n' "$2" >"$work/spec.cfg"
    local rc=0
    "$sweep" -o "$work/x.csv" "$work/spec.cfg" 2>"$work/err" || rc=$?
    [ "$rc" = 2 ] || fail "'$2': exit $rc, not 2"
    grep -q -- "$1" "$work/err" || fail "'$2' did not say '$1': $(cat "$work/err")"
}
head='arch = "mld-8x8"; workload = "fabnet-image-1k";'
bad "spec.cfg:2: unknown key 'axis'; did you mean 'axes'?" "$head
axis = ();"
bad "spec.cfg:2: axis arch.array.rows: give values" "$head
axes = ( { key = \"arch.array.rows\"; from = 4; } );"
bad "spec.cfg:2: zip: axis arch.dram.bandwidth_gbs has 1 values" "$head
axes = ( { key = \"arch.array.rows\"; values = [4, 8]; }, { key = \"arch.dram.bandwidth_gbs\"; values = [1.0]; } ); zip = ( [\"arch.array.rows\", \"arch.dram.bandwidth_gbs\"] );"
bad "spec.cfg:2: value \"a#b\": a sweep value is one word, without quotes or '#'" "$head
axes = ( { key = \"workload.name\"; values = [\"a#b\"]; } );"
bad "spec.cfg:2: axis arch.array.rows: the value 4 is given twice" "$head
axes = ( { key = \"arch.array.rows\"; values = [4, 4]; } );"
bad "spec.cfg:2: mode = \"fast\"" "$head
mode = \"fast\"; axes = ( { key = \"arch.array.rows\"; values = [4]; } );"
bad "spec.cfg:2: axis workload.seq_len: times = 1 must exceed 1" "$head
axes = ( { key = \"workload.seq_len\"; from = 1; to = 8; times = 1; } );"
[ ! -e "$work/x.csv" ] || fail "a refused spec left $work/x.csv"
printf '%s\n' "$head" 'axes = ( { key = "arch.array.rows"; values = [4]; } );' >"$work/spec.cfg"
rc=0
"$sweep" "$work/spec.cfg" 2>"$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q "names no output" "$work/err" || fail "a spec without output: exit $rc, $(cat "$work/err")"

# SLURM: a single-node cluster of our own, the sweep as a job array and a merge job
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "sweep: slurm-wlm and munge are not installed (scripts/setup.sh installs them); the SLURM part is skipped"
    exit 0
fi
cl="$work/cluster"
mkdir -p "$cl/state" "$cl/spool" "$cl/munge"
head -c 1024 /dev/urandom >"$cl/munge/munge.key"
chmod 700 "$cl/munge" && chmod 600 "$cl/munge/munge.key"
munged --force --socket="$cl/munge/sock" --key-file="$cl/munge/munge.key" \
    --pid-file="$cl/munge/pid" --log-file="$cl/munge/log" --seed-file="$cl/munge/seed" ||
    fail "munged did not start: $(cat "$cl/munge/log" 2>/dev/null)"
daemons="$(cat "$cl/munge/pid")"
port=$((20000 + RANDOM % 20000))
user="$(id -un)" host="$(hostname -s)"
cat >"$cl/slurm.conf" <<EOF
ClusterName=bflysim-test
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$cl/munge/sock
CredType=cred/munge
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$cl/state
SlurmdSpoolDir=$cl/spool
SlurmctldPidFile=$cl/slurmctld.pid
SlurmdPidFile=$cl/slurmd.pid
SlurmctldLogFile=$cl/slurmctld.log
SlurmdLogFile=$cl/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$cl/slurm.conf"
slurmctld -i || fail "slurmctld did not start: $(cat "$cl/slurmctld.log")"
sleep 1
daemons="$daemons $(cat "$cl/slurmctld.pid")"
slurmd || fail "slurmd did not start: $(cat "$cl/slurmd.log")"
sleep 1
daemons="$daemons $(cat "$cl/slurmd.pid")"
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo -h -o %T | grep -q idle || fail "the node never became idle: $(tail -n 5 "$cl/slurmd.log")"
"$sweep" --slurm --wait --jobs 2 --chunk 4 -o "$work/slurm.csv" "$spec" 2>"$work/log" ||
    fail "the SLURM sweep failed: $(cat "$work/log")"
cmp -s "$work/slurm.csv" "$work/full.csv" || fail "the SLURM CSV differs from the local one"
[ ! -e "$work/slurm.csv.parts" ] || fail "the merge left its parts"
echo "sweep: points, rows, resume after kills, failures, bad specs and SLURM check out"
