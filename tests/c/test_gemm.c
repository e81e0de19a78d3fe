/* test_gemm.c — the product of core/gemm.c against a plain triple loop in
 * double: edge tiles (fewer than 4 or 16 rows, columns not a multiple of
 * the panel), inner sizes past a block of k (128) and past a packing piece
 * (2 MiB of packed B), strided and transposed operands, rows of C apart,
 * accumulation; at 1, 2 and 3 threads, with the same bits at every count
 * (the split is by rows or panels, never by k). */
#include "suites.h"
#include "testutil.h"
#include "../../core/gemm.h"
#include "../../core/pool.h"
#include "../../core/rnn_workspace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t M, N, K;
} shape3;

/* a(i,k) = A[i·ar + k·ak] over a buffer of M·K·2 (every other element when
 * spread), transposed when ta; b likewise */
typedef struct {
    int64_t ar, ak, bk, bn, ldc;
} layout;

static layout make_layout(shape3 s, bool ta, bool tb, bool spread)
{
    int64_t sp = spread ? 2 : 1;
    layout l;
    l.ar = ta ? sp : s.K * sp;
    l.ak = ta ? s.M * sp : sp;
    l.bk = tb ? sp : s.N * sp;
    l.bn = tb ? s.K * sp : sp;
    l.ldc = s.N + 3;
    return l;
}

static double ref_elem(shape3 s, layout l, const double *A, const double *B, int64_t i, int64_t j, double *mag)
{
    double sum = 0, m = 0;
    for (int64_t k = 0; k < s.K; k++) {
        double p = A[i * l.ar + k * l.ak] * B[k * l.bk + j * l.bn];
        sum += p;
        m += fabs(p);
    }
    *mag = m;
    return sum;
}

/* One product in float32 and float64 at 1, 2 and 3 threads: against the
 * double loop within K ulps of the sum of |products|, and the same bits at
 * every thread count. */
static void check_shape(shape3 s, bool ta, bool tb, bool spread, bool accumulate)
{
    layout l = make_layout(s, ta, tb, spread);
    size_t na = (size_t)(s.M * s.K * 2 + 1), nb = (size_t)(s.K * s.N * 2 + 1), nc = (size_t)(s.M * l.ldc + 1);
    double *Ad = malloc(na * sizeof *Ad), *Bd = malloc(nb * sizeof *Bd), *C0 = malloc(nc * sizeof *C0);
    float *Af = malloc(na * sizeof *Af), *Bf = malloc(nb * sizeof *Bf);
    float *Cf[3];
    double *Cd[3];
    REQUIRE(Ad && Bd && C0 && Af && Bf);
    tu_rng r;
    tu_seed(&r, (uint64_t)(s.M * 1000003 + s.N * 1009 + s.K));
    for (size_t i = 0; i < na; i++) Ad[i] = Af[i] = (float)tu_uniform(&r, -1, 1);
    for (size_t i = 0; i < nb; i++) Bd[i] = Bf[i] = (float)tu_uniform(&r, -1, 1);
    for (size_t i = 0; i < nc; i++) C0[i] = (float)tu_uniform(&r, -1, 1);
    int saved = rl_pool_threads();
    for (int th = 1; th <= 3; th++) {
        rl_pool_set_threads(th);
        Cf[th - 1] = malloc(nc * sizeof(float));
        Cd[th - 1] = malloc(nc * sizeof(double));
        REQUIRE(Cf[th - 1] && Cd[th - 1]);
        for (size_t i = 0; i < nc; i++) {
            Cf[th - 1][i] = accumulate ? (float)C0[i] : NAN; /* beta 0 must not read C */
            Cd[th - 1][i] = accumulate ? C0[i] : NAN;
        }
        /* the padding past N in each row of C: must stay */
        for (int64_t i = 0; i < s.M; i++)
            for (int64_t j = s.N; j < l.ldc; j++) Cf[th - 1][i * l.ldc + j] = Cd[th - 1][i * l.ldc + j] = 7;
        CHECK(rl_gemm_f32(s.M, s.N, s.K, Af, l.ar, l.ak, Bf, l.bk, l.bn, Cf[th - 1], l.ldc, accumulate));
        CHECK(rl_gemm_f64(s.M, s.N, s.K, Ad, l.ar, l.ak, Bd, l.bk, l.bn, Cd[th - 1], l.ldc, accumulate));
    }
    rl_pool_set_threads(saved);
    int bad = 0;
    for (int64_t i = 0; i < s.M && bad < 3; i++)
        for (int64_t j = 0; j < l.ldc && bad < 3; j++) {
            int64_t at = i * l.ldc + j;
            if (j >= s.N) {
                if (Cf[0][at] != 7 || Cd[0][at] != 7) bad++;
                CHECK_MSG(Cf[0][at] == 7 && Cd[0][at] == 7, "M %lld N %lld K %lld: C(%lld,%lld) past N written",
                          (long long)s.M, (long long)s.N, (long long)s.K, (long long)i, (long long)j);
                continue;
            }
            double mag, want = ref_elem(s, l, Ad, Bd, i, j, &mag) + (accumulate ? C0[at] : 0);
            mag += accumulate ? fabs(C0[at]) : 0;
            double tol32 = (double)(s.K + 2) * 6e-8 * mag + 1e-30, tol64 = (double)(s.K + 2) * 1.2e-16 * mag + 1e-300;
            bool ok = fabs(Cf[0][at] - want) <= tol32 && fabs(Cd[0][at] - want) <= tol64;
            if (!ok) bad++;
            CHECK_MSG(ok, "M %lld N %lld K %lld ta %d tb %d spread %d acc %d: C(%lld,%lld) %.9g / %.17g, want %.17g",
                      (long long)s.M, (long long)s.N, (long long)s.K, ta, tb, spread, accumulate, (long long)i,
                      (long long)j, Cf[0][at], Cd[0][at], want);
        }
    for (int th = 2; th <= 3; th++) {
        CHECK_MSG(memcmp(Cf[0], Cf[th - 1], nc * sizeof(float)) == 0,
                  "M %lld N %lld K %lld: float32 bits differ between 1 and %d threads", (long long)s.M,
                  (long long)s.N, (long long)s.K, th);
        CHECK_MSG(memcmp(Cd[0], Cd[th - 1], nc * sizeof(double)) == 0,
                  "M %lld N %lld K %lld: float64 bits differ between 1 and %d threads", (long long)s.M,
                  (long long)s.N, (long long)s.K, th);
    }
    for (int th = 0; th < 3; th++) {
        free(Cf[th]);
        free(Cd[th]);
    }
    free(Ad);
    free(Bd);
    free(C0);
    free(Af);
    free(Bf);
}

