/* math.c — arithmetic, comparisons, unary math, reductions and matmul,
 * as rnn.<name>(...) functions, tensor methods and metamethods. */
#include "lrl.h"

#include "../core/autograd.h"

#include <math.h>

/* ---- binary: tensor op tensor, tensor op number, number op tensor ---- */

static int binary(lua_State *L, rl_binop op, const char *fn)
{
    rl_tensor *a = rlua_totensor(L, 1), *b = rlua_totensor(L, 2);
    if (!a && !b) {
        if (lua_type(L, 1) != LUA_TNUMBER) rlua_check(L, 1, fn, "a");
        rlua_check(L, 2, fn, "b");
    }
    if (a && !b) rlua_checknum(L, 2, fn, "b");
    if (b && !a) rlua_checknum(L, 1, fn, "a");
    /* int64 with a Lua integer: exact, as a 0-d int64 operand */
    if (a && !b && a->dtype == RL_INT64 && lua_isinteger(L, 2)) b = rlua_scalar_tensor(L, 2, RL_INT64, fn, "b");
    else if (b && !a && b->dtype == RL_INT64 && lua_isinteger(L, 1)) a = rlua_scalar_tensor(L, 1, RL_INT64, fn, "a");
    rl_tensor **box = rlua_newbox(L);
    rl_status st;
    if (a && b) st = rl_ag_binary(box, op, a, b);
    else if (a) st = rl_ag_binary_scalar(box, op, a, lua_tonumber(L, 2), false);
    else st = rl_ag_binary_scalar(box, op, b, lua_tonumber(L, 1), true);
    rlua_check_status(L, st, fn);
    return 1;
}

/* a:op_(b): in place, a keeps its shape */
static int binary_inplace(lua_State *L, rl_binop op, const char *fn)
{
    rl_tensor *a = rlua_check(L, 1, fn, "self");
    rlua_check_inplace(L, a, fn);
    rl_tensor *b = rlua_totensor(L, 2);
    if (!b && a->dtype == RL_INT64 && lua_isinteger(L, 2)) b = rlua_scalar_tensor(L, 2, RL_INT64, fn, "other");
    rl_status st;
    if (b) st = rl_binary_into(a, op, a, b);
    else st = rl_binary_scalar_into(a, op, a, rlua_checknum(L, 2, fn, "other"), false);
    rlua_check_status(L, st, fn);
    lua_settop(L, 1);
    return 1;
}

#define BINARY(NAME, OP)                                                                 \
    static int l_##NAME(lua_State *L) { return binary(L, OP, #NAME); }                   \
    static int l_##NAME##_(lua_State *L) { return binary_inplace(L, OP, #NAME "_"); }
BINARY(add, RL_ADD)
BINARY(sub, RL_SUB)
BINARY(mul, RL_MUL)
BINARY(div, RL_DIV)
BINARY(pow, RL_POW)
BINARY(maximum, RL_MAXIMUM)
BINARY(minimum, RL_MINIMUM)
BINARY(eq, RL_EQ)
BINARY(ne, RL_NE)
BINARY(lt, RL_LT)
BINARY(le, RL_LE)
BINARY(gt, RL_GT)
BINARY(ge, RL_GE)

static int l_unm(lua_State *L)
{
    rl_tensor *a = rlua_check(L, 1, "neg", "a");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_unary(box, RL_NEG, a), "neg");
    return 1;
}

/* ---- unary ---- */

static int unary(lua_State *L)
{
    rl_unop op = (rl_unop)lua_tointeger(L, lua_upvalueindex(1));
    const char *fn = rl_unop_name(op);
    rl_tensor *a = rlua_check(L, 1, fn, "a");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_unary(box, op, a), fn);
    return 1;
}

static int unary_inplace(lua_State *L)
{
    rl_unop op = (rl_unop)lua_tointeger(L, lua_upvalueindex(1));
    const char *fn = lua_tostring(L, lua_upvalueindex(2));
    rl_tensor *a = rlua_check(L, 1, fn, "self");
    rlua_check_inplace(L, a, fn);
    rlua_check_status(L, rl_unary_into(a, op, a), fn);
    lua_settop(L, 1);
    return 1;
}

