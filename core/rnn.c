#include "rnn.h"
#include "blas.h"
#include "gemm.h"
#include "isa.h"
#include "lowrank.h"
#include "pool.h"
#include "ops.h"
#include "rnn_workspace.h"
#include "tape.h"
#include "vmath.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int rl_rnn_gates(rl_rnn_mode mode)
{
    return mode == RL_LSTM ? 4 : mode == RL_GRU ? 3 : 1;
}

const char *rl_rnn_cell_name(rl_rnn_mode mode)
{
    switch (mode) {
    case RL_RNN_TANH: return "rnn_tanh_cell";
    case RL_RNN_RELU: return "rnn_relu_cell";
    case RL_LSTM: return "lstm_cell";
    case RL_GRU: return "gru_cell";
    }
    return "?";
}

const char *rl_rnn_mode_name(rl_rnn_mode mode)
{
    switch (mode) {
    case RL_RNN_TANH: return "rnn_tanh";
    case RL_RNN_RELU: return "rnn_relu";
    case RL_LSTM: return "lstm";
    case RL_GRU: return "gru";
    }
    return "?";
}

/* the longest sequence whose packed weights are kept (rnn_workspace.h) */
#define KEEP_PACKED_MAX_STEPS 8

/* What the backward of one layer-direction needs; owned by its tape node. */
typedef struct {
    rl_rnn_mode mode;
    int64_t T, B, In, H, G, width;  /* In: input size; width: per-row size of gates */
    bool reverse;
    bool one_step;                  /* rl_rnn_cell: x (B,I), outputs h'[, c'] only */
    int64_t *len;                   /* lengths, or NULL: every sequence runs T steps */
    rl_clip_mode clip_mode;
    double clip;
    rl_tensor *grad_norms;          /* float64 (T) filled by the backward, or NULL */
    rl_tensor *x, *w_ih, *w_hh;     /* contiguous */
    bool keep_w_ih, keep_w_hh;      /* packed copies are kept for the next call */
    rl_tensor *gates, *hprev, *cprev, *cell;
    uint64_t gates_version;         /* of gates' storage after the forward */
} rnn_ctx;

static void ctx_free(void *p)
{
    rnn_ctx *c = p;
    if (!c) return;
    free(c->len);
    rl_tensor_release(c->x);
    rl_tensor_release(c->w_ih);
    rl_tensor_release(c->w_hh);
    rl_ws_release(c->gates);
    rl_ws_release(c->hprev);
    rl_ws_release(c->cprev);
    rl_ws_release(c->cell);
    rl_tensor_release(c->grad_norms);
    free(c);
}

/* Without the product of gemm.h (no AVX-512, no memory) the steps and
 * the whole-sequence products go to OpenBLAS, which would split even a
 * small product over its threads: it keeps to one thread unless each of
 * its threads gets at least this many FLOPs of every step's product (a
 * split product waits for its slowest part, and on a busy machine a thread
 * that shares its core loses a scheduler time slice) ... */
#define BLAS_STEP_FLOPS_PER_THREAD 16e6
/* ... or of a whole-sequence product (5 to 10 ms of work a thread) */
#define BLAS_SEQ_FLOPS_PER_THREAD 5e8

/* Before a BLAS product of `flops`: the OpenBLAS thread count to restore
 * (blas_threads_end), or 0. Only OpenBLAS's count: the pool keeps its
 * workers. */
static int blas_threads_begin(double flops, double per_thread)
{
    int n = openblas_get_num_threads();
    if (n > 1 && flops < per_thread * n) {
        openblas_set_num_threads(1);
        return n;
    }
    return 0;
}

static void blas_threads_end(int saved)
{
    if (saved) openblas_set_num_threads(saved);
}

/* The per-step products with gemm.h when the machine has it (also for a
 * single sequence: faster than BLAS's matrix-vector product there). */
static bool step_fast(const rnn_ctx *c)
{
    /* not for one step with a weight packed afresh at every call (a copy the
     * call made): BLAS reads it as it is */
    return c->B > 0 && c->H > 0 && rl_gemm_supported() && (c->T > 1 || c->keep_w_hh);
}

/* A time step goes over the pool's threads by rows of the batch, each
 * chunk its rows' product, gates and state (one job a step), when each
 * chunk gets at least this many FLOPs of the step's product. The jobs of a
 * time loop come back to back, the workers spinning between them (~0.5 us
 * a job, pool.c). Measured: float32 products of N 512, K 128 called back
 * to back, split in 2 against 1 thread (alternating, medians, load 1.5):
 * 0.5 MFLOP a chunk gained 1.4x, 1 MFLOP a chunk 1.5x. Configuration A
 * of bench/recurrent.lua (LSTM, GRU: H 128, B 32) splits its steps in 2,
 * C (B 1) never. */
