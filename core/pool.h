/* pool.h — the worker threads of the core: a loop split over threads.
 *
 * rl_parallel_for(n, grain, fn, arg) runs fn over [0, n) in contiguous
 * chunks, one per thread, the calling thread taking the first. Workers
 * sleep on a condition variable between jobs (they never spin: on a busy
 * machine a spinning pool takes cores from whoever else runs there).
 *
 * Deterministic: the chunks depend only on n, grain and the thread count,
 * never on timing; a reduction that keeps one partial result per chunk
 * (rl_parallel_chunks tells how many) and adds them in chunk order gives
 * the same bits at every run with the same thread count.
 *
 * A call made inside a chunk (nested), or while another thread's job is in
 * flight, runs on the calling thread alone. */
#ifndef RL_POOL_H
#define RL_POOL_H

#include <stdint.h>

/* one chunk: indices [lo, hi) of the loop, chunk its number (0 first) */
typedef void (*rl_chunk_fn)(void *arg, int64_t lo, int64_t hi, int chunk);

/* The thread count of the pool (1: everything on the calling thread).
 * Workers are started at the first job that needs them. */
void rl_pool_set_threads(int n);
int rl_pool_threads(void);

/* How many chunks rl_parallel_for(n, grain, ...) makes: at most the thread
 * count, and each chunk at least grain indices (1 when n < 2 grain). */
int rl_parallel_chunks(int64_t n, int64_t grain);

/* Chunk c of k over [0, n): its bounds, multiples of align except the
 * last end (align >= 1). */
void rl_chunk_bounds(int64_t n, int k, int c, int64_t align, int64_t *lo, int64_t *hi);

/* fn over [0, n) in rl_parallel_chunks(n, grain) chunks; returns when all
 * are done. */
void rl_parallel_for(int64_t n, int64_t grain, rl_chunk_fn fn, void *arg);

/* The same with chunk bounds on multiples of align (a tile or a vector). */
void rl_parallel_for_aligned(int64_t n, int64_t grain, int64_t align, rl_chunk_fn fn, void *arg);

#endif
