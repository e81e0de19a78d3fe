/* rnn_kernels.h — the time loops of core/rnn.c for one element type.
 * Included twice by rnn.c, with REAL float / double, SUF f32 / f64, GEMM
 * cblas_sgemm / cblas_dgemm and the gemm.h functions of that type (GEMM_*,
 * PACK_PAR, PACKED_LEN); not a header of its own. It undefines all of those
 * at its end.
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

/* W_hh (or W_ih) packed for the product of gemm.h into a workspace tensor
 * (warm from the last step: no page faults), *hold, to rl_ws_release;
 * NULL when out of memory (the caller falls back on BLAS: the message
 * stays unused). */
static REAL *FN(pack_panels)(int64_t K, int64_t N, const REAL *src, int64_t sk, int64_t sn, rl_tensor **hold)
{
    int64_t size = PACKED_LEN(K, N);
    *hold = NULL;
    if (rl_ws_empty(hold, sizeof(REAL) == sizeof(float) ? RL_FLOAT32 : RL_FLOAT64, 1, &size)) return NULL;
    REAL *p = rl_tensor_data(*hold);
    PACK_PAR(K, N, src, sk, sn, p);
    return p;
}

/* out (M,G·H) += h (M,H) W_hh^T for M rows of the batch. packed: W_hh^T
 * packed for gemm.h, or NULL: BLAS, a matrix-vector product for one row,
 * where GEMM would repack W_hh at every step for a single row. */
static inline void FN(step_forward)(int64_t M, int64_t GH, int64_t H, const REAL *h, const REAL *whh,
                                    const REAL *packed, REAL *out)
{
    if (packed) GEMM_PACKED(M, GH, H, h, H, 1, packed, out, GH, false);
    else if (M == 1) GEMV(CblasRowMajor, CblasNoTrans, (int)GH, (int)H, 1, whh, (int)H, h, 1, 1, out, 1);
    else GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)GH, (int)H, 1, h, (int)H, whh, (int)H, 1, out,
              (int)GH);
}

/* dh (M,H) += dG (M,G·H) W_hh for M rows of the batch. packed: W_hh packed
 * for gemm.h, or NULL: BLAS (a matrix-vector product for one row) */
static inline void FN(step_backward)(int64_t M, int64_t GH, int64_t H, const REAL *dg, const REAL *whh,
                                     const REAL *packed, REAL *dh)
{
    if (packed) GEMM_PACKED(M, H, GH, dg, GH, 1, packed, dh, H, false);
    else if (M == 1) GEMV(CblasRowMajor, CblasTrans, (int)GH, (int)H, 1, whh, (int)H, dg, 1, 1, dh, 1);
    else GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)H, (int)GH, 1, dg, (int)GH, whh, (int)H, 1, dh,
              (int)H);
}

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

/* C (M,N) = A (M,K) W (K,N) for a contiguous weight w read as W: W = w
 * (K,N) or, when tw, W = w^T with w (N,K), by gemm.h. Packed whole and the
 * packed copy kept for the next call (see pack_weight) when keep and when
 * it is small enough to be kept; else as GEMM_SEQ. False when gemm.h did
 * nothing: BLAS's turn. */
static bool FN(weight_gemm)(int64_t M, int64_t N, int64_t K, const REAL *A, int64_t ar, int64_t ak,
                            const rl_tensor *w, bool keep, bool tw, REAL *C, int64_t ldc)
{
    int64_t bk = tw ? 1 : N, bn = tw ? K : 1;
    if (M == 0 || N == 0 || K == 0 || !rl_gemm_supported()) return false;
    if (keep && rl_packed_fits((size_t)PACKED_LEN(K, N) * sizeof(REAL))) {
        rl_tensor *hold;
        const REAL *p = FN(pack_weight)(w, true, rl_tensor_data(w), K, N, bk, bn, &hold);
        if (!p) return false;
        GEMM_PACKED_PAR(M, N, K, A, ar, ak, p, C, ldc, true);
        rl_ws_release(hold);
        return true;
    }
    return GEMM_SEQ(M, N, K, A, ar, ak, rl_tensor_data(w), bk, bn, C, ldc, false);
}

static inline bool FN(active)(const rnn_ctx *c, int64_t t, int64_t b)
{
    return !c->len || t < c->len[b];
}

/* One step of the forward, for the rows [lo, hi) of the batch: what one
 * thread does (rnn_step_rows). */
typedef struct {
    const rnn_ctx *c;
    int64_t t;
    const REAL *bsum, *bhh, *whh, *packed, *hin, *cin, *xw;
    REAL *g, *o, *hnext, *cnext, *hw, *cell;
} FN(forward_step);

/* The step product for these rows, then their gates and state: rows
 * [lo, hi) are all a chunk writes (of g, o, hnext, cnext, hw, cell), and
 * each row comes out the same whichever chunk computes it. */
