/* ops.h — elementwise kernels: binary arithmetic and comparisons with NumPy
 * broadcasting, unary math, clamp.
 *
 * Both operands must have the same dtype (there is no silent promotion; a
 * scalar takes the tensor's dtype). Comparisons give 0/1 in that dtype.
 * Outputs are new contiguous tensors; the *_into forms write into an
 * existing tensor whose shape is the broadcast shape (for in-place ops). */
#ifndef RL_OPS_H
#define RL_OPS_H

#include "tensor.h"

typedef enum {
    RL_ADD, RL_SUB, RL_MUL, RL_DIV, RL_POW, RL_MAXIMUM, RL_MINIMUM,
    RL_EQ, RL_NE, RL_LT, RL_LE, RL_GT, RL_GE,
    RL_BINOP_COUNT
} rl_binop;

typedef enum {
    RL_NEG, RL_ABS, RL_EXP, RL_LOG, RL_SQRT, RL_TANH, RL_SIGMOID, RL_RELU,
    RL_SIN, RL_COS, RL_LOG1P, RL_EXPM1, RL_SIGN, RL_FLOOR, RL_CEIL, RL_ROUND,
    RL_RECIPROCAL, RL_SQUARE, RL_RSQRT,
    RL_UNOP_COUNT
} rl_unop;

const char *rl_binop_name(rl_binop op);
const char *rl_unop_name(rl_unop op);

rl_status rl_binary(rl_tensor **out, rl_binop op, const rl_tensor *a, const rl_tensor *b);
rl_status rl_binary_into(rl_tensor *out, rl_binop op, const rl_tensor *a, const rl_tensor *b);
/* a op s, or s op a when scalar_first */
rl_status rl_binary_scalar(rl_tensor **out, rl_binop op, const rl_tensor *a, double s, bool scalar_first);
rl_status rl_binary_scalar_into(rl_tensor *out, rl_binop op, const rl_tensor *a, double s, bool scalar_first);

rl_status rl_unary(rl_tensor **out, rl_unop op, const rl_tensor *a);
rl_status rl_unary_into(rl_tensor *out, rl_unop op, const rl_tensor *a);

/* Backward of rl_unary: grad_in = g * d op(a)/da, from the input a and the
 * result out = op(a) (whichever the derivative is cheaper from). Zero for
 * sign, floor, ceil and round. All four tensors share one shape. */
rl_status rl_unary_backward(rl_tensor **grad_in, rl_unop op, const rl_tensor *g, const rl_tensor *a,
                            const rl_tensor *out);

/* clamp to [lo, hi]; a NaN bound means no bound on that side */
rl_status rl_clamp(rl_tensor **out, const rl_tensor *a, double lo, double hi);
rl_status rl_clamp_into(rl_tensor *out, const rl_tensor *a, double lo, double hi);

#endif
