/* autograd.c — the tape seen from Lua: requires_grad, grad, backward,
 * retain_grad, detach, no_grad. */
#include "lrl.h"

#include "../core/tape.h"

#include <string.h>

void rlua_push_grad(lua_State *L, rl_tensor *t)
{
    if (!t->grad) {
        lua_pushnil(L);
        return;
    }
    rl_tensor **box = rlua_newbox(L);
    rl_tensor_retain(t->grad);
    *box = t->grad;
}

void rlua_set_grad(lua_State *L, rl_tensor *t, int idx)
{
    if (lua_isnil(L, idx)) {
        rl_tensor_release(t->grad);
        t->grad = NULL;
        return;
    }
    rl_tensor *g = rlua_totensor(L, idx);
    if (!g) rlua_error(L, "Tensor.grad", "must be a tensor or nil, got %s", luaL_typename(L, idx));
    if (g->dtype != t->dtype || !rl_tensor_same_shape(g, t)) {
        char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
        rlua_error(L, "Tensor.grad", "a gradient of shape %s (%s) for a tensor of shape %s (%s)",
                   rl_shape_str(s1, sizeof s1, g->ndim, g->shape), rl_dtype_name(g->dtype),
                   rl_shape_str(s2, sizeof s2, t->ndim, t->shape), rl_dtype_name(t->dtype));
    }
    if (g->storage == t->storage)
        rlua_error(L, "Tensor.grad", "a tensor's gradient cannot share its memory (a view, detach() or the "
                   "tensor itself); assign a clone");
    rl_tensor_retain(g);
    rl_tensor_release(t->grad);
    t->grad = g;
}

/* t:requires_grad() -> boolean; t:requires_grad(flag) -> t */
static int l_requires_grad(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "requires_grad", "self");
    if (lua_isnone(L, 2)) {
        lua_pushboolean(L, rl_needs_grad(t));
        return 1;
    }
    if (lua_type(L, 2) != LUA_TBOOLEAN)
        rlua_error(L, "requires_grad", "argument 2 (flag) must be a boolean, got %s", luaL_typename(L, 2));
    bool flag = lua_toboolean(L, 2);
    if (t->grad_fn) {
        if (!flag)
            rlua_error(L, "requires_grad", "the tensor is the result of '%s' (not a leaf); use :detach() to cut it "
                       "from the graph", t->grad_fn->name);
    } else {
        if (flag && t->dtype == RL_INT64)
            rlua_error(L, "requires_grad", "int64 tensors cannot require grad (only float32 and float64)");
        t->requires_grad = flag;
        if (flag) t->storage->grad_leaf = true;
    }
    lua_settop(L, 1);
    return 1;
}

static int l_is_leaf(lua_State *L)
{
    lua_pushboolean(L, rlua_check(L, 1, "is_leaf", "self")->grad_fn == NULL);
    return 1;
}

/* t:grad_fn(): the name of the op that made t, or nil for a leaf */
static int l_grad_fn(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "grad_fn", "self");
    if (t->grad_fn) lua_pushstring(L, t->grad_fn->name);
    else lua_pushnil(L);
    return 1;
}

/* t:backward([grad] [, {retain_graph = false}]) */
static int l_backward(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "backward", "self");
    rl_tensor *g = NULL;
    int opts = 0;
    if (rlua_totensor(L, 2)) {
        g = rlua_totensor(L, 2);
        opts = 3;
    } else if (lua_istable(L, 2)) {
        opts = 2;
    } else if (!lua_isnoneornil(L, 2)) {
        rlua_error(L, "backward", "argument 2 (gradient) must be a tensor or an options table, got %s",
                   luaL_typename(L, 2));
    }
    bool retain = false;
    if (opts && !lua_isnoneornil(L, opts)) {
        if (!lua_istable(L, opts))
            rlua_error(L, "backward", "argument %d (options) must be a table, got %s", opts, luaL_typename(L, opts));
        lua_pushnil(L);
        while (lua_next(L, opts)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
            if (!k || strcmp(k, "retain_graph"))
                rlua_error(L, "backward", "unknown option '%s' (known: retain_graph)",
                           k ? k : luaL_typename(L, -2));
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                rlua_error(L, "backward", "option retain_graph must be a boolean, got %s", luaL_typename(L, -1));
            retain = lua_toboolean(L, -1);
            lua_pop(L, 1);
        }
    }
    rlua_check_status(L, rl_backward(t, g, retain), "backward");
    return 0;
}

static int l_retain_grad(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "retain_grad", "self");
    rlua_check_status(L, rl_retain_grad(t), "retain_grad");
    lua_settop(L, 1);
    return 1;
}

static int l_detach(lua_State *L)
{
    rl_tensor *t = rlua_check(L, 1, "detach", "self");
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_tensor_detach(box, t), "detach");
    return 1;
}

/* rnn.no_grad(fn, ...): calls fn(...) with recording off, restoring the
 * previous mode however fn ends; returns fn's results or re-raises. */
static int l_no_grad(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TFUNCTION)
        rlua_error(L, "no_grad", "argument 1 (fn) must be a function, got %s", luaL_typename(L, 1));
    bool was = rl_grad_enabled();
    rl_set_grad_enabled(false);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    rl_set_grad_enabled(was);
    if (status != LUA_OK) return lua_error(L);
    return lua_gettop(L); /* fn and its arguments were replaced by its results */
}

static int l_is_grad_enabled(lua_State *L)
{
    lua_pushboolean(L, rl_grad_enabled());
    return 1;
}

static int l_set_grad_enabled(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TBOOLEAN)
        rlua_error(L, "set_grad_enabled", "argument 1 (flag) must be a boolean, got %s", luaL_typename(L, 1));
    rl_set_grad_enabled(lua_toboolean(L, 1));
    return 0;
}

