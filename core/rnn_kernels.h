/* rnn_kernels.h — the time loops of core/rnn.c for one element type.
 * Included twice by rnn.c, with REAL float / double, SUF f32 / f64 and GEMM
 * cblas_sgemm / cblas_dgemm (and the vector macros); not a header of its
 * own. It undefines all of those at its end.
 *
 * Buffers (all contiguous, rows of B sequences per step t):
 *   gates (T,B,W)  LSTM: i,f,g,o activated (W=4H); GRU: r,z,n and W_hn h+b_hn
 *                  (W=4H); RNN: h_t (W=H)
 *   hprev (T,B,H)  the state entering step t
 *   cprev (T,B,H)  LSTM: the cell entering step t
 *   cell (T,B,H)   LSTM: tanh of the cell leaving step t */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUF)

#ifdef RL_STEP_AVX512
/* The per-step recurrent products with AVX-512: C (M,N) += A (M,K) Bm (K,N),
 * A and C row-major (leading dims lda, ldc), Bm the constant W_hh side
 * packed once per sequence, where OpenBLAS would pack W_hh again at every
 * step (and, on some AVX-512 machines, runs its AVX2 kernels). Tiles of 4
 * rows of C by 4 vectors (STEP_NR columns), the 16 sums in registers over
 * blocks of STEP_KC steps of k (a block of a panel: 32 KiB, in L1 while
 * every row group goes over it); C's columns past N masked off. Each sum
 * adds its products in order of k, one fused multiply-add each. */
#define STEP_NR (4 * VLANES)
#define STEP_KC 128

/* The packed Bm: panels of STEP_NR columns, each (K, STEP_NR) row-major,
 * zeros past N; element (k, n) of Bm is src[k·sk + n·sn]. Its storage goes
 * in *hold (a workspace tensor, warm from the last step: no page faults;
 * ws_release it); NULL when out of memory. */
static int64_t FN(packed_size)(int64_t K, int64_t N)
{
    return (N + STEP_NR - 1) / STEP_NR * K * STEP_NR + 1;
}

static REAL *FN(pack_panels)(int64_t K, int64_t N, const REAL *src, int64_t sk, int64_t sn, rl_tensor **hold)
{
    int64_t panels = (N + STEP_NR - 1) / STEP_NR, size = FN(packed_size)(K, N);
    *hold = NULL;
    if (rl_ws_empty(hold, sizeof(REAL) == sizeof(float) ? RL_FLOAT32 : RL_FLOAT64, 1, &size))
        return NULL; /* the caller falls back on BLAS: the message stays unused */
    REAL *p = rl_tensor_data(*hold);
    for (int64_t jp = 0; jp < panels; jp++) {
        int64_t n0 = jp * STEP_NR, w = N - n0 < STEP_NR ? N - n0 : STEP_NR;
        for (int64_t k = 0; k < K; k++) {
            REAL *row = p + (jp * K + k) * STEP_NR;
            const REAL *s = src + k * sk + n0 * sn;
            if (sn == 1) memcpy(row, s, sizeof(REAL) * (size_t)w);
            else
                for (int64_t c = 0; c < w; c++) row[c] = s[c * sn];
            for (int64_t c = w; c < STEP_NR; c++) row[c] = 0;
        }
    }
    return p;
}

/* One tile: c (rows,STEP_NR) += a (rows,kc) b (kc,STEP_NR), or = when zero;
 * a(r,k) = a[r·ar + k·ak] */
