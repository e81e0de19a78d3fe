#!/bin/bash
# Crash and resume tests of rnn.experiment, on tests/experiment/toy.lua:
#   - two uninterrupted runs give identical metrics files;
#   - a run SIGKILLed from outside after its first checkpoint, then rerun
#     with the same command, ends with metrics files identical (cmp) to an
#     uninterrupted run's, and its final checkpoint loads;
#   - the same for kills at exact points (the process kills itself with
#     SIGKILL through RNNLUA_EXPERIMENT_KILL_AT): between checkpoints, at a
#     checkpoint step before its checkpoint, at the last step, just before
#     the done marker, and during an extension of finished runs to more
#     steps;
#   - kills at random moments, over and over, with a checkpoint every step
#     (so some land inside a checkpoint write): every checkpoint on disk
#     always loads, and the end result is identical again.
# Usage: tests/experiment/resume_test.sh [RNNLUA]. Prints ok/not ok lines and
# "experiment: N passed, M failed" last.
set -u
RNNLUA=${1:-./rnnlua}
TOY=tests/experiment/toy.lua
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-resume.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
check() { if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi; }

RUNS="h0=random/seed-1 h0=random/seed-2 h0=learned/seed-1 h0=learned/seed-2"
FILES="metrics.csv metrics.jsonl eval.csv eval.jsonl series.json done"

# same_results DIR1 DIR2: every metrics file of every run identical (cmp)
same_results() {
    local r f
    for r in $RUNS; do
        for f in $FILES; do
            if ! cmp -s "$1/toy/$r/$f" "$2/toy/$r/$f"; then
                echo "# differs: $r/$f" >&2
                return 1
            fi
        done
    done
    return 0
}

# loads DIR: every checkpoint under DIR loads, with its step and tensors
loads() {
    "$RNNLUA" -e "
      local n = 0
      for path in io.popen('find \"$1\" -name checkpoint.safetensors'):lines() do
        local t, m = rnn.load(path)
        assert(tonumber(m.step) >= 1, path .. ': no step')
        assert(t['model.lstm.weight_hh_l0'], path .. ': no model tensors')
        assert(t['optim.state.1.exp_avg'], path .. ': no optimizer state')
        n = n + 1
      end
      io.write(n)"
}

# (in the foreground only: "$!" of a backgrounded function is a subshell,
# and killing it would leave the interpreter running). --jobs 1: the runs
# in the process itself, which the kills below hit; worker processes are
# tested by tests/experiment/jobs_test.sh.
run_toy() { "$RNNLUA" "$TOY" --quiet --jobs 1 "$@"; }

# 1. reference runs
run_toy --out "$TMP/A"
check $? "an uninterrupted run finishes"
run_toy --out "$TMP/A2"
same_results "$TMP/A" "$TMP/A2"
check $? "two uninterrupted runs give identical metrics files"

# 2. SIGKILL from outside after the first checkpoint, then the same command
B="$TMP/B"
first="$B/toy/h0=random/seed-1/checkpoint.safetensors"
"$RNNLUA" "$TOY" --quiet --jobs 1 --out "$B" --set delay=0.004 &
pid=$!
for _ in $(seq 1 2000); do
    [ -f "$first" ] && break
    sleep 0.01
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
status=$?
rows=$(($(wc -l <"$B/toy/h0=random/seed-1/metrics.csv") - 1))
[ "$status" -eq 137 ] && [ ! -f "$B/toy/h0=learned/seed-2/done" ]
check $? "the run was killed mid-way (status $status, first run at row $rows)"
run_toy --out "$B" --set delay=0.004
check $? "the rerun of the same command finishes"
same_results "$TMP/A" "$B"
check $? "the resumed run's metrics files equal the uninterrupted run's (cmp)"
n=$(loads "$B")
[ "$n" = 4 ]
check $? "the final checkpoints load ($n of 4)"
last=$("$RNNLUA" -e "local _, m = rnn.load('$B/toy/h0=learned/seed-2/checkpoint.safetensors'); io.write(m.step)")
[ "$last" = 60 ]
check $? "the final checkpoint is at the last step ($last)"

# 3. kills at exact points
for at in 22 30 60 "done"; do
    D="$TMP/kill-$at"
    RNNLUA_EXPERIMENT_KILL_AT=$at run_toy --out "$D" 2>/dev/null
    status=$?
    run_toy --out "$D"
    rerun=$?
    same_results "$TMP/A" "$D"
    same=$?
    [ "$status" -eq 137 ] && [ "$rerun" -eq 0 ] && [ "$same" -eq 0 ]
    check $? "killed at step $at (status $status), resumed: identical metrics files"
done

# 3a. a finished run extended to more steps, killed during the extension
# and rerun, ends with the files of a run started with that many steps
X="$TMP/extend"
run_toy --out "$X" --steps 30
RNNLUA_EXPERIMENT_KILL_AT=37 run_toy --out "$X" --steps 60 2>/dev/null
status=$?
run_toy --out "$X" --steps 60
rerun=$?
same_results "$TMP/A" "$X"
same=$?
[ "$status" -eq 137 ] && [ "$rerun" -eq 0 ] && [ "$same" -eq 0 ]
check $? "finished at 30 steps, extended to 60, killed at step 37 (status $status), resumed: identical metrics files"

# 3b. the same for the experiment `make run` runs, shortened: its text
# batches and h0 noise must come back after a resume as well
H0=experiments/h0_comparison.lua
run_h0() {
    "$RNNLUA" "$H0" --only learned+noise --seeds 1 --steps 24 --set checkpoint_every=8 --set eval_every=8 --quiet \
        --jobs 1 "$@"
}
run_h0 --out "$TMP/H0ref"
RNNLUA_EXPERIMENT_KILL_AT=13 run_h0 --out "$TMP/H0" 2>/dev/null
status=$?
run_h0 --out "$TMP/H0"
same=0
for c in "h0=learned+noise,task=text" "h0=learned+noise,task=adding"; do
    for f in metrics.csv metrics.jsonl eval.csv "done"; do
        cmp -s "$TMP/H0ref/h0_comparison/$c/seed-1/$f" "$TMP/H0/h0_comparison/$c/seed-1/$f" || { same=1; echo "# differs: $c/$f"; }
    done
done
[ "$status" -eq 137 ] && [ "$same" -eq 0 ]
check $? "h0_comparison killed at step 13 and resumed: identical metrics files"

# 4. kills at random moments, a checkpoint every step
R="$TMP/R"
kills=0
corrupt=0
for _ in $(seq 1 15); do
    [ -f "$R/toy/h0=learned/seed-2/done" ] && break
    "$RNNLUA" "$TOY" --quiet --jobs 1 --out "$R" --set checkpoint_every=1 --set delay=0.002 2>/dev/null &
    pid=$!
    sleep "0.$((RANDOM % 25 + 5))"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null
    [ -d "$R" ] && { loads "$R" >/dev/null 2>&1 || corrupt=$((corrupt + 1)); }
done
run_toy --out "$R" --set checkpoint_every=1 --set delay=0.002
[ "$corrupt" -eq 0 ]
check $? "after $kills random kills every checkpoint on disk loaded"
same_results "$TMP/A" "$R"
check $? "after $kills random kills the metrics files equal the uninterrupted run's"

echo "experiment: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