RL_ISA_BODY void CAT(FN(forward_rows), body)(void *arg, int64_t lo, int64_t hi, int chunk)
{
    const FN(forward_step) *s = arg;
    const rnn_ctx *c = s->c;
    const int64_t t = s->t, B = c->B, H = c->H, GH = c->G * H, W = c->width;
    const REAL *bsum = s->bsum, *bhh = s->bhh, *hin = s->hin, *cin = s->cin;
    REAL *g = s->g, *o = s->o, *hnext = s->hnext, *cnext = s->cnext, *hw = s->hw;
    (void)chunk;
    if (c->mode == RL_GRU) {
        for (int64_t b = lo; b < hi; b++)
            for (int64_t j = 0; j < GH; j++) hw[b * GH + j] = bhh ? bhh[j] : 0;
        if (H > 0 && hi > lo) FN(step_forward)(hi - lo, GH, H, hin + lo * H, s->whh, s->packed, hw + lo * GH);
    } else if (H > 0 && hi > lo) {
        FN(step_forward)(hi - lo, GH, H, hin + lo * H, s->whh, s->packed, g + lo * W);
    }
    for (int64_t b = lo; b < hi; b++) {
        REAL *gr = g + b * W, *hb = hnext + b * H, *ob = o + b * H;
        const REAL *hi_ = hin + b * H;
        if (!FN(active)(c, t, b)) {
            /* the state passes through unchanged */
            memcpy(hb, hi_, sizeof(REAL) * (size_t)H);
            if (cnext) memcpy(cnext + b * H, cin + b * H, sizeof(REAL) * (size_t)H);
            memset(ob, 0, sizeof(REAL) * (size_t)H);
            memset(gr, 0, sizeof(REAL) * (size_t)W);
            continue;
        }
        switch (c->mode) {
        case RL_LSTM: {
            /* cell keeps tanh(c_t): all the backward needs of c_t */
            const REAL *ci = cin + b * H;
            REAL *cb = cnext + b * H, *tc = s->cell + (t * B + b) * H;
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
            const REAL *xr = s->xw + (t * B + b) * GH, *hr = hw + b * GH;
            for (int64_t j = 0; j < 2 * H; j++) gr[j] = xr[j] + (bsum ? bsum[j] : 0) + hr[j];
            VSIGMOID(gr, gr, 2 * H);
            for (int64_t j = 0; j < H; j++) {
                gr[2 * H + j] = xr[2 * H + j] + (bsum ? bsum[2 * H + j] : 0) + gr[j] * hr[2 * H + j];
                gr[3 * H + j] = hr[2 * H + j];
            }
            VTANH(gr + 2 * H, gr + 2 * H, H);
            for (int64_t j = 0; j < H; j++) {
                REAL z = gr[H + j];
                hb[j] = ob[j] = (1 - z) * gr[2 * H + j] + z * hi_[j];
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
RL_ISA_DISPATCH(FN(forward_rows), (void *arg, int64_t lo, int64_t hi, int chunk), (arg, lo, hi, chunk))

/* The input projection of the forward: pre (T·B, G·H) = x W_ih^T, in one
 * GEMM; the biases are added row by row in the time loop. */
static void FN(input_projection)(const rnn_ctx *c, REAL *pre)
{
    const int64_t TB = c->T * c->B, In = c->In, GH = c->G * c->H;
    const REAL *x = rl_tensor_data(c->x), *wih = rl_tensor_data(c->w_ih);
    if (TB == 0) return;
    if (In == 0) {
        memset(pre, 0, sizeof(REAL) * (size_t)(TB * GH));
    } else if (!FN(weight_gemm)(TB, GH, In, x, In, 1, c->w_ih, c->keep_w_ih, true, pre, GH)) {
        int saved = blas_threads_begin(2.0 * (double)TB * (double)GH * (double)In, BLAS_SEQ_FLOPS_PER_THREAD);
        if (TB == 1) GEMV(CblasRowMajor, CblasNoTrans, (int)GH, (int)In, 1, wih, (int)In, x, 1, 0, pre, 1);
        else GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)TB, (int)GH, (int)In, 1, x, (int)In, wih, (int)In, 0,
                  pre, (int)GH);
        blas_threads_end(saved);
    }
}

/* h, cs: (B,H) running state, start as h0, c0 and end as h_n, c_n.
 * xw: GRU only, (T,B,3H) scratch for the input projection; hw: GRU only,
 * (B,3H) scratch for the recurrent projection. */
RL_ISA_BODY void CAT(FN(rnn_forward_loop), body)(rnn_ctx *c, const REAL *bsum, const REAL *bhh, REAL *out, REAL *h, REAL *cs,
                                 REAL *xw, REAL *hw)
{
    const int64_t T = c->T, B = c->B, H = c->H, GH = c->G * H, W = c->width;
    const REAL *whh = rl_tensor_data(c->w_hh);
    REAL *gates = rl_tensor_data(c->gates), *hprev = rl_tensor_data(c->hprev);
    REAL *cprev = c->cprev ? rl_tensor_data(c->cprev) : NULL, *cell = c->cell ? rl_tensor_data(c->cell) : NULL;
    bool lstm = c->mode == RL_LSTM;

    /* bsum = b_ih + b_hh, or b_ih alone for the GRU, which keeps b_hh on
     * the recurrent side where r multiplies it */
    FN(input_projection)(c, c->mode == RL_GRU ? xw : gates);
    /* W_hh^T (H,G·H) packed for the step product of gemm.h; without it (no
     * AVX-512, or no memory) BLAS does the steps, on one thread */
    const REAL *packed = NULL;
    rl_tensor *hold = NULL;
    if (step_fast(c)) packed = FN(pack_weight)(c->w_hh, c->keep_w_hh, whh, H, GH, 1, H, &hold);
    int saved = packed ? 0 : blas_threads_begin(2.0 * (double)B * (double)GH * (double)H, BLAS_STEP_FLOPS_PER_THREAD);
    int64_t grain = step_grain(c);

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
        FN(forward_step) s = {
            .c = c, .t = t, .bsum = bsum, .bhh = bhh, .whh = whh, .packed = packed,
            .hin = hprev + t * B * H, .cin = lstm ? cprev + t * B * H : NULL, .xw = xw,
            .g = gates + t * B * W, .o = out + t * B * H,
            .hnext = k == T - 1 ? h : hprev + tn * B * H,
            .cnext = !lstm ? NULL : k == T - 1 ? cs : cprev + tn * B * H,
            .hw = hw, .cell = cell,
        };
        /* one job a step: rows of the batch, when the size pays and the
         * product is ours (BLAS is not called from the pool) */
        if (packed) rl_parallel_for(B, grain, FN(forward_rows), &s);
        else FN(forward_rows)(&s, 0, B, 0);
    }
    blas_threads_end(saved);
    rl_ws_release(hold);
}
RL_ISA_DISPATCH(FN(rnn_forward_loop),
                (rnn_ctx *c, const REAL *bsum, const REAL *bhh, REAL *out, REAL *h, REAL *cs, REAL *xw, REAL *hw),
                (c, bsum, bhh, out, h, cs, xw, hw))

/* The per-step clipping of the gradient carried back through the state
 * from step t, for sequences [lo, hi) (the cell state of an LSTM is not
 * clipped). */
static void FN(clip_rows)(const rnn_ctx *c, int64_t t, REAL *dh, int64_t lo, int64_t hi)
{
    const int64_t H = c->H;
    const REAL lim = (REAL)c->clip;
    for (int64_t b = lo; b < hi; b++) {
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

/* W_hh (G·H,H) packed for the step products of the backward, or NULL:
 * BLAS. *hold as pack_weight's. */
static const REAL *FN(pack_whh_backward)(const rnn_ctx *c, rl_tensor **hold)
{
    const int64_t H = c->H, GH = c->G * H;
    *hold = NULL;
    if (step_fast(c)) return FN(pack_weight)(c->w_hh, c->keep_w_hh, rl_tensor_data(c->w_hh), GH, H, H, 1, hold);
    return NULL;
}

/* One step of the backward, for the rows [lo, hi) of the batch */
typedef struct {
    const rnn_ctx *c;
    int64_t t;
    const REAL *whh, *packed, *dout;
    REAL *dh, *dc, *gx, *gh;
    double *dbx, *dbh; /* the bias sums, taken here when the step is one chunk, or NULL */
} FN(backward_step);

/* The gate gradients of these rows, then dh += dG W_hh for them and the
 * clipping: rows [lo, hi) of dh, dc, gx, gh are all a chunk writes. */
RL_ISA_BODY void CAT(FN(backward_rows), body)(void *arg, int64_t lo, int64_t hi, int chunk)
{
    const FN(backward_step) *s = arg;
    const rnn_ctx *c = s->c;
    const int64_t t = s->t, B = c->B, H = c->H, GH = c->G * H, W = c->width;
    const REAL *gates = rl_tensor_data(c->gates), *hprev = rl_tensor_data(c->hprev);
    const REAL *cprev = c->cprev ? rl_tensor_data(c->cprev) : NULL, *cell = c->cell ? rl_tensor_data(c->cell) : NULL;
    REAL *gx = s->gx, *gh = s->gh, *dh = s->dh;
    (void)chunk;
    for (int64_t b = lo; b < hi; b++) {
        REAL *gxr = gx + b * GH, *ghr = gh + b * GH, *dhb = dh + b * H;
        if (!FN(active)(c, t, b)) {
            /* the state passed through unchanged: its gradient does too */
            memset(gxr, 0, sizeof(REAL) * (size_t)GH);
            if (gh != gx) memset(ghr, 0, sizeof(REAL) * (size_t)GH);
            continue;
        }
        const int64_t row = t * B + b;
        const REAL *gr = gates + row * W, *db = s->dout + row * H;
        switch (c->mode) {
        case RL_LSTM:
            FN(lstm_backward_row)(H, gr, cell + row * H, cprev + row * H, db, dhb, s->dc + b * H, gxr);
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
        if (s->dbx) FN(acc_row)(GH, s->dbx, gxr);
        if (s->dbh && gh != gx) FN(acc_row)(GH, s->dbh, ghr);
    }
    /* dh += dG_t W_hh: zero rows of dG leave inactive sequences' dh as carried */
    if (H > 0 && hi > lo) FN(step_backward)(hi - lo, GH, H, gh + lo * GH, s->whh, s->packed, dh + lo * H);
    if (c->clip_mode != RL_CLIP_NONE) FN(clip_rows)(c, t, dh, lo, hi);
}
RL_ISA_DISPATCH(FN(backward_rows), (void *arg, int64_t lo, int64_t hi, int chunk), (arg, lo, hi, chunk))

/* The bias gradients: acc (G·H) += the column sums of the rows of dg (Tc,B,G·H)
 * of the steps k_lo .. k_hi-1, added in the order the backward made them
 * (k descending, b ascending; inactive rows skipped), in double */
typedef struct {
    const rnn_ctx *c;
    int64_t k_lo, k_hi, t_base;
    const REAL *dg;
    double *acc;
} FN(bias_sum);

static void FN(bias_columns)(void *arg, int64_t lo, int64_t hi, int chunk)
{
    const FN(bias_sum) *s = arg;
    const rnn_ctx *c = s->c;
    const int64_t T = c->T, B = c->B, GH = c->G * c->H;
    (void)chunk;
    for (int64_t k = s->k_hi - 1; k >= s->k_lo; k--) {
        int64_t t = c->reverse ? T - 1 - k : k;
        for (int64_t b = 0; b < B; b++) {
            if (!FN(active)(c, t, b)) continue;
            const REAL *row = s->dg + ((t - s->t_base) * B + b) * GH;
            for (int64_t j = lo; j < hi; j++) s->acc[j] += (double)row[j];
        }
    }
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
    const int64_t T = c->T, B = c->B, H = c->H, GH = c->G * H;
    double *norms = c->grad_norms ? rl_tensor_data(c->grad_norms) : NULL;
    int saved = packed ? 0 : blas_threads_begin(2.0 * (double)B * (double)GH * (double)H, BLAS_STEP_FLOPS_PER_THREAD);
    int64_t grain = step_grain(c);
    /* the bias sums: row by row while each row is fresh when a step is one
     * chunk, else by columns after the steps; in the same order either way
     * (k descending, b ascending), so the same bits */
    bool bias_inline = !packed || rl_parallel_chunks(B, grain) <= 1;
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
        FN(backward_step) s = {.c = c, .t = t, .whh = rl_tensor_data(c->w_hh), .packed = packed, .dout = dout,
                               .dh = dh, .dc = dc, .gx = gx, .gh = gh, .dbx = bias_inline ? dbx : NULL,
                               .dbh = bias_inline ? dbh : NULL};
        if (packed) rl_parallel_for(B, grain, FN(backward_rows), &s);
        else FN(backward_rows)(&s, 0, B, 0);
    }
    blas_threads_end(saved);
    for (int i = 0; i < 2 && !bias_inline; i++) {
        double *acc = i == 0 ? dbx : dbh;
        if (!acc || (i == 1 && dgh == dgx)) continue;
        FN(bias_sum) s = {c, k_lo, k_hi, t_base, i == 0 ? dgx : dgh, acc};
        int64_t rows = (k_hi - k_lo) * B;
        rl_parallel_for(GH, BIAS_CHUNK_ADDS / (rows ? rows : 1) + 1, FN(bias_columns), &s);
    }
}
RL_ISA_DISPATCH(FN(rnn_backward_loop),
                (rnn_ctx *c, const REAL *packed, int64_t k_lo, int64_t k_hi, int64_t t_base, const REAL *dout, REAL *dh,
                 REAL *dc, REAL *dgx, REAL *dgh, double *dbx, double *dbh),
                (c, packed, k_lo, k_hi, t_base, dout, dh, dc, dgx, dgh, dbx, dbh))

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
#undef GEMM_PACKED
#undef GEMM_PACKED_PAR
#undef GEMM_SEQ
#undef PACK_PAR
#undef PACKED_LEN
