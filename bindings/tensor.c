/* tensor.c — the rnn.Tensor userdata: lifetime, queries, element access,
 * conversion to Lua tables. */
#include "lrl.h"

#include "../core/autograd.h"

#include <string.h>

/* True when the running C function was called by the collector as a
 * finalizer. Lua stops its collector while it runs finalizers (GCTM sets
 * GCSTPGC), and lua_gc answers -1 to everything then: a structural fact,
 * where the name Lua gives the caller is not one — a collection started
 * inside a debug hook's machinery names a finalizer's caller "hook", not
 * "__gc" (about one finalizer in ten under debug.sethook), and those
 * tensors were never released. A call by hand outside any finalizer sees
 * the collector running (1) or stopped by collectgarbage('stop') (0).
 * Left: a finalizer written in Lua that calls a tensor's __gc by hand is
 * taken for the collector. */
static bool called_by_collector(lua_State *L)
{
    return lua_gc(L, LUA_GCISRUNNING, 0) == -1;
}

static int t_gc(lua_State *L)
{
    /* getmetatable(t).__gc(t) from Lua code (an __index/__len handler, a
     * finalizer) could free a tensor that a binding further up the C stack
     * is still using: only the collector's own call releases it. The
     * collector calls it on objects carrying the tensor metatable; a table
     * given that metatable by setmetatable is not a box. */
    if (!called_by_collector(L) || lua_type(L, 1) != LUA_TUSERDATA || lua_rawlen(L, 1) != sizeof(rl_tensor *))
        return 0;
    rl_tensor **box = lua_touserdata(L, 1);
    rl_tensor_release(*box);
    *box = NULL;
    return 0;
}

static void push_element(lua_State *L, const rl_tensor *t, const int64_t *index)
{
    void *p = rl_tensor_ptr(t, index);
    switch (t->dtype) {
    case RL_FLOAT32: lua_pushnumber(L, *(float *)p); break;
    case RL_FLOAT64: lua_pushnumber(L, *(double *)p); break;
    case RL_INT64: lua_pushinteger(L, *(int64_t *)p); break;
    }
}

/* Stores the Lua value at idx into one element, checking it fits the dtype. */
static void store_element(lua_State *L, int idx, rl_tensor *t, const int64_t *index, const char *fn)
{
    void *p = rl_tensor_ptr(t, index);
    if (t->dtype == RL_INT64) {
        int isint;
        lua_Integer v = lua_tointegerx(L, idx, &isint);
        if (!isint) {
            char vb[64];
            if (lua_type(L, idx) == LUA_TNUMBER)
                rlua_error(L, fn, "value for an int64 tensor must be an integer, got %s",
                           rl_int64_misfit(vb, sizeof vb, lua_tonumber(L, idx)));
            rlua_error(L, fn, "value for an int64 tensor must be an integer, got %s", luaL_typename(L, idx));
        }
        *(int64_t *)p = v;
        return;
    }
    if (lua_type(L, idx) != LUA_TNUMBER)
        rlua_error(L, fn, "value must be a number, got %s", luaL_typename(L, idx));
    double v = lua_tonumber(L, idx);
    if (t->dtype == RL_FLOAT32) *(float *)p = (float)v;
    else *(double *)p = v;
}

/* 1-based (negative from the end) index -> 0-based, range-checked */
static int64_t check_index(lua_State *L, lua_Integer i, int64_t size, int dim, const char *fn)
{
    lua_Integer j = i < 0 ? i + size + 1 : i;
    if (j < 1 || j > size)
        rlua_error(L, fn, "index %lld out of range for dimension %d of size %lld", (long long)i, dim + 1,
                   (long long)size);
    return j - 1;
}

