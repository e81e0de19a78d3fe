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
err_is()  { [ "$(cat "$ERR")" = "$1" ]; }
# Regex-escape a literal string.
re_quote() { printf '%s' "$1" | sed 's/[][\.*^$(){}+?|/]/\\&/g'; }
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
    err_has "^$(re_quote "$BIN"): .*fail.lua:1: deliberate failure" &&
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

# --- as lua5.4 does (Lua 5.4's testes/main.lua, side by side with lua5.4)

# ROOT is the source tree, whose scripts/ holds the Lua half.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# make install's layout: <prefix>/bin, <prefix>/share/lua/5.4,
# <prefix>/lib/lua/5.4 (the executable under test, the Lua files of ROOT).
# The side-by-side checks below run this copy: a binary in build/asan
# finds the Lua half only from the source tree's root (./rnn).
PFX="$WORK/prefix"
mkdir -p "$PFX/bin" "$PFX/lib/lua/5.4/rnn" "$PFX/share/lua/5.4" "$WORK/elsewhere"
cp "$BIN" "$PFX/bin/rnnlua"
(cd "$ROOT/scripts" && find rnn -name '*.lua' -exec install -D -m 644 {} "$PFX/share/lua/5.4/{}" \;)
if [ -f "$(dirname "$BIN")/scripts/rnn/mpi.so" ]; then
    cp "$(dirname "$BIN")/scripts/rnn/mpi.so" "$PFX/lib/lua/5.4/rnn/mpi.so"
else
    cp "$ROOT/scripts/rnn/mpi.so" "$PFX/lib/lua/5.4/rnn/mpi.so"
fi
ln -s "$PFX/bin/rnnlua" "$WORK/elsewhere/rnnlua"
INST="$PFX/bin/rnnlua"

# The rnn library is found by a searcher of rnnlua's own, so that
# package.path and package.cpath are exactly what lua5.4 makes of LUA_PATH,
# LUA_PATH_5_4, LUA_CPATH, ';;' and -E.
if command -v lua5.4 >/dev/null 2>&1; then
    paths='print(package.path); print(package.cpath)'
    same_paths() { # same_paths NAME ENV...: rnnlua and lua5.4 agree
        local name=$1; shift
        env "$@" lua5.4 -e "$paths" >"$WORK/expected" 2>&1 </dev/null
        (cd "$WORK/elsewhere" && env "$@" "$INST" -e "$paths; print(type(rnn))") \
            >"$OUT" 2>"$ERR" </dev/null
        RC=$?
        check "$name: package.path and cpath as lua5.4's, rnn loaded" eval \
            '[ $RC -eq 0 ] && out_is "$(cat "$WORK/expected"; echo table)"'
    }
    same_paths "LUA_PATH=x LUA_CPATH=y" LUA_PATH=x LUA_CPATH=y
    same_paths "LUA_PATH_5_4 over LUA_PATH" LUA_PATH_5_4=y LUA_PATH=x \
        LUA_CPATH_5_4=yacc LUA_CPATH=x
    for p in ';' ';;' 'a;;b' ';;b' 'a;;' 'a;b;;c'; do
        same_paths "LUA_PATH='$p'" LUA_PATH="$p" LUA_CPATH="$p"
    done
    same_paths "no environment (env -i)" -i
    # -E: the default paths whatever the environment says
    lua5.4 -E -e "$paths" >"$WORK/expected" 2>&1 </dev/null
    (cd "$WORK/elsewhere" && env LUA_PATH=xxx LUA_CPATH=xxx LUA_INIT='error(10)' \
        "$INST" -E -e "$paths; print(type(rnn))") >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    check "-E: package.path and cpath as lua5.4 -E's, rnn loaded" eval \
        '[ $RC -eq 0 ] && out_is "$(cat "$WORK/expected"; echo table)"'
else
    echo "not ok - lua5.4 found (for side-by-side checks)"; FAIL=$((FAIL + 1))
fi

# require of rnn modules, from any folder, with a path that cannot find them:
# Lua files and the C module rnn.mpi, from the tree the executable is in.
cat >"$WORK/where.lua" <<'LUA'
for _, m in ipairs{'rnn', 'rnn.format', 'rnn.nn.module', 'rnn.mpi'} do
  package.loaded[m] = nil
  local ok, mod, where = pcall(require, m)
  print(m, ok and type(mod) or 'error: ' .. tostring(mod), where)
end
LUA
where_ok() { # where_ok LUADIR CDIR: where the Lua files and rnn.mpi came from (regexes)
    [ $RC -eq 0 ] &&
        out_has "^rnn	table	$1/rnn/init\.lua\$" &&
        out_has "^rnn\.format	table	$1/rnn/format\.lua\$" &&
        out_has "^rnn\.nn\.module	table	$1/rnn/nn/module\.lua\$" &&
        out_has "^rnn\.mpi	table	$2/rnn/mpi\.so\$"
}
if [ "$(cd "$(dirname "$BIN")" && pwd)" = "$ROOT" ]; then
    (abs=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
     cd / && env LUA_PATH=nowhere LUA_CPATH=nowhere "$abs" "$WORK/where.lua") \
        >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    check "build tree: rnn found from / whatever LUA_PATH says" \
        where_ok "$(re_quote "$ROOT/scripts")" "$(re_quote "$ROOT/scripts")"
