/* rnn.c — the fused recurrent kernel for the Lua layers (scripts/rnn/nn/).
 * rnn.core._recurrent(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, lengths [, opts])
 * -> out (T,B,H), h_n (B,H) [, c_n (B,H) for 'lstm']; see core/rnn.h.
 * opts: {bptt_clip = c, bptt_clip_mode = 'value' | 'norm' (default 'value'),
 *        grad_norms = a float64 (T) tensor the backward fills}
 * rnn.core._cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh)
 * -> h' (B,H) [, c' (B,H) for 'lstm']: one step, x (B,I); see rl_rnn_cell. */
#include "lrl.h"

#include "../core/rnn.h"

#include <string.h>

static rl_tensor *opt_tensor(lua_State *L, int idx, const char *fn, const char *name)
{
    return lua_isnoneornil(L, idx) ? NULL : rlua_check(L, idx, fn, name);
}

static rl_rnn_mode check_mode(lua_State *L, const char *fn)
{
    const char *m = luaL_optstring(L, 1, "");
    if (!strcmp(m, "rnn_tanh")) return RL_RNN_TANH;
    if (!strcmp(m, "rnn_relu")) return RL_RNN_RELU;
    if (!strcmp(m, "lstm")) return RL_LSTM;
    if (!strcmp(m, "gru")) return RL_GRU;
    rlua_error(L, fn, "argument 1 (mode) must be 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru', got '%s'", m);
    return RL_RNN_TANH;
}

/* arguments 2..8: x, h, c, w_ih, w_hh, b_ih, b_hh (c and the biases may be nil) */
typedef struct {
    rl_tensor *x, *h, *c, *w_ih, *w_hh, *b_ih, *b_hh;
} operands;

static operands check_operands(lua_State *L, const char *fn, const char *hname, const char *cname)
{
    operands o;
    o.x = rlua_check(L, 2, fn, "x");
    o.h = rlua_check(L, 3, fn, hname);
    o.c = opt_tensor(L, 4, fn, cname);
    o.w_ih = rlua_check(L, 5, fn, "w_ih");
    o.w_hh = rlua_check(L, 6, fn, "w_hh");
    o.b_ih = opt_tensor(L, 7, fn, "b_ih");
    o.b_hh = opt_tensor(L, 8, fn, "b_hh");
    return o;
}

static int l_recurrent(lua_State *L)
{
    const char *fn = "_recurrent";
    rl_rnn_mode mode = check_mode(L, fn);
    operands a = check_operands(L, fn, "h0", "c0");
    bool reverse = lua_toboolean(L, 9);
    rl_rnn_options o = {0};
    o.reverse = reverse;
    o.lengths = opt_tensor(L, 10, fn, "lengths");
    if (!lua_isnoneornil(L, 11)) {
        if (!lua_istable(L, 11)) rlua_error(L, fn, "argument 11 (opts) must be a table, got %s", luaL_typename(L, 11));
        lua_getfield(L, 11, "bptt_clip");
        if (!lua_isnil(L, -1)) {
            o.clip = rlua_checknum(L, lua_gettop(L), fn, "bptt_clip");
            o.clip_mode = RL_CLIP_VALUE;
        }
        lua_getfield(L, 11, "bptt_clip_mode");
        if (!lua_isnil(L, -1)) {
            const char *cm = lua_tostring(L, -1);
            if (cm && !strcmp(cm, "norm")) o.clip_mode = o.clip_mode ? RL_CLIP_NORM : RL_CLIP_NONE;
            else if (!cm || strcmp(cm, "value"))
                rlua_error(L, fn, "option bptt_clip_mode must be 'value' or 'norm', got %s",
                           cm ? cm : luaL_typename(L, -1));
        }
        lua_getfield(L, 11, "grad_norms");
        if (!lua_isnil(L, -1)) o.grad_norms = rlua_check(L, lua_gettop(L), fn, "grad_norms");
        lua_pop(L, 3);
    }
    rl_tensor **out = rlua_newbox(L);
    rl_tensor **h_n = rlua_newbox(L);
    rl_tensor **c_n = mode == RL_LSTM ? rlua_newbox(L) : NULL;
    rl_status st = rl_rnn_forward(out, h_n, c_n, mode, a.x, a.h, a.c, a.w_ih, a.w_hh, a.b_ih, a.b_hh, &o);
    /* errors name the binding; anomaly mode names the kernel ("rnn.lstm: produced nan ...") */
    rlua_check_status(L, st, st ? fn : rl_rnn_mode_name(mode));
    return mode == RL_LSTM ? 3 : 2;
}

static int l_cell(lua_State *L)
{
    const char *fn = "_cell";
    rlua_check_nargs(L, 8, fn);
    rl_rnn_mode mode = check_mode(L, fn);
    operands a = check_operands(L, fn, "h", "c");
    rl_tensor **h2 = rlua_newbox(L);
    rl_tensor **c2 = mode == RL_LSTM ? rlua_newbox(L) : NULL;
    rl_status st = rl_rnn_cell(h2, c2, mode, a.x, a.h, a.c, a.w_ih, a.w_hh, a.b_ih, a.b_hh);
    rlua_check_status(L, st, st ? fn : rl_rnn_cell_name(mode));
    return mode == RL_LSTM ? 2 : 1;
}

void rlua_open_rnn(lua_State *L)
{
    lua_pushcfunction(L, l_cell);
    lua_setfield(L, -2, "_cell");
    lua_pushcfunction(L, l_recurrent);
    lua_setfield(L, -2, "_recurrent");
}