/* Reads a table of indices at idx into index[]; returns how many. */
static int read_index_table(lua_State *L, int idx, const rl_tensor *t, int64_t *index, const char *fn)
{
    lua_Integer n = luaL_len(L, idx);
    if (n > t->ndim)
        rlua_error(L, fn, "%lld indices given for a %d-d tensor", (long long)n, t->ndim);
    for (lua_Integer k = 1; k <= n; k++) {
        lua_geti(L, idx, k);
        int isint;
        lua_Integer i = lua_tointegerx(L, -1, &isint);
        if (!isint)
            rlua_error(L, fn, "index %d must be an integer, got %s", (int)k,
                       lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
        index[k - 1] = check_index(L, i, t->shape[k - 1], (int)k - 1, fn);
        lua_pop(L, 1);
    }
    return (int)n;
}

/* Pushes the view of t with its first n dims fixed at index[0..n). */
static rl_tensor *push_subview(lua_State *L, rl_tensor *t, const int64_t *index, int n, const char *fn)
{
    rl_tensor **box = rlua_newbox(L);
    rl_tensor_retain(t);
    *box = t;
    for (int k = 0; k < n; k++) {
        rl_tensor *v;
        rlua_check_status(L, rl_ag_select(&v, *box, 0, index[k]), fn);
        rl_tensor_release(*box);
        *box = v;
    }
    return *box;
}

static int t_index(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "Tensor.__index", "tensor");
    int64_t index[RL_MAX_DIMS];
    int n;
    switch (lua_type(L, 2)) {
    case LUA_TSTRING:
        lua_pushvalue(L, 2);
        lua_gettable(L, lua_upvalueindex(1)); /* methods */
        if (lua_isnil(L, -1) && !strcmp(lua_tostring(L, 2), "grad")) {
            lua_pop(L, 1);
            rlua_push_grad(L, t);
        }
        return 1;
    case LUA_TNUMBER: {
        int isint;
        lua_Integer i = lua_tointegerx(L, 2, &isint);
        if (!isint) rlua_error(L, "Tensor.__index", "index must be an integer, got %s", lua_tostring(L, 2));
        if (t->ndim == 0) rlua_error(L, "Tensor.__index", "a 0-d tensor cannot be indexed; use :item()");
        index[0] = check_index(L, i, t->shape[0], 0, "Tensor.__index");
        n = 1;
        break;
    }
    case LUA_TTABLE:
        n = read_index_table(L, 2, t, index, "Tensor.__index");
        break;
    default:
        return rlua_error(L, "Tensor.__index", "cannot index a tensor with a %s", luaL_typename(L, 2));
    }
    if (n == t->ndim) push_element(L, t, index);
    else push_subview(L, t, index, n, "Tensor.__index");
    return 1;
}

static int t_newindex(lua_State *L)
{
    const char *fn = "Tensor.__newindex";
    rl_tensor *t = rlua_check(L, 1, fn, "tensor");
    int64_t index[RL_MAX_DIMS];
    int n;
    if (lua_type(L, 2) == LUA_TSTRING && !strcmp(lua_tostring(L, 2), "grad")) {
        rlua_set_grad(L, t, 3);
        return 0;
    }
    if (lua_type(L, 2) != LUA_TSTRING) rlua_check_inplace(L, t, fn);
    if (lua_type(L, 2) == LUA_TNUMBER) {
        int isint;
        lua_Integer i = lua_tointegerx(L, 2, &isint);
        if (!isint) rlua_error(L, fn, "index must be an integer, got %s", lua_tostring(L, 2));
        if (t->ndim == 0) rlua_error(L, fn, "a 0-d tensor cannot be indexed; use :fill_(v)");
        index[0] = check_index(L, i, t->shape[0], 0, fn);
        n = 1;
    } else if (lua_type(L, 2) == LUA_TTABLE) {
        n = read_index_table(L, 2, t, index, fn);
    } else if (lua_type(L, 2) == LUA_TSTRING) {
        return rlua_error(L, fn, "cannot set field '%s' of a tensor", lua_tostring(L, 2));
    } else {
        return rlua_error(L, fn, "cannot index a tensor with a %s", luaL_typename(L, 2));
    }
    if (n == t->ndim) {
        store_element(L, 3, t, index, fn);
        return 0;
    }
    rl_tensor *view = push_subview(L, t, index, n, fn);
    rl_tensor *src = rlua_totensor(L, 3);
    if (src) {
        if (src->dtype != view->dtype)
            rlua_error(L, fn, "cannot assign a %s tensor into a %s tensor", rl_dtype_name(src->dtype),
                       rl_dtype_name(view->dtype));
        rlua_check_status(L, rl_tensor_copy_(view, src), fn);
    } else if (lua_type(L, 3) == LUA_TNUMBER && view->dtype == RL_INT64) {
        /* an integer, exactly, as for one element */
        rlua_check_status(L, rl_tensor_copy_(view, rlua_scalar_tensor(L, 3, RL_INT64, fn, "value")), fn);
    } else if (lua_type(L, 3) == LUA_TNUMBER) {
        rl_tensor_fill_(view, lua_tonumber(L, 3));
    } else {
        rlua_error(L, fn, "value must be a number or a tensor, got %s", luaL_typename(L, 3));
    }
    return 0;
}

