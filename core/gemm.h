/* gemm.h — the core's own matrix product (AVX-512), for rl_gemm (blas.c)
 * and the recurrent kernels (rnn.c).
 *
 * C (M,N) = A (M,K) B (K,N), or C += A B; A and B with any element
 * strides, C row-major. B is packed into panels of RL_GEMM_NR(type)
 * columns, each (K, NR) row-major with zeros past N; the kernel keeps tiles
 * of 4 rows of C by one panel in registers over blocks of k. OpenBLAS packs
 * both operands, we pack one (in pieces), and on the AVX-512 machines here
 * it reaches 160-180 GFLOP/s (float32) and 60-85 (float64) on one thread
 * where OpenBLAS, run with its AVX2 kernels (OPENBLAS_CORETYPE=Haswell),
 * reaches about 100 and 50.
 *
 * Same bits at every thread count: every element of C is one chain of
 * fused multiply-adds in order of k, from 0 (or from C when accumulating).
 * The threaded forms split C by rows or by column panels, never the sum
 * over k, so the chunking changes which thread computes an element and
 * not how.
 *
 * Every function exists for float32 (_f32) and float64 (_f64); gemm.c
 * generates both from one template (gemm_kernel.h) and names each
 * generated function where it sets the template's parameters. */
#ifndef RL_GEMM_H
#define RL_GEMM_H

#include <stdbool.h>
#include <stdint.h>

/* Whether this machine runs the kernels (AVX-512F). The callers check it
 * before anything below; without it they use BLAS. */
bool rl_gemm_supported(void);

/* The elements of B packed for the kernel, for B (K,N) */
int64_t rl_gemm_packed_len_f32(int64_t K, int64_t N);
int64_t rl_gemm_packed_len_f64(int64_t K, int64_t N);

/* dst = B (K,N) packed, b(k,n) = src[k·sk + n·sn]; dst holds
 * rl_gemm_packed_len elements. On the calling thread (_par: split over the
 * pool by panels when the size pays). */
void rl_gemm_pack_f32(int64_t K, int64_t N, const float *src, int64_t sk, int64_t sn, float *dst);
void rl_gemm_pack_f64(int64_t K, int64_t N, const double *src, int64_t sk, int64_t sn, double *dst);
void rl_gemm_pack_par_f32(int64_t K, int64_t N, const float *src, int64_t sk, int64_t sn, float *dst);
void rl_gemm_pack_par_f64(int64_t K, int64_t N, const double *src, int64_t sk, int64_t sn, double *dst);

/* C (M,N) += A (M,K) Bp, or C = A Bp when beta0 (C is not read), on the
 * calling thread: a(i,k) = A[i·ar + k·ak] (row-major A: ar = lda, ak = 1;
 * transposed: ar = 1, ak = lda), Bp packed by rl_gemm_pack, C row-major
 * with rows ldc apart. */
void rl_gemm_packed_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t ar, int64_t ak, const float *Bp,
                        float *C, int64_t ldc, bool beta0);
void rl_gemm_packed_f64(int64_t M, int64_t N, int64_t K, const double *A, int64_t ar, int64_t ak,
                        const double *Bp, double *C, int64_t ldc, bool beta0);

/* The same split over the pool's threads (rows of C, or panels when there
 * are few rows) when each chunk gets at least RL_GEMM_CHUNK_FLOPS. */
void rl_gemm_packed_par_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t ar, int64_t ak,
                            const float *Bp, float *C, int64_t ldc, bool beta0);
void rl_gemm_packed_par_f64(int64_t M, int64_t N, int64_t K, const double *A, int64_t ar, int64_t ak,
                            const double *Bp, double *C, int64_t ldc, bool beta0);

/* C (M,N) = A (M,K) B (K,N), or C += when accumulate, packing B in pieces
 * of about 2 MiB (K = T·B for the weight gradients of the recurrent layers:
 * a whole packed copy would add to a step's peak memory) into workspace
 * memory (rnn_workspace.h: from one thread at a time, as the rest of the
 * core, not from chunks of the pool), threaded as rl_gemm_packed_par.
 * b(k,n) = B[k·bk + n·bn]. False when it did nothing (no AVX-512, fewer
 * than RL_GEMM_MIN_ROWS rows, an empty product, no memory for the packed
 * B): BLAS's turn. */
bool rl_gemm_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t ar, int64_t ak, const float *B, int64_t bk,
                 int64_t bn, float *C, int64_t ldc, bool accumulate);
bool rl_gemm_f64(int64_t M, int64_t N, int64_t K, const double *A, int64_t ar, int64_t ak, const double *B,
                 int64_t bk, int64_t bn, double *C, int64_t ldc, bool accumulate);

/* A product of fewer rows does not repay the pass over B that packing
 * costs: rl_gemm_f32/_f64 leave it to BLAS (a matrix-vector product for
 * one row). */
#define RL_GEMM_MIN_ROWS 16

#endif
