/* lua_fuzz.c — libFuzzer targets for the Lua parsers of run-folder files.
 *
 * Built once per target with -DRNN_FUZZ_TARGET='"name"'; the name is a
 * function of tests/fuzz/targets.lua (json, runfolder, metrics). One Lua
 * state is made at start-up (the standard libraries and rnn.core preloaded,
 * as bindings/rnnlua.c does; package.path on scripts/ and tests/fuzz/), and
 * each input goes to that function in protected mode. A Lua error is a fine
 * outcome; a crash, a sanitizer report or a hang (libFuzzer's -timeout) is a
 * finding, and so is an error whose message starts with "FUZZ-FINDING"
 * (targets.lua raises those when a parser breaks its own contract: an
 * error that is not the harness's own, or a wrong result).
 *
 * Coverage: the parsers are Lua, which libFuzzer's instrumentation does not
 * see (Debian's liblua5.4 is not instrumented), so a line hook feeds the
 * Lua lines run — as pairs (previous line, line), edges of a kind — into
 * libFuzzer's extra counters. They show in ft: (features), not in cov:.
 * Run with -detect_leaks=0 (tests/fuzz/run.sh does): the state lives on, so
 * an input's mallocs and frees never balance and libFuzzer would scan for
 * leaks after most inputs; and with OPENBLAS_NUM_THREADS=1, or OpenBLAS's
 * idle threads spin on sched_yield. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#ifndef RNN_FUZZ_TARGET
#error "build with -DRNN_FUZZ_TARGET='\"json\"' (a function of tests/fuzz/targets.lua)"
#endif
#ifndef RNN_FUZZ_ROOT
#error "build with -DRNN_FUZZ_ROOT='\"/path/to/the/repository\"'"
#endif

extern int luaopen_rnn_core(lua_State *L);

#define NCOUNTERS (1u << 15)
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t lua_counters[NCOUNTERS];

static lua_State *L;
static int target_ref = LUA_NOREF;
static uint32_t prev_loc;

/* Only the line number, which a line event carries without lua_getinfo
 * (whose "S" formats the chunk's name at every call: 60% of the time of
 * the metrics target); the pair (previous line, line) tells apart most
 * lines of different files that share a number. */
static void line_hook(lua_State *LL, lua_Debug *ar)
{
    (void)LL;
    uint32_t loc = (uint32_t)ar->currentline * 0x9E3779B1u;
    loc ^= loc >> 15;
    uint8_t *c = &lua_counters[(loc ^ (prev_loc >> 1)) & (NCOUNTERS - 1)];
    if (*c != 255) (*c)++;
    prev_loc = loc;
}

static char scratch[4096];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* the scratch folder goes when libFuzzer exits (not after a crash: its
 * files may be needed to understand it) */
static void remove_scratch(void)
{
    if (scratch[0]) nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what)
{
    fprintf(stderr, "lua_fuzz (%s): %s\n", RNN_FUZZ_TARGET, what);
    exit(2);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *root = getenv("RNN_FUZZ_ROOT");
    if (root == NULL || *root == '\0') root = RNN_FUZZ_ROOT;

    /* the folder the run-folder targets write their files into: in memory
     * (/dev/shm) where there is one, as the file system calls of each input
     * are most of its time; RNN_FUZZ_TMP chooses another parent */
    const char *tmp = getenv("RNN_FUZZ_TMP");
    if (tmp == NULL || *tmp == '\0') tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/rnn-fuzz.XXXXXX", tmp);
    if (mkdtemp(dir) == NULL) die("cannot make a temporary folder");
    memcpy(scratch, dir, sizeof scratch);
    atexit(remove_scratch);

    L = luaL_newstate();
    if (L == NULL) die("cannot make a Lua state");
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_rnn_core);
    lua_setfield(L, -2, "rnn.core");
    lua_pop(L, 1);

    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/scripts/?.lua;%s/scripts/?/init.lua;%s/tests/fuzz/?.lua;", root, root, root);
    lua_getfield(L, -2, "path");
    lua_concat(L, 2);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);

    /* require('targets').setup{root = ..., dir = ...} returns the target's function */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "targets");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        die("cannot load tests/fuzz/targets.lua");
    }
    lua_getfield(L, -1, "setup");
    lua_pushstring(L, RNN_FUZZ_TARGET);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, root);
    lua_setfield(L, -2, "root");
    lua_pushstring(L, dir);
    lua_setfield(L, -2, "dir");
    if (lua_pcall(L, 2, 1, 0) != LUA_OK || !lua_isfunction(L, -1)) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        die("targets.setup gave no function");
    }
    target_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    prev_loc = 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, target_ref);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        size_t n;
        const char *msg = luaL_tolstring(L, -1, &n);
        if (n >= 12 && memcmp(msg, "FUZZ-FINDING", 12) == 0) {
            fprintf(stderr, "lua_fuzz (%s): %s\n", RNN_FUZZ_TARGET, msg);
            abort();
        }
        lua_pop(L, 2);
    }
    return 0;
}
