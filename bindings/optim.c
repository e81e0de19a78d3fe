/* optim.c — the C half of rnn.optim (scripts/rnn/optim.lua documents the
 * user-facing API and resolves the options; these functions take them
 * resolved and do the per-element work in one call).
 *
 *   core._optim_step(fn, kind, groups, states) -> n
 *       fn: the name for errors ('optim.Adam'); kind: 'sgd' | 'adam' |
 *       'adamw' | 'rmsprop' | 'adagrad'; groups: array of parameter groups,
 *       each the hyperparameters (lr, weight_decay, momentum, dampening,
 *       nesterov, betas = {b1, b2}, amsgrad, eps, alpha, centered, lr_decay,
 *       initial_accumulator_value, maximize; absent ones are 0 / false) and
 *       params, an array of tensors; states: array (per group) of arrays of
 *       tables, states[g][i] the state of groups[g].params[i] ({step = n,
 *       exp_avg = tensor, ...}). Parameters are numbered over all groups in
 *       error messages. Parameters without a gradient are skipped. A state
 *       without its buffers gets new ones when its step is 0 (or absent);
 *       SGD's momentum buffer may be absent at any step (PyTorch starts it
 *       from the gradient). Every group is checked before anything is
 *       written, so an error leaves parameters and states as they were.
 *       Returns the number of parameters updated.
 *   core._optim_check(fn, kind, group)
 *       Raises 'rnn.<fn>: ...' when the hyperparameters are out of range.
 *   core._optim_zero_grad(params, set_to_none)
 *       Each gradient filled with zeros, or dropped (set_to_none).
 *   core._optim_state_names(kind, group) -> array of buffer names */
#include "lrl.h"

#include "../core/optim.h"

#include <string.h>

static const struct {
    const char *name;
    rl_optim_kind kind;
} KINDS[] = {
    {"sgd", RL_OPTIM_SGD},         {"adam", RL_OPTIM_ADAM},       {"adamw", RL_OPTIM_ADAMW},
    {"rmsprop", RL_OPTIM_RMSPROP}, {"adagrad", RL_OPTIM_ADAGRAD},
};