#define STEP_CHUNK_FLOPS 1e6

/* the least rows of one chunk of a time step */
static int64_t step_grain(const rnn_ctx *c)
{
    double row_flops = 2.0 * (double)(c->G * c->H) * (double)c->H;
    return row_flops > 0 ? (int64_t)(STEP_CHUNK_FLOPS / row_flops) + 1 : c->B + 1;
}

/* The bias sums of the backward go by columns over the pool when each
 * chunk gets at least this many additions. */
#define BIAS_CHUNK_ADDS 65536

/* The time loops are compiled for AVX-512, AVX2 and any x86-64 like the
 * vmath.h loops (RL_ISA_DISPATCH in rnn_kernels.h): their per-row gate
 * loops vectorise, in wider lanes with AVX2 and AVX-512 (the same bits). */

#define REAL float
#define SUF f32
#define GEMM cblas_sgemm
#define GEMV cblas_sgemv
#define VSIGMOID rl_vsigmoid_f32
#define VTANH rl_vtanh_f32
#define GEMM_PACKED rl_gemm_packed_f32
#define GEMM_PACKED_PAR rl_gemm_packed_par_f32
#define GEMM_SEQ rl_gemm_f32
#define PACK_PAR rl_gemm_pack_par_f32
#define PACKED_LEN rl_gemm_packed_len_f32
#include "rnn_kernels.h" /* undefines the parameters above */

#define REAL double
#define SUF f64
#define GEMM cblas_dgemm
#define GEMV cblas_dgemv
#define VSIGMOID rl_vsigmoid_f64
#define VTANH rl_vtanh_f64
#define GEMM_PACKED rl_gemm_packed_f64
#define GEMM_PACKED_PAR rl_gemm_packed_par_f64
#define GEMM_SEQ rl_gemm_f64
#define PACK_PAR rl_gemm_pack_par_f64
#define PACKED_LEN rl_gemm_packed_len_f64
#include "rnn_kernels.h" /* undefines the parameters above */

/* ---- checks ---- */

static bool shape_is(const rl_tensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
    int64_t want[3] = {d0, d1, d2};
    if (t->ndim != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != want[i]) return false;
    return true;
}

