#!/usr/bin/env bash
# scripts/fuzz.sh: builds the AFL++ harnesses of fuzz/ and fuzzes the config loader or the command line.
# Usage: scripts/fuzz.sh [-t SECONDS] [-n EXECS] [config|cli|all]   (default: config, 60 s)
# Fuzzes until SECONDS have passed or about EXECS inputs ran (the first of the two), then
# prints executions, paths, crashes and hangs, replays the queue for leaks, and exits 1
# if anything crashed, hung or leaked. Installs nothing: AFL++ is the Debian package
# afl++ (scripts/setup.sh installs it). Everything lands in build-fuzz/ (FUZZ_SANITIZE=0
# builds without AddressSanitizer and UBSan: 2 to 2.5 times the executions per second).
set -euo pipefail

usage() {
    sed -n '3,8s/^# \{0,1\}//p' "$0"
}

secs="" execs=""
while getopts "t:n:h" opt; do
    case "$opt" in
    t) secs="$OPTARG" ;;
    n) execs="$OPTARG" ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
target="${1:-config}"
case "$target" in
config | cli) targets=("$target") ;;
all) targets=(config cli) ;;
*) echo "fuzz: unknown target '$target' (config, cli or all)" >&2; exit 2 ;;
esac
for v in "$secs" "$execs"; do
    if [ -n "$v" ] && ! [[ "$v" =~ ^[1-9][0-9]*$ ]]; then
        echo "fuzz: -t and -n take a positive integer, not '$v'" >&2
        exit 2
    fi
done
[ -n "$secs$execs" ] || secs=60

for tool in afl-fuzz afl-cc; do
    if ! command -v "$tool" >/dev/null; then
        echo "fuzz: $tool not found: install AFL++ (the Debian package afl++; scripts/setup.sh" \
            "installs it)" >&2
        exit 2
    fi
done
if ! pkg-config --exists libconfig 2>/dev/null; then
    echo "fuzz: libconfig not found: run scripts/setup.sh" >&2
    exit 2
fi

cd "$(dirname "$0")/.."
root="$PWD"
build="$root/build-fuzz"

# ------------------------------------------------------------------ build
if [ "${FUZZ_SANITIZE:-1}" = 1 ]; then
    bin="$build/afl-asan"
    export AFL_USE_ASAN=1 AFL_USE_UBSAN=1
else
    bin="$build/afl"
fi
echo "fuzz: building the harnesses in ${bin#"$root"/} with afl-cc"
AFL_QUIET=1 make -s -f fuzz/Makefile BUILD="$bin" CC=afl-cc EXTRA_CFLAGS="-g -O2" \
    -j"$(nproc)"
unset AFL_USE_ASAN AFL_USE_UBSAN

# ------------------------------------------------------------------ seeds and dictionaries
# seed DIR KIND FILE...: copies shipped files into DIR, each with a first line "#!KIND"
# (fuzz_config.c: the input is loaded as that kind of file only)
seed() {
    local dir="$1" kind="$2" f
    shift 2
    for f in "$@"; do
        { echo "#!$kind"; cat "$f"; } >"$dir/$kind-$(basename "$f")"
    done
}

# dict_quote: each input line as an AFL++ dictionary entry
dict_quote() {
    sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$/"/'
}

make_corpus() {
    local t="$1" dir="$build/corpus/$1" dict="$build/$1.dict"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp fuzz/seeds/"$t"/* "$dir"/
    if [ "$t" = config ]; then
        seed "$dir" arch arch/*.cfg tests/data/tiny-1x2.cfg
        seed "$dir" workload workloads/*.cfg tests/data/tiny-n4.cfg
        seed "$dir" gpu arch/gpu/*.cfg
        seed "$dir" energy arch/energy/*.cfg
        # every key's path and its parts, every enum value, the overrides' prefixes
        {
            "$bin/fuzz_config" --list-keys | awk '/^  [a-z]/ {print $1}' |
                sed 's/\.INDEX/.0/' | while IFS= read -r path; do
                echo "${path#*.}"
                echo "#@$path="
                tr '.' '\n' <<<"${path#*.}"
            done
            "$bin/fuzz_config" --list-keys | grep -o '"[a-z0-9-]*"'
        } | sort -u | dict_quote >"$dict"
    else
        # every option the help text names, and the scratch directory's files
        {
            "$bin/fuzz_cli" --options | grep -o -- ' --\?[a-zA-Z][a-z-]*' | sed 's/^ //'
            printf '%s\n' a.cfg t.cfg w.cfg n.cfg g.cfg c.csv m.cfg x.cfg
        } | sort -u | dict_quote >"$dict"
    fi
    cat "fuzz/$t.dict" >>"$dict"
}

# afl_stat FILE KEY: a value of AFL++'s fuzzer_stats
afl_stat() {
    sed -n "s/^$2 *: *//p" "$1"
}