static rl_optim_kind check_kind(lua_State *L, int idx, const char *fn)
{
    const char *s = lua_tostring(L, idx);
    for (size_t i = 0; s && i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (!strcmp(s, KINDS[i].name)) return KINDS[i].kind;
    rlua_error(L, fn, "unknown optimizer kind %s", s ? s : luaL_typename(L, idx));
    return RL_OPTIM_SGD;
}

static double num_field(lua_State *L, int t, const char *key, const char *fn)
{
    lua_getfield(L, t, key);
    double v = 0;
    if (lua_type(L, -1) == LUA_TNUMBER) v = lua_tonumber(L, -1);
    else if (!lua_isnil(L, -1))
        rlua_error(L, fn, "option %s must be a number, got %s", key, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

static bool bool_field(lua_State *L, int t, const char *key, const char *fn)
{
    lua_getfield(L, t, key);
    bool v = false;
    if (lua_type(L, -1) == LUA_TBOOLEAN) v = lua_toboolean(L, -1);
    else if (!lua_isnil(L, -1))
        rlua_error(L, fn, "option %s must be a boolean, got %s", key, luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

static void read_config(lua_State *L, int t, rl_optim_kind kind, const char *fn, rl_optim_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->lr = num_field(L, t, "lr", fn);
    c->weight_decay = num_field(L, t, "weight_decay", fn);
    c->momentum = num_field(L, t, "momentum", fn);
    c->dampening = num_field(L, t, "dampening", fn);
    c->nesterov = bool_field(L, t, "nesterov", fn);
    c->amsgrad = bool_field(L, t, "amsgrad", fn);
    c->eps = num_field(L, t, "eps", fn);
    c->alpha = num_field(L, t, "alpha", fn);
    c->centered = bool_field(L, t, "centered", fn);
    c->lr_decay = num_field(L, t, "lr_decay", fn);
    c->initial_accumulator_value = num_field(L, t, "initial_accumulator_value", fn);
    c->maximize = bool_field(L, t, "maximize", fn);
    lua_getfield(L, t, "betas");
    if (lua_istable(L, -1)) {
        int b = lua_gettop(L);
        for (int i = 1; i <= 2; i++) {
            if (lua_geti(L, b, i) != LUA_TNUMBER)
                rlua_error(L, fn, "option betas must be a table of two numbers, entry %d is %s", i,
                           luaL_typename(L, -1));
            if (i == 1) c->beta1 = lua_tonumber(L, -1);
            else c->beta2 = lua_tonumber(L, -1);
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        rlua_error(L, fn, "option betas must be a table of two numbers, got %s", luaL_typename(L, -1));
    } else if (kind == RL_OPTIM_ADAM || kind == RL_OPTIM_ADAMW) {
        rlua_error(L, fn, "option betas is missing");
    }
    lua_pop(L, 1);
}

/* The step count of the state table on top: absent means 0. */
static int64_t read_step(lua_State *L, const char *fn, lua_Integer i)
{
    lua_getfield(L, -1, "step");
    int64_t step = 0;
    if (!lua_isnil(L, -1)) {
        int isint;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (!isint || lua_type(L, -1) != LUA_TNUMBER || v < 0)
            rlua_error(L, fn, "the state of parameter %lld has step %s; it must be a non-negative integer",
                       (long long)i, luaL_tolstring(L, -1, NULL));
        step = (int64_t)v;
    }
    lua_pop(L, 1);
    return step;
}

/* Reads the slots of one group: params (array at pidx), states (array at
 * sidx); new buffers go into the table at `created` under key
 * id*RL_OPTIM_MAX_STATE + k, id the parameter's number over all groups.
 * Returns the number of slots filled (parameters with a gradient). */
static int64_t read_group(lua_State *L, const char *fn, const rl_optim_config *cfg, int pidx, int sidx, int created,
                          lua_Integer first_id, rl_optim_slot *slots)
{
    const char *names[RL_OPTIM_MAX_STATE];
    rl_optim_state_names(cfg, names);
    lua_Integer n = luaL_len(L, pidx);
    int64_t m = 0;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_Integer id = first_id + i - 1;
        /* Everything a slot points at is anchored in `created` (negative keys)
         * for the whole call: the lookups below may run Lua code (__index,
         * a collection) that drops the caller's own references. */
        lua_Integer anchor = -(id * (RL_OPTIM_MAX_STATE + 2)) - 1;
        lua_geti(L, pidx, i);
        rl_tensor *p = rlua_totensor(L, -1);
        if (!p) rlua_error(L, fn, "parameter %lld is not a tensor (got %s)", (long long)id, luaL_typename(L, -1));
        lua_rawseti(L, created, anchor);
        if (!p->grad) continue;
        rl_tensor **grad_box = rlua_newbox(L);
        rl_tensor_retain(p->grad);
        *grad_box = p->grad;
        lua_rawseti(L, created, anchor - 1);
        if (lua_geti(L, sidx, i) != LUA_TTABLE)
            rlua_error(L, fn, "the state of parameter %lld must be a table, got %s", (long long)id,
                       luaL_typename(L, -1));
        int st_idx = lua_gettop(L);
        rl_optim_slot *s = &slots[m];
        memset(s, 0, sizeof *s);
        s->param = p;
        s->grad = *grad_box;
        s->index = id;
        int64_t step = read_step(L, fn, id);
        s->step = step + 1;
        for (int k = 0; k < RL_OPTIM_MAX_STATE; k++) {
            if (!names[k]) continue;
            lua_getfield(L, st_idx, names[k]);
            rl_tensor *t = rlua_totensor(L, -1);
            if (t) {
                s->state[k] = t;
                lua_pushvalue(L, -1);
                lua_rawseti(L, created, anchor - 2 - k);
            } else if (lua_isnil(L, -1) && (step == 0 || cfg->kind == RL_OPTIM_SGD)) {
                rl_tensor **box = rlua_newbox(L);
                rlua_check_status(L, rl_optim_new_state(box, cfg, k, p), fn);
                s->state[k] = *box;
                s->fresh = cfg->kind == RL_OPTIM_SGD;
                lua_rawseti(L, created, id * RL_OPTIM_MAX_STATE + k);
            } else if (lua_isnil(L, -1)) {
                rlua_error(L, fn, "the state of parameter %lld has step %lld but no %s (a state saved with other "
                           "options?)", (long long)id, (long long)step, names[k]);
            } else {
                rlua_error(L, fn, "the state of parameter %lld: %s must be a tensor, got %s", (long long)id,
                           names[k], luaL_typename(L, -1));
            }
            lua_settop(L, st_idx);
        }
        lua_pop(L, 1);
        m++;
    }
    return m;
}

/* core._optim_step(fn, kind, groups, states) -> n */
static int l_optim_step(lua_State *L)
{
    const char *fn = luaL_checkstring(L, 1);
    rl_optim_kind kind = check_kind(L, 2, fn);
    luaL_checktype(L, 3, LUA_TTABLE);
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_settop(L, 4);
    lua_Integer ng = luaL_len(L, 3);
    if (ng < 0 || ng > INT32_MAX) rlua_error(L, fn, "too many parameter groups");

    /* sizes first: every group's configuration and its number of parameters */
    rl_optim_config *cfgs = lua_newuserdatauv(L, (size_t)(ng ? ng : 1) * sizeof *cfgs, 0);     /* 5 */
    int64_t *counts = lua_newuserdatauv(L, (size_t)(ng ? ng : 1) * sizeof *counts, 0);         /* 6 */
    lua_newtable(L);                                                                            /* 7 */
    lua_Integer total = 0;
    for (lua_Integer g = 1; g <= ng; g++) {
        if (lua_geti(L, 3, g) != LUA_TTABLE) rlua_error(L, fn, "parameter group %lld is not a table", (long long)g);
        int gi = lua_gettop(L);
        read_config(L, gi, kind, fn, &cfgs[g - 1]);
        if (rl_optim_check_config(&cfgs[g - 1])) rlua_fail(L, fn);
        if (lua_getfield(L, gi, "params") != LUA_TTABLE)
            rlua_error(L, fn, "parameter group %lld has no params array", (long long)g);
        lua_Integer n = luaL_len(L, -1);
        if (n < 0 || n > INT32_MAX - total) rlua_error(L, fn, "too many parameters");
        total += n;
        lua_pop(L, 2);
    }
    rl_optim_slot *slots = lua_newuserdatauv(L, (size_t)(total ? total : 1) * sizeof *slots, 0); /* 8 */

    /* read every group's slots, check them all, then update */
    int64_t used = 0;
    lua_Integer first_id = 1;
    for (lua_Integer g = 1; g <= ng; g++) {
        lua_geti(L, 3, g);
        lua_getfield(L, -1, "params");
        int pidx = lua_gettop(L);
        if (lua_geti(L, 4, g) != LUA_TTABLE)
            rlua_error(L, fn, "the states of parameter group %lld must be a table", (long long)g);
        int sidx = lua_gettop(L);
        counts[g - 1] = read_group(L, fn, &cfgs[g - 1], pidx, sidx, 7, first_id, slots + used);
        if (rl_optim_check(&cfgs[g - 1], slots + used, counts[g - 1])) rlua_fail(L, fn);
        used += counts[g - 1];
        first_id += luaL_len(L, pidx);
        lua_pop(L, 3);
    }
    used = 0;
    for (lua_Integer g = 1; g <= ng; g++) {
        if (rl_optim_step(&cfgs[g - 1], slots + used, counts[g - 1])) rlua_fail(L, fn); /* checked: cannot fail */
        used += counts[g - 1];
    }

    /* commit the step counts and the new buffers */
    used = 0;
    first_id = 1;
    for (lua_Integer g = 1; g <= ng; g++) {
        const char *names[RL_OPTIM_MAX_STATE];
        rl_optim_state_names(&cfgs[g - 1], names);
        lua_geti(L, 4, g);
        for (int64_t j = 0; j < counts[g - 1]; j++) {
            const rl_optim_slot *s = &slots[used + j];
            lua_geti(L, -1, s->index - first_id + 1);
            lua_pushinteger(L, (lua_Integer)s->step);
            lua_setfield(L, -2, "step");
            for (int k = 0; k < RL_OPTIM_MAX_STATE; k++) {
                if (!names[k]) continue;
                if (lua_rawgeti(L, 7, s->index * RL_OPTIM_MAX_STATE + k) == LUA_TNIL) {
                    lua_pop(L, 1);
                    continue;
                }
                lua_setfield(L, -2, names[k]);
            }
            lua_pop(L, 1);
        }
        used += counts[g - 1];
        lua_geti(L, 3, g);
        lua_getfield(L, -1, "params");
        first_id += luaL_len(L, -1);
        lua_pop(L, 3);
    }
    lua_pushinteger(L, (lua_Integer)used);
    return 1;
}

/* core._optim_check(fn, kind, group): raises on bad hyperparameters */
static int l_optim_check(lua_State *L)
{
    const char *fn = luaL_checkstring(L, 1);
    rl_optim_kind kind = check_kind(L, 2, fn);
    luaL_checktype(L, 3, LUA_TTABLE);
    rl_optim_config cfg;
    read_config(L, 3, kind, fn, &cfg);
    if (rl_optim_check_config(&cfg)) rlua_fail(L, fn);
    return 0;
}

static int l_optim_zero_grad(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    bool to_none = lua_toboolean(L, 2);
    lua_Integer n = luaL_len(L, 1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        rl_tensor *t = rlua_totensor(L, -1);
        lua_pop(L, 1);
        if (!t || !t->grad) continue;
        if (to_none) {
            rl_tensor_release(t->grad);
            t->grad = NULL;
        } else {
            rl_tensor_fill_(t->grad, 0);
            t->grad->storage->version++;
        }
    }
    return 0;
}

static int l_optim_state_names(lua_State *L)
{
    const char *fn = "optim";
    rl_optim_kind kind = check_kind(L, 1, fn);
    luaL_checktype(L, 2, LUA_TTABLE);
    rl_optim_config cfg;
    read_config(L, 2, kind, fn, &cfg);
    const char *names[RL_OPTIM_MAX_STATE];
    rl_optim_state_names(&cfg, names);
    lua_newtable(L);
    int n = 0;
    for (int k = 0; k < RL_OPTIM_MAX_STATE; k++) {
        if (!names[k]) continue;
        lua_pushstring(L, names[k]);
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

static const luaL_Reg funcs[] = {
    {"_optim_step", l_optim_step},
    {"_optim_check", l_optim_check},
    {"_optim_zero_grad", l_optim_zero_grad},
    {"_optim_state_names", l_optim_state_names},
    {NULL, NULL},
};

void rlua_open_optim(lua_State *L)
{
    luaL_setfuncs(L, funcs, 0);
}