/* cell: x is the (1,B,I) view of a cell's input, h0 and c0 are its h, c */
static rl_status check_args(rl_rnn_mode mode, const rl_tensor *x, const rl_tensor *h0, const rl_tensor *c0,
                            const rl_tensor *w_ih, const rl_tensor *w_hh, const rl_tensor *b_ih,
                            const rl_tensor *b_hh, const rl_rnn_options *o, bool cell)
{
    const rl_tensor *lengths = o->lengths;
    const char *op = cell ? rl_rnn_cell_name(mode) : rl_rnn_mode_name(mode);
    const char *hname = cell ? "h" : "h0", *cname = cell ? "c" : "c0";
    char s1[RL_SHAPE_BUF], s2[RL_SHAPE_BUF];
    if (x->ndim != 3)
        return rl_fail(RL_ERR_SHAPE, "%s: input must be (T,B,I), got %s", op, rl_shape_str(s1, sizeof s1, x->ndim, x->shape));
    if (w_hh->ndim != 2)
        return rl_fail(RL_ERR_SHAPE, "%s: weight_hh must be 2-d, got %s", op,
                       rl_shape_str(s1, sizeof s1, w_hh->ndim, w_hh->shape));
    if (w_hh->shape[1] > INT_MAX)
        return rl_fail(RL_ERR_SHAPE, "%s: hidden size %lld beyond the BLAS limit", op, (long long)w_hh->shape[1]);
    int64_t T = x->shape[0], B = x->shape[1], In = x->shape[2], H = w_hh->shape[1], GH = rl_rnn_gates(mode) * H;
    const rl_tensor *all[7] = {x, h0, c0, w_ih, w_hh, b_ih, b_hh};
    for (int i = 0; i < 7; i++) {
        if (!all[i]) continue;
        if (all[i]->dtype == RL_INT64 || all[i]->dtype != x->dtype)
            return rl_fail(RL_ERR_DTYPE, "%s: all tensors must be float32 or all float64 (input is %s, another is %s)",
                           op, rl_dtype_name(x->dtype), rl_dtype_name(all[i]->dtype));
    }
    if (!shape_is(w_hh, 2, GH, H, 0))
        return rl_fail(RL_ERR_SHAPE, "%s: weight_hh %s must be (%lld,%lld): %d gates of hidden size %lld", op,
                       rl_shape_str(s1, sizeof s1, 2, w_hh->shape), (long long)GH, (long long)H, rl_rnn_gates(mode),
                       (long long)H);
    if (!shape_is(w_ih, 2, GH, In, 0))
        return rl_fail(RL_ERR_SHAPE, "%s: weight_ih %s must be (%lld,%lld) for input %s", op,
                       rl_shape_str(s1, sizeof s1, w_ih->ndim, w_ih->shape), (long long)GH, (long long)In,
                       rl_shape_str(s2, sizeof s2, cell ? 2 : 3, x->shape + (cell ? 1 : 0)));
    if (!h0 || !shape_is(h0, 2, B, H, 0))
        return rl_fail(RL_ERR_SHAPE, "%s: %s must be (%lld,%lld), got %s", op, hname, (long long)B, (long long)H,
                       h0 ? rl_shape_str(s1, sizeof s1, h0->ndim, h0->shape) : "nothing");
    if (mode == RL_LSTM && (!c0 || !shape_is(c0, 2, B, H, 0)))
        return rl_fail(RL_ERR_SHAPE, "%s: %s must be (%lld,%lld), got %s", op, cname, (long long)B, (long long)H,
                       c0 ? rl_shape_str(s1, sizeof s1, c0->ndim, c0->shape) : "nothing");
    if (mode != RL_LSTM && c0) return rl_fail(RL_ERR_ARG, "%s: %s is only for lstm", op, cname);
    if (!b_ih != !b_hh) return rl_fail(RL_ERR_ARG, "%s: give both biases or neither", op);
    if (b_ih && (!shape_is(b_ih, 1, GH, 0, 0) || !shape_is(b_hh, 1, GH, 0, 0)))
        return rl_fail(RL_ERR_SHAPE, "%s: biases %s and %s must be (%lld)", op,
                       rl_shape_str(s1, sizeof s1, b_ih->ndim, b_ih->shape),
                       rl_shape_str(s2, sizeof s2, b_hh->ndim, b_hh->shape), (long long)GH);
    if (T * B > INT_MAX || GH > INT_MAX || In > INT_MAX)
        return rl_fail(RL_ERR_SHAPE, "%s: sizes beyond the BLAS limit", op);
    if (lengths) {
        if (lengths->dtype != RL_INT64 || lengths->ndim != 1 || lengths->shape[0] != B)
            return rl_fail(RL_ERR_SHAPE, "%s: lengths must be an int64 tensor of %lld entries, got %s %s", op,
                           (long long)B, rl_dtype_name(lengths->dtype),
                           rl_shape_str(s1, sizeof s1, lengths->ndim, lengths->shape));
        for (int64_t b = 0; b < B; b++) {
            int64_t v = *(const int64_t *)rl_tensor_ptr(lengths, &b);
            if (v < 0 || v > T)
                return rl_fail(RL_ERR_INDEX, "%s: length %lld of sequence %lld is outside 0..%lld", op, (long long)v,
                               (long long)b + 1, (long long)T);
        }
    }
    if (o->clip_mode != RL_CLIP_NONE && !(o->clip > 0))
        return rl_fail(RL_ERR_ARG, "%s: the per-step clip threshold must be > 0, got %g", op, o->clip);
    if (o->grad_norms && (o->grad_norms->dtype != RL_FLOAT64 || o->grad_norms->ndim != 1 ||
                          o->grad_norms->shape[0] != T || !rl_tensor_is_contiguous(o->grad_norms)))
        return rl_fail(RL_ERR_SHAPE, "%s: grad_norms must be a contiguous float64 tensor of %lld entries", op,
                       (long long)T);
    return RL_OK;
}

/* ---- backward ---- */

#define TRY(expr)                                                                      \
    do {                                                                               \
        if ((st = (expr)) != RL_OK) goto done;                                         \
    } while (0)

/* rows [first, first + rows) of contiguous t seen as a (total, cols) matrix */
static rl_status narrow_rows(rl_tensor **out, rl_tensor *t, int64_t total, int64_t first, int64_t rows, int64_t cols)
{
    int64_t shape[2] = {total, cols};
    rl_tensor *all = NULL;
    rl_status st = rl_tensor_view(&all, t, 2, shape);
    if (st == RL_OK) st = rl_tensor_narrow(out, all, 0, first, rows);
    rl_tensor_release(all);
    return st;
}

/* c = op(a) op(b), or c += when accumulate; all contiguous 2-D: a
 * whole-sequence product, with gemm.h when it can (split over the pool),
 * else with BLAS (on one thread below BLAS_SEQ_FLOPS_PER_THREAD) */