RL_AVX512_FN static inline void FN(tile_avx512)(const int rows, int64_t kc, const REAL *a, int64_t ar, int64_t ak,
                                                 const REAL *b, REAL *c, int64_t ldc, const VMASK m[4], bool zero)
{
    VREAL acc[4][4];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = zero ? VZERO() : VLOAD(m[v], c + r * ldc + v * VLANES);
    for (int64_t k = 0; k < kc; k++) {
        VREAL bv[4];
        for (int v = 0; v < 4; v++) bv[v] = VLOADU(b + k * STEP_NR + v * VLANES);
        for (int r = 0; r < rows; r++) {
            VREAL av = VSET1(a[r * ar + k * ak]);
            for (int v = 0; v < 4; v++) acc[r][v] = VFMA(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < 4; v++) VSTORE(c + r * ldc + v * VLANES, m[v], acc[r][v]);
}

/* C (M,N) += A (M,K) Bm (K,N), or C = A Bm when beta0 (C is not read);
 * A(i,k) = A[i·ar + k·ak] (row-major: ar = lda, ak = 1; transposed: ar = 1,
 * ak = lda), Bm packed by pack_panels, C row-major. Blocks of STEP_MC rows
 * keep the part of A that a block of k reads in L2 while the panels go by. */
#define STEP_MC 256
RL_AVX512_FN static void FN(gemm_avx512)(int64_t M, int64_t N, int64_t K, const REAL *A, int64_t ar, int64_t ak,
                                         const REAL *packed, REAL *C, int64_t ldc, bool beta0)
{
    for (int64_t i0 = 0; i0 < M; i0 += STEP_MC) {
        int64_t i1 = M - i0 < STEP_MC ? M : i0 + STEP_MC;
        for (int64_t k0 = 0; k0 < K; k0 += STEP_KC) {
            int64_t kc = K - k0 < STEP_KC ? K - k0 : STEP_KC;
            bool zero = beta0 && k0 == 0;
            for (int64_t j0 = 0; j0 < N; j0 += STEP_NR) {
                VMASK m[4];
                for (int v = 0; v < 4; v++) {
                    int64_t rem = N - j0 - v * VLANES;
                    m[v] = rem >= VLANES ? (VMASK)~0u : rem > 0 ? (VMASK)((1u << rem) - 1) : 0;
                }
                const REAL *a = A + k0 * ak, *b = packed + (j0 * K + k0 * STEP_NR);
                REAL *c = C + j0;
                int64_t i = i0;
                for (; i + 4 <= i1; i += 4) FN(tile_avx512)(4, kc, a + i * ar, ar, ak, b, c + i * ldc, ldc, m, zero);
                switch (i1 - i) {
                case 3: FN(tile_avx512)(3, kc, a + i * ar, ar, ak, b, c + i * ldc, ldc, m, zero); break;
                case 2: FN(tile_avx512)(2, kc, a + i * ar, ar, ak, b, c + i * ldc, ldc, m, zero); break;
                case 1: FN(tile_avx512)(1, kc, a + i * ar, ar, ak, b, c + i * ldc, ldc, m, zero); break;
                }
            }
        }
    }
}
#undef STEP_MC
#endif

/* out (B,G·H) += h (B,H) W_hh^T. packed: W_hh^T packed for the AVX-512
 * product, or NULL: BLAS, a matrix-vector product for one sequence, where
 * GEMM would repack W_hh at every step for a single row. */
static inline void FN(step_forward)(int64_t B, int64_t GH, int64_t H, const REAL *h, const REAL *whh,
                                    const REAL *packed, REAL *out)
{
#ifdef RL_STEP_AVX512
    if (packed) FN(gemm_avx512)(B, GH, H, h, H, 1, packed, out, GH, false);
    else
#endif
    if (B == 1) GEMV(CblasRowMajor, CblasNoTrans, (int)GH, (int)H, 1, whh, (int)H, h, 1, 1, out, 1);
    else GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)GH, (int)H, 1, h, (int)H, whh, (int)H, 1, out,
              (int)GH);
    (void)packed;
}

/* dh (B,H) += dG (B,G·H) W_hh. packed: W_hh packed for the AVX-512 product,
 * or NULL: BLAS (a matrix-vector product for one sequence) */
