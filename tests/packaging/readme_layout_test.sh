#!/usr/bin/env bash
# The README's Layout section has a line for every core unit (core/*.c):
# a line starting, after its indentation, with the file's name, so that a
# unit added without saying what it is fails here.
#
#   tests/packaging/readme_layout_test.sh [README] [CORE_DIR]
#
# "ok - ..." / "not ok - ..." per unit, then "readme-layout: N passed, M failed".
set -u
README=${1:-README.md}
CORE=${2:-core}
PASS=0
FAIL=0

# the section: from "## Layout" to the next "## "
layout=$(awk '/^## /{on = ($0 == "## Layout")} on' "$README")
if [ -z "$layout" ]; then
    echo "not ok - $README has a \"## Layout\" section"
    echo "readme-layout: 0 passed, 1 failed"
    exit 1
fi

n=0
for f in "$CORE"/*.c; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    unit=$(basename "$f")
    # "  tensor.c   strided tensors ...": the name, then what it is
    if printf '%s\n' "$layout" | grep -qE "^[[:space:]]+${unit//./\\.}[[:space:]]+[^[:space:]]"; then
        echo "ok - the README's Layout says what $unit is"; PASS=$((PASS + 1))
    else
        echo "not ok - the README's Layout says what $unit is (no line \"    $unit   <what it is>\")"
        FAIL=$((FAIL + 1))
    fi
done
if [ "$n" -eq 0 ]; then
    echo "not ok - $CORE/*.c exist"; FAIL=$((FAIL + 1))
fi

echo "readme-layout: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
