#!/bin/bash
# rnn.distributed over 2 MPI ranks (mpirun -np 2 on this machine):
#   - every collective on every dtype against the expected values, broadcast
#     from root 1, average_gradients with several tensors in two dtypes,
#     the same bits on every rank, packed weights after a broadcast_
#     (tests/mpi/collectives.lua, whose checks print ok/not ok lines);
#   - ranks that disagree (shape, dtype, op, root, parameters, different
#     collectives, one rank ending while the other waits) get an error on
#     every rank naming what differed, and the job ends non-zero — no hang
#     (each run under `timeout`);
#   - a rank that raises an error while the other waits in a barrier ends
#     the job within seconds, non-zero, under rnnlua and under plain lua5.4;
#   - experiments/data_parallel.lua: 2 ranks with 8 rows each, ranks seeded
#     differently, end 20 Adam steps (float64) with the parameters of one
#     process with the batch of 16, to 1e-10 relative per tensor
#     (max|a-b| / max|b|); without the gradient averaging they do not.
# No MCA setting is needed on this machine (OpenMPI 4.1, shared memory).
# Usage: tests/mpi/mpi_test.sh [RNNLUA]. Run from the repository root.
# Prints ok/not ok lines and "mpi: N passed, M failed" last.
set -u
RNNLUA=${1:-./rnnlua}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-mpi.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
START=$(date +%s.%N)

pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }

if ! command -v mpirun >/dev/null 2>&1; then
    not_ok "mpirun not found (Debian: openmpi-bin)"
    echo "mpi: $pass passed, $fail failed"
    exit 1
fi

# a hang is a failure, not a stuck test suite: every run is bounded
LIMIT=60
MPIRUN="timeout -k 5 $LIMIT mpirun --allow-run-as-root --oversubscribe -np 2"

# 1. the collectives: the script's own ok/not ok lines
out=$TMP/collectives.out
$MPIRUN "$RNNLUA" tests/mpi/collectives.lua >"$out" 2>"$TMP/collectives.err"
status=$?
while IFS= read -r line; do
    case "$line" in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) not_ok "${line#not ok - }" ;;
    esac
done <"$out"
if [ "$status" -eq 0 ] && [ "$(grep -c '^ok - ' "$out")" -ge 40 ]; then
    ok "collectives.lua ran to its end and exited 0"
else
    not_ok "collectives.lua exited with status $status after $(grep -c '^ok - ' "$out") checks"
    sed 's/^/# /' "$TMP/collectives.err" | head -n 30
fi

# expect_failure NAME CODE PATTERN...: runs the Lua chunk CODE on 2 ranks
# (with D = rnn.distributed); the job must end non-zero, within 20 seconds
# (no hang), with every PATTERN (fixed strings; one per rank where the
# errors must appear on every rank) in its output
expect_failure() {
    local name=$1 code=$2 t0 t1 status secs p missing=""
    shift 2
    t0=$(date +%s.%N)
    $MPIRUN "$RNNLUA" -e "local D = rnn.distributed; $code" >"$TMP/fail.out" 2>&1
    status=$?
    t1=$(date +%s.%N)
    secs=$(echo "$t1 - $t0" | bc)
    for p in "$@"; do
        grep -qF -- "$p" "$TMP/fail.out" || missing="$missing [$p]"
    done
    if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$status" -ne 137 ] &&
        [ "$(echo "$secs < 20" | bc)" = 1 ] && [ -z "$missing" ]; then
        ok "$name (exit $status after ${secs%??????} s)"
    else
        not_ok "$name (exit $status after $secs s; missing:$missing)"
        sed 's/^/# /' "$TMP/fail.out" | head -n 30
    fi
}

expect_failure "shape mismatch: an error on every rank" \
    "D.allreduce_(rnn.zeros(3, 4 + D.rank()), 'sum')" \
    "rnn.distributed.allreduce_: ranks disagree: shape (3,4) float32 here (rank 0), (3,5) float32 on rank 1" \
    "rnn.distributed.allreduce_: ranks disagree: shape (3,5) float32 here (rank 1), (3,4) float32 on rank 0"
