/* autograd.h — the differentiable operations: each computes its result with
 * the plain kernel and, when gradients are being recorded (tape.h), records
 * a node whose backward sits beside it in the grad_*.c file of its kind.
 * Signatures mirror the plain kernels; indices are `base`-based as there. */
#ifndef RL_AUTOGRAD_H
#define RL_AUTOGRAD_H

#include "ops.h"
#include "reduce.h"
#include "tape.h"

/* grad_elementwise.c */
rl_status rl_ag_binary(rl_tensor **out, rl_binop op, rl_tensor *a, rl_tensor *b);
rl_status rl_ag_binary_scalar(rl_tensor **out, rl_binop op, rl_tensor *a, double s, bool scalar_first);
rl_status rl_ag_unary(rl_tensor **out, rl_unop op, rl_tensor *a);
rl_status rl_ag_clamp(rl_tensor **out, rl_tensor *a, double lo, double hi);

/* grad_reduce.c */
rl_status rl_ag_reduce_all(rl_tensor **out, rl_reduce_op op, rl_tensor *a);
rl_status rl_ag_reduce_dim(rl_tensor **out, rl_reduce_op op, rl_tensor *a, int dim, bool keepdim);
/* values differentiable, indices not */
rl_status rl_ag_reduce_arg_dim(rl_tensor **values, rl_tensor **indices, rl_reduce_op op, rl_tensor *a, int dim,
                               bool keepdim, int64_t base);

/* grad_linalg.c */
rl_status rl_ag_matmul(rl_tensor **out, rl_tensor *a, rl_tensor *b);
/* x (N,I) w^T + b for w (O,I) and b (O) or NULL: one recorded op */
rl_status rl_ag_linear(rl_tensor **out, rl_tensor *x, rl_tensor *w, rl_tensor *b);

/* grad_shape.c */
rl_status rl_ag_view(rl_tensor **out, rl_tensor *t, int ndim, const int64_t *shape);
rl_status rl_ag_reshape(rl_tensor **out, rl_tensor *t, int ndim, const int64_t *shape);
rl_status rl_ag_transpose(rl_tensor **out, rl_tensor *t, int d0, int d1);
rl_status rl_ag_permute(rl_tensor **out, rl_tensor *t, const int *perm);
rl_status rl_ag_narrow(rl_tensor **out, rl_tensor *t, int dim, int64_t start, int64_t length);
rl_status rl_ag_select(rl_tensor **out, rl_tensor *t, int dim, int64_t index);
rl_status rl_ag_expand(rl_tensor **out, rl_tensor *t, int ndim, const int64_t *shape);
rl_status rl_ag_squeeze(rl_tensor **out, rl_tensor *t, int dim);
rl_status rl_ag_unsqueeze(rl_tensor **out, rl_tensor *t, int dim);
rl_status rl_ag_clone(rl_tensor **out, rl_tensor *t);
rl_status rl_ag_contiguous(rl_tensor **out, rl_tensor *t);
rl_status rl_ag_to_dtype(rl_tensor **out, rl_tensor *t, rl_dtype dt);
rl_status rl_ag_index_select(rl_tensor **out, rl_tensor *t, int dim, rl_tensor *index, int64_t base);
rl_status rl_ag_gather(rl_tensor **out, rl_tensor *t, int dim, rl_tensor *index, int64_t base);
rl_status rl_ag_cat(rl_tensor **out, rl_tensor *const *ts, int n, int dim);
rl_status rl_ag_stack(rl_tensor **out, rl_tensor *const *ts, int n, int dim);

/* grad_nn.c */
rl_status rl_ag_softmax(rl_tensor **out, rl_tensor *a, int dim);
rl_status rl_ag_log_softmax(rl_tensor **out, rl_tensor *a, int dim);

typedef enum { RL_REDUCE_NONE, RL_REDUCE_MEAN, RL_REDUCE_SUM } rl_reduction;
/* logp: (N,C) log-probabilities; target: (N) int64 class indices (base-based).
 * Entries equal to ignore_index contribute nothing and are not counted in
 * the mean. out: () or (N) for RL_REDUCE_NONE. */
rl_status rl_ag_nll(rl_tensor **out, rl_tensor *logp, rl_tensor *target, int64_t base, rl_reduction red,
                    int64_t ignore_index, bool has_ignore);
/* mean/sum/none of max(x,0) - x y + log(1 + exp(-|x|)), x logits, y targets */
rl_status rl_ag_bce_with_logits(rl_tensor **out, rl_tensor *x, rl_tensor *y, rl_reduction red);

/* The identity whose backward clips the gradient passing through it: to
 * [-c, c] elementwise (by_norm false), or each row along the last dim
 * rescaled to norm c when longer. For per-step clipping in loops written by
 * hand, as the fused kernels' bptt_clip does inside. */
rl_status rl_ag_clip_grad(rl_tensor **out, rl_tensor *a, double c, bool by_norm);

#endif
