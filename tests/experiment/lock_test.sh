#!/bin/bash
# Simultaneous starts of one run (tests/experiment/toy.lua, one cell, one
# seed): PAIRS pairs of commands started together on one folder (half with
# --jobs 1, half with worker processes). In every pair exactly one process
# sets the run up (TOY_PIDS), both exit 0, and the run's metrics files hold
# each step once and equal an uninterrupted run's. The run's lock is an
# fcntl lock (rnn.experiment.lock): taken in one call, released by the
# kernel when its holder ends, so no pid is read and none can be stale.
# Usage: tests/experiment/lock_test.sh [RNNLUA] [PAIRS]. Prints ok/not ok
# lines and "lock: N passed, M failed" last.
set -u
RNNLUA=${1:-./rnnlua}
PAIRS=${2:-20}
TOY=tests/experiment/toy.lua
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-lock.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }

ARGS=(--seeds 1 --set h0=random --steps 20 --quiet)
RUN=toy/h0=random/seed-1
"$RNNLUA" "$TOY" --out "$TMP/ref" "${ARGS[@]}" --jobs 1 >/dev/null 2>&1 ||
    { echo "not ok - the reference run"; echo "lock: 0 passed, 1 failed"; exit 1; }

winners_ok=0
files_ok=0
exits_ok=0
# two pairs at a time (each on its own folder), then their checks
start_pair() {
    local i=$1 out="$TMP/o$1" jobs=1 who
    [ $((i % 2)) -eq 0 ] && jobs=2
    for who in a b; do
        ( TOY_PIDS="$TMP/pids$i" "$RNNLUA" "$TOY" --out "$out" "${ARGS[@]}" --jobs $jobs >"$TMP/$who$i.log" 2>&1
          echo $? >"$TMP/$who$i.rc" ) &
    done
}
check_pair() {
    local i=$1 out="$TMP/o$1" n same f dups
    n=$(wc -l <"$TMP/pids$i" 2>/dev/null || echo 0)
    if [ "$n" -eq 1 ]; then winners_ok=$((winners_ok + 1)); else echo "# pair $i: $n processes set the run up"; fi
    if [ "$(cat "$TMP/a$i.rc")" = 0 ] && [ "$(cat "$TMP/b$i.rc")" = 0 ]; then exits_ok=$((exits_ok + 1))
    else echo "# pair $i: exit statuses $(cat "$TMP/a$i.rc") and $(cat "$TMP/b$i.rc")"; sed 's/^/#   /' "$TMP/a$i.log" "$TMP/b$i.log" | head -n 6; fi
    same=1
    for f in metrics.csv metrics.jsonl eval.csv eval.jsonl done; do
        cmp -s "$TMP/ref/$RUN/$f" "$out/$RUN/$f" || { same=0; echo "# pair $i: $f differs"; }
    done
    dups=$(cut -d, -f1 "$out/$RUN/eval.csv" 2>/dev/null | sort | uniq -d | wc -l)
    [ "$dups" -eq 0 ] || { same=0; echo "# pair $i: $dups steps twice in eval.csv"; }
    [ $same -eq 1 ] && files_ok=$((files_ok + 1))
}
i=1
while [ $i -le "$PAIRS" ]; do
    start_pair $i
    [ $i -lt "$PAIRS" ] && start_pair $((i + 1))
    wait
    check_pair $i
    [ $i -lt "$PAIRS" ] && check_pair $((i + 1))
    i=$((i + 2))
done
[ $winners_ok -eq "$PAIRS" ] && ok "one process of each of $PAIRS pairs ran the run" ||
    not_ok "one process of each pair ran the run ($winners_ok of $PAIRS)"
[ $exits_ok -eq "$PAIRS" ] && ok "both processes of each pair exit 0" ||
    not_ok "both processes of each pair exit 0 ($exits_ok of $PAIRS)"
[ $files_ok -eq "$PAIRS" ] && ok "each pair's run has each step once, the files of an uninterrupted run" ||
    not_ok "each pair's run has the files of an uninterrupted run ($files_ok of $PAIRS)"
echo "lock: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
