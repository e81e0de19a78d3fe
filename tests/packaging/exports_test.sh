#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034 # checks are eval'd strings; NAME is lib.sh's
# What the loadable modules export: rnn/core.so its Lua entry point
# luaopen_rnn_core and no other name (the core's rl_* names collide with
# readline's in a plain lua5.4: an exported rl_backward once bound to
# readline's), rnn/mpi.so luaopen_rnn_mpi alone. Both by the build itself
# (-fvisibility=hidden, the entry points marked visible) and not only by
# bindings/core.map: the objects define no other name of default
# visibility.
#
#   tests/packaging/exports_test.sh [BUILD]   (BUILD: the objects, build/ by default)
#
# Prints ok/not ok lines, then "exports: N passed, M failed".
NAME=exports
# shellcheck source=tests/packaging/lib.sh
. "$(dirname "$0")/lib.sh"
B=${1:-build}

run nm -D --defined-only rnn/core.so
check "nm -D --defined-only rnn/core.so runs" rc_is 0
# the functions (T, W, i) among the names it defines
funcs=$(awk '$2 ~ /^[TtWi]$/ {print $3}' "$OUT")
check "rnn/core.so exports one function, luaopen_rnn_core (got: $(echo "$funcs" | tr '\n' ' '))" \
    eval '[ "$funcs" = luaopen_rnn_core ]'
others=$(awk '$3 != "luaopen_rnn_core" {print $3}' "$OUT")
check "rnn/core.so exports no other name (got: $(echo "$others" | tr '\n' ' '))" eval '[ -z "$others" ]'

if [ -e rnn/mpi.so ]; then
    run nm -D --defined-only rnn/mpi.so
    names=$(awk '{print $3}' "$OUT")
    check "rnn/mpi.so exports luaopen_rnn_mpi alone (got: $(echo "$names" | tr '\n' ' '))" \
        eval 'rc_is 0 && [ "$names" = luaopen_rnn_mpi ]'
fi

# Every symbol the core and binding objects define with default visibility
# (readelf's GLOBAL/WEAK ... DEFAULT, not UND): the entry points only.
# (not the executable's own rnnlua.o and repl.o)
objs=()
for o in "$B"/core/*.o "$B"/bindings/*.o "$B"/bindings/mpi/*.o; do
    case $o in */rnnlua.o | */repl.o) ;; *) [ -e "$o" ] && objs+=("$o") ;; esac
done
check "the core and binding objects are in $B" eval '[ ${#objs[@]} -gt 0 ]'
visible=$(readelf -sW "${objs[@]}" 2>/dev/null |
          awk '($5 == "GLOBAL" || $5 == "WEAK") && $6 == "DEFAULT" && $7 != "UND" {print $8}' | sort -u)
check "the objects define no name of default visibility but luaopen_rnn_core and luaopen_rnn_mpi (got: $(echo "$visible" | tr '\n' ' '))" \
    eval '[ -z "$(echo "$visible" | grep -vxE "luaopen_rnn_(core|mpi)")" ]'

finish
