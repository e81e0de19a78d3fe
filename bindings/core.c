/* core.c — luaopen_rnn_core: the C half of the `rnn` module. */
#include "lrl.h"

int luaopen_rnn_core(lua_State *L);

int luaopen_rnn_core(lua_State *L)
{
    lua_newtable(L);
    rlua_open_tensor(L);
    rlua_open_create(L);
    rlua_open_math(L);
    rlua_open_shape(L);
    return 1;
}