static rl_status seq_product(rl_tensor *c, const rl_tensor *a, bool ta, const rl_tensor *b, bool tb, bool accumulate)
{
    int64_t M = c->shape[0], N = c->shape[1], K = ta ? a->shape[0] : a->shape[1];
    int64_t ar = ta ? 1 : a->shape[1], ak = ta ? a->shape[1] : 1;
    int64_t bk = tb ? 1 : b->shape[1], bn = tb ? b->shape[1] : 1;
    if (rl_tensor_is_contiguous(a) && rl_tensor_is_contiguous(b) && rl_tensor_is_contiguous(c)) {
        bool done = c->dtype == RL_FLOAT32
                        ? rl_gemm_f32(M, N, K, rl_tensor_data(a), ar, ak, rl_tensor_data(b), bk, bn,
                                       rl_tensor_data(c), N, accumulate)
                        : rl_gemm_f64(M, N, K, rl_tensor_data(a), ar, ak, rl_tensor_data(b), bk, bn,
                                       rl_tensor_data(c), N, accumulate);
        if (done) return RL_OK;
    }
    int saved = blas_threads_begin(2.0 * (double)M * (double)N * (double)K, BLAS_SEQ_FLOPS_PER_THREAD);
    rl_status st = rl_gemm(c, a, ta, b, tb, 1, accumulate ? 1 : 0);
    blas_threads_end(saved);
    return st;
}

/* c (M,N) = a (M,K) w, w (K,N) a contiguous weight: as seq_product, but
 * the packed w is kept for the next call when keep (rnn_workspace.h) */
static rl_status weight_product(rl_tensor *c, const rl_tensor *a, const rl_tensor *w, bool keep)
{
    int64_t M = c->shape[0], N = c->shape[1], K = a->shape[1];
    if (rl_tensor_is_contiguous(a) && rl_tensor_is_contiguous(c)) {
        bool done = c->dtype == RL_FLOAT32
                        ? weight_gemm_f32(M, N, K, rl_tensor_data(a), K, 1, w, keep, false, rl_tensor_data(c), N)
                        : weight_gemm_f64(M, N, K, rl_tensor_data(a), K, 1, w, keep, false, rl_tensor_data(c), N);
        if (done) return RL_OK;
    }
    return seq_product(c, a, false, w, false, false);
}

/* Adds (R,C) = u (k,R)^T v (k,C), the part of the gradient of weight input
 * i of node n from the k rows of one chunk of steps, into *target: at the
 * first chunk (*target NULL) the buffer the tape already holds when it can
 * (rl_backward_sink), else a fresh grad_in[i]. Into the tape's buffer a
 * small k is deferred into panels (lowrank.h: a cell called at every step
 * of a loop). */
static rl_status weight_grad(rl_node *n, int i, rl_tensor **grad_in, rl_tensor **target, const rl_tensor *u,
                             const rl_tensor *v)
{
    if (!*target && (*target = rl_backward_sink(n, i)) == NULL) {
        int64_t shape[2] = {u->shape[1], v->shape[1]};
        rl_status st = rl_tensor_empty(&grad_in[i], u->dtype, 2, shape);
        if (st) return st;
        *target = grad_in[i];
        return seq_product(*target, u, true, v, false, false);
    }
    if (*target != grad_in[i] && u->shape[0] <= rl_lowrank_max_rows(*target)) return rl_lowrank_add(*target, u, v);
    return seq_product(*target, u, true, v, false, true);
}

/* The part of the weight and input gradients from one chunk of steps
 * (times t_base .. t_base + n_t - 1): GEMMs over its rows (the first rows
 * of dgx, dgh (Tc,B,G·H); rows t_base·B... of x, hprev and the input
 * gradient). *dw_ih, *dw_hh: where the weight gradients go (weight_grad). */
static rl_status chunk_products(rl_node *n, rl_tensor **grad_in, rl_tensor **dw_ih, rl_tensor **dw_hh,
                                rl_tensor *dgx, rl_tensor *dgh, int64_t Tc, int64_t t_base, int64_t n_t)
{
    const rnn_ctx *c = n->ctx;
    const int64_t T = c->T, B = c->B, In = c->In, H = c->H, GH = c->G * H, rows = n_t * B;
    rl_tensor *g3 = NULL, *gh3 = NULL, *xr = NULL, *hr = NULL, *dxr = NULL;
    rl_status st = narrow_rows(&g3, dgx, Tc * B, 0, rows, GH);
    if (st == RL_OK) st = narrow_rows(&gh3, dgh, Tc * B, 0, rows, GH);
    if (st == RL_OK && rl_node_needs(n, 0)) {
        st = narrow_rows(&dxr, grad_in[0], T * B, t_base * B, rows, In);
        if (st == RL_OK) st = weight_product(dxr, g3, c->w_ih, c->keep_w_ih); /* (rows,GH)(GH,I) */
    }
    if (st == RL_OK && rl_node_needs(n, 3)) {
        st = narrow_rows(&xr, c->x, T * B, t_base * B, rows, In);
        if (st == RL_OK) st = weight_grad(n, 3, grad_in, dw_ih, g3, xr); /* (GH,I) += (rows,GH)^T (rows,I) */
    }
    if (st == RL_OK && rl_node_needs(n, 4)) {
        st = narrow_rows(&hr, c->hprev, T * B, t_base * B, rows, H);
        if (st == RL_OK) st = weight_grad(n, 4, grad_in, dw_hh, gh3, hr); /* (GH,H) += (rows,GH)^T (rows,H) */
    }
    rl_tensor_release(g3);
    rl_tensor_release(gh3);
    rl_tensor_release(xr);
    rl_tensor_release(hr);
    rl_tensor_release(dxr);
    return st;
}

