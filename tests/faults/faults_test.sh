#!/bin/bash
# Fault injection into every file the experiment harness writes, on the toy
# experiment (tests/experiment/toy.lua, 10 steps, one seed, two cells):
#   - through the test-only hook of rnn.experiment.files
#     (RNNLUA_TEST_FAULT=<file>:<n>:<CODE>[:<stage>]: the n-th write, open,
#     fsync or close of that file fails with CODE) at config.json, the
#     metrics and eval files (CSV and JSON lines, mid-row), series.json, the
#     done marker, summary.csv/.md, comparisons.csv/.md, the SVG plots and
#     index.html, during a first run, a resume and an extension;
#   - for real: a file-size limit (prlimit --fsize: EFBIG, SIGXFSZ must not
#     kill the process) at the checkpoint, best.safetensors and mid-row in
#     metrics.jsonl; a small tmpfs filled to several levels (ENOSPC), also
#     while rsvg-convert makes the PNG and PDF copies; a tmpfs remounted
#     read-only (EROFS); a folder without write permission for an
#     unprivileged user (EACCES, through setpriv). The mounts and setpriv
#     need root: without it those cases are skipped, and said so.
# After each fault: the command failed, its error names the file and the
# cause, the folder holds only complete files (tests/faults/check_folder.lua:
# no *.tmp*, every CSV/JSON/checkpoint parses), and a rerun without the
# fault ends with every file identical (cmp) to an uninterrupted run's.
# Usage: tests/faults/faults_test.sh [RNNLUA]. Prints ok/not ok lines,
# "faults: N injected, nothing lost" and "faults: N passed, M failed" last.
set -u
RNNLUA=${1:-./rnnlua}
case $RNNLUA in /*) ;; *) RNNLUA=$PWD/$RNNLUA ;; esac
TOY=$PWD/tests/experiment/toy.lua
CHECK=$PWD/tests/faults/check_folder.lua
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-faults.XXXXXX")
PRLIMIT=$(command -v prlimit)
TOP=$TMP
MOUNTS=()
cleanup() {
    local m
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[i]}" 2>/dev/null; done
    rm -rf "$TOP"
}
trap cleanup EXIT
# as root, the work on a tmpfs: the harness syncs every file it writes
# (fsync), which a disk makes slow and a tmpfs does not
if [ "$(id -u)" -eq 0 ] && mkdir "$TMP/w" && mount -t tmpfs -o size=256m tmpfs "$TMP/w" 2>/dev/null; then
    MOUNTS+=("$TMP/w")
    TMP=$TMP/w
fi

pass=0
fail=0
injected=0
lost=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
skip() { echo "ok - $1 # skipped: $2"; }

# rsvg-convert off the PATH (its PNG and PDF copies take most of a report's
# time); the ENOSPC case of the report's copies puts it back
NOPATH=/nonexistent
# the small configuration of every run
ARGS=(--quiet --jobs 1 --seeds 1 --steps 10 --set checkpoint_every=5 --set eval_every=5)
toy() { PATH=$NOPATH "$RNNLUA" "$TOY" "${ARGS[@]}" "$@"; }

# same DIR REF: every file of REF (but the locks) identical (cmp) in DIR,
# and no file in DIR that REF has not (one diff -r, not a cmp a file)
same() {
    diff -rq --exclude=.locks "$2" "$1" >"$TOP/same.log" 2>&1 || { sed 's/^/# /' "$TOP/same.log"; return 1; }
}

# complete DIR: only complete files there
complete() { "$RNNLUA" "$CHECK" "$1" >"$TMP/check.log" 2>&1 || { sed 's/^/# /' "$TMP/check.log"; return 1; }; }

# verdict NAME STATUS ERRFILE FILE CAUSE DIR REF [RERUN...]: a fault was
# injected (the command failed with an error naming FILE and CAUSE), the
# folder holds complete files, and the rerun (the command RERUN..., toy by
# default) ends identical to REF
verdict() {
    local name=$1 status=$2 errf=$3 file=$4 cause=$5 dir=$6 ref=$7
    shift 7
    [ $# -gt 0 ] || set -- toy
    injected=$((injected + 1))
    local why=""
    if [ "$status" -eq 0 ]; then why="the command did not fail"
    elif [ "$status" -gt 128 ]; then why="the command died of signal $((status - 128))"
    elif ! grep -q -- "$file" "$errf"; then why="its error does not name $file"
    elif ! grep -q -- "$cause" "$errf"; then why="its error does not say '$cause'"
    elif ! complete "$dir"; then why="incomplete files left"
    elif ! "$@" --out "$dir" >"$TMP/rerun.log" 2>&1; then why="the rerun failed: $(head -c 400 "$TMP/rerun.log")"
    elif ! same "$dir" "$ref"; then why="the rerun's files differ from an uninterrupted run's"
    fi
    if [ -z "$why" ]; then
        ok "$name"
    else
        lost=$((lost + 1))
        sed 's/^/# /' "$errf" | head -n 4
        not_ok "$name: $why"
    fi
}

# the causes as the errors spell them
declare -A CAUSE=([ENOSPC]="No space left on device" [EDQUOT]="Disk quota exceeded" [EFBIG]="File too large"
                  [EROFS]="read-only" [EACCES]="read-only" [EIO]="Input/output error")

# --- references: an uninterrupted run; one stopped at step 7 (killed), to
# resume; one finished at 5 steps, to extend, and its extension
toy --out "$TMP/ref"
toy --out "$TMP/ref" && complete "$TMP/ref"
[ $? -eq 0 ] || { not_ok "the reference run"; echo "faults: $pass passed, $fail failed"; exit 1; }
RNNLUA_EXPERIMENT_KILL_AT=7 toy --out "$TMP/killed" 2>/dev/null
toy --out "$TMP/short" --steps 5
cp -a "$TMP/short" "$TMP/ref-ext"
toy --out "$TMP/ref-ext"

# hook FROM NAME SPEC [TOY ARGS...]: the fault SPEC injected into a copy of
# folder FROM (or an empty folder: -) by the hook, then verdict
n_hook=0
hook() {
    local from=$1 name=$2 spec=$3
    shift 3
    n_hook=$((n_hook + 1))
    local d="$TMP/h$n_hook"
    if [ "$from" != - ]; then cp -a "$TMP/$from" "$d"; fi
    local file=${spec%%:*} code
    code=$(echo "$spec" | cut -d: -f3)
    RNNLUA_TEST_FAULT=$spec toy --out "$d" "$@" 2>"$TMP/err.log" >/dev/null
    local status=$?
    local ref="$TMP/ref"
    [ "$from" = short ] && ref="$TMP/ref-ext"
    verdict "$name: $spec" "$status" "$TMP/err.log" "$file" "${CAUSE[$code]}" "$d" "$ref"
    rm -rf "$d"
}

# 1. a first run
for spec in config.json:1:ENOSPC config.json:1:EROFS:open config.json:1:EACCES:open \
    metrics.csv:1:ENOSPC metrics.csv:7:EFBIG metrics.csv:1:EIO:fsync metrics.jsonl:1:EDQUOT metrics.jsonl:7:ENOSPC \
    eval.csv:1:ENOSPC eval.jsonl:2:EFBIG series.json:1:ENOSPC done:1:EDQUOT done:1:ENOSPC:close \
    metrics.csv:12:ENOSPC config.json:2:EDQUOT:fsync \
    summary.csv:1:ENOSPC summary.md:1:EFBIG comparisons.csv:1:EDQUOT comparisons.md:1:EROFS:open \
    loss.svg:1:ENOSPC eval_val_loss.svg:1:EDQUOT:fsync index.html:1:ENOSPC index.html:1:EIO:close; do
    hook - "first run" "$spec"
done
# 2. a resume (from step 5, after a kill at step 7): the metrics files cut
# back to the checkpoint, then appended to
for spec in metrics.csv:1:ENOSPC metrics.csv:1:EROFS:open metrics.jsonl:1:EDQUOT eval.csv:1:EFBIG \
    eval.jsonl:1:ENOSPC metrics.csv:3:ENOSPC metrics.jsonl:4:EFBIG eval.jsonl:2:ENOSPC series.json:1:EDQUOT \
    done:1:ENOSPC config.json:1:ENOSPC summary.csv:1:EFBIG summary.md:1:EDQUOT comparisons.csv:1:ENOSPC \
    comparisons.md:1:EFBIG:fsync loss.svg:1:EDQUOT index.html:1:ENOSPC; do
    hook killed "resume" "$spec"
done
# 3. an extension of runs finished at 5 steps to 10 (config.json records it)
for spec in config.json:1:ENOSPC config.json:1:EACCES:open metrics.jsonl:1:ENOSPC eval.csv:2:EDQUOT done:1:EFBIG; do
    hook short "extension" "$spec"
done

# 4. a real file-size limit: writes past it fail with EFBIG (SIGXFSZ
# ignored, not a silent death); the checkpoint and best.safetensors are
# written by rnn.save in C. Sizes: checkpoints ~10 KB, metrics.jsonl ~110
# bytes a row.
n_real=0
fsize() {
    local from=$1 name=$2 limit=$3 file=$4 ref=$5
    shift 5
    n_real=$((n_real + 1))
    local d="$TMP/r$n_real"
    if [ "$from" != - ]; then cp -a "$TMP/$from" "$d"; fi
    (PATH=$NOPATH "$PRLIMIT" --fsize="$limit" "$RNNLUA" "$TOY" "${ARGS[@]}" "$@" --out "$d") 2>"$TMP/err.log" >/dev/null
    verdict "$name" $? "$TMP/err.log" "$file" "File too large" "$d" "$ref" toy "$@"
    rm -rf "$d"
}
fsize - "EFBIG (file-size limit) at best.safetensors in a first run" 4096 best.safetensors "$TMP/ref"
fsize killed "EFBIG (file-size limit) at checkpoint.safetensors in a resume" 4096 checkpoint.safetensors "$TMP/ref"
NOEVAL=(--set eval_every=0 --set checkpoint_every=100)
toy --out "$TMP/ref-noeval" "${NOEVAL[@]}"
fsize - "EFBIG (file-size limit) at checkpoint.safetensors in a first run" 4096 checkpoint.safetensors \
    "$TMP/ref-noeval" "${NOEVAL[@]}"
fsize - "EFBIG (file-size limit) mid-row in metrics.jsonl" 800 metrics.jsonl "$TMP/ref-noeval" "${NOEVAL[@]}"

# the cases below mount file systems and change users: root only
if [ "$(id -u)" -ne 0 ] || ! mkdir "$TMP/probe" || ! mount -t tmpfs -o size=64k tmpfs "$TMP/probe" 2>/dev/null; then
    skip "ENOSPC on a small tmpfs, EROFS on a read-only mount, EACCES as an unprivileged user" \
        "mount -t tmpfs is not permitted here (not root)"
else
    umount "$TMP/probe"
    # 5. a full disk: a tmpfs of 2 MB filled up to FREE bytes left, the
    # run (a first run or a resume) on it
    FS="$TMP/fs"
    mkdir "$FS"
    mount -t tmpfs -o size=2m tmpfs "$FS" && MOUNTS+=("$FS")
    full() {
        local from=$1 free=$2 path=$3
        shift 3
        rm -rf "${FS:?}"/*
        local d="$FS/out"
        if [ "$from" != - ]; then cp -a "$TMP/$from" "$d"; fi
        local avail
        avail=$(($(stat -f -c '%a * %S' "$FS")))
        [ "$avail" -gt "$free" ] && head -c $((avail - free)) /dev/zero >"$FS/filler" 2>/dev/null
        (PATH=$path "$RNNLUA" "$TOY" "${ARGS[@]}" "$@" --out "$d") 2>"$TMP/err.log" >/dev/null
        local status=$?
        rm -f "$FS/filler"
        local file
        # (the first file of the folder the error names)
        file=$(grep -oE "$d/[^:' ]*" "$TMP/err.log" | head -n 1 | sed -E 's|.*/||; s/\.tmp\..*//')
        [ -n "$file" ] || file="(no file named)"
        local phase="first run"
        [ "$from" = - ] || phase=resume
        verdict "ENOSPC (full tmpfs, $free bytes free by statfs) in a $phase, at $file" "$status" "$TMP/err.log" \
            "$file" "No space left on device" "$d" "$TMP/ref"
    }
    for free in 0 16384 40960; do full - "$free" "$NOPATH"; done
    for free in 0 8192 24576; do full killed "$free" "$NOPATH"; done
    # the report's PNG and PDF copies (rsvg-convert) on a full disk, room
    # left for the rest of the report (~300 KB): the copies that could not
    # be made are named on stderr, their old files kept
    rm -rf "${FS:?}"/*
    "$RNNLUA" "$TOY" "${ARGS[@]}" --out "$FS/png" >/dev/null 2>&1
    cp -a "$FS/png" "$TMP/ref-png"
    avail=$(($(stat -f -c '%a * %S' "$FS")))
    head -c $((avail - 300000)) /dev/zero >"$FS/filler" 2>/dev/null
    "$RNNLUA" "$TOY" "${ARGS[@]}" --out "$FS/png" >/dev/null 2>"$TMP/err.log"
    status=$?
    rm -f "$FS/filler"
    injected=$((injected + 1))
    why=""
    if ! grep -qE "could not be made.*plots/[a-z_]+\.(png|pdf).*No space left on device" "$TMP/err.log"; then
        why="no error naming a PNG/PDF copy and the cause (status $status)"
    elif ! same "$FS/png/toy/plots" "$TMP/ref-png/toy/plots"; then why="a plot or an old copy changed"
    elif ! complete "$FS/png"; then why="incomplete files left"
    elif ! "$RNNLUA" "$TOY" "${ARGS[@]}" --out "$FS/png" >/dev/null 2>&1 || ! same "$FS/png" "$TMP/ref-png"; then
        why="the rerun's files differ"
    fi
    if [ -z "$why" ]; then
        ok "ENOSPC (full tmpfs) while rsvg-convert makes the PNG/PDF copies: named on stderr, old copies kept, rerun identical"
    else
        lost=$((lost + 1))
        sed 's/^/# /' "$TMP/err.log" | head -n 4
        not_ok "ENOSPC (full tmpfs) while rsvg-convert makes the PNG/PDF copies: $why"
    fi

    # 6. a read-only file system (EROFS): a resume on it, and --out on it
    rm -rf "${FS:?}"/*
    cp -a "$TMP/killed" "$FS/out"
    mount -o remount,ro "$FS"
    toy --out "$FS/out" 2>"$TMP/err.log" >/dev/null
    status=$?
    mount -o remount,rw "$FS"
    verdict "EROFS: a resume on a read-only mount" "$status" "$TMP/err.log" "$FS/out/toy" "Read-only file system" \
        "$FS/out" "$TMP/ref"
    mount -o remount,ro "$FS"
    toy --out "$FS/new" 2>"$TMP/err.log" >/dev/null
    status=$?
    mount -o remount,rw "$FS"
    verdict "EROFS: --out on a read-only mount names the folder" "$status" "$TMP/err.log" "the folder $FS is read-only" \
        "Read-only file system" "$FS/new" "$TMP/ref"

    # 7. a folder not writable for the user (EACCES), as nobody (root
    # writes anywhere)
    # (nobody must be able to read the source tree: not so in a clone under /root)
    if SETPRIV=$(command -v setpriv) && "$SETPRIV" --reuid=nobody --regid=nogroup --clear-groups "$RNNLUA" -e \
        "require 'rnn.experiment'; assert(io.open('$TOY'))" >/dev/null 2>&1; then
        as_nobody() { PATH=$NOPATH "$SETPRIV" --reuid=nobody --regid=nogroup --clear-groups "$RNNLUA" "$TOY" \
            "${ARGS[@]}" "$@"; }
        chmod 755 "$TOP" "$TMP"
        rm -rf "${FS:?}"/*
        chmod 777 "$FS"
        cp -a "$TMP/killed" "$FS/out"
        chown -R nobody:nogroup "$FS/out"
        run_dir="$FS/out/toy/h0=random/seed-1"
        chmod 555 "$run_dir"
        as_nobody --out "$FS/out" 2>"$TMP/err.log" >/dev/null
        status=$?
        chmod 755 "$run_dir"
        verdict "EACCES: a resume in a folder the user cannot write" "$status" "$TMP/err.log" \
            "the folder $run_dir is read-only" "Permission denied" "$FS/out" "$TMP/ref" as_nobody
        mkdir "$FS/ro"
        chmod 555 "$FS/ro"
        as_nobody --out "$FS/ro" 2>"$TMP/err.log" >/dev/null
        status=$?
        chmod 777 "$FS/ro"
        verdict "EACCES: --out in a folder the user cannot write names the folder" "$status" "$TMP/err.log" \
            "the folder $FS/ro is read-only" "Permission denied" "$FS/ro" "$TMP/ref" as_nobody
    else
        skip "EACCES as an unprivileged user" "setpriv --reuid=nobody does not work here, or nobody cannot read $TOY"
    fi
fi

echo "faults: $injected injected, $([ "$lost" -eq 0 ] && echo "nothing lost" || echo "$lost lost")"
echo "faults: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