static inline void FN(step_backward)(int64_t B, int64_t GH, int64_t H, const REAL *dg, const REAL *whh,
                                     const REAL *packed, REAL *dh)
{
#ifdef RL_STEP_AVX512
    if (packed) FN(gemm_avx512)(B, H, GH, dg, GH, 1, packed, dh, H, false);
    else
#endif
    if (B == 1) GEMV(CblasRowMajor, CblasTrans, (int)GH, (int)H, 1, whh, (int)H, dg, 1, 1, dh, 1);
    else GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)GH, 1, dg, (int)GH, whh, (int)H, 1, dh,
              (int)H);
    (void)packed;
}

/* C (M,N) = A (M,K) Bsrc (K,N), or C += when accumulate, for the
 * whole-sequence products, with the AVX-512 kernel on one thread:
 * a(i,k) = A[i·ar + k·ak], b(k,n) = Bsrc[k·bk + n·bn], C row-major. Bsrc
 * is packed SEQ_PACK_BYTES at a time (K = T·B for the weight gradients: a
 * whole packed copy would add to the step's peak memory). False when it did
 * nothing (no AVX-512, an empty product, no memory for the packed Bsrc):
 * BLAS's turn. */
#define SEQ_PACK_BYTES ((int64_t)2 << 20)
#define SEQ_MIN_ROWS 16
static bool FN(seq_gemm)(int64_t M, int64_t N, int64_t K, const REAL *A, int64_t ar, int64_t ak, const REAL *Bsrc,
                         int64_t bk, int64_t bn, REAL *C, int64_t ldc, bool accumulate)
{
#ifdef RL_STEP_AVX512
    /* a product of a few rows does not repay the pass over Bsrc that
     * packing costs: BLAS's turn (a matrix-vector product for one row) */
    if (M < SEQ_MIN_ROWS || N == 0 || K == 0 || !have_avx512()) return false;
    int64_t row_bytes = (N + STEP_NR - 1) / STEP_NR * STEP_NR * (int64_t)sizeof(REAL);
    int64_t kb = SEQ_PACK_BYTES / row_bytes / STEP_KC * STEP_KC;
    if (kb < STEP_KC) kb = STEP_KC;
    for (int64_t k0 = 0; k0 < K; k0 += kb) {
        int64_t kn = K - k0 < kb ? K - k0 : kb;
        rl_tensor *hold;
        REAL *packed = FN(pack_panels)(kn, N, Bsrc + k0 * bk, bk, bn, &hold);
        if (!packed) {
            if (k0 == 0) return false;
            /* the rest by BLAS, added to what is done: C += A[:,k0:] B[k0:,:] */
            GEMM(CblasRowMajor, ar == 1 ? CblasTrans : CblasNoTrans, bn == 1 ? CblasNoTrans : CblasTrans, (int)M,
                 (int)N, (int)(K - k0), 1, A + k0 * ak, (int)(ar == 1 ? ak : ar), Bsrc + k0 * bk,
                 (int)(bn == 1 ? bk : bn), 1, C, (int)ldc);
            return true;
        }
        FN(gemm_avx512)(M, N, kn, A + k0 * ak, ar, ak, packed, C, ldc, !accumulate && k0 == 0);
        rl_ws_release(hold);
    }
    return true;
#else
    (void)M, (void)N, (void)K, (void)A, (void)ar, (void)ak, (void)Bsrc, (void)bk, (void)bn, (void)C, (void)ldc,
        (void)accumulate;
    return false;
#endif
}

#ifdef RL_STEP_AVX512
/* A weight w packed as pack_panels packs Bm (K,N), b(k,n) = src[k·sk + n·sn]
 * with src in w's storage, and kept for later calls (rnn_workspace.h) when
 * keep: false for a contiguous copy the call made (a fresh storage each
 * call, which would only push useful copies out). *hold: NULL, or a
 * workspace tensor to rl_ws_release when the copy is not kept. NULL when
 * out of memory. */
