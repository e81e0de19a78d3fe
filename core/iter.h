/* iter.h — walks several strided tensors of one (broadcast) shape together.
 *
 * Operand 0 is usually the output. Each operand is broadcast to `shape`
 * (NumPy rules: aligned on the right, size-1 dims repeat). Adjacent dims that
 * are contiguous in every operand are merged, so a contiguous tensor is
 * walked as one flat run. The callback gets one innermost run at a time. */
#ifndef RL_ITER_H
#define RL_ITER_H

#include "tensor.h"

#define RL_ITER_MAX_OPS 6

typedef struct {
    int nops;
    int ndim;                                        /* >= 1 after merging */
    int64_t shape[RL_MAX_DIMS];
    int64_t stride[RL_ITER_MAX_OPS][RL_MAX_DIMS];    /* in bytes */
    char *base[RL_ITER_MAX_OPS];
} rl_iter;

/* n elements; ptr[k] the first element of operand k, stride[k] its step in bytes */
typedef void (*rl_iter_fn)(void *ctx, int64_t n, char **ptr, const int64_t *stride);

/* Broadcast shape of a and b into out (RL_MAX_DIMS entries), or an error that
 * names `op` and both shapes. */
rl_status rl_broadcast_shape(const char *op, int andim, const int64_t *ashape,
                             int bndim, const int64_t *bshape,
                             int *out_ndim, int64_t *out_shape);

rl_status rl_iter_init(rl_iter *it, const char *op, int nops, const rl_tensor *const *ops,
                       int ndim, const int64_t *shape);
void rl_iter_run(const rl_iter *it, rl_iter_fn fn, void *ctx);

#endif
