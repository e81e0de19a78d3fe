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

/* The number of elements walked (the product of the shape). */
int64_t rl_iter_numel(const rl_iter *it);

/* Elements [lo, hi) of the walk, in rl_iter_run's order (row-major over the
 * merged shape): fn gets the same runs, cut at lo and hi. */
void rl_iter_run_range(const rl_iter *it, int64_t lo, int64_t hi, rl_iter_fn fn, void *ctx);

/* Chunk bounds of rl_iter_run_parallel fall on multiples of this many
 * elements: 64 bytes of float32, so that two threads do not write one cache
 * line of a contiguous output. */
#define RL_ITER_ALIGN 16

/* rl_iter_run split over the threads of core/pool.h: contiguous ranges of
 * the walk, at least grain elements each (serial below 2 grain). fn runs
 * concurrently on disjoint ranges, so it may write only its own elements of
 * operands 0..nwrite-1 and read the others; when one of those operands
 * repeats an element (an expanded dim, stride 0) the walk runs on the
 * calling thread alone. Each element is computed by the same code whatever
 * the split: the same bits at any thread count. */
/* Grains for rl_iter_run_parallel: the fewest elements worth a thread of
 * their own. Measured on this 2-core machine (AVX-512), one thread, 64K
 * elements in cache: add 0.16 ns an element (float64 0.35), the vectorised
 * tanh 1.1 (3.5), sigmoid 0.74 (2.8), sqrt 1.0, exp 3.0 (5.0), sin 6.4,
 * log1p 13, an Adam update 0.6. An empty 2-thread job costs ~0.5 us while
 * the workers spin between jobs (back-to-back ops, a chain), ~30 us more
 * when they have gone to sleep. With ops built on tiny grains: tanh and
 * exp float32 gained 1.5-1.9x on 2 threads from 2K elements back to back,
 * but lost below ~100 us of work (tanh 64K, exp 32K elements) when every
 * call found the workers asleep. The grains below make a chunk 10-70 us:
 * a chain gains, an isolated op on sleeping workers loses at most ~30 us.
 * At twice the grain (bench/elementwise.lua sizes, quiet machine, us on 1
 * and 2 threads): add f32 131072 27.0 / 13.6, tanh f32 32768 36.2 / 22.4,
 * exp f32 16384 49.1 / 28.7. On a machine whose cores are all busy with
 * other processes, 2 threads can be slower (the worker waits for a core).
 *   LIGHT  0.1-0.7 ns an element (add, mul, compare, copy, fill, clamp):
 *          memory-bound on large tensors
 *   MEDIUM 0.6-3.5 ns (the vectorised sigmoid and tanh, sqrt, floor, the
 *          optimizer updates, sums)
 *   HEAVY  a libm call per element, 3-13 ns (exp, log, sin, pow) */
#ifndef RL_GRAIN_LIGHT
#define RL_GRAIN_LIGHT 65536
#endif
#ifndef RL_GRAIN_MEDIUM
#define RL_GRAIN_MEDIUM 16384
#endif
#ifndef RL_GRAIN_HEAVY
#define RL_GRAIN_HEAVY 8192
#endif

void rl_iter_run_parallel(const rl_iter *it, int nwrite, int64_t grain, rl_iter_fn fn, void *ctx);

#endif
