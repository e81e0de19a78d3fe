/* index.h — indexing and joining: index_select, gather, cat, stack.
 *
 * Index tensors are int64 holding `base + position` (base 0 from C, 1 from
 * Lua); every index is range-checked before anything is written. */
#ifndef RL_INDEX_H
#define RL_INDEX_H

#include "tensor.h"

/* out has t's shape with dim resized to numel(index); index: 1-d int64 */
rl_status rl_index_select(rl_tensor **out, const rl_tensor *t, int dim, const rl_tensor *index, int64_t base);
/* out[i][j][k] = t[i][index[i][j][k]][k] for dim = 1; index has t's ndim,
 * and each of its sizes is at most t's outside dim (as torch.gather). */
rl_status rl_gather(rl_tensor **out, const rl_tensor *t, int dim, const rl_tensor *index, int64_t base);
/* along an existing dim; shapes must match elsewhere; n >= 1 */
rl_status rl_cat(rl_tensor **out, const rl_tensor *const *ts, int n, int dim);
/* along a new dim (0..ndim); all shapes equal; n >= 1 */
rl_status rl_stack(rl_tensor **out, const rl_tensor *const *ts, int n, int dim);

/* Backward kernels, beside their forward ones. Indices are checked as above.
 * dst[... index[i] ...] += src[... i ...] along dim (index: 1-d); src has dst's
 * shape with dim resized to numel(index). */
rl_status rl_index_add_(rl_tensor *dst, int dim, const rl_tensor *index, const rl_tensor *src, int64_t base);
/* dst[i][index[i][j][k]][k] += src[i][j][k] for dim = 1; index and src share a shape */
rl_status rl_scatter_add_(rl_tensor *dst, int dim, const rl_tensor *index, const rl_tensor *src, int64_t base);

#endif
