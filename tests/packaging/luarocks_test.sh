#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034 # checks are eval'd strings; NAME is lib.sh's
# The rock: `luarocks --lua-version 5.4 make` builds rnnlua with its
# Makefile and installs the module into a scratch tree, offline (the only
# rocks server allowed is an empty folder); plain lua5.4 with
# `luarocks path` loads rnn from that tree and computes; busted trains
# against it; the tree's bin/rnnlua runs; `luarocks remove` takes it out.
#
#   tests/packaging/luarocks_test.sh        (from the top of the source tree)
#
# Prints ok/not ok lines, then "luarocks: N passed, M failed".
NAME=luarocks
# shellcheck source=tests/packaging/lib.sh
. "$(dirname "$0")/lib.sh"
SRC=$PWD
T=$WORK/tree
mkdir -p "$WORK/no-server"
LR="luarocks --lua-version 5.4 --only-server $WORK/no-server --tree $T"

if ! command -v luarocks >/dev/null; then
    echo "not ok - luarocks is installed (tools/deps.sh test installs it)"
    FAIL=1
    finish
fi

version=$(sed -n 's/^VERSION *:= *//p' Makefile)
ROCKSPEC=rnnlua-$version-1.rockspec
check "the rockspec is named after the Makefile's VERSION ($ROCKSPEC)" test -f "$ROCKSPEC"
run grep -q "^version = \"$version-1\"" "$ROCKSPEC"
check "the rockspec's version is $version-1" rc_is 0

run luarocks --lua-version 5.4 lint "$ROCKSPEC"
check "luarocks lint accepts it" eval 'rc_is 0'

run $LR make "$ROCKSPEC"
check "luarocks make into a scratch tree succeeds, offline" \
    eval 'rc_is 0 && grep -q "rnnlua $version-1 is now installed in $T" "$OUT"'

run $LR list --porcelain
check "luarocks list shows rnnlua $version-1 installed" \
    eval 'rc_is 0 && grep -qE "^rnnlua	$version-1	installed" "$OUT"'

for f in bin/rnnlua lib/lua/5.4/rnn/core.so lib/lua/5.4/rnn/mpi.so share/lua/5.4/rnn/init.lua \
         share/lua/5.4/rnn/experiment/init.lua; do
    check "the tree holds $f" test -f "$T/$f"
done
n_src=$(find scripts/rnn -name '*.lua' | wc -l)
n_dst=$(find "$T/share/lua/5.4/rnn" -name '*.lua' 2>/dev/null | wc -l)
check "the tree holds every one of the $n_src Lua files of scripts/rnn" [ "$n_src" = "$n_dst" ]

# From a folder without the source tree's rnn link, with luarocks' paths
paths=$($LR path) || paths=
cd "$WORK" || exit 1
(
    eval "$paths"
    run lua5.4 -e "local rnn = require 'rnn'
print(package.searchpath('rnn', package.path), package.searchpath('rnn.core', package.cpath))"
    check "with luarocks path, lua5.4 finds rnn and rnn.core in the tree" \
        eval 'rc_is 0 && out_is "$(printf "%s\t%s" "$T/share/lua/5.4/rnn/init.lua" "$T/lib/lua/5.4/rnn/core.so")"'

    run lua5.4 -e "local rnn = require 'rnn'; rnn.manual_seed(3)
local gru = rnn.nn.GRU{input_size = 2, hidden_size = 3}
local out = gru(rnn.randn{4, 2, 2}); (out * out):mean():backward()
print(out:size(3), gru:parameters()[2].grad:numel())"
    check "lua5.4 runs a GRU forward and backward from the tree, exit 0" \
        eval 'rc_is 0 && out_is "$(printf "3\t27")" && err_empty'

    run lua5.4 -e "require('rnn').help(require('rnn').nn.LSTM)"
    check "rnn.help(rnn.nn.LSTM) lists its options from the tree's help data" \
        eval 'rc_is 0 && out_has "^  hidden_size +\\(required\\)"'

    # lua5.4 runs busted itself: with luarocks installed, /usr/bin/lua is
    # lua5.1, which `busted --lua=lua5.4` starts under first, and the 5.4
    # paths of `luarocks path` then lead it to 5.4 modules (pl.path without
    # LuaFileSystem)
    run lua5.4 /usr/bin/busted --output=TAP "$SRC/tests/packaging/one_step_spec.lua"
    check "busted under lua5.4 trains against the tree, exit 0" \
        eval 'rc_is 0 && out_has "^ok 2 - " && ! out_has "^not ok"'

    run rnnlua -e "print(rnn.ones{2}:sum():item()); print(debug.getinfo(rnn.clip.norm, 'S').source)"
    check "the tree's bin/rnnlua is on PATH and runs" \
        eval '[ "$(command -v rnnlua)" = "$T/bin/rnnlua" ] && rc_is 0 &&
              [ "$(head -n 1 "$OUT")" = 2.0 ] && ! grep -qF "$SRC/" "$OUT"'
    echo "$PASS $FAIL" >"$WORK/counts"
)
read -r PASS FAIL <"$WORK/counts" || FAIL=$((FAIL + 1))
cd "$SRC" || exit 1

run $LR remove rnnlua
check "luarocks remove takes the module and rnnlua out of the tree" \
    eval 'rc_is 0 && [ ! -e "$T/share/lua/5.4/rnn" ] && [ ! -e "$T/lib/lua/5.4/rnn" ] && [ ! -e "$T/bin/rnnlua" ]'

finish