/* After the last chunk: zero weight gradients when there were no steps,
 * the gradients of h0 and c0 (*dh, *dc, taken) and of the biases (from
 * the double sums dbx, dbh). */
static rl_status finish_grads(rl_node *n, rl_tensor **grad_in, rl_tensor **dh, rl_tensor **dc, const double *dbx,
                              const double *dbh)
{
    const rnn_ctx *c = n->ctx;
    const int64_t T = c->T, In = c->In, H = c->H, GH = c->G * H;
    rl_dtype dt = c->x->dtype;
    bool lstm = c->mode == RL_LSTM, gru = c->mode == RL_GRU;
    int64_t shape_g[1] = {GH};
    rl_status st = RL_OK;
    if (T == 0) { /* no steps: zero weight gradients */
        int64_t sih[2] = {GH, In}, shh[2] = {GH, H};
        if (rl_node_needs(n, 3)) TRY(rl_tensor_zeros(&grad_in[3], dt, 2, sih));
        if (rl_node_needs(n, 4)) TRY(rl_tensor_zeros(&grad_in[4], dt, 2, shh));
    }
    if (rl_node_needs(n, 1)) {
        grad_in[1] = *dh;
        *dh = NULL;
    }
    if (lstm && rl_node_needs(n, 2)) {
        grad_in[2] = *dc;
        *dc = NULL;
    }
    for (int i = 5; i <= 6; i++) {
        if (!rl_node_needs(n, i)) continue;
        const double *sum = i == 6 && gru ? dbh : dbx;
        TRY(rl_tensor_empty(&grad_in[i], dt, 1, shape_g));
        if (dt == RL_FLOAT32) {
            float *g = rl_tensor_data(grad_in[i]);
            for (int64_t j = 0; j < GH; j++) g[j] = (float)sum[j];
        } else {
            memcpy(rl_tensor_data(grad_in[i]), sum, sizeof(double) * (size_t)GH);
        }
    }
done:
    return st;
}

/* The backward runs over chunks of about this many rows (steps times
 * batch): the gate gradients of one chunk are all it keeps, and the weight
 * and input gradients are GEMMs over each chunk's rows, of an inner size
 * that keeps them efficient. Over whole sequences, the gate gradients were
 * the biggest buffers of a training step (a GRU's two of (T,B,3H)). */
#define CHUNK_ROWS 1024

/* inputs: 0 x, 1 h0, 2 c0, 3 w_ih, 4 w_hh, 5 b_ih, 6 b_hh; outputs: out,
 * h_n[, c_n], or for a cell h'[, c'] */