static int t_len(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "Tensor.__len", "tensor");
    lua_pushinteger(L, t->ndim ? t->shape[0] : 0);
    return 1;
}

static void push_shape(lua_State *L, const rl_tensor *t)
{
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, t->shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int t_shape(lua_State *L)
{
    push_shape(L, rlua_check(L, 1, "shape", "tensor"));
    return 1;
}

static int t_size(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "size", "tensor");
    if (lua_isnoneornil(L, 2)) {
        push_shape(L, t);
        return 1;
    }
    int d = rlua_checkdim(L, 2, t->ndim, "size", 0);
    lua_pushinteger(L, t->shape[d]);
    return 1;
}

static int t_stride(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "stride", "tensor");
    if (lua_isnoneornil(L, 2)) {
        lua_createtable(L, t->ndim, 0);
        for (int i = 0; i < t->ndim; i++) {
            lua_pushinteger(L, t->stride[i]);
            lua_rawseti(L, -2, i + 1);
        }
        return 1;
    }
    lua_pushinteger(L, t->stride[rlua_checkdim(L, 2, t->ndim, "stride", 0)]);
    return 1;
}

static int t_dim(lua_State *L)
{
    lua_pushinteger(L, rlua_check(L, 1, "dim", "tensor")->ndim);
    return 1;
}

static int t_numel(lua_State *L)
{
    lua_pushinteger(L, rl_tensor_numel(rlua_check(L, 1, "numel", "tensor")));
    return 1;
}

static int t_dtype(lua_State *L)
{
    lua_pushstring(L, rl_dtype_name(rlua_check(L, 1, "dtype", "tensor")->dtype));
    return 1;
}

static int t_is_contiguous(lua_State *L)
{
    lua_pushboolean(L, rl_tensor_is_contiguous(rlua_check(L, 1, "is_contiguous", "tensor")));
    return 1;
}

static int t_item(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "item", "tensor");
    if (rl_tensor_numel(t) != 1) {
        char sb[RL_SHAPE_BUF];
        rlua_error(L, "item", "tensor of shape %s has %lld elements, expected exactly 1",
                   rl_shape_str(sb, sizeof sb, t->ndim, t->shape), (long long)rl_tensor_numel(t));
    }
    int64_t zero[RL_MAX_DIMS] = {0};
    push_element(L, t, zero);
    return 1;
}

static void totable_rec(lua_State *L, const rl_tensor *t, int64_t *index, int d)
{
    luaL_checkstack(L, 4, "tensor too deep");
    lua_createtable(L, (int)t->shape[d], 0);
    for (int64_t i = 0; i < t->shape[d]; i++) {
        index[d] = i;
        if (d == t->ndim - 1) push_element(L, t, index);
        else totable_rec(L, t, index, d + 1);
        lua_rawseti(L, -2, i + 1);
    }
}

