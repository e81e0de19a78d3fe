/* nn.c — softmax, log_softmax and the C halves of the losses in
 * rnn.nn.functional (scripts/rnn/nn/functional.lua checks and documents the
 * user-facing arguments; these take them already resolved). */
#include "lrl.h"

#include "../core/autograd.h"

#include <string.h>

static int softmax_like(lua_State *L, const char *fn, bool log_space)
{
    rl_tensor *a = rlua_check(L, 1, fn, "input");
    if (lua_isnoneornil(L, 2)) rlua_error(L, fn, "argument 2 (dim) is missing");
    int dim = rlua_checkdim(L, 2, a->ndim, fn, 0);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, log_space ? rl_ag_log_softmax(box, a, dim) : rl_ag_softmax(box, a, dim), fn);
    return 1;
}

static int l_softmax(lua_State *L) { return softmax_like(L, "softmax", false); }
static int l_log_softmax(lua_State *L) { return softmax_like(L, "log_softmax", true); }

static rl_reduction check_reduction(lua_State *L, int idx, const char *fn)
{
    const char *r = lua_isnoneornil(L, idx) ? "mean" : lua_tostring(L, idx);
    if (r && !strcmp(r, "mean")) return RL_REDUCE_MEAN;
    if (r && !strcmp(r, "sum")) return RL_REDUCE_SUM;
    if (r && !strcmp(r, "none")) return RL_REDUCE_NONE;
    rlua_error(L, fn, "option reduction must be 'mean', 'sum' or 'none', got %s",
               r ? r : luaL_typename(L, idx));
    return RL_REDUCE_MEAN;
}

/* rnn._nll(logp (N,C), target (N) int64 1-based, reduction, ignore_index|nil) */
static int l_nll(lua_State *L)
{
    const char *fn = "nn.functional.nll";
    rl_tensor *logp = rlua_check(L, 1, fn, "input");
    rl_tensor *target = rlua_check(L, 2, fn, "target");
    rl_reduction red = check_reduction(L, 3, fn);
    bool has_ignore = !lua_isnoneornil(L, 4);
    int64_t ignore = has_ignore ? rlua_checkint(L, 4, fn, "ignore_index") : 0;
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_nll(box, logp, target, 1, red, ignore, has_ignore), fn);
    return 1;
}

/* rnn._bce_with_logits(x, y, reduction) */
static int l_bce_with_logits(lua_State *L)
{
    const char *fn = "nn.functional.binary_cross_entropy_with_logits";
    rl_tensor *x = rlua_check(L, 1, fn, "input");
    rl_tensor *y = rlua_check(L, 2, fn, "target");
    rl_reduction red = check_reduction(L, 3, fn);
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_bce_with_logits(box, x, y, red), fn);
    return 1;
}

/* rnn.clip_grad(x, c [, 'value' | 'norm']) */
static int l_clip_grad(lua_State *L)
{
    rl_tensor *a = rlua_check(L, 1, "clip_grad", "input");
    double c = rlua_checknum(L, 2, "clip_grad", "threshold");
    const char *mode = lua_isnoneornil(L, 3) ? "value" : lua_tostring(L, 3);
    bool by_norm = mode && !strcmp(mode, "norm");
    if (!mode || (!by_norm && strcmp(mode, "value")))
        rlua_error(L, "clip_grad", "argument 3 (mode) must be 'value' or 'norm', got %s",
                   mode ? mode : luaL_typename(L, 3));
    rl_tensor **box = rlua_newbox(L);
    rlua_check_status(L, rl_ag_clip_grad(box, a, c, by_norm), "clip_grad");
    return 1;
}

/***
@module rnn
*/

/***
The identity whose backward clips: the gradient passing back through x
is clipped elementwise to [-c, c] ('value') or, with 'norm', rescaled row
by row (each sequence of a (B, H) state) to norm c when longer. In a
loop written by hand this gives the gradients of the recurrent layers'
bptt_clip option.
@function clip_grad
@tparam Tensor x
@tparam number c the threshold
@tparam[opt='value'] string mode 'value' or 'norm'
@treturn Tensor x's values, recorded
@usage h = rnn.clip_grad(cell(x[t], h), 1.0)
*/

/*** @type Tensor */

/***
The softmax along dimension dim: e^x / sum(e^x), computed stably.
@function Tensor:softmax
@tparam integer dim required
@treturn Tensor t's shape
*/

/***
The logarithm of softmax along dimension dim, computed stably.
@function Tensor:log_softmax
@tparam integer dim required
@treturn Tensor t's shape
*/

static const luaL_Reg funcs[] = {
    {"clip_grad", l_clip_grad},
    {"softmax", l_softmax},
    {"log_softmax", l_log_softmax},
    {"_nll", l_nll},
    {"_bce_with_logits", l_bce_with_logits},
    {NULL, NULL},
};

static const luaL_Reg methods[] = {
    {"softmax", l_softmax},
    {"log_softmax", l_log_softmax},
    {NULL, NULL},
};

void rlua_open_nn(lua_State *L)
{
    luaL_setfuncs(L, funcs, 0);
    rlua_push_methods(L);
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 1);
}
