#include "lrl.h"

#include "../core/rnn_workspace.h"
#include "../core/tape.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Every op creates and checks tensor userdata, so the metatable is found
 * fast: by a slot in the registry's array part, and recognised by address.
 * Both are checked against the state at hand, so a second Lua state (whose
 * registry and metatable differ) still works through the named lookup. */
static int mt_ref = LUA_NOREF;
static const void *mt_ptr;

void rlua_remember_metatable(lua_State *L)
{
    mt_ptr = lua_topointer(L, -1);
    lua_pushvalue(L, -1);
    mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void push_metatable(lua_State *L)
{
    if (mt_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, mt_ref);
        if (lua_topointer(L, -1) == mt_ptr) return;
        lua_pop(L, 1);
    }
    luaL_getmetatable(L, RLUA_TENSOR_MT);
}

rl_tensor **rlua_newbox(lua_State *L)
{
    rl_tensor **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    push_metatable(L);
    lua_setmetatable(L, -2);
    return box;
}

rl_tensor *rlua_totensor(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return NULL;
    bool match = lua_topointer(L, -1) == mt_ptr;
    if (!match) {
        luaL_getmetatable(L, RLUA_TENSOR_MT);
        match = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return match ? *(rl_tensor **)lua_touserdata(L, idx) : NULL;
}

/* Pushes "chunk:line: " for the Lua code that called the binding: level 1
 * (level 0 is the C function itself). When level 1 is a C function, as in
 * pcall(rnn.zeros, ...), the Lua code one level further up. */
static void push_where(lua_State *L)
{
    luaL_where(L, 1);
    if (lua_rawlen(L, -1) == 0) {
        lua_pop(L, 1);
        luaL_where(L, 2);
    }
}

int rlua_error(lua_State *L, const char *fn, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    push_where(L);
    lua_pushfstring(L, "rnn.%s: %s", fn, msg);
    lua_concat(L, 2);
    return lua_error(L);
}

int rlua_fail(lua_State *L, const char *fn)
{
    /* core messages start with the core op ("matmul: ..."); keep the text after it */
    const char *msg = rl_last_error();
    const char *colon = strstr(msg, ": ");
    const char *body = colon && (size_t)(colon - msg) < 64 && !memchr(msg, ' ', (size_t)(colon - msg)) ? colon + 2 : msg;
    return rlua_error(L, fn, "%s", body);
}

/* Anomaly mode, forward half (the backward half is in core/tape.c): after
 * an op, the tensors on the calling binding's stack whose memory it made
 * (a storage id past the mark, which each check moves to the present; a
 * view of an input is not the op's doing) or wrote in place must be
 * finite. The in-place target is only compared, never dereferenced: it may
 * be gone by the next check. */
static uint64_t anomaly_mark;
static const rl_tensor *anomaly_inplace;

void rlua_anomaly_reset(void)
{
    anomaly_mark = rl_storage_last_id();
    anomaly_inplace = NULL;
}

static void anomaly_check(lua_State *L, const char *fn)
{
    uint64_t mark = anomaly_mark;
    const rl_tensor *inplace = anomaly_inplace;
    rlua_anomaly_reset();
    int top = lua_gettop(L);
    for (int i = 1; i <= top; i++) {
        rl_tensor *t = rlua_totensor(L, i);
        double bad;
        if (!t || (t->storage->id <= mark && t != inplace) || !rl_tensor_has_nonfinite(t, &bad)) continue;
        rlua_error(L, fn, "%s %s values (anomaly detection is on: rnn.set_detect_anomaly)",
                   t == inplace && t->storage->id <= mark ? "wrote" : "produced",
                   bad != bad ? "nan" : bad > 0 ? "inf" : "-inf");
    }
}

void rlua_check_status(lua_State *L, rl_status st, const char *fn)
{
    if (st != RL_OK) rlua_fail(L, fn);
    if (rl_anomaly_enabled()) anomaly_check(L, fn);
    rlua_gc_account(L);
}

void rlua_check_alloc(lua_State *L, rl_status st, const char *fn)
{
    if (st != RL_OK) rlua_fail(L, fn);
    rlua_gc_account(L);
}

rl_tensor *rlua_check(lua_State *L, int idx, const char *fn, const char *name)
{
    rl_tensor *t = rlua_totensor(L, idx);
    if (!t) {
        if (luaL_testudata(L, idx, RLUA_TENSOR_MT))
            rlua_error(L, fn, "argument %d (%s) is a released tensor", idx, name);
        rlua_error(L, fn, "argument %d (%s) must be a tensor, got %s", idx, name, luaL_typename(L, idx));
    }
    return t;
}

void rlua_check_nargs(lua_State *L, int max, const char *fn)
{
    int n = lua_gettop(L);
    if (n > max)
        rlua_error(L, fn, "expected at most %d argument%s, got %d (argument %d is %s)", max, max == 1 ? "" : "s", n,
                   max + 1, luaL_typename(L, max + 1));
}

lua_Integer rlua_checkint(lua_State *L, int idx, const char *fn, const char *name)
{
    int isnum;
    lua_Integer v = lua_tointegerx(L, idx, &isnum);
    if (!isnum) {
        if (lua_type(L, idx) == LUA_TNUMBER)
            rlua_error(L, fn, "argument %d (%s) must be an integer, got %s", idx, name, lua_tostring(L, idx));
        rlua_error(L, fn, "argument %d (%s) must be an integer, got %s", idx, name, luaL_typename(L, idx));
    }
    return v;
}

lua_Number rlua_checknum(lua_State *L, int idx, const char *fn, const char *name)
{
    int isnum;
    lua_Number v = lua_tonumberx(L, idx, &isnum);
    if (!isnum || lua_type(L, idx) != LUA_TNUMBER)
        rlua_error(L, fn, "argument %d (%s) must be a number, got %s", idx, name, luaL_typename(L, idx));
    return v;
}

int rlua_checkdim(lua_State *L, int idx, int ndim, const char *fn, int extra)
{
    lua_Integer d = rlua_checkint(L, idx, fn, "dim");
    lua_Integer n = ndim + extra;
    if (d < 0) d += n + 1;
    if (d < 1 || d > n) {
        if (n == 0) rlua_error(L, fn, "argument %d (dim): a 0-d tensor has no dimensions", idx);
        rlua_error(L, fn, "argument %d (dim) is %d, out of range for %s%d-d tensor (allowed 1..%d or -%d..-1)", idx,
                   (int)lua_tointeger(L, idx), extra ? "a new dim of a " : "a ", ndim, (int)n, (int)n);
    }
    return (int)(d - 1);
}

rl_dtype rlua_optdtype(lua_State *L, int idx, rl_dtype def, const char *fn)
{
    if (lua_isnoneornil(L, idx)) return def;
    if (lua_type(L, idx) != LUA_TSTRING)
        rlua_error(L, fn, "argument %d (dtype) must be 'float32', 'float64' or 'int64', got %s", idx,
                   luaL_typename(L, idx));
    rl_dtype dt;
    if (rl_dtype_parse(lua_tostring(L, idx), &dt))
        rlua_error(L, fn, "argument %d (dtype) must be 'float32', 'float64' or 'int64', got '%s'", idx,
                   lua_tostring(L, idx));
    return dt;
}

static int64_t check_size(lua_State *L, int argidx, int pos, const char *fn, int allow_infer)
{
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum)
        rlua_error(L, fn, "argument %d (size): size %d must be an integer, got %s", argidx, pos,
                   lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
    if (v < 0 && !(allow_infer && v == -1))
        rlua_error(L, fn, "argument %d (size): size %d is %lld; sizes must be >= 0", argidx, pos, (long long)v);
    return (int64_t)v;
}

int rlua_checksizes(lua_State *L, int idx, int64_t *shape, const char *fn, int *next, int allow_infer)
{
    int n = 0;
    if (lua_istable(L, idx) && !rlua_totensor(L, idx)) {
        lua_Integer len = luaL_len(L, idx);
        if (len > RL_MAX_DIMS)
            rlua_error(L, fn, "argument %d (size) has %lld dimensions, at most %d supported", idx, (long long)len,
                       RL_MAX_DIMS);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_geti(L, idx, i);
            shape[n++] = check_size(L, idx, (int)i, fn, allow_infer);
            lua_pop(L, 1);
        }
        *next = idx + 1;
    } else {
        int top = lua_gettop(L), i = idx;
        for (; i <= top && lua_type(L, i) == LUA_TNUMBER; i++) {
            if (n == RL_MAX_DIMS)
                rlua_error(L, fn, "too many sizes: at most %d dimensions supported", RL_MAX_DIMS);
            lua_pushvalue(L, i);
            shape[n] = check_size(L, i, n + 1, fn, allow_infer);
            n++;
            lua_pop(L, 1);
        }
        if (i <= top && !lua_isnil(L, i) && lua_type(L, i) != LUA_TSTRING && !lua_istable(L, i))
            rlua_error(L, fn, "argument %d (size) must be a number or a table of sizes, got %s", i,
                       luaL_typename(L, i));
        *next = i;
    }
    return n;
}

