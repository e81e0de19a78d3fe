/* shape.c — views, copies, dtype conversion, indexing and joining. */
#include "lrl.h"

#include "../core/autograd.h"

#include <string.h>

static int reshape_like(lua_State *L, const char *fn, int copy_ok)
{
    rl_tensor *t = rlua_check(L, 1, fn, "self");
    int64_t shape[RL_MAX_DIMS];
    int next;
    int n = rlua_checksizes(L, 2, shape, fn, &next, 1);
    if (!lua_isnoneornil(L, next))
        rlua_error(L, fn, "argument %d (size) must be a number or a table of sizes, got %s", next,
                   luaL_typename(L, next));
    rlua_infer_size(L, fn, shape, n, rl_tensor_numel(t));
    rl_tensor **box = rlua_newbox(L);
    rl_status st = copy_ok ? rl_ag_reshape(box, t, n, shape) : rl_ag_view(box, t, n, shape);
    rlua_check_status(L, st, fn);
    return 1;
}

static int l_reshape(lua_State *L) { return reshape_like(L, "reshape", 1); }
static int l_view(lua_State *L) { return reshape_like(L, "view", 0); }

static int l_flatten(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "flatten", "self");
    if (lua_gettop(L) > 1) /* not silently ignored: PyTorch reads these as start/end dims */
        rlua_error(L, "flatten", "takes no arguments, got %d (start/end dims are not supported; use reshape)",
                   lua_gettop(L) - 1);
    int64_t n = rl_tensor_numel(t);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_reshape(box, t, 1, &n), "flatten");
    return 1;
}

static int l_transpose(lua_State *L)
{
    rlua_check_nargs(L, 3, "transpose");
    rl_tensor *t = rlua_check(L, 1, "transpose", "self");
    int d0 = rlua_checkdim(L, 2, t->ndim, "transpose", 0);
    int d1 = rlua_checkdim(L, 3, t->ndim, "transpose", 0);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_transpose(box, t, d0, d1), "transpose");
    return 1;
}

/* t:t(): the transpose of a 2-d tensor */
static int l_t(lua_State *L)
{
    rlua_check_nargs(L, 1, "t");
    rl_tensor *t = rlua_check(L, 1, "t", "self");
    if (t->ndim != 2) {
        char sb[RL_SHAPE_BUF];
        rlua_error(L, "t", "expected a 2-d tensor, got shape %s (use transpose(d0, d1))",
                   rl_shape_str(sb, sizeof sb, t->ndim, t->shape));
    }
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_transpose(box, t, 0, 1), "t");
    return 1;
}

/* t:permute(2, 1, 3) or t:permute{2, 1, 3} */
static int l_permute(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "permute", "self");
    int perm[RL_MAX_DIMS];
    int n = 0;
    bool table = lua_istable(L, 2);
    if (table) rlua_check_nargs(L, 2, "permute");
    int count = table ? (int)luaL_len(L, 2) : lua_gettop(L) - 1;
    if (count != t->ndim)
        rlua_error(L, "permute", "expected %d dimensions for a %d-d tensor, got %d", t->ndim, t->ndim, count);
    for (int i = 0; i < count; i++) {
        if (!table) {
            perm[n++] = rlua_checkdim(L, i + 2, t->ndim, "permute", 0);
            continue;
        }
        lua_geti(L, 2, i + 1);
        int isint;
        lua_Integer d = lua_tointegerx(L, -1, &isint);
        if (!isint)
            rlua_error(L, "permute", "argument 2 (dims): entry %d must be an integer, got %s", i + 1,
                       luaL_typename(L, -1));
        if (d < 0) d += t->ndim + 1;
        if (d < 1 || d > t->ndim)
            rlua_error(L, "permute", "argument 2 (dims): entry %d is %lld, out of range for a %d-d tensor", i + 1,
                       (long long)lua_tointeger(L, -1), t->ndim);
        perm[n++] = (int)d - 1;
        lua_pop(L, 1);
    }
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_permute(box, t, perm), "permute");
    return 1;
}

