#!/bin/bash
# Worker processes of rnn.experiment (--jobs N), on tests/experiment/toy.lua:
#   - every file of a --jobs 2 sweep (runs, checkpoints, summary, plots,
#     index.html) equals a --jobs 1 sweep's (cmp);
#   - two commands started together on one folder share the runs: each run
#     is started by exactly one of them, both end with every run done and
#     the same files;
#   - SIGTERM or SIGINT to the sweep: every worker stops at a step's end
#     with a checkpoint of that step, the command exits 143 / 130, and the
#     rerun ends with the same files;
#   - SIGKILL at random moments, of the whole process group or of the
#     sweep process alone (its workers then stop by themselves): every
#     checkpoint on disk loads, no worker is left behind, and the rerun
#     ends with the same files; a run whose holder was killed is taken over;
#   - a failing run: without --keep-going no new run starts and the command
#     exits non-zero after the running ones end; with it the others finish;
#     a worker that crashes (SIGSEGV) is recorded in error.txt; a rerun
#     resumes the failed run to the same files;
#   - the display: one line per active run and a total line on a terminal,
#     plain lines (no escape sequences) otherwise.
#   - the workers of --jobs N are N processes, each doing runs in turn;
# Usage: tests/experiment/jobs_test.sh [RNNLUA]. Prints ok/not ok lines and
# "jobs: N passed, M failed" last.
set -u
RNNLUA=${1:-./rnnlua}
TOY=tests/experiment/toy.lua
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-jobs.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
check() { if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi; }

RUNS="h0=random/seed-1 h0=random/seed-2 h0=learned/seed-1 h0=learned/seed-2"
RUN_FILES="config.json metrics.csv metrics.jsonl eval.csv eval.jsonl series.json done checkpoint.safetensors best.safetensors"
REPORT_FILES="summary.csv summary.md index.html plots/loss.svg plots/grad_norm.svg plots/clipped.svg"

# same_files DIR1 DIR2: every file of every run, and the report, identical
same_files() {
    local r f
    for r in $RUNS; do
        for f in $RUN_FILES; do
            if ! cmp -s "$1/toy/$r/$f" "$2/toy/$r/$f"; then
                echo "# differs: $r/$f" >&2
                return 1
            fi
        done
    done
    for f in $REPORT_FILES; do
        if ! cmp -s "$1/toy/$f" "$2/toy/$f"; then
            echo "# differs: $f" >&2
            return 1
        fi
    done
    return 0
}

# same_results DIR1 DIR2: the metrics files of every run identical
same_results() {
    local r f
    for r in $RUNS; do
        for f in metrics.csv metrics.jsonl eval.csv eval.jsonl series.json done best.safetensors; do
            if ! cmp -s "$1/toy/$r/$f" "$2/toy/$r/$f"; then
                echo "# differs: $r/$f" >&2
                return 1
            fi
        done
    done
    return 0
}

# loads DIR: every checkpoint under DIR loads; prints how many
loads() {
    "$RNNLUA" -e "
      local n = 0
      for path in io.popen('find \"$1\" -name checkpoint.safetensors'):lines() do
        local t, m = rnn.load(path)
        assert(tonumber(m.step) >= 1, path .. ': no step')
        n = n + 1
      end
      io.write(n)"
}

# graceful DIR: every run with metrics has a checkpoint at its last row's step
graceful() {
    local r rows step
    for r in $RUNS; do
        [ -f "$1/toy/$r/metrics.csv" ] || continue
        [ -f "$1/toy/$r/done" ] && continue
        rows=$(($(wc -l <"$1/toy/$r/metrics.csv") - 1))
        step=$("$RNNLUA" -e "local _, m = rnn.load('$1/toy/$r/checkpoint.safetensors'); io.write(m.step)" 2>/dev/null)
        if [ "$rows" != "$step" ]; then
            echo "# $r: $rows rows, checkpoint at step $step" >&2
            return 1
        fi
    done
    return 0
}

