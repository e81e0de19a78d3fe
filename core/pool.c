/* pool.c — the worker threads of rl_parallel_for (pool.h).
 *
 * One job at a time: the caller publishes it under the mutex, bumps the
 * generation and wakes the workers; worker w runs chunk w + 1 and counts
 * itself done; the caller runs chunk 0, then sleeps until the count says
 * all chunks are done. Workers that have no chunk in a job (fewer chunks
 * than threads) only count themselves done. */
#include "pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define POOL_MAX_THREADS 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER; /* a new job or quit */
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER; /* a worker finished */
/* only one caller at a time owns the workers; others run alone */
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER;

static int threads = 1;       /* requested; workers = threads - 1 once started */
static int started;           /* workers running */
static pthread_t *workers;
static bool quit;
static uint64_t generation;   /* of the job the workers should run */
static int pending;           /* workers not yet done with the current job */
static uint64_t spawn_generation; /* before the first job a new worker may run */

static struct {
    rl_chunk_fn fn;
    void *arg;
    int64_t n, align;
    int chunks;
} job;

/* set inside a chunk, so that a nested call runs alone */
static _Thread_local bool in_chunk;

static void run_chunk(int c)
{
    int64_t lo, hi;
    rl_chunk_bounds(job.n, job.chunks, c, job.align, &lo, &hi);
    in_chunk = true;
    if (lo < hi) job.fn(job.arg, lo, hi, c);
    in_chunk = false;
}

static void *worker_main(void *p)
{
    int self = (int)(intptr_t)p; /* 1-based: chunk self of each job */
    pthread_mutex_lock(&lock);
    /* not generation: a job may already have been published by now */
    uint64_t seen = spawn_generation;
    for (;;) {
        while (!quit && generation == seen) pthread_cond_wait(&work_cv, &lock);
        if (quit) break;
        seen = generation;
        int chunks = job.chunks;
        pthread_mutex_unlock(&lock);
        if (self < chunks) run_chunk(self);
        pthread_mutex_lock(&lock);
        if (--pending == 0) pthread_cond_signal(&done_cv);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Joins every worker (called with owner held, or at unload/fork). */
static void stop_workers(void)
{
    if (!started) return;
    pthread_mutex_lock(&lock);
    quit = true;
    pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < started; i++) pthread_join(workers[i], NULL);
    free(workers);
    workers = NULL;
    started = 0;
    quit = false;
}

/* Starts threads - 1 workers; false (and none) when the system refuses. */
static bool start_workers(void)
{
    int want = threads - 1;
    workers = malloc(sizeof *workers * (size_t)want);
    if (!workers) return false;
    pthread_mutex_lock(&lock);
    spawn_generation = generation;
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < want; i++) {
        if (pthread_create(&workers[i], NULL, worker_main, (void *)(intptr_t)(i + 1))) {
            started = i;
            stop_workers();
            return false;
        }
        started = i + 1;
    }
    return true;
}

void rl_pool_set_threads(int n)
{
    if (n < 1) n = 1;
    if (n > POOL_MAX_THREADS) n = POOL_MAX_THREADS;
    pthread_mutex_lock(&owner);
    if (n != threads) {
        stop_workers();
        threads = n;
    }
    pthread_mutex_unlock(&owner);
}

int rl_pool_threads(void)
{
    return threads;
}

int rl_parallel_chunks(int64_t n, int64_t grain)
{
    if (grain < 1) grain = 1;
    int64_t k = n / grain;
    if (k > threads) k = threads;
    return k < 1 ? 1 : (int)k;
}

void rl_chunk_bounds(int64_t n, int k, int c, int64_t align, int64_t *lo, int64_t *hi)
{
    if (align < 1) align = 1;
    int64_t units = (n + align - 1) / align; /* aligned blocks, the last maybe short */
    int64_t a = units * c / k, b = units * (c + 1) / k;
    *lo = a * align;
    *hi = b * align < n ? b * align : n;
    if (*lo > n) *lo = n;
}

void rl_parallel_for_aligned(int64_t n, int64_t grain, int64_t align, rl_chunk_fn fn, void *arg)
{
    if (n <= 0) return;
    int k = rl_parallel_chunks(n, grain);
    if (align > 1) {
        /* no more chunks than aligned blocks */
        int64_t units = (n + align - 1) / align;
        if (k > units) k = (int)units;
    }
    if (k <= 1 || in_chunk || pthread_mutex_trylock(&owner) != 0) {
        in_chunk = true;
        fn(arg, 0, n, 0);
        in_chunk = false;
        return;
    }
    if (!started && !start_workers()) {
        pthread_mutex_unlock(&owner);
        fn(arg, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&lock);
    job.fn = fn;
    job.arg = arg;
    job.n = n;
    job.align = align;
    job.chunks = k;
    pending = started;
    generation++;
    pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&lock);

    run_chunk(0);

    pthread_mutex_lock(&lock);
    while (pending > 0) pthread_cond_wait(&done_cv, &lock);
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&owner);
}

void rl_parallel_for(int64_t n, int64_t grain, rl_chunk_fn fn, void *arg)
{
    rl_parallel_for_aligned(n, grain, 1, fn, arg);
}

/* A forked child has none of the parent's workers: forget them (their
 * memory is the parent's copy; leaking it in the child is harmless). */
static void after_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_cv = PTHREAD_COND_INITIALIZER;
    lock = fresh;
    owner = fresh;
    work_cv = fresh_cv;
    done_cv = fresh_cv;
    workers = NULL;
    started = 0;
    quit = false;
    pending = 0;
}

__attribute__((constructor)) static void pool_init(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* rnn/core.so is unloaded when a plain lua5.4 closes its state: the workers
 * must not outlive the code they run. */
__attribute__((destructor)) static void pool_fini(void)
{
    stop_workers();
}
