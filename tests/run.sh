#!/bin/sh
# Runs every test of rnnlua and sums the counts.
#   tests/run.sh [RNNLUA] [TEST_CORE]
# RNNLUA: the interpreter to test (./rnnlua, or the sanitizer build);
# TEST_CORE: the C unit test binary. The last line printed is
# "N passed, N failed"; the exit status is non-zero on any failure.
set -u
RNNLUA=${1:-./rnnlua}
TEST_CORE=${2:-build/test_core}
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-tests.XXXXXX")
trap 'rm -rf "$LOG_DIR"' EXIT

total_pass=0
total_fail=0

# the wall time of each suite, so that the whole stays well under CI's
# budget (10 minutes for make test)
took() { echo "$1: $(($(date +%s) - $2)) s"; }

# suite NAME COMMAND...: runs a suite that ends with "...N passed, M failed";
# a suite that exits non-zero without reporting a failure counts as one.
suite() {
    name=$1
    shift
    log="$LOG_DIR/$name.log"
    echo "== $name"
    t0=$(date +%s)
    "$@" >"$log" 2>&1
    status=$?
    cat "$log"
    counts=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=$(echo "$counts" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
    f=$(echo "$counts" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    [ -n "$counts" ] || { p=0; f=0; }
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$name: exited with status $status"
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    took "$name" "$t0"
}

# busted's TAP output has one "ok"/"not ok" line per test; the specs run
# inside the interpreter under test, so sanitizer builds cover them too.
# busted_counts NAME THREADS [SPEC...]: the whole tests/spec, or the specs
# named; THREADS: OPENBLAS_NUM_THREADS for the run, or "" for the default.
# BUSTED_LUA: when set, busted runs under that interpreter (busted --lua=...)
# instead of inside the interpreter under test.
busted_counts() {
    name=$1
    threads=$2
    shift 2
    [ $# -gt 0 ] || set -- tests/spec
    if [ -n "${BUSTED_LUA:-}" ]; then
        set -- /usr/bin/busted --lua="$BUSTED_LUA" --output=TAP "$@"
    else
        set -- "$RNNLUA" /usr/bin/busted --output=TAP "$@"
    fi
    log="$LOG_DIR/$name.log"
    echo "== $name"
    t0=$(date +%s)
    if [ -n "$threads" ]; then
        OPENBLAS_NUM_THREADS=$threads "$@" >"$log" 2>&1
    else
        "$@" >"$log" 2>&1
    fi
    status=$?
    grep -v '^ok ' "$log"
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    echo "$name: $p passed, $f failed"
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$name: exited with status $status"
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    took "$name" "$t0"
}

suite c "$TEST_CORE"
# no cycle among the core units: the edges read from nm of the objects that
# TEST_CORE was linked from (tools/core_deps.lua)
suite core-deps lua5.4 tools/core_deps.lua "$(dirname "$TEST_CORE")/core"
# the same C tests built with clang (tests/c/clang_test.sh)
suite clang bash tests/c/clang_test.sh
busted_counts busted ""
# Products go to rnnlua's own AVX-512 kernel where the CPU has it
# (core/gemm.h), elsewhere to BLAS, whose own threads differ: the gradients
# and the PyTorch fixtures once more with one OpenBLAS thread.
busted_counts busted-1thread 1 tests/spec/recurrent_torch_spec.lua \
    tests/spec/gradcheck_spec.lua tests/spec/cells_fused_spec.lua
# Every instruction set (core/isa.h): the runs above use the CPU's best
# level; the kernel tests, the PyTorch fixtures (recurrent layers, cells,
# optimizers), the gradients and isa_spec once more under each level below
# it, forced by RNNLUA_ISA (about 5 s a level here).
isa_rank() { case $1 in generic) echo 0 ;; avx2) echo 1 ;; avx512) echo 2 ;; *) echo -1 ;; esac; }
cpu_isa=$(env -u RNNLUA_ISA "$RNNLUA" -e 'io.write(select(2, rnn.isa()))' 2>/dev/null)
isa_saved=${RNNLUA_ISA-unset}
for isa in generic avx2 avx512; do
    if [ "$(isa_rank "$isa")" -gt "$(isa_rank "$cpu_isa")" ]; then
        echo "== isa-$isa: skipped, this CPU has only ${cpu_isa:-?}"
        continue
    elif [ "$isa" = "$cpu_isa" ]; then
        echo "== isa-$isa: the CPU's level, run above"
        continue
    fi
    RNNLUA_ISA=$isa
    export RNNLUA_ISA
    suite "c-$isa" "$TEST_CORE"
    busted_counts "busted-$isa" "" tests/spec/recurrent_torch_spec.lua tests/spec/cells_fused_spec.lua \
        tests/spec/optim_spec.lua tests/spec/gradcheck_spec.lua tests/spec/isa_spec.lua