expect_failure "dtype mismatch: an error on every rank" \
    "D.broadcast_(rnn.zeros({2, 2}, D.rank() == 0 and 'float32' or 'float64'), 0)" \
    "rnn.distributed.broadcast_: ranks disagree: dtype (2,2) float32 here (rank 0), (2,2) float64 on rank 1" \
    "rnn.distributed.broadcast_: ranks disagree: dtype (2,2) float64 here (rank 1), (2,2) float32 on rank 0"
expect_failure "op mismatch: an error on every rank" \
    "D.allreduce_(rnn.zeros(2), D.rank() == 0 and 'sum' or 'max')" \
    "ranks disagree: op 'sum' here (rank 0), 'max' on rank 1" \
    "ranks disagree: op 'max' here (rank 1), 'sum' on rank 0"
expect_failure "root mismatch: an error on every rank" \
    "D.broadcast_(rnn.zeros(2), D.rank())" \
    "rnn.distributed.broadcast_: ranks disagree: root 0 here (rank 0), 1 on rank 1" \
    "rnn.distributed.broadcast_: ranks disagree: root 1 here (rank 1), 0 on rank 0"
expect_failure "different collectives: an error on every rank" \
    "if D.rank() == 0 then D.barrier() else D.allreduce_(rnn.zeros({2, 2}, 'float64'), 'max') end" \
    "rnn.distributed.barrier: ranks disagree: barrier here (rank 0), allreduce_ 'max' of (2,2) float64 on rank 1" \
    "rnn.distributed.allreduce_: ranks disagree: allreduce_ 'max' of (2,2) float64 here (rank 1), barrier on rank 0"
expect_failure "average_gradients of different parameters: the parameter named on every rank" \
    "local p = {rnn.zeros(2):requires_grad(true), rnn.zeros(3, 2 + D.rank()):requires_grad(true)}
     D.average_gradients(p)" \
    "rnn.distributed.average_gradients: ranks disagree: parameter 2 is (3,2) float32 here (rank 0), (3,3) float32 on rank 1" \
    "rnn.distributed.average_gradients: ranks disagree: parameter 2 is (3,3) float32 here (rank 1), (3,2) float32 on rank 0"
expect_failure "average_gradients of different numbers of parameters" \
    "local p = {rnn.zeros(2):requires_grad(true)}
     if D.rank() == 1 then p[2] = rnn.zeros(2):requires_grad(true) end
     D.average_gradients(p)" \
    "ranks disagree: 1 parameters here (rank 0), 2 on rank 1" \
    "ranks disagree: 2 parameters here (rank 1), 1 on rank 0"
expect_failure "a rank ends its script while the other waits in barrier: both report" \
    "if D.rank() == 0 then D.barrier() end" \
    "rnn.distributed.barrier: ranks disagree: barrier here (rank 0), finalize (or the end of its script) on rank 1" \
    "rnn.distributed: rank 1 reached the end of its script (finalize at exit) while rank 0 called rnn.distributed.barrier"
expect_failure "a rank raises an error while the other waits in barrier (rnnlua)" \
    "if D.rank() == 1 then error('boom on rank 1') end D.barrier()" \
    "(command line):1: boom on rank 1"
expect_failure "a rank raises an error inside a long computation of the other" \
    "D.barrier()
     if D.rank() == 1 then local t = rnn.zeros(2); t:view(3) end
     local t0 = rnn.clock(); while rnn.clock() - t0 < 30 do end" \
    "rnn.view"
expect_failure "a rank exits with os.exit(3) while the other waits" \
    "D.init(); if D.rank() == 1 then os.exit(3) end D.barrier()" \
    ""

