#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034 # checks are eval'd strings; NAME is lib.sh's
# The man page rnnlua.1: groff renders it without a warning, man -l shows
# it, it carries the Makefile's version, has the usual sections, and lists
# every option that `rnnlua -h` prints (so the two cannot drift apart).
#
#   tests/packaging/man_test.sh [RNNLUA]     (from the top of the source tree)
#
# Prints ok/not ok lines, then "man: N passed, M failed".
NAME="man"
# shellcheck source=tests/packaging/lib.sh
. "$(dirname "$0")/lib.sh"
RNNLUA=${1:-./rnnlua}
PAGE=rnnlua.1

run groff -man -Tutf8 -ww -z "$PAGE"
check "groff -man -ww renders $PAGE without warnings" eval 'rc_is 0 && err_empty'

# MANWIDTH fixed and overstrikes removed, so the text is the same everywhere
run sh -c "MANWIDTH=80 man -l $PAGE | col -b"
cp "$OUT" "$WORK/page"
check "man -l $PAGE renders" eval 'rc_is 0 && [ -s "$WORK/page" ] && err_empty'

for section in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    check "has the section $section" grep -qx "$section" "$WORK/page"
done

version=$(sed -n 's/^VERSION *:= *//p' Makefile)
check "its header names rnnlua $version (the Makefile's VERSION)" grep -q "^\.TH RNNLUA 1 .*\"rnnlua $version\"" "$PAGE"

# every "  -x arg   text" line of rnnlua -h: the option and its argument
run "$RNNLUA" -h
options=$(sed -nE 's/^  (-[^ ]*( [^ ]+)?)  +.*/\1/p' "$OUT")
check "rnnlua -h prints options to compare with" [ "$(printf '%s\n' "$options" | wc -l)" -ge 8 ]
while IFS= read -r opt; do
    [ -n "$opt" ] || continue
    check "documents the option '$opt' of rnnlua -h" \
        grep -qE -- "^ +$(printf '%s' "$opt" | sed 's/[.[\*^$]/\\&/g')( |\$)" "$WORK/page"
done <<<"$options"

for var in RNNLUA_HISTORY LUA_INIT LUA_PATH OPENBLAS_NUM_THREADS RNNLUA_ISA; do
    check "documents the environment variable $var" grep -q "$var" "$WORK/page"
done

finish
