/* lrl.h — helpers shared by the Lua bindings: the rnn.Tensor userdata,
 * argument checking and error reporting.
 *
 * A tensor userdata is a box holding one reference to an rl_tensor. Create
 * the box before calling into the core (rlua_newbox), so that a Lua error
 * raised afterwards cannot leak the tensor: the box's __gc releases it.
 *
 * Dimensions and indices seen from Lua are 1-based; negative ones count
 * from the end (-1 is the last). */
#ifndef RL_LRL_H
#define RL_LRL_H

#include <lauxlib.h>
#include <lua.h>

#include "../core/tensor.h"

#define RLUA_TENSOR_MT "rnn.Tensor"

/* With the tensor metatable on top of the stack: remember it for the fast
 * paths below (called once, when the module opens). */
void rlua_remember_metatable(lua_State *L);
/* Pushes an empty box; returns the slot to fill. */
rl_tensor **rlua_newbox(lua_State *L);
rl_tensor *rlua_totensor(lua_State *L, int idx); /* NULL if not a tensor */
/* The tensor at idx, or an error "rnn.FN: argument N (NAME) must be a tensor, got T". */
rl_tensor *rlua_check(lua_State *L, int idx, const char *fn, const char *name);

/* Raises "<where>rnn.FN: <core message>" after a failed core call. */
int rlua_fail(lua_State *L, const char *fn);
/* Raises "<where>rnn.FN: <formatted message>", pointing at the Lua caller. */
int rlua_error(lua_State *L, const char *fn, const char *fmt, ...);
/* Raises unless st is RL_OK; after a success tells the collector of new
 * C memory. Call it after each core call that filled a box. */
/* Raises fn's error unless st is RL_OK; in anomaly mode also when the op
 * left a NaN or an infinity in a tensor it made or wrote (bindings/lrl.c). */
void rlua_check_status(lua_State *L, rl_status st, const char *fn);
/* The same for an allocation whose contents the binding writes next
 * (rl_tensor_empty): no anomaly check of memory not yet written. */
void rlua_check_alloc(lua_State *L, rl_status st, const char *fn);
/* Anomaly mode's forward check starts afresh: tensors made so far are old. */
void rlua_anomaly_reset(void);

/* Argument helpers; all raise with the function and argument named. */
/* Refuses more than max arguments: an extra one is a mistake (t:transpose(1,
 * 2, 3), t:sum(1, 2) for two dims) that Lua would silently drop. */
void rlua_check_nargs(lua_State *L, int max, const char *fn);
lua_Integer rlua_checkint(lua_State *L, int idx, const char *fn, const char *name);
lua_Number rlua_checknum(lua_State *L, int idx, const char *fn, const char *name);
/* A 1-based, possibly negative dim for a tensor of ndim dims -> 0-based.
 * `extra` allows one past the end (unsqueeze, stack). */
int rlua_checkdim(lua_State *L, int idx, int ndim, const char *fn, int extra);
rl_dtype rlua_optdtype(lua_State *L, int idx, rl_dtype def, const char *fn);
/* Sizes from a table at `idx` or from the integer arguments idx..top; stops
 * at the first non-number. Returns the number of dims; *next is the first
 * argument after the sizes. -1 entries are kept when allow_infer (for
 * reshape), to be resolved by rlua_infer_size. */
int rlua_checksizes(lua_State *L, int idx, int64_t *shape, const char *fn, int *next, int allow_infer);
void rlua_infer_size(lua_State *L, const char *fn, int64_t *shape, int n, int64_t numel);

/* Before writing into t in place: refuses a tensor that takes part in
 * differentiation while gradients are recorded (its gradient would be
 * wrong), and bumps its storage version so that backward notices writes to
 * tensors it saved. */
void rlua_check_inplace(lua_State *L, rl_tensor *t, const char *fn);

/* t.grad: pushes the gradient tensor or nil; t.grad = v sets it (a tensor of
 * t's shape and dtype, or nil to clear it). */
void rlua_push_grad(lua_State *L, rl_tensor *t);
void rlua_set_grad(lua_State *L, rl_tensor *t, int idx);

/* The number at idx as a 0-d tensor of dtype dt, pushed on the stack: for an
 * int64 tensor a Lua integer stays exact (through a double, values beyond
 * 2^53 would round); a non-integral number for int64 is an error. */
rl_tensor *rlua_scalar_tensor(lua_State *L, int idx, rl_dtype dt, const char *fn, const char *name);

/* Tells the garbage collector about C memory allocated since the last call. */
void rlua_gc_account(lua_State *L);

/* Serves the state's small objects from pools (lalloc.c); once per state. */
void rlua_install_allocator(lua_State *L);

/* Registration of each binding file into the module table at the top. */
void rlua_open_tensor(lua_State *L);
void rlua_open_create(lua_State *L);
void rlua_open_math(lua_State *L);
void rlua_open_shape(lua_State *L);
void rlua_open_autograd(lua_State *L);
void rlua_open_nn(lua_State *L);
void rlua_open_io(lua_State *L);
void rlua_open_rnn(lua_State *L);
void rlua_open_optim(lua_State *L);
void rlua_open_linalg(lua_State *L);
void rlua_open_lalloc(lua_State *L);
void rlua_open_signals(lua_State *L);

/* The methods table of rnn.Tensor (for registering more methods). */
void rlua_push_methods(lua_State *L);

#endif