# the same under plain lua5.4 (which finds ./rnn and ./rnn/mpi.so from here)
if command -v lua5.4 >/dev/null 2>&1; then
    t0=$(date +%s.%N)
    $MPIRUN lua5.4 -e "rnn = require 'rnn'; local D = rnn.distributed
      if D.rank() == 1 then error('boom under lua5.4') end D.barrier()" >"$TMP/lua.out" 2>&1
    status=$?
    secs=$(echo "$(date +%s.%N) - $t0" | bc)
    if [ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$status" -ne 137 ] && grep -qF "boom under lua5.4" "$TMP/lua.out" &&
        ! grep -q "Segmentation fault" "$TMP/lua.out"; then
        ok "a rank raises an error while the other waits in barrier (lua5.4; exit $status after ${secs%??????} s)"
    else
        not_ok "a rank raises an error while the other waits in barrier (lua5.4; exit $status after $secs s)"
        sed 's/^/# /' "$TMP/lua.out" | head -n 20
    fi
    $MPIRUN lua5.4 -e "rnn = require 'rnn'; local D = rnn.distributed
      local t = rnn.tensor{D.rank() + 1}; D.allreduce_(t); assert(t[1] == 3)" >"$TMP/lua.out" 2>&1
    status=$?
    if [ "$status" -eq 0 ] && ! grep -q "Segmentation fault" "$TMP/lua.out"; then
        ok "a normal end under lua5.4 finalizes and exits 0"
    else
        not_ok "a normal end under lua5.4 (exit $status)"
        sed 's/^/# /' "$TMP/lua.out" | head -n 20
    fi
fi

# 3. data-parallel equivalence: 2 ranks x 8 rows (ranks seeded differently,
# so only the broadcast makes them start equal) against 1 process x 16 rows
DP="experiments/data_parallel.lua --steps 20 --batch 16 --hidden 16 --T 20 --input 3 --dtype float64 --lr 0.01 --log-every 0"
# run NAME COMMAND...: the run must exit 0 (under the sanitizers: no leak report)
run() {
    local name=$1
    shift
    if "$@" >"$TMP/$name.out" 2>&1; then
        ok "data_parallel ($name run) exits 0"
    else
        not_ok "data_parallel ($name run) exited with status $?"
        sed 's/^/# /' "$TMP/$name.out" | head -n 30
    fi
}
run one "$RNNLUA" $DP --out "$TMP/one.safetensors"
run two $MPIRUN "$RNNLUA" $DP --rank-seed --out "$TMP/two.safetensors"
run drift $MPIRUN "$RNNLUA" $DP --rank-seed --no-average --out "$TMP/drift.safetensors"

# compare A B TOL: prints the worst per-tensor max|a-b| / max|b|; exit 0 when
# every tensor is within TOL
compare() {
    "$RNNLUA" -e "
      local a, b = rnn.load('$1'), rnn.load('$2')
      local worst, n, bad = 0, 0, 0
      for name, tb in pairs(b) do
        local ta = a[name]
        local rel = ta and (ta - tb):abs():max():item() / tb:abs():max():item() or math.huge
        if rel > worst or rel ~= rel then worst = rel end
        if not (rel <= $3) then bad = bad + 1 end
        n = n + 1
      end
      io.write(string.format('%d tensors, worst %.3g', n, worst))
      os.exit(bad == 0 and n == 6)" 2>&1
}
res=$(compare "$TMP/two.safetensors" "$TMP/one.safetensors" 1e-10)
if [ $? -eq 0 ]; then
    ok "data_parallel: 2 ranks x 8 rows = 1 process x 16 rows after 20 Adam steps, float64 ($res, tolerance 1e-10)"
else
    not_ok "data_parallel: 2 ranks against 1 process ($res, tolerance 1e-10)"
fi
if grep -q "parameters identical on all ranks: yes" "$TMP/two.out"; then
    ok "data_parallel: the parameters are the same bits on both ranks"
else
    not_ok "data_parallel: the parameters differ between the ranks"
    sed 's/^/# /' "$TMP/two.out"
fi
res=$(compare "$TMP/drift.safetensors" "$TMP/one.safetensors" 1e-6)
if [ $? -ne 0 ] && grep -q "parameters identical on all ranks: no" "$TMP/drift.out"; then
    ok "data_parallel --no-average (control): the ranks drift apart and from 1 process ($res)"
else
    not_ok "data_parallel --no-average (control) should not match 1 process ($res)"
fi

secs=$(echo "$(date +%s.%N) - $START" | bc)
echo "# mpi tests took ${secs%??????} s"
echo "mpi: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
