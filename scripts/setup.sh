#!/usr/bin/env bash
# scripts/setup.sh: installs missing Debian packages, then runs autoreconf, configure and make.
# Safe to run again: it installs nothing that is present and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and test dependencies (Debian package names). `time` gives scripts/bench.sh
# its peak-RSS figures; libfftw3-dev is the tests' independent FFT; python3 runs the GPU
# microbenchmark's --help test (PyTorch itself is only for a user with a GPU);
# python3-yaml lets tests/accelergy.sh read the --accelergy YAML; help2man makes the man
# page; clang builds the release tarball in distcheck; afl++ fuzzes the config loader and
# the command line (scripts/fuzz.sh); gnuplot-nox draws scripts/plot.sh's figures;
# libsystemc-dev runs the engine under the SystemC kernel and gives the TLM-2.0 target;
# parallel runs scripts/sweep.sh's points, and slurm-wlm with munge lets tests/sweep.sh
# start a single-node SLURM cluster for the --slurm sweeps.
packages=(build-essential autoconf automake libtool pkg-config libconfig-dev zlib1g-dev check time
    libfftw3-dev python3 python3-yaml help2man clang afl++ gnuplot-nox libsystemc-dev parallel
    slurm-wlm munge)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then
            sudo="sudo"
        else
            echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet.
    if ! $sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
        $sudo apt-get update -q
        $sudo apt-get install -y -q "${missing[@]}"
    fi
fi

if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
    autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt config.status ]; then
    ./configure
fi
make -j"$(nproc)"