/* t:narrow(dim, start, length), start 1-based */
static int l_narrow(lua_State *L)
{
    rlua_check_nargs(L, 4, "narrow");
    rl_tensor *t = rlua_check(L, 1, "narrow", "self");
    int dim = rlua_checkdim(L, 2, t->ndim, "narrow", 0);
    lua_Integer start = rlua_checkint(L, 3, "narrow", "start");
    lua_Integer len = rlua_checkint(L, 4, "narrow", "length");
    if (start < 0) start += t->shape[dim] + 1;
    if (start < 1 || start > t->shape[dim] + 1 || len < 0 || len > t->shape[dim] - (start - 1))
        rlua_error(L, "narrow", "start %lld and length %lld out of range for dimension %d of size %lld",
                   (long long)lua_tointeger(L, 3), (long long)len, dim + 1, (long long)t->shape[dim]);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_narrow(box, t, dim, start - 1, len), "narrow");
    return 1;
}

/* t:select(dim, index), index 1-based */
static int l_select(lua_State *L)
{
    rlua_check_nargs(L, 3, "select");
    rl_tensor *t = rlua_check(L, 1, "select", "self");
    int dim = rlua_checkdim(L, 2, t->ndim, "select", 0);
    lua_Integer i = rlua_checkint(L, 3, "select", "index");
    if (i < 0) i += t->shape[dim] + 1;
    if (i < 1 || i > t->shape[dim])
        rlua_error(L, "select", "index %lld out of range for dimension %d of size %lld",
                   (long long)lua_tointeger(L, 3), dim + 1, (long long)t->shape[dim]);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_select(box, t, dim, i - 1), "select");
    return 1;
}

static int l_squeeze(lua_State *L)
{
    rlua_check_nargs(L, 2, "squeeze");
    rl_tensor *t = rlua_check(L, 1, "squeeze", "self");
    int dim = lua_isnoneornil(L, 2) ? -1 : rlua_checkdim(L, 2, t->ndim, "squeeze", 0);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_squeeze(box, t, dim), "squeeze");
    return 1;
}

static int l_unsqueeze(lua_State *L)
{
    rlua_check_nargs(L, 2, "unsqueeze");
    rl_tensor *t = rlua_check(L, 1, "unsqueeze", "self");
    int dim = rlua_checkdim(L, 2, t->ndim, "unsqueeze", 1);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_unsqueeze(box, t, dim), "unsqueeze");
    return 1;
}

static int l_expand(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "expand", "self");
    int64_t shape[RL_MAX_DIMS];
    int next;
    int n = rlua_checksizes(L, 2, shape, "expand", &next, 1);
    if (!lua_isnoneornil(L, next))
        rlua_error(L, "expand", "argument %d (size) must be a number or a table of sizes, got %s", next,
                   luaL_typename(L, next));
    /* -1 keeps the size of that dim */
    for (int i = 0; i < n; i++) {
        int ti = t->ndim - n + i;
        if (shape[i] == -1) {
            if (ti < 0) rlua_error(L, "expand", "size -1 is not allowed for a new leading dimension");
            shape[i] = t->shape[ti];
        }
    }
    if (rl_shape_numel(n, shape) < 0) { /* a view costs nothing, but its numel must still fit */
        char sb[RL_SHAPE_BUF];
        rlua_error(L, "expand", "shape %s has too many elements (more than 2^62)", rl_shape_str(sb, sizeof sb, n, shape));
    }
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_expand(box, t, n, shape), "expand");
    return 1;
}

static int l_contiguous(lua_State *L)
{
    rlua_check_nargs(L, 1, "contiguous");
    rl_tensor *t = rlua_check(L, 1, "contiguous", "self");
    if (rl_tensor_is_contiguous(t)) {
        lua_settop(L, 1);
        return 1;
    }
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_clone(box, t), "contiguous");
    return 1;
}

static int l_clone(lua_State *L)
{
    rlua_check_nargs(L, 1, "clone");
    rl_tensor *t = rlua_check(L, 1, "clone", "self");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_clone(box, t), "clone");
    return 1;
}