void rlua_infer_size(lua_State *L, const char *fn, int64_t *shape, int n, int64_t numel)
{
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        if (shape[i] != -1) {
            if (shape[i] != 0 && known > (INT64_C(1) << 62) / shape[i]) {
                char sb[RL_SHAPE_BUF];
                rlua_error(L, fn, "shape %s has too many elements", rl_shape_str(sb, sizeof sb, n, shape));
            }
            known *= shape[i];
        } else if (infer >= 0) {
            rlua_error(L, fn, "only one size may be -1 (inferred)");
        } else {
            infer = i;
        }
    }
    if (infer < 0) return;
    if (known == 0 || numel % known != 0) {
        char sb[RL_SHAPE_BUF];
        shape[infer] = -1;
        rlua_error(L, fn, "cannot infer the -1 size of %s for %lld elements", rl_shape_str(sb, sizeof sb, n, shape),
                   (long long)numel);
    }
    shape[infer] = numel / known;
}

rl_tensor *rlua_scalar_tensor(lua_State *L, int idx, rl_dtype dt, const char *fn, const char *name)
{
    lua_Number v = rlua_checknum(L, idx, fn, name);
    int isint = 0;
    lua_Integer i = lua_tointegerx(L, idx, &isint);
    if (dt == RL_INT64 && !isint) {
        char vb[64];
        rlua_error(L, fn, "argument %d (%s) must be an integer for an int64 tensor, got %s", idx, name,
                   rl_int64_misfit(vb, sizeof vb, v));
    }
    int64_t no_dims[1] = {0};
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_tensor_zeros(box, dt, 0, no_dims), fn);
    if (dt == RL_INT64) *(int64_t *)rl_tensor_data(*box) = i;
    else rl_tensor_fill_(*box, v);
    return *box;
}

