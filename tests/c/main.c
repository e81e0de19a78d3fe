/* main.c — runs every C core test suite.
 *   build/test_core            all tests
 *   build/test_core matmul     only tests whose name contains "matmul"
 * RNNLUA_TEST_THREADS=n: the core's thread pool (core/pool.h) at n threads
 * from the start (OpenBLAS's count left as OPENBLAS_NUM_THREADS set it):
 * make tsan runs the tests so under ThreadSanitizer. */
#include "harness.h"
#include "suites.h"
#include "../../core/isa.h"
#include "../../core/pool.h"
#include "../../core/status.h"
#include "../../core/tensor.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    /* RNNLUA_ISA forces a level here as in rnnlua (tests/run.sh runs these
     * tests under each) */
    if (rl_isa_init() != RL_OK) {
        fprintf(stderr, "test_core: %s\n", rl_last_error());
        return 2;
    }
    if (argc > 1) th_set_filter(argv[1]);
    th_set_leak_probe(rl_storage_bytes_live);
    const char *threads = getenv("RNNLUA_TEST_THREADS");
    if (threads && atoi(threads) > 0) rl_pool_set_threads(atoi(threads));
    suite_tensor_create();
    suite_tensor_views();
    suite_tensor_copy();
    suite_iter();
    suite_ops();
    suite_reduce();
    suite_blas();
    suite_index();
    suite_rng();
    suite_storage();
    suite_io();
    suite_optim();
    suite_linalg();
    suite_lowrank();
    suite_pool();
    suite_isa();
    suite_threads();
    suite_gemm();
    return th_summary();
}
