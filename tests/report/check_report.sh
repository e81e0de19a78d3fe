#!/bin/bash
# Opens a report page in a headless chromium and prints the results of the
# checks of check_page.js, one line each ("PASS what" / "FAIL what: why").
#   tests/report/check_report.sh PAGE [WIDTH] [COLUMNS]
# PAGE: an HTML file (a copy with the checks injected is written beside it,
# so its relative links resolve); WIDTH: the window's width in px (1600);
# COLUMNS: the figures expected on a row, if given. Exits 0 when every
# check passed, 1 when one failed or the checks did not run.
set -u
PAGE=$1
WIDTH=${2:-1600}
COLUMNS=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(cd "$(dirname "$PAGE")" && pwd)
COPY="$DIR/.check-$WIDTH-$(basename "$PAGE")"
PROFILE=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-chromium.XXXXXX")
trap 'rm -rf "$PROFILE" "$COPY"' EXIT

command -v chromium >/dev/null || { echo "FAIL chromium is not installed (Debian package chromium)"; exit 1; }

# the checks go first in <head>, before anything of the page runs
awk -v js="$HERE/check_page.js" '
    { print }
    !done && /<head>/ { print "<script>"; while ((getline l < js) > 0) print l; print "</script>"; done = 1 }
' "$PAGE" >"$COPY"
grep -q 'rnnlua-check' "$COPY" || { echo "FAIL $PAGE has no <head> to put the checks in"; exit 1; }

url="file://$COPY"
[ -n "$COLUMNS" ] && url="$url#columns=$COLUMNS"
# as root chromium needs --no-sandbox; the virtual time budget lets the
# page settle without waiting in real time
dom=$(timeout 60 chromium --headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check \
    --disable-extensions --disable-background-networking --disable-component-update --mute-audio \
    --user-data-dir="$PROFILE" --window-size="$WIDTH,1200" --virtual-time-budget=5000 \
    --dump-dom "$url" 2>"$PROFILE/stderr")
status=$?
result=$(printf '%s\n' "$dom" | sed -n '/<pre id="rnnlua-check">/,/<\/pre>/p' \
    | sed -e 's/.*<pre id="rnnlua-check">//' -e 's/<\/pre>.*//' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g')
if [ -z "$result" ]; then
    echo "FAIL the checks did not run (chromium exited with status $status)"
    tail -n 5 "$PROFILE/stderr" | sed 's/^/# /'
    exit 1
fi
printf '%s\n' "$result"
! printf '%s\n' "$result" | grep -q '^FAIL'
