/* create.c — tensor constructors, the random generator and thread count. */
#include "lrl.h"

#include "../core/blas.h"
#include "../core/rng.h"

#include <math.h>
#include <string.h>

/* (sizes..., [dtype]) or ({sizes}, [dtype]) */
static int sizes_and_dtype(lua_State *L, int first, int64_t *shape, rl_dtype *dt, const char *fn)
{
    int next;
    int n = rlua_checksizes(L, first, shape, fn, &next, 0);
    *dt = rlua_optdtype(L, next, RL_FLOAT32, fn);
    if (!lua_isnoneornil(L, next + 1))
        rlua_error(L, fn, "unexpected argument %d (%s) after the dtype", next + 1, luaL_typename(L, next + 1));
    return n;
}

static int l_empty(lua_State *L)
{
    int64_t shape[RL_MAX_DIMS];
    rl_dtype dt;
    int n = sizes_and_dtype(L, 1, shape, &dt, "empty");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_tensor_zeros(box, dt, n, shape), "empty"); /* zeroed: no stale memory leaks out */
    return 1;
}

static int l_zeros(lua_State *L)
{
    int64_t shape[RL_MAX_DIMS];
    rl_dtype dt;
    int n = sizes_and_dtype(L, 1, shape, &dt, "zeros");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_tensor_zeros(box, dt, n, shape), "zeros");
    return 1;
}

static int l_ones(lua_State *L)
{
    int64_t shape[RL_MAX_DIMS];
    rl_dtype dt;
    int n = sizes_and_dtype(L, 1, shape, &dt, "ones");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_tensor_full(box, dt, n, shape, 1.0), "ones");
    return 1;
}

/* rnn.full(sizes, value [, dtype]) */
static int l_full(lua_State *L)
{
    int64_t shape[RL_MAX_DIMS];
    int next;
    int n = rlua_checksizes(L, 1, shape, "full", &next, 0);
    if (!lua_istable(L, 1))
        rlua_error(L, "full", "argument 1 (size) must be a table of sizes: rnn.full({2,3}, value)");
    double v = rlua_checknum(L, next, "full", "value");
    rl_dtype dt = rlua_optdtype(L, next + 1, RL_FLOAT32, "full");
    if (dt == RL_INT64) {
        /* exactly the Lua integer (a double holds 2^53 at most); NaN,
         * infinities, fractions and out-of-range values are errors */
        rl_tensor *value = rlua_scalar_tensor(L, next, RL_INT64, "full", "value");
        rl_tensor **box = rlua_newbox(L);
        rlua_check_alloc(L, rl_tensor_empty(box, dt, n, shape), "full");
        rlua_check_status(L, rl_tensor_copy_(*box, value), "full");
        return 1;
    }
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_tensor_full(box, dt, n, shape, v), "full");
    return 1;
}

static int l_like(lua_State *L, const char *fn, double value)
{
    rl_tensor *t = rlua_check(L, 1, fn, "tensor");
    rl_dtype dt = rlua_optdtype(L, 2, t->dtype, fn);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_tensor_full(box, dt, t->ndim, t->shape, value), fn);
    return 1;
}

static int l_zeros_like(lua_State *L) { return l_like(L, "zeros_like", 0); }
static int l_ones_like(lua_State *L) { return l_like(L, "ones_like", 1); }

/* rnn.arange(stop) | rnn.arange(start, stop [, step]) [, dtype]: [start, stop) as PyTorch */
static int l_arange(lua_State *L)
{
    double a[3] = {0, 0, 1};
    int n = 0;
    while (n < 3 && lua_type(L, n + 1) == LUA_TNUMBER) {
        a[n] = lua_tonumber(L, n + 1);
        n++;
    }
    if (n == 0) rlua_error(L, "arange", "argument 1 (stop) must be a number, got %s", luaL_typename(L, 1));
    double start = n == 1 ? 0 : a[0], stop = n == 1 ? a[0] : a[1], step = n == 3 ? a[2] : 1;
    rl_dtype def = RL_FLOAT32;
    rl_dtype dt = rlua_optdtype(L, n + 1, def, "arange");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_tensor_arange(box, dt, start, stop, step), "arange");
    return 1;
}