/* clamp(a, min, max): either bound may be nil */
/* NaN stands for a missing bound below, so a NaN given is an error; for an
 * int64 tensor a bound must be an integer in its range. */
static void clamp_bounds(lua_State *L, const char *fn, rl_dtype dt, double *lo, double *hi)
{
    double *b[2] = {lo, hi};
    const char *names[2] = {"min", "max"};
    for (int k = 0; k < 2; k++) {
        if (lua_isnoneornil(L, 2 + k)) {
            *b[k] = NAN;
            continue;
        }
        *b[k] = rlua_checknum(L, 2 + k, fn, names[k]);
        if (isnan(*b[k])) rlua_error(L, fn, "argument %d (%s) is nan; leave it nil for no bound", 2 + k, names[k]);
        if (dt == RL_INT64) rlua_scalar_tensor(L, 2 + k, RL_INT64, fn, names[k]); /* the same checks as a value */
    }
    if (isnan(*lo) && isnan(*hi)) rlua_error(L, fn, "at least one of min and max must be given");
}

static int l_clamp(lua_State *L)
{
    rlua_check_nargs(L, 3, "clamp");
    rl_tensor *a = rlua_check(L, 1, "clamp", "a");
    double lo, hi;
    clamp_bounds(L, "clamp", a->dtype, &lo, &hi);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_clamp(box, a, lo, hi), "clamp");
    return 1;
}

static int l_clamp_(lua_State *L)
{
    rlua_check_nargs(L, 3, "clamp_");
    rl_tensor *a = rlua_check(L, 1, "clamp_", "self");
    rlua_check_inplace(L, a, "clamp_");
    double lo, hi;
    clamp_bounds(L, "clamp_", a->dtype, &lo, &hi);
    rlua_check_status(L, rl_clamp_into(a, a, lo, hi), "clamp_");
    lua_settop(L, 1);
    return 1;
}

/* ---- reductions ---- */

static bool opt_keepdim(lua_State *L, int idx, const char *fn)
{
    if (lua_isnoneornil(L, idx)) return false;
    if (lua_type(L, idx) != LUA_TBOOLEAN)
        rlua_error(L, fn, "argument %d (keepdim) must be a boolean, got %s", idx, luaL_typename(L, idx));
    return lua_toboolean(L, idx);
}

/* t:sum() | t:sum(dim [, keepdim]), likewise mean, prod */
static int reduce(lua_State *L, rl_reduce_op op)
{
    const char *fn = rl_reduce_name(op);
    rlua_check_nargs(L, 3, fn);
    rl_tensor *a = rlua_check(L, 1, fn, "self");
    if (lua_isnoneornil(L, 2)) {
        rl_tensor **box = rlua_newbox(L);
        rlua_check_status(L, rl_ag_reduce_all(box, op, a), fn);
        return 1;
    }
    int dim = rlua_checkdim(L, 2, a->ndim, fn, 0);
    bool keep = opt_keepdim(L, 3, fn);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_reduce_dim(box, op, a, dim, keep), fn);
    return 1;
}

static int l_sum(lua_State *L) { return reduce(L, RL_RSUM); }
static int l_mean(lua_State *L) { return reduce(L, RL_RMEAN); }
static int l_prod(lua_State *L) { return reduce(L, RL_RPROD); }

/* t:max() -> 0-d value; t:max(dim [, keepdim]) -> values, indices (1-based) */
static int extremum(lua_State *L, rl_reduce_op op)
{
    const char *fn = rl_reduce_name(op);
    rlua_check_nargs(L, 3, fn);
    rl_tensor *a = rlua_check(L, 1, fn, "self");
    if (lua_isnoneornil(L, 2)) {
        rl_tensor **box = rlua_newbox(L);
        rlua_check_status(L, rl_ag_reduce_all(box, op, a), fn);
        return 1;
    }
    int dim = rlua_checkdim(L, 2, a->ndim, fn, 0);
    bool keep = opt_keepdim(L, 3, fn);
    rl_tensor **values = rlua_newbox(L);
    rl_tensor **indices = rlua_newbox(L);
    rlua_check_status(L, rl_ag_reduce_arg_dim(values, indices, op, a, dim, keep, 1), fn);
    return 2;
}

