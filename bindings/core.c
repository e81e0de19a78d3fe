/* core.c — luaopen_rnn_core: the C half of the `rnn` module. */
#include "lrl.h"
#include "../core/rnn_workspace.h"
#include "../core/storage.h"

#include "../core/isa.h"

#include <time.h>

/* The module's one exported name: everything else is built with
 * -fvisibility=hidden (Makefile), and bindings/core.map says the same to
 * the linker. */
__attribute__((visibility("default"))) int luaopen_rnn_core(lua_State *L);

/***
@module rnn
*/

/***
Seconds on a monotonic wall clock, for timing (os.clock counts the CPU
time of all threads, which BLAS threads inflate).
@function clock
@treturn number
@usage local t0 = rnn.clock(); train(); print(rnn.clock() - t0)
*/
static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/***
The instruction set that rnnlua's own kernels run (the vectorised sigmoid,
tanh and optimizer loops, the recurrent time loops and, with avx512, its
matrix product): the CPU's best unless the environment variable
RNNLUA_ISA (generic, avx2 or avx512), read when the module loads, forces
a lower one. An unknown value, or a level the CPU lacks, makes the module
fail to load. OpenBLAS chooses its own kernels (OPENBLAS_CORETYPE).
@function isa
@treturn string 'generic', 'avx2' or 'avx512': the level in use
@treturn string the CPU's best level
@usage print(rnn.isa())   --> avx512   avx512
*/
static int l_isa(lua_State *L)
{
    lua_pushstring(L, rl_isa_name(rl_isa()));
    lua_pushstring(L, rl_isa_name(rl_isa_cpu()));
    return 2;
}

/* rnn._memory_stats(): a table of the core's memory counters in bytes
 * (live: storage in use; held: live plus tensor headers and tape nodes;
 * kept: the part of live that the recurrent kernels keep for their next
 * call, rnn_workspace.h; cached: freed storage kept for reuse; allocated:
 * ever handed out), for tests and benchmarks. */
static int l_memory_stats(lua_State *L)
{
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)rl_storage_bytes_live());
    lua_setfield(L, -2, "live");
    lua_pushinteger(L, (lua_Integer)rl_storage_bytes_held());
    lua_setfield(L, -2, "held");
    lua_pushinteger(L, (lua_Integer)rl_ws_bytes_kept());
    lua_setfield(L, -2, "kept");
    lua_pushinteger(L, (lua_Integer)rl_storage_bytes_cached());
    lua_setfield(L, -2, "cached");
    lua_pushinteger(L, (lua_Integer)rl_storage_bytes_allocated());
    lua_setfield(L, -2, "allocated");
    return 1;
}

int luaopen_rnn_core(lua_State *L)
{
    /* before any kernel runs: a refused RNNLUA_ISA stops the load here */
    if (rl_isa_init() != RL_OK) return luaL_error(L, "rnn: %s", rl_last_error());
    rlua_install_allocator(L);
    lua_newtable(L);
    rlua_open_tensor(L);
    rlua_open_create(L);
    rlua_open_math(L);
    rlua_open_shape(L);
    rlua_open_autograd(L);
    rlua_open_nn(L);
    rlua_open_rnn(L);
    rlua_open_io(L);
    rlua_open_optim(L);
    rlua_open_linalg(L);
    rlua_open_lalloc(L);
    rlua_open_signals(L);
    lua_pushcfunction(L, l_clock);
    lua_setfield(L, -2, "clock");
    lua_pushcfunction(L, l_isa);
    lua_setfield(L, -2, "isa");
    lua_pushcfunction(L, l_memory_stats);
    lua_setfield(L, -2, "_memory_stats");
    return 1;
}