/* dst:copy_(src): src broadcast to dst's shape, converted to its dtype */
static int l_copy_(lua_State *L)
{
    rlua_check_nargs(L, 2, "copy_");
    rl_tensor *dst = rlua_check(L, 1, "copy_", "self");
    rlua_check_inplace(L, dst, "copy_");
    rl_tensor *src = rlua_check(L, 2, "copy_", "src");
    rlua_check_status(L, rl_tensor_copy_(dst, src), "copy_");
    lua_settop(L, 1);
    return 1;
}

static int l_fill_(lua_State *L)
{
    rlua_check_nargs(L, 2, "fill_");
    rl_tensor *t = rlua_check(L, 1, "fill_", "self");
    rlua_check_inplace(L, t, "fill_");
    double v = rlua_checknum(L, 2, "fill_", "value");
    /* int64: an integer (2.5 is refused, as element stores do), exact (through
     * a double, 2^53 + 1 would round) */
    if (t->dtype == RL_INT64)
        rlua_check_status(L, rl_tensor_copy_(t, rlua_scalar_tensor(L, 2, RL_INT64, "fill_", "value")), "fill_");
    else
        rl_tensor_fill_(t, v);
    lua_settop(L, 1);
    return 1;
}

static int l_zero_(lua_State *L)
{
    rlua_check_nargs(L, 1, "zero_");
    rl_tensor *t = rlua_check(L, 1, "zero_", "self");
    rlua_check_inplace(L, t, "zero_");
    rl_tensor_fill_(t, 0);
    lua_settop(L, 1);
    return 1;
}

static int l_to(lua_State *L)
{
    rlua_check_nargs(L, 2, "to");
    rl_tensor *t = rlua_check(L, 1, "to", "self");
    if (lua_isnoneornil(L, 2)) rlua_error(L, "to", "argument 2 (dtype) is missing");
    rl_dtype dt = rlua_optdtype(L, 2, t->dtype, "to");
    if (dt == t->dtype) {
        lua_settop(L, 1);
        return 1;
    }
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_to_dtype(box, t, dt), "to");
    return 1;
}

static int convert(lua_State *L, rl_dtype dt, const char *fn)
{
    rlua_check_nargs(L, 1, fn);
    rl_tensor *t = rlua_check(L, 1, fn, "self");
    if (t->dtype == dt) {
        lua_settop(L, 1);
        return 1;
    }
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_to_dtype(box, t, dt), fn);
    return 1;
}

static int l_float(lua_State *L) { return convert(L, RL_FLOAT32, "float"); }
static int l_double(lua_State *L) { return convert(L, RL_FLOAT64, "double"); }
static int l_long(lua_State *L) { return convert(L, RL_INT64, "long"); }

/* t:index_select(dim, index): index a 1-d int64 tensor (or a table) of 1-based positions */
static rl_tensor *index_arg(lua_State *L, int idx, const char *fn)
{
    if (lua_istable(L, idx) && !rlua_totensor(L, idx)) {
        /* a plain table of integers: build an int64 tensor in place of it */
        lua_Integer n = luaL_len(L, idx);
        rl_tensor **box = rlua_newbox(L);
        int64_t len = n;
        rlua_check_alloc(L, rl_tensor_empty(box, RL_INT64, 1, &len), fn);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_geti(L, idx, i);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok)
                rlua_error(L, fn, "argument %d (index): entry %d must be an integer, got %s", idx, (int)i,
                           lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
            ((int64_t *)rl_tensor_data(*box))[i - 1] = v;
            lua_pop(L, 1);
        }
        lua_replace(L, idx);
    }
    return rlua_check(L, idx, fn, "index");
}

static int l_index_select(lua_State *L)
{
    rlua_check_nargs(L, 3, "index_select");
    rl_tensor *t = rlua_check(L, 1, "index_select", "self");
    int dim = rlua_checkdim(L, 2, t->ndim, "index_select", 0);
    rl_tensor *index = index_arg(L, 3, "index_select");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_index_select(box, t, dim, index, 1), "index_select");
    return 1;
}

static int l_gather(lua_State *L)
{
    rlua_check_nargs(L, 3, "gather");
    rl_tensor *t = rlua_check(L, 1, "gather", "self");
    int dim = rlua_checkdim(L, 2, t->ndim, "gather", 0);
    rl_tensor *index = rlua_check(L, 3, "gather", "index");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_gather(box, t, dim, index, 1), "gather");
    return 1;
}

