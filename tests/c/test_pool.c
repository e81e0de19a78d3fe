/* test_pool.c — rl_parallel_for (core/pool.c): every index once, chunks
 * that depend only on the sizes and the thread count, nested calls alone,
 * thread counts changed between jobs. */
#include "suites.h"
#include "testutil.h"
#include "../../core/pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    int *hits;
    int64_t lo[64], hi[64];
    pthread_t who[64];
} cover_arg;

static void cover(void *p, int64_t lo, int64_t hi, int chunk)
{
    cover_arg *a = p;
    for (int64_t i = lo; i < hi; i++) a->hits[i]++;
    a->lo[chunk] = lo;
    a->hi[chunk] = hi;
    a->who[chunk] = pthread_self();
}

static void test_pool_covers_every_index_once(void)
{
    int saved = rl_pool_threads();
    int64_t sizes[] = {0, 1, 2, 7, 64, 1000, 4097};
    for (int t = 1; t <= 4; t++) {
        rl_pool_set_threads(t);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (int64_t grain = 1; grain <= 512; grain *= 8) {
                int64_t n = sizes[s];
                cover_arg a = {.hits = calloc((size_t)n + 1, sizeof(int))};
                rl_parallel_for(n, grain, cover, &a);
                for (int64_t i = 0; i < n; i++)
                    CHECK_MSG(a.hits[i] == 1, "threads %d n %lld grain %lld: index %lld ran %d times", t,
                              (long long)n, (long long)grain, (long long)i, a.hits[i]);
                free(a.hits);
            }
    }
    rl_pool_set_threads(saved);
}

static void test_pool_chunks_follow_sizes_and_threads(void)
{
    int saved = rl_pool_threads();
    rl_pool_set_threads(3);
    CHECK_EQ_INT(rl_parallel_chunks(10, 100), 1);
    CHECK_EQ_INT(rl_parallel_chunks(250, 100), 2);
    CHECK_EQ_INT(rl_parallel_chunks(1 << 20, 100), 3);
    /* the bounds: contiguous, in order, on multiples of align but the end */
    int64_t prev = 0;
    for (int c = 0; c < 3; c++) {
        int64_t lo, hi;
        rl_chunk_bounds(1000, 3, c, 16, &lo, &hi);
        CHECK_EQ_INT(lo, prev);
        CHECK(lo % 16 == 0);
        CHECK(hi == 1000 || hi % 16 == 0);
        prev = hi;
    }
    CHECK_EQ_INT(prev, 1000);
    /* the same job twice: the same chunks (whichever thread claims them),
     * and the first on the caller */
    cover_arg a = {.hits = calloc(100000, sizeof(int))}, b = {.hits = calloc(100000, sizeof(int))};
    rl_parallel_for(100000, 1000, cover, &a);
    rl_parallel_for(100000, 1000, cover, &b);
    for (int c = 0; c < 3; c++) {
        CHECK_EQ_INT(a.lo[c], b.lo[c]);
        CHECK_EQ_INT(a.hi[c], b.hi[c]);
    }
    CHECK(pthread_equal(a.who[0], pthread_self()));
    free(a.hits);
    free(b.hits);
    rl_pool_set_threads(saved);
}

typedef struct {
    int *hits;
    int nested_chunks_on_caller;
} nest_arg;

static void inner(void *p, int64_t lo, int64_t hi, int chunk)
{
    nest_arg *a = p;
    (void)chunk;
    for (int64_t i = lo; i < hi; i++) __atomic_add_fetch(&a->hits[i], 1, __ATOMIC_RELAXED);
}

static void outer(void *p, int64_t lo, int64_t hi, int chunk)
{
    (void)chunk;
    nest_arg *a = p;
    for (int64_t i = lo; i < hi; i++) {
        /* a nested job: one chunk, on this thread */
        rl_parallel_for(1000, 1, inner, a);
        (void)i;
    }
}

static void test_pool_nested_call_runs_alone(void)
{
    int saved = rl_pool_threads();
    rl_pool_set_threads(2);
    nest_arg a = {.hits = calloc(1000, sizeof(int))};
    rl_parallel_for(4, 1, outer, &a);
    for (int i = 0; i < 1000; i++) CHECK_MSG(a.hits[i] == 4, "index %d ran %d times, want 4", i, a.hits[i]);
    free(a.hits);
    rl_pool_set_threads(saved);
}

typedef struct {
    const double *x;
    double part[64];
} sum_arg;

static void partial_sum(void *p, int64_t lo, int64_t hi, int chunk)
{
    sum_arg *a = p;
    double s = 0;
    for (int64_t i = lo; i < hi; i++) s += a->x[i];
    a->part[chunk] = s;
}

static double chunked_sum(const double *x, int64_t n)
{
    sum_arg a = {.x = x};
    int k = rl_parallel_chunks(n, 1024);
    rl_parallel_for(n, 1024, partial_sum, &a);
    double s = 0;
    for (int c = 0; c < k; c++) s += a.part[c];
    return s;
}

static void test_pool_reduction_same_bits_every_run(void)
{
    int saved = rl_pool_threads();
    int64_t n = 1 << 18;
    double *x = malloc(sizeof(double) * (size_t)n);
    uint64_t r = 88172645463325252ull;
    for (int64_t i = 0; i < n; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        x[i] = (double)(r >> 11) / 9007199254740992.0 * (i % 3 ? 1e-8 : 1e8);
    }
    for (int t = 1; t <= 4; t++) {
        rl_pool_set_threads(t);
        double first = chunked_sum(x, n);
        for (int rep = 0; rep < 50; rep++) {
            double again = chunked_sum(x, n);
            CHECK_MSG(memcmp(&again, &first, sizeof first) == 0, "threads %d: %.17g then %.17g", t, first, again);
        }
    }
    free(x);
    rl_pool_set_threads(saved);
}

void suite_pool(void)
{
    TH_RUN(test_pool_covers_every_index_once);
    TH_RUN(test_pool_chunks_follow_sizes_and_threads);
    TH_RUN(test_pool_nested_call_runs_alone);
    TH_RUN(test_pool_reduction_same_bits_every_run);
}
