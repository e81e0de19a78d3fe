/* pool.c — the worker threads of rl_parallel_for (pool.h).
 *
 * One job at a time: the caller fills `job`, sets `pending` to the number
 * of workers and bumps `generation`; the caller runs chunk 0, and every
 * thread then claims the next chunk not yet taken (`next_chunk`) until
 * none is left; a worker counts itself done when it finds none, and the
 * caller waits until `pending` is 0. The chunks' bounds are fixed by the
 * sizes, so who runs a chunk changes nothing in the result; claiming
 * rather than assigning lets the caller take a chunk whose worker has not
 * started (descheduled on a busy machine), instead of waiting for it.
 *
 * Waiting is a short bounded spin, then sleep on a condition variable. A
 * time loop hands out one job per step, tens of microseconds apart: a
 * worker woken from sleep for each one took 30-40 us per job here (an
 * empty job, 2 threads), more than a small step's product; after a spin of
 * at most SPIN_NS it sleeps, so an idle or preempted pool takes no core
 * from anyone (PyTorch's OpenMP pool spins far longer, and its 2-thread
 * runs are 5-14x slower on a busy machine). */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#define POOL_MAX_THREADS 1024
/* The spin before sleeping: workers between the jobs of one time loop and
 * the caller waiting for the last chunk. */
#define SPIN_NS 50000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER; /* a new job or quit */
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER; /* the last worker finished */
/* only one caller at a time owns the workers; others run alone */
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER;

static int threads = 1;           /* requested; workers = threads - 1 once started */
static int started;               /* workers running */
static pthread_t *workers;
static atomic_bool quit;
static atomic_uint_fast64_t generation; /* of the job the workers should run */
static atomic_int pending;        /* workers not yet done with the current job */
static uint64_t spawn_generation; /* before the first job a new worker may run */
static atomic_int next_chunk;     /* the next chunk of the job to claim */
static int sleepers;              /* workers asleep on work_cv (under lock) */
static bool caller_asleep;        /* the caller asleep on done_cv (under lock) */

static struct {
    rl_chunk_fn fn;
    void *arg;
    int64_t n, align;
    int chunks;
} job;

/* set inside a chunk, so that a nested call runs alone */
static _Thread_local bool in_chunk;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until cond(arg) holds or SPIN_NS have passed; true when it holds. */
static bool spin_until(bool (*cond)(const void *), const void *arg)
{
    int64_t t0 = 0;
    for (int i = 0;; i++) {
        if (cond(arg)) return true;
        cpu_relax();
        if ((i & 63) == 63) {
            int64_t t = now_ns();
            if (!t0) t0 = t;
            else if (t - t0 > SPIN_NS) return false;
        }
    }
}

static void run_chunk(int c);

/* Runs the job's unclaimed chunks, one after the other, until none is left. */
static void claim_chunks(void)
{
    for (;;) {
        int c = atomic_fetch_add_explicit(&next_chunk, 1, memory_order_relaxed);
        if (c >= job.chunks) return;
        run_chunk(c);
    }
}

static void run_chunk(int c)
{
    int64_t lo, hi;
    rl_chunk_bounds(job.n, job.chunks, c, job.align, &lo, &hi);
    in_chunk = true;
    if (lo < hi) job.fn(job.arg, lo, hi, c);
    in_chunk = false;
}

static bool new_job(const void *seen)
{
    return atomic_load_explicit(&generation, memory_order_acquire) != *(const uint64_t *)seen ||
           atomic_load_explicit(&quit, memory_order_relaxed);
}

static void *worker_main(void *p)
{
    (void)p;
    pthread_mutex_lock(&lock);
    /* not generation: a job may already have been published by now */
    uint64_t seen = spawn_generation;
    pthread_mutex_unlock(&lock);
    for (;;) {
        if (!spin_until(new_job, &seen)) {
            pthread_mutex_lock(&lock);
            sleepers++;
            while (!new_job(&seen)) pthread_cond_wait(&work_cv, &lock);
            sleepers--;
            pthread_mutex_unlock(&lock);
        }
        if (atomic_load(&quit)) break;
        seen = atomic_load_explicit(&generation, memory_order_acquire);
        claim_chunks();
        if (atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&lock);
            if (caller_asleep) pthread_cond_signal(&done_cv);
            pthread_mutex_unlock(&lock);
        }
    }
    return NULL;
}

/* Joins every worker (with owner held, or at unload). */
static void stop_workers(void)
{
    if (!started) return;
    pthread_mutex_lock(&lock);
    atomic_store(&quit, true);
    pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < started; i++) pthread_join(workers[i], NULL);
    free(workers);
    workers = NULL;
    started = 0;
    atomic_store(&quit, false);
}

/* Starts threads - 1 workers; false (and none) when the system refuses. */
static bool start_workers(void)
{
    int want = threads - 1;
    workers = malloc(sizeof *workers * (size_t)want);
    if (!workers) return false;
    pthread_mutex_lock(&lock);
    spawn_generation = atomic_load(&generation);
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
    *lo = a * align < n ? a * align : n;
    *hi = b * align < n ? b * align : n;
}

static bool all_done(const void *unused)
{
    (void)unused;
    return atomic_load_explicit(&pending, memory_order_acquire) == 0;
}

void rl_parallel_for_aligned(int64_t n, int64_t grain, int64_t align, rl_chunk_fn fn, void *arg)
{
    if (n <= 0) return;
    int k = rl_parallel_chunks(n, grain);
    if (align > 1) {
        int64_t units = (n + align - 1) / align; /* no more chunks than aligned blocks */
        if (k > units) k = (int)units;
    }
    if (k <= 1 || in_chunk || pthread_mutex_trylock(&owner) != 0) {
        bool nested = in_chunk;
        in_chunk = true;
        fn(arg, 0, n, 0);
        in_chunk = nested;
        return;
    }
    if (!started && !start_workers()) {
        pthread_mutex_unlock(&owner);
        in_chunk = true;
        fn(arg, 0, n, 0);
        in_chunk = false;
        return;
    }
    job.fn = fn;
    job.arg = arg;
    job.n = n;
    job.align = align;
    job.chunks = k;
    atomic_store_explicit(&pending, started, memory_order_relaxed);
    atomic_store_explicit(&next_chunk, 1, memory_order_relaxed); /* 0 is the caller's */
    /* release: a worker that sees the new generation sees the job */
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_mutex_lock(&lock);
    if (sleepers) pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&lock);

    run_chunk(0);
    claim_chunks();

    if (!spin_until(all_done, NULL)) {
        pthread_mutex_lock(&lock);
        caller_asleep = true;
        while (!all_done(NULL)) pthread_cond_wait(&done_cv, &lock);
        caller_asleep = false;
        pthread_mutex_unlock(&lock);
    }
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
    sleepers = 0;
    caller_asleep = false;
    atomic_store(&quit, false);
    atomic_store(&pending, 0);
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