/* The core memory that tensors (and their tape nodes) hold: what a
 * collection can give back. The recurrent kernels' spares and packed
 * weights (rnn_workspace.h) are left out: counted in, the buffers a big
 * model left there set a slack pace for the next, small one, whose garbage
 * then piled up onto fresh pages (a config-C RNN step after a config-B
 * LSTM, collected: 60 MB kept, about 14 MB of garbage between collections
 * against 0.5, 100 page faults a step for its first ~40 steps, 1.0-1.3 ms
 * against 0.8-0.9 fresh; bench/recurrent.lua after_b). */
static uint64_t tensor_bytes_held(void)
{
    uint64_t held = rl_storage_bytes_held(), kept = rl_ws_bytes_kept();
    return held > kept ? held - kept : 0;
}

void rlua_gc_account(lua_State *L)
{
    /* Tensor memory is malloc'd in C, invisible to Lua's collector, and a
     * dead tensor's memory comes back only when the collector finalizes its
     * box. So C bytes allocated are reported as collector debt once they
     * pass a third of the tensor memory in use, and at least 512 KiB: a
     * loop of small ops then reuses memory still in cache (reported every
     * 16 MiB, such a loop ran twice as slow), while a model with big
     * tensors is not collected after every op.
     *
     * In generational mode (rnnlua's default, as lua's) that debt buys
     * minor collections only, which never free a box that survived two of
     * them: the tensors of a long forward pass. Lua starts a major
     * collection when its own heap doubles, which tiny boxes hardly move;
     * so one is started here when the tensor memory in use has doubled
     * since the last (at least 16 MiB), as Lua would if it could see it. */
    static uint64_t seen, live_after_full;
    uint64_t now = rl_storage_bytes_allocated(), since = now - seen;
    uint64_t live = tensor_bytes_held();
    /* what is held bounds what is live: after big tensors went (a
     * collectgarbage() between experiments), the doubling counts from the
     * smaller level, or garbage would pile up to twice the old one */
    if (live < live_after_full) live_after_full = live;
    uint64_t threshold = live / 3;
    if (threshold < (UINT64_C(512) << 10)) threshold = UINT64_C(512) << 10;
    if (since <= threshold) return;
    seen = now;
    uint64_t full_at = 2 * live_after_full;
    if (full_at < (UINT64_C(16) << 20)) full_at = UINT64_C(16) << 20;
    if (live > full_at && lua_gc(L, LUA_GCISRUNNING)) {
        lua_gc(L, LUA_GCCOLLECT);
        live_after_full = tensor_bytes_held();
        return;
    }
    uint64_t kb = since >> 10;
    lua_gc(L, LUA_GCSTEP, kb > INT_MAX ? INT_MAX : (int)kb);
}

void rlua_check_inplace(lua_State *L, rl_tensor *t, const char *fn)
{
    /* an expanded dim repeats one element: writing into it is a race between
     * the elements that alias (PyTorch refuses it too) */
    for (int i = 0; i < t->ndim; i++)
        if (t->stride[i] == 0 && t->shape[i] > 1)
            rlua_error(L, fn, "in-place write into an expanded tensor (dimension %d repeats one element); "
                       "clone it first", i + 1);
    if (rl_grad_enabled() && (rl_needs_grad(t) || t->storage->grad_leaf))
        rlua_error(L, fn, "in-place operation on %s; do it inside rnn.no_grad(function() ... end), "
                   "or on a clone", rl_needs_grad(t) ? "a tensor that requires grad"
                                                     : "a view of a tensor that requires grad");
    t->storage->version++;
    anomaly_inplace = t;
}