# ------------------------------------------------------------------ fuzzing
# The harnesses write every input to a file: on a disk that costs milliseconds per
# rewrite (ext4 flushes a truncated file on close), on tmpfs microseconds.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    scratch="$(mktemp -d /dev/shm/bflyfuzz.XXXXXX)"
else
    scratch="$(mktemp -d "$build/tmp.XXXXXX")"
fi
trap 'rm -rf "$scratch"' EXIT
failed=0
for t in "${targets[@]}"; do
    make_corpus "$t"
    out="$build/out/$t-$(date +%Y%m%d-%H%M%S)"
    mkdir -p "$out" "$scratch/$t" # afl-fuzz refuses a .cur_input another run left
    limits=()
    [ -z "$secs" ] || limits+=(-V "$secs")
    [ -z "$execs" ] || limits+=(-E "$execs")
    echo "fuzz: $t: afl-fuzz ${limits[*]} -t 500 (log: ${out#"$root"/}/afl.log)"
    # A VM has no CPU frequency control and may pipe cores to a tool; other jobs share
    # its cores, so afl-fuzz binds to none. Inputs slower than 500 ms count as hangs.
    AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 \
        TMPDIR="$scratch/$t" AFL_TMPDIR="$scratch/$t" \
        afl-fuzz -i "$build/corpus/$t" -o "$out" -x "$build/$t.dict" -t 500 "${limits[@]}" \
        -- "$bin/fuzz_$t" >"$out/afl.log" 2>&1 &
    pid=$!
    trap 'kill "$pid" 2>/dev/null || true' INT TERM
    stats="$out/default/fuzzer_stats"
    last=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        sleep 5
        if [ -f "$stats" ] && [ $((SECONDS - last)) -ge 60 ]; then
            last=$SECONDS
            echo "fuzz: $t: $(afl_stat "$stats" execs_done) execs," \
                "$(afl_stat "$stats" corpus_count) paths, $(afl_stat "$stats" saved_crashes)" \
                "crashes, $(afl_stat "$stats" saved_hangs) hangs"
        fi
    done
    rc=0
    wait "$pid" || rc=$?
    trap - INT TERM
    if [ ! -f "$stats" ]; then
        echo "fuzz: $t: afl-fuzz failed (status $rc); the end of its log:" >&2
        tail -n 20 "$out/afl.log" >&2
        exit 1
    fi
    run_time="$(afl_stat "$stats" run_time)"
    execs_done="$(afl_stat "$stats" execs_done)"
    crashes="$(afl_stat "$stats" saved_crashes)"
    hangs="$(afl_stat "$stats" saved_hangs)"
    echo "fuzz: $t: $execs_done executions in $run_time s" \
        "($(awk "BEGIN{printf \"%.0f\", $execs_done / ($run_time > 0 ? $run_time : 1)}")/s)," \
        "$(afl_stat "$stats" corpus_count) paths ($(afl_stat "$stats" corpus_found) found)," \
        "edges $(afl_stat "$stats" edges_found) of $(afl_stat "$stats" total_edges)," \
        "stability $(afl_stat "$stats" stability), $crashes crashes, $hangs hangs"
    # Persistent mode hides leaks (LeakSanitizer runs at exit): replay the queue once.
    if [ "${FUZZ_SANITIZE:-1}" = 1 ]; then
        if find "$out/default/queue" -maxdepth 1 -type f -print0 |
            ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$root/tests/lsan.supp" \
                TMPDIR="$scratch/$t" xargs -0 "$bin/fuzz_$t" >"$out/replay.log" 2>&1; then
            echo "fuzz: $t: queue replayed: no leak, no crash"
        else
            echo "fuzz: $t: the queue's replay failed: see ${out#"$root"/}/replay.log" >&2
            failed=1
        fi
    fi
    if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
        echo "fuzz: $t: inputs saved in ${out#"$root"/}/default/crashes and hangs; replay one" \
            "with: ${bin#"$root"/}/fuzz_$t FILE" >&2
        failed=1
    fi
done
exit "$failed"
