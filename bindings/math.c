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
static void clamp_bounds(lua_State *L, const char *fn, double *lo, double *hi)
{
    *lo = lua_isnoneornil(L, 2) ? NAN : rlua_checknum(L, 2, fn, "min");
    *hi = lua_isnoneornil(L, 3) ? NAN : rlua_checknum(L, 3, fn, "max");
    if (isnan(*lo) && isnan(*hi)) rlua_error(L, fn, "at least one of min and max must be given");
}

static int l_clamp(lua_State *L)
{
    rlua_check_nargs(L, 3, "clamp");
    rl_tensor *a = rlua_check(L, 1, "clamp", "a");
    double lo, hi;
    clamp_bounds(L, "clamp", &lo, &hi);
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
    clamp_bounds(L, "clamp_", &lo, &hi);
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
