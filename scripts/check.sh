#!/usr/bin/env bash
# scripts/check.sh: runs the whole test suite (make check with gcc, then make distcheck,
# which builds the release tarball with clang, tests it and checks its install) and prints
# every test log, so the Check summaries ("100%: Checks: N, Failures: 0, Errors: 0") show.
# Run scripts/setup.sh first. --asan builds and tests with AddressSanitizer and UBSan in
# build-asan/ instead.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

if [ "${1:-}" = "--asan" ]; then
    # A copy of the sources (tracked and new files), built in place: a configured source
    # tree cannot also host an out-of-tree build.
    rm -rf build-asan && mkdir build-asan
    git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t build-asan
    cd build-asan
    autoreconf -fi >/dev/null 2>&1
    ./configure -q CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
        CXXFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer"
    export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
fi

make -j"$jobs" check
rc=$?
for log in tests/*.log; do
    echo "==== $log"
    cat "$log"
done
if [ $rc -ne 0 ]; then
    echo "check: make check FAILED" >&2
    exit $rc
fi
if [ "${1:-}" != "--asan" ]; then
    # The release tarball must build and pass the same tests on its own.
    if ! make -j"$jobs" distcheck >distcheck.log 2>&1; then
        tail -n 60 distcheck.log
        echo "check: make distcheck FAILED (full log in distcheck.log)" >&2
        exit 1
    fi
    grep -E "archives ready for distribution|^=+$" distcheck.log | head -3
fi
echo "check: all tests passed"
