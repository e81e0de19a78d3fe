#!/bin/bash
# Sweeps over MPI ranks: `mpirun -np 2 rnnlua tests/experiment/toy.lua`
# spreads the runs over the ranks (each run done by one rank, under its
# lock) and rank 0 writes the summary and report when all are done:
#   - every file of every run, the summary and the report equal a local
#     sweep's (cmp), and each run was run once;
#   - a failing run without --keep-going: mpirun ends non-zero, no hang,
#     the failure is named and no report is written;
#     with --keep-going the other runs finish and rank 0 writes the report;
#   - a rerun under mpirun resumes the failed run to the same files.
# Usage: tests/mpi/sweep_test.sh [RNNLUA]. Prints ok/not ok lines and
# "mpi-sweep: N passed, M failed" last.
set -u
RNNLUA=${1:-./rnnlua}
TOY=tests/experiment/toy.lua
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-mpi-sweep.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
MPIRUN="timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2"

pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
check() { if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi; }

RUNS="h0=random/seed-1 h0=random/seed-2 h0=learned/seed-1 h0=learned/seed-2"
same_files() {
    local r f
    for r in $RUNS; do
        for f in config.json metrics.csv metrics.jsonl eval.csv eval.jsonl series.json done checkpoint.safetensors best.safetensors; do
            cmp -s "$1/toy/$r/$f" "$2/toy/$r/$f" || { echo "# differs: $r/$f"; return 1; }
        done
    done
    for f in summary.csv summary.md index.html plots/loss.svg plots/grad_norm.svg; do
        cmp -s "$1/toy/$f" "$2/toy/$f" || { echo "# differs: $f"; return 1; }
    done
}

"$RNNLUA" "$TOY" --quiet --jobs 1 --out "$TMP/local" --set delay=0.002
check $? "the local sweep finishes"
$MPIRUN "$RNNLUA" "$TOY" --out "$TMP/mpi" --set delay=0.002 >"$TMP/mpi.log" 2>&1
status=$?
runs=$(grep -c ': done in' "$TMP/mpi.log")
summaries=$(grep -c '^summary: ' "$TMP/mpi.log")
[ "$status" -eq 0 ] && [ "$runs" -eq 4 ] && [ "$summaries" -eq 1 ]
check $? "mpirun -np 2: status $status, each of the 4 runs run once ($runs), one report (by rank 0)"
same_files "$TMP/local" "$TMP/mpi"
check $? "the files of the MPI sweep equal the local sweep's (runs, checkpoints, summary, report)"

F="$TMP/fail"
TOY_FAIL=random:2:10 $MPIRUN -x TOY_FAIL "$RNNLUA" "$TOY" --quiet --out "$F" --set delay=0.002 >"$TMP/fail.log" 2>&1
status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ -f "$F/toy/h0=random/seed-2/error.txt" ] \
    && [ ! -f "$F/toy/summary.md" ] && grep -q 'run h0=random seed 2 failed' "$TMP/fail.log"
check $? "a failing run without --keep-going: mpirun ends with status $status (no hang), error.txt, no report"
TOY_FAIL=random:2:10 $MPIRUN -x TOY_FAIL "$RNNLUA" "$TOY" --quiet --keep-going --out "$F" --set delay=0.002 \
    >"$TMP/fail2.log" 2>&1
status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$(ls "$F"/toy/*/seed-*/done | wc -l)" -eq 3 ] \
    && grep -q '1 of 2' "$F/toy/summary.md"
check $? "with --keep-going: the other runs finish and rank 0 writes the report (status $status)"
$MPIRUN "$RNNLUA" "$TOY" --quiet --out "$F" --set delay=0.002 >"$TMP/rerun.log" 2>&1
status=$?
[ "$status" -eq 0 ] && same_files "$TMP/local" "$F"
check $? "the rerun under mpirun resumes the failed run: the same files as the local sweep"

echo "mpi-sweep: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
