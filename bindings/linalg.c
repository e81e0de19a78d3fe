/* linalg.c — rnn.linalg: qr, svdvals, eigvals (core/linalg.h).
 *
 *   local Q, R = rnn.linalg.qr(A)        -- A (m,n): Q (m,k), R (k,n), k = min(m,n)
 *   local s = rnn.linalg.svdvals(A)      -- (k,), descending
 *   local re, im = rnn.linalg.eigvals(A) -- A (n,n): real and imaginary parts, (n,) each
 *
 * Not differentiable: the results are new tensors outside the graph (they
 * never require grad), whatever the input. Errors read
 * "rnn.linalg.eigvals: matrix (3,4) is not square". */
#include "lrl.h"

#include "../core/linalg.h"

static int l_qr(lua_State *L)
{
    rl_tensor *a = rlua_check(L, 1, "linalg.qr", "A");
    rl_tensor **q = rlua_newbox(L);
    rl_tensor **r = rlua_newbox(L);
    rlua_check_status(L, rl_qr(q, r, a), "linalg.qr");
    return 2;
}

static int l_svdvals(lua_State *L)
{
    rl_tensor *a = rlua_check(L, 1, "linalg.svdvals", "A");
    rl_tensor **s = rlua_newbox(L);
    rlua_check_status(L, rl_svdvals(s, a), "linalg.svdvals");
    return 1;
}

static int l_eigvals(lua_State *L)
{
    rl_tensor *a = rlua_check(L, 1, "linalg.eigvals", "A");
    rl_tensor **re = rlua_newbox(L);
    rl_tensor **im = rlua_newbox(L);
    rlua_check_status(L, rl_eigvals(re, im, a), "linalg.eigvals");
    return 2;
}

/***
@module rnn
*/

/***
Linear algebra through LAPACKE, not differentiable (the results are new
tensors outside the graph). Errors read
"rnn.linalg.eigvals: matrix (3,4) is not square".
@table linalg
*/

/***
The reduced QR factorisation A = QR.
@function linalg.qr
@tparam Tensor A (m, n), float32 or float64
@treturn Tensor Q (m, k), orthonormal columns, k = min(m, n)
@treturn Tensor R (k, n), upper triangular
*/

/***
The singular values of A, descending.
@function linalg.svdvals
@tparam Tensor A (m, n)
@treturn Tensor (min(m, n))
@usage local s = rnn.linalg.svdvals(lstm.weight_hh_l0)
*/

/***
The eigenvalues of a square matrix, as real and imaginary parts.
@function linalg.eigvals
@tparam Tensor A (n, n)
@treturn Tensor real parts (n)
@treturn Tensor imaginary parts (n)
@raise when A is not square
*/

static const luaL_Reg funcs[] = {
    {"qr", l_qr},
    {"svdvals", l_svdvals},
    {"eigvals", l_eigvals},
    {NULL, NULL},
};

void rlua_open_linalg(lua_State *L)
{
    /* module table at -1: rnn.linalg = {...} */
    luaL_newlib(L, funcs);
    lua_setfield(L, -2, "linalg");
}