static int l_max(lua_State *L) { return extremum(L, RL_RMAX); }
static int l_min(lua_State *L) { return extremum(L, RL_RMIN); }

/* t:argmax() -> flat 1-based position (0-d int64); t:argmax(dim [, keepdim]) */
static int argext(lua_State *L, rl_reduce_op op, const char *fn)
{
    rlua_check_nargs(L, 3, fn);
    rl_tensor *a = rlua_check(L, 1, fn, "self");
    if (lua_isnoneornil(L, 2)) {
        rl_tensor **box = rlua_newbox(L);
        rlua_check_status(L, rl_reduce_arg_all(box, op, a, 1), fn);
        return 1;
    }
    int dim = rlua_checkdim(L, 2, a->ndim, fn, 0);
    bool keep = opt_keepdim(L, 3, fn);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_reduce_arg_dim(NULL, box, op, a, dim, keep, 1), fn);
    return 1;
}

static int l_argmax(lua_State *L) { return argext(L, RL_RMAX, "argmax"); }
static int l_argmin(lua_State *L) { return argext(L, RL_RMIN, "argmin"); }

/* rnn.linear(x, w [, b]): x (N,I) w^T + b, as one recorded op */
static int l_linear(lua_State *L)
{
    rlua_check_nargs(L, 3, "linear");
    rl_tensor *x = rlua_check(L, 1, "linear", "input");
    rl_tensor *w = rlua_check(L, 2, "linear", "weight");
    rl_tensor *b = lua_isnoneornil(L, 3) ? NULL : rlua_check(L, 3, "linear", "bias");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_linear(box, x, w, b), "linear");
    return 1;
}

static int l_matmul(lua_State *L)
{
    rlua_check_nargs(L, 2, "matmul");
    rl_tensor *a = rlua_check(L, 1, "matmul", "a");
    rl_tensor *b = rlua_check(L, 2, "matmul", "b");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_matmul(box, a, b), "matmul");
    return 1;
}

/***
@module rnn
*/