static int l_linspace(lua_State *L)
{
    double start = rlua_checknum(L, 1, "linspace", "start");
    double stop = rlua_checknum(L, 2, "linspace", "stop");
    lua_Integer n = rlua_checkint(L, 3, "linspace", "steps");
    rl_dtype dt = rlua_optdtype(L, 4, RL_FLOAT32, "linspace");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_tensor_linspace(box, dt, start, stop, n), "linspace");
    return 1;
}

/* rnn.eye(n [, m] [, dtype]) */
static int l_eye(lua_State *L)
{
    lua_Integer n = rlua_checkint(L, 1, "eye", "n");
    int next = 2;
    lua_Integer m = n;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        m = rlua_checkint(L, 2, "eye", "m");
        next = 3;
    }
    if (n < 0 || m < 0) rlua_error(L, "eye", "sizes must be >= 0, got %lld and %lld", (long long)n, (long long)m);
    rl_dtype dt = rlua_optdtype(L, next, RL_FLOAT32, "eye");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_tensor_eye(box, dt, n, m), "eye");
    return 1;
}

static int random_tensor(lua_State *L, const char *fn, int normal)
{
    int64_t shape[RL_MAX_DIMS];
    rl_dtype dt;
    int n = sizes_and_dtype(L, 1, shape, &dt, fn);
    if (dt == RL_INT64) rlua_error(L, fn, "dtype must be 'float32' or 'float64' (use rnn.randint for integers)");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_alloc(L, rl_tensor_empty(box, dt, n, shape), fn);
    if (normal) rl_tensor_normal_(*box, rl_rng_default(), 0, 1);
    else rl_tensor_uniform_(*box, rl_rng_default(), 0, 1);
    return 1;
}

static int l_rand(lua_State *L) { return random_tensor(L, "rand", 0); }
static int l_randn(lua_State *L) { return random_tensor(L, "randn", 1); }

/* rnn.randint(low, high, sizes): int64 uniform in [low, high) */
static int l_randint(lua_State *L)
{
    lua_Integer lo = rlua_checkint(L, 1, "randint", "low");
    lua_Integer hi = rlua_checkint(L, 2, "randint", "high");
    if (hi <= lo) rlua_error(L, "randint", "high (%lld) must be greater than low (%lld)", (long long)hi, (long long)lo);
    int64_t shape[RL_MAX_DIMS];
    if (!lua_istable(L, 3)) rlua_error(L, "randint", "argument 3 (size) must be a table of sizes, got %s", luaL_typename(L, 3));
    int next;
    int n = rlua_checksizes(L, 3, shape, "randint", &next, 0);
    rl_dtype dt = rlua_optdtype(L, next, RL_INT64, "randint");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_alloc(L, rl_tensor_empty(box, dt, n, shape), "randint");
    rl_tensor *t = *box;
    int64_t count = rl_tensor_numel(t);
    uint64_t range = (uint64_t)hi - (uint64_t)lo;
    for (int64_t i = 0; i < count; i++) {
        int64_t v = (int64_t)((uint64_t)lo + rl_rng_below(rl_rng_default(), range));
        if (dt == RL_INT64) ((int64_t *)rl_tensor_data(t))[i] = v;
        else if (dt == RL_FLOAT64) ((double *)rl_tensor_data(t))[i] = (double)v;
        else ((float *)rl_tensor_data(t))[i] = (float)v;
    }
    return 1;
}

/* rnn.randperm(n): a random permutation of 1..n (int64, 1-based as Lua indices) */
static int l_randperm(lua_State *L)
{
    lua_Integer n = rlua_checkint(L, 1, "randperm", "n");
    if (n < 0) rlua_error(L, "randperm", "argument 1 (n) must be >= 0, got %lld", (long long)n);
    rl_tensor **box = rlua_newbox(L);
    int64_t len = n;
    rlua_check_alloc(L, rl_tensor_empty(box, RL_INT64, 1, &len), "randperm");
    int64_t *p = rl_tensor_data(*box);
    for (int64_t i = 0; i < n; i++) p[i] = i + 1;
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)rl_rng_below(rl_rng_default(), (uint64_t)i + 1);
        int64_t tmp = p[i];
        p[i] = p[j];
        p[j] = tmp;
    }
    return 1;
}