static rl_status rnn_backward(rl_node *n, rl_tensor *const *grad_out, rl_tensor **grad_in)
{
    rnn_ctx *c = n->ctx;
    const int64_t T = c->T, B = c->B, In = c->In, H = c->H, GH = c->G * H;
    rl_dtype dt = c->x->dtype;
    bool lstm = c->mode == RL_LSTM, gru = c->mode == RL_GRU;
    rl_tensor *dout = NULL, *dh = NULL, *dc = NULL, *dgx = NULL, *dgh = NULL, *hold = NULL;
    rl_tensor *dw_ih = NULL, *dw_hh = NULL; /* where the weight gradients go: not references */
    const void *packed = NULL;
    double *dbx = NULL, *dbh = NULL;
    rl_status st = RL_OK;
    int64_t Tc = B == 0 ? T : B < CHUNK_ROWS ? (CHUNK_ROWS + B - 1) / B : 1; /* steps per chunk */
    if (Tc > T) Tc = T > 0 ? T : 1;
    int64_t shape_cbg[3] = {Tc, B, GH}, shape_bh[2] = {B, H};
    bool need_bias = rl_node_needs(n, 5) || rl_node_needs(n, 6);
    if (c->gates->storage->version != c->gates_version)
        return rl_fail(RL_ERR_ARG, "%s backward: its output was modified in place after the forward (the backward "
                       "needs it); modify a clone instead", rl_rnn_mode_name(c->mode));

    /* a cell's h' is the output of its one step: its gradient enters there,
     * as an output's would, and none comes from a step after it */
    TRY(rl_tensor_contiguous(&dout, grad_out[0]));
    if (c->one_step) TRY(rl_tensor_zeros(&dh, dt, 2, shape_bh));
    else TRY(rl_tensor_clone(&dh, grad_out[1]));
    if (lstm) TRY(rl_tensor_clone(&dc, grad_out[c->one_step ? 1 : 2]));
    else TRY(rl_tensor_zeros(&dc, dt, 2, shape_bh));
    TRY(rl_ws_empty(&dgx, dt, 3, shape_cbg));
    if (gru) TRY(rl_ws_empty(&dgh, dt, 3, shape_cbg));
    else {
        rl_tensor_retain(dgx);
        dgh = dgx;
    }
    if (need_bias) {
        /* the bias gradients: column sums of dgx and dgh, in double, taken
         * after the time loop of each chunk of steps */
        dbx = calloc((size_t)(GH ? 2 * GH : 1), sizeof *dbx);
        if (!dbx) {
            st = rl_fail(RL_ERR_NOMEM, "%s backward: out of memory", rl_rnn_mode_name(c->mode));
            goto done;
        }
        if (gru) dbh = dbx + GH;
    }
    if (rl_node_needs(n, 0)) {
        int64_t shape[3] = {T, B, In};
        if (c->one_step) TRY(rl_tensor_empty(&grad_in[0], dt, 2, shape + 1));
        else TRY(rl_tensor_empty(&grad_in[0], dt, 3, shape));
    }
    /* chunks of steps in the order the backward takes them (k descending);
     * the times t of one chunk are consecutive, t_base the first */
    for (int64_t k_hi = T; k_hi > 0; k_hi -= Tc) {
        int64_t k_lo = k_hi > Tc ? k_hi - Tc : 0, n_t = k_hi - k_lo;
        int64_t t_base = c->reverse ? T - k_hi : k_lo;
        /* W_hh packed: once when the copy is ours (hold); a kept copy is
         * found again for every chunk, since keeping W_ih's copy (the input
         * gradient below) may evict it (rnn_workspace.h) */
        if (!hold)
            packed = dt == RL_FLOAT32 ? (const void *)pack_whh_backward_f32(c, &hold)
                                      : (const void *)pack_whh_backward_f64(c, &hold);
        if (dt == RL_FLOAT32)
            rnn_backward_loop_f32(c, packed, k_lo, k_hi, t_base, rl_tensor_data(dout), rl_tensor_data(dh),
                                  rl_tensor_data(dc), rl_tensor_data(dgx), rl_tensor_data(dgh), dbx, dbh);
        else
            rnn_backward_loop_f64(c, packed, k_lo, k_hi, t_base, rl_tensor_data(dout), rl_tensor_data(dh),
                                  rl_tensor_data(dc), rl_tensor_data(dgx), rl_tensor_data(dgh), dbx, dbh);

        TRY(chunk_products(n, grad_in, &dw_ih, &dw_hh, dgx, dgh, Tc, t_base, n_t));
    }
    TRY(finish_grads(n, grad_in, &dh, &dc, dbx, dbh));
done:
    free(dbx);
    rl_tensor_release(dout);
    rl_tensor_release(dh);
    rl_tensor_release(dc);
    rl_ws_release(hold);
    rl_ws_release(dgx);
    rl_ws_release(dgh);
    return st;
}

/* ---- forward ---- */

/* *out: the context of one call (checked arguments): sizes, options, x and
 * the weights contiguous, and the buffers the forward fills for the
 * backward (gates, states). */
