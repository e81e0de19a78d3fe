#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034 # checks are eval'd strings; NAME is lib.sh's
# make install PREFIX=<scratch>: the files land where plain lua5.4 and rnnlua
# look for them, and both run from there, away from the source tree.
#   - lua5.4 with LUA_PATH/LUA_CPATH pointed at the prefix loads rnn from it
#     (not from the source tree), computes, and exits 0;
#   - busted --lua=lua5.4 runs a spec that trains against it;
#   - <prefix>/bin/rnnlua -e ... finds its library in <prefix>;
#   - the man page and the LICENSE are installed.
#
#   tests/packaging/install_test.sh        (from the top of the source tree)
#
# Prints ok/not ok lines, then "install: N passed, M failed".
NAME=install
# shellcheck source=tests/packaging/lib.sh
. "$(dirname "$0")/lib.sh"
SRC=$PWD
P=$WORK/prefix

run make --no-print-directory install PREFIX="$P"
check "make install PREFIX=<scratch> succeeds" rc_is 0

files="bin/rnnlua lib/lua/5.4/rnn/core.so lib/lua/5.4/rnn/mpi.so share/lua/5.4/rnn/init.lua
       share/lua/5.4/rnn/nn/init.lua share/lua/5.4/rnn/experiment/init.lua share/man/man1/rnnlua.1
       share/doc/rnnlua/LICENSE"
for f in $files; do
    check "installs $f" test -f "$P/$f"
done
n_src=$(cd scripts && find rnn -name '*.lua' | wc -l)
n_dst=$(cd "$P/share/lua/5.4" 2>/dev/null && find rnn -name '*.lua' | wc -l)
check "installs every one of the $n_src Lua files of scripts/rnn" [ "$n_src" = "$n_dst" ]

# Away from the source tree: a folder with no rnn link in it. The paths end
# in ;; so that Debian's modules (cjson, lfs, ...) are still found.
cd "$WORK" || exit 1
export LUA_PATH="$P/share/lua/5.4/?.lua;$P/share/lua/5.4/?/init.lua;;"
export LUA_CPATH="$P/lib/lua/5.4/?.so;;"

run lua5.4 -e "local rnn = require 'rnn'
print(package.searchpath('rnn', package.path), package.searchpath('rnn.core', package.cpath))"
check "lua5.4 finds rnn and rnn.core in the prefix" \
    eval 'rc_is 0 && out_is "$(printf "%s\t%s" "$P/share/lua/5.4/rnn/init.lua" "$P/lib/lua/5.4/rnn/core.so")"'

run lua5.4 -e "local rnn = require 'rnn'; rnn.manual_seed(1)
local lstm = rnn.nn.LSTM{input_size = 3, hidden_size = 4}
local out = lstm(rnn.randn{5, 2, 3}); out:sum():backward()
print(out:dim(), lstm:parameters()[1].grad ~= nil, rnn.distributed.size())"
check "lua5.4 runs an LSTM forward and backward from the prefix, exit 0" \
    eval 'rc_is 0 && out_is "$(printf "3\ttrue\t1")" && err_empty'

run lua5.4 -e "require('rnn').help(require('rnn').nn.LSTM)"
check "rnn.help(rnn.nn.LSTM) lists its options from the prefix's help data" \
    eval 'rc_is 0 && out_has "^  hidden_size +\\(required\\)"'

run /usr/bin/busted --lua=lua5.4 --output=TAP "$SRC/tests/packaging/one_step_spec.lua"
check "busted --lua=lua5.4 trains against the prefix, exit 0" \
    eval 'rc_is 0 && out_has "^ok 2 - " && ! out_has "^not ok"'

# rnnlua finds its library next to its bin/ (no LUA_PATH needed)
unset LUA_PATH LUA_CPATH
run "$P/bin/rnnlua" -e "print(rnn.eye(3):sum():item()); print(debug.getinfo(rnn.clip.norm, 'S').source)"
check "<prefix>/bin/rnnlua -e runs with its library, not the source tree's" \
    eval 'rc_is 0 && [ "$(head -n 1 "$OUT")" = 3.0 ] && ! grep -qF "$SRC/" "$OUT"'
run "$P/bin/rnnlua" -e "print(package.loaded.rnn == rnn and rnn.nn.GRU ~= nil)"
check "<prefix>/bin/rnnlua preloads the whole rnn module" eval 'rc_is 0 && out_is true'

run man -l "$P/share/man/man1/rnnlua.1"
check "man -l renders the installed page" eval 'rc_is 0 && out_has "^SYNOPSIS"'

finish
