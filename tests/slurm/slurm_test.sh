#!/bin/bash
# rnn.experiment on a real Slurm: a single-node cluster on localhost
# (tests/slurm/cluster.sh: munged, slurmctld and slurmd as root, on
# non-default ports, from a slurm.conf in a temporary folder), a 4-run
# sweep of tests/experiment/toy.lua submitted with --launcher slurm as one
# job array (at most 2 tasks at once) plus a report job, and:
#   - one task is sent Slurm's warning signal (USR1) mid-run: it saves a
#     checkpoint, requeues itself and the requeued task resumes;
#   - every file of every run, the summary and the report equal those of a
#     local sweep of the same command (cmp), the signalled run included;
#   - --status lists the runs as they go and all done at the end;
#   - submitting again submits nothing.
# The daemons it started are stopped by their pids, whatever happens. Not
# root (or no Slurm installed): says it was skipped and why.
# Usage: tests/slurm/slurm_test.sh [RNNLUA]. Prints ok/not ok lines and
# "slurm: N passed, M failed" last.
set -u
RNNLUA=$(cd "$(dirname "${1:-./rnnlua}")" && pwd)/$(basename "${1:-./rnnlua}")
TOY=tests/experiment/toy.lua
CLUSTER=tests/slurm/cluster.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-slurm.XXXXXX")
chmod 755 "$TMP"

pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
check() { if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi; }
finish() {
    echo "slurm: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}

# the cluster: stopped on every way out
CLUSTER_CRED_EXPIRE=5 bash "$CLUSTER" start "$TMP/cluster" >"$TMP/cluster.log" 2>&1
status=$?
if [ "$status" -eq 77 ]; then
    echo "# skipped: $(tail -n 1 "$TMP/cluster.log")"
    rm -rf "$TMP"
    echo "slurm: 0 passed, 0 failed (skipped)"
    exit 0
fi
trap 'bash "$CLUSTER" stop "$TMP/cluster" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
if [ "$status" -ne 0 ]; then
    cat "$TMP/cluster.log"
    not_ok "a single-node Slurm cluster starts on localhost"
    finish
fi
ok "a single-node Slurm cluster starts on localhost ($(grep -o 'ports [0-9/]*' "$TMP/cluster.log" | head -n 1))"
eval "$(bash "$CLUSTER" env "$TMP/cluster")"

RUNS="h0=random/seed-1 h0=random/seed-2 h0=learned/seed-1 h0=learned/seed-2"
RUN_FILES="config.json metrics.csv metrics.jsonl eval.csv eval.jsonl series.json done checkpoint.safetensors best.safetensors"
REPORT_FILES="summary.csv summary.md index.html plots/loss.svg plots/grad_norm.svg"
same_files() {
    local r f
    for r in $RUNS; do
        for f in $RUN_FILES; do
            cmp -s "$1/toy/$r/$f" "$2/toy/$r/$f" || { echo "# differs: $r/$f"; return 1; }
        done
    done
    for f in $REPORT_FILES; do
        cmp -s "$1/toy/$f" "$2/toy/$f" || { echo "# differs: $f"; return 1; }
    done
}

# the same command, locally
ARGS="--set delay=0.06 --set checkpoint_every=20"
"$RNNLUA" "$TOY" --quiet --jobs 2 --out "$TMP/local" $ARGS
check $? "the local sweep finishes"

# the sweep on Slurm
"$RNNLUA" "$TOY" --launcher slurm --array-limit 2 --slurm time=10 --out "$TMP/slurm" $ARGS >"$TMP/submit.log" 2>&1
status=$?
cat "$TMP/submit.log" | sed 's/^/# /'
array=$(sed -n 's/.*as job array \([0-9]*\).*/\1/p' "$TMP/submit.log")
report=$(sed -n 's/.*report as job \([0-9]*\).*/\1/p' "$TMP/submit.log")
throttle=$(scontrol show job "$array" 2>/dev/null | grep -o 'ArrayTaskThrottle=[0-9]*' | head -n 1)
[ "$status" -eq 0 ] && [ -n "$array" ] && [ -n "$report" ] \
    && [ "$(wc -l <"$TMP"/slurm/toy/.slurm/*/tasks.txt)" -eq 4 ] && [ "$throttle" = ArrayTaskThrottle=2 ]
check $? "--launcher slurm submits a job array of 4 tasks ($array, $throttle) and a report job ($report)"
sbatch_line=$(scontrol show job "$report" 2>/dev/null | grep -o 'Dependency=[^ ]*')
echo "$sbatch_line" | grep -q "afterany:${array}"
check $? "the report job depends on the array (afterany): $sbatch_line"

# rows_of RUN: the training rows its metrics.csv holds so far
rows_of() {
    if [ -f "$TMP/slurm/toy/$1/metrics.csv" ]; then echo $(($(wc -l <"$TMP/slurm/toy/$1/metrics.csv") - 1))
    else echo 0; fi
}
tasks=$(ls "$TMP"/slurm/toy/.slurm/*/tasks.txt)
for _ in $(seq 1 600); do [ "$(rows_of "$(sed -n 1p "$tasks")")" -ge 10 ] && break; sleep 0.1; done
"$RNNLUA" "$TOY" --status --out "$TMP/slurm" $ARGS >"$TMP/status-mid.txt" 2>&1
sed 's/^/# /' "$TMP/status-mid.txt"
grep -q 'running .*Slurm job '"$array"'_0' "$TMP/status-mid.txt" && grep -q 'pending .*Slurm task' "$TMP/status-mid.txt"
check $? "--status shows runs running (with their Slurm task) and pending"

# Slurm's warning signal to task 2 mid-run, as before a time limit, once
# task 3 has started too: while a task of the array is pending, scancel
# sends the signal again every few seconds (see FINDINGS.md)
third=$(sed -n 3p "$tasks")
rows=0
for _ in $(seq 1 900); do
    rows=$(rows_of "$third")
    [ "$rows" -ge 5 ] && [ -z "$(squeue -h -r -j "$array" -t PENDING -o %i 2>/dev/null)" ] && break
    sleep 0.1
done
timeout 20 scancel --batch --signal=USR1 "${array}_2" && [ "$rows" -lt 60 ]
check $? "scancel sends the warning signal (USR1) to task ${array}_2 at row $rows of 60"

# wait for the report job to end
for _ in $(seq 1 900); do
    [ -z "$(squeue -h -j "$array,$report" 2>/dev/null)" ] && break
    sleep 0.2
done
[ -z "$(squeue -h -j "$array,$report" 2>/dev/null)" ]
check $? "every task and the report job have ended"
out2=$(ls "$TMP"/slurm/toy/.slurm/*/task-"${array}"_2.out)
sed 's/^/# task 2: /' "$out2"
# (slurmstepd's "CANCELLED ... DUE TO JOB REQUEUE" line appears only when
# the task has not exited yet as the requeue ends it)
grep -q 'stopped at step' "$out2" && grep -q "requeued Slurm task ${array}_2" "$out2" \
    && grep -q 'resuming at step' "$out2"
check $? "task 2 stopped with a checkpoint, requeued itself and resumed from the checkpoint"
same_files "$TMP/local" "$TMP/slurm"
check $? "every run's files, the summary and the report equal the local sweep's (cmp)"
"$RNNLUA" "$TOY" --status --out "$TMP/slurm" $ARGS | head -n 1 | grep -q ': 4 done, 0 running, 0 pending, 0 failed'
check $? "--status: 4 done"
"$RNNLUA" "$TOY" --launcher slurm --out "$TMP/slurm" $ARGS 2>&1 | grep -q 'nothing to submit (4 runs done'
check $? "submitting again submits nothing"

finish