static rl_status ctx_new(rnn_ctx **out, rl_rnn_mode mode, bool cell, rl_tensor *x, const rl_tensor *x3,
                         rl_tensor *w_ih, rl_tensor *w_hh, const rl_rnn_options *o)
{
    bool lstm = mode == RL_LSTM, gru = mode == RL_GRU;
    rl_status st = RL_OK;
    rnn_ctx *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c) return rl_fail(RL_ERR_NOMEM, "%s: out of memory", rl_rnn_mode_name(mode));
    c->mode = mode;
    c->one_step = cell;
    c->T = x3->shape[0];
    c->B = x3->shape[1];
    c->In = x3->shape[2];
    c->H = w_hh->shape[1];
    c->G = rl_rnn_gates(mode);
    c->width = (lstm || gru) ? 4 * c->H : c->H;
    c->reverse = o->reverse;
    c->clip_mode = o->clip_mode;
    c->clip = o->clip;
    if (o->grad_norms) {
        rl_tensor_retain(o->grad_norms);
        c->grad_norms = o->grad_norms;
    }
    const int64_t T = c->T, B = c->B, H = c->H;
    rl_dtype dt = x->dtype;
    int64_t tbw[3] = {T, B, c->width}, tbh[3] = {T, B, H};
    if (o->lengths) {
        c->len = malloc(sizeof *c->len * (size_t)(B ? B : 1));
        if (!c->len) {
            st = rl_fail(RL_ERR_NOMEM, "%s: out of memory", rl_rnn_mode_name(mode));
            goto done;
        }
        for (int64_t b = 0; b < B; b++) c->len[b] = *(const int64_t *)rl_tensor_ptr(o->lengths, &b);
    }
    TRY(rl_tensor_contiguous(&c->x, x));
    TRY(rl_tensor_contiguous(&c->w_ih, w_ih));
    TRY(rl_tensor_contiguous(&c->w_hh, w_hh));
    /* Packed copies are kept for loops of cells and short sequences, where
     * packing is a share of the work; over longer ones it is not, and a
     * kept copy would only add to the memory held. */
    c->keep_w_ih = c->w_ih->storage == w_ih->storage && c->T <= KEEP_PACKED_MAX_STEPS;
    c->keep_w_hh = c->w_hh->storage == w_hh->storage && c->T <= KEEP_PACKED_MAX_STEPS;
    TRY(rl_ws_empty(&c->gates, dt, 3, tbw));
    TRY(rl_ws_empty(&c->hprev, dt, 3, tbh));
    if (lstm) {
        TRY(rl_ws_empty(&c->cprev, dt, 3, tbh));
        TRY(rl_ws_empty(&c->cell, dt, 3, tbh));
    }
done:
    if (st) ctx_free(c);
    else *out = c;
    return st;
}

/* The tape node of a forward: it takes c (*c becomes NULL) and saves the
 * inputs, so that the backward notices in-place changes to them. */
static rl_status record(rnn_ctx **c, bool cell, rl_tensor **inputs, rl_tensor *out, rl_tensor *h_n,
                        rl_tensor *c_n)
{
    rl_rnn_mode mode = (*c)->mode;
    bool lstm = mode == RL_LSTM;
    rl_node *node = NULL;
    rl_status st = RL_OK;
    int nout = (lstm ? 3 : 2) - (cell ? 1 : 0);
    TRY(rl_node_new(&node, cell ? rl_rnn_cell_name(mode) : rl_rnn_mode_name(mode), rnn_backward, 7,
                    inputs, nout));
    TRY(rl_node_save(node, 0, inputs[0]));
    TRY(rl_node_save(node, 1, inputs[3]));
    TRY(rl_node_save(node, 2, inputs[4]));
    node->ctx = *c;
    node->ctx_free = ctx_free;
    *c = NULL;
    int k = 0;
    if (!cell) rl_node_set_output(node, k++, out);
    rl_node_set_output(node, k++, h_n);
    if (lstm) rl_node_set_output(node, k, c_n);
done:
    rl_node_release(node);
    return st;
}

/* rl_rnn_forward, and rl_rnn_cell when out is NULL: x is then (B,I), x3
 * its view (1,B,I), and the outputs h_n[, c_n] alone */