static const REAL *FN(pack_weight)(const rl_tensor *w, bool keep, const REAL *src, int64_t K, int64_t N, int64_t sk,
                                   int64_t sn, rl_tensor **hold)
{
    rl_packed_key key = {w->storage, src, K, N, sk, sn};
    rl_tensor *kept = keep ? rl_packed_find(&key) : NULL;
    *hold = NULL;
    if (kept) return rl_tensor_data(kept);
    REAL *p = FN(pack_panels)(K, N, src, sk, sn, hold);
    if (p && keep && rl_packed_keep(&key, *hold)) *hold = NULL;
    return p;
}
#endif

/* C (M,N) = A (M,K) W (K,N) for a contiguous weight w read as W: W = w
 * (K,N) or, when tw, W = w^T with w (N,K). Like seq_gemm, but w is packed
 * whole and the packed copy kept for the next call (see pack_weight), when
 * keep and when it is small enough to be kept; else as seq_gemm. */
static bool FN(weight_gemm)(int64_t M, int64_t N, int64_t K, const REAL *A, int64_t ar, int64_t ak,
                            const rl_tensor *w, bool keep, bool tw, REAL *C, int64_t ldc)
{
    int64_t bk = tw ? 1 : N, bn = tw ? K : 1;
#ifdef RL_STEP_AVX512
    if (M == 0 || N == 0 || K == 0 || !have_avx512()) return false;
    if (keep && rl_packed_fits((size_t)FN(packed_size)(K, N) * sizeof(REAL))) {
        rl_tensor *hold;
        const REAL *p = FN(pack_weight)(w, true, rl_tensor_data(w), K, N, bk, bn, &hold);
        if (!p) return false;
        FN(gemm_avx512)(M, N, K, A, ar, ak, p, C, ldc, true);
        rl_ws_release(hold);
        return true;
    }
#endif
    return FN(seq_gemm)(M, N, K, A, ar, ak, rl_tensor_data(w), bk, bn, C, ldc, false);
}
#undef SEQ_PACK_BYTES
#undef SEQ_MIN_ROWS

static inline bool FN(active)(const rnn_ctx *c, int64_t t, int64_t b)
{
    return !c->len || t < c->len[b];
}

/* h, cs: (B,H) running state, start as h0, c0 and end as h_n, c_n.
 * xw: GRU only, (T,B,3H) scratch for the input projection; hw: GRU only,
 * (B,3H) scratch for the recurrent projection. */
RL_ISA_BODY void CAT(FN(rnn_forward_loop), body)(rnn_ctx *c, const REAL *bsum, const REAL *bhh, REAL *out, REAL *h, REAL *cs,
                                 REAL *xw, REAL *hw)
{
    const int64_t T = c->T, B = c->B, In = c->In, H = c->H, GH = c->G * H, W = c->width;
    const REAL *x = rl_tensor_data(c->x), *wih = rl_tensor_data(c->w_ih), *whh = rl_tensor_data(c->w_hh);
    REAL *gates = rl_tensor_data(c->gates), *hprev = rl_tensor_data(c->hprev);
    REAL *cprev = c->cprev ? rl_tensor_data(c->cprev) : NULL, *cell = c->cell ? rl_tensor_data(c->cell) : NULL;
    bool gru = c->mode == RL_GRU, lstm = c->mode == RL_LSTM;

    /* pre (T·B, G·H) = x W_ih^T, in one GEMM; the biases are added row by row
     * in the time loop (bsum = b_ih + b_hh, or b_ih alone for the GRU, which
     * keeps b_hh on the recurrent side where r multiplies it). */
    REAL *pre = gru ? xw : gates;
    if (T * B > 0 && In == 0) {
        memset(pre, 0, sizeof(REAL) * (size_t)(T * B * GH));
    } else if (T * B > 0 && !FN(weight_gemm)(T * B, GH, In, x, In, 1, c->w_ih, c->keep_w_ih, true, pre, GH)) {
        int saved = seq_threads_begin(2.0 * (double)(T * B) * (double)GH * (double)In);
        if (T * B == 1) GEMV(CblasRowMajor, CblasNoTrans, (int)GH, (int)In, 1, wih, (int)In, x, 1, 0, pre, 1);
        else GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(T * B), (int)GH, (int)In, 1, x, (int)In, wih,
                  (int)In, 0, pre, (int)GH);
        loop_threads_end(saved);
    }
    /* W_hh^T (H,G·H) packed for the AVX-512 step product; without it (no
     * AVX-512, or no memory) BLAS does the steps */
    const REAL *packed = NULL;
    rl_tensor *hold = NULL;