static int t_totable(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "totable", "tensor");
    int64_t index[RL_MAX_DIMS] = {0};
    if (t->ndim == 0) push_element(L, t, index);
    else totable_rec(L, t, index, 0);
    return 1;
}

/* t:get(i, j, ...) and t:set(i, j, ..., v): one element by 1-based indices */
static int read_index_args(lua_State *L, int first, int count, const rl_tensor *t, int64_t *index, const char *fn)
{
    if (count != t->ndim)
        rlua_error(L, fn, "%d indices given for a %d-d tensor", count, t->ndim);
    for (int k = 0; k < count; k++)
        index[k] = check_index(L, rlua_checkint(L, first + k, fn, "index"), t->shape[k], k, fn);
    return count;
}

static int t_get(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "get", "tensor");
    int64_t index[RL_MAX_DIMS];
    read_index_args(L, 2, lua_gettop(L) - 1, t, index, "get");
    push_element(L, t, index);
    return 1;
}

static int t_set(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "set", "tensor");
    int64_t index[RL_MAX_DIMS];
    int top = lua_gettop(L);
    if (top - 2 != t->ndim)
        rlua_error(L, "set", "expected %d indices and a value for a %d-d tensor, got %d arguments", t->ndim, t->ndim,
                   top - 1);
    read_index_args(L, 2, top - 2, t, index, "set");
    rlua_check_inplace(L, t, "set");
    store_element(L, top, t, index, "set");
    lua_settop(L, 1);
    return 1;
}

static int t_data_ptr(lua_State *L)
{
    /* identity of the underlying buffer, for tests of view sharing */
    rl_tensor *t = rlua_check(L, 1, "data_ptr", "tensor");
    lua_pushinteger(L, (lua_Integer)(intptr_t)rl_tensor_data(t));
    return 1;
}

static int is_tensor(lua_State *L)
{
    lua_pushboolean(L, rlua_totensor(L, 1) != NULL);
    return 1;
}

/* For rnn.distributed, whose MPI module (rnn/mpi.so, bindings/mpi/) is a
 * library of its own that must not link the core a second time (its global
 * state would be duplicated): it works on raw memory, and the Lua side
 * (scripts/rnn/distributed.lua) does the checks.
 *   core._tensor_memory(t) -> pointer (lightuserdata, t's first element),
 *       bytes (numel times the element size), dtype, contiguous
 *   core._tensor_written(t)
 *       t's memory was written from outside the core: bumps its storage
 *       version, as every in-place op does (rlua_check_inplace), so that a
 *       backward that saved t fails and weights packed by the recurrent
 *       kernels (kept by storage id and version) are packed again. What
 *       autograd allows is decided by the caller. */
static int l_tensor_memory(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "_tensor_memory", "tensor");
    lua_pushlightuserdata(L, rl_tensor_data(t));
    lua_pushinteger(L, (lua_Integer)((size_t)rl_tensor_numel(t) * rl_dtype_size(t->dtype)));
    lua_pushstring(L, rl_dtype_name(t->dtype));
    lua_pushboolean(L, rl_tensor_is_contiguous(t));
    return 4;
}

static int l_tensor_written(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "_tensor_written", "tensor");
    t->storage->version++;
    return 0;
}

/***
@module rnn
*/

/***
Whether x is a tensor.
@function is_tensor
@param x any value
@treturn boolean
*/

