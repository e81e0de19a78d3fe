/* rnn.c — the fused recurrent kernel for the Lua layers (scripts/rnn/nn/).
 * rnn.core._recurrent(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, lengths)
 * -> out (T,B,H), h_n (B,H) [, c_n (B,H) for 'lstm']; see core/rnn.h. */
#include "lrl.h"

#include "../core/rnn.h"

#include <string.h>

static rl_tensor *opt_tensor(lua_State *L, int idx, const char *fn, const char *name)
{
    return lua_isnoneornil(L, idx) ? NULL : rlua_check(L, idx, fn, name);
}

static int l_recurrent(lua_State *L)
{
    const char *fn = "_recurrent";
    const char *m = luaL_optstring(L, 1, "");
    rl_rnn_mode mode;
    if (!strcmp(m, "rnn_tanh")) mode = RL_RNN_TANH;
    else if (!strcmp(m, "rnn_relu")) mode = RL_RNN_RELU;
    else if (!strcmp(m, "lstm")) mode = RL_LSTM;
    else if (!strcmp(m, "gru")) mode = RL_GRU;
    else return rlua_error(L, fn, "argument 1 (mode) must be 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru', got '%s'", m);
    rl_tensor *x = rlua_check(L, 2, fn, "x");
    rl_tensor *h0 = rlua_check(L, 3, fn, "h0");
    rl_tensor *c0 = opt_tensor(L, 4, fn, "c0");
    rl_tensor *w_ih = rlua_check(L, 5, fn, "w_ih");
    rl_tensor *w_hh = rlua_check(L, 6, fn, "w_hh");
    rl_tensor *b_ih = opt_tensor(L, 7, fn, "b_ih");
    rl_tensor *b_hh = opt_tensor(L, 8, fn, "b_hh");
    bool reverse = lua_toboolean(L, 9);
    rl_tensor *lengths = opt_tensor(L, 10, fn, "lengths");
    rl_tensor **out = rlua_newbox(L);
    rl_tensor **h_n = rlua_newbox(L);
    rl_tensor **c_n = mode == RL_LSTM ? rlua_newbox(L) : NULL;
    rlua_check_status(L, rl_rnn_forward(out, h_n, c_n, mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse, lengths),
                      fn);
    return mode == RL_LSTM ? 3 : 2;
}

void rlua_open_rnn(lua_State *L)
{
    lua_pushcfunction(L, l_recurrent);
    lua_setfield(L, -2, "_recurrent");
}