/*** @type Tensor */
/***
Elementwise sum, with NumPy broadcasting; either side may be a number (`rnn.add(2, t)`).
Operands must share a dtype; int64 with a Lua integer stays exact. The operator `a + b` is the same.
`t:add_(b)` does it in place (t keeps its shape; b broadcasts to it) and
returns t.
@function Tensor:add
@tparam Tensor|number b
@treturn Tensor of the broadcast shape
@raise when the shapes do not broadcast or the dtypes differ
@also Tensor:add_
*/
/***
Elementwise difference, with NumPy broadcasting; either side may be a number (`rnn.sub(2, t)`).
Operands must share a dtype; int64 with a Lua integer stays exact. The operator `a - b` is the same.
`t:sub_(b)` does it in place (t keeps its shape; b broadcasts to it) and
returns t.
@function Tensor:sub
@tparam Tensor|number b
@treturn Tensor of the broadcast shape
@raise when the shapes do not broadcast or the dtypes differ
@also Tensor:sub_
*/
/***
Elementwise product (for the matrix product: matmul), with NumPy broadcasting; either side may be a number (`rnn.mul(2, t)`).
Operands must share a dtype; int64 with a Lua integer stays exact. The operator `a * b` is the same.
`t:mul_(b)` does it in place (t keeps its shape; b broadcasts to it) and
returns t.
@function Tensor:mul
@tparam Tensor|number b
@treturn Tensor of the broadcast shape
@raise when the shapes do not broadcast or the dtypes differ
@also Tensor:mul_
*/
/***
Elementwise quotient, with NumPy broadcasting; either side may be a number (`rnn.div(2, t)`).
Operands must share a dtype; int64 with a Lua integer stays exact. The operator `a / b` is the same.
`t:div_(b)` does it in place (t keeps its shape; b broadcasts to it) and
returns t.
@function Tensor:div
@tparam Tensor|number b
@treturn Tensor of the broadcast shape
@raise when the shapes do not broadcast or the dtypes differ
@also Tensor:div_
*/
/***
Elementwise power, with NumPy broadcasting; either side may be a number (`rnn.pow(2, t)`).
Operands must share a dtype; int64 with a Lua integer stays exact. The operator `a ^ b` is the same.
`t:pow_(b)` does it in place (t keeps its shape; b broadcasts to it) and
returns t.
@function Tensor:pow
@tparam Tensor|number b
@treturn Tensor of the broadcast shape
@raise when the shapes do not broadcast or the dtypes differ
@also Tensor:pow_
*/
/***
Elementwise maximum of two tensors (for the largest element: max), with NumPy broadcasting; either side may be a number (`rnn.maximum(2, t)`).
Operands must share a dtype; int64 with a Lua integer stays exact.
`t:maximum_(b)` does it in place (t keeps its shape; b broadcasts to it) and
returns t.
@function Tensor:maximum
@tparam Tensor|number b
@treturn Tensor of the broadcast shape
@raise when the shapes do not broadcast or the dtypes differ
@also Tensor:maximum_
*/
/***
Elementwise minimum of two tensors, with NumPy broadcasting; either side may be a number (`rnn.minimum(2, t)`).
Operands must share a dtype; int64 with a Lua integer stays exact.
`t:minimum_(b)` does it in place (t keeps its shape; b broadcasts to it) and
returns t.
@function Tensor:minimum
@tparam Tensor|number b
@treturn Tensor of the broadcast shape
@raise when the shapes do not broadcast or the dtypes differ
@also Tensor:minimum_
*/
/***
Elementwise a == b: 1 where true, 0 where false, in the operands' dtype
(broadcasting; b may be a number). `t:eq_(b)` writes the result into t.
@function Tensor:eq
@tparam Tensor|number b
@treturn Tensor
@also Tensor:eq_
*/
/***
Elementwise a ~= b: 1 where true, 0 where false, in the operands' dtype
(broadcasting; b may be a number). `t:ne_(b)` writes the result into t.
@function Tensor:ne
@tparam Tensor|number b
@treturn Tensor
@also Tensor:ne_
*/
/***
Elementwise a < b: 1 where true, 0 where false, in the operands' dtype
(broadcasting; b may be a number). `t:lt_(b)` writes the result into t.
@function Tensor:lt
@tparam Tensor|number b
@treturn Tensor
@also Tensor:lt_
*/
/***
Elementwise a <= b: 1 where true, 0 where false, in the operands' dtype
(broadcasting; b may be a number). `t:le_(b)` writes the result into t.
@function Tensor:le
@tparam Tensor|number b
@treturn Tensor
@also Tensor:le_
*/
/***
Elementwise a > b: 1 where true, 0 where false, in the operands' dtype
(broadcasting; b may be a number). `t:gt_(b)` writes the result into t.
@function Tensor:gt
@tparam Tensor|number b
@treturn Tensor
@also Tensor:gt_
*/
/***
Elementwise a >= b: 1 where true, 0 where false, in the operands' dtype
(broadcasting; b may be a number). `t:ge_(b)` writes the result into t.
@function Tensor:ge
@tparam Tensor|number b
@treturn Tensor
@also Tensor:ge_
*/
/***
Elementwise -x (also the operator `-t`), differentiable. `t:neg_()` works in place and returns t.
@function Tensor:neg
@treturn Tensor t's shape and dtype
@also Tensor:neg_
*/
/***
Elementwise |x|, differentiable. `t:abs_()` works in place and returns t.
@function Tensor:abs
@treturn Tensor t's shape and dtype
@also Tensor:abs_
*/
/***
Elementwise e^x, differentiable. `t:exp_()` works in place and returns t.
@function Tensor:exp
@treturn Tensor t's shape and dtype
@also Tensor:exp_
*/
/***
Elementwise the natural logarithm, differentiable. `t:log_()` works in place and returns t.
@function Tensor:log
@treturn Tensor t's shape and dtype
@also Tensor:log_
*/
/***
Elementwise the square root, differentiable. `t:sqrt_()` works in place and returns t.
@function Tensor:sqrt
@treturn Tensor t's shape and dtype
@also Tensor:sqrt_
*/
/***
Elementwise the hyperbolic tangent, differentiable. `t:tanh_()` works in place and returns t.
@function Tensor:tanh
@treturn Tensor t's shape and dtype
@also Tensor:tanh_
*/
/***
Elementwise the logistic function 1 / (1 + e^-x), differentiable. `t:sigmoid_()` works in place and returns t.
@function Tensor:sigmoid
@treturn Tensor t's shape and dtype
@also Tensor:sigmoid_
*/
/***
Elementwise max(x, 0), differentiable. `t:relu_()` works in place and returns t.
@function Tensor:relu
@treturn Tensor t's shape and dtype
@also Tensor:relu_
*/
/***
Elementwise the sine, differentiable. `t:sin_()` works in place and returns t.
@function Tensor:sin
@treturn Tensor t's shape and dtype
@also Tensor:sin_
*/
/***
Elementwise the cosine, differentiable. `t:cos_()` works in place and returns t.
@function Tensor:cos
@treturn Tensor t's shape and dtype
@also Tensor:cos_
*/
/***
Elementwise log(1 + x), accurate for small x, differentiable. `t:log1p_()` works in place and returns t.
@function Tensor:log1p
@treturn Tensor t's shape and dtype
@also Tensor:log1p_
*/
/***
Elementwise e^x - 1, accurate for small x, differentiable. `t:expm1_()` works in place and returns t.
@function Tensor:expm1
@treturn Tensor t's shape and dtype
@also Tensor:expm1_
*/
/***
Elementwise -1, 0 or 1, differentiable. `t:sign_()` works in place and returns t.
@function Tensor:sign
@treturn Tensor t's shape and dtype
@also Tensor:sign_
*/
/***
Elementwise the largest integer <= x, differentiable. `t:floor_()` works in place and returns t.
@function Tensor:floor
@treturn Tensor t's shape and dtype
@also Tensor:floor_
*/
/***
Elementwise the smallest integer >= x, differentiable. `t:ceil_()` works in place and returns t.
@function Tensor:ceil
@treturn Tensor t's shape and dtype
@also Tensor:ceil_
*/
/***
Elementwise the nearest integer, ties to even, differentiable. `t:round_()` works in place and returns t.
@function Tensor:round
@treturn Tensor t's shape and dtype
@also Tensor:round_
*/
/***
Elementwise 1 / x, differentiable. `t:reciprocal_()` works in place and returns t.
@function Tensor:reciprocal
@treturn Tensor t's shape and dtype
@also Tensor:reciprocal_
*/
/***
Elementwise x², differentiable. `t:square_()` works in place and returns t.
@function Tensor:square
@treturn Tensor t's shape and dtype
@also Tensor:square_
*/
/***
Elementwise 1 / sqrt(x), differentiable. `t:rsqrt_()` works in place and returns t.
@function Tensor:rsqrt
@treturn Tensor t's shape and dtype
@also Tensor:rsqrt_
*/
/***
Each element clamped into [min, max]; either bound may be nil (not both).
The gradient passes where the element was inside the bounds. `t:clamp_(min,
max)` works in place and returns t.
@function Tensor:clamp
@tparam ?number min
@tparam ?number max
@treturn Tensor
@also Tensor:clamp_
*/

