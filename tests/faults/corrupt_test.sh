#!/bin/bash
# Damaged run folders (tests/experiment/toy.lua, one run): every file of a
# run folder — config.json, metrics.csv, eval.csv, checkpoint.safetensors,
# done, summary.csv — truncated, with a byte flipped, or empty. A rerun of
# the same command must either end with the files of an uninterrupted run
# (cmp) or fail with a message naming the damaged file; never end with
# other results; a damaged done marker is said so, and the run resumed
# from its checkpoint. Also: a damaged newest checkpoint falls back to
# checkpoint.prev.safetensors; a config.json gone refuses to resume; a
# string metric holding a newline resumes to the same files.
# Usage: tests/faults/corrupt_test.sh [RNNLUA]. Prints ok/not ok lines,
# the number of cases, and "corrupt: N passed, M failed" last.
set -u
RNNLUA=${1:-./rnnlua}
TOY=tests/experiment/toy.lua
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-corrupt.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }

ARGS=(--seeds 1 --set h0=random --steps 30 --set checkpoint_every=10 --quiet --jobs 1)
RUN=toy/h0=random/seed-1
FILES="metrics.csv metrics.jsonl eval.csv eval.jsonl done series.json checkpoint.safetensors best.safetensors"

toy() { local out=$1; shift; "$RNNLUA" "$TOY" --out "$out" "${ARGS[@]}" "$@"; }

# same DIR: the run's files and summary.csv equal the uninterrupted run's
same() {
    local f
    for f in $FILES; do
        cmp -s "$TMP/ref/$RUN/$f" "$1/$RUN/$f" || { echo "# differs: $f" >&2; return 1; }
    done
    cmp -s "$TMP/ref/toy/summary.csv" "$1/toy/summary.csv" || { echo "# differs: summary.csv" >&2; return 1; }
}

# damage FILE MODE: truncate (to half), flip (one bit of the middle byte),
# flip-end (of the 5th byte from the end), empty
damage() {
    local size
    size=$(stat -c %s "$1")
    case $2 in
        truncate) truncate -s $((size / 2)) "$1" ;;
        empty) : >"$1" ;;
        flip|flip-end)
            local at=$((size / 2))
            [ "$2" = flip-end ] && at=$((size - 5)) # the last tensor's data
            local byte
            byte=$(od -An -tu1 -j "$at" -N1 "$1" | tr -d ' ')
            printf "$(printf '\\%03o' $(((byte ^ 1) & 255)))" |
                dd of="$1" bs=1 seek="$at" conv=notrunc status=none ;;
    esac
}

toy "$TMP/ref" >/dev/null 2>&1 || { echo "not ok - the reference run"; echo "corrupt: 0 passed, 1 failed"; exit 1; }
# interrupted: killed after step 25 (checkpoints of steps 10 and 20 on disk)
RNNLUA_EXPERIMENT_KILL_AT=25 toy "$TMP/killed" >/dev/null 2>&1
[ -f "$TMP/killed/$RUN/checkpoint.prev.safetensors" ] && ok "a checkpoint keeps the one before it" ||
    not_ok "a checkpoint keeps the one before it"
cp -r "$TMP/ref" "$TMP/finished"

cases=0
# case BASE FILE MODE: damages FILE of a copy of BASE, reruns, checks
case_() {
    local base=$1 file=$2 mode=$3 dir="$TMP/case"
    cases=$((cases + 1))
    rm -rf "$dir"
    cp -r "$TMP/$base" "$dir"
    local path="$dir/$RUN/$file"
    [ "$file" = summary.csv ] && path="$dir/toy/summary.csv"
    damage "$path" "$mode"
    toy "$dir" >"$TMP/out" 2>&1
    local status=$?
    if [ "$file" = done ] && ! grep -q 'done is not a done marker' "$TMP/out"; then
        # (a damaged marker is said, not silently taken for unfinished)
        not_ok "$base run, $file $mode: resumed without saying the done marker is damaged"
    elif [ $status -eq 0 ] && same "$dir" 2>/dev/null; then
        ok "$base run, $file $mode: resumed to the same files"
    elif [ $status -ne 0 ] && grep -q "$file" "$TMP/out"; then
        ok "$base run, $file $mode: refused, naming $file"
    else
        not_ok "$base run, $file $mode: exit $status"
        sed 's/^/# /' "$TMP/out" | head -n 5
    fi
}

for file in config.json metrics.csv eval.csv checkpoint.safetensors; do
    for mode in truncate flip empty; do case_ killed "$file" "$mode"; done
done
case_ killed checkpoint.safetensors flip-end
# (a finished run is not resumed: its checkpoint is not read again)
for file in done summary.csv config.json; do
    for mode in truncate flip empty; do case_ finished "$file" "$mode"; done
done

# the newest checkpoint damaged: resumed from the previous one, saying so
rm -rf "$TMP/case"; cp -r "$TMP/killed" "$TMP/case"
damage "$TMP/case/$RUN/checkpoint.safetensors" flip
toy "$TMP/case" >"$TMP/out" 2>&1
if [ $? -eq 0 ] && same "$TMP/case" && grep -q 'checkpoint.prev.safetensors' "$TMP/out"; then
    ok "a damaged checkpoint falls back to checkpoint.prev.safetensors, to the same files"
else
    not_ok "a damaged checkpoint falls back to checkpoint.prev.safetensors"; sed 's/^/# /' "$TMP/out" | head -n 5
fi

# config.json gone, and --set lr=0.05: refused (it resumed with lr 0.05 before)
rm -rf "$TMP/case"; cp -r "$TMP/killed" "$TMP/case"
rm "$TMP/case/$RUN/config.json"
toy "$TMP/case" --set lr=0.05 >"$TMP/out" 2>&1
if [ $? -ne 0 ] && grep -q 'config.json is missing' "$TMP/out" && grep -q -- '--fresh' "$TMP/out" &&
    [ ! -f "$TMP/case/$RUN/config.json" ]; then
    ok "a run folder without config.json is not resumed"
else
    not_ok "a run folder without config.json is not resumed"; sed 's/^/# /' "$TMP/out" | head -n 5
fi

echo "# $cases damaged-file cases"
echo "corrupt: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
