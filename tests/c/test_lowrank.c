/* test_lowrank.c — deferred low-rank additions (core/lowrank.c): every mix
 * of small and large ranks, panel overflow, more buffers than slots and
 * flushes gives the sum that direct GEMMs give. */
#include "harness.h"
#include "suites.h"
#include "testutil.h"
#include "../../core/blas.h"
#include "../../core/lowrank.h"

static const rl_dtype FLOATS[2] = {RL_FLOAT32, RL_FLOAT64};

static void check_same(int line, const rl_tensor *got, const rl_tensor *want)
{
    double tol = got->dtype == RL_FLOAT32 ? 1e-4 : 1e-12;
    for (int64_t i = 0; i < want->shape[0]; i++)
        for (int64_t j = 0; j < want->shape[1]; j++) {
            double g = tu_get(got, IDX(i, j)), w = tu_get(want, IDX(i, j));
            if (!(g == g) || (g - w > tol * (1 + (w < 0 ? -w : w))) || (w - g > tol * (1 + (w < 0 ? -w : w)))) {
                th_fail(__FILE__, line, "element (%lld,%lld): got %.17g, want %.17g", (long long)i, (long long)j, g, w);
                return;
            }
        }
}

/* Five buffers (one more than the slots), updates of ranks 1..129 in turn
 * (129: past the panels' half, added at once; the others overflow them),
 * strided operands, a flush in the middle: equal to GEMMs done at once. */
static void test_lowrank_sums_match_direct_gemm(void)
{
    enum { NACC = 5, STEPS = 40 };
    const int64_t ranks[7] = {1, 2, 3, 100, 8, 129, 60};
    for (int d = 0; d < 2; d++) {
        rl_dtype dt = FLOATS[d];
        rl_tensor *acc[NACC], *ref[NACC];
        for (int a = 0; a < NACC; a++) {
            acc[a] = tu_rand(dt, DIMS(6 + a, 5), 300 + (uint64_t)a, -1, 1, 0);
            REQUIRE(acc[a]);
            REQUIRE_OK(rl_tensor_clone(&ref[a], acc[a]));
        }
        for (int s = 0; s < STEPS; s++) {
            int a = (s * 3) % NACC;
            int64_t k = ranks[s % 7], r = acc[a]->shape[0], c = acc[a]->shape[1];
            /* u read through a transpose: (k, r) as the transpose of (r, k) */
            rl_tensor *ut = tu_rand(dt, DIMS(r, k), 400 + (uint64_t)s, -1, 1, 0), *u;
            rl_tensor *v = tu_rand(dt, DIMS(k, c), 500 + (uint64_t)s, -1, 1, 0);
            REQUIRE(ut && v);
            REQUIRE_OK(rl_tensor_transpose(&u, ut, 0, 1));
            CHECK_OK(rl_lowrank_add(acc[a], u, v));
            CHECK_OK(rl_gemm(ref[a], u, true, v, false, 1.0, 1.0));
            rl_tensor_release(u);
            rl_tensor_release(ut);
            rl_tensor_release(v);
            if (s == STEPS / 2) { /* a flush of one buffer leaves it exact and the others pending */
                CHECK_OK(rl_lowrank_flush(acc[a]));
                check_same(__LINE__, acc[a], ref[a]);
            }
        }
        CHECK_OK(rl_lowrank_flush_all());
        for (int a = 0; a < NACC; a++) {
            check_same(__LINE__, acc[a], ref[a]);
            rl_tensor_release(acc[a]);
            rl_tensor_release(ref[a]);
        }
    }
}

/* The panels shrink for big buffers, down to a floor: what is deferred. */
static void test_lowrank_max_rows_follows_the_buffer_size(void)
{
    rl_tensor *small = tu_rand(RL_FLOAT32, DIMS(8, 5), 1, -1, 1, 0);
    rl_tensor *mid = NULL, *huge = NULL;
    REQUIRE(small);
    REQUIRE_OK(rl_tensor_empty(&mid, RL_FLOAT64, DIMS(2048, 2048)));
    REQUIRE_OK(rl_tensor_empty(&huge, RL_FLOAT64, DIMS(1, 1 << 20)));
    CHECK(rl_lowrank_max_rows(small) == RL_LOWRANK_ROWS / 2);
    CHECK(rl_lowrank_max_rows(mid) == (int64_t)(RL_LOWRANK_PANEL_BYTES / (4096 * 8)) / 2);
    CHECK(rl_lowrank_max_rows(huge) == RL_LOWRANK_MIN_ROWS / 2);
    rl_tensor_release(small);
    rl_tensor_release(mid);
    rl_tensor_release(huge);
}

static void test_lowrank_flush_of_an_unknown_buffer_is_a_no_op(void)
{
    rl_tensor *t = tu_rand(RL_FLOAT64, DIMS(2, 2), 1, -1, 1, 0), *before;
    REQUIRE(t);
    REQUIRE_OK(rl_tensor_clone(&before, t));
    CHECK_OK(rl_lowrank_flush(t));
    CHECK_OK(rl_lowrank_flush_all());
    check_same(__LINE__, t, before);
    rl_tensor_release(before);
    rl_tensor_release(t);
}

void suite_lowrank(void)
{
    TH_RUN(test_lowrank_sums_match_direct_gemm);
    TH_RUN(test_lowrank_max_rows_follows_the_buffer_size);
    TH_RUN(test_lowrank_flush_of_an_unknown_buffer_is_a_no_op);
}
