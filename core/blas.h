/* blas.h — matrix products through cblas (OpenBLAS) and the thread count.
 *
 * Strided views reach sgemm/dgemm without a copy when one of their two
 * dims is unit-stride (a transposed view becomes a BLAS transpose flag);
 * other layouts are copied to contiguous first. */
#ifndef RL_BLAS_H
#define RL_BLAS_H

#include "tensor.h"

/* PyTorch's matmul: 1-D·1-D dot, 2-D×1-D, 1-D×2-D, 2-D×2-D, and batched
 * (…,n,k)×(…,k,m) with broadcast batch dims. float32 and float64. */
rl_status rl_matmul(rl_tensor **out, const rl_tensor *a, const rl_tensor *b);

/* c = alpha * op(a) op(b) + beta * c, all 2-D views of one dtype,
 * op(x) = x or its transpose. c must be unit-stride in its last dim.
 *   a: (n,k) (or (k,n) when ta), b: (k,m) (or (m,k) when tb), c: (n,m) */
rl_status rl_gemm(rl_tensor *c, const rl_tensor *a, bool ta, const rl_tensor *b, bool tb,
                  double alpha, double beta);

void rl_set_num_threads(int n);
int rl_get_num_threads(void);

#endif
