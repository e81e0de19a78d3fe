# shellcheck shell=bash disable=SC2153 # NAME is set by the test that sources this
# lib.sh — what the packaging tests share: a scratch folder, run and check.
# Sourced by tests/packaging/*_test.sh after they set NAME (the suite name).
#   run CMD...      runs CMD with stdin from /dev/null; stdout in $OUT,
#                   stderr in $ERR, exit status in $RC
#   check NAME CMD  "ok - NAME" when CMD succeeds, else "not ok - NAME" with
#                   the last command's status and output
#   finish          prints "$NAME: N passed, M failed"; exits 1 on a failure
set -u
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-$NAME.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/out"
ERR="$WORK/err"
PASS=0
FAIL=0
RC=

run() { "$@" >"$OUT" 2>"$ERR" </dev/null; RC=$?; }

check() {
    local name=$1; shift
    if "$@"; then
        echo "ok - $name"; PASS=$((PASS + 1))
    else
        echo "not ok - $name"; FAIL=$((FAIL + 1))
        { echo "status: ${RC:-?}"; echo "--- stdout:"; tail -n 30 "$OUT"
          echo "--- stderr:"; tail -n 30 "$ERR"; } 2>/dev/null | sed 's/^/#   /'
    fi
}

rc_is()   { [ "$RC" = "$1" ]; }
out_is()  { [ "$(cat "$OUT")" = "$1" ]; }
out_has() { grep -qE -- "$1" "$OUT"; }
err_empty() { [ ! -s "$ERR" ]; }

finish() {
    echo "$NAME: $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}