#ifdef RL_STEP_AVX512
    if (step_fast(c)) packed = FN(pack_weight)(c->w_hh, c->keep_w_hh, whh, H, GH, 1, H, &hold);
#endif
    int threads = loop_threads_begin(c, packed != NULL);

    /* The state entering step t lives in hprev[t] (cprev[t]); a step writes
     * the next one straight into the slot of the step after it, or into h,
     * cs (h_n, c_n) at the last step. */
    if (T > 0) {
        int64_t t0 = c->reverse ? T - 1 : 0;
        memcpy(hprev + t0 * B * H, h, sizeof(REAL) * (size_t)(B * H));
        if (lstm) memcpy(cprev + t0 * B * H, cs, sizeof(REAL) * (size_t)(B * H));
    }
    for (int64_t k = 0; k < T; k++) {
        int64_t t = c->reverse ? T - 1 - k : k, tn = c->reverse ? t - 1 : t + 1;
        REAL *g = gates + t * B * W, *o = out + t * B * H;
        const REAL *hin = hprev + t * B * H, *cin = lstm ? cprev + t * B * H : NULL;
        REAL *hnext = k == T - 1 ? h : hprev + tn * B * H;
        REAL *cnext = !lstm ? NULL : k == T - 1 ? cs : cprev + tn * B * H;
        if (gru) {
            for (int64_t b = 0; b < B; b++)
                for (int64_t j = 0; j < GH; j++) hw[b * GH + j] = bhh ? bhh[j] : 0;
            if (H > 0) FN(step_forward)(B, GH, H, hin, whh, packed, hw);
        } else if (H > 0) {
            FN(step_forward)(B, GH, H, hin, whh, packed, g);
        }
        for (int64_t b = 0; b < B; b++) {
            REAL *gr = g + b * W, *hb = hnext + b * H, *ob = o + b * H;
            const REAL *hi = hin + b * H;
            if (!FN(active)(c, t, b)) {
                /* the state passes through unchanged */
                memcpy(hb, hi, sizeof(REAL) * (size_t)H);
                if (lstm) memcpy(cnext + b * H, cin + b * H, sizeof(REAL) * (size_t)H);
                memset(ob, 0, sizeof(REAL) * (size_t)H);
                memset(gr, 0, sizeof(REAL) * (size_t)W);
                continue;
            }
            switch (c->mode) {
            case RL_LSTM: {
                /* cell keeps tanh(c_t): all the backward needs of c_t */
                const REAL *ci = cin + b * H;
                REAL *cb = cnext + b * H, *tc = cell + (t * B + b) * H;
                if (bsum)
                    for (int64_t j = 0; j < GH; j++) gr[j] += bsum[j];
                VSIGMOID(gr, gr, 2 * H);
                VTANH(gr + 2 * H, gr + 2 * H, H);
                VSIGMOID(gr + 3 * H, gr + 3 * H, H);
                for (int64_t j = 0; j < H; j++) cb[j] = gr[H + j] * ci[j] + gr[j] * gr[2 * H + j];
                VTANH(tc, cb, H);
                for (int64_t j = 0; j < H; j++) hb[j] = ob[j] = gr[3 * H + j] * tc[j];
                break;
            }
            case RL_GRU: {
                const REAL *xr = xw + (t * B + b) * GH, *hr = hw + b * GH;
                for (int64_t j = 0; j < 2 * H; j++) gr[j] = xr[j] + (bsum ? bsum[j] : 0) + hr[j];
                VSIGMOID(gr, gr, 2 * H);
                for (int64_t j = 0; j < H; j++) {
                    gr[2 * H + j] = xr[2 * H + j] + (bsum ? bsum[2 * H + j] : 0) + gr[j] * hr[2 * H + j];
                    gr[3 * H + j] = hr[2 * H + j];
                }
                VTANH(gr + 2 * H, gr + 2 * H, H);
                for (int64_t j = 0; j < H; j++) {
                    REAL z = gr[H + j];
                    hb[j] = ob[j] = (1 - z) * gr[2 * H + j] + z * hi[j];
                }
                break;
            }
            case RL_RNN_TANH:
                if (bsum)
                    for (int64_t j = 0; j < H; j++) gr[j] += bsum[j];
                VTANH(gr, gr, H);
                for (int64_t j = 0; j < H; j++) hb[j] = ob[j] = gr[j];
                break;
            case RL_RNN_RELU:
                for (int64_t j = 0; j < H; j++) {
                    REAL v = gr[j] + (bsum ? bsum[j] : 0);
                    gr[j] = hb[j] = ob[j] = v > 0 || v != v ? v : 0; /* relu(NaN) = NaN, as ops.c */
                }
                break;
            }
        }
    }
    loop_threads_end(threads);
    rl_ws_release(hold);
}
RL_ISA_DISPATCH(FN(rnn_forward_loop),
                (rnn_ctx *c, const REAL *bsum, const REAL *bhh, REAL *out, REAL *h, REAL *cs, REAL *xw, REAL *hw),
                (c, bsum, bhh, out, h, cs, xw, hw))