/***
The sum of every element (a 0-d tensor), or along dimension dim. float32
sums accumulate in double.
@function Tensor:sum
@tparam[opt] integer dim a dimension (negative from the end)
@tparam[opt=false] boolean keepdim keep dim with size 1
@treturn Tensor
@usage t:sum()   t:sum(2)   t:sum(-1, true)
*/

/***
The mean of every element (a 0-d tensor), or along dimension dim.
@function Tensor:mean
@tparam[opt] integer dim
@tparam[opt=false] boolean keepdim
@treturn Tensor
*/

/***
The product of every element (a 0-d tensor), or along dimension dim.
@function Tensor:prod
@tparam[opt] integer dim
@tparam[opt=false] boolean keepdim
@treturn Tensor
*/

/***
The largest element (a 0-d tensor); along dimension dim, the largest
values and their 1-based indices. (maximum is the elementwise form.)
@function Tensor:max
@tparam[opt] integer dim
@tparam[opt=false] boolean keepdim
@treturn Tensor values
@treturn Tensor int64 indices (only with dim)
@usage local v, i = t:max(2)
*/

/***
The smallest element (a 0-d tensor); along dimension dim, the smallest
values and their 1-based indices.
@function Tensor:min
@tparam[opt] integer dim
@tparam[opt=false] boolean keepdim
@treturn Tensor values
@treturn Tensor int64 indices (only with dim)
*/

