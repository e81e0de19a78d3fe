#!/usr/bin/env bash
# REPL tests for rnnlua: drive the interactive interpreter through a
# pseudo-terminal with tmux and look at what a user would see.
#
#   tests/repl/repl_test.sh [path/to/rnnlua]      (default ./rnnlua)
#
# Prints "ok - <name>" / "not ok - <name>" per check, then
# "repl: N passed, M failed"; exits non-zero on any failure.

set -u

BIN=${1:-./rnnlua}
if [ ! -x "$BIN" ]; then
    echo "not ok - rnnlua binary found ($BIN)"
    echo "repl: 0 passed, 1 failed"
    exit 1
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
if ! command -v tmux >/dev/null 2>&1; then
    echo "not ok - tmux available"
    echo "repl: 0 passed, 1 failed"
    exit 1
fi

TIMEOUT=${REPL_TEST_TIMEOUT:-10}      # seconds per step
SOCK="rnnlua-repl-test-$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rnnlua-repl.XXXXXX")
HIST="$WORK/history"
PASS=0
FAIL=0

tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
cleanup() {
    tm kill-server >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()     { echo "ok - $1"; PASS=$((PASS + 1)); }
not_ok() {
    echo "not ok - $1"
    FAIL=$((FAIL + 1))
    if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/#   /'; fi
}
check()  { if "${@:2}"; then ok "$1"; else not_ok "$1" "$(screen)"; fi; }

# The whole session so far (scrollback included, wrapped lines joined).
screen() { tm capture-pane -p -J -S - -t t 2>/dev/null; }

# Number of screen lines matching an extended regex.
count() { screen | grep -cE -- "$1"; }

# Wait until more than $2 lines match $1.
wait_more() {
    local re=$1 before=$2 deadline=$((SECONDS + TIMEOUT))
    while [ "$SECONDS" -le "$deadline" ]; do
        [ "$(count "$re")" -gt "$before" ] && return 0
        sleep 0.1
    done
    return 1
}

# Wait until the cursor line shows an empty prompt ("> " or ">> ").
wait_prompt() {
    local deadline=$((SECONDS + TIMEOUT)) last
    while [ "$SECONDS" -le "$deadline" ]; do
        last=$(screen | sed '/^[[:space:]]*$/d' | tail -n 1)
        case "$last" in '>'|'> '|'>>'|'>> ') return 0 ;; esac
        sleep 0.1
    done
    return 1
}

# Regex-escape a literal string.
re_quote() { printf '%s' "$1" | sed 's/[][\.*^$(){}+?|/]/\\&/g'; }

# Type a line, press Enter, and wait for its output and the next prompt.
send_line() {
    local echo_re before
    echo_re="^>>? $(re_quote "$1")\$"
    before=$(count "$echo_re")
    tm send-keys -t t -l -- "$1"
    tm send-keys -t t Enter
    wait_more "$echo_re" "$before" && wait_prompt
}

# Type a line, then wait for a new line matching $2 and the next prompt.
expect_line() {
    local before
    before=$(count "$2")
    send_line "$1" || return 1
    wait_more "$2" "$before"
}

start_repl() {
    tm kill-server >/dev/null 2>&1
    # HOME and INPUTRC point away from the user's files so that neither
    # their ~/.inputrc nor their real history affects the test.
    tm new-session -d -s t -x 200 -y 50 \
        "env HOME=$(printf %q "$WORK") INPUTRC=/dev/null TERM=screen \
RNNLUA_HISTORY=$(printf %q "$HIST") $(printf %q "$BIN"); echo __EXITED__ rc=\$?; sleep 600" \
        || return 1
    wait_more '^rnnlua ' 0 && wait_prompt
}

stop_repl() {
    tm send-keys -t t C-d
    wait_more '^__EXITED__' 0
}

if ! start_repl; then
    not_ok "repl starts" "$(screen)"
    echo "repl: $PASS passed, $((FAIL)) failed"
    exit 1
fi
ok "repl starts with a banner"

# (1) multi-line statement, then a call echoing its value
multiline() {
    local before
    before=$(count '^>> ')
    send_line 'function f(a)' && wait_more '^>> ' "$before" &&
        send_line 'return a*2' && send_line 'end' &&
        expect_line 'f(21)' '^42$'
}
check "multi-line function definition and call echoes 42" multiline

# (2) a tensor expression prints through __tostring
check "tensor expression echoes its float32 tensor" \
    expect_line 'rnn.ones{2,2}' 'float32'

# (3) an error is reported and the REPL carries on
after_error() {
    expect_line "error('boom')" '^stdin:[0-9]+: boom$' &&
        expect_line '1+1' '^2$'
}
check "error prints boom and the REPL still answers 1+1" after_error

