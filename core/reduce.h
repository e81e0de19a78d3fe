/* reduce.h — reductions over all elements or along one dimension.
 *
 * float32 sums accumulate in double. max/min propagate NaN, as PyTorch does.
 * Index results (argmax, argmin, the indices of max/min along a dim) are
 * int64 tensors holding `base + position` (base 0 for C, 1 for Lua).
 *
 * Threads (core/pool.h): a reduction into one value of more than
 * RL_REDUCE_BLOCK elements (sum(), max(), a dim reduction with one output)
 * reduces blocks of RL_REDUCE_BLOCK elements, each alone on some thread,
 * and combines the block results in block order on the calling thread, so
 * its rounding depends on the size alone, never on the thread count. Other
 * dim reductions split their outputs over the threads, each output reduced
 * by one thread as on one: the same bits at any thread count. */
#ifndef RL_REDUCE_H
#define RL_REDUCE_H

#include "tensor.h"

#define RL_REDUCE_BLOCK 8192

typedef enum { RL_RSUM, RL_RMEAN, RL_RMAX, RL_RMIN, RL_RPROD } rl_reduce_op;

const char *rl_reduce_name(rl_reduce_op op);

/* A 0-d tensor reducing every element. */
rl_status rl_reduce_all(rl_tensor **out, rl_reduce_op op, const rl_tensor *a);
/* Reduces dimension dim; keepdim keeps it with size 1. */
rl_status rl_reduce_dim(rl_tensor **out, rl_reduce_op op, const rl_tensor *a, int dim, bool keepdim);
/* Max or min along dim with the position of each (first on ties, first NaN).
 * Either output pointer may be NULL when not wanted. */
rl_status rl_reduce_arg_dim(rl_tensor **values, rl_tensor **indices, rl_reduce_op op,
                            const rl_tensor *a, int dim, bool keepdim, int64_t base);
/* Flat row-major position of the max (min) of all elements, as a 0-d int64 tensor. */
rl_status rl_reduce_arg_all(rl_tensor **index, rl_reduce_op op, const rl_tensor *a, int64_t base);

#endif