/***
The 1-based position of the largest element (flat, a 0-d int64 tensor),
or its index along dimension dim; the first one on ties.
@function Tensor:argmax
@tparam[opt] integer dim
@tparam[opt=false] boolean keepdim
@treturn Tensor int64
*/

/***
The 1-based position of the smallest element (flat), or its index along
dimension dim.
@function Tensor:argmin
@tparam[opt] integer dim
@tparam[opt=false] boolean keepdim
@treturn Tensor int64
*/

/***
The matrix product, as rnn.matmul(a, b) or a:matmul(b): 1-d · 1-d (a 0-d
dot product), (n, k) · (k) and (k) · (k, m) (matrix-vector), (n, k) × (k, m), and
batched (..., n, k) × (..., k, m) with the batch dimensions broadcast.
float32 and float64 through BLAS (sgemm/dgemm); a transposed view is
passed as a transpose flag, not copied.
@function Tensor:matmul
@tparam Tensor b
@treturn Tensor
@raise naming both shapes when the inner dimensions differ:
`rnn.matmul: shapes (3,4) and (5,2) do not match (inner dims 4 != 5)`
@usage local y = rnn.matmul(x, w)    -- (32, 8) × (8, 16) -> (32, 16)
*/

/***
The affine map x·wᵀ + b as one recorded op, as in nn.Linear and the cells: in a loop,
the weight's gradient is added in place into the one already held.
@function Tensor:linear
@tparam Tensor w (O, I)
@tparam[opt] Tensor b (O)
@treturn Tensor (N, O) for self x (N, I)
@usage local y = rnn.linear(x, w, b)
*/

/* ---- registration ---- */

static const luaL_Reg funcs[] = {
    {"add", l_add}, {"sub", l_sub}, {"mul", l_mul}, {"div", l_div}, {"pow", l_pow},
    {"maximum", l_maximum}, {"minimum", l_minimum},
    {"eq", l_eq}, {"ne", l_ne}, {"lt", l_lt}, {"le", l_le}, {"gt", l_gt}, {"ge", l_ge},
    {"clamp", l_clamp},
    {"sum", l_sum}, {"mean", l_mean}, {"prod", l_prod}, {"max", l_max}, {"min", l_min},
    {"argmax", l_argmax}, {"argmin", l_argmin},
    {"matmul", l_matmul},
    {"linear", l_linear},
    {NULL, NULL},
};

static const luaL_Reg inplace[] = {
    {"add_", l_add_}, {"sub_", l_sub_}, {"mul_", l_mul_}, {"div_", l_div_}, {"pow_", l_pow_},
    {"maximum_", l_maximum_}, {"minimum_", l_minimum_},
    {"eq_", l_eq_}, {"ne_", l_ne_}, {"lt_", l_lt_}, {"le_", l_le_}, {"gt_", l_gt_}, {"ge_", l_ge_},
    {"clamp_", l_clamp_},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__add", l_add}, {"__sub", l_sub}, {"__mul", l_mul}, {"__div", l_div}, {"__pow", l_pow},
    {"__unm", l_unm},
    {NULL, NULL},
};

void rlua_open_math(lua_State *L)
{
    /* module table at -1 */
    luaL_setfuncs(L, funcs, 0);
    rlua_push_methods(L);
    luaL_setfuncs(L, funcs, 0);
    luaL_setfuncs(L, inplace, 0);
    for (int op = 0; op < RL_UNOP_COUNT; op++) {
        const char *name = rl_unop_name((rl_unop)op);
        lua_pushinteger(L, op);
        lua_pushcclosure(L, unary, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, name);  /* method */
        lua_setfield(L, -3, name);  /* rnn.<name> */
        lua_pushfstring(L, "%s_", name); /* the in-place method, e.g. tanh_ */
        lua_pushinteger(L, op);
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, unary_inplace, 2);
        lua_settable(L, -3);
    }
    lua_pop(L, 1);
    luaL_getmetatable(L, RLUA_TENSOR_MT);
    luaL_setfuncs(L, metamethods, 0);
    lua_pop(L, 1);
}