/* rnn.cat({a, b, ...} [, dim = 1]) and rnn.stack(...) */
static int join(lua_State *L, const char *fn, int stack)
{
    lua_settop(L, 2); /* slot 2 is the optional dim; the scratch array goes above it */
    if (!lua_istable(L, 1) || rlua_totensor(L, 1))
        rlua_error(L, fn, "argument 1 (tensors) must be a table of tensors, got %s", luaL_typename(L, 1));
    lua_Integer n = luaL_len(L, 1);
    if (n < 1) rlua_error(L, fn, "argument 1 (tensors) is empty");
    if (n > 1 << 20) rlua_error(L, fn, "argument 1 (tensors) has too many entries");
    /* lua_geti may run __index code (fresh tensors, a collection): copy the
     * entries into a table of our own (slot 3) first, and take pointers only
     * once no more Lua code can run before the core call */
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        lua_rawseti(L, 3, i);
    }
    /* the array lives in a userdata so that an error below cannot leak it */
    rl_tensor **ts = lua_newuserdatauv(L, sizeof *ts * (size_t)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 3, i);
        ts[i - 1] = rlua_totensor(L, -1);
        if (!ts[i - 1]) rlua_error(L, fn, "argument 1 (tensors): entry %d is a %s, not a tensor", (int)i, luaL_typename(L, -1));
        lua_pop(L, 1); /* anchored by the table in slot 3 */
    }
    int dim = 0;
    if (!lua_isnoneornil(L, 2)) dim = rlua_checkdim(L, 2, ts[0]->ndim, fn, stack);
    rl_tensor **box = rlua_newbox(L);
    rl_status st = stack ? rl_ag_stack(box, ts, (int)n, dim) : rl_ag_cat(box, ts, (int)n, dim);
    rlua_check_status(L, st, fn);
    return 1;
}

static int l_cat(lua_State *L) { return join(L, "cat", 0); }
static int l_stack(lua_State *L) { return join(L, "stack", 1); }

/***
@module rnn
*/

/***
Joins tensors along an existing dimension: their other sizes and dtypes
must agree.
@function cat
@tparam {Tensor,...} tensors
@tparam[opt=1] integer dim
@treturn Tensor
@usage rnn.cat({a, b}, 2)
*/

/***
Joins tensors of one shape along a new dimension dim.
@function stack
@tparam {Tensor,...} tensors
@tparam[opt=1] integer dim in 1..dim()+1
@treturn Tensor
@usage rnn.stack({h1, h2, h3})   -- (3, B, H) from three (B, H)
*/

/*** @type Tensor */

/***
The same elements in a new shape; one size may be -1 (inferred). A view
when the strides allow, else a copy.
@function Tensor:reshape
@tparam integer|{integer,...} ... the sizes, as arguments or one table
@treturn Tensor
@raise when the number of elements differs
@usage x:reshape(-1, 8)   x:reshape{2, 3, 4}
*/

/***
A view with a new shape, sharing memory; one size may be -1.
@function Tensor:view
@tparam integer|{integer,...} ... the sizes
@treturn Tensor
@raise when the strides do not allow a view (use reshape, which copies)
*/

/***
A 1-d tensor of all the elements (a copy when not contiguous). Takes no
arguments.
@function Tensor:flatten
@treturn Tensor (numel)
*/

/***
A view with dimensions d1 and d2 swapped (O(1)).
@function Tensor:transpose
@tparam integer d1
@tparam integer d2
@treturn Tensor
*/

/***
The transpose of a 2-d tensor, a view: transpose(1, 2).
@function Tensor:t
@treturn Tensor
@raise for a tensor that is not 2-d
*/

/***
A view with the dimensions reordered: dimension k of the result is
dimension dims[k] of t.
@function Tensor:permute
@tparam integer|{integer,...} ... a permutation of 1..dim(), as arguments or a table
@treturn Tensor
@usage x:permute(2, 1, 3)   -- (T, B, I) -> (B, T, I)
*/

