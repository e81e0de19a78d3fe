/* lowrank.h — deferred low-rank additions into gradient buffers.
 *
 * A weight used at every step of a loop with a small batch gets, at every
 * step of backward, a gradient of rank 1 or so: acc += u^T v with u (k, r)
 * and v (k, c), k the batch. Added one at a time, each such update streams
 * the whole (r, c) buffer through memory for 2·k·r·c FLOPs. Here the rows
 * of u and v are collected into panels instead, and added by one GEMM of
 * inner size up to RL_LOWRANK_ROWS (fewer for a buffer so big that the
 * panels would pass RL_LOWRANK_PANEL_BYTES) when the panels fill or the
 * buffer is needed: the same sum, with a fraction of the memory traffic,
 * and one efficient GEMM where BLAS would pack its operands again for
 * every small one.
 *
 * The tape flushes a buffer before anything else reads or replaces it (its
 * node runs, another gradient is added to it) and flushes everything
 * before backward returns. Pending updates hold no reference: every flush
 * point comes before the buffer can be released. */
#ifndef RL_LOWRANK_H
#define RL_LOWRANK_H

#include "tensor.h"

#define RL_LOWRANK_ROWS 256
#define RL_LOWRANK_MIN_ROWS 16
#define RL_LOWRANK_PANEL_BYTES ((size_t)4 << 20)

/* The largest k that rl_lowrank_add defers for acc (r, c): half the rows of
 * its panels. */
int64_t rl_lowrank_max_rows(const rl_tensor *acc);
/* acc (r, c), contiguous, += u^T v for u (k, r) and v (k, c) of acc's dtype,
 * any strides. Done at once when k is large, deferred otherwise. */
rl_status rl_lowrank_add(rl_tensor *acc, const rl_tensor *u, const rl_tensor *v);
/* Adds what is pending for acc (nothing when nothing is). */
rl_status rl_lowrank_flush(const rl_tensor *acc);
/* Adds everything pending; returns the first failure. */
rl_status rl_lowrank_flush_all(void);

#endif