static int l_manual_seed(lua_State *L)
{
    lua_Integer s = rlua_checkint(L, 1, "manual_seed", "seed");
    rl_rng_seed(rl_rng_default(), (uint64_t)s);
    return 0;
}

/* The generator's full state as a table of integers, for checkpoints. */
static int l_get_rng_state(lua_State *L)
{
    rl_rng *r = rl_rng_default();
    lua_createtable(L, 6, 0);
    for (int i = 0; i < 4; i++) {
        lua_pushinteger(L, (lua_Integer)r->s[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushinteger(L, r->has_spare);
    lua_rawseti(L, -2, 5);
    uint64_t bits;
    memcpy(&bits, &r->spare, sizeof bits);
    lua_pushinteger(L, (lua_Integer)bits);
    lua_rawseti(L, -2, 6);
    return 1;
}

static int l_set_rng_state(lua_State *L)
{
    if (!lua_istable(L, 1))
        rlua_error(L, "set_rng_state", "argument 1 (state) must be a table from rnn.get_rng_state, got %s",
                   luaL_typename(L, 1));
    uint64_t v[6];
    for (int i = 0; i < 6; i++) {
        lua_geti(L, 1, i + 1);
        int isint;
        v[i] = (uint64_t)lua_tointegerx(L, -1, &isint);
        if (!isint) rlua_error(L, "set_rng_state", "argument 1 (state): entry %d must be an integer (a table from rnn.get_rng_state)", i + 1);
        lua_pop(L, 1);
    }
    if (!(v[0] | v[1] | v[2] | v[3]))
        rlua_error(L, "set_rng_state", "argument 1 (state): an all-zero state is invalid");
    rl_rng *r = rl_rng_default();
    for (int i = 0; i < 4; i++) r->s[i] = v[i];
    r->has_spare = v[4] != 0;
    memcpy(&r->spare, &v[5], sizeof r->spare);
    return 0;
}

static int l_set_num_threads(lua_State *L)
{
    lua_Integer n = rlua_checkint(L, 1, "set_num_threads", "n");
    if (n < 1 || n > 1024) rlua_error(L, "set_num_threads", "argument 1 (n) must be in 1..1024, got %lld", (long long)n);
    rl_set_num_threads((int)n);
    return 0;
}

static int l_get_num_threads(lua_State *L)
{
    lua_pushinteger(L, rl_get_num_threads());
    return 1;
}

/* ---- rnn.tensor(nested tables [, dtype]) ---- */

/* Walks the first element at each depth to find the shape. */
static int infer_shape(lua_State *L, int idx, int64_t *shape)
{
    int n = 0;
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1) && !rlua_totensor(L, -1)) {
        if (n == RL_MAX_DIMS) rlua_error(L, "tensor", "nested tables deeper than %d dimensions", RL_MAX_DIMS);
        shape[n++] = (int64_t)luaL_len(L, -1);
        if (shape[n - 1] == 0) break;
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return n;
}

static void path_str(char *buf, size_t size, const int64_t *pos, int depth)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < depth && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "[%lld]", (long long)pos[i] + 1);
}

static void fill_from_table(lua_State *L, rl_tensor *t, int depth, int64_t *pos, char **out)
{
    luaL_checkstack(L, 4, "nested table too deep");
    char path[128];
    if (!lua_istable(L, -1) || rlua_totensor(L, -1)) {
        path_str(path, sizeof path, pos, depth);
        rlua_error(L, "tensor", "element at %s is a %s, expected a table of %lld elements", path,
                   luaL_typename(L, -1), (long long)t->shape[depth]);
    }
    lua_Integer len = luaL_len(L, -1);
    if (len != t->shape[depth]) {
        path_str(path, sizeof path, pos, depth);
        rlua_error(L, "tensor", "ragged nested table: %s%s has %lld elements, expected %lld", depth ? "element " : "the table",
                   path, (long long)len, (long long)t->shape[depth]);
    }
    size_t es = rl_dtype_size(t->dtype);
    for (lua_Integer i = 1; i <= len; i++) {
        pos[depth] = i - 1;
        lua_geti(L, -1, i);
        if (depth + 1 < t->ndim) {
            fill_from_table(L, t, depth + 1, pos, out);
        } else {
            int ok;
            if (t->dtype == RL_INT64) {
                lua_Integer v = lua_tointegerx(L, -1, &ok);
                if (ok) *(int64_t *)*out = v;
            } else {
                lua_Number v = lua_tonumberx(L, -1, &ok);
                ok = ok && lua_type(L, -1) == LUA_TNUMBER;
                if (ok && t->dtype == RL_FLOAT32) *(float *)*out = (float)v;
                else if (ok) *(double *)*out = v;
            }
            if (!ok) {
                char vb[64];
                path_str(path, sizeof path, pos, depth + 1);
                rlua_error(L, "tensor", "element %s is %s, expected %s", path,
                           lua_type(L, -1) == LUA_TNUMBER ? rl_int64_misfit(vb, sizeof vb, lua_tonumber(L, -1))
                                                          : luaL_typename(L, -1),
                           t->dtype == RL_INT64 ? "an integer for an int64 tensor" : "a number");
            }
            *out += es;
        }
        lua_pop(L, 1);
    }
}