/* The per-step clipping of the gradient carried back through the state
 * from step t (the cell state of an LSTM is not clipped). */
static void FN(clip_rows)(const rnn_ctx *c, int64_t t, REAL *dh)
{
    const int64_t B = c->B, H = c->H;
    const REAL lim = (REAL)c->clip;
    for (int64_t b = 0; b < B; b++) {
        if (!FN(active)(c, t, b)) continue; /* nothing flowed through step t */
        if (c->clip_mode == RL_CLIP_VALUE) {
            for (int64_t j = 0; j < H; j++) {
                REAL v = dh[b * H + j];
                dh[b * H + j] = v > lim ? lim : (v < -lim ? -lim : v);
            }
            continue;
        }
        double s = 0;
        for (int64_t j = 0; j < H; j++) s += (double)dh[b * H + j] * (double)dh[b * H + j];
        double norm = sqrt(s);
        if (norm > c->clip) {
            REAL scale = (REAL)(c->clip / norm);
            for (int64_t j = 0; j < H; j++) dh[b * H + j] *= scale;
        }
    }
}

/* The gate gradients of one sequence at one step, forward/backward pairs of
 * the loops above. All rows are (H) slices of one sequence b at one step t;
 * gr: its gates row (W), gx, gh: its rows of dgx, dgh (G·H). dh enters as
 * the gradient reaching h_t from step t+1 and leaves as the part of the
 * gradient of h_{t-1} that does not pass through W_hh (the GEMM adds that). */

/* LSTM: dc enters as dL/dc_t from step t+1 and leaves as dL/dc_{t-1} */
static inline void FN(lstm_backward_row)(int64_t H, const REAL *restrict gr, const REAL *restrict tct,
                                         const REAL *restrict cp, const REAL *restrict db, REAL *restrict dh,
                                         REAL *restrict dc, REAL *restrict gx)
{
    for (int64_t j = 0; j < H; j++) {
        REAL i = gr[j], f = gr[H + j], gg = gr[2 * H + j], og = gr[3 * H + j];
        REAL dht = dh[j] + db[j], tc = tct[j];
        REAL dct = dc[j] + dht * og * (1 - tc * tc);
        gx[j] = dct * gg * i * (1 - i);
        gx[H + j] = dct * cp[j] * f * (1 - f);
        gx[2 * H + j] = dct * i * (1 - gg * gg);
        gx[3 * H + j] = dht * tc * og * (1 - og);
        dc[j] = dct * f;
        dh[j] = 0; /* refilled by the GEMM */
    }
}