static void set_anomaly(bool on)
{
    if (on && !rl_anomaly_enabled()) rlua_anomaly_reset(); /* tensors made before are not the ops' fault */
    rl_set_anomaly_enabled(on);
}

static int l_set_detect_anomaly(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TBOOLEAN)
        rlua_error(L, "set_detect_anomaly", "argument 1 (flag) must be a boolean, got %s", luaL_typename(L, 1));
    set_anomaly(lua_toboolean(L, 1));
    return 0;
}

static int l_is_anomaly_enabled(lua_State *L)
{
    lua_pushboolean(L, rl_anomaly_enabled());
    return 1;
}

static int l_detect_anomaly(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TFUNCTION)
        rlua_error(L, "detect_anomaly", "argument 1 (fn) must be a function, got %s", luaL_typename(L, 1));
    bool was = rl_anomaly_enabled();
    set_anomaly(true);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    rl_set_anomaly_enabled(was);
    if (status != LUA_OK) return lua_error(L);
    return lua_gettop(L); /* fn and its arguments were replaced by its results */
}

static int l_nodes_alive(lua_State *L)
{
    lua_pushinteger(L, rl_nodes_alive());
    return 1;
}

static int l_tensors_alive(lua_State *L)
{
    lua_pushinteger(L, rl_tensors_alive());
    return 1;
}

/***
@module rnn
*/

/***
Calls fn(...) with recording off (nothing goes on the tape) and returns
its results; the previous mode is restored however fn ends.
@function no_grad
@tparam function fn
@param ... its arguments
@return fn's results
@usage rnn.no_grad(function() w:add_(g * -0.1) end)
*/

/***
Whether operations are being recorded for backward.
@function is_grad_enabled
@treturn boolean
*/

/***
Turns recording on or off (prefer no_grad, which restores the mode).
@function set_grad_enabled
@tparam boolean flag
*/

/***
Turns anomaly detection on or off (PyTorch's name; off by default, when
it costs one flag check per op). When on, every op raises at once if a
tensor it made or wrote in place holds a NaN or an infinity — the error
names the op, e.g. `rnn.log: produced -inf values` — and so does backward
at the first node whose gradient is not finite, naming it as PyTorch
does: `Function 'LogBackward' returned nan values in its 0th output`.
The fused rnn/lstm/gru kernels are one op each, forward and backward.
Checking scans each result, so training runs slower while it is on; a
mask built with -inf trips it too (use a large negative number).
@function set_detect_anomaly
@tparam boolean flag
@usage rnn.set_detect_anomaly(true)
*/

/***
Whether anomaly detection is on (set_detect_anomaly, detect_anomaly).
@function is_anomaly_enabled
@treturn boolean
*/

/***
Calls fn(...) with anomaly detection on and returns its results; the
previous mode is restored however fn ends (an error goes on up).
@function detect_anomaly
@tparam function fn
@param ... its arguments
@return fn's results
@usage rnn.detect_anomaly(function() model:loss(x, y):backward() end)
*/

/*** @type Tensor */

/***
With a flag, marks a leaf (float32 or float64) as needing gradients and
returns it; without, whether t takes part in differentiation (a leaf
that requires grad, or a result of one).
@function Tensor:requires_grad
@tparam[opt] boolean flag
@treturn Tensor|boolean t with a flag, else a boolean
@raise for int64, or flag = false on a non-leaf (use detach)
@usage local w = rnn.randn({8, 8}, 'float64'):requires_grad(true)
*/

/***
Whether t was made by no recorded operation (a leaf).
@function Tensor:is_leaf
@treturn boolean
*/

/***
The name of the operation that made t, or nil for a leaf.
@function Tensor:grad_fn
@treturn ?string
*/

/***
Computes the gradients of t with respect to the leaves that require
grad, walking the tape in reverse (no recursion: a 100,000-step chain is
fine); they accumulate (`+=`) into each leaf's `grad` until cleared.
Without grad, t must have one element; with grad, the vector-Jacobian
product with grad. The graph's saved buffers are then released: a second
backward through it is an error unless the first kept them.
@function Tensor:backward
@tparam[opt] Tensor grad t's shape
@tparam[opt] table opts {retain_graph = false}
@raise for a non-scalar t without grad, or a graph already released
@usage loss:backward()   y:backward(g)   loss:backward{retain_graph = true}
*/

/***
Keeps the gradient of a non-leaf in `t.grad` after backward (leaves keep
theirs anyway).
@function Tensor:retain_grad
@treturn Tensor t
*/

/***
A tensor sharing t's data but cut from the graph: gradients stop there
(truncated BPTT).
@function Tensor:detach
@treturn Tensor
*/

static const luaL_Reg methods[] = {
    {"requires_grad", l_requires_grad}, {"is_leaf", l_is_leaf}, {"grad_fn", l_grad_fn},
    {"backward", l_backward},           {"retain_grad", l_retain_grad}, {"detach", l_detach},
    {NULL, NULL},
};

static const luaL_Reg funcs[] = {
    {"no_grad", l_no_grad},
    {"is_grad_enabled", l_is_grad_enabled},
    {"set_grad_enabled", l_set_grad_enabled},
    {"set_detect_anomaly", l_set_detect_anomaly},
    {"is_anomaly_enabled", l_is_anomaly_enabled},
    {"detect_anomaly", l_detect_anomaly},
    {"_nodes_alive", l_nodes_alive},
    {"_tensors_alive", l_tensors_alive},
    {NULL, NULL},
};

void rlua_open_autograd(lua_State *L)
{
    luaL_setfuncs(L, funcs, 0);
    rlua_push_methods(L);
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 1);
}
