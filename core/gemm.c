/* gemm.c — the core's own matrix product (gemm.h): packing, tiles and the
 * AVX-512 kernel, whole or split over the pool (pool.h).
 *
 * One template (gemm_kernel.h) makes the float32 and the float64 functions;
 * the name of each function it defines is set here, so that grep finds
 * every one of them. A template rather than two copies: the two differ
 * only in the vector type and intrinsics, and two copies of a tuned kernel
 * drift apart. */
#include "gemm.h"
#include "isa.h"
#include "pool.h"
#include "rnn_workspace.h"

#include <cblas.h>
#include <string.h>

/* Tiles: 4 rows of C by NR = 4 vectors, over blocks of GEMM_KC steps of k
 * (a block of a float32 panel: 32 KiB, in L1), in blocks of GEMM_MC rows. */
#define GEMM_KC 128
#define GEMM_MC 256
/* rl_gemm_f32/_f64 pack B this many bytes at a time */
#define GEMM_PACK_BYTES ((int64_t)2 << 20)

/* The least work of one chunk of a split product: 20 MFLOP, ~120 us of
 * the float32 kernel. A job costs ~0.5 us when the workers spin between
 * jobs and ~30 us when they were asleep (pool.c), and a product on its own
 * (not in a time loop) often finds them asleep. Measured with float32
 * products (N 512, K 128 and N 2048, K 512; M varied) split in 2 against
 * 1 thread, alternating, medians of 15 batches, on this 2-core machine
 * shared with other jobs: called back to back (workers spinning, load
 * 1.5), 1 MFLOP split gained 1.4x and 2 to 270 MFLOP 1.3-1.8x; with 2 ms
 * between calls (workers asleep, load 2-3) splits lost up to 33 MFLOP and
 * broke even at 67 MFLOP. The time steps of the recurrent layers, jobs back
 * to back, have their own smaller threshold (rnn.c, STEP_CHUNK_FLOPS). */
#define GEMM_CHUNK_FLOPS 2e7
/* Split by rows while each chunk gets at least this many; fewer rows
 * (a product of many columns) is split by column panels. */
#define GEMM_SPLIT_ROWS 32
/* The least of one chunk of a split packing (elements copied) */
#define GEMM_PACK_CHUNK_ELEMS ((int64_t)1 << 16)

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* the level in use: RNNLUA_ISA can force a lower one than the CPU's */
bool rl_gemm_supported(void)
{
    return rl_isa() == RL_ISA_AVX512;
}

#define RL_AVX512_FN __attribute__((target("avx512f")))

/* float32: panels of 64 columns */
#define REAL float
#define NR 64
#define VREAL __m512
#define VMASK __mmask16
#define VLANES 16
#define VLOAD(m, p) _mm512_maskz_loadu_ps(m, p)
#define VLOADU _mm512_loadu_ps
#define VZERO _mm512_setzero_ps
#define VSTORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define VSET1 _mm512_set1_ps
#define VFMA _mm512_fmadd_ps
#define BLAS_GEMM cblas_sgemm
#define TILE tile_f32
#define PACKED_LEN rl_gemm_packed_len_f32
#define PACK_PANELS pack_panels_f32
#define PACK rl_gemm_pack_f32
#define PACK_ARG pack_arg_f32
#define PACK_CHUNK pack_chunk_f32
#define PACK_PAR rl_gemm_pack_par_f32
#define KERNEL rl_gemm_packed_f32
#define KERNEL_ARG kernel_arg_f32
#define KERNEL_CHUNK kernel_chunk_f32
#define KERNEL_PAR rl_gemm_packed_par_f32
#define GEMM_FN rl_gemm_f32
#include "gemm_kernel.h" /* undefines the parameters above */

/* float64: panels of 32 columns */
#define REAL double
#define NR 32
#define VREAL __m512d
#define VMASK __mmask8
#define VLANES 8
#define VLOAD(m, p) _mm512_maskz_loadu_pd(m, p)
#define VLOADU _mm512_loadu_pd
#define VZERO _mm512_setzero_pd
#define VSTORE(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define VSET1 _mm512_set1_pd
#define VFMA _mm512_fmadd_pd
#define BLAS_GEMM cblas_dgemm
#define TILE tile_f64
#define PACKED_LEN rl_gemm_packed_len_f64
#define PACK_PANELS pack_panels_f64
#define PACK rl_gemm_pack_f64
#define PACK_ARG pack_arg_f64
#define PACK_CHUNK pack_chunk_f64
#define PACK_PAR rl_gemm_pack_par_f64
#define KERNEL rl_gemm_packed_f64
#define KERNEL_ARG kernel_arg_f64
#define KERNEL_CHUNK kernel_chunk_f64
#define KERNEL_PAR rl_gemm_packed_par_f64
#define GEMM_FN rl_gemm_f64
#include "gemm_kernel.h"

#else
/* Elsewhere the callers see rl_gemm_supported() false and use BLAS; the
 * rest is never called. */
bool rl_gemm_supported(void)
{
    return false;
}
#define STUBS(R, S)                                                                                               \
    int64_t rl_gemm_packed_len_##S(int64_t K, int64_t N) { return K * N + 1; }                                   \
    void rl_gemm_pack_##S(int64_t K, int64_t N, const R *src, int64_t sk, int64_t sn, R *dst)                     \
    {                                                                                                             \
        (void)K, (void)N, (void)src, (void)sk, (void)sn, (void)dst;                                               \
    }                                                                                                             \
    void rl_gemm_pack_par_##S(int64_t K, int64_t N, const R *src, int64_t sk, int64_t sn, R *dst)                 \
    {                                                                                                             \
        (void)K, (void)N, (void)src, (void)sk, (void)sn, (void)dst;                                               \
    }                                                                                                             \
    void rl_gemm_packed_##S(int64_t M, int64_t N, int64_t K, const R *A, int64_t ar, int64_t ak, const R *Bp,     \
                            R *C, int64_t ldc, bool beta0)                                                        \
    {                                                                                                             \
        (void)M, (void)N, (void)K, (void)A, (void)ar, (void)ak, (void)Bp, (void)C, (void)ldc, (void)beta0;        \
    }                                                                                                             \
    void rl_gemm_packed_par_##S(int64_t M, int64_t N, int64_t K, const R *A, int64_t ar, int64_t ak,             \
                                const R *Bp, R *C, int64_t ldc, bool beta0)                                       \
    {                                                                                                             \
        (void)M, (void)N, (void)K, (void)A, (void)ar, (void)ak, (void)Bp, (void)C, (void)ldc, (void)beta0;        \
    }                                                                                                             \
    bool rl_gemm_##S(int64_t M, int64_t N, int64_t K, const R *A, int64_t ar, int64_t ak, const R *B, int64_t bk, \
                     int64_t bn, R *C, int64_t ldc, bool accumulate)                                              \
    {                                                                                                             \
        (void)M, (void)N, (void)K, (void)A, (void)ar, (void)ak, (void)B, (void)bk, (void)bn, (void)C, (void)ldc,  \
            (void)accumulate;                                                                                     \
        return false;                                                                                             \
    }
STUBS(float, f32)
STUBS(double, f64)
#endif