static void test_gemm_matches_triple_loop(void)
{
    if (!rl_gemm_supported()) return; /* BLAS's turn everywhere: test_blas covers it */
    /* 16 rows (the least), 4k+1..3 rows, N off the panel (64 / 32), K past a
     * block (128) */
    const shape3 shapes[] = {{16, 7, 5}, {17, 65, 129}, {19, 33, 1}, {23, 130, 257}, {1029, 3, 200}};
    for (size_t z = 0; z < sizeof shapes / sizeof *shapes; z++)
        for (int v = 0; v < 4; v++) check_shape(shapes[z], v & 1, v & 2, z % 2 == 1, v == 3 || z == 0);
    /* big enough to split (20 MFLOP a chunk, gemm.c): many rows (by rows,
     * 3 chunks at 3 threads), few rows and many columns (by panels) */
    const shape3 split[] = {{461, 130, 520}, {24, 4001, 400}};
    for (size_t z = 0; z < sizeof split / sizeof *split; z++) {
        check_shape(split[z], false, false, z == 1, false);
        check_shape(split[z], true, true, z == 0, true);
    }
    rl_ws_clear(); /* the packing buffers are kept as spares */
}

/* K past a packing piece (2 MiB of packed B: 8192 rows of one float32
 * panel): two pieces, the second accumulated onto the first */
static void test_gemm_packing_pieces(void)
{
    if (!rl_gemm_supported()) return;
    check_shape((shape3){21, 3, 9000}, false, false, false, false);
    check_shape((shape3){40, 70, 8300}, true, false, false, true);
    rl_ws_clear();
}

/* The packed product directly, as the recurrent kernels use it: one packing
 * shared read-only, rows split (rl_gemm_packed_par) or a slice of rows on
 * the calling thread (rl_gemm_packed), the same bits. */
static void test_gemm_packed_rows_alike(void)
{
    if (!rl_gemm_supported()) return;
    const int64_t M = 64, N = 2048, K = 512;
    float *A = malloc(sizeof(float) * (size_t)(M * K)), *W = malloc(sizeof(float) * (size_t)(N * K));
    float *P = malloc(sizeof(float) * (size_t)rl_gemm_packed_len_f32(K, N));
    float *C1 = malloc(sizeof(float) * (size_t)(M * N)), *C2 = malloc(sizeof(float) * (size_t)(M * N));
    REQUIRE(A && W && P && C1 && C2);
    tu_rng r;
    tu_seed(&r, 5);
    for (int64_t i = 0; i < M * K; i++) A[i] = (float)tu_uniform(&r, -1, 1);
    for (int64_t i = 0; i < N * K; i++) W[i] = (float)tu_uniform(&r, -1, 1);
    int saved = rl_pool_threads();
    rl_pool_set_threads(2);
    rl_gemm_pack_par_f32(K, N, W, 1, K, P); /* W^T: (K,N) read from W (N,K) */
    rl_gemm_packed_par_f32(M, N, K, A, K, 1, P, C1, N, true);
    rl_pool_set_threads(saved);
    /* rows one at a time and in odd slices */
    for (int64_t i = 0; i < M;) {
        int64_t rows = i % 7 + 1 < M - i ? i % 7 + 1 : M - i;
        rl_gemm_packed_f32(rows, N, K, A + i * K, K, 1, P, C2 + i * N, N, true);
        i += rows;
    }
    CHECK(memcmp(C1, C2, sizeof(float) * (size_t)(M * N)) == 0);
    free(A);
    free(W);
    free(P);
    free(C1);
    free(C2);
}

/* fewer than 16 rows, or an empty product: BLAS's turn, nothing written */
static void test_gemm_refuses_small(void)
{
    float a[64] = {0}, b[64] = {0}, c[64];
    for (int i = 0; i < 64; i++) c[i] = 3;
    CHECK(!rl_gemm_f32(15, 2, 2, a, 2, 1, b, 2, 1, c, 2, false));
    CHECK(!rl_gemm_f32(16, 0, 2, a, 2, 1, b, 2, 1, c, 2, false));
    CHECK(!rl_gemm_f32(16, 2, 0, a, 2, 1, b, 2, 1, c, 2, false));
    for (int i = 0; i < 64; i++) CHECK(c[i] == 3);
}

void suite_gemm(void)
{
    TH_RUN(test_gemm_matches_triple_loop);
    TH_RUN(test_gemm_packing_pieces);
    TH_RUN(test_gemm_packed_rows_alike);
    TH_RUN(test_gemm_refuses_small);
}