/***
A view of length elements of dimension dim, from start (1-based;
negative counts from the end). Also rnn.narrow(t, dim, start, length).
@function Tensor:narrow
@tparam integer dim the dimension
@tparam integer start the first index
@tparam integer length how many
@treturn Tensor a view sharing t's memory, with size length on dim
@raise when the range leaves the dimension
@usage x:narrow(1, 11, 5)   -- steps 11..15 of x (T, B, I)
*/

/***
The view at index i of dimension dim, which goes away.
@function Tensor:select
@tparam integer dim
@tparam integer i 1-based (negative from the end)
@treturn Tensor one dimension fewer
@usage x:select(1, -1)   -- the last step of x (T, B, I): (B, I)
*/

/***
A view without the dimensions of size 1 (or only dimension dim, if of
size 1).
@function Tensor:squeeze
@tparam[opt] integer dim
@treturn Tensor
*/

/***
A view with a new dimension of size 1 at dim.
@function Tensor:unsqueeze
@tparam integer dim in 1..dim()+1 (negative from the end)
@treturn Tensor
*/

/***
A view broadcast to a larger shape without copying: dimensions of size 1
repeat, new ones are added in front; -1 keeps a size.
@function Tensor:expand
@tparam integer|{integer,...} ... the sizes
@treturn Tensor
@usage rnn.zeros(3, 1):expand(3, 4)
*/

/***
The tensor itself when contiguous, else a contiguous copy.
@function Tensor:contiguous
@treturn Tensor
*/

/***
A contiguous copy (differentiable).
@function Tensor:clone
@treturn Tensor
*/

/***
Copies src into t in place: src broadcast to t's shape and converted to
its dtype.
@function Tensor:copy_
@tparam Tensor src
@treturn Tensor t
*/

/***
Sets every element to value in place (an integer for int64).
@function Tensor:fill_
@tparam number value
@treturn Tensor t
*/

/***
Sets every element to 0 in place.
@function Tensor:zero_
@treturn Tensor t
*/

/***
The tensor converted to dtype (t itself when it has it already;
differentiable between float types).
@function Tensor:to
@tparam string dtype 'float32', 'float64' or 'int64'
@treturn Tensor
*/

/***
Converts to float32: to('float32').
@function Tensor:float
@treturn Tensor
*/

/***
Converts to float64: to('float64').
@function Tensor:double
@treturn Tensor
*/

/***
Converts to int64, floats truncated toward zero: to('int64').
@function Tensor:long
@treturn Tensor
*/

/***
The entries at the given 1-based positions of dimension dim, in their
order (a copy).
@function Tensor:index_select
@tparam integer dim
@tparam Tensor|{integer,...} index a 1-d int64 tensor or a table of integers
@treturn Tensor t's shape with size #index on dim
@usage t:index_select(1, {2, 2, 1})
*/

/***
Values along dim at 1-based indices, as PyTorch's gather: for dim 2,
out[i][j] = t[i][index[i][j]].
@function Tensor:gather
@tparam integer dim
@tparam Tensor index int64, the shape of the result
@treturn Tensor
*/

static const luaL_Reg methods[] = {
    {"reshape", l_reshape}, {"view", l_view}, {"flatten", l_flatten}, {"transpose", l_transpose},
    {"t", l_t}, {"permute", l_permute}, {"narrow", l_narrow}, {"select", l_select},
    {"squeeze", l_squeeze}, {"unsqueeze", l_unsqueeze}, {"expand", l_expand},
    {"contiguous", l_contiguous}, {"clone", l_clone}, {"copy_", l_copy_}, {"fill_", l_fill_},
    {"zero_", l_zero_}, {"to", l_to}, {"float", l_float}, {"double", l_double}, {"long", l_long},
    {"index_select", l_index_select}, {"gather", l_gather},
    {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"reshape", l_reshape}, {"transpose", l_transpose}, {"permute", l_permute}, {"narrow", l_narrow},
    {"select", l_select}, {"squeeze", l_squeeze}, {"unsqueeze", l_unsqueeze},
    {"index_select", l_index_select}, {"gather", l_gather}, {"cat", l_cat}, {"stack", l_stack},
    {"clone", l_clone},
    {NULL, NULL},
};

void rlua_open_shape(lua_State *L)
{
    luaL_setfuncs(L, funcs, 0);
    rlua_push_methods(L);
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 1);
}