static int l_tensor(lua_State *L)
{
    rlua_check_nargs(L, 2, "tensor");
    rl_dtype dt = rlua_optdtype(L, 2, RL_FLOAT32, "tensor");
    rl_tensor *src = rlua_totensor(L, 1);
    if (src) {
        if (lua_isnoneornil(L, 2)) dt = src->dtype;
        rl_tensor **box = rlua_newbox(L);
        rlua_check_status(L, rl_tensor_to_dtype(box, src, dt), "tensor");
        return 1;
    }
    if (lua_type(L, 1) == LUA_TNUMBER) {
        rl_tensor **box = rlua_newbox(L);
        int64_t no_dims[1] = {0}; /* not NULL: the core memcpy's the (empty) shape */
        rlua_check_status(L, rl_tensor_full(box, dt, 0, no_dims, lua_tonumber(L, 1)), "tensor");
        if (dt == RL_INT64 && !lua_isinteger(L, 1)) {
            int ok;
            lua_Integer v = lua_tointegerx(L, 1, &ok);
            if (!ok) rlua_error(L, "tensor", "argument 1 (data) is not an integer, for an int64 tensor");
            *(int64_t *)rl_tensor_data(*box) = v;
        } else if (dt == RL_INT64) {
            *(int64_t *)rl_tensor_data(*box) = lua_tointeger(L, 1);
        }
        return 1;
    }
    if (!lua_istable(L, 1))
        rlua_error(L, "tensor", "argument 1 (data) must be a number, a tensor or nested tables of numbers, got %s",
                   luaL_typename(L, 1));
    int64_t shape[RL_MAX_DIMS];
    int n = infer_shape(L, 1, shape);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_alloc(L, rl_tensor_empty(box, dt, n, shape), "tensor");
    int64_t pos[RL_MAX_DIMS] = {0};
    char *out = rl_tensor_data(*box);
    lua_pushvalue(L, 1);
    if (n > 0) fill_from_table(L, *box, 0, pos, &out); /* when empty too: {{}, {1, 2}} is ragged */
    lua_pop(L, 1);
    rlua_check_status(L, RL_OK, "tensor"); /* anomaly mode: a NaN comes in here, not at the next op */
    return 1;
}

/***
@module rnn
*/

/***
A new tensor from nested Lua tables of numbers (or a number: a 0-d
tensor; or a tensor: a copy, converted to dtype).
@function tensor
@tparam table|number|Tensor data nested arrays, rectangular
@tparam[opt='float32'] string dtype 'float32', 'float64' or 'int64' (a
tensor's own dtype when data is a tensor)
@treturn Tensor
@raise for ragged tables, non-numbers, or non-integers for int64
@usage rnn.tensor{{1, 2}, {3, 4}}      -- (2, 2) float32
rnn.tensor({1, 2, 3}, 'int64')
*/

/***
A new tensor of the given sizes (filled with zeros: no stale memory).
@function empty
@call rnn.empty(d1, d2, ... [, dtype])
rnn.empty({d1, d2, ...} [, dtype])
@treturn Tensor
*/

/***
A new tensor of zeros. The dtype is 'float32' (default), 'float64' or
'int64'.
@function zeros
@call rnn.zeros(d1, d2, ... [, dtype])
rnn.zeros({d1, d2, ...} [, dtype])
@treturn Tensor
@usage rnn.zeros(2, 3)   rnn.zeros({2, 3}, 'float64')
*/