/***
An n-dimensional array of float32, float64 or int64 numbers: a strided
view over a reference-counted storage, row-major, with autograd.

Indices and dimensions are 1-based; negative ones count from the end.
`t[i]` is row i (a view) or, for a 1-d tensor, a number; `t[{i, j}]` an
element or a view; `t[i] = v` and `t[{i, j}] = v` write a number or copy
a tensor (of the same dtype) in place. `#t` is the size of dimension 1.
Operators: `a + b`, `a - b`, `a * b`, `a / b` (elementwise), `a ^ b`,
`-a`, with NumPy broadcasting; either side may be a number. Operands
share a dtype (convert with to, float, double, long). `t.grad` is the
gradient accumulated by backward (nil until then; assignable, nil
clears it). tostring(t) prints the values, dtype and shape. The methods
whose names end in `_` work in place and return t; most others also
exist as functions, `rnn.name(t, ...)`.
@type Tensor
*/

/***
The sizes of the dimensions.
@function Tensor:shape
@treturn {integer,...} a new array (empty for a 0-d tensor)
*/

/***
The size of dimension d, or every size (as shape) without d.
@function Tensor:size
@tparam[opt] integer d a dimension (negative counts from the end)
@treturn integer|{integer,...}
@raise for a dimension out of range
*/

/***
The stride of dimension d in elements, or every stride without d.
@function Tensor:stride
@tparam[opt] integer d a dimension
@treturn integer|{integer,...}
*/

/***
The number of dimensions (0 for a scalar tensor).
@function Tensor:dim
@treturn integer
*/

/***
The number of elements.
@function Tensor:numel
@treturn integer
*/

/***
The element type: 'float32', 'float64' or 'int64'.
@function Tensor:dtype
@treturn string
*/

/***
Whether the elements are laid out row-major without gaps.
@function Tensor:is_contiguous
@treturn boolean
*/

/***
The value of a one-element tensor, as a Lua number (an integer for int64).
@function Tensor:item
@treturn number
@raise when the tensor has more or fewer than one element
*/

/***
The values as nested Lua tables (a number for a 0-d tensor).
@function Tensor:totable
@treturn table|number
*/

/***
One element by its indices, one per dimension: `t:get(i, j)`.
@function Tensor:get
@tparam integer ... the 1-based indices (negative from the end)
@treturn number
@raise when the number of indices is not t:dim() or one is out of range
*/

/***
Writes one element: `t:set(i, j, v)`. Refused on a tensor that requires
grad while recording.
@function Tensor:set
@tparam integer ... the 1-based indices, one per dimension, then the value
@treturn Tensor t
*/

/***
The address of the first element, as an integer: views of one storage
share it (for tests).
@function Tensor:data_ptr
@treturn integer
*/

static const luaL_Reg methods[] = {
    {"shape", t_shape},   {"size", t_size},     {"stride", t_stride},       {"dim", t_dim},
    {"numel", t_numel},   {"dtype", t_dtype},   {"is_contiguous", t_is_contiguous},
    {"item", t_item},     {"totable", t_totable}, {"get", t_get},           {"set", t_set},
    {"data_ptr", t_data_ptr},
    {NULL, NULL},
};

void rlua_push_methods(lua_State *L)
{
    luaL_getmetatable(L, RLUA_TENSOR_MT);
    lua_getfield(L, -1, "methods");
    lua_remove(L, -2);
}

void rlua_open_tensor(lua_State *L)
{
    luaL_newmetatable(L, RLUA_TENSOR_MT);
    rlua_remember_metatable(L);
    lua_pushstring(L, "rnn.Tensor");
    lua_setfield(L, -2, "__name");
    lua_pushcfunction(L, t_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, t_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, t_newindex);
    lua_setfield(L, -2, "__newindex");
    luaL_newlib(L, methods);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "methods");
    lua_pushcclosure(L, t_index, 1);
    lua_setfield(L, -2, "__index");
    lua_setfield(L, -2, "Tensor"); /* module.Tensor = metatable */
    lua_pushcfunction(L, is_tensor);
    lua_setfield(L, -2, "is_tensor");
    lua_pushcfunction(L, l_tensor_memory);
    lua_setfield(L, -2, "_tensor_memory");
    lua_pushcfunction(L, l_tensor_written);
    lua_setfield(L, -2, "_tensor_written");
}