/* GRU: gr holds r, z, n and W_hn h + b_hn; hp: h_{t-1} */
static inline void FN(gru_backward_row)(int64_t H, const REAL *restrict gr, const REAL *restrict hp,
                                        const REAL *restrict db, REAL *restrict dh, REAL *restrict gx,
                                        REAL *restrict gh)
{
    for (int64_t j = 0; j < H; j++) {
        REAL r = gr[j], z = gr[H + j], n = gr[2 * H + j], hn = gr[3 * H + j];
        REAL dht = dh[j] + db[j];
        REAL dnp = dht * (1 - z) * (1 - n * n);
        REAL drp = dnp * hn * r * (1 - r);
        REAL dzp = dht * (hp[j] - n) * z * (1 - z);
        gx[j] = gh[j] = drp;
        gx[H + j] = gh[H + j] = dzp;
        gx[2 * H + j] = dnp;
        gh[2 * H + j] = dnp * r;
        dh[j] = dht * z; /* the direct path; the GEMM adds the rest */
    }
}

static inline void FN(tanh_backward_row)(int64_t H, const REAL *restrict gr, const REAL *restrict db,
                                         REAL *restrict dh, REAL *restrict gx)
{
    for (int64_t j = 0; j < H; j++) {
        gx[j] = (dh[j] + db[j]) * (1 - gr[j] * gr[j]);
        dh[j] = 0;
    }
}

static inline void FN(relu_backward_row)(int64_t H, const REAL *restrict gr, const REAL *restrict db,
                                         REAL *restrict dh, REAL *restrict gx)
{
    for (int64_t j = 0; j < H; j++) {
        gx[j] = gr[j] > 0 ? dh[j] + db[j] : 0;
        dh[j] = 0;
    }
}

/* acc (n) += row (n), in double: the bias gradients, summed over the rows
 * of dgx / dgh as they are made */
static inline void FN(acc_row)(int64_t n, double *restrict acc, const REAL *restrict row)
{
    for (int64_t j = 0; j < n; j++) acc[j] += (double)row[j];
}

/* W_hh (G·H,H) packed for the AVX-512 step products of the backward, or
 * NULL: BLAS. *hold as pack_weight's. */
static const REAL *FN(pack_whh_backward)(const rnn_ctx *c, rl_tensor **hold)
{
    *hold = NULL;
#ifdef RL_STEP_AVX512
    const int64_t H = c->H, GH = c->G * H;
    if (step_fast(c)) return FN(pack_weight)(c->w_hh, c->keep_w_hh, rl_tensor_data(c->w_hh), GH, H, H, 1, hold);
#endif
    (void)c;
    return NULL;
}

/* Steps k = k_hi-1 down to k_lo of the backward (k: the order the forward
 * ran them, t = k, or T-1-k when reversed); their times t are the chunk
 * t_base .. t_base + k_hi - k_lo - 1.
 * dh, dc: (B,H), enter as the gradients of the state after step k_hi-1
 * (at first those of h_n, c_n) and leave as those of the state before
 * step k_lo (at last those of h0, c0). dout: (T,B,H). dgx (Tc,B,G·H), rows
 * of the chunk's times: gradients of the input-side pre-activations; dgh:
 * of the recurrent side (the same buffer but for GRU, whose n gate sees
 * r (W_hn h + b_hn)). dbx, dbh: NULL, or (G·H) double accumulators that
 * receive the sums over all rows of dgx and of dgh (the bias gradients).
 * packed: from pack_whh_backward. */
