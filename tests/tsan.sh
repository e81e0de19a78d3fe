#!/bin/sh
# make tsan: ThreadSanitizer runs at 2 threads (tests/tsan.sh TEST_CORE RNNLUA)
#   1. the C kernel tests (build/tsan/test_core), the core's thread pool at
#      2 threads from the start (RNNLUA_TEST_THREADS, tests/c/main.c);
#   2. a short training script through build/tsan/rnnlua at 2 threads
#      (tests/tsan_train.lua): recurrent layers, elementwise ops,
#      reductions and an optimizer, forward and backward.
# OpenBLAS is not instrumented: its own memory accesses are not recorded,
# so no race inside it is looked for. It starts single-threaded
# (OPENBLAS_NUM_THREADS=1); rl_set_num_threads (some kernel tests, and
# rnn.set_num_threads in the script) sets its count with the pool's, and
# its threads then run uninstrumented: TSan sees them created (pthread is
# intercepted) and nothing else. No suppressions are needed.
# Any report fails the run (halt_on_error, exitcode 66). Both binaries are
# built by make tsan (make test builds them too: the suite tsan of
# tests/run.sh, skipped under make asan).
set -eu
cd "$(dirname "$0")/.."
test_core=${1:-build/tsan/test_core}
rnnlua=${2:-build/tsan/rnnlua}
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1${TSAN_OPTIONS:+ $TSAN_OPTIONS}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
start=$(date +%s)
echo "tsan: C kernel tests, 2 threads"
log=build/tsan/test_core.log
if ! RNNLUA_TEST_THREADS=2 "$test_core" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "tsan: the C kernel tests failed or TSan reported (whole output: $log)" >&2
    exit 1
fi
tail -n 1 "$log"
passed=$(tail -n 1 "$log" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
echo "tsan: a training script through $rnnlua, 2 threads"
"$rnnlua" tests/tsan_train.lua
# the line tests/run.sh counts: the C tests and the script
echo "tsan: clean in $(($(date +%s) - start)) s: $((passed + 1)) passed, 0 failed"
