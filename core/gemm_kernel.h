/* gemm_kernel.h — the body of gemm.c for one element type; not a header of
 * its own. gemm.c includes it twice, setting REAL, the vector macros and
 * the name of every function it defines (PACKED_LEN, PACK, ...: the names
 * in gemm.h, spelled out in gemm.c), and it undefines all of them at its
 * end. */

/* One tile: c (rows, NR) += a (rows, kc) b (kc, NR), or = when zero;
 * a(r,k) = a[r·ar + k·ak], b one block of a panel; C's columns past the
 * product's masked off by m. The 16 sums stay in registers over the block;
 * each adds its products in order of k, one fused multiply-add each. */
RL_AVX512_FN static inline void TILE(const int rows, int64_t kc, const REAL *a, int64_t ar, int64_t ak,
                                     const REAL *b, REAL *c, int64_t ldc, const VMASK m[4], bool zero)
{
    VREAL acc[4][4];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = zero ? VZERO() : VLOAD(m[v], c + r * ldc + v * VLANES);
    for (int64_t k = 0; k < kc; k++) {
        VREAL bv[4];
        for (int v = 0; v < 4; v++) bv[v] = VLOADU(b + k * NR + v * VLANES);
        for (int r = 0; r < rows; r++) {
            VREAL av = VSET1(a[r * ar + k * ak]);
            for (int v = 0; v < 4; v++) acc[r][v] = VFMA(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < 4; v++) VSTORE(c + r * ldc + v * VLANES, m[v], acc[r][v]);
}

int64_t PACKED_LEN(int64_t K, int64_t N)
{
    return (N + NR - 1) / NR * K * NR + 1;
}

/* panels [p0, p1) of the packing */
static void PACK_PANELS(int64_t K, int64_t N, const REAL *src, int64_t sk, int64_t sn, REAL *dst, int64_t p0,
                        int64_t p1)
{
    for (int64_t jp = p0; jp < p1; jp++) {
        int64_t n0 = jp * NR, w = N - n0 < NR ? N - n0 : NR;
        for (int64_t k = 0; k < K; k++) {
            REAL *row = dst + (jp * K + k) * NR;
            const REAL *s = src + k * sk + n0 * sn;
            if (sn == 1) memcpy(row, s, sizeof(REAL) * (size_t)w);
            else
                for (int64_t c = 0; c < w; c++) row[c] = s[c * sn];
            for (int64_t c = w; c < NR; c++) row[c] = 0;
        }
    }
}

void PACK(int64_t K, int64_t N, const REAL *src, int64_t sk, int64_t sn, REAL *dst)
{
    PACK_PANELS(K, N, src, sk, sn, dst, 0, (N + NR - 1) / NR);
}

typedef struct {
    int64_t K, N, sk, sn;
    const REAL *src;
    REAL *dst;
} PACK_ARG;

static void PACK_CHUNK(void *p, int64_t lo, int64_t hi, int chunk)
{
    const PACK_ARG *a = p;
    (void)chunk;
    PACK_PANELS(a->K, a->N, a->src, a->sk, a->sn, a->dst, lo, hi);
}

void PACK_PAR(int64_t K, int64_t N, const REAL *src, int64_t sk, int64_t sn, REAL *dst)
{
    int64_t panels = (N + NR - 1) / NR, per_panel = K * NR;
    PACK_ARG a = {K, N, sk, sn, src, dst};
    rl_parallel_for(panels, (GEMM_PACK_CHUNK_ELEMS + per_panel - 1) / (per_panel ? per_panel : 1), PACK_CHUNK, &a);
}

/* Blocks of MC rows keep the part of A that a block of k reads in L2 while
 * the panels go by; a block of a panel (KC by NR) stays in L1 while every
 * row group goes over it. */
RL_AVX512_FN void KERNEL(int64_t M, int64_t N, int64_t K, const REAL *A, int64_t ar, int64_t ak, const REAL *Bp,
                         REAL *C, int64_t ldc, bool beta0)
{
    for (int64_t i0 = 0; i0 < M; i0 += GEMM_MC) {
        int64_t i1 = M - i0 < GEMM_MC ? M : i0 + GEMM_MC;
        for (int64_t k0 = 0; k0 < K; k0 += GEMM_KC) {
            int64_t kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
            bool zero = beta0 && k0 == 0;
            for (int64_t j0 = 0; j0 < N; j0 += NR) {
                VMASK m[4];
                for (int v = 0; v < 4; v++) {
                    int64_t rem = N - j0 - v * VLANES;
                    m[v] = rem >= VLANES ? (VMASK)~0u : rem > 0 ? (VMASK)((1u << rem) - 1) : 0;
                }
                const REAL *a = A + k0 * ak, *b = Bp + (j0 * K + k0 * NR);
                REAL *c = C + j0;
                int64_t i = i0;
                for (; i + 4 <= i1; i += 4) TILE(4, kc, a + i * ar, ar, ak, b, c + i * ldc, ldc, m, zero);
                switch (i1 - i) {
                case 3: TILE(3, kc, a + i * ar, ar, ak, b, c + i * ldc, ldc, m, zero); break;
                case 2: TILE(2, kc, a + i * ar, ar, ak, b, c + i * ldc, ldc, m, zero); break;
                case 1: TILE(1, kc, a + i * ar, ar, ak, b, c + i * ldc, ldc, m, zero); break;
                }
            }
        }
    }
}

typedef struct {
    int64_t M, N, K, ar, ak, ldc;
    const REAL *A, *Bp;
    REAL *C;
    bool beta0, by_rows;
} KERNEL_ARG;

/* rows [lo, hi) of C, or columns [lo, hi) (whole panels) */
static void KERNEL_CHUNK(void *p, int64_t lo, int64_t hi, int chunk)
{
    const KERNEL_ARG *a = p;
    (void)chunk;
    if (a->by_rows) KERNEL(hi - lo, a->N, a->K, a->A + lo * a->ar, a->ar, a->ak, a->Bp, a->C + lo * a->ldc, a->ldc, a->beta0);
    else KERNEL(a->M, hi - lo, a->K, a->A, a->ar, a->ak, a->Bp + lo * a->K, a->C + lo, a->ldc, a->beta0);
}

void KERNEL_PAR(int64_t M, int64_t N, int64_t K, const REAL *A, int64_t ar, int64_t ak, const REAL *Bp, REAL *C,
                int64_t ldc, bool beta0)
{
    double row_flops = 2.0 * (double)N * (double)K;
    int64_t grain = row_flops > 0 ? (int64_t)(GEMM_CHUNK_FLOPS / row_flops) + 1 : M;
    int chunks = rl_parallel_chunks(M, grain);
    if (chunks <= 1) {
        KERNEL(M, N, K, A, ar, ak, Bp, C, ldc, beta0);
        return;
    }
    KERNEL_ARG a = {M, N, K, ar, ak, ldc, A, Bp, C, beta0, true};
    /* by rows while each chunk keeps whole 4-row tiles of some size, else
     * by panels (a few rows, many columns) */
    if (M >= GEMM_SPLIT_ROWS * chunks) {
        rl_parallel_for_aligned(M, grain, 4, KERNEL_CHUNK, &a);
    } else {
        a.by_rows = false;
        double col_flops = 2.0 * (double)M * (double)K;
        rl_parallel_for_aligned(N, (int64_t)(GEMM_CHUNK_FLOPS / col_flops) + 1, NR, KERNEL_CHUNK, &a);
    }
}

bool GEMM_FN(int64_t M, int64_t N, int64_t K, const REAL *A, int64_t ar, int64_t ak, const REAL *B, int64_t bk,
             int64_t bn, REAL *C, int64_t ldc, bool accumulate)
{
    if (M < RL_GEMM_MIN_ROWS || N == 0 || K == 0 || !rl_gemm_supported()) return false;
    int64_t row_bytes = (N + NR - 1) / NR * NR * (int64_t)sizeof(REAL);
    int64_t kb = GEMM_PACK_BYTES / row_bytes / GEMM_KC * GEMM_KC;
    if (kb < GEMM_KC) kb = GEMM_KC;
    for (int64_t k0 = 0; k0 < K; k0 += kb) {
        int64_t kn = K - k0 < kb ? K - k0 : kb, len = PACKED_LEN(kn, N);
        rl_tensor *hold = NULL;
        if (rl_ws_empty(&hold, sizeof(REAL) == sizeof(float) ? RL_FLOAT32 : RL_FLOAT64, 1, &len)) {
            /* out of memory (the message stays unused) */
            if (k0 == 0) return false;
            /* the rest by BLAS, added to what is done: C += A[:,k0:] B[k0:,:] */
            BLAS_GEMM(CblasRowMajor, ar == 1 ? CblasTrans : CblasNoTrans, bn == 1 ? CblasNoTrans : CblasTrans,
                      (int)M, (int)N, (int)(K - k0), 1, A + k0 * ak, (int)(ar == 1 ? ak : ar), B + k0 * bk,
                      (int)(bn == 1 ? bk : bn), 1, C, (int)ldc);
            return true;
        }
        REAL *packed = rl_tensor_data(hold);
        PACK_PAR(kn, N, B + k0 * bk, bk, bn, packed);
        KERNEL_PAR(M, N, kn, A + k0 * ak, ar, ak, packed, C, ldc, !accumulate && k0 == 0);
        rl_ws_release(hold);
    }
    return true;
}

#undef REAL
#undef NR
#undef VREAL
#undef VMASK
#undef VLANES
#undef VLOAD
#undef VLOADU
#undef VZERO
#undef VSTORE
#undef VSET1
#undef VFMA
#undef BLAS_GEMM
#undef TILE
#undef PACKED_LEN
#undef PACK_PANELS
#undef PACK
#undef PACK_ARG
#undef PACK_CHUNK
#undef PACK_PAR
#undef KERNEL
#undef KERNEL_ARG
#undef KERNEL_CHUNK
#undef KERNEL_PAR
#undef GEMM_FN
