#!/usr/bin/env bash
# Command-line tests for rnnlua (script runner mode, no terminal needed).
#
#   tests/repl/cli_test.sh [path/to/rnnlua]      (default ./rnnlua)
#
# Prints "ok - <name>" / "not ok - <name>" per check, then
# "cli: N passed, M failed"; exits non-zero on any failure.

set -u

BIN=${1:-./rnnlua}
if [ ! -x "$BIN" ]; then
    echo "not ok - rnnlua binary found ($BIN)"
    echo "cli: 0 passed, 1 failed"
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/out"
ERR="$WORK/err"
PASS=0
FAIL=0

# run CMD...: run with stdin from /dev/null unless redirected by the caller,
# leaving stdout in $OUT, stderr in $ERR and the status in $RC.
run() { "$@" >"$OUT" 2>"$ERR"; RC=$?; }

check() {
    local name=$1; shift
    if "$@"; then
        echo "ok - $name"; PASS=$((PASS + 1))
    else
        echo "not ok - $name"; FAIL=$((FAIL + 1))
        { echo "status: ${RC:-?}"; echo "--- stdout:"; cat "$OUT"
          echo "--- stderr:"; cat "$ERR"; } 2>/dev/null | sed 's/^/#   /'
    fi
}

out_is()  { [ "$(cat "$OUT")" = "$1" ]; }
out_has() { grep -qE -- "$1" "$OUT"; }
err_has() { grep -qE -- "$1" "$ERR"; }

cat >"$WORK/args.lua" <<'LUA'
print("arg0=" .. tostring(arg[0]))
print("arg1=" .. tostring(arg[1]), "arg2=" .. tostring(arg[2]), "n=" .. #arg)
print("argm1=" .. tostring(arg[-1]))
print("dots=" .. table.concat({...}, ","), "ndots=" .. select('#', ...))
LUA

cat >"$WORK/fail.lua" <<'LUA'
local function inner() error("deliberate failure") end
inner()
LUA

printf '#!/usr/bin/env rnnlua\nprint("shebang ok")\n' >"$WORK/shebang.lua"
printf 'print("script ran")\nscript_value = 41\n' >"$WORK/pre.lua"

# -e
run "$BIN" -e 'print(1+1)' </dev/null
check "-e 'print(1+1)' prints 2" eval '[ $RC -eq 0 ] && out_is 2'

run "$BIN" -e 'x = 1' -e 'print(x + 1)' </dev/null
check "-e may repeat, in order" eval '[ $RC -eq 0 ] && out_is 2'

run "$BIN" -e 'print(type(rnn), package.loaded.rnn == rnn)' </dev/null
check "the rnn library is preloaded as global rnn" \
    eval '[ $RC -eq 0 ] && out_is "$(printf "table\ttrue")"'

# script and arg
run "$BIN" "$WORK/args.lua" a b </dev/null
check "script sees arg[0], arg[1]='a', arg[2]='b' and ..." eval '[ $RC -eq 0 ] &&
    out_has "^arg0=$WORK/args.lua\$" &&
    out_has "^arg1=a	arg2=b	n=2\$" &&
    out_has "^dots=a,b	ndots=2\$"'
check "arg[-1] is the interpreter" out_has "^argm1=$BIN\$"

run "$BIN" -e 'print("from -e")' "$WORK/args.lua" z </dev/null
check "-e combined with a script runs -e first" eval '[ $RC -eq 0 ] &&
    [ "$(head -n 1 "$OUT")" = "from -e" ] && out_has "^arg1=z	arg2=nil	n=1\$"'

run "$BIN" -- "$WORK/args.lua" -e </dev/null
check "-- ends options" eval '[ $RC -eq 0 ] && out_has "^arg1=-e	arg2=nil	n=1\$"'

run "$BIN" "$WORK/shebang.lua" </dev/null
check "a script may start with #!" eval '[ $RC -eq 0 ] && out_is "shebang ok"'

# stdin
run "$BIN" - <<<'print(7)'
check "echo 'print(7)' | rnnlua - prints 7" eval '[ $RC -eq 0 ] && out_is 7'

run "$BIN" <<<'print(8, ...)'
check "no arguments and piped stdin runs stdin as a script" \
    eval '[ $RC -eq 0 ] && out_is 8'

# errors
run "$BIN" "$WORK/fail.lua" </dev/null
check "an erroring script exits non-zero with a traceback" eval '[ $RC -ne 0 ] &&
    err_has "^rnnlua: .*fail.lua:1: deliberate failure" &&
    err_has "stack traceback" && err_has "in (local|function|upvalue) .?inner"'

run "$BIN" -e 'error("from -e")' </dev/null
check "an erroring -e exits non-zero" eval '[ $RC -ne 0 ] && err_has "from -e"'

run "$BIN" -e 'os.exit(3)' </dev/null
check "os.exit(3) exits with status 3" eval '[ $RC -eq 3 ]'

run "$BIN" -e 'os.exit(true)' </dev/null
check "os.exit(true) exits with status 0" eval '[ $RC -eq 0 ]'

# -v, -h, bad options
run "$BIN" -v </dev/null
check "-v prints the version" eval '[ $RC -eq 0 ] &&
    out_has "^rnnlua [0-9]+\.[0-9]+\.[0-9]+.* \(Lua 5\.4\.[0-9]+\)\$"'

run "$BIN" -h </dev/null
check "-h lists the options" eval '[ $RC -eq 0 ] && out_has "^ *-e " &&
    out_has "^ *-i " && out_has "^ *-v " && out_has "^ *-h "'

run "$BIN" -Z </dev/null
check "an unknown option exits 1 and names it" eval '[ $RC -eq 1 ] &&
    err_has "-Z" && err_has "usage"'

run "$BIN" -e </dev/null
check "-e without its argument exits 1" eval '[ $RC -eq 1 ] && err_has "-e"'

# -i with piped input
run "$BIN" -i "$WORK/pre.lua" <<<'print(script_value + 1)'
check "-i script.lua runs the script, then reads piped input" eval '[ $RC -eq 0 ] &&
    [ "$(grep -n "script ran" "$OUT" | cut -d: -f1)" = 1 ] && out_has "(^|> )42\$"'

run "$BIN" -i <<<"$(printf 'function f(a)\nreturn a*2\nend\nf(21)\n=f(1)\nerror("oops")\n1+1')"
check "-i with piped input: multi-line, '=', errors, echo" eval '[ $RC -eq 0 ] &&
    out_has "(^|> )42\$" && out_has "(^|> )2\$" && grep -q "oops" "$OUT" "$ERR"'

echo "cli: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