fi
for exe in "$PFX/bin/rnnlua" "$WORK/elsewhere/rnnlua"; do
    (cd "$WORK/elsewhere" && env LUA_PATH=nowhere LUA_CPATH=nowhere "$exe" "$WORK/where.lua") \
        >"$OUT" 2>"$ERR" </dev/null
    RC=$?
    check "installed layout: rnn found by ${exe#$WORK/}" \
        where_ok "$(re_quote "$PFX/share/lua/5.4")" "$(re_quote "$PFX/lib/lua/5.4")"
done
run "$BIN" -e 'require "rnn.no_such_module"' </dev/null
check "a missing rnn module lists the files tried" eval '[ $RC -ne 0 ] &&
    err_has "module .rnn\.no_such_module. not found" &&
    err_has "no file .*/rnn/no_such_module\.lua" &&
    err_has "no file .*/rnn/no_such_module\.so"'

# The REPL prints results with the global print, as lua.c does.
run "$BIN" -e 'print=nil' -i <<<'10'
check "-e 'print=nil' -i: error calling 'print'" eval '[ $RC -eq 0 ] &&
    err_has "^error calling .print. \(attempt to call a nil value\)\$"'
run "$BIN" -e 'function print(...) io.write("P:", ..., "\n") end' -i <<<'10'
check "the REPL prints results with a redefined print" eval '[ $RC -eq 0 ] &&
    out_has "^P:10\$"'

# _PROMPT through tostring; piped input echoed after the prompt, as lua5.4
# (built with readline) does.
prompt='local C = 0; _PROMPT=setmetatable({},{__tostring = function () C = C + 1; return C end})'
run "$BIN" -e "$prompt" -i <<<"$(printf ' --\na = 2')"
check "a non-string _PROMPT is shown through its __tostring" \
    eval '[ $RC -eq 0 ] && [ "$(tail -n 3 "$OUT")" = "$(printf "1 --\n2a = 2\n3")" ]'
run "$BIN" -e '_PROMPT=setmetatable({},{__tostring = function () error("bad prompt") end})' \
    -i <<<'print(40 + 2)'
check "a failing _PROMPT is reported, the REPL carries on" eval '[ $RC -eq 0 ] &&
    err_has "bad prompt" && out_has "^> print\(40 \+ 2\)\$" && out_has "^42\$"'
if command -v lua5.4 >/dev/null 2>&1; then
    printf 'x = 1\nfunction f(a)\nreturn a + x\nend\nf(41)\n=f(1)\nerror("e")\nnil, 2\n' \
        >"$WORK/session.lua"
    lua5.4 -i <"$WORK/session.lua" 2>&1 | tail -n +2 >"$WORK/expected"
    run "$BIN" -i <"$WORK/session.lua"
    check "-i with piped input: the transcript is lua5.4's" eval '[ $RC -eq 0 ] &&
        [ "$( (tail -n +2 "$OUT"; cat "$ERR") | sort)" = "$(sort "$WORK/expected")" ]'
fi

# error objects: through __tostring, without a traceback; others named
cat >"$WORK/errobj.lua" <<'LUA'
error(setmetatable({}, {__tostring = function () return "custom error" end}))
LUA
run "$BIN" "$WORK/errobj.lua" </dev/null
check "an error object with __tostring: 'progname: <its tostring>'" \
    eval '[ $RC -eq 1 ] && err_is "$BIN: custom error"'
printf 'error{}\n' >"$WORK/errtable.lua"
run "$BIN" "$WORK/errtable.lua" </dev/null
check "an error table: '(error object is a table value)'" eval '[ $RC -eq 1 ] &&
    err_has "^$(re_quote "$BIN"): \(error object is a table value\)\$"'
run "$BIN" -e 'error(nil)' </dev/null
check "error(nil): '(error object is a nil value)'" eval '[ $RC -eq 1 ] &&
    err_has "^$(re_quote "$BIN"): \(error object is a nil value\)\$"'

# -v: our name, then Lua's banner line
run "$BIN" -v -e 'print"hello"' </dev/null
check "-v: rnnlua's line, then Lua's banner line" eval '[ $RC -eq 0 ] &&
    [ "$(sed -n 2p "$OUT")" = "$(lua5.4 -v 2>&1)" ] &&
    [ "$(sed -n 3p "$OUT")" = hello ]'

# invalid options, as lua.c (-h stays our help)
for o in --- -Ex -vv -iv -hh; do
    run "$BIN" $o </dev/null
    check "$o is an unrecognized option" eval '[ $RC -eq 1 ] &&
        err_has "^$(re_quote "$BIN"): unrecognized option .$o.\$"'
done
for o in -e -l; do
    run "$BIN" $o -x </dev/null
    check "$o followed by an option: '$o' needs argument" eval '[ $RC -eq 1 ] &&
        err_has "^$(re_quote "$BIN"): .$o. needs argument\$"'
done

# the global help (rnn.help itself is tested with it)
run "$BIN" -e 'print(type(help))' </dev/null
check "help is a global function" eval '[ $RC -eq 0 ] && out_is function'

echo "cli: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