static rl_status forward(rl_tensor **out, rl_tensor **h_n, rl_tensor **c_n, rl_rnn_mode mode, rl_tensor *x,
                         const rl_tensor *x3, rl_tensor *h0, rl_tensor *c0, rl_tensor *w_ih, rl_tensor *w_hh,
                         rl_tensor *b_ih, rl_tensor *b_hh, const rl_rnn_options *o)
{
    rl_status st = check_args(mode, x3, h0, c0, w_ih, w_hh, b_ih, b_hh, o, out == NULL);
    if (st) return st;
    bool lstm = mode == RL_LSTM, gru = mode == RL_GRU, cell = out == NULL;
    rnn_ctx *c = NULL;
    rl_tensor *bih = NULL, *bhh = NULL, *xw = NULL, *hw = NULL;
    if (out) *out = NULL;
    *h_n = NULL;
    if (c_n) *c_n = NULL;
    TRY(ctx_new(&c, mode, cell, x, x3, w_ih, w_hh, o));
    const int64_t T = c->T, B = c->B, H = c->H;
    rl_dtype dt = x->dtype;
    int64_t tbh[3] = {T, B, H};
    if (b_ih) {
        /* bih becomes the bias added to the pre-activations at every step:
         * b_ih + b_hh, or b_ih alone for the GRU */
        if (gru) TRY(rl_tensor_clone(&bih, b_ih));
        else TRY(rl_binary(&bih, RL_ADD, b_ih, b_hh));
        TRY(rl_tensor_contiguous(&bhh, b_hh));
    }
    if (gru) {
        int64_t tbg[3] = {T, B, 3 * H}, bg[2] = {B, 3 * H};
        TRY(rl_ws_empty(&xw, dt, 3, tbg));
        TRY(rl_ws_empty(&hw, dt, 2, bg));
    }
    /* An Elman RNN's output is its gates buffer (both hold h_t; zeros past a
     * sequence's end): out is a view of it, one (T,B,H) buffer fewer. The
     * backward checks that nothing wrote into it since (gates_version). */
    if (!cell && !lstm && !gru) TRY(rl_tensor_view(out, c->gates, 3, tbh));
    else if (!cell) TRY(rl_tensor_empty(out, dt, 3, tbh));
    TRY(rl_tensor_clone(h_n, h0));  /* the running state starts as h0 and ends as h_n */
    if (lstm) TRY(rl_tensor_clone(c_n, c0));

    /* a cell's one output row is h' itself (the loop writes both, alike) */
    void *outp = rl_tensor_data(cell ? *h_n : *out);
    if (dt == RL_FLOAT32)
        rnn_forward_loop_f32(c, bih ? rl_tensor_data(bih) : NULL, bhh ? rl_tensor_data(bhh) : NULL, outp,
                             rl_tensor_data(*h_n), lstm ? rl_tensor_data(*c_n) : NULL,
                             xw ? rl_tensor_data(xw) : NULL, hw ? rl_tensor_data(hw) : NULL);
    else
        rnn_forward_loop_f64(c, bih ? rl_tensor_data(bih) : NULL, bhh ? rl_tensor_data(bhh) : NULL, outp,
                             rl_tensor_data(*h_n), lstm ? rl_tensor_data(*c_n) : NULL,
                             xw ? rl_tensor_data(xw) : NULL, hw ? rl_tensor_data(hw) : NULL);

    c->gates_version = c->gates->storage->version;
    rl_tensor *inputs[7] = {x, h0, c0, w_ih, w_hh, b_ih, b_hh};
    if (rl_should_record(7, inputs)) TRY(record(&c, cell, inputs, cell ? NULL : *out, *h_n, lstm ? *c_n : NULL));
done:
    ctx_free(c);
    rl_tensor_release(bih);
    rl_tensor_release(bhh);
    rl_ws_release(xw);
    rl_ws_release(hw);
    if (st) {
        if (out) {
            rl_tensor_release(*out);
            *out = NULL;
        }
        rl_tensor_release(*h_n);
        *h_n = NULL;
        if (c_n) {
            rl_tensor_release(*c_n);
            *c_n = NULL;
        }
    }
    return st;
}

rl_status rl_rnn_forward(rl_tensor **out, rl_tensor **h_n, rl_tensor **c_n, rl_rnn_mode mode,
                         rl_tensor *x, rl_tensor *h0, rl_tensor *c0, rl_tensor *w_ih, rl_tensor *w_hh,
                         rl_tensor *b_ih, rl_tensor *b_hh, const rl_rnn_options *opts)
{
    static const rl_rnn_options defaults;
    return forward(out, h_n, c_n, mode, x, x, h0, c0, w_ih, w_hh, b_ih, b_hh, opts ? opts : &defaults);
}

rl_status rl_rnn_cell(rl_tensor **h2, rl_tensor **c2, rl_rnn_mode mode, rl_tensor *x, rl_tensor *h, rl_tensor *c,
                      rl_tensor *w_ih, rl_tensor *w_hh, rl_tensor *b_ih, rl_tensor *b_hh)
{
    static const rl_rnn_options defaults;
    char s1[RL_SHAPE_BUF];
    *h2 = NULL;
    if (c2) *c2 = NULL;
    if (mode == RL_LSTM && !c2) return rl_fail(RL_ERR_ARG, "%s: no place for c'", rl_rnn_cell_name(mode));
    if (x->ndim != 2)
        return rl_fail(RL_ERR_SHAPE, "%s: input must be (B,I), got %s", rl_rnn_cell_name(mode),
                       rl_shape_str(s1, sizeof s1, x->ndim, x->shape));
    /* (1,B,I) with x's strides: the checks and sizes of a one-step sequence */
    rl_tensor x3 = *x;
    x3.ndim = 3;
    x3.shape[0] = 1;
    x3.shape[1] = x->shape[0];
    x3.shape[2] = x->shape[1];
    x3.stride[0] = x->shape[0] * x->shape[1];
    x3.stride[1] = x->stride[0];
    x3.stride[2] = x->stride[1];
    return forward(NULL, h2, c2, mode, x, &x3, h, c, w_ih, w_hh, b_ih, b_hh, &defaults);
}
