/* fastgemm.h — the AVX-512 matrix product of the recurrent kernels
 * (core/rnn_kernels.h, defined in core/rnn.c), for rl_gemm.
 *
 * On one thread it reaches 160-180 GFLOP/s (float32) and 60-85 (float64)
 * on the machines measured here, where OpenBLAS, told to run its AVX2
 * kernels (OPENBLAS_CORETYPE=Haswell), reaches about 100 and 50; and it
 * packs only one operand, in pieces, where BLAS packs both. */
#ifndef RL_FASTGEMM_H
#define RL_FASTGEMM_H

#include "tensor.h"

/* c (M,N) = op(a) op(b), or c += when accumulate; 2-D views of one float
 * dtype, any strides for a and b, c unit-stride in its last dimension with
 * rows ldc apart. On the calling thread. False when it did nothing (no
 * AVX-512, fewer than 16 rows, an empty product, no memory): BLAS's turn. */
bool rl_fast_gemm(rl_tensor *c, int64_t ldc, const rl_tensor *a, bool ta, const rl_tensor *b, bool tb,
                  bool accumulate);

#endif
