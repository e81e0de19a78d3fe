/* main.c — runs every C core test suite.
 *   build/test_core            all tests
 *   build/test_core matmul     only tests whose name contains "matmul" */
#include "harness.h"
#include "suites.h"
#include "../../core/tensor.h"

int main(int argc, char **argv)
{
    if (argc > 1) th_set_filter(argv[1]);
    th_set_leak_probe(rl_storage_bytes_live);
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
    suite_gemm();
    return th_summary();
}