RL_ISA_BODY void CAT(FN(rnn_backward_loop), body)(rnn_ctx *c, const REAL *packed, int64_t k_lo, int64_t k_hi,
                                                    int64_t t_base, const REAL *dout, REAL *dh, REAL *dc, REAL *dgx,
                                                    REAL *dgh, double *dbx, double *dbh)
{
    const int64_t T = c->T, B = c->B, H = c->H, GH = c->G * H, W = c->width;
    const REAL *whh = rl_tensor_data(c->w_hh), *gates = rl_tensor_data(c->gates);
    const REAL *hprev = rl_tensor_data(c->hprev);
    const REAL *cprev = c->cprev ? rl_tensor_data(c->cprev) : NULL, *cell = c->cell ? rl_tensor_data(c->cell) : NULL;

    double *norms = c->grad_norms ? rl_tensor_data(c->grad_norms) : NULL;
    int threads = loop_threads_begin(c, packed != NULL);
    for (int64_t k = k_hi - 1; k >= k_lo; k--) {
        int64_t t = c->reverse ? T - 1 - k : k;
        REAL *gx = dgx + (t - t_base) * B * GH, *gh = dgh + (t - t_base) * B * GH;
        if (norms) { /* ||dL/dh_t||: what reaches h_t from step t+1 and from the output at t */
            double s = 0;
            for (int64_t b = 0; b < B; b++) {
                if (!FN(active)(c, t, b)) continue;
                for (int64_t j = 0; j < H; j++) {
                    double v = (double)dh[b * H + j] + (double)dout[(t * B + b) * H + j];
                    s += v * v;
                }
            }
            norms[t] = sqrt(s);
        }
        for (int64_t b = 0; b < B; b++) {
            REAL *gxr = gx + b * GH, *ghr = gh + b * GH, *dhb = dh + b * H;
            if (!FN(active)(c, t, b)) {
                /* the state passed through unchanged: its gradient does too */
                memset(gxr, 0, sizeof(REAL) * (size_t)GH);
                if (gh != gx) memset(ghr, 0, sizeof(REAL) * (size_t)GH);
                continue;
            }
            const int64_t row = t * B + b;
            const REAL *gr = gates + row * W, *db = dout + row * H;
            switch (c->mode) {
            case RL_LSTM:
                FN(lstm_backward_row)(H, gr, cell + row * H, cprev + row * H, db, dhb, dc + b * H, gxr);
                break;
            case RL_GRU:
                FN(gru_backward_row)(H, gr, hprev + row * H, db, dhb, gxr, ghr);
                break;
            case RL_RNN_TANH:
                FN(tanh_backward_row)(H, gr, db, dhb, gxr);
                break;
            case RL_RNN_RELU:
                FN(relu_backward_row)(H, gr, db, dhb, gxr);
                break;
            }
            if (dbx) FN(acc_row)(GH, dbx, gxr);
            if (dbh && gh != gx) FN(acc_row)(GH, dbh, ghr);
        }
        /* dh += dG_t W_hh: zero rows of dG leave inactive sequences' dh as carried */
        if (H > 0 && B > 0) FN(step_backward)(B, GH, H, gh, whh, packed, dh);
        if (c->clip_mode != RL_CLIP_NONE) FN(clip_rows)(c, t, dh);
    }
    loop_threads_end(threads);
}
RL_ISA_DISPATCH(FN(rnn_backward_loop),
                (rnn_ctx *c, const REAL *packed, int64_t k_lo, int64_t k_hi, int64_t t_base, const REAL *dout, REAL *dh,
                 REAL *dc, REAL *dgx, REAL *dgh, double *dbx, double *dbh),
                (c, packed, k_lo, k_hi, t_base, dout, dh, dc, dgx, dgh, dbx, dbh))

#undef STEP_NR
#undef STEP_KC
#undef FN
#undef CAT
#undef CAT_
/* the parameters rnn.c defined for this inclusion */
#undef REAL
#undef SUF
#undef GEMM
#undef GEMV
#undef VSIGMOID
#undef VTANH
#undef VREAL
#undef VMASK
#undef VLANES
#undef VLOAD
#undef VLOADU
#undef VZERO
#undef VSTORE
#undef VSET1
#undef VFMA
