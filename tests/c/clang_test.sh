#!/usr/bin/env bash
# The C core, the bindings and the C unit tests build with clang as well as
# GCC (clang once refused core/vmath.h's target_clones beside noinline), into
# a scratch build folder (the Makefile's B=), without a warning, and the C
# tests pass there.
#
#   tests/c/clang_test.sh            (from the top of the source tree)
#
# Prints ok/not ok lines, then "clang: N passed, M failed".
NAME="clang"
# shellcheck source=tests/packaging/lib.sh
. "$(dirname "$0")/../packaging/lib.sh"

if ! command -v clang >/dev/null; then
    echo "not ok - clang is installed (tools/deps.sh test installs it)"
    FAIL=$((FAIL + 1)); finish; exit 1
fi

B="$WORK/build"
objs=$(ls bindings/*.c | sed "s|^|$B/|; s|\.c\$|.o|" | tr '\n' ' ')
# -O1: the point is what clang accepts, not its speed (the files that the
# Makefile compiles at -O3 still are)
# shellcheck disable=SC2086 # objs is a list
run make -j2 --no-print-directory CC=clang B="$B" OPT="-O1 -g" "$B/test_core" $objs
check "make CC=clang B=... builds the core, the bindings and test_core" rc_is 0
check "clang prints no warning" eval '! grep -E "(warning|error):" "$OUT" "$ERR"'

run "$B/test_core"
check "the C tests pass when built with clang" eval 'rc_is 0 && out_has "^c: [0-9]+ passed, 0 failed"'

finish
