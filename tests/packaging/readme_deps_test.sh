#!/usr/bin/env bash
# The README's set-up paragraph names every Debian package that
# tools/deps.sh installs (for make, make test and make bench), so a reader
# can install them without reading the script.
#
#   tests/packaging/readme_deps_test.sh [README] [DEPS_SH]
#
# "ok - ..." / "not ok - ..." per package, then
# "readme-deps: N passed, M failed".
# shellcheck disable=SC2016 # backticks in patterns are literal
set -u
README=${1:-README.md}
DEPS=${2:-tools/deps.sh}
PASS=0
FAIL=0

# The set-up part: from the top to the first "## " section. Every word
# inside a `code span` there counts as named (`make test` adds `slurm-wlm
# munge` names two).
named=$(awk '/^## /{exit} {print}' "$README" | tr '\n' ' ' |
        grep -oE '`[^`]+`' | tr -d '`' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
if [ -z "$named" ]; then
    echo "not ok - $README has a set-up part with code spans"
    echo "readme-deps: 0 passed, 1 failed"
    exit 1
fi

for set in "" test bench; do
    packages=$(sh "$DEPS" --list $set) || {
        echo "not ok - tools/deps.sh --list $set runs"; FAIL=$((FAIL + 1)); continue; }
    [ -n "$packages" ] || { echo "not ok - tools/deps.sh --list $set prints packages"; FAIL=$((FAIL + 1)); }
    for p in $packages; do
        if printf '%s\n' "$named" | grep -qxF -- "$p"; then
            echo "ok - README names ${set:-base} package $p"; PASS=$((PASS + 1))
        else
            echo "not ok - README names ${set:-base} package $p (not in a \`code span\` before the first section)"
            FAIL=$((FAIL + 1))
        fi
    done
done

# --list installs nothing and says so by printing only names
if sh "$DEPS" --list | grep -qvE '^[a-z0-9][a-z0-9.+-]+$'; then
    echo "not ok - tools/deps.sh --list prints one package name a line"; FAIL=$((FAIL + 1))
else
    echo "ok - tools/deps.sh --list prints one package name a line"; PASS=$((PASS + 1))
fi
if sh "$DEPS" --list nonsense >/dev/null 2>&1; then
    echo "not ok - tools/deps.sh refuses an unknown set"; FAIL=$((FAIL + 1))
else
    echo "ok - tools/deps.sh refuses an unknown set"; PASS=$((PASS + 1))
fi

echo "readme-deps: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