# no_workers DIR: no process is left running a worker for DIR (a worker
# whose parent died ends its step first: under the sanitizers on a busy
# machine that takes a while, so wait up to 5 s)
no_workers() {
    local _
    for _ in $(seq 1 50); do
        pgrep -f -- "--out $1 .*--worker" >/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# (in the foreground only: "$!" of a backgrounded function is a subshell)
toy() { "$RNNLUA" "$TOY" "$@"; }

# 1. --jobs 2 against --jobs 1
toy --quiet --jobs 1 --out "$TMP/serial"
s1=$?
TOY_PIDS="$TMP/pids" toy --quiet --jobs 2 --out "$TMP/jobs2"
s2=$?
[ "$s1" -eq 0 ] && [ "$s2" -eq 0 ] && same_files "$TMP/serial" "$TMP/jobs2"
check $? "--jobs 2 writes the same files as --jobs 1 (runs, checkpoints, summary, plots, index.html)"
[ "$(wc -l <"$TMP/pids")" -eq 4 ] && [ "$(sort -u "$TMP/pids" | wc -l)" -eq 2 ]
check $? "--jobs 2: two worker processes do the 4 runs ($(sort -u "$TMP/pids" | wc -l) pids)"
toy --quiet --jobs 4 --out "$TMP/jobs4" --set checkpoint_every=7
toy --quiet --jobs 1 --out "$TMP/serial7" --set checkpoint_every=7
same_files "$TMP/serial7" "$TMP/jobs4"
check $? "--jobs 4 (more workers than cores) writes the same files as --jobs 1"

# 2. two commands on one folder at once
C="$TMP/two"
"$RNNLUA" "$TOY" --jobs 2 --out "$C" --set delay=0.003 >"$TMP/two-a.log" 2>&1 &
a=$!
toy --jobs 2 --out "$C" --set delay=0.003 >"$TMP/two-b.log" 2>&1
sb=$?
wait "$a"
sa=$?
starts=$(cat "$TMP/two-a.log" "$TMP/two-b.log" | grep -cE ': (started|resuming at step)')
[ "$sa" -eq 0 ] && [ "$sb" -eq 0 ] && [ "$starts" -eq 4 ] && same_results "$TMP/serial" "$C" \
    && cmp -s "$TMP/serial/toy/summary.csv" "$C/toy/summary.csv"
check $? "two commands on one folder share the runs ($starts starts for 4 runs), both end complete and equal"

# 3. SIGTERM and SIGINT: each worker checkpoints and stops; the rerun resumes
# (runs of ~2 s, so that they still run after --status under a sanitizer on a
# busy machine)
for sig in TERM INT; do
    D="$TMP/sig-$sig"
    "$RNNLUA" "$TOY" --jobs 2 --out "$D" --set delay=0.03 >"$TMP/sig.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 500); do
        [ -f "$D/toy/h0=random/seed-2/metrics.csv" ] && [ "$(wc -l <"$D/toy/h0=random/seed-2/metrics.csv")" -gt 5 ] && break
        sleep 0.01
    done
    toy --status --out "$D" --set delay=0.03 >"$TMP/status-running.txt"
    kill -"$sig" "$pid"
    wait "$pid"
    status=$?
    toy --status --out "$D" --set delay=0.03 >"$TMP/status-stopped.txt"
    want=$([ "$sig" = TERM ] && echo 143 || echo 130)
    graceful "$D"
    g=$?
    no_workers "$D"
    nw=$?
    toy --quiet --jobs 2 --out "$D" --set delay=0.03
    rerun=$?
    same_results "$TMP/serial" "$D"
    same=$?
    [ "$status" -eq "$want" ] && [ "$g" -eq 0 ] && [ "$nw" -eq 0 ] && [ "$rerun" -eq 0 ] && [ "$same" -eq 0 ] \
        && grep -q 'stopped at step' "$TMP/sig.log"
    check $? "SIG$sig: status $status, every worker stopped with a checkpoint of its last step, rerun equal"
    if [ "$sig" = TERM ]; then
        grep -q '^toy: 4 runs in .*: 0 done, 2 running, 0 pending, 0 failed, 0 stopped, 2 not started$' \
            "$TMP/status-running.txt" && grep -qE '^h0=random +2  running +[0-9]+/60  pid [0-9]+ on ' \
            "$TMP/status-running.txt" \
            && grep -q ': 0 done, 0 running, 0 pending, 0 failed, 2 stopped, 2 not started$' "$TMP/status-stopped.txt"
        check $? "--status: two runs running (with their pid), then two stopped, two not started"
    fi
done

# 4. SIGKILL at random moments: of the process group, or of the sweep process alone
for who in group parent; do
    R="$TMP/kill-$who"
    kills=0
    corrupt=0
    left=0
    for _ in $(seq 1 8); do
        [ -f "$R/toy/h0=learned/seed-2/done" ] && [ -f "$R/toy/h0=learned/seed-1/done" ] && break
        setsid "$RNNLUA" "$TOY" --quiet --jobs 2 --out "$R" --set checkpoint_every=1 --set delay=0.002 \
            >/dev/null 2>&1 &
        pid=$!
        sleep "0.$((RANDOM % 30 + 10))"
        if [ "$who" = group ]; then
            kill -9 -- "-$pid" 2>/dev/null && kills=$((kills + 1))
        else
            kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
        fi
        wait "$pid" 2>/dev/null
        no_workers "$R" || left=$((left + 1))
        [ -d "$R" ] && { loads "$R" >/dev/null 2>&1 || corrupt=$((corrupt + 1)); }
    done
    toy --quiet --jobs 2 --out "$R" --set checkpoint_every=1 --set delay=0.002
    rerun=$?
    [ "$corrupt" -eq 0 ] && [ "$left" -eq 0 ] && [ "$rerun" -eq 0 ]
    ok_=$?
    [ "$ok_" -eq 0 ] || echo "# $who: $corrupt kills left an unloadable checkpoint, $left left a worker, rerun status $rerun"
    check $ok_ "SIGKILL of the $who x$kills: every checkpoint loads, no worker left running, the rerun finishes"
    same_results "$TMP/serial" "$R"
    check $? "SIGKILL of the $who x$kills: the rerun's metrics files equal the uninterrupted sweep's"
done

# a run whose holder was killed is taken over at once (the kernel dropped its lock)
K="$TMP/takeover"
"$RNNLUA" "$TOY" --quiet --jobs 1 --out "$K" --set delay=0.01 &
pid=$!
for _ in $(seq 1 500); do [ -f "$K/toy/h0=random/seed-1/checkpoint.safetensors" ] && break; sleep 0.01; done
kill -9 "$pid"
wait "$pid" 2>/dev/null
t0=$(date +%s)
toy --quiet --jobs 2 --out "$K" --set delay=0.01
rerun=$?
t1=$(date +%s)
[ "$rerun" -eq 0 ] && [ $((t1 - t0)) -lt 20 ] && same_results "$TMP/serial" "$K"
check $? "the lock of a SIGKILLed run is taken over at once ($((t1 - t0)) s) and the run resumes to the same files"

# 5. failing runs
F="$TMP/fail"
TOY_FAIL=random:1:10 toy --jobs 2 --out "$F" --set delay=0.005 >"$TMP/fail.log" 2>&1
status=$?
n_done=$(ls "$F"/toy/*/seed-*/done 2>/dev/null | wc -l)
[ "$status" -ne 0 ] && [ -f "$F/toy/h0=random/seed-1/error.txt" ] && [ "$n_done" -eq 1 ] \
    && ! grep -q 'h0=learned seed [12]: started' "$TMP/fail.log" \
    && grep -q 'injected failure at step 10' "$F/toy/h0=random/seed-1/error.txt"
check $? "without --keep-going: a failed run stops new starts, the running one ends ($n_done done), status $status"
toy --status --out "$F" --set delay=0.005 | grep -q ': 1 done, 0 running, 0 pending, 1 failed, 0 stopped, 2 not started$'
check $? "--status: 1 done, 1 failed, 2 not started"
TOY_FAIL=random:1:10 toy --quiet --jobs 2 --keep-going --out "$F" --set delay=0.005 2>/dev/null
status=$?
n_done=$(ls "$F"/toy/*/seed-*/done 2>/dev/null | wc -l)
[ "$status" -ne 0 ] && [ "$n_done" -eq 3 ] && grep -q '1 of 2' "$F/toy/summary.md"
check $? "with --keep-going: the other runs finish ($n_done done), the summary counts the failed run out, status $status"
toy --quiet --jobs 2 --out "$F" --set delay=0.005
status=$?
[ "$status" -eq 0 ] && [ ! -f "$F/toy/h0=random/seed-1/error.txt" ] && same_results "$TMP/serial" "$F"
check $? "the rerun resumes the failed run from its checkpoint: same files, error.txt gone"
S="$TMP/segv"
TOY_FAIL=learned:2:10:segv toy --quiet --jobs 2 --keep-going --out "$S" 2>"$TMP/segv.log"
status=$?
# (under AddressSanitizer the worker reports the SEGV itself and exits 1)
[ "$status" -ne 0 ] && grep -Eq 'died of signal 11|SEGV' "$S/toy/h0=learned/seed-2/error.txt" \
    && [ "$(ls "$S"/toy/*/seed-*/done | wc -l)" -eq 3 ]
check $? "a worker that dies of SIGSEGV is a failed run, with error.txt; the others finish"

# 6. the display
P="$TMP/display"
COLUMNS=120 script -qec "$RNNLUA $TOY --jobs 2 --out $P --set delay=0.01" /dev/null >"$TMP/tty.log" 2>&1
t=$?
tr '\r' '\n' <"$TMP/tty.log" | grep -aq '^\[[12]/4\] h0=random s[12] \[=*  *\] [0-9]*/60' \
    && grep -aq 'runs: [0-9]/4 done, 2 running' "$TMP/tty.log" && grep -aq $'\e\[3A' "$TMP/tty.log"
r=$?
[ $r -eq 0 ] || tr '\r' '\n' <"$TMP/tty.log" | cat -v | grep -v '^$' | head -20 | sed 's/^/# /' >&2
check $r "on a terminal: a line per active run and a total line, redrawn in place (status $t)"
toy --jobs 2 --out "$TMP/plain" >"$TMP/plain.log" 2>&1
! grep -aq $'\e' "$TMP/plain.log" && grep -q '\[4/4\] h0=learned seed 2: done in' "$TMP/plain.log"
check $? "into a pipe: plain lines, no escape sequences"

echo "jobs: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