done
if [ "$isa_saved" = unset ]; then unset RNNLUA_ISA; else RNNLUA_ISA=$isa_saved; fi
# Plain Lua 5.4, not rnnlua: the module from the source tree (rnn ->
# scripts/rnn, rnn/core.so), an installed prefix and a luarocks tree, and
# the specs once more under Debian's busted with --lua=lua5.4 (a pooled
# allocator that outlived core.so once crashed every exit, and readline's
# rl_backward once stood in for the tape's). Left out there:
# experiments_smoke_spec, for time only (40 s of research scripts run as
# subprocesses; they run under rnnlua above). These test the plain build's
# rnn/core.so, which make asan does not build: skipped under the sanitizers.
if [ -z "${RNNLUA_SANITIZED:-}" ]; then
    BUSTED_LUA=lua5.4
    busted_counts busted-lua5.4 "" --exclude-pattern=experiments_smoke_spec tests/spec
    BUSTED_LUA=
    suite plain-lua bash tests/packaging/plain_lua_test.sh
    suite exports bash tests/packaging/exports_test.sh "$(dirname "$TEST_CORE")"
    suite install bash tests/packaging/install_test.sh
    suite luarocks bash tests/packaging/luarocks_test.sh
else
    echo "== busted-lua5.4, plain-lua, install, luarocks: skipped under the sanitizers (make test runs them)"
fi
suite man bash tests/packaging/man_test.sh "$RNNLUA"
# The libFuzzer targets (make fuzz-build: build/fuzz, ASan+UBSan already)
# over their seed corpus and a short burst of mutations; the same binaries
# under make asan, so run once.
if [ -z "${RNNLUA_SANITIZED:-}" ]; then
    suite fuzz sh tests/fuzz/run.sh check 20000 build/fuzz safetensors json runfolder metrics checkpoint
else
    echo "== fuzz: skipped under the sanitizers (make test runs the same sanitized binaries)"
fi
# ThreadSanitizer at 2 threads: the C kernel tests and a short training
# script (tests/tsan.sh; make tsan builds build/tsan, as make test does)
if [ -z "${RNNLUA_SANITIZED:-}" ]; then
    suite tsan sh tests/tsan.sh build/tsan/test_core build/tsan/rnnlua
else
    echo "== tsan: skipped under the sanitizers (ASan and TSan do not mix; make test runs it)"
fi
# random sequences of tensor API calls against in-place/out-of-place and
# strided/contiguous oracles (under make asan too)
suite api-fuzz "$RNNLUA" tests/api_fuzz.lua 5000
suite readme-deps bash tests/packaging/readme_deps_test.sh
# every core unit (core/*.c) has its line in the README's Layout
suite readme-layout bash tests/packaging/readme_layout_test.sh
suite cli bash tests/repl/cli_test.sh "$RNNLUA"
suite repl bash tests/repl/repl_test.sh "$RNNLUA"
suite experiment bash tests/experiment/resume_test.sh "$RNNLUA"
suite jobs bash tests/experiment/jobs_test.sh "$RNNLUA"
suite lock bash tests/experiment/lock_test.sh "$RNNLUA"
suite corrupt bash tests/faults/corrupt_test.sh "$RNNLUA"
# write failures (full disk, file-size limit, read-only, no permission) at
# every file the harness writes: nothing lost, a rerun ends identical
suite faults bash tests/faults/faults_test.sh "$RNNLUA"
# the report of a real experiment in a headless chromium
suite report-browser bash tests/report/browser_test.sh "$RNNLUA"
suite slurm bash tests/slurm/slurm_test.sh "$RNNLUA"
suite mpi bash tests/mpi/mpi_test.sh "$RNNLUA"
suite mpi-sweep bash tests/mpi/sweep_test.sh "$RNNLUA"

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