# (5) Ctrl-C interrupts a running loop
interrupt() {
    local before
    before=$(count 'interrupted!')
    tm send-keys -t t -l -- 'while true do end'
    tm send-keys -t t Enter
    sleep 0.5
    tm send-keys -t t C-c
    wait_more 'interrupted!' "$before" && wait_prompt &&
        expect_line '1+1' '^2$'
}
check "Ctrl-C interrupts 'while true do end'; 1+1 answers 2" interrupt

# Ctrl-C at the prompt discards the half-typed line
prompt_ctrl_c() {
    tm send-keys -t t -l -- 'this is not lua'
    tm send-keys -t t C-c
    wait_prompt && expect_line '40+2' '^42$' &&
        [ "$(count 'syntax error')" -eq 0 ]
}
check "Ctrl-C at the prompt clears the line" prompt_ctrl_c

# Tab completion of table fields: rnn.matm<TAB> -> rnn.matmul
completion() {
    local before
    before=$(count '^function: ')
    tm send-keys -t t -l -- 'rnn.matm'
    tm send-keys -t t Tab
    sleep 0.3
    tm send-keys -t t Enter
    wait_more '^function: ' "$before" && [ "$(count '^> rnn\.matmul$')" -ge 1 ]
}
check "tab completes rnn.matm to rnn.matmul" completion

# tab_line TYPED AFTER OUT: type TYPED, press Tab, type AFTER, press Enter;
# the line must read as completed to $want_line and answer OUT (a regex).
tab_line() {
    local before
    before=$(count "$3")
    tm send-keys -t t -l -- "$1"
    tm send-keys -t t Tab
    sleep 0.3
    if [ -n "$2" ]; then tm send-keys -t t -l -- "$2"; fi
    tm send-keys -t t Enter
    wait_more "$3" "$before" && wait_prompt &&
        [ "$(count "^> $(re_quote "$want_line")\$")" -ge 1 ]
}

# Methods of a tensor live behind a C __index function (the metatable's
# `methods` table), not in an __index table.
tensor_method() {
    send_line 'x = rnn.ones{2, 3}' || return 1
    want_line='x:transpose(1, 2):size(1)'
    tab_line 'x:tr' '(1, 2):size(1)' '^3$'
}
check "tab completes x:tr to x:transpose for a tensor x" tensor_method

nn_class() {
    want_line='rnn.nn.LSTM'
    tab_line 'rnn.nn.LS' '' '^class LSTM$'
}
check "tab completes rnn.nn.LS to rnn.nn.LSTM" nn_class

# Sequential's __index is a function too; its methods come from the class
# and its parent Module.
module_method() {
    send_line 'seq = rnn.nn.Sequential(rnn.nn.Linear(2, 3))' || return 1
    want_line='seq:num_parameters()'
    tab_line 'seq:num_par' '()' '^9$'
}
check "tab completes seq:num_par to seq:num_parameters (inherited)" module_method

# With one public field, Tab completes it at once; were _hidden offered
# too, nothing would be completed.
no_private() {
    send_line 'comp_t = {_hidden = 1, visible = 2}' || return 1
    want_line='comp_t.visible'
    tab_line 'comp_t.' '' '^2$' || return 1
    want_line='comp_t._hidden'
    tab_line 'comp_t._' '' '^1$'
}
check "tab offers no _names unless '_' was typed" no_private

check "help is a global function in the REPL" \
    expect_line 'type(help)' '^function$'

# help prints the documentation once: the REPL does not echo it again
help_once() {
    expect_line 'help(rnn.nn.LSTM)' '^  hidden_size +\(required\)' || return 1
    [ "$(count '^  hidden_size +\(required\)')" -eq 1 ]
}
check "help(rnn.nn.LSTM) lists its options, once" help_once

# (4) history persists across sessions
history_test() {
    send_line 'hist_marker = 12345' || return 1
    stop_repl || return 1
    grep -qxF 'hist_marker = 12345' "$HIST" || return 1
    grep -qxF 'f(21)' "$HIST" || return 1
    start_repl || return 1
    tm send-keys -t t Up      # recall the last line of the previous session
    local deadline=$((SECONDS + TIMEOUT))
    while [ "$SECONDS" -le "$deadline" ]; do
        screen | grep -qxF '> hist_marker = 12345' && return 0
        sleep 0.1
    done
    return 1
}
if history_test; then ok "history persists in \$RNNLUA_HISTORY across sessions"
else not_ok "history persists in \$RNNLUA_HISTORY across sessions" \
    "$(screen; echo '--- history file:'; cat "$HIST" 2>&1)"
fi

# Ctrl-D at an empty prompt exits with status 0
tm send-keys -t t C-u
check "Ctrl-D exits cleanly" \
    eval 'stop_repl && [ "$(count "^__EXITED__ rc=0$")" -ge 1 ]'

echo "repl: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