/***
A new tensor of ones.
@function ones
@call rnn.ones(d1, d2, ... [, dtype])
rnn.ones({d1, d2, ...} [, dtype])
@treturn Tensor
*/

/***
A new tensor filled with value.
@function full
@tparam {integer,...} sizes
@tparam number value
@tparam[opt='float32'] string dtype
@treturn Tensor
*/

/***
Zeros of t's shape and (unless given) dtype.
@function zeros_like
@tparam Tensor t
@tparam[opt] string dtype
@treturn Tensor
*/

/***
Ones of t's shape and (unless given) dtype.
@function ones_like
@tparam Tensor t
@tparam[opt] string dtype
@treturn Tensor
*/

/***
The numbers from start (default 0) up to stop, excluded, by step
(default 1), as PyTorch's arange; float32 unless a dtype is given.
@function arange
@call rnn.arange(stop [, dtype])
rnn.arange(start, stop [, step] [, dtype])
@treturn Tensor 1-d
@usage rnn.arange(5)              -- 0, 1, 2, 3, 4
rnn.arange(1, 2, 0.25, 'float64')
*/

/***
n numbers evenly spaced from start to stop, both included.
@function linspace
@tparam number start
@tparam number stop
@tparam integer steps n
@tparam[opt='float32'] string dtype
@treturn Tensor (n)
*/

/***
The identity matrix (n, m): ones on the main diagonal.
@function eye
@tparam integer n rows
@tparam[opt=n] integer m columns
@tparam[opt='float32'] string dtype
@treturn Tensor (n, m)
*/

/***
Uniform random numbers on [0, 1), from the seeded generator.
@function rand
@call rnn.rand(d1, d2, ... [, dtype])
rnn.rand({d1, d2, ...} [, dtype])
@treturn Tensor float32 or float64
*/

/***
Standard normal random numbers N(0, 1), from the seeded generator.
@function randn
@call rnn.randn(d1, d2, ... [, dtype])
rnn.randn({d1, d2, ...} [, dtype])
@treturn Tensor float32 or float64
@usage local x = rnn.randn{100, 32, 8}
*/

/***
Random integers uniform on [low, high), high excluded.
@function randint
@tparam integer low
@tparam integer high > low
@tparam {integer,...} sizes a table
@tparam[opt='int64'] string dtype
@treturn Tensor
*/

/***
A random permutation of 1..n (1-based, as Lua indices).
@function randperm
@tparam integer n >= 0
@treturn Tensor int64 (n)
*/

/***
Seeds the one random generator (xoshiro256**, seeded by splitmix64):
the same seed gives the same numbers on every run and machine. Before
any seed, the state comes from a fixed seed.
@function manual_seed
@tparam integer seed
*/

/***
The generator's whole state, for checkpoints that resume exactly.
@function get_rng_state
@treturn {integer,...} six integers, for set_rng_state
*/

/***
Restores a state from get_rng_state.
@function set_rng_state
@tparam {integer,...} state
@raise for a table that is not such a state
*/

/***
Sets the number of BLAS threads.
@function set_num_threads
@tparam integer n in 1..1024
*/

/***
The number of BLAS threads (by default what OpenBLAS reads from
OPENBLAS_NUM_THREADS or OMP_NUM_THREADS, else one per core).
@function get_num_threads
@treturn integer
*/

static const luaL_Reg funcs[] = {
    {"tensor", l_tensor},
    {"empty", l_empty},
    {"zeros", l_zeros},
    {"ones", l_ones},
    {"full", l_full},
    {"zeros_like", l_zeros_like},
    {"ones_like", l_ones_like},
    {"arange", l_arange},
    {"linspace", l_linspace},
    {"eye", l_eye},
    {"rand", l_rand},
    {"randn", l_randn},
    {"randint", l_randint},
    {"randperm", l_randperm},
    {"manual_seed", l_manual_seed},
    {"get_rng_state", l_get_rng_state},
    {"set_rng_state", l_set_rng_state},
    {"set_num_threads", l_set_num_threads},
    {"get_num_threads", l_get_num_threads},
    {NULL, NULL},
};

void rlua_open_create(lua_State *L)
{
    luaL_setfuncs(L, funcs, 0);
}
