#!/bin/bash
# The report of a real experiment (tests/experiment/toy.lua) in a headless
# chromium (tests/report/check_report.sh):
#   - it loads without errors in the console, every figure renders with a
#     non-zero size inside its column, the summary and comparisons tables
#     are there; two figures to a row in a 1600 px window, one at 1000 px;
#   - every file the page links under plots/ (SVG, PNG, PDF) exists;
#   - the checker fails on a page with a broken image, and on one with a
#     script error, a figure of zero size and no comparisons table, naming
#     each.
# Usage: tests/report/browser_test.sh [RNNLUA]. Prints ok/not ok lines and
# "report-browser: N passed, M failed" last.
set -u
RNNLUA=${1:-./rnnlua}
CHECK=tests/report/check_report.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-browser.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
check() { if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$2"; fi; }
finish() {
    echo "report-browser: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}

"$RNNLUA" tests/experiment/toy.lua --out "$TMP" --quiet >"$TMP/toy.log" 2>&1
check $? "the toy experiment writes its report"
PAGE="$TMP/toy/index.html"
[ -f "$PAGE" ] || { not_ok "no $PAGE"; sed 's/^/# /' "$TMP/toy.log"; finish; }

# the pages with defects, from the real one: the first figure grid gets a
# broken image (or a hidden SVG), the page a failing script, the
# comparisons table another id
BROKEN='<figure><img src="plots/no-such-plot.png" alt="missing"></figure>'
sed "0,/<div class=\"figures\">/s||<div class=\"figures\">\\n$BROKEN|" "$PAGE" >"$TMP/toy/broken-image.html"
sed -e '0,/<div class="figures">/s||<div class="figures">\n<figure><svg style="display: none"></svg></figure>|' \
    -e 's|</body>|<script>no_such_function_of_the_test();</script>\n</body>|' \
    -e 's|<table id="comparisons">|<table id="comparisons-gone">|' "$PAGE" >"$TMP/toy/defects.html"

# two browsers at a time
bash $CHECK "$PAGE" 1600 2 >"$TMP/wide.out" 2>&1 &
bash $CHECK "$PAGE" 1000 1 >"$TMP/narrow.out" 2>&1
echo $? >"$TMP/narrow.status"
wait $!
echo $? >"$TMP/wide.status"
bash $CHECK "$TMP/toy/broken-image.html" >"$TMP/broken.out" 2>&1 &
bash $CHECK "$TMP/toy/defects.html" >"$TMP/defects.out" 2>&1
echo $? >"$TMP/defects.status"
wait $!
echo $? >"$TMP/broken.status"

for w in wide narrow; do sed "s/^/# $w: /" "$TMP/$w.out"; done
grep -q '^PASS no errors in the console' "$TMP/wide.out"
check $? "the report loads without errors in the console"
grep -q '^PASS every figure renders with a non-zero size' "$TMP/wide.out" \
    && grep -q '^PASS every figure renders with a non-zero size' "$TMP/narrow.out"
check $? "every figure renders with a non-zero size, inside its column (1600 and 1000 px)"
grep -q '^PASS the summary table is there' "$TMP/wide.out" \
    && grep -q '^PASS the comparisons table is there' "$TMP/wide.out"
check $? "the summary and comparisons tables are there"
grep -q '^PASS figures 2 to a row' "$TMP/wide.out"
check $? "two figures to a row at 1600 px"
grep -q '^PASS figures 1 to a row' "$TMP/narrow.out"
check $? "one figure to a row at 1000 px"
[ "$(cat "$TMP/wide.status")" -eq 0 ] && [ "$(cat "$TMP/narrow.status")" -eq 0 ] \
    && ! grep -q '^FAIL' "$TMP"/{wide,narrow}.out
check $? "the checker passes the report (every check)"

missing=""
for f in $(grep -o 'href="plots/[^"]*"' "$PAGE" | sed 's/href="\(.*\)"/\1/' | sort -u); do
    [ -s "$TMP/toy/$f" ] || missing="$missing $f"
done
n=$(grep -o 'href="plots/[^"]*\.\(png\|pdf\)"' "$PAGE" | wc -l)
[ -z "$missing" ] && [ "$n" -gt 0 ]
check $? "every SVG, PNG and PDF the page links exists ($n PNG and PDF links)${missing:+; missing:$missing}"

sed 's/^/# broken image: /' "$TMP/broken.out"
[ "$(cat "$TMP/broken.status")" -ne 0 ] \
    && grep -q '^FAIL every figure renders.*broken image plots/no-such-plot.png' "$TMP/broken.out"
check $? "the checker fails on a page with a broken image"
sed 's/^/# defects: /' "$TMP/defects.out"
[ "$(cat "$TMP/defects.status")" -ne 0 ] \
    && grep -q '^FAIL no errors in the console: script error: .*no_such_function_of_the_test' "$TMP/defects.out" \
    && grep -q '^FAIL every figure renders.*figure 1: zero size' "$TMP/defects.out" \
    && grep -q '^FAIL the comparisons table is there' "$TMP/defects.out" \
    && grep -q '^PASS the summary table is there' "$TMP/defects.out"
check $? "the checker names a script error, a figure of zero size and a missing comparisons table"

finish
