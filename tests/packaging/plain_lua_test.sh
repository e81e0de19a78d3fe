#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034 # checks are eval'd strings; NAME is lib.sh's
# rnn in a plain Lua 5.4, from the source tree (the `rnn` link to
# scripts/rnn and rnn/core.so): require, a computation, exit status 0 at
# the end of the state (a pooled allocator that outlived core.so once made
# every exit a SIGSEGV), errors reported with status 1, and a user's own
# spec under Debian's busted with --lua=lua5.4. (tests/run.sh also runs the
# whole of tests/spec under lua5.4.)
#
#   tests/packaging/plain_lua_test.sh        (from the top of the source tree)
#
# Prints ok/not ok lines, then "plain-lua: N passed, M failed".
NAME=plain-lua
# shellcheck source=tests/packaging/lib.sh
. "$(dirname "$0")/lib.sh"
LUA=lua5.4
SPEC=$PWD/tests/packaging/one_step_spec.lua

run $LUA -e "require 'rnn'"
check "lua5.4 -e \"require 'rnn'\" exits 0" eval 'rc_is 0 && err_empty'

run $LUA -e "local rnn = require 'rnn'; print(rnn.matmul(rnn.eye(2), rnn.tensor{{1,2},{3,4}}):sum():item())"
check "a computation prints its result and exits 0" eval 'rc_is 0 && out_is 10.0'

run $LUA -e "print(package.searchpath('rnn.core', package.cpath))"
check "rnn.core is the source tree's rnn/core.so" eval 'rc_is 0 && out_is ./rnn/core.so'

# Other C modules loaded after rnn are unloaded first at lua_close (glibc
# unmaps libraries in reverse order): the case that crashed.
run $LUA -e "local rnn = require 'rnn'; require 'cjson'; require 'lfs'; local t = rnn.randn{100, 100}; print(t:numel())"
check "with cjson and lfs loaded after it, exit 0" eval 'rc_is 0 && out_is 10000'

run $LUA -e "local rnn = require 'rnn'; print(rnn.distributed.size())"
check "rnn.distributed (rnn/mpi.so) loads at size 1 and exits 0" eval 'rc_is 0 && out_is 1'

run $LUA -e "local rnn = require 'rnn'; local x = rnn.randn{3, 3}; collectgarbage(); os.exit(true, true)"
check "os.exit(true, true) (closing the state) exits 0" eval 'rc_is 0 && err_empty'

run $LUA -e "local rnn = require 'rnn'; rnn.matmul(rnn.zeros{3, 4}, rnn.zeros{5, 2})"
check "an error from rnn exits 1 with its message" \
    eval 'rc_is 1 && grep -q "rnn.matmul: shapes (3,4) and (5,2) do not match" "$ERR"'

printf "local rnn = require 'rnn'\nprint(rnn.ones{2, 2}:sum():item())\n" >"$WORK/script.lua"
run $LUA "$WORK/script.lua"
check "a script file run by lua5.4 exits 0" eval 'rc_is 0 && out_is 4.0'

# busted's --lua re-runs busted under that interpreter, whatever
# /usr/bin/lua is (lua5.1 once luarocks is installed)
run /usr/bin/busted --lua=$LUA --output=TAP "$SPEC"
check "busted --lua=lua5.4 runs a spec that trains, exit 0" \
    eval 'rc_is 0 && out_has "^ok 2 - .*trains" && ! out_has "^not ok"'

finish
