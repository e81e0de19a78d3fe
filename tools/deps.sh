#!/bin/sh
# Checks that the Debian packages rnnlua needs are installed. As root, installs
# the missing ones with apt-get; otherwise prints the exact command and fails.
#   tools/deps.sh            build and test dependencies
#   tools/deps.sh test       also what only the tests use: a single-node Slurm
#                            (slurm-wlm, munge) for the launcher's test and a
#                            headless browser (chromium) for the report's,
#                            clang for the libFuzzer targets (make fuzz)
#   tools/deps.sh bench      also python3-torch, for the PyTorch side of `make bench`
#   tools/deps.sh doc        also lua-ldoc and lua-discount, for `make doc`
#   tools/deps.sh --list [test|bench|doc]
#                            prints those packages, one a line, and installs
#                            nothing (the README names every one: a test checks)
set -eu

list=false
if [ "${1:-}" = --list ]; then
    list=true
    shift
fi
case "${1:-}" in
    ""|test|bench|doc) ;;
    *) echo "usage: tools/deps.sh [--list] [test|bench|doc]" >&2; exit 2 ;;
esac

# fortunes-min: the default text corpus of rnn.data.text (/usr/share/games/fortunes/fortunes)
# fortunes, bible-kjv: the corpus of h0_comparison's --preset paper (every fortune
#   file and the King James verses)
# lua-cjson, lua-argparse: JSON files and the command line of rnn.experiment
# lua-luv, lua-filesystem: worker processes, signals and run locks of rnn.experiment
# openmpi-bin, libopenmpi-dev: rnn.distributed (always built) and mpirun
# librsvg2-bin: rsvg-convert, the PNG and PDF copies of the report's plots
packages="lua5.4 liblua5.4-dev libopenblas-dev liblapacke-dev lua-busted libreadline-dev pkg-config tmux libjansson-dev fortunes-min fortunes bible-kjv lua-cjson lua-argparse lua-luv lua-filesystem openmpi-bin libopenmpi-dev librsvg2-bin"
case "${1:-}" in
    # chromium: the headless browser of tests/report/browser_test.sh
    # luarocks: tests/packaging/luarocks_test.sh builds the rock into a
    #   temporary tree (it pulls in lua5.1, which then takes /usr/bin/lua)
    # groff-base, man-db: tests/packaging/man_test.sh renders rnnlua.1
    # lua-ldoc, lua-discount: help_spec checks that `make doc`'s LDoc run is clean
    # clang: tests/c/clang_test.sh builds the core with it; the libFuzzer
    #   targets of tests/fuzz (-fsanitize=fuzzer)
    test) packages="$packages slurm-wlm munge chromium luarocks groff-base man-db lua-ldoc lua-discount clang" ;;
    bench) packages="$packages python3-torch" ;;
    doc) packages="$packages lua-ldoc lua-discount" ;;
esac

if $list; then
    for p in $packages; do echo "$p"; done
    exit 0
fi

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "rnnlua: missing Debian packages:$missing" >&2
if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >&2
else
    echo "rnnlua: install them with:" >&2
    echo "    sudo apt-get install -y$missing" >&2
    exit 1
fi
